/* reply: the segments of each recent chat reply, for its whole audio. */
#include <sys/queue.h>

#include <cjson/cJSON.h>
#include <event2/event.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "config.h"
#include "log.h"
#include "norm.h"
#include "reply.h"
#include "sched.h"
#include "segment.h"
#include "server.h"
#include "span.h"
#include "tts.h"
#include "util.h"

/* A segment sent whole past the end of a client's piece: the start of the
 * client's next piece, within this time, is not sent again. */
#define REPLY_OVER_USEC	(60 * 1000000ULL)
/* The most of a reply's text kept for its code blocks. */
#define REPLY_RAW_MAX	(1024 * 1024)
/* How often finished replies past their time are dropped. */
#define REPLY_EXPIRE_SEC	1
/* A list number a client kept ("Method 1. Whisk"): at most this long. */
#define REPLY_LISTNUM	3

struct rseg {
	struct reply		*r;
	size_t			 index;
	char			*text;
	char			 key[17];	/* tts_key_id */
	int			 state;
	size_t			 bytes;
	char			*endpoint;
	char			*error;
	uint64_t		 t_queued, t_first, t_done;
	struct cache_entry	*e;		/* pinned while pending */
	struct tts_waiter	*w;
	struct span_seg		*sp;		/* in the match index */
};

struct reply_watch {
	struct reply		*r;
	void			(*cb)(void *);
	void			*arg;
	LIST_ENTRY(reply_watch)	 entry;
};

struct reply {
	struct replies		*rs;
	char			 id[32];
	char			*asked;		/* format asked, if not p's */
	struct tts_params	*p;		/* params_dup */
	struct rseg		**segs;
	size_t			 nsegs, segs_cap;
	int			 finished, ok;
	int			 cancelled;
	struct event		*grace;		/* readers left: cancel */
	uint64_t		 created, ended;
	int			 holds;
	char			*raw;		/* the text as streamed */
	size_t			 raw_len, raw_cap;
	char			*code;		/* its code blocks, folded */
	size_t			 code_len;
	struct rseg		*over;		/* sent past a text's end */
	size_t			 over_end;	/* folded offset in it there */
	uint64_t		 over_t;
	LIST_HEAD(, reply_watch) watches;
	TAILQ_ENTRY(reply)	 entry;		/* newest first */
};

struct replies {
	struct server		*srv;
	struct tts		*tts;
	TAILQ_HEAD(reply_list, reply) list;
	size_t			 n, max;
	uint64_t		 ttl;
	uint64_t		 next;		/* no finished reply, unheld,
						   is past its time before */
	struct span_index	*index;		/* every segment, folded */
	struct event		*timer;		/* expiry, every second */
	uint64_t		 over_until;	/* no live over after this */
};

static void
notify(struct reply *r)
{
	struct reply_watch	*w, *next;

	for (w = LIST_FIRST(&r->watches); w != NULL; w = next) {
		next = LIST_NEXT(w, entry);
		w->cb(w->arg);
	}
}

static void
seg_free(struct rseg *s)
{
	tts_unwatch(s->w);
	tts_release(s->r->rs->tts, s->e);
	span_remove(s->r->rs->index, s->sp);
	free(s->text);
	free(s->endpoint);
	free(s->error);
	free(s);
}

static void
reply_free(struct reply *r)
{
	struct reply_watch	*w;
	size_t			 i;

	TAILQ_REMOVE(&r->rs->list, r, entry);
	r->rs->n--;
	if (r->grace != NULL)
		event_free(r->grace);
	for (i = 0; i < r->nsegs; i++)
		seg_free(r->segs[i]);
	free(r->segs);
	while ((w = LIST_FIRST(&r->watches)) != NULL) {
		LIST_REMOVE(w, entry);
		free(w);
	}
	free(r->raw);
	free(r->code);
	free(r->asked);
	free(r->p);
	free(r);
}

