/* tts: syntheses — the cache, the scheduler and the backends together. */
#include <sys/queue.h>

#include <cjson/cJSON.h>
#include <event2/buffer.h>
#include <event2/event.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "cache.h"
#include "config.h"
#include "convert.h"
#include "log.h"
#include "metrics.h"
#include "sched.h"
#include "server.h"
#include "shared.h"
#include "tts.h"
#include "util.h"

struct endpoint {
	struct tts		*tts;
	struct backend		*be;
	struct sched_ep		*sep;
	struct backend_call	*probe;
	struct backend_call	*warm;
	int			 leaving;	/* drained: goes when idle */
};

struct tts_waiter {
	struct synth		*s;
	void			(*cb)(void *);
	void			*arg;
	LIST_ENTRY(tts_waiter)	 entry;
};

/* A synthesis in progress: the pending entry's user pointer. */
struct synth {
	struct tts		*tts;
	struct cache_entry	*e;
	struct tts_params	*p;		/* params_dup */
	char			*text;
	struct sched_job	*job;
	struct endpoint		*ep;
	struct backend_call	*call;
	LIST_HEAD(, tts_waiter)	 waiters;
	struct shared_key	*sk;		/* asked of the shared tier */
	int			 mirror;	/* ours for the cluster */
	int			 cls;		/* for a submit after asking */
	unsigned		 index;
	size_t			 appended;	/* bytes of this attempt */
	size_t			 verify;	/* bytes sent already (another
						   instance's): a new synthesis
						   must begin with them */
	size_t			 vpos;		/* of them matched */
	int			 diverged;	/* it did not */
	size_t			 mirrored;	/* bytes given the shared tier */
	uint64_t		 t_queued, t_started;
	char			 epname[256];
	char			 err[512];
	int			 status;	/* for a client, when failed */
	LIST_ENTRY(synth)	 entry;		/* all in progress */
};

struct tts {
	struct server		*srv;
	struct cache		*cache;
	struct sched		*sched;
	struct endpoint		**eps;
	size_t			 neps;
	struct event		*health;
	struct event		*warmth;
	struct event		*kick;
	struct event		*reap;		/* removes drained endpoints */
	LIST_HEAD(, synth)	 synths;
	/* figures */
	uint64_t		 syntheses, failures, retries, cancelled;
	struct hist		 h_synth;	/* backend synthesis time */
};

static void	kick(struct tts *);
static int	on_path(const char *);
static void	synth_event(struct synth *, const char *, const char *);
static void	endpoint_event(struct endpoint *, int, int, const char *);
static const char *state_name(int);
static int	add_endpoint(struct tts *, const char *, char **);

char *
tts_key(const struct tts_params *p, const char *text)
{
	/* Unit separators keep fields from running into each other. */
	return xasprintf("v1\x1f%s\x1f%s\x1f%s\x1f%.2f\x1f%s\x1f%s", p->model,
	    p->voice, p->format, p->speed, p->instructions != NULL ?
	    p->instructions : "", text);
}

struct cache_entry *
tts_peek(struct tts *tts, const struct tts_params *p, const char *text)
{
	struct cache_entry	*e;
	char			*key = tts_key(p, text);

	e = cache_peek(tts->cache, key, strlen(key), now_usec());
	free(key);
	return e;
}

char *
tts_key_id(const char *key)
{
	/* A fixed key: the id must be the same everywhere and every time. */
	static const unsigned char	k[16] = "ttsaccel-key-id1";

	return xasprintf("%016llx", (unsigned long long)siphash24(k, key,
	    strlen(key)));
}

static void
notify(struct synth *s)
{
	struct tts_waiter	*w, *next;

	for (w = LIST_FIRST(&s->waiters); w != NULL; w = next) {
		next = LIST_NEXT(w, entry);
		w->cb(w->arg);
	}
}

struct tts_waiter *
tts_watch(struct tts *tts, struct cache_entry *e, void (*cb)(void *),
    void *arg)
{
	struct synth		*s = cache_user(e);
	struct tts_waiter	*w;

	if (s == NULL)
		return NULL;	/* not pending: nothing will change */
	w = xcalloc(1, sizeof *w);
	w->s = s;
	w->cb = cb;
	w->arg = arg;
	LIST_INSERT_HEAD(&s->waiters, w, entry);
	return w;
}

void
tts_unwatch(struct tts_waiter *w)
{
	if (w == NULL)
		return;
	if (w->s == NULL) {
		free(w);	/* its synthesis has ended */
		return;
	}
	LIST_REMOVE(w, entry);
	free(w);
}

const char *
tts_entry_endpoint(const struct cache_entry *e)
{
	struct synth	*s = cache_user(e);

	return s != NULL && s->epname[0] != '\0' ? s->epname : NULL;
}

const char *
tts_entry_error(const struct cache_entry *e)
{
	struct synth	*s = cache_user(e);

	return s != NULL && s->err[0] != '\0' ? s->err : NULL;
}

int
tts_entry_status(const struct cache_entry *e)
{
	struct synth	*s = cache_user(e);

	return s != NULL && s->status != 0 ? s->status : 502;
}

static void
synth_free(struct synth *s)
{
	struct tts_waiter	*w;

	LIST_REMOVE(s, entry);
	shared_cancel(s->sk);
	s->sk = NULL;
	/* Waiters still here are detached; their owners free them. */
	while ((w = LIST_FIRST(&s->waiters)) != NULL) {
		LIST_REMOVE(w, entry);
		w->s = NULL;
	}
	free(s->p);
	free(s->text);
	free(s);
}

