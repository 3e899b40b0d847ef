/* admin: the client side of ttsaccel's admin socket. */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "admin.h"
#include "util.h"

#define ADMIN_MAX_LINE	(64 * 1024 * 1024)	/* longest reply accepted */
#define ADMIN_READ	65536

struct admin {
	int	 fd;
	char	*path;
	char	*buf;		/* bytes read and not yet returned */
	size_t	 len;
	size_t	 size;
	int	 eof;
};

char *
admin_default_path(void)
{
	const char	*s;
	char		*path, *dir;

	if ((s = getenv(ADMIN_SOCKET_ENV)) != NULL && *s != '\0')
		return xstrdup(s);
	path = admin_proto_socket_path(getenv("XDG_RUNTIME_DIR"),
	    getenv("TMPDIR"), geteuid(), &dir);
	free(dir);
	return path;
}

/* Is the peer on FD the daemon we mean to speak to?  Its uid must be ours
 * or root's, as the daemon asks of us; as root, also the uid that owns the
 * socket's directory when no one else can write there (a daemon run under
 * its own user, in /run/ttsaccel).  0, or -1 with *cause. */
static int
admin_peer_check(int fd, const char *path, char **cause)
{
	struct ucred	 cr;
	socklen_t	 crlen = sizeof cr;
	struct stat	 st;
	char		*dir, *slash;
	uid_t		 me = geteuid();
	int		 ok;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) != 0) {
		*cause = xasprintf("cannot check who answers on %s: %s", path,
		    strerror(errno));
		return -1;
	}
	if (cr.uid == me || cr.uid == 0)
		return 0;
	ok = 0;
	if (me == 0) {
		dir = xstrdup(path);
		if ((slash = strrchr(dir, '/')) == NULL)
			snprintf(dir, strlen(path) + 1, ".");
		else if (slash == dir)
			slash[1] = '\0';
		else
			*slash = '\0';
		ok = lstat(dir, &st) == 0 && S_ISDIR(st.st_mode) &&
		    st.st_uid == cr.uid && (st.st_mode & 022) == 0;
		free(dir);
	}
	if (ok)
		return 0;
	*cause = xasprintf("refusing to talk to %s: it is held by uid %u "
	    "(pid %d), not by the daemon's user (uid %u); another user may "
	    "have taken the path: stop that process, remove the socket, and "
	    "start ttsaccel again", path, (unsigned)cr.uid, (int)cr.pid,
	    (unsigned)me);
	return -1;
}

/* What to suggest when connect fails with this errno. */
static const char *
admin_hint(int error)
{
	switch (error) {
	case ENOENT:
	case ECONNREFUSED:
	case ENOTDIR:
		return " (is ttsaccel running? set -s or TTSACCEL_SOCKET)";
	case EACCES:
	case EPERM:
		return " (the socket belongs to another user: run ttsaccelctl "
		    "as the daemon's user)";
	default:
		return "";
	}
}

struct admin *
admin_open(const char *path, char **cause)
{
	struct sockaddr_un	 sun;
	struct admin		*a;
	int			 fd, error;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sun.sun_path) {
		*cause = xasprintf("cannot connect to the daemon at %s: the "
		    "path is longer than %zu bytes", path,
		    sizeof sun.sun_path - 1);
		return NULL;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		*cause = xasprintf("socket: %s", strerror(errno));
		return NULL;
	}
	while (connect(fd, (struct sockaddr *)&sun, sizeof sun) == -1) {
		if (errno == EINTR)
			continue;
		error = errno;
		close(fd);
		*cause = xasprintf("cannot connect to the daemon at %s: %s%s",
		    path, strerror(error), admin_hint(error));
		return NULL;
	}
	if (admin_peer_check(fd, path, cause) != 0) {
		close(fd);
		return NULL;
	}
	a = xcalloc(1, sizeof *a);
	a->fd = fd;
	a->path = xstrdup(path);
	return a;
}

int
admin_fd(struct admin *a)
{
	return a->fd;
}

void
admin_close(struct admin *a)
{
	if (a == NULL)
		return;
	close(a->fd);
	free(a->path);
	free(a->buf);
	free(a);
}

int
admin_send(struct admin *a, const char *cmd, cJSON *args, char **cause)
{
	cJSON	*req;
	char	*line, *p;
	size_t	 len;
	ssize_t	 n;
	int	 rc = -1;

	req = args != NULL ? args : cJSON_CreateObject();
	cJSON_DeleteItemFromObjectCaseSensitive(req, "cmd");
	cJSON_DeleteItemFromObjectCaseSensitive(req, "v");
	cJSON_AddStringToObject(req, "cmd", cmd);
	cJSON_AddNumberToObject(req, "v", ADMIN_VERSION);
	if ((line = cJSON_PrintUnformatted(req)) == NULL) {
		*cause = xstrdup("cannot encode the request");
		cJSON_Delete(req);
		return -1;
	}
	cJSON_Delete(req);
	len = strlen(line);
	line = xrealloc(line, len + 2);
	line[len++] = '\n';
	line[len] = '\0';
	for (p = line; len > 0; p += n, len -= (size_t)n) {
		n = send(a->fd, p, len, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR) {
			n = 0;
			continue;
		}
		if (n == -1) {
			*cause = xasprintf("cannot send to the daemon at %s: "
			    "%s", a->path, strerror(errno));
			goto out;
		}
	}
	rc = 0;
out:
	free(line);
	return rc;
}