/* A finished, unheld reply r will be past its time at r->ended + ttl. */
static void
expire_at(struct replies *rs, const struct reply *r)
{
	if (r->finished && r->holds == 0 && r->ended + rs->ttl < rs->next)
		rs->next = r->ended + rs->ttl;
}

/*
 * Drop replies past their time, or the oldest beyond the count.  It runs
 * on every request, so it walks the list only when something is due:
 * the whole list once rs->next (the earliest time a reply can be past its
 * time) has come, else from the oldest end only until the count is kept.
 */
static void
expire(struct replies *rs)
{
	struct reply	*r, *prev;
	uint64_t	 now = now_usec();
	int		 timed = now > rs->next;

	if (!timed && rs->n <= rs->max)
		return;
	if (timed)
		rs->next = UINT64_MAX;
	for (r = TAILQ_LAST(&rs->list, reply_list); r != NULL; r = prev) {
		if (!timed && rs->n <= rs->max)
			break;
		prev = TAILQ_PREV(r, reply_list, entry);
		if (r->holds > 0 || !r->finished)
			continue;
		if (rs->n > rs->max || now - r->ended > rs->ttl)
			reply_free(r);
		else
			expire_at(rs, r);
	}
}

static void
expire_cb(evutil_socket_t fd, short what, void *arg)
{
	expire(arg);
}

struct replies *
replies_new(struct server *srv, struct tts *tts, size_t max, uint64_t ttl)
{
	struct replies	*rs;
	unsigned char	 seed[16];
	struct timeval	 tv = { REPLY_EXPIRE_SEC, 0 };

	rs = xcalloc(1, sizeof *rs);
	random_bytes(seed, sizeof seed);
	rs->index = span_index_new(seed);
	TAILQ_INIT(&rs->list);
	rs->srv = srv;
	rs->tts = tts;
	rs->max = max;
	rs->ttl = ttl;
	rs->next = UINT64_MAX;
	/* Finished replies go on time, not only when a request comes. */
	if (srv != NULL && srv->base != NULL) {
		rs->timer = event_new(srv->base, -1, EV_PERSIST, expire_cb,
		    rs);
		event_add(rs->timer, &tv);
	}
	return rs;
}

void
replies_free(struct replies *rs)
{
	if (rs == NULL)
		return;
	if (rs->timer != NULL)
		event_free(rs->timer);
	while (!TAILQ_EMPTY(&rs->list))
		reply_free(TAILQ_FIRST(&rs->list));
	span_index_free(rs->index);
	free(rs);
}

struct reply *
reply_new(struct replies *rs, const char *id, const struct tts_params *p)
{
	struct reply	*r;

	expire(rs);
	r = xcalloc(1, sizeof *r);
	r->rs = rs;
	snprintf(r->id, sizeof r->id, "%s", id);
	r->p = params_dup(p);
	r->created = now_usec();
	LIST_INIT(&r->watches);
	TAILQ_INSERT_HEAD(&rs->list, r, entry);
	rs->n++;
	return r;
}

/* A `watch` event about segment s of its reply. */
static void
seg_event(struct rseg *s, const char *type)
{
	cJSON	*ev;

	if (s->r->rs->srv == NULL || s->r->rs->srv->nwatchers == 0)
		return;
	ev = cJSON_CreateObject();
	cJSON_AddStringToObject(ev, "reply", s->r->id);
	cJSON_AddNumberToObject(ev, "index", (double)s->index);
	cJSON_AddStringToObject(ev, "text", s->text);
	cJSON_AddStringToObject(ev, "key", s->key);
	server_emit(s->r->rs->srv, type, ev);
}

