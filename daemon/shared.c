/*
 * shared: the cache tier several instances share, on Redis (spec §9).
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
 * An instance that loses the lock follows s:D with XREAD BLOCK on a
 * connection of its own (one per followed key, at most REDIS_FOLLOW_MAX;
 * past that a key waits for the holder's end with a look a second on the
 * command connection).  Each time the block runs out it tries to take
 * the lock: a holder that died lets it expire, and the first follower to
 * find it gone synthesises instead.  A follower that had already passed
 * on bytes of the dead holder's stream resumes: the new synthesis (its
 * own, or the new holder's stream) must begin with the same bytes,
 * checked, and only the rest is passed on; else the entry fails, as a
 * local synthesis that fails after its first bytes does.  A holder that
 * makes no progress for TTS_REQUEST_TIMEOUT and a lock's life is left
 * behind: the follower goes on alone.
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

#include <ctype.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "server.h"
#include "sha256.h"
#include "shared.h"
#include "util.h"

#define SH_TIMEOUT_MS	2000	/* an answer, or a connection, within */
#define SH_LOCK_MS	5000	/* a lock lives this long unless renewed */
#define SH_RENEW_MS	1500
#define SH_BLOCK_MS	1000	/* XREAD BLOCK; then the holder is checked */
#define SH_STREAM_MS	60000	/* a chunk stream outlives its last write */
#define SH_BACKOFF_MIN	100
#define SH_BACKOFF_MAX	5000
#define SH_TICK_MS	250
#define SH_ATTEMPTS	3	/* holders failing before we go alone */
#define SH_REPLIES_MAX	100000	/* events kept in the cluster's stream */

static const char env_magic[8] = { 't', 't', 's', 'a', 'c', 'c', 'e', 'l' };

/* Compare-and-delete and compare-and-renew of a lock. */
static const char unlock_lua[] =
    "if redis.call('get',KEYS[1])==ARGV[1] then "
    "return redis.call('del',KEYS[1]) else return 0 end";
static const char renew_lua[] =
    "if redis.call('get',KEYS[1])==ARGV[1] then "
    "return redis.call('pexpire',KEYS[1],ARGV[2]) else return 0 end";

/* What commands answer to: counted, so an answer that comes after its
 * owner left is dropped and the owner freed with the last one. */
struct sref {
	int	 refs;
	int	 dead;
	void	(*free)(struct sref *);
};

/* A connection: the command one, or a reader's. */
struct rconn {
	struct shared		*sh;
	redisAsyncContext	*ac;
	size_t			 npending;
	uint64_t		 t_progress;
	uint64_t		 limit;		/* usec an answer may take */
	struct rconn		*next, *prev;	/* readers */
};

struct scmd {
	struct shared	*sh;
	struct sref	*r;
	void		(*fn)(struct shared *, struct sref *, redisReply *);
};

#define SH_DOWN		0
#define SH_CONNECTING	1
#define SH_UP		2

struct shared {
	struct server		*srv;
	struct event_base	*base;
	struct shared_url	 url;
	char			*prefix;
	char			 id[17];	/* this instance, in lock tokens */
	unsigned long long	 ntokens;
	char			 addr[64];	/* host resolved */
	struct evdns_base	*dns;
	struct evdns_getaddrinfo_request *dnsreq;
	struct rconn		 cmd;
	struct rconn		*readers;
	size_t			 nreaders;
	int			 state;
	int			 logged_down;	/* the outage was logged */
	int			 ever_up;
	uint64_t		 since;		/* in this state since */
	char			 why[256];	/* of the last failure */
	long			 backoff_ms;
	struct event		*retry;
	struct event		*tick;
	/* figures */
	uint64_t		 hits, misses, foreign, won, waited, takeovers,
				 stored, errors, fallbacks, reconnects,
				 downs, followed;
};

struct shared_key {
	struct sref		 ref;		/* first */
	struct shared		*sh;
	int			 phase;
#define SK_LOOKUP	0	/* GET the audio */
#define SK_LOCK		1	/* SET NX the lock, GET the audio again */
#define SK_HOLD		2	/* ours: synthesising */
#define SK_FOLLOW	3	/* another instance's: reading its stream */
	int			 following;	/* the lock was tried from FOLLOW */
	unsigned char		 digest[SHA256_LEN];
	char			*akey, *lkey, *skey;
	void			(*cb)(void *, int, const void *, size_t);
	void			*arg;
	char			 token[48];	/* of our lock */
	char			 holder[48];	/* of the stream's writer */
	char			 last[48];	/* stream id read up to */
	size_t			 got;		/* bytes passed on */
	struct sha256		 hgot;		/* of the bytes passed on */
	int			 resync;	/* a new holder: its first got
						   bytes must be ours */
	size_t			 rpos;		/* of them seen */
	struct sha256		 hnew;		/* their digest so far */
	int			 won;		/* SET NX said OK */
	int			 lockless;	/* the lock does not expire */
	int			 attempts;	/* holders that failed */
	int			 lost;		/* our lock was taken from us */
	uint64_t		 t_data;	/* following: last progress */
	struct rconn		*rd;
	struct event		*renew;
	struct event		*park;		/* no reader free: wait */
};

struct shared_follow {
	struct sref		 ref;		/* first */
	struct shared		*sh;
	char			*rkey;
	void			(*cb)(void *, int, const char *, size_t);
	void			*arg;
	char			 last[48];
	int			 params;	/* the parameters were seen */
	uint64_t		 t_last;	/* when it last said something */
	struct rconn		*rd;
};

struct shared_clear {
	struct sref		 ref;		/* first */
	struct shared		*sh;
	void			(*cb)(void *, long long, const char *);
	void			*arg;
	char			*pattern;
	long long		 removed;
	int			 unlinks;	/* UNLINKs not yet answered */
	int			 scanned;	/* SCAN came back to cursor 0 */
};

static void	sh_connect(struct shared *);
static void	sh_lost(struct shared *, const char *);
static void	key_try_lock(struct shared_key *);
static void	key_follow(struct shared_key *);

/* --- the URL and the envelope (pure) ------------------------------------ */

