/* admin: the admin socket — one JSON object per line each way (spec §6). */
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
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "admin.h"
#include "audio.h"
#include "cache.h"
#include "config.h"
#include "log.h"
#include "reply.h"
#include "server.h"
#include "shared.h"
#include "tts.h"
#include "upstream.h"
#include "util.h"

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
	struct shared_clear	*clearing;	/* cache.clear of the shared tier */
	size_t			 cleared;	/* local entries it removed */
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

/* A command: 0 with *data, or -1 with *error (both to free), or 1 when
 * it answers later itself (ACLIENT_WAITING set meanwhile). */
struct admin_cmd {
	const char	*name;
	int		(*fn)(struct aclient *, const cJSON *, cJSON **, char **);
	int		 quiet;	/* its error text may hold a secret: not logged */
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
	shared_clear_cancel(c->clearing);
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

/* --- arguments -------------------------------------------------------- */

/* A required non-empty string argument; NULL with *error. */
static const char *
arg_str(const cJSON *req, const char *name, char **error)
{
	const cJSON	*it = cJSON_GetObjectItemCaseSensitive(req, name);

	if (!cJSON_IsString(it) || it->valuestring[0] == '\0') {
		*error = xasprintf("'%s' is required: a non-empty string",
		    name);
		return NULL;
	}
	return it->valuestring;
}

/* An optional integer argument in [min, max]: 1 if given (in *v), 0 if
 * absent or null, -1 with *error. */
static int
arg_int(const cJSON *req, const char *name, long long min, long long max,
    long long *v, char **error)
{
	const cJSON	*it = cJSON_GetObjectItemCaseSensitive(req, name);

	if (it == NULL || cJSON_IsNull(it))
		return 0;
	if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble) ||
	    it->valuedouble != floor(it->valuedouble) ||
	    it->valuedouble < (double)min || it->valuedouble > (double)max) {
		*error = xasprintf("'%s' must be an integer from %lld to %lld",
		    name, min, max);
		return -1;
	}
	*v = (long long)it->valuedouble;
	return 1;
}

/* --- commands --------------------------------------------------------- */

static int
cmd_stats(struct aclient *c, const cJSON *req, cJSON **data, char **error)
{
	struct server	*srv = c->ad->srv;
	cJSON		*o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "version", TTSACCEL_VERSION);
	cJSON_AddNumberToObject(o, "uptime_s",
	    (double)((now_usec() - srv->started) / 1000000));
	cJSON_AddBoolToObject(o, "usable", tts_usable(srv->tts));
	cJSON_AddNumberToObject(o, "requests", (double)srv->nrequests);
	cJSON_AddNumberToObject(o, "chats", (double)srv->nchats);
	cJSON_AddNumberToObject(o, "upstream_errors",
	    (double)srv->nupstream_errors);
	cJSON_AddItemToObject(o, "upstream", upstream_json(srv->upstream));
	cJSON_AddNumberToObject(o, "streams", (double)srv->nstreams);
	cJSON_AddNumberToObject(o, "replies",
	    (double)reply_count(srv->replies));
	cJSON_AddItemToObject(o, "cache", tts_cache_json(srv->tts));
	cJSON_AddItemToObject(o, "served", audio_served_json(srv));
	cJSON_AddItemToObject(o, "endpoints", tts_endpoints_json(srv->tts));
	if (srv->shared != NULL)
		cJSON_AddItemToObject(o, "shared", shared_json(srv->shared));
	cJSON_AddNumberToObject(o, "watchers", (double)srv->nwatchers);
	*data = o;
	return 0;
}

static void	client_read_cb(struct bufferevent *, void *);
static void	client_event_cb(struct bufferevent *, short, void *);

static void
clear_done_cb(void *arg, long long removed, const char *err)
{
	struct aclient	*c = arg;
	cJSON		*data;
	char		*msg;

	c->clearing = NULL;
	c->flags &= ~ACLIENT_WAITING;
	if (err != NULL) {
		log_info("admin: client %u: cache.clear: shared tier: %s",
		    c->id, err);
		msg = xasprintf("the memory cache was emptied (%zu entries) "
		    "but not Redis: %s", c->cleared, err);
		client_error(c, msg);
		free(msg);
	} else {
		log_info("admin: client %u: cache.clear: ok, %lld key(s) "
		    "removed from Redis", c->id, removed);
		data = cJSON_CreateObject();
		cJSON_AddNumberToObject(data, "removed", (double)c->cleared);
		cJSON_AddNumberToObject(data, "shared_removed",
		    (double)removed);
		client_ok(c, data);
	}
	/* Lines that came meanwhile, and its end. */
	if (c->flags & ACLIENT_DEAD)
		return;
	if (c->flags & ACLIENT_EOF)
		client_event_cb(c->bev, BEV_EVENT_EOF, c);
	else
		client_read_cb(c->bev, c);
}