/* Follow a segment's synthesis to record its state. */
static void
seg_cb(void *arg)
{
	struct rseg	*s = arg;
	const char	*ep, *err;
	size_t		 len;
	int		 st = cache_state(s->e);

	cache_data(s->e, &len);
	s->bytes = len;
	if (len > 0 && s->t_first == 0)
		s->t_first = now_usec();
	if ((ep = tts_entry_endpoint(s->e)) != NULL && s->endpoint == NULL)
		s->endpoint = xstrdup(ep);
	if (st == CACHE_PENDING) {
		s->state = ep != NULL ? RSEG_SYNTHESIZING : RSEG_QUEUED;
		return;
	}
	s->t_done = now_usec();
	s->state = st == CACHE_DONE ? RSEG_DONE : RSEG_FAILED;
	if (st == CACHE_FAILED && (err = tts_entry_error(s->e)) != NULL)
		s->error = xstrdup(err);
	tts_unwatch(s->w);
	s->w = NULL;
	tts_release(s->r->rs->tts, s->e);
	s->e = NULL;
}

void
reply_add(struct reply *r, const char *text)
{
	struct rseg	*s;
	char		*key, *id, *folded;
	size_t		 len;
	int		 how;

	s = xcalloc(1, sizeof *s);
	s->r = r;
	s->index = r->nsegs;
	s->text = xstrdup(text);
	folded = norm_string(text, strlen(text), &len);
	s->sp = span_add(r->rs->index, r, s->index, folded, len);
	free(folded);
	key = tts_key(r->p, text);
	id = tts_key_id(key);
	snprintf(s->key, sizeof s->key, "%s", id);
	free(id);
	free(key);
	s->t_queued = now_usec();
	if (r->nsegs == r->segs_cap) {
		r->segs_cap = r->segs_cap != 0 ? r->segs_cap * 2 : 8;
		r->segs = xreallocarray(r->segs, r->segs_cap,
		    sizeof *r->segs);
	}
	r->segs[r->nsegs++] = s;
	if (r->cancelled) {
		/* Nobody will listen: not synthesised. */
		s->state = RSEG_CANCELLED;
		s->t_done = s->t_queued;
		seg_event(s, "segment.cancelled");
		notify(r);
		return;
	}
	seg_event(s, "segment.queued");
	s->e = tts_obtain(r->rs->tts, r->p, text, SCHED_PREFETCH,
	    (unsigned)s->index, &how);
	if (s->e == NULL)
		s->state = RSEG_FAILED;
	else if (how == TTS_HIT) {
		s->state = RSEG_DONE;
		cache_data(s->e, &s->bytes);
		s->t_first = s->t_done = s->t_queued;
		tts_release(r->rs->tts, s->e);
		s->e = NULL;
	} else {
		s->state = RSEG_QUEUED;
		s->w = tts_watch(r->rs->tts, s->e, seg_cb, s);
		seg_cb(s);
	}
	notify(r);
}

void
reply_set_format(struct reply *r, const char *format)
{
	free(r->asked);
	r->asked = xstrdup(format);
}

const char *
reply_format(const struct reply *r)
{
	return r->asked != NULL ? r->asked : r->p->format;
}

void
reply_text(struct reply *r, const char *text, size_t len)
{
	if (len > REPLY_RAW_MAX - r->raw_len)
		len = REPLY_RAW_MAX - r->raw_len;
	if (r->raw_len + len + 1 > r->raw_cap) {
		r->raw_cap = (r->raw_len + len + 1) * 2;
		r->raw = xrealloc(r->raw, r->raw_cap);
	}
	memcpy(r->raw + r->raw_len, text, len);
	r->raw_len += len;
	r->raw[r->raw_len] = '\0';
	free(r->code);		/* made again when asked for */
	r->code = NULL;
}

/* A fence line: up to three spaces, then three or more ` or ~. */
static int
is_fence(const char *l, size_t n)
{
	size_t	i = 0, k;

	while (i < n && i < 3 && l[i] == ' ')
		i++;
	if (i >= n || (l[i] != '`' && l[i] != '~'))
		return 0;
	for (k = i; k < n && l[k] == l[i]; k++)
		;
	return k - i >= 3;
}

