/*
 * shared: the cache tier several instances share, on Redis (spec §9):
 * its connections, the commands sent on them, its state and figures.
 * The keys are in shared_key.c, the replies and the cluster watch in
 * shared_reply.c, clearing in shared_clear.c, what they share in
 * shared_int.h; REDIS_URL (shared_url.c) and the audio's envelope
 * (shared_env.c) are pure.
 *
 * hiredis's asynchronous API on the daemon's own loop (its libevent
 * adapter): no thread, no blocking call (a host name is resolved with
 * evdns).  One command connection carries every short command, pipelined.
 * Keys under REDIS_PREFIX, with D the SHA-256 of the content key:
 *
 *   a:D   the audio, in an envelope (shared_env_pack), expiring with
 *         CACHE_TTL
 *   l:D   the lock of the instance synthesising D (SET NX PX with a token
 *         of its own), renewed while it works, deleted when it is done
 *   s:D   a stream of that synthesis' chunks (fields t = token, d = bytes)
 *         ending with e = ok (n = length) or e = fail; short-lived
 *   r:ID  a stream of a chat reply: p = parameters, s = a segment's text,
 *         x = the reply's text since the last event, e = ok or cut;
 *         expiring with CACHE_TTL
 *   replies  the same events of every reply of the cluster (with r = ID),
 *         which each instance follows on one connection (mirror.c)
 *
 * Readers (sh_reader_new) are connections of their own, one blocking
 * XREAD at a time, at most REDIS_FOLLOW_MAX.
 *
 * A command with no answer in SH_TIMEOUT_MS, or a refused or lost
 * connection, take the tier down: everything waiting on it goes on alone
 * (a local synthesis), and it reconnects with backoff.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cjson/cJSON.h>
#include <event2/buffer.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libevent.h>

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "shared.h"
#include "shared_int.h"
#include "util.h"

#define SH_TIMEOUT_MS	2000	/* an answer, or a connection, within */
#define SH_BACKOFF_MIN	100
#define SH_BACKOFF_MAX	5000
#define SH_TICK_MS	250

struct scmd {
	struct shared	*sh;
	struct sref	*r;
	void		(*fn)(struct shared *, struct sref *, redisReply *);
};

static void	sh_connect(struct shared *);
static void	sh_lost(struct shared *, const char *);

/* --- connections and commands ------------------------------------------- */

void
sh_unref(struct sref *r)
{
	if (r != NULL && --r->refs == 0)
		r->free(r);
}

/* A Redis name: the prefix, a letter and a name. */
char *
sh_name(struct shared *sh, const char *kind, const char *name)
{
	return xasprintf("%s%s:%s", sh->prefix, kind, name);
}

static void
cmd_cb(redisAsyncContext *ac, void *reply, void *priv)
{
	struct scmd	*sc = priv;
	struct rconn	*c = ac->data;
	redisReply	*rep = reply;

	if (c != NULL) {
		c->npending--;
		c->t_progress = now_usec();
	}
	if (rep == NULL || rep->type == REDIS_REPLY_ERROR)
		sc->sh->errors++;
	if (rep != NULL && rep->type == REDIS_REPLY_ERROR)
		log_debug("shared: Redis says %s", rep->str);
	if (sc->fn != NULL && (sc->r == NULL || !sc->r->dead))
		sc->fn(sc->sh, sc->r, rep);
	sh_unref(sc->r);
	free(sc);
}

/* Send a command on c; fn(sh, r, reply) gets its answer (NULL if the
 * connection went).  -1 if it cannot be sent. */
int
sh_send(struct rconn *c, struct sref *r,
    void (*fn)(struct shared *, struct sref *, redisReply *), int argc,
    const char **argv, const size_t *lens)
{
	struct scmd	*sc;

	if (c == NULL || c->ac == NULL)
		return -1;
	sc = xmalloc(sizeof *sc);
	sc->sh = c->sh;
	sc->r = r;
	sc->fn = fn;
	if (redisAsyncCommandArgv(c->ac, cmd_cb, sc, argc, argv, lens) !=
	    REDIS_OK) {
		free(sc);
		return -1;
	}
	if (r != NULL)
		r->refs++;
	if (c->npending++ == 0)
		c->t_progress = now_usec();
	return 0;
}