/* The synthesis is over: tell the waiters, let the entry go. */
static void
synth_end(struct synth *s, int ok)
{
	struct tts	*tts = s->tts;
	struct cache_entry *e = s->e;

	cache_finish(tts->cache, e, ok, now_usec());
	notify(s);
	/* Waiters left after the end are dropped: nothing more comes. */
	cache_set_user(e, NULL);
	synth_free(s);
	cache_unpin(tts->cache, e);	/* the writer's pin */
}

/* A `watch` event about a synthesis. */
static void
synth_event(struct synth *s, const char *type, const char *err)
{
	struct server	*srv = s->tts->srv;
	cJSON		*o;
	char		*id;

	if (srv->nwatchers == 0)
		return;
	o = cJSON_CreateObject();
	id = tts_key_id(cache_key(s->e));
	cJSON_AddStringToObject(o, "key", id);
	free(id);
	cJSON_AddStringToObject(o, "text", s->text);
	if (s->epname[0] != '\0')
		cJSON_AddStringToObject(o, "endpoint", s->epname);
	if (s->t_started != 0 && strcmp(type, "segment.started") != 0) {
		cJSON_AddNumberToObject(o, "ms", (double)(now_usec() -
		    s->t_started) / 1000.0);
		cJSON_AddNumberToObject(o, "bytes", (double)s->appended);
	}
	if (err != NULL)
		cJSON_AddStringToObject(o, "error", err);
	server_emit(srv, type, o);
}

/* Our synthesis for the cluster has ended: store it, let the lock go. */
static void
mirror_end(struct synth *s, int ok)
{
	const unsigned char	*d;
	size_t			 len;

	if (s->sk == NULL)
		return;
	d = cache_data(s->e, &len);
	shared_end(s->sk, ok, d, len);
	s->sk = NULL;
}

static void
synth_data_cb(void *arg, const void *data, size_t len)
{
	struct synth	*s = arg;

	const unsigned char	*have;
	size_t			 n, hlen, pos = s->appended, skip;

	s->appended += len;
	if (s->diverged)
		return;
	if (s->sk != NULL && pos + len > s->mirrored) {
		/* An attempt after one that failed part way: the shared
		 * tier has its first bytes already. */
		skip = s->mirrored > pos ? s->mirrored - pos : 0;
		shared_chunk(s->sk, (const unsigned char *)data + skip,
		    len - skip);
		s->mirrored = pos + len;
	}
	if (s->vpos < s->verify) {
		/* Resuming a synthesis whose first bytes were sent already
		 * (by an attempt that failed part way, or by another
		 * instance): this one must begin with them. */
		have = cache_data(s->e, &hlen);
		n = s->verify - s->vpos < len ? s->verify - s->vpos : len;
		if (memcmp(have + s->vpos, data, n) != 0) {
			s->diverged = 1;
			return;
		}
		s->vpos += n;
		data = (const unsigned char *)data + n;
		len -= n;
		if (len == 0)
			return;
	}
	cache_append(s->tts->cache, s->e, data, len);
	notify(s);
}

/* The scheduler's outcome for a backend's result. */
static int
outcome(int result)
{
	switch (result) {
	case BACKEND_OK:	return SCHED_OK;
	case BACKEND_REJECTED:
	case BACKEND_REFUSED:	return SCHED_REJECTED;
	case BACKEND_UNFIT:	return SCHED_ELSEWHERE;
	}
	return SCHED_FAILED;
}

static const struct backend_cbs probe_cbs;

static void
synth_done_cb(void *arg, int result, int status, const char *why)
{
	struct synth	*s = arg;
	struct tts	*tts = s->tts;
	uint64_t	 now = now_usec(), lat = now - s->t_started;
	struct sched_ep_info info;
	struct endpoint	*ep = s->ep;
	int		 r, before, ok = result == BACKEND_OK;
	int		 refused = result == BACKEND_REFUSED;

	s->call = NULL;
	sched_ep_info(s->ep->sep, &info);
	before = info.state;
	r = sched_done(tts->sched, s->job, s->ep->sep, outcome(result), lat,
	    now);
	sched_ep_info(s->ep->sep, &info);
	if (info.state != before)
		endpoint_event(s->ep, before, info.state, ok ? NULL : why);
	if (s->ep->leaving)
		event_active(tts->reap, EV_TIMEOUT, 0);
	if (ok && (s->diverged || s->vpos < s->verify)) {
		/* Resumed, but not the audio already sent. */
		ok = 0;
		why = "its audio differs from what was sent already (by an "
		    "attempt that failed part way, or another instance)";
		r = 0;
	}
	if (ok) {
		tts->syntheses++;
		hist_observe(&tts->h_synth, lat);
		log_debug("synthesised %zu bytes on %s in %.1f ms",
		    s->appended, s->epname, (double)lat / 1000.0);
		s->job = NULL;
		synth_event(s, "segment.done", NULL);
		mirror_end(s, 1);
		synth_end(s, 1);
		kick(tts);
		return;
	}
	if (result == BACKEND_REFUSED)
		result = BACKEND_REJECTED;
	s->status = result == BACKEND_REJECTED ? status : 502;
	if (result == BACKEND_UNFIT && !tts_has_format(tts, s->p->format))
		snprintf(s->err, sizeof s->err, "%s: %s (no endpoint makes %s: "
		    "ask again, it is converted from WAV from now on)",
		    s->epname, why, s->p->format);
	else
		snprintf(s->err, sizeof s->err, "%s: %s", s->epname, why);
	if (result == BACKEND_REJECTED) {
		log_info("request refused by %s: %s", s->epname, why);
		/* A program's refusal: check that it still speaks at all
		 * (the probe takes it out if not). */
		if (refused && ep->probe == NULL && !ep->leaving)
			ep->probe = backend_probe(ep->be, &probe_cbs, ep);
	} else
		log_warn("synthesis failed on %s: %s", s->epname, why);
	if (r == 1 && result == BACKEND_UNFIT &&
	    !tts_has_format(tts, s->p->format)) {
		sched_cancel(tts->sched, s->job);	/* nowhere to go */
		r = -1;
	}
	if (r == 1) {
		/*
		 * Again, elsewhere if it can.  Audio already out (a backend
		 * that died part way): the new attempt must begin with the
		 * same bytes, and only what follows them goes on, so
		 * readers and the cache get one whole answer; one that says
		 * something else fails.
		 */
		cache_data(s->e, &s->verify);
		if (s->verify > 0)
			log_info("synthesising again a text whose first %zu "
			    "bytes came before %s failed", s->verify,
			    s->epname);
		tts->retries++;
		kick(tts);
		return;
	}
	s->job = NULL;
	tts->failures++;
	synth_event(s, "segment.failed", s->err);
	mirror_end(s, 0);
	synth_end(s, 0);
	kick(tts);
}