static int
cmd_cache_clear(struct aclient *c, const cJSON *req, cJSON **data,
    char **error)
{
	struct server	*srv = c->ad->srv;
	const cJSON	*sh = cJSON_GetObjectItemCaseSensitive(req, "shared");
	size_t		 n;

	if (sh != NULL && !cJSON_IsBool(sh) && !cJSON_IsNull(sh)) {
		*error = xstrdup("'shared' must be true or false");
		return -1;
	}
	if (cJSON_IsTrue(sh) && srv->shared == NULL) {
		*error = xstrdup("no shared tier here: REDIS_URL is not set");
		return -1;
	}
	n = tts_clear(srv->tts);
	if (!cJSON_IsTrue(sh)) {
		*data = cJSON_CreateObject();
		cJSON_AddNumberToObject(*data, "removed", (double)n);
		return 0;
	}
	/* This prefix's keys in Redis, by SCAN: answered when done. */
	c->cleared = n;
	if ((c->clearing = shared_clear(srv->shared, clear_done_cb, c,
	    error)) == NULL) {
		char	*why = *error;

		*error = xasprintf("the memory cache was emptied (%zu "
		    "entries) but not Redis: %s", n, why);
		free(why);
		return -1;
	}
	c->flags |= ACLIENT_WAITING;
	return 1;
}

struct list_walk {
	cJSON		*a;
	uint64_t	 now;
};

static int
cache_list_cb(void *arg, const struct cache_entry *e)
{
	struct list_walk	*w = arg;
	cJSON			*o = cJSON_CreateObject();
	uint64_t		 created = cache_entry_created(e);
	size_t			 len;
	char			*id;

	id = tts_key_id(cache_key(e));
	cJSON_AddStringToObject(o, "key", id);
	free(id);
	cJSON_AddStringToObject(o, "text", cache_text(e));
	(void)cache_data(e, &len);
	cJSON_AddNumberToObject(o, "bytes", (double)len);
	cJSON_AddNumberToObject(o, "age_s", w->now > created ?
	    (double)((w->now - created) / 1000000) : 0);
	cJSON_AddNumberToObject(o, "hits", (double)cache_entry_hits(e));
	cJSON_AddStringToObject(o, "state", cache_state(e) == CACHE_PENDING ?
	    "pending" : "done");
	cJSON_AddItemToArray(w->a, o);
	return 0;
}

static int
cmd_cache_list(struct aclient *c, const cJSON *req, cJSON **data,
    char **error)
{
	struct list_walk	 w;
	long long		 limit = 20;

	/* 0 = all of them. */
	if (arg_int(req, "limit", 0, 1000000, &limit, error) < 0)
		return -1;
	w.a = cJSON_CreateArray();
	w.now = now_usec();
	cache_walk(tts_cache(c->ad->srv->tts), (size_t)limit, cache_list_cb,
	    &w);
	*data = w.a;
	return 0;
}

static int
cmd_endpoints_list(struct aclient *c, const cJSON *req, cJSON **data,
    char **error)
{
	*data = tts_endpoints_json(c->ad->srv->tts);
	return 0;
}

static int
cmd_endpoints_add(struct aclient *c, const cJSON *req, cJSON **data,
    char **error)
{
	struct tts	*tts = c->ad->srv->tts;
	const cJSON	*it;
	const char	*url;
	char		 maxs[32] = "", weights[64] = "", *spec;
	long long	 max;
	int		 rc;

	if ((url = arg_str(req, "url", error)) == NULL)
		return -1;
	if (strncmp(url, "http://", 7) != 0 &&
	    strncmp(url, "https://", 8) != 0 && strncmp(url, "exec:", 5) != 0) {
		*error = xstrdup("'url' must be http://…, https://… or exec:…");
		return -1;
	}
	if ((rc = arg_int(req, "max", 1, 1000000, &max, error)) < 0)
		return -1;
	if (rc == 1)
		snprintf(maxs, sizeof maxs, "|max=%lld", max);
	it = cJSON_GetObjectItemCaseSensitive(req, "weight");
	if (it != NULL && !cJSON_IsNull(it)) {
		if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble) ||
		    it->valuedouble <= 0) {
			*error = xstrdup("'weight' must be a number above 0");
			return -1;
		}
		snprintf(weights, sizeof weights, "|weight=%g",
		    it->valuedouble);
	}
	spec = xasprintf("%s%s%s", url, maxs, weights);
	rc = tts_endpoint_add(tts, spec, error);
	free(spec);
	if (rc != 0)
		return -1;
	*data = cJSON_CreateObject();
	cJSON_AddStringToObject(*data, "url",
	    tts_endpoint_name(tts, tts_endpoint_count(tts) - 1));
	return 0;
}