/* The same with NUL-terminated arguments. */
int
sh_sendv(struct rconn *c, struct sref *r,
    void (*fn)(struct shared *, struct sref *, redisReply *), int argc,
    const char **argv)
{
	size_t	lens[16];
	int	i;

	for (i = 0; i < argc && i < 16; i++)
		lens[i] = strlen(argv[i]);
	return sh_send(c, r, fn, argc, argv, lens);
}

/* Let a context go: its pending answers come back as NULL. */
static void
conn_drop(struct rconn *c)
{
	redisAsyncContext	*ac = c->ac;

	if (ac == NULL)
		return;
	c->ac = NULL;
	ac->data = NULL;
	c->npending = 0;
	redisAsyncFree(ac);
}

static void
conn_connect_cb(const redisAsyncContext *ac, int status)
{
	struct rconn	*c = ac->data;

	if (c == NULL || status == REDIS_OK)
		return;
	/* hiredis frees the context after this. */
	((redisAsyncContext *)ac)->data = NULL;
	c->ac = NULL;
	if (c == &c->sh->cmd)
		sh_lost(c->sh, ac->errstr[0] != '\0' ? ac->errstr :
		    "connection failed");
}

static void
conn_disconnect_cb(const redisAsyncContext *ac, int status)
{
	struct rconn	*c = ac->data;

	if (c == NULL)
		return;
	((redisAsyncContext *)ac)->data = NULL;
	c->ac = NULL;
	if (c == &c->sh->cmd)
		sh_lost(c->sh, status == REDIS_OK ? "connection closed" :
		    ac->errstr[0] != '\0' ? ac->errstr : "connection lost");
}

static void
auth_cb(struct shared *sh, struct sref *r, redisReply *rep)
{
	char	why[256];

	if (rep != NULL && rep->type == REDIS_REPLY_ERROR) {
		snprintf(why, sizeof why, "AUTH: %s", rep->str);
		sh_lost(sh, why);
	}
}

/* Open c: a context on the loop, AUTH and SELECT sent first.  -1 with
 * sh->why set if it cannot even start. */
static int
conn_open(struct shared *sh, struct rconn *c)
{
	redisAsyncContext	*ac;
	const char		*argv[3];
	char			 db[16];
	int			 n = 0;

	if (sh->url.path != NULL)
		ac = redisAsyncConnectUnix(sh->url.path);
	else
		ac = redisAsyncConnect(sh->addr, sh->url.port);
	if (ac == NULL) {
		snprintf(sh->why, sizeof sh->why, "out of memory");
		return -1;
	}
	if (ac->err != 0) {
		snprintf(sh->why, sizeof sh->why, "%s", ac->errstr);
		redisAsyncFree(ac);
		return -1;
	}
	ac->data = c;
	c->sh = sh;
	c->ac = ac;
	c->npending = 0;
	c->t_progress = now_usec();
	redisLibeventAttach(ac, sh->base);
	redisAsyncSetConnectCallback(ac, conn_connect_cb);
	redisAsyncSetDisconnectCallback(ac, conn_disconnect_cb);
	if (sh->url.password != NULL) {
		argv[n++] = "AUTH";
		if (sh->url.user != NULL)
			argv[n++] = sh->url.user;
		argv[n++] = sh->url.password;
		sh_sendv(c, NULL, c == &sh->cmd ? auth_cb : NULL, n, argv);
	}
	if (sh->url.db != 0) {
		snprintf(db, sizeof db, "%d", sh->url.db);
		argv[0] = "SELECT";
		argv[1] = db;
		sh_sendv(c, NULL, NULL, 2, argv);
	}
	return 0;
}

/* A reader connection of its own, for one blocking XREAD at a time. */
struct rconn *
sh_reader_new(struct shared *sh)
{
	struct rconn	*c;

	if (sh->state != SH_UP ||
	    sh->nreaders >= (size_t)(*sh->cf)->redis_follow_max)
		return NULL;
	c = xcalloc(1, sizeof *c);
	if (conn_open(sh, c) != 0) {
		free(c);
		return NULL;
	}
	c->limit = (uint64_t)(SH_BLOCK_MS + SH_TIMEOUT_MS) * 1000;
	c->next = sh->readers;
	if (sh->readers != NULL)
		sh->readers->prev = c;
	sh->readers = c;
	sh->nreaders++;
	return c;
}