static const struct backend_cbs synth_cbs = { synth_data_cb, synth_done_cb };

/* Start whatever the scheduler allows now. */
static void
dispatch(struct tts *tts)
{
	struct sched_job	*job;
	struct sched_ep		*sep;
	struct synth		*s;

	while (sched_next(tts->sched, now_usec(), &job, &sep) == 0) {
		s = sched_job_user(job);
		s->ep = sched_ep_user(sep);
		snprintf(s->epname, sizeof s->epname, "%s",
		    backend_name(s->ep->be));
		s->t_started = now_usec();
		s->appended = 0;
		s->vpos = 0;
		s->diverged = 0;
		s->call = backend_synth(s->ep->be, s->p, s->text, &synth_cbs,
		    s);
		synth_event(s, "segment.started", NULL);
	}
}

static void
kick_cb(evutil_socket_t fd, short what, void *arg)
{
	dispatch(arg);
}

/* Dispatch from the loop, never inside a backend's callback. */
static void
kick(struct tts *tts)
{
	event_active(tts->kick, EV_TIMEOUT, 0);
}

/* What the shared tier says about a synthesis' key. */
static void
shared_cb(void *arg, int ev, const void *data, size_t len)
{
	struct synth	*s = arg;
	struct tts	*tts = s->tts;

	switch (ev) {
	case SHARED_HIT:
		s->sk = NULL;
		snprintf(s->epname, sizeof s->epname, "shared");
		cache_append(tts->cache, s->e, data, len);
		s->appended = len;
		synth_end(s, 1);
		break;
	case SHARED_WON:
		/* Ours to synthesise; the bytes are mirrored as they come
		 * (all of them, when resuming a dead holder's). */
		s->mirror = 1;
		cache_data(s->e, &s->verify);
		if (s->verify > 0)
			log_info("synthesising again, from its start, a text "
			    "whose first %zu bytes came from an instance that "
			    "went away", s->verify);
		s->job = sched_submit(tts->sched, s->cls, s->index, now_usec(),
		    s);
		kick(tts);
		break;
	case SHARED_DATA:
		if (s->epname[0] == '\0')
			snprintf(s->epname, sizeof s->epname, "shared");
		s->appended += len;
		cache_append(tts->cache, s->e, data, len);
		notify(s);
		break;
	case SHARED_DONE:
		s->sk = NULL;
		synth_end(s, 1);
		break;
	case SHARED_FAILED:
		s->sk = NULL;
		snprintf(s->err, sizeof s->err, "shared: %.*s", (int)len,
		    (const char *)data);
		tts->failures++;
		synth_event(s, "segment.failed", s->err);
		synth_end(s, 0);
		break;
	case SHARED_LOCAL:
	case SHARED_RESUME:
		/* The tier cannot help: synthesised here alone, after what
		 * was sent already, if anything. */
		s->sk = NULL;
		cache_data(s->e, &s->verify);
		if (s->verify > 0)
			log_info("synthesising again, alone, a text whose first "
			    "%zu bytes came from another instance: %.*s",
			    s->verify, (int)len, (const char *)data);
		s->job = sched_submit(tts->sched, s->cls, s->index, now_usec(),
		    s);
		kick(tts);
		break;
	}
}

struct cache_entry *
tts_obtain(struct tts *tts, const struct tts_params *p, const char *text,
    int cls, unsigned index, int *how)
{
	struct cache_entry	*e;
	struct synth		*s;
	char			*key;
	uint64_t		 now = now_usec();

	key = tts_key(p, text);
	e = cache_get(tts->cache, key, strlen(key), now);
	if (e != NULL) {
		cache_pin(e);
		free(key);
		*how = cache_state(e) == CACHE_DONE ? TTS_HIT : TTS_INFLIGHT;
		s = cache_user(e);
		if (s != NULL && s->job != NULL && s->call == NULL &&
		    cls == SCHED_ONDEMAND)
			sched_promote(tts->sched, s->job);
		if (s != NULL && s->job == NULL && cls == SCHED_ONDEMAND)
			s->cls = cls;	/* if it is queued after asking */
		return e;
	}
	if (tts->neps == 0) {
		free(key);
		*how = -1;
		return NULL;
	}
	e = cache_put(tts->cache, key, strlen(key), text, now);
	s = xcalloc(1, sizeof *s);
	s->tts = tts;
	s->e = e;
	s->p = params_dup(p);
	s->text = xstrdup(text);
	s->t_queued = now;
	LIST_INIT(&s->waiters);
	LIST_INSERT_HEAD(&tts->synths, s, entry);
	cache_set_user(e, s);
	cache_pin(e);			/* the caller's pin */
	s->cls = cls;
	s->index = index;
	/* Several instances: the shared tier first. */
	s->sk = shared_obtain(tts->srv->shared, key, shared_cb, s);
	free(key);
	if (s->sk != NULL) {
		*how = TTS_SHARED;
		return e;
	}
	s->job = sched_submit(tts->sched, cls, index, now, s);
	*how = TTS_MISS;
	kick(tts);
	return e;
}