static int
cmd_endpoints_drain(struct aclient *c, const cJSON *req, cJSON **data,
    char **error)
{
	const char	*url;

	if ((url = arg_str(req, "url", error)) == NULL ||
	    tts_endpoint_drain(c->ad->srv->tts, url, error) != 0)
		return -1;
	*data = cJSON_CreateObject();
	cJSON_AddStringToObject(*data, "url", url);
	cJSON_AddStringToObject(*data, "state", "draining");
	return 0;
}

static int
cmd_endpoints_remove(struct aclient *c, const cJSON *req, cJSON **data,
    char **error)
{
	const char	*url;
	int		 rc;

	if ((url = arg_str(req, "url", error)) == NULL ||
	    (rc = tts_endpoint_remove(c->ad->srv->tts, url, error)) < 0)
		return -1;
	*data = cJSON_CreateObject();
	cJSON_AddStringToObject(*data, "url", url);
	if (rc == 0)
		cJSON_AddStringToObject(*data, "state", "removed");
	else {
		cJSON_AddStringToObject(*data, "state", "draining");
		cJSON_AddStringToObject(*data, "note",
		    "busy: it leaves when its work is done");
	}
	return 0;
}

static int
cmd_reload(struct aclient *c, const cJSON *req, cJSON **data, char **error)
{
	struct admin	*ad = c->ad;
	char		*cause = NULL;

	if (ad->reload(ad->srv, &cause) != 0) {
		*error = xasprintf("reload failed, old configuration kept: %s",
		    cause != NULL ? cause : "unknown error");
		free(cause);
		return -1;
	}
	*data = cJSON_CreateObject();
	cJSON_AddTrueToObject(*data, "reloaded");
	cJSON_AddItemToObject(*data, "endpoints",
	    tts_endpoints_json(ad->srv->tts));
	return 0;
}

static int
cmd_log_level(struct aclient *c, const cJSON *req, cJSON **data,
    char **error)
{
	const char	*name;
	int		 lvl;

	if ((name = arg_str(req, "level", error)) == NULL)
		return -1;
	if ((lvl = log_level_parse(name)) < 0) {
		*error = xasprintf("unknown log level '%.64s' (DEBUG, INFO, "
		    "WARNING, ERROR)", name);
		return -1;
	}
	log_level = lvl;
	c->ad->srv->cf->log_level = lvl;
	*data = cJSON_CreateObject();
	cJSON_AddStringToObject(*data, "level", log_level_name(lvl));
	return 0;
}

static int
cmd_watch(struct aclient *c, const cJSON *req, cJSON **data, char **error)
{
	if (!(c->flags & ACLIENT_WATCHING)) {
		c->flags |= ACLIENT_WATCHING;
		c->ad->srv->nwatchers++;
	}
	*data = cJSON_CreateObject();
	cJSON_AddTrueToObject(*data, "watching");
	return 0;
}

static const struct admin_cmd admin_cmds[] = {
	{ "stats",		cmd_stats,		0 },
	{ "cache.clear",	cmd_cache_clear,	0 },
	{ "cache.list",		cmd_cache_list,		0 },
	{ "endpoints.list",	cmd_endpoints_list,	0 },
	{ "endpoints.add",	cmd_endpoints_add,	1 },
	{ "endpoints.drain",	cmd_endpoints_drain,	0 },
	{ "endpoints.remove",	cmd_endpoints_remove,	0 },
	{ "reload",		cmd_reload,		0 },
	{ "log.level",		cmd_log_level,		0 },
	{ "watch",		cmd_watch,		0 },
};

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
		*error = "version mismatch: this daemon speaks version 1";
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
	size_t			 i;
	int			 rc;

	switch (admin_parse(line, len, &req, &name, &why)) {
	case ADMIN_PARSE_BLANK:
		return;		/* blank lines are ignored */
	case ADMIN_PARSE_BAD:
		log_info("admin: client %u: %s", c->id, why);
		client_error(c, why);
		return;
	}
	for (i = 0; i < sizeof admin_cmds / sizeof admin_cmds[0]; i++)
		if (strcmp(admin_cmds[i].name, name) == 0) {
			ac = &admin_cmds[i];
			break;
		}
	if (ac == NULL) {
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