void
sh_reader_free(struct rconn *c)
{
	struct shared	*sh;

	if (c == NULL)
		return;
	sh = c->sh;
	conn_drop(c);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		sh->readers = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	sh->nreaders--;
	free(c);
}

static void
set_state(struct shared *sh, int st)
{
	if (sh->state != st)
		sh->since = now_usec();
	sh->state = st;
}

static void
ping_cb(struct shared *sh, struct sref *r, redisReply *rep)
{
	if (rep == NULL)
		return;		/* sh_lost has been told */
	if (rep->type == REDIS_REPLY_ERROR ||
	    (rep->type == REDIS_REPLY_STATUS && strcmp(rep->str, "PONG") != 0)) {
		sh_lost(sh, rep->type == REDIS_REPLY_ERROR ? rep->str :
		    "unexpected answer to PING");
		return;
	}
	set_state(sh, SH_UP);
	sh->backoff_ms = SH_BACKOFF_MIN;
	if (sh->ever_up)
		sh->reconnects++;
	if (sh->logged_down || !sh->ever_up) {
		if (sh->url.path != NULL)
			log_info("shared tier: connected to Redis at %s, "
			    "prefix '%s'", sh->url.path, sh->prefix);
		else
			log_info("shared tier: connected to Redis at %s port "
			    "%d, prefix '%s'", sh->addr, sh->url.port,
			    sh->prefix);
	}
	sh->ever_up = 1;
	sh->logged_down = 0;
	sh->why[0] = '\0';
}

static void
sh_connect_addr(struct shared *sh)
{
	const char	*argv[1] = { "PING" };

	if (conn_open(sh, &sh->cmd) != 0) {
		sh_lost(sh, sh->why);
		return;
	}
	sh->cmd.limit = (uint64_t)SH_TIMEOUT_MS * 1000;
	set_state(sh, SH_CONNECTING);
	if (sh_sendv(&sh->cmd, NULL, ping_cb, 1, argv) != 0)
		sh_lost(sh, "cannot send PING");
}

static void
dns_cb(int result, struct evutil_addrinfo *res, void *arg)
{
	struct shared	*sh = arg;
	const void	*a;

	sh->dnsreq = NULL;
	if (result == EVUTIL_EAI_CANCEL)
		return;
	if (result != 0 || res == NULL) {
		if (res != NULL)
			evutil_freeaddrinfo(res);
		sh_lost(sh, evutil_gai_strerror(result));
		return;
	}
	a = res->ai_family == AF_INET6 ?
	    (const void *)&((struct sockaddr_in6 *)res->ai_addr)->sin6_addr :
	    (const void *)&((struct sockaddr_in *)res->ai_addr)->sin_addr;
	if (evutil_inet_ntop(res->ai_family, a, sh->addr, sizeof sh->addr) ==
	    NULL) {
		evutil_freeaddrinfo(res);
		sh_lost(sh, "cannot print the address");
		return;
	}
	evutil_freeaddrinfo(res);
	sh_connect_addr(sh);
}

static void
sh_connect(struct shared *sh)
{
	struct evutil_addrinfo	 hints;
	unsigned char		 buf[16];

	set_state(sh, SH_CONNECTING);
	if (sh->url.path != NULL || inet_pton(AF_INET, sh->url.host, buf) == 1 ||
	    inet_pton(AF_INET6, sh->url.host, buf) == 1) {
		if (sh->url.path == NULL)
			snprintf(sh->addr, sizeof sh->addr, "%s", sh->url.host);
		sh_connect_addr(sh);
		return;
	}
	/* A name: resolved without blocking the loop. */
	if (sh->dns == NULL)
		sh->dns = evdns_base_new(sh->base,
		    EVDNS_BASE_INITIALIZE_NAMESERVERS);
	if (sh->dns == NULL) {
		sh_lost(sh, "cannot start the resolver");
		return;
	}
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	sh->dnsreq = evdns_getaddrinfo(sh->dns, sh->url.host, NULL, &hints,
	    dns_cb, sh);
}

static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
	sh_connect(arg);
}

/* The command connection failed: down, everything waiting told (their
 * answers come back NULL), a new try after the backoff. */
