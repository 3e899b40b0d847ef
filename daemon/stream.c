/* stream: audio to one client — cache entries or a reply's segments sent
 * in order as one answer (WAV merged under one header), or the WAV of
 * every segment joined and converted to another format. */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "convert.h"
#include "encode.h"
#include "http.h"
#include "log.h"
#include "params.h"
#include "reply.h"
#include "sched.h"
#include "server.h"
#include "speech_sse.h"
#include "stream.h"
#include "tts.h"
#include "util.h"
#include "wav.h"

#define AS_HIGH_WATER	(256 * 1024)	/* client output buffered: wait */
#define SILENCE_RATE	24000	/* nothing to say: 100 ms of this */

/*
 * An audio stream to one client: a run of entries sent in order as one
 * stream.  WAV is merged: one header, then every entry's samples.
 */
struct astream {
	struct hreq			*h;
	struct server			*srv;
	struct hstream			*hs;		/* the reply */
	struct tts_params		 p;
	char				*model, *voice, *format, *instr;
	int				 wav;
	const char			*label;		/* X-TTS-Cache */
	/* the source: fixed entries, or a reply's segments */
	struct cache_entry		**ents;
	size_t				 nents;
	struct reply			*reply;
	struct reply_watch		*rw;
	/* where we are */
	size_t				 idx;
	struct cache_entry		*e;
	struct tts_waiter		*w;
	size_t				 off, end;
	int				 parsed;
	int				 draining;
	int				 header_sent;
	struct wav_info			 fmt;		/* the stream's */
	struct wav_info			 from;		/* this entry's */
	int				 reshape;	/* it differs: brought
							   to fmt once whole */
	struct event			*pump_ev;
	char				 err[512];	/* of a failed entry */
	int				 errstatus;	/* its status */
	int				 events;	/* framed as events */
	struct speech_sse		 sse;		/* their framing */
	struct evbuffer			*evbuf;		/* events being framed */
	int				 left;		/* the client went
							   before the end */
};

static void	as_pump(struct astream *);
static void	as_closed_cb(void *);
static void	as_drained_cb(void *);
static void	as_cut_cb(void *);

static const struct http_stream_cbs as_cbs = {
	as_closed_cb, as_drained_cb, as_cut_cb
};

static void
as_free(struct astream *as)
{
	size_t	i;

	tts_unwatch(as->w);
	if (as->e != NULL)
		tts_release(as->srv->tts, as->e);
	for (i = as->idx + (as->e != NULL && as->ents != NULL ? 1 : 0);
	    as->ents != NULL && i < as->nents; i++)
		tts_release(as->srv->tts, as->ents[i]);
	free(as->ents);
	if (as->reply != NULL) {
		reply_unwatch(as->rw);
		if (as->left)
			reply_abandon(as->reply);
		else
			reply_release(as->reply);
	}
	if (as->pump_ev != NULL)
		event_free(as->pump_ev);
	if (as->evbuf != NULL)
		evbuffer_free(as->evbuf);
	free(as->model);
	free(as->voice);
	free(as->format);
	free(as->instr);
	server_stream_done(as->srv);
	free(as);
}

static void
as_closed_cb(void *arg)
{
	struct astream	*as = arg;

	as->hs = NULL;
	as->left = 1;
	as_free(as);
}

#define REFUSED_MSG	"the TTS backend refused this request: "

/* A failed synthesis: the backend's own 4xx when the request was at
 * fault (an OpenAI-shaped error with its message), else a 502. */
static void
synth_error(struct hreq *h, int status, const char *why)
{
	if (status >= 400 && status < 500)
		http_error(h, status, "invalid_request_error",
		    "tts_request_refused", REFUSED_MSG "%s", why);
	else
		http_error(h, 502, "server_error", "synthesis_failed", "%s",
		    why);
}

static void	as_start(struct astream *);
static void	as_send_events(struct astream *);

/* Events begun: the same error as an error event, ending them. */
static void
as_error_event(struct astream *as, int status, const char *why)
{
	struct evbuffer	*b = as->evbuf;
	char		*msg;

	if (status >= 400 && status < 500) {
		msg = xasprintf(REFUSED_MSG "%s", why);
		speech_sse_error(b, "invalid_request_error",
		    "tts_request_refused", msg);
		free(msg);
	} else
		speech_sse_error(b, "server_error", "synthesis_failed", why);
	as_send_events(as);
}