/* Wait until the socket is readable or the deadline (usec, 0 = none)
 * passes: 1, 0 on timeout, -1 with errno. */
static int
admin_wait(struct admin *a, uint64_t deadline)
{
	struct pollfd	pfd;
	uint64_t	now;
	int		ms, n;

	pfd.fd = a->fd;
	pfd.events = POLLIN;
	ms = -1;
	if (deadline != 0) {
		now = now_usec();
		if (now >= deadline)
			return 0;
		ms = (int)((deadline - now + 999) / 1000);
	}
	if ((n = poll(&pfd, 1, ms)) == -1)
		return -1;
	return n > 0;
}

int
admin_recv(struct admin *a, int timeout_ms, cJSON **out, char **cause)
{
	uint64_t	 deadline = 0;
	char		*nl;
	size_t		 linelen;
	ssize_t		 n;
	int		 w;

	*out = NULL;
	if (timeout_ms >= 0)
		deadline = now_usec() + (uint64_t)timeout_ms * 1000;
	for (;;) {
		nl = a->len > 0 ? memchr(a->buf, '\n', a->len) : NULL;
		if (nl != NULL)
			break;
		if (a->eof) {
			if (a->len == 0)
				return 0;
			*cause = xasprintf("the daemon at %s closed the "
			    "connection in the middle of a line", a->path);
			return -1;
		}
		if (a->len >= ADMIN_MAX_LINE) {
			*cause = xasprintf("a line from the daemon at %s is "
			    "longer than %d bytes", a->path, ADMIN_MAX_LINE);
			return -1;
		}
		if ((w = admin_wait(a, deadline)) == -1) {
			w = errno;
			*cause = xasprintf("poll: %s", strerror(w));
			errno = w;
			return -1;
		}
		if (w == 0) {
			*cause = xasprintf("no reply from the daemon at %s "
			    "within %d s", a->path, timeout_ms / 1000);
			errno = ETIMEDOUT;
			return -1;
		}
		if (a->size - a->len < ADMIN_READ) {
			a->size = a->len + ADMIN_READ;
			a->buf = xrealloc(a->buf, a->size);
		}
		n = read(a->fd, a->buf + a->len, a->size - a->len);
		if (n == -1 && (errno == EINTR || errno == EAGAIN)) {
			if (errno == EINTR) {
				*cause = xstrdup("interrupted");
				errno = EINTR;
				return -1;
			}
			continue;
		}
		if (n == -1) {
			w = errno;
			*cause = xasprintf("cannot read from the daemon at "
			    "%s: %s", a->path, strerror(w));
			errno = w;
			return -1;
		}
		if (n == 0)
			a->eof = 1;
		a->len += (size_t)n;
	}
	linelen = (size_t)(nl - a->buf);
	*out = cJSON_ParseWithLength(a->buf, linelen);
	memmove(a->buf, nl + 1, a->len - linelen - 1);
	a->len -= linelen + 1;
	if (*out == NULL) {
		*cause = xasprintf("the daemon at %s sent a line that is not "
		    "JSON", a->path);
		errno = EPROTO;
		return -1;
	}
	return 1;
}

cJSON *
admin_reply_data(struct admin *a, cJSON *reply, char **cause)
{
	cJSON	*ok, *error, *data;

	ok = cJSON_GetObjectItemCaseSensitive(reply, "ok");
	if (!cJSON_IsBool(ok)) {
		*cause = xasprintf("the daemon at %s sent a reply without "
		    "\"ok\"", a->path);
		cJSON_Delete(reply);
		return NULL;
	}
	if (cJSON_IsFalse(ok)) {
		error = cJSON_GetObjectItemCaseSensitive(reply, "error");
		if (cJSON_IsString(error) && *error->valuestring != '\0')
			*cause = xstrdup(error->valuestring);
		else
			*cause = xstrdup("the daemon refused the request "
			    "without saying why");
		cJSON_Delete(reply);
		return NULL;
	}
	data = cJSON_DetachItemFromObjectCaseSensitive(reply, "data");
	cJSON_Delete(reply);
	return data != NULL ? data : cJSON_CreateNull();
}

cJSON *
admin_call(const char *path, const char *cmd, cJSON *args, char **cause)
{
	struct admin	*a;
	cJSON		*reply, *data = NULL;
	int		 n;

	if ((a = admin_open(path, cause)) == NULL) {
		cJSON_Delete(args);
		return NULL;
	}
	if (admin_send(a, cmd, args, cause) != 0)
		goto out;
	n = admin_recv(a, ADMIN_TIMEOUT_MS, &reply, cause);
	if (n == 0)
		*cause = xasprintf("the daemon at %s closed the connection "
		    "without replying", path);
	if (n != 1)
		goto out;
	data = admin_reply_data(a, reply, cause);
out:
	admin_close(a);
	return data;
}