void
tts_release(struct tts *tts, struct cache_entry *e)
{
	if (e != NULL)
		cache_unpin(tts->cache, e);
}

int
tts_abandon(struct tts *tts, struct cache_entry *e)
{
	struct synth	*s;
	uint64_t	 now = now_usec();

	if (e == NULL)
		return 0;
	s = cache_user(e);
	/* Pinned by its writer and by us alone: nobody else waits. */
	if (s == NULL || cache_state(e) != CACHE_PENDING ||
	    cache_pins(e) != 2) {
		tts_release(tts, e);
		return 0;
	}
	if (s->call != NULL) {
		backend_cancel(s->call);
		s->call = NULL;
		sched_done(tts->sched, s->job, s->ep->sep, SCHED_CANCELLED,
		    now - s->t_started, now);
		if (s->ep->leaving)
			event_active(tts->reap, EV_TIMEOUT, 0);
	} else if (s->job != NULL)
		sched_cancel(tts->sched, s->job);
	s->job = NULL;
	log_debug("synthesis of '%.40s' cancelled (%zu bytes in)", s->text,
	    s->appended);
	tts->cancelled++;
	snprintf(s->err, sizeof s->err, "cancelled");
	synth_end(s, 0);		/* the shared lock, if held, goes too */
	tts_release(tts, e);
	kick(tts);
	return 1;
}

int
tts_usable(struct tts *tts)
{
	return tts->neps > 0 && sched_usable(tts->sched, now_usec());
}

/* Can endpoint ep_user make synthesis job_user's format? */
static int
synth_fits(void *job_user, void *ep_user)
{
	const struct synth	*s = job_user;
	const struct endpoint	*ep = ep_user;

	return backend_has_format(ep->be, s->p->format);
}

int
tts_has_format(struct tts *tts, const char *fmt)
{
	size_t	i;

	for (i = 0; i < tts->neps; i++)
		if (backend_has_format(tts->eps[i]->be, fmt))
			return 1;
	return 0;
}

void
tts_can(struct tts *tts, struct params_can *can)
{
	size_t	i;

	can->made = can->conv = 0;
	for (i = 0; i < PARAMS_NFORMATS; i++) {
		if (tts != NULL && tts_has_format(tts, params_format_name(i)))
			can->made |= PARAMS_BIT(i);
		if (convert_can(params_format_name(i)))
			can->conv |= PARAMS_BIT(i);
	}
}

struct cache *
tts_cache(struct tts *tts)
{
	return tts->cache;
}

size_t
tts_clear(struct tts *tts)
{
	return cache_clear(tts->cache);
}

static const char *
state_name(int st)
{
	switch (st) {
	case SCHED_EP_UP:	return "up";
	case SCHED_EP_OPEN:	return "down";
	case SCHED_EP_HALFOPEN:	return "probing";
	case SCHED_EP_DRAINING:	return "draining";
	}
	return "?";
}

cJSON *
tts_endpoints_json(struct tts *tts)
{
	struct sched_ep_info	 info;
	cJSON			*a, *o;
	size_t			 i;

	a = cJSON_CreateArray();
	for (i = 0; i < tts->neps; i++) {
		sched_ep_info(tts->eps[i]->sep, &info);
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "url", info.name);
		cJSON_AddStringToObject(o, "state", state_name(info.state));
		cJSON_AddNumberToObject(o, "in_flight", info.inflight);
		cJSON_AddNumberToObject(o, "max", info.max);
		cJSON_AddNumberToObject(o, "weight", info.weight);
		cJSON_AddNumberToObject(o, "latency_ms", info.ewma_usec / 1000);
		cJSON_AddNumberToObject(o, "done", (double)info.done);
		cJSON_AddNumberToObject(o, "errors", (double)info.errors);
		cJSON_AddItemToArray(a, o);
	}
	return a;
}

cJSON *
tts_cache_json(struct tts *tts)
{
	struct cache_stats	 st;
	cJSON			*o;
	double			 lookups;

	cache_get_stats(tts->cache, &st);
	lookups = (double)(st.hits + st.misses);
	o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "entries", (double)st.entries);
	cJSON_AddNumberToObject(o, "size", (double)st.entries);
	cJSON_AddNumberToObject(o, "max_size",
	    (double)tts->srv->cf->cache_max_size);
	cJSON_AddNumberToObject(o, "bytes", (double)st.bytes);
	cJSON_AddNumberToObject(o, "max_bytes",
	    (double)tts->srv->cf->cache_max_bytes);
	cJSON_AddNumberToObject(o, "hits", (double)st.hits);
	cJSON_AddNumberToObject(o, "misses", (double)st.misses);
	cJSON_AddNumberToObject(o, "hit_rate", lookups > 0 ?
	    (double)st.hits / lookups : 0);
	cJSON_AddNumberToObject(o, "in_flight", (double)st.pending);
	cJSON_AddNumberToObject(o, "in_flight_bytes",
	    (double)st.pending_bytes);
	cJSON_AddNumberToObject(o, "evictions", (double)st.evictions);
	cJSON_AddNumberToObject(o, "expirations", (double)st.expirations);
	cJSON_AddNumberToObject(o, "ttl", (double)tts->srv->cf->cache_ttl);
	cJSON_AddNumberToObject(o, "queued", (double)sched_queued(tts->sched));
	cJSON_AddNumberToObject(o, "syntheses", (double)tts->syntheses);
	cJSON_AddNumberToObject(o, "synthesis_failures",
	    (double)tts->failures);
	cJSON_AddNumberToObject(o, "retries", (double)tts->retries);
	cJSON_AddNumberToObject(o, "cancelled",
	    (double)tts->cancelled);
	return o;
}

