/* admin: the admin socket — one JSON object per line each way (spec §6):
 * the transport; the commands are in admin_cmd.c. */
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>

#include <cjson/cJSON.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "admin.h"
#include "admin_cmd.h"
#include "admin_proto.h"
#include "config.h"
#include "log.h"
#include "server.h"
#include "util.h"

#define ADMIN_STR(x)	ADMIN_STR1(x)
#define ADMIN_STR1(x)	#x

#define ADMIN_LINE_MAX	(64 * 1024)	/* longest request line */
#define ADMIN_OUT_MAX	(1024 * 1024)	/* unsent output a client may have */
#define ADMIN_BACKLOG	16
#define ADMIN_REFUSED_SECS 5	/* how long a refused peer may linger */

struct aclient {
	struct admin		*ad;
	struct bufferevent	*bev;
	unsigned		 id;
	int			 flags;
#define ACLIENT_WATCHING	0x01	/* gets events */
#define ACLIENT_SKIPPING	0x02	/* discarding an over-long line */
#define ACLIENT_CLOSING		0x04	/* closes once its output is sent */
#define ACLIENT_PAUSED		0x08	/* not read until its output drains */
#define ACLIENT_DEAD		0x10	/* dropped: freed from the reaper */
#define ACLIENT_REFUSED		0x20	/* told no: input discarded until EOF */
#define ACLIENT_WAITING		0x40	/* an answer comes later: lines wait */
#define ACLIENT_EOF		0x80	/* its end came while waiting */
	void			(*cancel)(void *);	/* the answer waited for */
	void			*cancel_arg;
	LIST_ENTRY(aclient)	 entry;
};

struct admin {
	struct server		*srv;
	int			(*reload)(struct server *, char **);
	struct evconnlistener	*lev;
	struct event		*retry;		/* accept again after EMFILE */
	struct event		*reap;		/* free dead clients */
	char			*path;
	dev_t			 dev;
	ino_t			 ino;
	unsigned		 nextid;
	LIST_HEAD(, aclient)	 clients;
};

/* The daemon's admin socket, for the srv->emit callback (one per process). */
static struct admin	*admin_current;

/* --- clients ---------------------------------------------------------- */

static void
client_unwatch(struct aclient *c)
{
	if (c->flags & ACLIENT_WATCHING) {
		c->flags &= ~ACLIENT_WATCHING;
		c->ad->srv->nwatchers--;
	}
}

static void
client_free(struct aclient *c)
{
	if (c->cancel != NULL)
		c->cancel(c->cancel_arg);
	client_unwatch(c);
	LIST_REMOVE(c, entry);
	bufferevent_free(c->bev);
	free(c);
}

/* Drop a client from anywhere (even from inside its own callbacks): it is
 * silenced now and freed from the loop. */
static void
client_drop(struct aclient *c)
{
	client_unwatch(c);
	c->flags |= ACLIENT_DEAD | ACLIENT_CLOSING;
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	event_active(c->ad->reap, EV_TIMEOUT, 0);
}

static void
admin_reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct admin	*ad = arg;
	struct aclient	*c, *next;

	for (c = LIST_FIRST(&ad->clients); c != NULL; c = next) {
		next = LIST_NEXT(c, entry);
		if (c->flags & ACLIENT_DEAD)
			client_free(c);
	}
}

