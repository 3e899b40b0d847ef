/* player: an audio player process fed on its stdin through a buffer. */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <poll.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util.h"
#include "player.h"

struct player {
	pid_t		 pid;		/* -1 once reaped */
	int		 status;	/* exit status once reaped */
	int		 fd;		/* our end of its stdin, or -1 */
	int		 closing;	/* close fd once buf is empty */
	int		 broken;	/* the pipe broke: drop the rest */
	char		*buf;		/* bytes waiting for the pipe */
	size_t		 off, len, size;
};

/* The players tried in turn, with the program to find on PATH; sox's
 * play last (it comes with sox, which the build needs anyway). */
static const struct {
	const char	*prog;
	const char	*cmd;
} player_defaults[] = {
	{ "paplay", "exec paplay" },
	{ "aplay", "exec aplay -q" },
	{ "ffplay", "exec ffplay -nodisp -autoexit -loglevel error -" },
	{ "mpv", "exec mpv --no-terminal -" },
	{ "play", "exec play -q -t wav -" },
};

static int
player_on_path(const char *prog)
{
	const char	*path, *p, *end;
	char		*file;
	int		 found = 0;

	if ((path = getenv("PATH")) == NULL || *path == '\0')
		path = "/usr/local/bin:/usr/bin:/bin";
	for (p = path; !found; p = end + 1) {
		if ((end = strchr(p, ':')) == NULL)
			end = p + strlen(p);
		if (end == p)
			file = xasprintf("./%s", prog);
		else
			file = xasprintf("%.*s/%s", (int)(end - p), p, prog);
		found = access(file, X_OK) == 0;
		free(file);
		if (*end == '\0')
			break;
	}
	return found;
}

char *
player_find(const char *cmd)
{
	const char	*env;
	size_t		 i;

	if (cmd != NULL && *cmd != '\0')
		return xstrdup(cmd);
	if ((env = getenv("TTSACCEL_PLAYER")) != NULL && *env != '\0')
		return xstrdup(env);
	for (i = 0; i < sizeof player_defaults / sizeof player_defaults[0];
	    i++)
		if (player_on_path(player_defaults[i].prog))
			return xstrdup(player_defaults[i].cmd);
	return NULL;
}

struct player *
player_start(const char *cmd, char **cause)
{
	struct player	*p;
	int		 fds[2], flags;
	pid_t		 pid;

	if (pipe2(fds, O_CLOEXEC) != 0) {
		*cause = xasprintf("pipe: %s", strerror(errno));
		return NULL;
	}
	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == -1) {
		*cause = xasprintf("fork: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return NULL;
	}
	if (pid == 0) {
		/* Its own process group: a Ctrl-C meant for us does not
		 * reach it, and killing the group kills what sh started. */
		setpgid(0, 0);
		signal(SIGINT, SIG_DFL);
		signal(SIGPIPE, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		if (dup2(fds[0], STDIN_FILENO) == -1)
			_exit(127);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	setpgid(pid, pid);	/* either side may run first */
	close(fds[0]);
	if ((flags = fcntl(fds[1], F_GETFL)) != -1)
		fcntl(fds[1], F_SETFL, flags | O_NONBLOCK);
	p = xcalloc(1, sizeof *p);
	p->pid = pid;
	p->fd = fds[1];
	return p;
}

static void
player_close_fd(struct player *p)
{
	if (p->fd != -1) {
		close(p->fd);
		p->fd = -1;
	}
}

void
player_write(struct player *p, const void *data, size_t len)
{
	if (p->broken || p->closing || len == 0)
		return;
	if (p->off > 0 && p->off == p->len)
		p->off = p->len = 0;
	if (p->size - p->len < len) {
		if (p->off > 0) {
			memmove(p->buf, p->buf + p->off, p->len - p->off);
			p->len -= p->off;
			p->off = 0;
		}
		while (p->size - p->len < len)
			p->size = p->size == 0 ? 65536 : p->size * 2;
		p->buf = xrealloc(p->buf, p->size);
	}
	memcpy(p->buf + p->len, data, len);
	p->len += len;
	player_flush(p);
}

int
player_flush(struct player *p)
{
	ssize_t	n;

	while (!p->broken && p->fd != -1 && p->off < p->len) {
		n = write(p->fd, p->buf + p->off, p->len - p->off);
		if (n > 0) {
			p->off += (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return 0;
		p->broken = 1;	/* EPIPE: the player went away */
	}
	if (p->broken || (p->closing && p->off == p->len))
		player_close_fd(p);
	return p->broken ? -1 : 0;
}

void
player_close(struct player *p)
{
	p->closing = 1;
	player_flush(p);
}

int
player_pollfd(const struct player *p)
{
	if (p->fd == -1 || p->broken || p->off == p->len)
		return -1;
	return p->fd;
}

static int
player_status(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return 255;
}

int
player_exited(struct player *p)
{
	int	status;

	if (p->pid == -1)
		return 1;
	if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
		p->status = player_status(status);
		p->pid = -1;
		player_close_fd(p);
		return 1;
	}
	return 0;
}

int
player_wait(struct player *p, volatile sig_atomic_t *stop)
{
	struct pollfd	 pfd;
	int		 status;
	pid_t		 r;

	p->closing = 1;
	player_flush(p);
	while (p->fd != -1) {
		if (*stop) {
			player_kill(p);
			return -1;
		}
		/* A gone reader shows as POLLERR; the write then fails. */
		pfd.fd = p->fd;
		pfd.events = POLLOUT;
		pfd.revents = 0;
		poll(&pfd, 1, 200);
		player_flush(p);
	}
	while (p->pid != -1) {
		if (*stop) {
			player_kill(p);
			return -1;
		}
		/* A SIGINT interrupts waitpid (no SA_RESTART). */
		r = waitpid(p->pid, &status, 0);
		if (r == p->pid) {
			p->status = player_status(status);
			p->pid = -1;
		} else if (r == -1 && errno != EINTR) {
			p->pid = -1;
			p->status = 255;
		}
	}
	return p->status;
}

void
player_kill(struct player *p)
{
	struct timespec	 ts = { 0, 10 * 1000 * 1000 };
	int		 i;

	player_close_fd(p);
	p->off = p->len = 0;
	if (p->pid == -1)
		return;
	kill(-p->pid, SIGTERM);
	kill(p->pid, SIGTERM);
	for (i = 0; i < 100; i++) {
		if (player_exited(p))
			return;
		nanosleep(&ts, NULL);
	}
	kill(-p->pid, SIGKILL);
	kill(p->pid, SIGKILL);
	while (!player_exited(p))
		nanosleep(&ts, NULL);
}

void
player_free(struct player *p)
{
	if (p == NULL)
		return;
	player_kill(p);
	free(p->buf);
	free(p);
}