/* The folded text of the reply's fenced code blocks (not spoken), their
 * info strings ("python") included. */
static const char *
reply_code(struct reply *r, size_t *len)
{
	char	*code = NULL, *clean;
	size_t	 clen = 0, i = 0, e;
	int	 in = 0;

	if (r->code == NULL) {
		while (i < r->raw_len) {
			e = i;
			while (e < r->raw_len && r->raw[e] != '\n')
				e++;
			if (is_fence(r->raw + i, e - i))
				in = !in;
			/* the opening fence's info string too: clients
			 * that fold whitespace send it with the code */
			if (in) {
				code = xrealloc(code, clen + (e - i) + 2);
				memcpy(code + clen, r->raw + i, e - i);
				clen += e - i;
				code[clen++] = '\n';
			}
			i = e + 1;
		}
		/* cleaned as a client's piece is, then folded: "[0]" of
		 * "choices[0]" goes in both */
		clean = segment_clean_piece(code != NULL ? code : "", clen);
		r->code = norm_string(clean, strlen(clean), &r->code_len);
		free(clean);
		free(code);
	}
	*len = r->code_len;
	return r->code;
}

void
reply_finish(struct reply *r, int ok)
{
	r->finished = 1;
	r->ok = ok;
	r->ended = now_usec();
	expire_at(r->rs, r);
	notify(r);
}

/* Is some of the reply's audio still to come? */
static int
unfinished(const struct reply *r)
{
	size_t	i;

	if (!r->finished)
		return 1;
	for (i = 0; i < r->nsegs; i++)
		if (r->segs[i]->state == RSEG_QUEUED ||
		    r->segs[i]->state == RSEG_SYNTHESIZING)
			return 1;
	return 0;
}

int
reply_cancel(struct reply *r, const char *why)
{
	struct tts	*tts = r->rs->tts;
	struct rseg	*s;
	size_t		 i, n = 0, stopped = 0;

	if (r->cancelled || !unfinished(r))
		return 0;	/* complete: nothing to stop */
	r->cancelled = 1;
	if (r->grace != NULL && evtimer_pending(r->grace, NULL)) {
		evtimer_del(r->grace);
		r->holds--;		/* the grace's own hold */
	}
	/* The readers first: they end now and let go of what they hold,
	 * so that only syntheses others want live on. */
	notify(r);
	for (i = 0; i < r->nsegs; i++) {
		s = r->segs[i];
		if (s->state != RSEG_QUEUED && s->state != RSEG_SYNTHESIZING)
			continue;
		tts_unwatch(s->w);
		s->w = NULL;
		stopped += (size_t)tts_abandon(tts, s->e);
		s->e = NULL;
		s->state = RSEG_CANCELLED;
		s->t_done = now_usec();
		n++;
		seg_event(s, "segment.cancelled");
	}
	log_info("reply %s cancelled (%s): %zu segment(s), %zu synthesis(es) "
	    "stopped", r->id, why, n, stopped);
	notify(r);
	return 1;
}

int
reply_cancelled(const struct reply *r)
{
	return r->cancelled;
}

struct reply *
reply_find(struct replies *rs, const char *id)
{
	struct reply	*r;

	expire(rs);
	TAILQ_FOREACH(r, &rs->list, entry)
		if (strcmp(r->id, id) == 0)
			return r;
	return NULL;
}

struct match {
	int		(*accept)(void *, const struct reply *);
	void		*arg;
	struct reply	*only;		/* if set, no other reply */
};

static int
match_accept(void *arg, void *owner)
{
	struct match	*m = arg;

	return (m->only == NULL || m->only == owner) &&
	    m->accept(m->arg, owner);
}

/*
 * How much of the start of q was already sent: the end of a segment that
 * a recent request got whole though its text stopped inside it (the
 * client's next piece starts there, and may be no more than that end:
 * "easonable." of "reasonable.", or lie inside it).  Where the last text
 * stopped in it is known, so the rest is found there even where nothing
 * separates it from what follows (CJK: "为检验量子力学" | "和…实验方法。").
 * 0 if none; *from the reply.
 */