static char *
pct_decode(const char *s, size_t n)
{
	char	*out = xmalloc(n + 1), *o = out;
	size_t	 i;
	int	 hi, lo;

	for (i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n &&
		    isxdigit((unsigned char)s[i + 1]) &&
		    isxdigit((unsigned char)s[i + 2])) {
			hi = isdigit((unsigned char)s[i + 1]) ? s[i + 1] - '0' :
			    tolower((unsigned char)s[i + 1]) - 'a' + 10;
			lo = isdigit((unsigned char)s[i + 2]) ? s[i + 2] - '0' :
			    tolower((unsigned char)s[i + 2]) - 'a' + 10;
			*o++ = (char)(hi << 4 | lo);
			i += 2;
		} else
			*o++ = s[i];
	}
	*o = '\0';
	return out;
}

void
shared_url_clear(struct shared_url *u)
{
	free(u->host);
	free(u->path);
	free(u->user);
	free(u->password);
	memset(u, 0, sizeof *u);
}

int
shared_url_parse(const char *url, struct shared_url *u, char **cause)
{
	const char	*p, *at, *end, *colon, *q, *errstr;
	long long	 ll;
	char		*tmp;

	memset(u, 0, sizeof *u);
	u->port = 6379;
	if (strncmp(url, "unix://", 7) == 0) {
		p = url + 7;
		if (*p != '/') {
			*cause = xstrdup("a unix:// URL needs an absolute "
			    "path: unix:///path/to/redis.sock[?db=N]"
			    "[&password=P]");
			return -1;
		}
		q = strchr(p, '?');
		u->path = q != NULL ? xstrndup(p, (size_t)(q - p)) :
		    xstrdup(p);
		/* ?db=N and ?password=P, in any order, joined by & */
		while (q != NULL) {
			q++;
			end = q + strcspn(q, "&");
			if (strncmp(q, "db=", 3) == 0) {
				tmp = xstrndup(q + 3, (size_t)(end - q - 3));
				if (parse_ll(tmp, 0, 1000000, &ll, &errstr) != 0) {
					*cause = xasprintf("database '%s' %s", tmp,
					    errstr);
					free(tmp);
					goto fail;
				}
				free(tmp);
				u->db = (int)ll;
			} else if (strncmp(q, "password=", 9) == 0) {
				free(u->password);
				u->password = pct_decode(q + 9,
				    (size_t)(end - q - 9));
			} else {
				*cause = xasprintf("'%.*s' is not db=N or "
				    "password=P", (int)(end - q), q);
				goto fail;
			}
			q = *end == '&' ? end : NULL;
		}
		return 0;
	}
	if (strncmp(url, "redis://", 8) != 0) {
		*cause = xstrdup("not redis://[:password@]host[:port][/db] "
		    "or unix:///path[?db=N][&password=P] (TLS is not "
		    "supported)");
		return -1;
	}
	p = url + 8;
	end = p + strcspn(p, "/");
	if ((at = memchr(p, '@', (size_t)(end - p))) != NULL) {
		/* Several @: the last one ends the credentials. */
		while ((q = memchr(at + 1, '@', (size_t)(end - at - 1))) !=
		    NULL)
			at = q;
		colon = memchr(p, ':', (size_t)(at - p));
		if (colon == NULL) {
			/* redis://password@host, as some clients accept */
			u->password = pct_decode(p, (size_t)(at - p));
		} else {
			if (colon > p)
				u->user = pct_decode(p, (size_t)(colon - p));
			u->password = pct_decode(colon + 1,
			    (size_t)(at - colon - 1));
		}
		p = at + 1;
	}
	if (*p == '[') {
		q = memchr(p, ']', (size_t)(end - p));
		if (q == NULL) {
			*cause = xstrdup("an IPv6 address without its ']'");
			goto fail;
		}
		u->host = xstrndup(p + 1, (size_t)(q - p - 1));
		p = q + 1;
	} else {
		q = p + strcspn(p, ":/");
		u->host = xstrndup(p, (size_t)(q - p));
		p = q;
	}
	if (u->host[0] == '\0') {
		*cause = xstrdup("no host");
		goto fail;
	}
	if (*p == ':') {
		tmp = xstrndup(p + 1, (size_t)(end - p - 1));
		if (parse_ll(tmp, 1, 65535, &ll, &errstr) != 0) {
			*cause = xasprintf("port '%s' %s", tmp, errstr);
			free(tmp);
			goto fail;
		}
		free(tmp);
		u->port = (int)ll;
	} else if (p != end) {
		*cause = xstrdup("junk after the host");
		goto fail;
	}
	if (*end == '/' && end[1] != '\0') {
		if (parse_ll(end + 1, 0, 1000000, &ll, &errstr) != 0) {
			*cause = xasprintf("database '%s' %s", end + 1, errstr);
			goto fail;
		}
		u->db = (int)ll;
	}
	return 0;
fail:
	shared_url_clear(u);
	return -1;
}

void
shared_env_pack(unsigned char *out, const unsigned char digest[SHA256_LEN],
    const void *data, size_t len)
{
	uint64_t	n = len;
	int		i;

	memcpy(out, env_magic, 8);
	out[8] = 1;		/* version */
	out[9] = out[10] = out[11] = 0;
	memcpy(out + 12, digest, SHA256_LEN);
	for (i = 0; i < 8; i++)
		out[44 + i] = (unsigned char)(n >> (56 - 8 * i));
	if (len > 0)
		memcpy(out + SHARED_ENV_HDR, data, len);
}

int
shared_env_parse(const void *buf, size_t len,
    const unsigned char digest[SHA256_LEN], const unsigned char **data,
    size_t *dlen)
{
	const unsigned char	*p = buf;
	uint64_t		 n = 0;
	int			 i;

	if (len < SHARED_ENV_HDR || memcmp(p, env_magic, 8) != 0 ||
	    p[8] != 1 || p[9] != 0 || p[10] != 0 || p[11] != 0 ||
	    memcmp(p + 12, digest, SHA256_LEN) != 0)
		return -1;
	for (i = 0; i < 8; i++)
		n = n << 8 | p[44 + i];
	if (n == 0 || n != len - SHARED_ENV_HDR)
		return -1;	/* empty, cut short or with a tail */
	*data = p + SHARED_ENV_HDR;
	*dlen = (size_t)n;
	return 0;
}

/* --- connections and commands ------------------------------------------- */