/* An endpoint name as a Prometheus label value. */
static const char *
label(const char *name, char *buf, size_t len)
{
	size_t	i, o = 0;

	for (i = 0; name[i] != '\0' && o + 3 < len; i++) {
		if (name[i] == '"' || name[i] == '\\')
			buf[o++] = '\\';
		buf[o++] = name[i] == '\n' ? ' ' : name[i];
	}
	buf[o] = '\0';
	return buf;
}

void
tts_metrics(struct tts *tts, struct evbuffer *b)
{
	char			 lb[512];
	struct cache_stats	 st;
	struct sched_ep_info	 info;
	char			*hist = NULL;
	size_t			 hlen = 0;
	size_t			 i;

	if (tts->srv->shared != NULL)
		shared_metrics(tts->srv->shared, b);
	cache_get_stats(tts->cache, &st);
	evbuffer_add_printf(b,
	    "# HELP ttsaccel_cache_entries Audio entries in the cache.\n"
	    "# TYPE ttsaccel_cache_entries gauge\n"
	    "ttsaccel_cache_entries %zu\n"
	    "# HELP ttsaccel_cache_bytes Audio bytes in the cache.\n"
	    "# TYPE ttsaccel_cache_bytes gauge\n"
	    "ttsaccel_cache_bytes %llu\n"
	    "# HELP ttsaccel_cache_hits_total Lookups that found audio.\n"
	    "# TYPE ttsaccel_cache_hits_total counter\n"
	    "ttsaccel_cache_hits_total %llu\n"
	    "# HELP ttsaccel_cache_misses_total Lookups that found none.\n"
	    "# TYPE ttsaccel_cache_misses_total counter\n"
	    "ttsaccel_cache_misses_total %llu\n"
	    "# HELP ttsaccel_cache_evictions_total Entries evicted for space.\n"
	    "# TYPE ttsaccel_cache_evictions_total counter\n"
	    "ttsaccel_cache_evictions_total %llu\n"
	    "# HELP ttsaccel_syntheses_in_flight Syntheses queued or running.\n"
	    "# TYPE ttsaccel_syntheses_in_flight gauge\n"
	    "ttsaccel_syntheses_in_flight %zu\n"
	    "# HELP ttsaccel_synthesis_failures_total Syntheses given up.\n"
	    "# TYPE ttsaccel_synthesis_failures_total counter\n"
	    "ttsaccel_synthesis_failures_total %llu\n"
	    "# HELP ttsaccel_synthesis_retries_total Retries on another "
	    "endpoint.\n"
	    "# TYPE ttsaccel_synthesis_retries_total counter\n"
	    "ttsaccel_synthesis_retries_total %llu\n"
	    "# HELP ttsaccel_syntheses_cancelled_total Syntheses stopped: "
	    "their reply was cancelled.\n"
	    "# TYPE ttsaccel_syntheses_cancelled_total counter\n"
	    "ttsaccel_syntheses_cancelled_total %llu\n",
	    st.entries, (unsigned long long)st.bytes,
	    (unsigned long long)st.hits, (unsigned long long)st.misses,
	    (unsigned long long)st.evictions, st.pending,
	    (unsigned long long)tts->failures,
	    (unsigned long long)tts->retries,
	    (unsigned long long)tts->cancelled);
	hist_print(&tts->h_synth, &hist, &hlen);
	evbuffer_add(b, hist, hlen);
	free(hist);
	evbuffer_add_printf(b,
	    "# HELP ttsaccel_endpoint_in_flight Requests running on an "
	    "endpoint.\n# TYPE ttsaccel_endpoint_in_flight gauge\n");
	for (i = 0; i < tts->neps; i++) {
		sched_ep_info(tts->eps[i]->sep, &info);
		evbuffer_add_printf(b, "ttsaccel_endpoint_in_flight{endpoint="
		    "\"%s\"} %d\n", label(info.name, lb, sizeof lb),
		    info.inflight);
	}
	evbuffer_add_printf(b,
	    "# HELP ttsaccel_endpoint_errors_total Failed requests per "
	    "endpoint.\n# TYPE ttsaccel_endpoint_errors_total counter\n");
	for (i = 0; i < tts->neps; i++) {
		sched_ep_info(tts->eps[i]->sep, &info);
		evbuffer_add_printf(b, "ttsaccel_endpoint_errors_total{"
		    "endpoint=\"%s\"} %llu\n", label(info.name, lb, sizeof lb),
		    (unsigned long long)info.errors);
	}
	evbuffer_add_printf(b,
	    "# HELP ttsaccel_endpoint_up Whether an endpoint takes work.\n"
	    "# TYPE ttsaccel_endpoint_up gauge\n");
	for (i = 0; i < tts->neps; i++) {
		sched_ep_info(tts->eps[i]->sep, &info);
		evbuffer_add_printf(b, "ttsaccel_endpoint_up{endpoint=\"%s\"} "
		    "%d\n", label(info.name, lb, sizeof lb),
		    info.state == SCHED_EP_UP);
	}
}