/* Finish: the last chunk if started, or cut short (why: the reason of a
 * failure); else an error or an empty reply.  Events end with the done
 * event, or an error event. */
static void
as_end(struct astream *as, int status, const char *why)
{
	struct hstream	*hs = as->hs;

	if (as->events && why == NULL && !http_stream_started(hs))
		as_start(as);	/* no audio: still the done event */
	if (as->events && http_stream_started(hs)) {
		if (why != NULL) {
			as_error_event(as, status, why);
			as->h->note = "cut";
		} else {
			speech_sse_done(&as->sse, as->evbuf);
			as_send_events(as);
		}
		why = NULL;	/* said: the stream ends as it should */
	}
	as->hs = NULL;
	if (http_stream_started(hs)) {
		if (why != NULL)
			http_stream_abort(hs, "cut");
		else
			http_stream_end(hs);
	} else {
		http_stream_release(hs);
		if (why != NULL)
			synth_error(as->h, status, why);
		else
			http_reply(as->h, 200, params_content_type(as->format),
			    NULL, 0);
	}
	as_free(as);
}

/* Shutdown's deadline: a stream begun is cut short, one not yet begun
 * answered 503. */
static void
as_cut_cb(void *arg)
{
	struct astream	*as = arg;
	struct hstream	*hs = as->hs;

	log_info("%s stream cut by shutdown", as->h->id);
	if (as->events && http_stream_started(hs)) {
		/* An error event, as a chat's stream ends. */
		speech_sse_error(as->evbuf, "server_error", "shutting_down",
		    "the server is shutting down and cut this stream: send "
		    "the request again");
		as_send_events(as);
		as->h->note = "shutdown-cut";
		as->hs = NULL;
		http_count_until_sent(as->h);	/* written before the exit */
		http_stream_end(hs);
		as_free(as);
		return;
	}
	as->hs = NULL;
	if (http_stream_started(hs))
		http_stream_abort(hs, "shutdown-cut");
	else {
		http_stream_release(hs);
		http_shutting_down(as->h);
	}
	as_free(as);
}

static void
as_start(struct astream *as)
{
	struct evkeyvalq	*out = evhttp_request_get_output_headers(
				    as->h->req);

	evhttp_add_header(out, "X-TTS-Cache", as->label);
	if (as->reply != NULL)
		evhttp_add_header(out, "X-TTS-Reply-Id", reply_id(as->reply));
	hist_observe(&as->srv->h_first_audio, now_usec() - as->h->t0);
	http_stream_start(as->hs, 200, as->events ? "text/event-stream" :
	    params_content_type(as->format));
	if (as->reply != NULL)
		http_stream_watch(as->hs);	/* a listener leaving: grace */
}

static void
as_drained_cb(void *arg)
{
	struct astream	*as = arg;

	as->draining = 0;
	as_pump(as);
}

/* Send the events framed in as->evbuf (the stream started), and empty it. */
static void
as_send_events(struct astream *as)
{
	struct evbuffer	*b = as->evbuf;
	size_t		 len = evbuffer_get_length(b);

	if (len > 0 && http_stream_chunk(as->hs, evbuffer_pullup(b, -1), len,
	    AS_HIGH_WATER))
		as->draining = 1;
	evbuffer_drain(b, len);
}

/* The audio's next bytes, as they are or framed as events. */
static void
as_send(struct astream *as, const void *data, size_t len)
{

	if (len == 0)
		return;
	if (!http_stream_started(as->hs))
		as_start(as);
	if (as->events) {
		speech_sse_delta(&as->sse, as->evbuf, data, len);
		as_send_events(as);
	} else if (http_stream_chunk(as->hs, data, len, AS_HIGH_WATER))
		as->draining = 1;
}

static void
as_entry_cb(void *arg)
{
	struct astream	*as = arg;
	const char	*err;

	/* The reason goes with the synthesis: keep it now. */
	if (cache_state(as->e) == CACHE_FAILED &&
	    (err = tts_entry_error(as->e)) != NULL) {
		snprintf(as->err, sizeof as->err, "%s", err);
		as->errstatus = tts_entry_status(as->e);
	}
	/* Pump from the loop: we are inside the synthesis' notification. */
	event_active(as->pump_ev, EV_TIMEOUT, 0);
}

