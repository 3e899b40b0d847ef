/*
 * shared_key: a content key asked of the shared tier (shared_obtain):
 * its audio found in Redis, or synthesised here under a lock, or streamed
 * from the instance that holds the lock.
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
 */
#include <event2/event.h>
#include <hiredis/hiredis.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "sha256.h"
#include "shared.h"
#include "shared_env.h"
#include "shared_int.h"
#include "util.h"

#define SH_LOCK_MS	5000	/* a lock lives this long unless renewed */
#define SH_RENEW_MS	1500
#define SH_STREAM_MS	60000	/* a chunk stream outlives its last write */
#define SH_ATTEMPTS	3	/* holders failing before we go alone */

/* Compare-and-delete and compare-and-renew of a lock. */
static const char unlock_lua[] =
    "if redis.call('get',KEYS[1])==ARGV[1] then "
    "return redis.call('del',KEYS[1]) else return 0 end";
static const char renew_lua[] =
    "if redis.call('get',KEYS[1])==ARGV[1] then "
    "return redis.call('pexpire',KEYS[1],ARGV[2]) else return 0 end";

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
	struct sha256		*hgot;		/* of the bytes passed on */
	int			 resync;	/* a new holder: its first got
						   bytes must be ours */
	size_t			 rpos;		/* of them seen */
	struct sha256		*hnew;		/* their digest so far */
	int			 won;		/* SET NX said OK */
	int			 lockless;	/* the lock does not expire */
	int			 attempts;	/* holders that failed */
	int			 lost;		/* our lock was taken from us */
	uint64_t		 t_data;	/* following: last progress */
	struct rconn		*rd;
	struct event		*renew;
	struct event		*park;		/* no reader free: wait */
};

static void	key_try_lock(struct shared_key *);
static void	key_follow(struct shared_key *);

static void
key_free(struct sref *r)
{
	struct shared_key	*k = (struct shared_key *)r;

	free(k->akey);
	free(k->lkey);
	free(k->skey);
	sha256_free(k->hgot);
	sha256_free(k->hnew);
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
	sh_reader_free(k->rd);
	k->rd = NULL;
	sh_unref(&k->ref);
}

static void
key_final(struct shared_key *k, int ev, const void *data, size_t len)
{
	void	(*cb)(void *, int, const void *, size_t) = k->cb;
	void	*arg = k->arg;

	k->ref.refs++;		/* held across the callback */
	key_kill(k);
	cb(arg, ev, data, len);
	sh_unref(&k->ref);
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
	sha256_update(k->hgot, d, len);
	k->cb(k->arg, SHARED_DATA, d, len);
}

/* Do the first rpos bytes seen (digest h) equal those passed on? */
static int
key_same(struct shared_key *k, const struct sha256 *h)
{
	unsigned char	a[SHA256_LEN], b[SHA256_LEN];

	sha256_digest(k->hgot, a);
	sha256_digest(h, b);
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
	sha256_update(k->hnew, d, n);
	k->rpos += n;
	if (k->rpos < k->got)
		return 0;
	if (!key_same(k, k->hnew)) {
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
	sh_reader_free(k->rd);
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
		sha256_reset(k->hnew);
		k->rpos = 0;
		k->ref.refs++;
		if (len >= k->got && key_resync(k, d, len) == 0 &&
		    !k->ref.dead) {
			sh->hits++;
			key_final(k, SHARED_DONE, NULL, 0);
		} else if (!k->ref.dead)
			key_final(k, SHARED_FAILED, "the audio stored is "
			    "shorter than what was sent", 42);
		sh_unref(&k->ref);
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

/*
 * Nothing from the holder for a while.  One alive but stuck (its
 * endpoints down, its queue long) must not hold us longer than a backend
 * request may take: we go on alone.  Else: is the holder alive?
 */
static void
key_recheck(struct shared_key *k)
{
	if (now_usec() - k->t_data > (uint64_t)((*k->sh->cf)->
	    tts_request_timeout * 1000 + SH_LOCK_MS) * 1000) {
		key_give_up(k, "the instance synthesising it makes no "
		    "progress");
		return;
	}
	k->following = 1;
	key_try_lock(k);
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
		key_recheck(k);
		return;
	}
	if ((es = sh_xread_entries(rep)) == NULL) {
		sh->foreign++;
		key_give_up(k, "a stream not ours");
		return;
	}
	for (i = 0; i < es->elements; i++) {
		if (sh_entry(es->element[i], &id, &f) != 0 ||
		    (t = sh_field(f, "t")) == NULL || t->len >= sizeof k->holder) {
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
				sha256_reset(k->hnew);
			}
		}
		if ((d = sh_field(f, "d")) != NULL && d->len > 0) {
			if (k->resync) {
				if (key_resync(k, (const unsigned char *)d->str,
				    d->len) != 0)
					return;
			} else
				key_data(k, d->str, d->len);
			if (k->ref.dead)
				return;
		}
		if ((e = sh_field(f, "e")) == NULL)
			continue;
		if (strcmp(e->str, "ok") == 0) {
			n = sh_field(f, "n");
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
	key_recheck(arg);
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
		if ((k->rd = sh_reader_new(sh)) == NULL) {
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
	k->akey = sh_name(sh, "a", hex);
	k->lkey = sh_name(sh, "l", hex);
	k->skey = sh_name(sh, "s", hex);
	snprintf(k->token, sizeof k->token, "%s-%llu", sh->id, ++sh->ntokens);
	snprintf(k->last, sizeof k->last, "0");
	k->hgot = sha256_new();
	k->hnew = sha256_new();
	k->phase = SK_LOOKUP;
	argv[0] = "GET";
	argv[1] = k->akey;
	if (sh_sendv(&sh->cmd, &k->ref, lookup_cb, 2, argv) != 0) {
		sh->fallbacks++;
		k->ref.dead = 1;
		sh_unref(&k->ref);
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
		    (*sh->cf)->cache_ttl * 1000);
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