static void
sh_lost(struct shared *sh, const char *why)
{
	struct timeval	tv;
	char		copy[256];

	snprintf(copy, sizeof copy, "%s", why);
	snprintf(sh->why, sizeof sh->why, "%s", copy);
	if (sh->state == SH_UP)
		sh->downs++;
	set_state(sh, SH_DOWN);
	if (!sh->logged_down) {
		log_warn("shared tier: Redis at %s is %s: %s; serving from "
		    "memory and the backends, reconnecting", sh->url.path !=
		    NULL ? sh->url.path : sh->url.host, sh->ever_up ?
		    "down" : "unreachable", copy);
		sh->logged_down = 1;
	} else
		log_debug("shared tier: still down: %s", copy);
	conn_drop(&sh->cmd);
	if (evtimer_pending(sh->retry, NULL))
		return;
	tv.tv_sec = sh->backoff_ms / 1000;
	tv.tv_usec = (sh->backoff_ms % 1000) * 1000;
	evtimer_add(sh->retry, &tv);
	sh->backoff_ms = sh->backoff_ms * 2 > SH_BACKOFF_MAX ?
	    SH_BACKOFF_MAX : sh->backoff_ms * 2;
}

/* Answers that do not come in time take their connection down. */
static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct shared	*sh = arg;
	struct rconn	*c, *next;
	uint64_t	 now = now_usec();

	if (sh->cmd.ac != NULL && sh->cmd.npending > 0 &&
	    now - sh->cmd.t_progress > sh->cmd.limit)
		sh_lost(sh, sh->state == SH_CONNECTING ? "no answer to "
		    "connect in time" : "no answer in time");
	for (c = sh->readers; c != NULL; c = next) {
		next = c->next;
		if (c->ac != NULL && c->npending > 0 &&
		    now - c->t_progress > c->limit)
			conn_drop(c);	/* its XREAD comes back NULL */
	}
}

struct shared *
shared_new(struct event_base *base, struct config *const *cf, char **cause)
{
	struct shared	*sh;
	unsigned char	 rnd[8];
	struct timeval	 tv = { 0, SH_TICK_MS * 1000 };
	int		 i;

	sh = xcalloc(1, sizeof *sh);
	if (shared_url_parse((*cf)->redis_url, &sh->url, cause) != 0) {
		free(sh);
		return NULL;
	}
	sh->cf = cf;
	sh->base = base;
	sh->prefix = xstrdup((*cf)->redis_prefix != NULL ?
	    (*cf)->redis_prefix : "ttsaccel:");
	random_bytes(rnd, sizeof rnd);
	for (i = 0; i < 8; i++)
		snprintf(sh->id + 2 * i, 3, "%02x", rnd[i]);
	sh->cmd.sh = sh;
	sh->backoff_ms = SH_BACKOFF_MIN;
	sh->retry = evtimer_new(sh->base, retry_cb, sh);
	sh->tick = event_new(sh->base, -1, EV_PERSIST, tick_cb, sh);
	evtimer_add(sh->tick, &tv);
	sh->since = now_usec();
	sh_connect(sh);
	return sh;
}

void
shared_free(struct shared *sh)
{
	if (sh == NULL)
		return;
	if (sh->dnsreq != NULL)
		evdns_getaddrinfo_cancel(sh->dnsreq);
	if (sh->dns != NULL)
		evdns_base_free(sh->dns, 0);
	conn_drop(&sh->cmd);
	while (sh->readers != NULL)
		sh_reader_free(sh->readers);
	event_free(sh->retry);
	event_free(sh->tick);
	shared_url_clear(&sh->url);
	free(sh->prefix);
	free(sh);
}

int
shared_up(const struct shared *sh)
{
	return sh != NULL && sh->state == SH_UP;
}

/* --- stream entries ----------------------------------------------------- */

/* Entry e of a stream reply: its id and its fields, or -1. */
int
sh_entry(const redisReply *e, const char **id, const redisReply **f)
{
	if (e == NULL || e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
	    e->element[0]->type != REDIS_REPLY_STRING ||
	    e->element[0]->len >= 48 ||
	    e->element[1]->type != REDIS_REPLY_ARRAY ||
	    e->element[1]->elements % 2 != 0)
		return -1;
	*id = e->element[0]->str;
	*f = e->element[1];
	return 0;
}

const redisReply *
sh_field(const redisReply *f, const char *name)
{
	size_t	i;

	for (i = 0; i + 1 < f->elements; i += 2)
		if (f->element[i]->type == REDIS_REPLY_STRING &&
		    strcmp(f->element[i]->str, name) == 0 &&
		    f->element[i + 1]->type == REDIS_REPLY_STRING)
			return f->element[i + 1];
	return NULL;
}