static void
as_pump_cb(evutil_socket_t fd, short what, void *arg)
{
	as_pump(arg);
}

/* PCM bytes of an entry that is complete (for an exact WAV header). */
static int
pcm_len(struct cache_entry *e, const struct wav_info *to, uint64_t *sum)
{
	struct wav_info		 wi;
	const unsigned char	*d;
	const char		*err;
	size_t			 len, n;

	if (cache_state(e) != CACHE_DONE)
		return -1;
	d = cache_data(e, &len);
	if (wav_parse(d, len, &wi, &err) != 1)
		return -1;
	if (wi.data_len != 0 && wi.data_len != 0xffffffff &&
	    wi.data_len <= len - wi.data_offset)
		n = wi.data_len;
	else
		n = len - wi.data_offset;
	/* Another rate or layout is sent brought to the stream's. */
	*sum += wav_same_layout(&wi, to) ? n : wav_reshape_len(&wi, n, to);
	return 0;
}

static int
seg_pcm_len(struct astream *as, size_t i, uint64_t *sum)
{
	struct cache_entry	*e;

	e = tts_peek(as->srv->tts, &as->p, reply_seg_text(as->reply, i));
	return e != NULL ? pcm_len(e, &as->fmt, sum) : -1;
}

/* The merged stream's WAV header: exact when every part is complete. */
static void
send_wav_header(struct astream *as)
{
	unsigned char	hdr[44];
	uint64_t	sum = 0;
	size_t		i;
	int		exact = 1;

	if (as->ents != NULL) {
		for (i = as->idx; i < as->nents && exact; i++)
			exact = pcm_len(as->ents[i], &as->fmt, &sum) == 0;
	} else if (reply_finished(as->reply) && !reply_cancelled(as->reply)) {
		/* A reply whose every segment is in the cache already. */
		for (i = as->idx; i < reply_nsegs(as->reply) && exact; i++)
			exact = reply_seg_state(as->reply, i) == RSEG_FAILED ||
			    seg_pcm_len(as, i, &sum) == 0;
	} else
		exact = 0;	/* still streaming: the length is not known */
	if (!exact || sum > 0xfffffff0)
		sum = 0xffffffff;
	wav_header(hdr, &as->fmt, (uint32_t)sum);
	as_send(as, hdr, sizeof hdr);
	as->header_sent = 1;
}

/* Next entry of the source into as->e; 0, or 1 to wait, -1 at the end. */
static int
as_next(struct astream *as)
{
	int	how;

	if (as->ents != NULL) {
		if (as->idx >= as->nents)
			return -1;
		as->e = as->ents[as->idx];
		return 0;
	}
	if (as->idx >= reply_nsegs(as->reply))
		return reply_finished(as->reply) ? -1 : 1;
	if (reply_seg_state(as->reply, as->idx) == RSEG_CANCELLED)
		return -1;	/* the reply ends where it was cancelled */
	if (reply_seg_state(as->reply, as->idx) == RSEG_FAILED) {
		as->idx++;
		return as_next(as);
	}
	as->e = tts_obtain(as->srv->tts, &as->p, reply_seg_text(as->reply, as->idx), SCHED_ONDEMAND,
	    (unsigned)as->idx, &how);
	if (as->e == NULL) {
		as->idx++;
		return as_next(as);
	}
	return 0;
}