static size_t
spoken_head(struct replies *rs, const struct norm *q, struct match *m,
    uint64_t now, struct reply **from, const struct span_seg **seg)
{
	struct reply	*r;
	const char	*g;
	size_t		 glen, k, e;

	*from = NULL;
	*seg = NULL;
	if (now > rs->over_until || q->len == 0)
		return 0;	/* none recent: no walk of every reply */
	TAILQ_FOREACH(r, &rs->list, entry) {
		if (r->over == NULL || now - r->over_t > REPLY_OVER_USEC ||
		    !m->accept(m->arg, r))
			continue;
		g = span_seg_text(r->over->sp, &glen);
		e = r->over_end < glen ? r->over_end : glen;
		*seg = r->over->sp;
		*from = r;
		if (q->len < glen - e && memcmp(q->s, g + e, q->len) == 0) {
			/* All of q is further on in the segment sent
			 * ("venv/` to your `." of "Tip: add .venv/ to your
			 * .gitignore"): heard; the next piece may go on. */
			r->over_end = e + q->len;
			r->over_t = now;
			rs->over_until = now + REPLY_OVER_USEC;
			return q->len;
		}
		k = glen - e;	/* the segment's rest, exactly */
		if (k > 0 && k <= q->len && memcmp(q->s, g + e, k) == 0) {
			r->over = NULL;
			return k;
		}
		for (k = glen - 1; k > 0; k--)
			if (k <= q->len && (k == q->len || q->brk[k]) &&
			    memcmp(q->s, g + glen - k, k) == 0) {
				r->over = NULL;
				return k;
			}
		*seg = NULL;
		*from = NULL;
	}
	return 0;
}

/*
 * A text is a piece of one reply: of the replies whose segments are in
 * the parts, the one that covers most of it (the newest of equals), or
 * NULL when there is only one.
 */
static struct reply *
main_reply(struct replies *rs, const struct span_part *v, size_t n)
{
	struct reply	*r, *best = NULL;
	void		*first = NULL;
	size_t		 i, cover, most = 0;
	int		 several = 0;

	for (i = 0; i < n; i++)
		if (v[i].owner != NULL && first == NULL)
			first = v[i].owner;
		else if (v[i].owner != NULL && v[i].owner != first)
			several = 1;
	if (!several)
		return NULL;
	TAILQ_FOREACH(r, &rs->list, entry) {
		for (i = cover = 0; i < n; i++)
			if (v[i].owner == r)
				cover += v[i].to - v[i].from;
		if (cover > most) {
			most = cover;
			best = r;
		}
	}
	return best;
}

/* Is folded s (len bytes) in the folded code of r? */
static int
in_code(struct reply *r, const char *s, size_t len)
{
	const char	*code;
	size_t		 clen;

	code = reply_code(r, &clen);
	return len > 0 && clen >= len && memmem(code, clen, s, len) != NULL;
}

/* A recent reply whose code the whole of q is, if any. */
static struct reply *
code_of(struct replies *rs, const struct norm *q, struct match *m)
{
	struct reply	*r;

	TAILQ_FOREACH(r, &rs->list, entry)
		if (m->accept(m->arg, r) && in_code(r, q->s, q->len))
			return r;
	return NULL;
}

/*
 * Is gap i of the parts text its neighbouring segments' reply does not
 * speak: a piece of its code blocks, or a list number?  That reply, or
 * NULL.
 */