static void
sref_unref(struct sref *r)
{
	if (r != NULL && --r->refs == 0)
		r->free(r);
}

/* A Redis name: the prefix, a letter and a name. */
static char *
rname(struct shared *sh, const char *kind, const char *name)
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
	sref_unref(sc->r);
	free(sc);
}

/* Send a command on c; fn(sh, r, reply) gets its answer (NULL if the
 * connection went).  -1 if it cannot be sent. */
static int
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
static int
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
static struct rconn *
reader_new(struct shared *sh)
{
	struct rconn	*c;

	if (sh->state != SH_UP ||
	    sh->nreaders >= (size_t)sh->srv->cf->redis_follow_max)
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

static void
reader_free(struct rconn *c)
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
shared_new(struct server *srv, char **cause)
{
	struct shared	*sh;
	unsigned char	 rnd[8];
	struct timeval	 tv = { 0, SH_TICK_MS * 1000 };
	int		 i;

	sh = xcalloc(1, sizeof *sh);
	if (shared_url_parse(srv->cf->redis_url, &sh->url, cause) != 0) {
		free(sh);
		return NULL;
	}
	sh->srv = srv;
	sh->base = srv->base;
	sh->prefix = xstrdup(srv->cf->redis_prefix != NULL ?
	    srv->cf->redis_prefix : "ttsaccel:");
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
		reader_free(sh->readers);
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
static int
entry_of(const redisReply *e, const char **id, const redisReply **f)
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

static const redisReply *
field(const redisReply *f, const char *name)
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
static const redisReply *
xread_entries(const redisReply *rep)
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

/* --- keys --------------------------------------------------------------- */

static void
key_free(struct sref *r)
{
	struct shared_key	*k = (struct shared_key *)r;

	free(k->akey);
	free(k->lkey);
	free(k->skey);
	free(k);
}

/* No more callbacks; the handle goes with its last answer. */
static void
key_kill(struct shared_key *k)
{
	k->ref.dead = 1;
	if (k->renew != NULL) {
		event_free(k->renew);
		k->renew = NULL;
	}
	if (k->park != NULL) {
		event_free(k->park);
		k->park = NULL;
	}
	reader_free(k->rd);
	k->rd = NULL;
	sref_unref(&k->ref);
}

static void
key_final(struct shared_key *k, int ev, const void *data, size_t len)
{
	void	(*cb)(void *, int, const void *, size_t) = k->cb;
	void	*arg = k->arg;

	k->ref.refs++;		/* held across the callback */
	key_kill(k);
	cb(arg, ev, data, len);
	sref_unref(&k->ref);
}

/* Nothing more from the tier for this key: alone from here (resuming
 * after the bytes already passed on, if any). */
static void
key_give_up(struct shared_key *k, const char *why)
{
	log_debug("shared: %.12s: %s", k->lkey + strlen(k->sh->prefix) + 2,
	    why);
	k->sh->fallbacks++;
	key_final(k, k->got == 0 ? SHARED_LOCAL : SHARED_RESUME, why,
	    strlen(why));
}

/* Pass on bytes of the holder's synthesis. */
static void
key_data(struct shared_key *k, const void *d, size_t len)
{
	k->t_data = now_usec();
	k->got += len;
	sha256_update(&k->hgot, d, len);
	k->cb(k->arg, SHARED_DATA, d, len);
}

/* Do the first rpos bytes seen (digest h) equal those passed on? */
static int
key_same(struct shared_key *k, struct sha256 *h)
{
	struct sha256	c = k->hgot;
	unsigned char	a[SHA256_LEN], b[SHA256_LEN];

	sha256_final(&c, a);
	sha256_final(h, b);
	return memcmp(a, b, sizeof a) == 0;
}

/*
 * Bytes of a holder's stream or stored audio, from its start, after we
 * passed on got bytes of another's: the first got are checked to be the
 * same (a backend that says the same text alike), the rest passed on.
 * 0, or -1 after a final SHARED_FAILED.
 */
static int
key_resync(struct shared_key *k, const unsigned char *d, size_t len)
{
	size_t	need = k->got - k->rpos, n = len < need ? len : need;

	k->t_data = now_usec();
	sha256_update(&k->hnew, d, n);
	k->rpos += n;
	if (k->rpos < k->got)
		return 0;
	if (!key_same(k, &k->hnew)) {
		key_final(k, SHARED_FAILED, "another instance's audio differs "
		    "from what was sent", 50);
		return -1;
	}
	k->resync = 0;
	if (len > n)
		key_data(k, d + n, len - n);
	return 0;
}

static void
key_unlock(struct shared_key *k)
{
	const char	*argv[5] = { "EVAL", unlock_lua, "1", k->lkey,
			    k->token };

	sh_sendv(&k->sh->cmd, NULL, NULL, 5, argv);
}

static void
renew_cb(struct shared *sh, struct sref *r, redisReply *rep)
{
	struct shared_key	*k = (struct shared_key *)r;

	if (rep != NULL && rep->type == REDIS_REPLY_INTEGER &&
	    rep->integer == 0 && !k->lost) {
		log_warn("shared: a lock expired while its synthesis ran "
		    "(Redis too slow?); not mirrored any further");
		k->lost = 1;
	}
}

static void
renew_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct shared_key	*k = arg;
	char			 ms[16];
	const char		*argv[6] = { "EVAL", renew_lua, "1", k->lkey,
				    k->token, ms };

	snprintf(ms, sizeof ms, "%d", SH_LOCK_MS);
	sh_sendv(&k->sh->cmd, &k->ref, renew_cb, 6, argv);
}

/* The lock is ours: synthesise, renewing it meanwhile. */
static void
key_hold(struct shared_key *k)
{
	struct shared		*sh = k->sh;
	struct timeval		 tv = { SH_RENEW_MS / 1000,
				    (SH_RENEW_MS % 1000) * 1000 };
	const char		*argv[2] = { "DEL", k->skey };

	k->phase = SK_HOLD;
	sh->won++;
	if (k->following)
		sh->takeovers++;
	reader_free(k->rd);
	k->rd = NULL;
	/* A dead holder's chunks are not ours to follow. */
	sh_sendv(&sh->cmd, NULL, NULL, 2, argv);
	k->renew = event_new(sh->base, -1, EV_PERSIST, renew_timer_cb, k);
	evtimer_add(k->renew, &tv);
	k->cb(k->arg, SHARED_WON, NULL, 0);
}

/* The audio's answer: 1 and passed on if it is ours and complete. */
static int
key_audio(struct shared_key *k, redisReply *rep)
{
	const unsigned char	*d;
	size_t			 len;

	if (rep->type == REDIS_REPLY_NIL)
		return 0;
	if ((rep->type != REDIS_REPLY_STRING ||
	    shared_env_parse(rep->str, rep->len, k->digest, &d, &len) != 0)) {
		if (rep->type != REDIS_REPLY_ERROR ||
		    strncmp(rep->str, "WRONGTYPE", 9) == 0) {
			k->sh->foreign++;
			log_debug("shared: a value not ours under %s: a miss",
			    k->akey);
		}
		return 0;
	}
	k->sh->hits++;
	key_final(k, SHARED_HIT, d, len);
	return 1;
}

static void
lookup_cb(struct shared *sh, struct sref *r, redisReply *rep)
{
	struct shared_key	*k = (struct shared_key *)r;

	if (rep == NULL) {
		key_give_up(k, "Redis went away");
		return;
	}
	if (key_audio(k, rep))
		return;
	sh->misses++;
	key_try_lock(k);
}

static void
lock_cb(struct shared *sh, struct sref *r, redisReply *rep)
{
	struct shared_key	*k = (struct shared_key *)r;

	k->won = rep != NULL && rep->type == REDIS_REPLY_STATUS &&
	    strcmp(rep->str, "OK") == 0;
}

static void
lock_pttl_cb(struct shared *sh, struct sref *r, redisReply *rep)
{
	struct shared_key	*k = (struct shared_key *)r;

	/* A lock without an expiry is not one of ours. */
	k->lockless = rep != NULL && rep->type == REDIS_REPLY_INTEGER &&
	    rep->integer == -1;
}

/* The last answer of key_try_lock's pipeline: the audio again. */
static void
lock_audio_cb(struct shared *sh, struct sref *r, redisReply *rep)
{
	struct shared_key	*k = (struct shared_key *)r;
	const unsigned char	*d;
	size_t			 len;

	if (rep == NULL) {
		key_give_up(k, "Redis went away");
		return;
	}
	if (rep->type == REDIS_REPLY_STRING &&
	    shared_env_parse(rep->str, rep->len, k->digest, &d, &len) == 0) {
		/* Stored since our first look: use it. */
		if (k->won)
			key_unlock(k);
		if (k->got == 0) {
			key_audio(k, rep);
			return;
		}
		/* After part of a stream: the rest of it, if it agrees. */
		sha256_init(&k->hnew);
		k->rpos = 0;
		k->ref.refs++;
		if (len >= k->got && key_resync(k, d, len) == 0 &&
		    !k->ref.dead) {
			sh->hits++;
			key_final(k, SHARED_DONE, NULL, 0);
		} else if (!k->ref.dead)
			key_final(k, SHARED_FAILED, "the audio stored is "
			    "shorter than what was sent", 42);
		sref_unref(&k->ref);
		return;
	}
	if (k->won) {
		/* Ours, after part of a dead holder's stream or none. */
		key_hold(k);
		return;
	}
	if (k->lockless) {
		key_give_up(k, "a value not ours under the lock key");
		return;
	}
	if (!k->following)
		sh->waited++;
	key_follow(k);
}

/* Try to take the lock; look for the audio once more at once. */
static void
key_try_lock(struct shared_key *k)
{
	struct shared	*sh = k->sh;
	char		 ms[16];
	const char	*set[6] = { "SET", k->lkey, k->token, "NX", "PX", ms };
	const char	*pttl[2] = { "PTTL", k->lkey };
	const char	*get[2] = { "GET", k->akey };

	k->phase = SK_LOCK;
	k->won = 0;
	k->lockless = 0;
	snprintf(ms, sizeof ms, "%d", SH_LOCK_MS);
	if (sh_sendv(&sh->cmd, &k->ref, lock_cb, 6, set) != 0 ||
	    sh_sendv(&sh->cmd, &k->ref, lock_pttl_cb, 2, pttl) != 0 ||
	    sh_sendv(&sh->cmd, &k->ref, lock_audio_cb, 2, get) != 0)
		key_give_up(k, "Redis is down");
}

static void
xread_cb(struct shared *sh, struct sref *r, redisReply *rep)
{
	struct shared_key	*k = (struct shared_key *)r;
	const redisReply	*es, *f, *t, *d, *e, *n;
	const char		*id, *errstr;
	long long		 total;
	size_t			 i;

	if (rep == NULL) {
		key_give_up(k, "Redis went away");
		return;
	}
	if (rep->type == REDIS_REPLY_NIL) {
		/* A holder alive but stuck (its endpoints down, its queue
		 * long) must not hold us longer than a backend request may
		 * take: we go on alone. */
		if (now_usec() - k->t_data > (uint64_t)(sh->srv->cf->
		    tts_request_timeout * 1000 + SH_LOCK_MS) * 1000) {
			key_give_up(k, "the instance synthesising it makes no "
			    "progress");
			return;
		}
		/* Nothing for a while: is the holder alive? */
		k->following = 1;
		key_try_lock(k);
		return;
	}
	if ((es = xread_entries(rep)) == NULL) {
		sh->foreign++;
		key_give_up(k, "a stream not ours");
		return;
	}
	for (i = 0; i < es->elements; i++) {
		if (entry_of(es->element[i], &id, &f) != 0 ||
		    (t = field(f, "t")) == NULL || t->len >= sizeof k->holder) {
			sh->foreign++;
			key_give_up(k, "a stream entry not ours");
			return;
		}
		snprintf(k->last, sizeof k->last, "%s", id);
		if (strcmp(k->holder, t->str) != 0) {
			/* Another holder: it starts from the start. */
			snprintf(k->holder, sizeof k->holder, "%s", t->str);
			k->t_data = now_usec();
			if (k->got > 0) {
				k->resync = 1;
				k->rpos = 0;
				sha256_init(&k->hnew);
			}
		}
		if ((d = field(f, "d")) != NULL && d->len > 0) {
			if (k->resync) {
				if (key_resync(k, (const unsigned char *)d->str,
				    d->len) != 0)
					return;
			} else
				key_data(k, d->str, d->len);
			if (k->ref.dead)
				return;
		}
		if ((e = field(f, "e")) == NULL)
			continue;
		if (strcmp(e->str, "ok") == 0) {
			n = field(f, "n");
			if (k->resync || n == NULL || parse_ll(n->str, 0,
			    LLONG_MAX, &total, &errstr) != 0 ||
			    (size_t)total != k->got) {
				key_final(k, SHARED_FAILED, "the stream of "
				    "chunks is incomplete", 34);
				return;
			}
			sh->hits++;
			key_final(k, SHARED_DONE, NULL, 0);
			return;
		}
		/* The holder failed: another try (resuming, if bytes were
		 * passed on), here or on whoever takes the lock. */
		if (++k->attempts >= SH_ATTEMPTS) {
			key_give_up(k, "failed on other instances");
			return;
		}
		k->following = 0;
		key_try_lock(k);
		return;
	}
	key_follow(k);
}

static const struct timeval park_tv = { SH_BLOCK_MS / 1000,
    (SH_BLOCK_MS % 1000) * 1000 };

/* A parked key's look: stored yet, or the lock free? */
static void
park_cb(evutil_socket_t fd, short what, void *arg)
{
	struct shared_key	*k = arg;
	struct shared		*sh = k->sh;

	if (now_usec() - k->t_data > (uint64_t)(sh->srv->cf->
	    tts_request_timeout * 1000 + SH_LOCK_MS) * 1000) {
		key_give_up(k, "the instance synthesising it makes no "
		    "progress");
		return;
	}
	k->following = 1;
	key_try_lock(k);
}

/* Read the holder's stream from where we are, blocking a while. */
static void
key_follow(struct shared_key *k)
{
	struct shared	*sh = k->sh;
	char		 block[16];
	const char	*argv[7] = { "XREAD", "BLOCK", block, "STREAMS",
			    k->skey, k->last, NULL };

	k->phase = SK_FOLLOW;
	if (k->t_data == 0)
		k->t_data = now_usec();
	if (k->rd == NULL) {
		if (sh->state != SH_UP) {
			key_give_up(k, "Redis is down");
			return;
		}
		if ((k->rd = reader_new(sh)) == NULL) {
			/* Every reader busy: wait for the holder's end on the
			 * command connection instead, a look a second, rather
			 * than synthesise it twice. */
			if (k->park == NULL)
				k->park = evtimer_new(sh->base, park_cb, k);
			evtimer_add(k->park, &park_tv);
			return;
		}
		sh->followed++;
	}
	snprintf(block, sizeof block, "%d", SH_BLOCK_MS);
	if (sh_sendv(k->rd, &k->ref, xread_cb, 6, argv) != 0)
		key_give_up(k, "Redis is down");
}

struct shared_key *
shared_obtain(struct shared *sh, const char *key,
    void (*cb)(void *, int, const void *, size_t), void *arg)
{
	struct shared_key	*k;
	char			 hex[2 * SHA256_LEN + 1];
	const char		*argv[2];
	int			 i;

	if (sh == NULL)
		return NULL;
	if (sh->state != SH_UP) {
		sh->fallbacks++;
		return NULL;
	}
	k = xcalloc(1, sizeof *k);
	k->ref.refs = 1;
	k->ref.free = key_free;
	k->sh = sh;
	k->cb = cb;
	k->arg = arg;
	sha256(key, strlen(key), k->digest);
	for (i = 0; i < SHA256_LEN; i++)
		snprintf(hex + 2 * i, 3, "%02x", k->digest[i]);
	k->akey = rname(sh, "a", hex);
	k->lkey = rname(sh, "l", hex);
	k->skey = rname(sh, "s", hex);
	snprintf(k->token, sizeof k->token, "%s-%llu", sh->id, ++sh->ntokens);
	snprintf(k->last, sizeof k->last, "0");
	sha256_init(&k->hgot);
	k->phase = SK_LOOKUP;
	argv[0] = "GET";
	argv[1] = k->akey;
	if (sh_sendv(&sh->cmd, &k->ref, lookup_cb, 2, argv) != 0) {
		sh->fallbacks++;
		k->ref.dead = 1;
		sref_unref(&k->ref);
		return NULL;
	}
	return k;
}

void
shared_chunk(struct shared_key *k, const void *data, size_t len)
{
	char		 ms[16];
	const char	*argv[7] = { "XADD", k->skey, "*", "t", k->token, "d",
			    data };
	size_t		 lens[7];
	const char	*exp[3] = { "PEXPIRE", k->skey, ms };
	int		 i;

	if (k->phase != SK_HOLD || k->lost || len == 0)
		return;
	for (i = 0; i < 6; i++)
		lens[i] = strlen(argv[i]);
	lens[6] = len;
	snprintf(ms, sizeof ms, "%d", SH_STREAM_MS);
	sh_send(&k->sh->cmd, NULL, NULL, 7, argv, lens);
	sh_sendv(&k->sh->cmd, NULL, NULL, 3, exp);
}

void
shared_end(struct shared_key *k, int ok, const void *data, size_t len)
{
	struct shared	*sh = k->sh;
	unsigned char	*env;
	char		 ttl[32], n[32], ms[16];
	const char	*set[5] = { "SET", k->akey, NULL, "PX", ttl };
	size_t		 setl[5];
	const char	*end[9] = { "XADD", k->skey, "*", "t", k->token, "e",
			    ok ? "ok" : "fail", "n", n };
	const char	*exp[3] = { "PEXPIRE", k->skey, ms };
	int		 i;

	if (k->phase != SK_HOLD) {
		shared_cancel(k);
		return;
	}
	if (ok && len > 0) {
		env = xmalloc(SHARED_ENV_HDR + len);
		shared_env_pack(env, k->digest, data, len);
		snprintf(ttl, sizeof ttl, "%lld",
		    sh->srv->cf->cache_ttl * 1000);
		set[2] = (const char *)env;
		for (i = 0; i < 5; i++)
			setl[i] = i == 2 ? SHARED_ENV_HDR + len :
			    strlen(set[i]);
		if (sh_send(&sh->cmd, NULL, NULL, 5, set, setl) == 0)
			sh->stored++;
		free(env);
	}
	if (!k->lost) {
		snprintf(n, sizeof n, "%zu", len);
		snprintf(ms, sizeof ms, "%d", SH_STREAM_MS);
		sh_sendv(&sh->cmd, NULL, NULL, 9, end);
		sh_sendv(&sh->cmd, NULL, NULL, 3, exp);
		key_unlock(k);
	}
	key_kill(k);
}

void
shared_cancel(struct shared_key *k)
{
	if (k == NULL)
		return;
	if (k->phase == SK_HOLD && !k->lost) {
		/* Tell the followers at once rather than at the lock's end. */
		const char	*end[7] = { "XADD", k->skey, "*", "t",
				    k->token, "e", "fail" };

		sh_sendv(&k->sh->cmd, NULL, NULL, 7, end);
		key_unlock(k);
	}
	key_kill(k);
}

/* --- replies ------------------------------------------------------------ */

/*
 * One event of a reply: field f = v, and its text x since the last event
 * (if any), to the reply's own stream (its history) and to the cluster's
 * stream of every reply (what the other instances follow, one connection
 * each).
 */
static void
rstream_add(struct shared *sh, const char *id, const char *f, const char *v,
    const char *x, size_t xlen)
{
	char		*rkey, *all, ttl[32], max[16];
	const char	*add[12];
	size_t		 lens[12];
	const char	*exp[3];
	int		 n, i, j;

	if (sh == NULL || sh->state != SH_UP)
		return;
	rkey = rname(sh, "r", id);
	all = xasprintf("%sreplies", sh->prefix);
	snprintf(ttl, sizeof ttl, "%lld", sh->srv->cf->cache_ttl * 1000);
	snprintf(max, sizeof max, "%d", SH_REPLIES_MAX);
	/* XADD key [MAXLEN ~ N] * [r id] f v [x text] */
	for (i = 0; i < 2; i++) {
		n = 0;
		add[n++] = "XADD";
		add[n++] = i == 0 ? rkey : all;
		if (i == 1) {
			add[n++] = "MAXLEN";
			add[n++] = "~";
			add[n++] = max;
		}
		add[n++] = "*";
		if (i == 1) {
			add[n++] = "r";
			add[n++] = id;
		}
		add[n++] = f;
		add[n++] = v;
		for (j = 0; j < n; j++)
			lens[j] = strlen(add[j]);
		if (xlen > 0) {
			add[n] = "x";
			lens[n++] = 1;
			add[n] = x;
			lens[n++] = xlen;
		}
		sh_send(&sh->cmd, NULL, NULL, n, add, lens);
		exp[0] = "PEXPIRE";
		exp[1] = add[1];
		exp[2] = ttl;
		sh_sendv(&sh->cmd, NULL, NULL, 3, exp);
	}
	free(all);
	free(rkey);
}

void
shared_reply_begin(struct shared *sh, const char *id, const char *params)
{
	rstream_add(sh, id, "p", params, NULL, 0);
}

void
shared_reply_segment(struct shared *sh, const char *id, const char *text,
    const char *raw, size_t rawlen)
{
	rstream_add(sh, id, "s", text, raw, rawlen);
}

void
shared_reply_end(struct shared *sh, const char *id, int ok, const char *raw,
    size_t rawlen)
{
	rstream_add(sh, id, "e", ok ? "ok" : "cut", raw, rawlen);
}

static void
follow_free(struct sref *r)
{
	struct shared_follow	*f = (struct shared_follow *)r;

	free(f->rkey);
	free(f);
}

static void
follow_kill(struct shared_follow *f)
{
	f->ref.dead = 1;
	reader_free(f->rd);
	f->rd = NULL;
	sref_unref(&f->ref);
}

static void
follow_final(struct shared_follow *f, int ev, const char *v)
{
	void	(*cb)(void *, int, const char *, size_t) = f->cb;
	void	*arg = f->arg;

	f->ref.refs++;
	follow_kill(f);
	cb(arg, ev, v, v != NULL ? strlen(v) : 0);
	sref_unref(&f->ref);
}

/* Pass entries on; 1 if the reply ended (or the follow did). */
static int
follow_entries(struct shared_follow *f, const redisReply *es)
{
	const redisReply	*fl, *v;
	const char		*id;
	size_t			 i;

	for (i = 0; i < es->elements; i++) {
		if (entry_of(es->element[i], &id, &fl) != 0) {
			f->sh->foreign++;
			follow_final(f, SHARED_R_ERROR, "a reply not ours");
			return 1;
		}
		snprintf(f->last, sizeof f->last, "%s", id);
		f->t_last = now_usec();
		if ((v = field(fl, "x")) != NULL && f->params) {
			f->cb(f->arg, SHARED_R_TEXT, v->str, v->len);
			if (f->ref.dead)
				return 1;
		}
		if ((v = field(fl, "p")) != NULL) {
			f->params = 1;
			f->cb(f->arg, SHARED_R_PARAMS, v->str, v->len);
		} else if ((v = field(fl, "s")) != NULL && f->params)
			f->cb(f->arg, SHARED_R_SEG, v->str, v->len);
		else if ((v = field(fl, "e")) != NULL) {
			follow_final(f, SHARED_R_END, strcmp(v->str, "ok") ==
			    0 ? "ok" : "cut");
			return 1;
		}
		if (f->ref.dead)
			return 1;
	}
	return 0;
}

static void	follow_read(struct shared_follow *);

static void
follow_xread_cb(struct shared *sh, struct sref *r, redisReply *rep)
{
	struct shared_follow	*f = (struct shared_follow *)r;
	const redisReply	*es;
	uint64_t		 idle;

	if (rep == NULL || rep->type == REDIS_REPLY_ERROR) {
		follow_final(f, SHARED_R_END, "cut");
		return;
	}
	if (rep->type == REDIS_REPLY_NIL) {
		/* A writer that says nothing for as long as an upstream
		 * may take has gone: the reply is cut there. */
		idle = (uint64_t)(sh->srv->cf->upstream_timeout + 5) * 1000000;
		if (now_usec() - f->t_last > idle) {
			follow_final(f, SHARED_R_END, "cut");
			return;
		}
	} else if ((es = xread_entries(rep)) == NULL) {
		follow_final(f, SHARED_R_END, "cut");
		return;
	} else if (follow_entries(f, es))
		return;
	follow_read(f);
}

static void
follow_read(struct shared_follow *f)
{
	struct shared	*sh = f->sh;
	char		 block[16];
	const char	*argv[6] = { "XREAD", "BLOCK", block, "STREAMS",
			    f->rkey, f->last };

	if (f->rd == NULL && (f->rd = reader_new(sh)) == NULL) {
		follow_final(f, SHARED_R_END, "cut");
		return;
	}
	snprintf(block, sizeof block, "%d", SH_BLOCK_MS);
	if (sh_sendv(f->rd, &f->ref, follow_xread_cb, 6, argv) != 0)
		follow_final(f, SHARED_R_END, "cut");
}

static void
follow_range_cb(struct shared *sh, struct sref *r, redisReply *rep)
{
	struct shared_follow	*f = (struct shared_follow *)r;

	if (rep == NULL) {
		follow_final(f, SHARED_R_ERROR, "Redis went away");
		return;
	}
	if (rep->type == REDIS_REPLY_ERROR) {
		if (strncmp(rep->str, "WRONGTYPE", 9) == 0)
			sh->foreign++;
		follow_final(f, SHARED_R_NONE, NULL);
		return;
	}
	if (rep->type != REDIS_REPLY_ARRAY) {
		follow_final(f, SHARED_R_ERROR, "an answer not understood");
		return;
	}
	if (rep->elements == 0) {
		follow_final(f, SHARED_R_NONE, NULL);
		return;
	}
	if (follow_entries(f, rep))
		return;
	if (!f->params) {
		follow_final(f, SHARED_R_NONE, NULL);
		return;
	}
	f->cb(f->arg, SHARED_R_CAUGHT, NULL, 0);
	if (!f->ref.dead)
		follow_read(f);
}

struct shared_follow *
shared_reply_follow(struct shared *sh, const char *id,
    void (*cb)(void *, int, const char *, size_t), void *arg)
{
	struct shared_follow	*f;
	const char		*argv[4];

	if (sh == NULL || sh->state != SH_UP)
		return NULL;
	f = xcalloc(1, sizeof *f);
	f->ref.refs = 1;
	f->ref.free = follow_free;
	f->sh = sh;
	f->cb = cb;
	f->arg = arg;
	f->rkey = rname(sh, "r", id);
	f->t_last = now_usec();
	snprintf(f->last, sizeof f->last, "0");
	argv[0] = "XRANGE";
	argv[1] = f->rkey;
	argv[2] = "-";
	argv[3] = "+";
	if (sh_sendv(&sh->cmd, &f->ref, follow_range_cb, 4, argv) != 0) {
		f->ref.dead = 1;
		sref_unref(&f->ref);
		return NULL;
	}
	return f;
}

void
shared_unfollow(struct shared_follow *f)
{
	if (f != NULL)
		follow_kill(f);
}

/* --- every reply of the cluster ----------------------------------------- */

struct shared_watch {
	struct sref		 ref;		/* first */
	struct shared		*sh;
	char			*key;
	void			(*cb)(void *, const char *, int, const char *,
				    size_t);
	void			*arg;
	char			 last[48];
	struct rconn		*rd;
};

static void
watch_free(struct sref *r)
{
	struct shared_watch	*w = (struct shared_watch *)r;

	free(w->key);
	free(w);
}

static void
watch_kill(struct shared_watch *w)
{
	w->ref.dead = 1;
	reader_free(w->rd);
	w->rd = NULL;
	sref_unref(&w->ref);
}

static void
watch_fail(struct shared_watch *w, const char *why)
{
	void	(*cb)(void *, const char *, int, const char *, size_t) = w->cb;
	void	*arg = w->arg;

	w->ref.refs++;
	watch_kill(w);
	cb(arg, NULL, SHARED_R_ERROR, why, strlen(why));
	sref_unref(&w->ref);
}

static void	watch_read(struct shared_watch *);

static void
watch_xread_cb(struct shared *sh, struct sref *r, redisReply *rep)
{
	struct shared_watch	*w = (struct shared_watch *)r;
	const redisReply	*es, *fl, *rid, *v;
	const char		*id;
	size_t			 i;

	if (rep == NULL || rep->type == REDIS_REPLY_ERROR) {
		watch_fail(w, rep == NULL ? "Redis went away" : rep->str);
		return;
	}
	if (rep->type != REDIS_REPLY_NIL) {
		if ((es = xread_entries(rep)) == NULL) {
			watch_fail(w, "a stream not ours");
			return;
		}
		for (i = 0; i < es->elements && !w->ref.dead; i++) {
			if (entry_of(es->element[i], &id, &fl) != 0)
				continue;
			snprintf(w->last, sizeof w->last, "%s", id);
			if ((rid = field(fl, "r")) == NULL || rid->len == 0 ||
			    rid->len >= 64)
				continue;
			if ((v = field(fl, "x")) != NULL)
				w->cb(w->arg, rid->str, SHARED_R_TEXT, v->str,
				    v->len);
			if (w->ref.dead)
				break;
			if ((v = field(fl, "p")) != NULL)
				w->cb(w->arg, rid->str, SHARED_R_PARAMS, v->str,
				    v->len);
			else if ((v = field(fl, "s")) != NULL)
				w->cb(w->arg, rid->str, SHARED_R_SEG, v->str,
				    v->len);
			else if ((v = field(fl, "e")) != NULL)
				w->cb(w->arg, rid->str, SHARED_R_END,
				    strcmp(v->str, "ok") == 0 ? "ok" : "cut",
				    2 + (strcmp(v->str, "ok") != 0));
		}
		if (w->ref.dead)
			return;
	}
	watch_read(w);
}

static void
watch_read(struct shared_watch *w)
{
	char		 block[16];
	const char	*argv[8] = { "XREAD", "COUNT", "1000", "BLOCK", block,
			    "STREAMS", w->key, w->last };

	if (w->rd == NULL && (w->rd = reader_new(w->sh)) == NULL) {
		watch_fail(w, "Redis is down");
		return;
	}
	snprintf(block, sizeof block, "%d", SH_BLOCK_MS);
	if (sh_sendv(w->rd, &w->ref, watch_xread_cb, 8, argv) != 0)
		watch_fail(w, "Redis is down");
}

/* Where the cluster's stream ends now: followed from there. */
static void
watch_last_cb(struct shared *sh, struct sref *r, redisReply *rep)
{
	struct shared_watch	*w = (struct shared_watch *)r;
	const redisReply	*fl;
	const char		*id;

	if (rep == NULL || rep->type != REDIS_REPLY_ARRAY) {
		watch_fail(w, rep == NULL ? "Redis went away" :
		    rep->type == REDIS_REPLY_ERROR ? rep->str :
		    "an answer not understood");
		return;
	}
	if (rep->elements > 0 && entry_of(rep->element[0], &id, &fl) == 0)
		snprintf(w->last, sizeof w->last, "%s", id);
	watch_read(w);
}

struct shared_watch *
shared_replies_watch(struct shared *sh,
    void (*cb)(void *, const char *, int, const char *, size_t), void *arg)
{
	struct shared_watch	*w;
	const char		*argv[6] = { "XREVRANGE", NULL, "+", "-",
				    "COUNT", "1" };

	if (sh == NULL || sh->state != SH_UP)
		return NULL;
	w = xcalloc(1, sizeof *w);
	w->ref.refs = 1;
	w->ref.free = watch_free;
	w->sh = sh;
	w->cb = cb;
	w->arg = arg;
	w->key = xasprintf("%sreplies", sh->prefix);
	snprintf(w->last, sizeof w->last, "0-0");
	argv[1] = w->key;
	if (sh_sendv(&sh->cmd, &w->ref, watch_last_cb, 6, argv) != 0) {
		w->ref.dead = 1;
		sref_unref(&w->ref);
		return NULL;
	}
	return w;
}

void
shared_unwatch(struct shared_watch *w)
{
	if (w != NULL && !w->ref.dead)
		watch_kill(w);
}

/* --- clearing ----------------------------------------------------------- */

static void
clear_free(struct sref *r)
{
	struct shared_clear	*c = (struct shared_clear *)r;

	free(c->pattern);
	free(c);
}

static void
clear_final(struct shared_clear *c, const char *err)
{
	c->ref.dead = 1;
	c->cb(c->arg, c->removed, err);
	sref_unref(&c->ref);
}

static void	clear_scan(struct shared_clear *, const char *);

static void
unlink_cb(struct shared *sh, struct sref *r, redisReply *rep)
{
	struct shared_clear	*c = (struct shared_clear *)r;

	c->unlinks--;
	if (rep == NULL || rep->type != REDIS_REPLY_INTEGER) {
		clear_final(c, rep == NULL ? "Redis went away" : rep->type ==
		    REDIS_REPLY_ERROR ? rep->str : "UNLINK not understood");
		return;
	}
	c->removed += rep->integer;
	if (c->scanned && c->unlinks == 0)
		clear_final(c, NULL);
}

static void
scan_cb(struct shared *sh, struct sref *r, redisReply *rep)
{
	struct shared_clear	*c = (struct shared_clear *)r;
	const redisReply	*keys;
	const char		**argv;
	size_t			*lens, i;

	if (rep == NULL || rep->type != REDIS_REPLY_ARRAY ||
	    rep->elements != 2 || rep->element[0]->type != REDIS_REPLY_STRING ||
	    rep->element[1]->type != REDIS_REPLY_ARRAY) {
		clear_final(c, rep == NULL ? "Redis went away" : rep->type ==
		    REDIS_REPLY_ERROR ? rep->str : "SCAN not understood");
		return;
	}
	keys = rep->element[1];
	if (keys->elements > 0) {
		argv = xcalloc(keys->elements + 1, sizeof *argv);
		lens = xcalloc(keys->elements + 1, sizeof *lens);
		argv[0] = "UNLINK";
		lens[0] = 6;
		for (i = 0; i < keys->elements; i++) {
			argv[i + 1] = keys->element[i]->str;
			lens[i + 1] = keys->element[i]->len;
		}
		if (sh_send(&sh->cmd, &c->ref, unlink_cb,
		    (int)keys->elements + 1, argv, lens) == 0)
			c->unlinks++;
		free(argv);
		free(lens);
	}
	if (strcmp(rep->element[0]->str, "0") != 0) {
		clear_scan(c, rep->element[0]->str);
		return;
	}
	c->scanned = 1;
	if (c->unlinks == 0)
		clear_final(c, NULL);
}

static void
clear_scan(struct shared_clear *c, const char *cursor)
{
	const char	*argv[6] = { "SCAN", cursor, "MATCH", c->pattern,
			    "COUNT", "1000" };

	if (sh_sendv(&c->sh->cmd, &c->ref, scan_cb, 6, argv) != 0)
		clear_final(c, "Redis is down");
}

struct shared_clear *
shared_clear(struct shared *sh, void (*cb)(void *, long long, const char *),
    void *arg, char **cause)
{
	struct shared_clear	*c;
	const char		*p;
	char			*o;

	if (sh == NULL || sh->state != SH_UP) {
		*cause = xasprintf("the shared tier is %s", sh == NULL ?
		    "not configured (no REDIS_URL)" : "down");
		return NULL;
	}
	c = xcalloc(1, sizeof *c);
	c->ref.refs = 1;
	c->ref.free = clear_free;
	c->sh = sh;
	c->cb = cb;
	c->arg = arg;
	/* The prefix as a glob: its own *?[]\ escaped. */
	c->pattern = o = xmalloc(2 * strlen(sh->prefix) + 2);
	for (p = sh->prefix; *p != '\0'; p++) {
		if (strchr("*?[]\\", *p) != NULL)
			*o++ = '\\';
		*o++ = *p;
	}
	*o++ = '*';
	*o = '\0';
	c->ref.refs++;		/* the first SCAN may fail at once */
	clear_scan(c, "0");
	if (c->ref.dead) {
		sref_unref(&c->ref);
		*cause = xstrdup("Redis is down");
		return NULL;
	}
	sref_unref(&c->ref);
	return c;
}

void
shared_clear_cancel(struct shared_clear *c)
{
	if (c != NULL && !c->ref.dead) {
		c->ref.dead = 1;
		sref_unref(&c->ref);
	}
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