static void
as_pump(struct astream *as)
{
	const unsigned char	*d;
	const char		*err;
	struct wav_info		 wi;
	unsigned char		*out;
	size_t			 len, olen;
	int			 st, r;

	while (!as->draining && as->hs != NULL) {
		if (as->e == NULL) {
			if ((r = as_next(as)) == 1)
				return;		/* the reply grows later */
			if (r == -1) {
				if (as->wav && !as->header_sent &&
				    http_stream_started(as->hs))
					send_wav_header(as);
				as_end(as, 0, NULL);
				return;
			}
			as->off = 0;
			as->end = 0;
			as->parsed = !as->wav;
			as->reshape = 0;
		}
		st = cache_state(as->e);
		d = cache_data(as->e, &len);
		if (!as->parsed) {
			r = wav_parse(d, len, &wi, &err);
			if (r == 0 && st == CACHE_PENDING)
				goto wait;
			if (r == 1) {
				as->off = wi.data_offset;
				if (wi.data_len != 0 &&
				    wi.data_len != 0xffffffff &&
				    wi.data_len <= len - as->off)
					as->end = as->off + wi.data_len;
				/* The first entry's layout is the stream's;
				 * one with another rate or channel count is
				 * brought to it. */
				as->from = wi;
				if (!as->header_sent) {
					as->fmt = wi;
					send_wav_header(as);
				} else
					as->reshape = !wav_same_layout(&wi,
					    &as->fmt);
			} else if (st == CACHE_DONE)
				log_warn("%s: segment %zu is not WAV (%s); sent "
				    "as it is", as->h->id, as->idx, r == 0 ?
				    "too short" : err);
			as->parsed = 1;
		}
		if (as->end != 0 && len > as->end)
			len = as->end;	/* trailing chunks are not samples */
		if (as->reshape && st == CACHE_PENDING)
			goto wait;	/* brought to the stream's once whole */
		if (as->reshape && st == CACHE_DONE && as->off < len) {
			out = wav_reshape(&as->from, d + as->off, len - as->off,
			    &as->fmt, &olen);
			if (out == NULL) {
				log_warn("%s: segment %zu is %u Hz, %u channel(s), "
				    "%u bits, unlike the stream's %u Hz, %u, %u, "
				    "and cannot be brought to it: left out",
				    as->h->id, as->idx, as->from.rate,
				    as->from.channels, as->from.bits,
				    as->fmt.rate, as->fmt.channels,
				    as->fmt.bits);
			} else {
				log_info("%s: segment %zu brought from %u Hz, %u "
				    "channel(s) to the stream's %u Hz, %u",
				    as->h->id, as->idx, as->from.rate,
				    as->from.channels, as->fmt.rate,
				    as->fmt.channels);
				as_send(as, out, olen);
				free(out);
			}
			as->off = len;
		}
		if (!as->reshape && as->off < len) {
			as_send(as, d + as->off, len - as->off);
			as->off = len;
		}
		if (st == CACHE_PENDING)
			goto wait;
		if (st == CACHE_FAILED) {
			err = as->err[0] != '\0' ? as->err :
			    tts_entry_error(as->e);
			log_warn("%s: segment %zu failed: %s", as->h->id,
			    as->idx, err != NULL ? err : "synthesis failed");
			if (as->reply == NULL) {
				/* A speech request: no partial answer. */
				as_end(as, as->errstatus != 0 ? as->errstatus :
				    tts_entry_status(as->e), err != NULL ? err :
				    "synthesis failed");
				return;
			}
		}
		tts_unwatch(as->w);
		as->w = NULL;
		tts_release(as->srv->tts, as->e);
		as->e = NULL;
		as->idx++;
	}
	return;
wait:
	if (as->w == NULL)
		as->w = tts_watch(as->srv->tts, as->e, as_entry_cb, as);
}

static void
as_reply_cb(void *arg)
{
	struct astream	*as = arg;
	const unsigned char *d;
	size_t		 len;

	if (reply_cancelled(as->reply) && as->e != NULL &&
	    cache_state(as->e) == CACHE_PENDING) {
		/* Cancelled mid-segment: what came of it goes out, and the
		 * stream ends now, letting the synthesis go. */
		d = cache_data(as->e, &len);
		if (as->end != 0 && len > as->end)
			len = as->end;
		if (as->parsed && !as->reshape && as->off < len)
			as_send(as, d + as->off, len - as->off);
		as_end(as, 0, NULL);
		return;
	}
	event_active(as->pump_ev, EV_TIMEOUT, 0);
}