/* Close once what was said is sent. */
static void
client_close(struct aclient *c)
{
	c->flags |= ACLIENT_CLOSING;
	bufferevent_disable(c->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		client_drop(c);
}

/* Send one line: the object (freed). */
static void
client_send(struct aclient *c, cJSON *o)
{
	struct evbuffer	*out = bufferevent_get_output(c->bev);
	char		*s;

	if (!(c->flags & ACLIENT_DEAD)) {
		if ((s = cJSON_PrintUnformatted(o)) == NULL)
			fatalx("cJSON_PrintUnformatted failed");
		evbuffer_add(out, s, strlen(s));
		evbuffer_add(out, "\n", 1);
		cJSON_free(s);
	}
	cJSON_Delete(o);
}

static void
client_ok(struct aclient *c, cJSON *data)
{
	cJSON	*o = cJSON_CreateObject();

	cJSON_AddTrueToObject(o, "ok");
	cJSON_AddItemToObject(o, "data", data != NULL ? data :
	    cJSON_CreateNull());
	client_send(c, o);
}

static void
client_error(struct aclient *c, const char *error)
{
	cJSON	*o = cJSON_CreateObject();

	cJSON_AddFalseToObject(o, "ok");
	cJSON_AddStringToObject(o, "error", error);
	client_send(c, o);
}

/* --- what the commands use (admin_cmd.h) ------------------------------- */

static void	client_read_cb(struct bufferevent *, void *);
static void	client_event_cb(struct bufferevent *, short, void *);

struct server *
admin_client_server(struct aclient *c)
{
	return c->ad->srv;
}

unsigned
admin_client_id(struct aclient *c)
{
	return c->id;
}

int
admin_client_reload(struct aclient *c, char **cause)
{
	return c->ad->reload(c->ad->srv, cause);
}

void
admin_client_watch(struct aclient *c)
{
	if (!(c->flags & ACLIENT_WATCHING)) {
		c->flags |= ACLIENT_WATCHING;
		c->ad->srv->nwatchers++;
	}
}

void
admin_client_wait(struct aclient *c, void (*cancel)(void *), void *arg)
{
	c->flags |= ACLIENT_WAITING;
	c->cancel = cancel;
	c->cancel_arg = arg;
}

void
admin_client_answer(struct aclient *c, cJSON *data, const char *error)
{
	c->cancel = NULL;
	c->cancel_arg = NULL;
	c->flags &= ~ACLIENT_WAITING;
	if (error != NULL) {
		cJSON_Delete(data);
		client_error(c, error);
	} else
		client_ok(c, data);
	/* Lines that came meanwhile, and its end. */
	if (c->flags & ACLIENT_DEAD)
		return;
	if (c->flags & ACLIENT_EOF)
		client_event_cb(c->bev, BEV_EVENT_EOF, c);
	else
		client_read_cb(c->bev, c);
}

/* --- the protocol ----------------------------------------------------- */

int
admin_parse(char *line, size_t len, cJSON **reqp, const char **cmdp,
    const char **error)
{
	const cJSON	*v, *cmd;
	cJSON		*req;
	const char	*end;

	*reqp = NULL;
	*cmdp = NULL;
	*error = NULL;
	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' ' ||
	    line[len - 1] == '\t'))
		line[--len] = '\0';
	if (len == 0)
		return ADMIN_PARSE_BLANK;
	if (memchr(line, '\0', len) != NULL ||
	    (req = cJSON_ParseWithOpts(line, &end, 1)) == NULL) {
		*error = "malformed request: not a JSON object on one line";
		return ADMIN_PARSE_BAD;
	}
	if (!cJSON_IsObject(req)) {
		*error = "malformed request: a request is a JSON object "
		    "{\"cmd\":…}";
		goto bad;
	}
	v = cJSON_GetObjectItemCaseSensitive(req, "v");
	if (v != NULL && !(cJSON_IsNumber(v) &&
	    v->valuedouble == ADMIN_VERSION)) {
		*error = "version mismatch: this daemon speaks version "
		    ADMIN_STR(ADMIN_VERSION);
		goto bad;
	}
	cmd = cJSON_GetObjectItemCaseSensitive(req, "cmd");
	if (!cJSON_IsString(cmd)) {
		*error = "malformed request: \"cmd\" is required (a string)";
		goto bad;
	}
	*reqp = req;
	*cmdp = cmd->valuestring;
	return ADMIN_PARSE_OK;
bad:
	cJSON_Delete(req);
	return ADMIN_PARSE_BAD;
}

/* Answer one request line (NUL-terminated, without its newline). */
static void
client_line(struct aclient *c, char *line, size_t len)
{
	const struct admin_cmd	*ac = NULL;
	cJSON			*req, *data = NULL;
	const char		*name, *why;
	char			*error = NULL;
	int			 rc;

	switch (admin_parse(line, len, &req, &name, &why)) {
	case ADMIN_PARSE_BLANK:
		return;		/* blank lines are ignored */
	case ADMIN_PARSE_BAD:
		log_info("admin: client %u: %s", c->id, why);
		client_error(c, why);
		return;
	}
	if ((ac = admin_cmd_find(name)) == NULL) {
		log_info("admin: client %u: unknown command", c->id);
		error = xasprintf("unknown command '%.64s'", name);
		client_error(c, error);
		goto out;
	}
	if ((rc = ac->fn(c, req, &data, &error)) == 1)
		log_info("admin: client %u: %s: under way", c->id, ac->name);
	else if (rc == 0) {
		log_info("admin: client %u: %s: ok", c->id, ac->name);
		client_ok(c, data);
	} else {
		if (ac->quiet)
			log_info("admin: client %u: %s: refused", c->id,
			    ac->name);
		else
			log_info("admin: client %u: %s: %s", c->id, ac->name,
			    error);
		client_error(c, error != NULL ? error : "failed");
	}
out:
	free(error);
	cJSON_Delete(req);
}