/* An endpoint changed state: log it once, tell the watchers. */
static void
endpoint_event(struct endpoint *ep, int before, int after, const char *why)
{
	struct server	*srv = ep->tts->srv;
	cJSON		*o;

	log_warn("endpoint %s is %s%s%s", backend_name(ep->be),
	    state_name(after), why != NULL ? ": " : "", why != NULL ?
	    why : "");
	if (srv->nwatchers == 0)
		return;
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "url", backend_name(ep->be));
	cJSON_AddStringToObject(o, "from", state_name(before));
	cJSON_AddStringToObject(o, "state", state_name(after));
	if (why != NULL)
		cJSON_AddStringToObject(o, "reason", why);
	server_emit(srv, "endpoint.state", o);
}

/* Health probes. */

static void
probe_done_cb(void *arg, int result, int status, const char *why)
{
	struct endpoint		*ep = arg;
	struct sched_ep_info	 info;
	int			 before, ok = result == BACKEND_OK;

	ep->probe = NULL;
	sched_ep_info(ep->sep, &info);
	before = info.state;
	sched_ep_probe(ep->tts->sched, ep->sep, ok, now_usec());
	sched_ep_info(ep->sep, &info);
	if (before != info.state)
		endpoint_event(ep, before, info.state, ok ? NULL : why);
	if (ok)
		kick(ep->tts);
}

static const struct backend_cbs probe_cbs = { NULL, probe_done_cb };

static void
health_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tts	*tts = arg;
	size_t		 i;

	for (i = 0; i < tts->neps; i++)
		if (tts->eps[i]->probe == NULL)
			tts->eps[i]->probe = backend_probe(tts->eps[i]->be,
			    &probe_cbs, tts->eps[i]);
}

static void
warm_done_cb(void *arg, int result, int status, const char *why)
{
	struct endpoint	*ep = arg;

	ep->warm = NULL;
	log_debug("keep-warm of %s: %s", backend_name(ep->be), result ==
	    BACKEND_OK ? "ok" : why);
}

static const struct backend_cbs warm_cbs = { NULL, warm_done_cb };

/* Keep sleeping hosted endpoints awake: a tiny synthesis when idle. */
static void
warmth_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tts		*tts = arg;
	struct sched_ep_info	 info;
	struct tts_params	 p;
	size_t			 i;

	p.model = tts->srv->cf->tts_default_model;
	p.voice = tts->srv->cf->tts_default_voice;
	p.format = "wav";
	p.instructions = NULL;
	p.speed = 1.0;
	for (i = 0; i < tts->neps; i++) {
		sched_ep_info(tts->eps[i]->sep, &info);
		if (info.inflight == 0 && tts->eps[i]->warm == NULL &&
		    info.state == SCHED_EP_UP)
			tts->eps[i]->warm = backend_synth(tts->eps[i]->be, &p,
			    "Hi.", &warm_cbs, tts->eps[i]);
	}
}

/* The endpoint by its URL as given, else by its name as shown (secrets
 * masked), so that an admin may name it either way. */
static struct endpoint *
find_endpoint(struct tts *tts, const char *name, size_t *idx)
{
	size_t	i;
	int	pass;

	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < tts->neps; i++)
			if (strcmp(pass == 0 ? backend_id(tts->eps[i]->be) :
			    backend_name(tts->eps[i]->be), name) == 0) {
				if (idx != NULL)
					*idx = i;
				return tts->eps[i];
			}
	return NULL;
}

/* "no endpoint 'NAME'", with NAME's secrets masked. */
static char *
no_endpoint(const char *name)
{
	char	*masked, *cause;

	if (strncmp(name, "exec:", 5) == 0 ||
	    (masked = backend_mask_url(name)) == NULL)
		masked = xstrdup(name);
	cause = xasprintf("no endpoint '%s'", masked);
	free(masked);
	return cause;
}

/* Remove an idle endpoint for good. */
static void
endpoint_free(struct tts *tts, size_t i)
{
	struct endpoint	*ep = tts->eps[i];

	backend_cancel(ep->probe);
	backend_cancel(ep->warm);
	if (ep->sep != NULL)
		sched_ep_remove(tts->sched, ep->sep);
	log_info("endpoint %s removed", backend_name(ep->be));
	backend_free(ep->be);
	free(ep);
	memmove(&tts->eps[i], &tts->eps[i + 1], (tts->neps - i - 1) *
	    sizeof *tts->eps);
	tts->neps--;
}

static void
reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tts		*tts = arg;
	struct sched_ep_info	 info;
	size_t			 i;

	for (i = tts->neps; i-- > 0;) {
		if (!tts->eps[i]->leaving)
			continue;
		sched_ep_info(tts->eps[i]->sep, &info);
		if (info.inflight == 0)
			endpoint_free(tts, i);
	}
}

int
tts_endpoint_drain(struct tts *tts, const char *name, char **cause)
{
	struct sched_ep_info	 info;
	struct endpoint		*ep;

	if ((ep = find_endpoint(tts, name, NULL)) == NULL) {
		*cause = no_endpoint(name);
		return -1;
	}
	sched_ep_info(ep->sep, &info);
	sched_ep_drain(ep->sep);
	ep->leaving = 1;
	endpoint_event(ep, info.state, SCHED_EP_DRAINING,
	    "drained: no new work, it leaves when idle");
	event_active(tts->reap, EV_TIMEOUT, 0);
	return 0;
}