static struct astream *
as_new(struct hreq *h, const struct tts_params *p, const char *label,
    const struct speech_sse *ev)
{
	struct astream	*as;

	as = xcalloc(1, sizeof *as);
	as->h = h;
	as->srv = h->srv;
	as->model = xstrdup(p->model);
	as->voice = xstrdup(p->voice);
	as->format = xstrdup(p->format);
	as->instr = p->instructions != NULL ? xstrdup(p->instructions) : NULL;
	as->p.model = as->model;
	as->p.voice = as->voice;
	as->p.format = as->format;
	as->p.instructions = as->instr;
	as->p.speed = p->speed;
	as->wav = strcmp(p->format, "wav") == 0;
	as->label = label;
	if (ev != NULL) {
		as->events = 1;
		as->sse = *ev;
		as->evbuf = evbuffer_new();
	}
	as->pump_ev = evtimer_new(h->srv->base, as_pump_cb, as);
	h->srv->nstreams++;
	as->hs = http_stream_new(h, &as_cbs, as);
	return as;
}

/* Every entry complete (a hit of each): their merged form, from the
 * cache or made now; NULL when they cannot be merged. */
static struct cache_entry *
merged_entry(struct hreq *h, struct cache_entry **ents, size_t n)
{
	const char	*err;
	size_t		 i;

	for (i = 0; i < n; i++)
		if (cache_state(ents[i]) != CACHE_DONE)
			return NULL;
	return encode_merged(h->srv->encode, ents, n, &err);
}

void
stream_entries(struct hreq *h, const struct tts_params *p, const char *label,
    struct cache_entry **ents, size_t n, int merge,
    const struct speech_sse *ev)
{
	struct astream		*as;
	struct cache_entry	*e;
	size_t			 i;

	if (merge && n > 1 && strcmp(p->format, "wav") == 0 &&
	    (e = merged_entry(h, ents, n)) != NULL) {
		/* One buffer, sent whole like a hit. */
		for (i = 0; i < n; i++)
			tts_release(h->srv->tts, ents[i]);
		if (ev == NULL) {
			free(ents);
			stream_send_labelled(h, label, p->format, e);
			return;
		}
		/* As events: that one buffer framed. */
		ents[0] = e;
		n = 1;
		merge = 0;
	}
	as = as_new(h, p, label, ev);
	if (!merge)
		as->wav = 0;
	as->ents = ents;
	as->nents = n;
	h->note = as->label;
	as_pump(as);
}

void
stream_reply(struct hreq *h, const struct tts_params *p, struct reply *r)
{
	struct astream	*as;

	as = as_new(h, p, "reply", NULL);
	as->reply = r;
	reply_hold(r);
	as->rw = reply_watch(r, as_reply_cb, as);
	h->note = "reply";
	http_stream_watch(as->hs);
	as_pump(as);
}

/*
 * A speech request in a format no endpoint makes: the WAV of every
 * segment is obtained (or found), and once all are complete they are
 * joined, converted and sent whole.
 */
struct aconv {
	struct hreq			*h;
	struct server			*srv;
	struct hstream			*hs;		/* watching the
							   client */
	char				*format;
	const char			*label;		/* X-TTS-Cache */
	struct cache_entry		**ents;
	struct tts_waiter		**ws;
	size_t				 n;
	struct event			*ev;
	char				 err[512];	/* of a failed entry */
	int				 errstatus;	/* its status */
	struct encode_waiter		*ew;		/* converting */
	struct tts_params		*p;		/* as asked */
	int				 events;	/* framed as events */
	struct speech_sse		 sse;		/* their framing */
};

/* The answer is made now: stop watching the client. */
static void
ac_answer(struct aconv *ac)
{
	if (ac->hs != NULL)
		http_stream_release(ac->hs);
	ac->hs = NULL;
}

static void
ac_free(struct aconv *ac)
{
	size_t	i;

	encode_cancel(ac->ew);
	for (i = 0; i < ac->n; i++) {
		tts_unwatch(ac->ws[i]);
		tts_release(ac->srv->tts, ac->ents[i]);
	}
	free(ac->ws);
	free(ac->ents);
	if (ac->ev != NULL)
		event_free(ac->ev);
	free(ac->format);
	free(ac->p);
	ac_answer(ac);
	server_stream_done(ac->srv);
	free(ac);
}

static void
ac_closed_cb(void *arg)
{
	struct aconv	*ac = arg;

	ac->hs = NULL;
	ac_free(ac);
}