static void
client_read_cb(struct bufferevent *bev, void *arg)
{
	struct aclient		*c = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct evbuffer_ptr	 p;
	size_t			 n, eol, len;
	char			*line;

	if (c->flags & ACLIENT_REFUSED) {
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	while (!(c->flags & (ACLIENT_CLOSING | ACLIENT_PAUSED |
	    ACLIENT_WAITING))) {
		if ((n = evbuffer_get_length(in)) == 0)
			break;
		p = evbuffer_search_eol(in, NULL, &eol, EVBUFFER_EOL_LF);
		if (p.pos < 0) {
			/* No newline yet: the whole buffer is one line. */
			if (c->flags & ACLIENT_SKIPPING)
				evbuffer_drain(in, n);
			else if (n > ADMIN_LINE_MAX) {
				log_info("admin: client %u: line too long",
				    c->id);
				client_error(c, "line too long");
				c->flags |= ACLIENT_SKIPPING;
				evbuffer_drain(in, n);
			}
			break;
		}
		len = (size_t)p.pos;
		if (c->flags & ACLIENT_SKIPPING) {
			c->flags &= ~ACLIENT_SKIPPING;
			evbuffer_drain(in, len + eol);
			continue;
		}
		if (len > ADMIN_LINE_MAX) {
			log_info("admin: client %u: line too long", c->id);
			client_error(c, "line too long");
			evbuffer_drain(in, len + eol);
			continue;
		}
		line = xmalloc(len + 1);
		if (evbuffer_remove(in, line, len) != (int)len)
			fatalx("evbuffer_remove failed");
		evbuffer_drain(in, eol);
		line[len] = '\0';
		client_line(c, line, len);
		free(line);
		/* Answers not read: stop reading requests until they are. */
		if (evbuffer_get_length(bufferevent_get_output(bev)) >
		    ADMIN_OUT_MAX && !(c->flags & ACLIENT_CLOSING)) {
			c->flags |= ACLIENT_PAUSED;
			bufferevent_disable(bev, EV_READ);
		}
	}
}

static void
client_write_cb(struct bufferevent *bev, void *arg)
{
	struct aclient	*c = arg;

	if (c->flags & ACLIENT_DEAD)
		return;
	if ((c->flags & (ACLIENT_REFUSED | ACLIENT_CLOSING)) ==
	    ACLIENT_REFUSED) {
		/* Said no: end our side, discard theirs until they go (a
		 * close now could reset the connection before they read). */
		shutdown(bufferevent_getfd(bev), SHUT_WR);
		return;
	}
	if (c->flags & ACLIENT_CLOSING) {
		client_drop(c);
		return;
	}
	if (c->flags & ACLIENT_PAUSED) {
		c->flags &= ~ACLIENT_PAUSED;
		bufferevent_enable(bev, EV_READ);
		client_read_cb(bev, c);
	}
}

static void
client_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct aclient	*c = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);
	size_t		 n;
	char		*line;

	if (c->flags & ACLIENT_DEAD)
		return;
	if (what & (BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
		log_debug("admin: client %u: %s", c->id,
		    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		client_drop(c);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		if (c->flags & ACLIENT_WAITING) {
			c->flags |= ACLIENT_EOF;	/* after the answer */
			return;
		}
		/* The client is done sending: answer a last line that had
		 * no newline, then close once the answers are out. */
		client_read_cb(bev, c);
		n = evbuffer_get_length(in);
		if (n > 0 && !(c->flags & (ACLIENT_SKIPPING |
		    ACLIENT_CLOSING | ACLIENT_PAUSED | ACLIENT_WAITING))) {
			line = xmalloc(n + 1);
			evbuffer_remove(in, line, n);
			line[n] = '\0';
			client_line(c, line, n);
			free(line);
		}
		if (c->flags & ACLIENT_WAITING) {
			c->flags |= ACLIENT_EOF;
			return;
		}
		log_debug("admin: client %u: closed", c->id);
		client_close(c);
	}
}

/* --- events for watchers ---------------------------------------------- */

static void
admin_emit(struct server *srv, const char *type, cJSON *data)
{
	struct admin	*ad = admin_current;
	struct aclient	*c;
	struct evbuffer	*out;
	struct timespec	 ts;
	cJSON		*o;
	char		*s;
	size_t		 len;

	if (ad == NULL) {
		cJSON_Delete(data);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "event", type);
	cJSON_AddNumberToObject(o, "t", (double)ts.tv_sec * 1000 +
	    (double)(ts.tv_nsec / 1000000));
	cJSON_AddItemToObject(o, "data", data != NULL ? data :
	    cJSON_CreateObject());
	if ((s = cJSON_PrintUnformatted(o)) == NULL)
		fatalx("cJSON_PrintUnformatted failed");
	cJSON_Delete(o);
	len = strlen(s);
	LIST_FOREACH(c, &ad->clients, entry) {
		if (!(c->flags & ACLIENT_WATCHING) ||
		    (c->flags & ACLIENT_DEAD))
			continue;
		out = bufferevent_get_output(c->bev);
		if (evbuffer_get_length(out) > ADMIN_OUT_MAX) {
			log_warn("admin: client %u: watcher not reading (%zu "
			    "bytes unsent); dropped", c->id,
			    evbuffer_get_length(out));
			client_drop(c);
			continue;
		}
		evbuffer_add(out, s, len);
		evbuffer_add(out, "\n", 1);
	}
	cJSON_free(s);
}

/* --- the socket ------------------------------------------------------- */

static void
admin_accept_cb(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct admin	*ad = arg;
	struct aclient	*c;
	struct ucred	 cr;
	socklen_t	 crlen = sizeof cr;
	struct timeval	 tv = { ADMIN_REFUSED_SECS, 0 };
	char		*error;

	c = xcalloc(1, sizeof *c);
	c->ad = ad;
	c->id = ++ad->nextid;
	c->bev = bufferevent_socket_new(ad->srv->base, fd,
	    BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		log_warn("admin: cannot serve a client: bufferevent failed");
		evutil_closesocket(fd);
		free(c);
		return;
	}
	bufferevent_setcb(c->bev, client_read_cb, client_write_cb,
	    client_event_cb, c);
	LIST_INSERT_HEAD(&ad->clients, c, entry);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) != 0) {
		log_warn("admin: client %u: cannot read its credentials: %s",
		    c->id, strerror(errno));
		client_error(c, "permission denied: the peer's credentials "
		    "cannot be checked");
		goto refuse;
	}
	if (cr.uid != geteuid() && cr.uid != 0) {
		log_warn("admin: client %u: refused: uid %u (pid %d) is not "
		    "the daemon's user", c->id, (unsigned)cr.uid, (int)cr.pid);
		error = xasprintf("permission denied: uid %u is not the "
		    "daemon's user", (unsigned)cr.uid);
		client_error(c, error);
		free(error);
		goto refuse;
	}
	log_debug("admin: client %u: connected (pid %d)", c->id, (int)cr.pid);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	return;