static struct reply *
unspoken(const struct norm *q, const struct span_part *v, size_t n,
    size_t i)
{
	struct reply	*r;
	const char	*s = q->s + v[i].from;
	size_t		 len = v[i].to - v[i].from, k;
	int		 digits = len <= REPLY_LISTNUM;

	if (i > 0 && v[i - 1].owner != NULL)
		r = v[i - 1].owner;
	else if (i + 1 < n && v[i + 1].owner != NULL)
		r = v[i + 1].owner;
	else
		return NULL;
	for (k = 0; k < len && digits; k++)
		digits = s[k] >= '0' && s[k] <= '9';
	return digits || in_code(r, s, len) ? r : NULL;
}

size_t
reply_match(struct replies *rs, const char *text, size_t len,
    int (*accept)(void *, const struct reply *), void *arg,
    struct reply_part **parts, size_t *matched)
{
	struct match		 m = { accept, arg, NULL };
	struct norm		 q;
	struct span_part	*v;
	struct reply		*r;
	const struct span_seg	*after;
	uint64_t		 now = now_usec();
	size_t			 n, i, head;

	*parts = NULL;
	*matched = 0;
	expire(rs);
	if (span_count(rs->index) == 0)
		return 0;
	norm_text(text, len, &q);
	head = spoken_head(rs, &q, &m, now, &r, &after);
	if (head == q.len && r != NULL) {
		/* All of it was heard already: nothing more to say. */
		*parts = xcalloc(1, sizeof **parts);
		(*parts)[0].r = r;
		(*parts)[0].idx = REPLY_UNSPOKEN;
		(*parts)[0].len = len;
		*matched = 1;
		norm_free(&q);
		return 1;
	}
	n = span_match(rs->index, &q, head, after, match_accept, &m, &v,
	    matched);
	if ((m.only = main_reply(rs, v, n)) != NULL) {
		free(v);
		n = span_match(rs->index, &q, head, after, match_accept, &m,
		    &v, matched);
	}
	if (*matched == 0) {
		/* Perhaps all of it is code of a reply, fences removed. */
		free(v);
		n = 0;
		if ((r = code_of(rs, &q, &m)) != NULL) {
			*parts = xcalloc(1, sizeof **parts);
			(*parts)[0].r = r;
			(*parts)[0].idx = REPLY_UNSPOKEN;
			(*parts)[0].len = len;
			*matched = n = 1;
		}
		norm_free(&q);
		return n;
	}
	*parts = xcalloc(n, sizeof **parts);
	for (i = 0; i < n; i++) {
		(*parts)[i].r = r = v[i].owner;
		(*parts)[i].idx = v[i].idx;
		(*parts)[i].off = v[i].src_from;
		(*parts)[i].len = v[i].src_to - v[i].src_from;
		if (r == NULL && (r = unspoken(&q, v, n, i)) != NULL) {
			(*parts)[i].r = r;
			(*parts)[i].idx = REPLY_UNSPOKEN;
		} else if (v[i].over) {
			r->over = r->segs[v[i].idx];
			r->over_end = v[i].to - v[i].from;
			r->over_t = now;
			rs->over_until = now + REPLY_OVER_USEC;
		}
	}
	norm_free(&q);
	free(v);
	return n;
}

size_t
reply_count(const struct replies *rs)
{
	return rs->n;
}

const char *
reply_id(const struct reply *r)
{
	return r->id;
}

const struct tts_params *
reply_params(const struct reply *r)
{
	return r->p;
}

size_t
reply_nsegs(const struct reply *r)
{
	return r->nsegs;
}

const char *
reply_seg_text(const struct reply *r, size_t i)
{
	return r->segs[i]->text;
}

const char *
reply_seg_key(const struct reply *r, size_t i)
{
	return r->segs[i]->key;
}

int
reply_seg_state(const struct reply *r, size_t i)
{
	return r->segs[i]->state;
}

int
reply_finished(const struct reply *r)
{
	return r->finished;
}

void
reply_hold(struct reply *r)
{
	if (r->grace != NULL && evtimer_pending(r->grace, NULL)) {
		/* A reader is back within the grace: nothing is cancelled. */
		evtimer_del(r->grace);
		r->holds--;
		log_info("reply %s: a listener is back: nothing cancelled",
		    r->id);
	}
	r->holds++;
}