int
tts_endpoint_remove(struct tts *tts, const char *name, char **cause)
{
	struct sched_ep_info	 info;
	struct endpoint		*ep;
	size_t			 i;

	if ((ep = find_endpoint(tts, name, &i)) == NULL) {
		*cause = no_endpoint(name);
		return -1;
	}
	sched_ep_info(ep->sep, &info);
	if (info.inflight > 0) {
		sched_ep_drain(ep->sep);
		ep->leaving = 1;
		endpoint_event(ep, info.state, SCHED_EP_DRAINING,
		    "removed: it leaves when its work is done");
		return 1;	/* leaves when its work is done */
	}
	endpoint_free(tts, i);
	return 0;
}

int
tts_endpoint_add(struct tts *tts, const char *spec, char **cause)
{
	if (add_endpoint(tts, spec, cause) != 0)
		return -1;
	log_info("endpoint %s added", backend_name(
	    tts->eps[tts->neps - 1]->be));
	kick(tts);
	return 0;
}

size_t
tts_endpoint_count(struct tts *tts)
{
	return tts->neps;
}

const char *
tts_endpoint_name(struct tts *tts, size_t i)
{
	return i < tts->neps ? backend_name(tts->eps[i]->be) : NULL;
}

void
tts_reconfigure(struct tts *tts)
{
	const struct config	*cf = tts->srv->cf;
	struct cache_opts	 co;

	size_t			 i;

	co.max_entries = (size_t)cf->cache_max_size;
	co.max_bytes = cf->cache_max_bytes;
	co.ttl_usec = (uint64_t)cf->cache_ttl * 1000000;
	cache_set_opts(tts->cache, &co);
	for (i = 0; i < tts->neps; i++)
		backend_set_max_bytes(tts->eps[i]->be, cf->tts_max_audio_bytes);
}

static int
add_endpoint(struct tts *tts, const char *spec, char **cause)
{
	const struct config	*cf = tts->srv->cf;
	struct endpoint		*ep;
	struct backend		*be;
	size_t			 i;

	be = backend_new(tts->srv->base, tts->srv->fetch, spec,
	    (int)cf->tts_max_concurrent, cf->tts_api_key,
	    cf->tts_request_timeout, cause);
	if (be == NULL)
		return -1;
	backend_set_max_bytes(be, cf->tts_max_audio_bytes);
	for (i = 0; i < tts->neps; i++)
		if (strcmp(backend_id(tts->eps[i]->be), backend_id(be)) == 0) {
			*cause = xasprintf("endpoint '%s' is listed twice",
			    backend_name(be));
			backend_free(be);
			return -1;
		}
	ep = xcalloc(1, sizeof *ep);
	ep->tts = tts;
	ep->be = be;
	ep->sep = sched_ep_add(tts->sched, backend_name(be), backend_max(be),
	    backend_weight(be), ep);
	tts->eps = xreallocarray(tts->eps, tts->neps + 1, sizeof *tts->eps);
	tts->eps[tts->neps++] = ep;
	return 0;
}

/* Is this program on PATH? */
static int
on_path(const char *prog)
{
	const char	*path = getenv("PATH");
	char		*copy, *dir, *save, *full;
	int		 found = 0;

	if (path == NULL)
		return 0;
	copy = xstrdup(path);
	for (dir = strtok_r(copy, ":", &save); dir != NULL && !found;
	    dir = strtok_r(NULL, ":", &save)) {
		full = xasprintf("%s/%s", dir, prog);
		found = access(full, X_OK) == 0;
		free(full);
	}
	free(copy);
	return found;
}

/* The endpoint specs the configuration asks for (to free with
 * free_specs); the local voice when none is set and espeak-ng exists. */
static char **
config_specs(const struct config *cf, size_t *n)
{
	char	**v = NULL, *list, *tok, *save;
	size_t	  i;

	*n = 0;
	if (cf->tts_endpoints != NULL) {
		list = xstrdup(cf->tts_endpoints);
		for (tok = strtok_r(list, ",", &save); tok != NULL;
		    tok = strtok_r(NULL, ",", &save)) {
			tok = strtrim(tok);
			if (*tok == '\0')
				continue;
			v = xreallocarray(v, *n + 1, sizeof *v);
			v[(*n)++] = xstrdup(tok);
		}
		free(list);
	}
	for (i = 0; i < cf->nendpoints; i++) {
		v = xreallocarray(v, *n + 1, sizeof *v);
		v[(*n)++] = xstrdup(cf->endpoints[i]);
	}
	if (*n == 0 && cf->tts_endpoints == NULL && on_path("espeak-ng")) {
		v = xreallocarray(v, 1, sizeof *v);
		v[(*n)++] = xstrdup("exec:espeak-ng --stdout");
	}
	return v;
}

static void
free_specs(char **v, size_t n)
{
	while (n > 0)
		free(v[--n]);
	free(v);
}