refuse:
	c->flags |= ACLIENT_REFUSED;
	bufferevent_set_timeouts(c->bev, &tv, &tv);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

static void
admin_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct admin	*ad = arg;

	evconnlistener_enable(ad->lev);
}

static void
admin_accept_error_cb(struct evconnlistener *lev, void *arg)
{
	struct admin	*ad = arg;
	struct timeval	 tv = { 1, 0 };

	log_warn("admin: accept: %s; accepting again in 1 s",
	    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	evconnlistener_disable(lev);
	evtimer_add(ad->retry, &tv);
}

/* Make the socket's directory (0700) if it is missing. */
static int
admin_mkdir(const char *path, char **cause)
{
	struct stat	 st;
	char		*dir, *slash;
	int		 rc = -1;

	dir = xstrdup(path);
	if ((slash = strrchr(dir, '/')) == NULL || slash == dir) {
		rc = 0;
		goto out;
	}
	*slash = '\0';
	if (stat(dir, &st) == 0) {
		if (!S_ISDIR(st.st_mode)) {
			*cause = xasprintf("admin socket %s: %s is not a "
			    "directory", path, dir);
			goto out;
		}
		rc = 0;
		goto out;
	}
	if (errno != ENOENT || mkdir(dir, 0700) != 0) {
		*cause = xasprintf("admin socket %s: cannot create %s: %s",
		    path, dir, strerror(errno));
		goto out;
	}
	log_info("admin: created %s (mode 0700)", dir);
	rc = 0;
out:
	free(dir);
	return rc;
}

/* Does something answer on this socket?  1 yes, 0 no (stale), -1 error. */
static int
admin_live(const struct sockaddr_un *sun)
{
	int	fd, rc;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	if (connect(fd, (const struct sockaddr *)sun, sizeof *sun) == 0)
		rc = 1;
	else if (errno == EAGAIN || errno == EINPROGRESS)
		rc = 1;		/* a full backlog: alive but busy */
	else if (errno == ECONNREFUSED || errno == ENOENT)
		rc = 0;
	else
		rc = -1;
	close(fd);
	return rc;
}

struct admin *
admin_new(struct server *srv, int (*reload)(struct server *, char **),
    char **cause)
{
	const char		*path = srv->cf->socket_path;
	struct sockaddr_un	 sun;
	struct admin		*ad;
	struct stat		 st;
	mode_t			 mask;
	int			 fd, rc;

	if (path == NULL || *path == '\0') {
		*cause = xstrdup("no admin socket path (TTSACCEL_SOCKET)");
		return NULL;
	}
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sun.sun_path) {
		*cause = xasprintf("admin socket path too long (at most %zu "
		    "bytes): %s", sizeof sun.sun_path - 1, path);
		return NULL;
	}
	memcpy(sun.sun_path, path, strlen(path));
	/* The default path outside XDG_RUNTIME_DIR is in a directory of our
	 * own: one another user made first is refused, never used. */
	if (srv->cf->socket_private != NULL) {
		if (config_private_dir(srv->cf->socket_private, geteuid(), 1,
		    cause) != 0)
			return NULL;
	} else if (admin_mkdir(path, cause) != 0)
		return NULL;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			*cause = xasprintf("admin socket %s: the path exists "
			    "and is not a socket", path);
			return NULL;
		}
		switch (admin_live(&sun)) {
		case 1:
			*cause = xasprintf("another ttsaccel is running: it "
			    "answers on the admin socket %s", path);
			return NULL;
		case -1:
			*cause = xasprintf("admin socket %s: cannot check "
			    "whether a daemon answers: %s", path,
			    strerror(errno));
			return NULL;
		}
		if (unlink(path) != 0 && errno != ENOENT) {
			*cause = xasprintf("cannot remove the stale admin "
			    "socket %s: %s", path, strerror(errno));
			return NULL;
		}
		log_info("admin: removed a stale socket at %s", path);
	} else if (errno != ENOENT) {
		*cause = xasprintf("admin socket %s: %s", path,
		    strerror(errno));
		return NULL;
	}

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		*cause = xasprintf("admin socket: %s", strerror(errno));
		return NULL;
	}
	mask = umask(0177);
	rc = bind(fd, (struct sockaddr *)&sun, sizeof sun);
	umask(mask);
	if (rc != 0 || lstat(path, &st) != 0) {
		*cause = xasprintf("cannot create the admin socket %s: %s",
		    path, strerror(errno));
		close(fd);
		return NULL;
	}

	ad = xcalloc(1, sizeof *ad);
	ad->srv = srv;
	ad->reload = reload;
	ad->path = xstrdup(path);
	ad->dev = st.st_dev;
	ad->ino = st.st_ino;
	LIST_INIT(&ad->clients);
	ad->lev = evconnlistener_new(srv->base, admin_accept_cb, ad,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, ADMIN_BACKLOG, fd);
	if (ad->lev == NULL) {
		*cause = xasprintf("cannot listen on the admin socket %s: %s",
		    path, strerror(errno));
		close(fd);
		unlink(path);
		free(ad->path);
		free(ad);
		return NULL;
	}
	evconnlistener_set_error_cb(ad->lev, admin_accept_error_cb);
	ad->retry = evtimer_new(srv->base, admin_retry_cb, ad);
	ad->reap = evtimer_new(srv->base, admin_reap_cb, ad);
	admin_current = ad;
	srv->emit = admin_emit;
	log_info("admin socket at %s", path);
	return ad;
}

void
admin_free(struct admin *ad)
{
	struct stat	 st;

	if (ad == NULL)
		return;
	while (!LIST_EMPTY(&ad->clients))
		client_free(LIST_FIRST(&ad->clients));
	evconnlistener_free(ad->lev);
	event_free(ad->retry);
	event_free(ad->reap);
	/* Only our own socket: another daemon may have taken the path. */
	if (lstat(ad->path, &st) == 0 && st.st_dev == ad->dev &&
	    st.st_ino == ad->ino)
		unlink(ad->path);
	if (ad->srv->emit == admin_emit)
		ad->srv->emit = NULL;
	if (admin_current == ad)
		admin_current = NULL;
	free(ad->path);
	free(ad);
}
