/*
 * shared_int: what the shared_*.c files share and nothing else includes:
 * the tier's state, its connections and the commands sent on them
 * (shared.c), used by the keys (shared_key.c), the replies and the
 * cluster watch (shared_reply.c) and clearing (shared_clear.c).
 */
#ifndef TTSACCEL_SHARED_INT_H
#define TTSACCEL_SHARED_INT_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>

#include "shared_url.h"

struct config;
struct event;
struct event_base;
struct evdns_base;
struct evdns_getaddrinfo_request;

#define SH_BLOCK_MS	1000	/* XREAD BLOCK; then the holder is checked */

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

#define SH_DOWN		0
#define SH_CONNECTING	1
#define SH_UP		2

struct shared {
	struct config *const	*cf;		/* the current one: a reload
						   swaps it */
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

/* Drop a reference to r (NULL is a no-op); its free runs with the last. */
void	 sh_unref(struct sref *r);
/* A Redis name, to free: the prefix, kind, ':' and name. */
char	*sh_name(struct shared *sh, const char *kind, const char *name);
/* Send argv (argc arguments of lens bytes) on c, holding a reference to r
 * (or NULL) until fn(sh, r, reply) has its answer (reply NULL if the
 * connection went; fn NULL: none wanted).  -1 if it cannot be sent. */
int	 sh_send(struct rconn *c, struct sref *r,
	    void (*fn)(struct shared *, struct sref *, redisReply *),
	    int argc, const char **argv, const size_t *lens);
/* The same with at most 16 NUL-terminated arguments. */
int	 sh_sendv(struct rconn *c, struct sref *r,
	    void (*fn)(struct shared *, struct sref *, redisReply *),
	    int argc, const char **argv);
/* A reader connection of its own, for one blocking XREAD at a time; NULL
 * if the tier is down or REDIS_FOLLOW_MAX are in use. */
struct rconn *sh_reader_new(struct shared *sh);
/* Close and free a reader (NULL is a no-op); its answers come back NULL. */
void	 sh_reader_free(struct rconn *c);

/* Entry e of a stream reply: its id and its fields, or -1. */
int	 sh_entry(const redisReply *e, const char **id, const redisReply **f);
/* Field name's value among the fields f, or NULL. */
const redisReply *sh_field(const redisReply *f, const char *name);
/* The entries of an XREAD answer for one stream; NULL if it is not one. */
const redisReply *sh_xread_entries(const redisReply *rep);

#endif