void
reply_release(struct reply *r)
{
	r->holds--;
	expire_at(r->rs, r);
}

static void
grace_cb(evutil_socket_t fd, short what, void *arg)
{
	struct reply	*r = arg;

	r->holds--;		/* the grace's own */
	if (r->holds == 0)
		reply_cancel(r, "its listener left");
}

void
reply_abandon(struct reply *r)
{
	struct server	*srv = r->rs->srv;
	struct timeval	 tv;

	if (--r->holds > 0 || r->cancelled || srv == NULL || !unfinished(r))
		return;
	if (srv->cf->reply_cancel_grace <= 0) {
		log_info("reply %s: its last listener left before the end; "
		    "it goes on (REPLY_CANCEL_GRACE is 0)", r->id);
		return;
	}
	log_info("reply %s: its last listener left before the end; the rest "
	    "is cancelled in %lld s unless one comes back", r->id,
	    srv->cf->reply_cancel_grace);
	if (r->grace == NULL)
		r->grace = evtimer_new(srv->base, grace_cb, r);
	/* The reply stays while the grace runs. */
	r->holds++;
	tv.tv_sec = (time_t)srv->cf->reply_cancel_grace;
	tv.tv_usec = 0;
	evtimer_add(r->grace, &tv);
}

struct reply_watch *
reply_watch(struct reply *r, void (*cb)(void *), void *arg)
{
	struct reply_watch	*w;

	w = xcalloc(1, sizeof *w);
	w->r = r;
	w->cb = cb;
	w->arg = arg;
	LIST_INSERT_HEAD(&r->watches, w, entry);
	return w;
}

void
reply_unwatch(struct reply_watch *w)
{
	if (w == NULL)
		return;
	LIST_REMOVE(w, entry);
	free(w);
}

static const char *
state_name(int st)
{
	static const char *const names[] = {
		"queued", "synthesizing", "done", "failed", "cancelled"
	};

	return names[st];
}

static double
ms_since(uint64_t t, uint64_t t0)
{
	return t != 0 ? (double)(t - t0) / 1000.0 : -1;
}

cJSON *
reply_segments_json(const struct reply *r)
{
	cJSON		*root, *a, *o;
	struct rseg	*s;
	size_t		 i;

	root = cJSON_CreateObject();
	cJSON_AddStringToObject(root, "reply", r->id);
	cJSON_AddStringToObject(root, "state", r->cancelled ? "cancelled" :
	    !r->finished ? "streaming" : r->ok ? "complete" : "cut");
	cJSON_AddStringToObject(root, "model", r->p->model);
	cJSON_AddStringToObject(root, "voice", r->p->voice);
	cJSON_AddStringToObject(root, "format", r->p->format);
	a = cJSON_AddArrayToObject(root, "segments");
	for (i = 0; i < r->nsegs; i++) {
		s = r->segs[i];
		o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "index", (double)s->index);
		cJSON_AddStringToObject(o, "text", s->text);
		cJSON_AddStringToObject(o, "key", s->key);
		cJSON_AddStringToObject(o, "state", state_name(s->state));
		cJSON_AddNumberToObject(o, "bytes", (double)s->bytes);
		if (s->endpoint != NULL)
			cJSON_AddStringToObject(o, "endpoint", s->endpoint);
		else
			cJSON_AddNullToObject(o, "endpoint");
		if (s->error != NULL)
			cJSON_AddStringToObject(o, "error", s->error);
		cJSON_AddNumberToObject(o, "queued_ms",
		    ms_since(s->t_queued, r->created));
		cJSON_AddNumberToObject(o, "first_byte_ms",
		    ms_since(s->t_first, r->created));
		cJSON_AddNumberToObject(o, "done_ms",
		    ms_since(s->t_done, r->created));
		cJSON_AddItemToArray(a, o);
	}
	return root;
}