/* Shutdown's deadline: nothing was sent yet, a 503. */
static void
ac_cut_cb(void *arg)
{
	struct aconv	*ac = arg;

	log_info("%s stream cut by shutdown", ac->h->id);
	ac_answer(ac);
	http_shutting_down(ac->h);
	ac_free(ac);
}

static const struct http_stream_cbs ac_cbs = {
	ac_closed_cb, NULL, ac_cut_cb
};

struct held {
	struct tts		*tts;
	struct cache_entry	*e;
};

static void
unpin_cb(const void *data, size_t len, void *arg)
{
	struct held	*held = arg;

	tts_release(held->tts, held->e);
	free(held);
}

void
stream_send_entry(struct hreq *h, const char *format, struct cache_entry *e)
{
	struct held		*held;
	const unsigned char	*d;
	size_t			 len;

	d = cache_data(e, &len);
	hist_observe(&h->srv->h_first_audio, now_usec() - h->t0);
	held = xmalloc(sizeof *held);
	held->tts = h->srv->tts;
	held->e = e;
	http_reply_ref(h, 200, params_content_type(format), d, len, unpin_cb,
	    held);
}

/* Conversion failed: a 502 with the reason. */
static void
ac_fail(struct aconv *ac, const char *err)
{
	log_warn("%s: conversion to %s failed: %s", ac->h->id, ac->format,
	    err != NULL ? err : "?");
	ac_answer(ac);
	http_error(ac->h, 502, "server_error", "conversion_failed",
	    "Converting to %s failed: %s", ac->format,
	    err != NULL ? err : "unknown error");
	ac_free(ac);
}

/* A complete entry as the whole answer, labelled (X-TTS-Cache). */
void
stream_send_labelled(struct hreq *h, const char *label, const char *format,
    struct cache_entry *e)
{
	evhttp_add_header(evhttp_request_get_output_headers(h->req),
	    "X-TTS-Cache", label);
	h->note = label;
	stream_send_entry(h, format, e);
}

/* The converted audio, from the cache. */
static void
ac_send(struct aconv *ac, struct cache_entry *e)
{
	struct cache_entry	**ents;

	ac_answer(ac);
	if (ac->events) {
		/* Framed by the stream of entries, that one alone. */
		ents = xcalloc(1, sizeof *ents);
		ents[0] = e;
		stream_entries(ac->h, ac->p, ac->label, ents, 1, 0, &ac->sse);
	} else
		stream_send_labelled(ac->h, ac->label, ac->format, e);
	ac_free(ac);
}

static void
ac_encoded_cb(void *arg, struct cache_entry *e, const char *err)
{
	struct aconv	*ac = arg;

	ac->ew = NULL;		/* freed after this call */
	if (e == NULL)
		ac_fail(ac, err);
	else
		ac_send(ac, e);
}

const unsigned char *
stream_silence_wav(size_t *len)
{
	static unsigned char	wav[44 + SILENCE_RATE / 10 * 2];
	struct wav_info		wi;

	if (wav[0] == '\0') {
		memset(&wi, 0, sizeof wi);
		wi.format = 1;
		wi.channels = 1;
		wi.rate = SILENCE_RATE;
		wi.bits = 16;
		wav_header(wav, &wi, SILENCE_RATE / 10 * 2);
	}
	*len = sizeof wav;
	return wav;
}

/* Every entry complete: their conversion, found in the cache or made on
 * a worker thread (the loop goes on meanwhile). */
static void
ac_finish(struct aconv *ac)
{
	struct encode_src	 silence;
	struct cache_entry	*e;
	const char		*err = NULL;
	int			 r;

	if (ac->n == 0) {	/* nothing to say */
		silence.data = stream_silence_wav(&silence.len);
		r = encode_obtain_static(ac->srv->encode, ac->format,
		    "silence", &silence, ac_encoded_cb, ac, &e, &ac->ew, &err);
	} else
		r = encode_obtain(ac->srv->encode, ac->format, ac->ents, ac->n,
		    ac_encoded_cb, ac, &e, &ac->ew, &err);
	if (r == ENCODE_HIT)
		ac_send(ac, e);
	else if (r < 0) {
		ac_answer(ac);
		http_error(ac->h, 503, "server_error", "server_busy",
		    "%d conversions are waiting already: retry in a moment, "
		    "or ask for wav.", ENCODE_QUEUE_MAX);
		ac_free(ac);
	}
}