/* The entries of an XREAD answer for one stream; NULL if it is not one. */
const redisReply *
sh_xread_entries(const redisReply *rep)
{
	const redisReply	*s;

	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 1)
		return NULL;
	s = rep->element[0];
	if (s->type != REDIS_REPLY_ARRAY || s->elements != 2 ||
	    s->element[1]->type != REDIS_REPLY_ARRAY)
		return NULL;
	return s->element[1];
}

/* --- figures ------------------------------------------------------------ */

static const char *
state_name(int st)
{
	return st == SH_UP ? "up" : st == SH_CONNECTING ? "connecting" :
	    "down";
}

cJSON *
shared_json(const struct shared *sh)
{
	cJSON	*o = cJSON_CreateObject();
	char	 addr[128];

	cJSON_AddStringToObject(o, "state", state_name(sh->state));
	if (sh->url.path != NULL)
		snprintf(addr, sizeof addr, "unix://%s", sh->url.path);
	else
		snprintf(addr, sizeof addr, "%s:%d", sh->url.host,
		    sh->url.port);
	cJSON_AddStringToObject(o, "redis", addr);
	cJSON_AddStringToObject(o, "prefix", sh->prefix);
	if (sh->state != SH_UP && sh->why[0] != '\0')
		cJSON_AddStringToObject(o, "error", sh->why);
	cJSON_AddNumberToObject(o, "state_s",
	    (double)((now_usec() - sh->since) / 1000000));
	cJSON_AddNumberToObject(o, "hits", (double)sh->hits);
	cJSON_AddNumberToObject(o, "misses", (double)sh->misses);
	cJSON_AddNumberToObject(o, "locks_won", (double)sh->won);
	cJSON_AddNumberToObject(o, "locks_waited", (double)sh->waited);
	cJSON_AddNumberToObject(o, "takeovers", (double)sh->takeovers);
	cJSON_AddNumberToObject(o, "stored", (double)sh->stored);
	cJSON_AddNumberToObject(o, "foreign", (double)sh->foreign);
	cJSON_AddNumberToObject(o, "fallbacks", (double)sh->fallbacks);
	cJSON_AddNumberToObject(o, "errors", (double)sh->errors);
	cJSON_AddNumberToObject(o, "reconnects", (double)sh->reconnects);
	cJSON_AddNumberToObject(o, "following", (double)sh->nreaders);
	return o;
}

void
shared_metrics(const struct shared *sh, struct evbuffer *b)
{
	static const struct {
		const char	*name, *help;
		size_t		 off;
	} c[] = {
#define F(f) offsetof(struct shared, f)
		{ "hits", "Audio found in Redis or streamed from another "
		  "instance's synthesis.", F(hits) },
		{ "misses", "Audio not in Redis.", F(misses) },
		{ "locks_won", "Syntheses this instance did for the "
		  "cluster.", F(won) },
		{ "locks_waited", "Syntheses waited for on another "
		  "instance.", F(waited) },
		{ "takeovers", "Locks taken over from a holder that went "
		  "away.", F(takeovers) },
		{ "stored", "Audio stored in Redis.", F(stored) },
		{ "foreign", "Values under our keys that we did not write "
		  "(served as misses).", F(foreign) },
		{ "fallbacks", "Syntheses done alone because Redis could "
		  "not help.", F(fallbacks) },
		{ "errors", "Redis commands that failed or got no answer.",
		  F(errors) },
		{ "reconnects", "Connections to Redis made again after "
		  "losing it.", F(reconnects) },
#undef F
	};
	size_t	i;

	evbuffer_add_printf(b,
	    "# HELP ttsaccel_shared_up Whether the shared tier (Redis) is "
	    "connected.\n# TYPE ttsaccel_shared_up gauge\n"
	    "ttsaccel_shared_up %d\n", sh->state == SH_UP);
	for (i = 0; i < sizeof c / sizeof c[0]; i++)
		evbuffer_add_printf(b, "# HELP ttsaccel_shared_%s_total %s\n"
		    "# TYPE ttsaccel_shared_%s_total counter\n"
		    "ttsaccel_shared_%s_total %llu\n", c[i].name, c[i].help,
		    c[i].name, c[i].name, (unsigned long long)*(const uint64_t *)
		    ((const char *)sh + c[i].off));
}