int
tts_sync_endpoints(struct tts *tts, char **cause)
{
	const struct config	*cf = tts->srv->cf;
	struct sched_ep_info	 info;
	struct endpoint		*ep;
	struct backend		**bes;
	char			**specs, **names, *why;
	size_t			 n, i, j;
	int			 found, before;

	specs = config_specs(cf, &n);
	names = xcalloc(n + 1, sizeof *names);
	bes = xcalloc(n + 1, sizeof *bes);
	/* Check them all before changing anything. */
	for (i = 0; i < n; i++) {
		bes[i] = backend_new(tts->srv->base, tts->srv->fetch, specs[i],
		    (int)cf->tts_max_concurrent, cf->tts_api_key,
		    cf->tts_request_timeout, cause);
		if (bes[i] == NULL) {
			for (j = 0; j < i; j++)
				backend_free(bes[j]);
			free(bes);
			free_specs(names, i);
			free_specs(specs, n);
			return -1;
		}
		names[i] = xstrdup(backend_id(bes[i]));
	}
	/* Those kept take their options as listed now, and come back if
	 * they were draining. */
	for (j = 0; j < n; j++) {
		if ((ep = find_endpoint(tts, names[j], NULL)) == NULL)
			continue;
		sched_ep_info(ep->sep, &info);
		if (backend_update(ep->be, bes[j]))
			log_info("reload: %s: options changed (max %d, "
			    "weight %g)", backend_name(ep->be), backend_max(ep->be),
			    backend_weight(ep->be));
		sched_ep_update(ep->sep, backend_max(ep->be),
		    backend_weight(ep->be));
		if (ep->leaving) {
			ep->leaving = 0;
			before = info.state;
			sched_ep_info(ep->sep, &info);
			endpoint_event(ep, before, info.state,
			    "listed again: back in service");
		}
	}
	for (i = 0; i < n; i++)
		backend_free(bes[i]);
	free(bes);
	for (i = tts->neps; i-- > 0;) {
		for (found = 0, j = 0; j < n && !found; j++)
			found = strcmp(names[j], backend_id(tts->eps[i]->be))
			    == 0;
		if (!found && !tts->eps[i]->leaving)
			tts_endpoint_drain(tts, backend_id(tts->eps[i]->be),
			    cause);
	}
	for (j = 0; j < n; j++) {
		if (find_endpoint(tts, names[j], NULL) != NULL)
			continue;
		if (tts_endpoint_add(tts, specs[j], &why) != 0) {
			log_warn("reload: %s", why);
			free(why);
		}
	}
	free_specs(names, n);
	free_specs(specs, n);
	tts_reconfigure(tts);
	return 0;
}

struct tts *
tts_new(struct server *srv, char **cause)
{
	const struct config	*cf = srv->cf;
	struct tts		*tts;
	struct cache_opts	 co;
	struct sched_opts	 so;
	unsigned char		 seed[16];
	struct timeval		 tv;
	char			**specs;
	size_t			 i, nspecs;

	tts = xcalloc(1, sizeof *tts);
	LIST_INIT(&tts->synths);
	tts->srv = srv;
	co.max_entries = (size_t)cf->cache_max_size;
	co.max_bytes = cf->cache_max_bytes;
	co.ttl_usec = (uint64_t)cf->cache_ttl * 1000000;
	random_bytes(seed, sizeof seed);
	tts->cache = cache_new(&co, seed);
	memset(&so, 0, sizeof so);
	so.retries = (int)cf->tts_retry_count;
	so.fail_threshold = 3;
	so.open_usec = (uint64_t)(cf->tts_health_interval > 0 ?
	    cf->tts_health_interval : 30) * 1000000;
	tts->sched = sched_new(&so);
	sched_set_fit(tts->sched, synth_fits);
	tts->h_synth.name = "ttsaccel_backend_synthesis_seconds";
	tts->h_synth.help = "Backend synthesis time.";
	tts->kick = evtimer_new(srv->base, kick_cb, tts);
	tts->reap = evtimer_new(srv->base, reap_cb, tts);

	specs = config_specs(cf, &nspecs);
	for (i = 0; i < nspecs; i++)
		if (add_endpoint(tts, specs[i], cause) != 0) {
			free_specs(specs, nspecs);
			goto fail;
		}
	free_specs(specs, nspecs);
	if (cf->tts_endpoints == NULL && cf->nendpoints == 0)
		log_info(tts->neps > 0 ? "no TTS_ENDPOINTS: speaking with the "
		    "local voice (espeak-ng)" : "no TTS_ENDPOINTS and no "
		    "espeak-ng: speech is off until an endpoint is "
		    "configured");
	if (cf->tts_health_interval > 0) {
		tts->health = event_new(srv->base, -1, EV_PERSIST, health_cb,
		    tts);
		tv.tv_sec = cf->tts_health_interval;
		tv.tv_usec = 0;
		evtimer_add(tts->health, &tv);
	}
	if (cf->tts_keepwarm_interval > 0) {
		tts->warmth = event_new(srv->base, -1, EV_PERSIST, warmth_cb,
		    tts);
		tv.tv_sec = cf->tts_keepwarm_interval;
		tv.tv_usec = 0;
		evtimer_add(tts->warmth, &tv);
	}
	return tts;
fail:
	tts_free(tts);
	return NULL;
}

void
tts_free(struct tts *tts)
{
	struct synth	*s;
	size_t		 i;

	if (tts == NULL)
		return;
	/* Syntheses still running: stop them, drop their records. */
	while ((s = LIST_FIRST(&tts->synths)) != NULL) {
		backend_cancel(s->call);
		cache_set_user(s->e, NULL);
		synth_free(s);
	}
	for (i = 0; i < tts->neps; i++) {
		backend_cancel(tts->eps[i]->probe);
		backend_cancel(tts->eps[i]->warm);
	}
	if (tts->health != NULL)
		event_free(tts->health);
	if (tts->warmth != NULL)
		event_free(tts->warmth);
	event_free(tts->kick);
	event_free(tts->reap);
	sched_free(tts->sched);
	cache_free(tts->cache);
	for (i = 0; i < tts->neps; i++) {
		backend_free(tts->eps[i]->be);
		free(tts->eps[i]);
	}
	free(tts->eps);
	free(tts);
}