static void	ac_check(struct aconv *);

static void
ac_entry_cb(void *arg)
{
	struct aconv	*ac = arg;
	const char	*err;
	size_t		 i;

	/* The reason goes with the synthesis: keep it now. */
	for (i = 0; i < ac->n && ac->err[0] == '\0'; i++)
		if (cache_state(ac->ents[i]) == CACHE_FAILED) {
			snprintf(ac->err, sizeof ac->err, "%s",
			    (err = tts_entry_error(ac->ents[i])) != NULL ?
			    err : "synthesis failed");
			ac->errstatus = tts_entry_status(ac->ents[i]);
		}
	/* Go on from the loop: we are inside the synthesis' notification. */
	event_active(ac->ev, EV_TIMEOUT, 0);
}

static void
ac_check_cb(evutil_socket_t fd, short what, void *arg)
{
	ac_check(arg);
}

/* A failed entry ends it (502), a pending one is waited for. */
static void
ac_check(struct aconv *ac)
{
	const char	*err;
	size_t		 i;
	int		 pending = 0;

	for (i = 0; i < ac->n; i++) {
		switch (cache_state(ac->ents[i])) {
		case CACHE_FAILED:
			err = ac->err[0] != '\0' ? ac->err :
			    tts_entry_error(ac->ents[i]);
			if (err == NULL)
				err = "synthesis failed";
			log_warn("%s: segment %zu failed: %s", ac->h->id, i,
			    err);
			ac_answer(ac);
			synth_error(ac->h, ac->errstatus != 0 ? ac->errstatus :
			    tts_entry_status(ac->ents[i]), err);
			ac_free(ac);
			return;
		case CACHE_PENDING:
			if (ac->ws[i] == NULL)
				ac->ws[i] = tts_watch(ac->srv->tts,
				    ac->ents[i], ac_entry_cb, ac);
			pending = 1;
			break;
		}
	}
	if (!pending)
		ac_finish(ac);
}

void
stream_convert(struct hreq *h, const struct tts_params *p,
    char *const *texts, size_t ntexts, struct reply *r,
    const struct speech_sse *ev)
{
	struct tts_params	 pw = *p;
	struct aconv		*ac;
	size_t			 i;
	int			 how, hit = 1;
	size_t			 missed = 0;

	ac = xcalloc(1, sizeof *ac);
	ac->h = h;
	ac->srv = h->srv;
	ac->format = xstrdup(p->format);
	ac->p = params_dup(p);
	if (ev != NULL) {
		ac->events = 1;
		ac->sse = *ev;
	}
	ac->ents = xcalloc(ntexts, sizeof *ac->ents);
	ac->ws = xcalloc(ntexts, sizeof *ac->ws);
	ac->ev = evtimer_new(h->srv->base, ac_check_cb, ac);
	h->srv->nstreams++;
	pw.format = "wav";
	for (i = 0; i < ntexts; i++) {
		ac->ents[i] = tts_obtain(h->srv->tts, &pw, texts[i],
		    SCHED_ONDEMAND, (unsigned)i, &how);
		if (ac->ents[i] == NULL) {
			http_error(h, 503, "server_error", "no_tts_endpoint",
			    "No TTS endpoint is usable: configure "
			    "TTS_ENDPOINTS or check /health.");
			ac_free(ac);
			return;
		}
		ac->n = i + 1;
		if (how != TTS_HIT)
			hit = 0;
		if (how == TTS_MISS)
			missed++;
	}
	if (r != NULL) {
		ac->label = "reply";
		evhttp_add_header(evhttp_request_get_output_headers(h->req),
		    "X-TTS-Reply-Id", reply_id(r));
	} else if (ntexts == 0) {
		ac->label = "empty";
		h->srv->served[SERVED_EMPTY]++;
	} else {
		ac->label = hit ? "hit" : ntexts == 1 ? "miss" : "assembled";
		h->srv->served[missed == 0 ? SERVED_CONVERTED :
		    missed < ntexts ? SERVED_PARTIAL : SERVED_MISS]++;
	}
	h->note = ac->label;
	ac->hs = http_stream_new(h, &ac_cbs, ac);
	ac_check(ac);
}

