/*
 * shared_reply: chat replies through the shared tier.  The instance that
 * serves a chat publishes its events (parameters, segments, text, end) to
 * the reply's own stream r:ID, its history, and to the cluster's stream
 * of every reply; any instance can follow one reply from its start
 * (shared_reply_follow) or every reply from now on (shared_replies_watch,
 * on one connection: mirror.c).
 */
#include <hiredis/hiredis.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "shared.h"
#include "shared_int.h"
#include "util.h"

#define SH_REPLIES_MAX	100000	/* events kept in the cluster's stream */

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
	rkey = sh_name(sh, "r", id);
	all = xasprintf("%sreplies", sh->prefix);
	snprintf(ttl, sizeof ttl, "%lld", (*sh->cf)->cache_ttl * 1000);
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
	sh_reader_free(f->rd);
	f->rd = NULL;
	sh_unref(&f->ref);
}

static void
follow_final(struct shared_follow *f, int ev, const char *v)
{
	void	(*cb)(void *, int, const char *, size_t) = f->cb;
	void	*arg = f->arg;

	f->ref.refs++;
	follow_kill(f);
	cb(arg, ev, v, v != NULL ? strlen(v) : 0);
	sh_unref(&f->ref);
}

/* Pass entries on; 1 if the reply ended (or the follow did). */
static int
follow_entries(struct shared_follow *f, const redisReply *es)
{
	const redisReply	*fl, *v;
	const char		*id;
	size_t			 i;

	for (i = 0; i < es->elements; i++) {
		if (sh_entry(es->element[i], &id, &fl) != 0) {
			f->sh->foreign++;
			follow_final(f, SHARED_R_ERROR, "a reply not ours");
			return 1;
		}
		snprintf(f->last, sizeof f->last, "%s", id);
		f->t_last = now_usec();
		if ((v = sh_field(fl, "x")) != NULL && f->params) {
			f->cb(f->arg, SHARED_R_TEXT, v->str, v->len);
			if (f->ref.dead)
				return 1;
		}
		if ((v = sh_field(fl, "p")) != NULL) {
			f->params = 1;
			f->cb(f->arg, SHARED_R_PARAMS, v->str, v->len);
		} else if ((v = sh_field(fl, "s")) != NULL && f->params)
			f->cb(f->arg, SHARED_R_SEG, v->str, v->len);
		else if ((v = sh_field(fl, "e")) != NULL) {
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
		idle = (uint64_t)((*sh->cf)->upstream_timeout + 5) * 1000000;
		if (now_usec() - f->t_last > idle) {
			follow_final(f, SHARED_R_END, "cut");
			return;
		}
	} else if ((es = sh_xread_entries(rep)) == NULL) {
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

	if (f->rd == NULL && (f->rd = sh_reader_new(sh)) == NULL) {
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
	f->rkey = sh_name(sh, "r", id);
	f->t_last = now_usec();
	snprintf(f->last, sizeof f->last, "0");
	argv[0] = "XRANGE";
	argv[1] = f->rkey;
	argv[2] = "-";
	argv[3] = "+";
	if (sh_sendv(&sh->cmd, &f->ref, follow_range_cb, 4, argv) != 0) {
		f->ref.dead = 1;
		sh_unref(&f->ref);
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
	sh_reader_free(w->rd);
	w->rd = NULL;
	sh_unref(&w->ref);
}

static void
watch_fail(struct shared_watch *w, const char *why)
{
	void	(*cb)(void *, const char *, int, const char *, size_t) = w->cb;
	void	*arg = w->arg;

	w->ref.refs++;
	watch_kill(w);
	cb(arg, NULL, SHARED_R_ERROR, why, strlen(why));
	sh_unref(&w->ref);
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
		if ((es = sh_xread_entries(rep)) == NULL) {
			watch_fail(w, "a stream not ours");
			return;
		}
		for (i = 0; i < es->elements && !w->ref.dead; i++) {
			if (sh_entry(es->element[i], &id, &fl) != 0)
				continue;
			snprintf(w->last, sizeof w->last, "%s", id);
			if ((rid = sh_field(fl, "r")) == NULL || rid->len == 0 ||
			    rid->len >= 64)
				continue;
			if ((v = sh_field(fl, "x")) != NULL)
				w->cb(w->arg, rid->str, SHARED_R_TEXT, v->str,
				    v->len);
			if (w->ref.dead)
				break;
			if ((v = sh_field(fl, "p")) != NULL)
				w->cb(w->arg, rid->str, SHARED_R_PARAMS, v->str,
				    v->len);
			else if ((v = sh_field(fl, "s")) != NULL)
				w->cb(w->arg, rid->str, SHARED_R_SEG, v->str,
				    v->len);
			else if ((v = sh_field(fl, "e")) != NULL)
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

	if (w->rd == NULL && (w->rd = sh_reader_new(w->sh)) == NULL) {
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
	if (rep->elements > 0 && sh_entry(rep->element[0], &id, &fl) == 0)
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
		sh_unref(&w->ref);
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
