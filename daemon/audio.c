/* audio: the speech endpoints — /v1/audio/speech, whole replies, cache. */
#include <sys/queue.h>

#include <cjson/cJSON.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "audio.h"
#include "cache.h"
#include "config.h"
#include "convert.h"
#include "log.h"
#include "mirror.h"
#include "reply.h"
#include "request.h"
#include "sched.h"
#include "segment.h"
#include "server.h"
#include "shared.h"
#include "split.h"
#include "tts.h"
#include "ttsmap.h"
#include "util.h"
#include "wav.h"

#define AS_HIGH_WATER	(256 * 1024)	/* client output buffered: wait */
#define AC_SLICE_FRAMES	8192	/* converted before the loop goes on */
#define SILENCE_RATE	24000	/* nothing to say: 100 ms of this */

static const struct {
	const char	*format;
	const char	*ctype;
} formats[] = {
	{ "mp3", "audio/mpeg" },
	{ "opus", "audio/ogg" },
	{ "aac", "audio/aac" },
	{ "flac", "audio/flac" },
	{ "wav", "audio/wav" },
	{ "pcm", "audio/pcm" },
};

/* The SERVED_* kinds, as /metrics and /cache/stats name them. */
static const char *const served_names[SERVED_KINDS] = {
	"exact", "assembled", "partial", "converted", "miss", "empty"
};

const char *
audio_content_type(const char *fmt)
{
	size_t	i;

	for (i = 0; fmt != NULL && i < sizeof formats / sizeof formats[0];
	    i++)
		if (strcmp(formats[i].format, fmt) == 0)
			return formats[i].ctype;
	return NULL;
}

/*
 * An audio stream to one client: a run of entries sent in order as one
 * stream.  WAV is merged: one header, then every entry's samples.
 */
struct astream {
	struct hreq			*h;
	struct server			*srv;
	struct evhttp_request		*req;
	struct evhttp_connection	*evcon;
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
	int				 started;
	int				 draining;
	int				 header_sent;
	struct wav_info			 fmt;		/* the stream's */
	struct wav_info			 from;		/* this entry's */
	int				 reshape;	/* it differs: brought
							   to fmt once whole */
	struct event			*pump_ev;
	char				 err[512];	/* of a failed entry */
	int				 errstatus;	/* its status */
};

static void	as_pump(struct astream *);

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
		reply_release(as->reply);
	}
	if (as->pump_ev != NULL)
		event_free(as->pump_ev);
	free(as->model);
	free(as->voice);
	free(as->format);
	free(as->instr);
	server_stream_done(as->srv);
	free(as);
}

static void
as_close_cb(struct evhttp_connection *evcon, void *arg)
{
	struct astream		*as = arg;
	struct evhttp_request	*req = as->req;

	evhttp_connection_set_closecb(evcon, NULL, NULL);
	as->req = NULL;
	as->h->note = "client-closed";
	http_done(as->h);
	if (req != NULL && as->started)
		evhttp_send_reply_end(req);	/* frees the orphan request */
	as_free(as);
}

/* A failed synthesis: the backend's own 4xx when the request was at
 * fault (an OpenAI-shaped error with its message), else a 502. */
static void
synth_error(struct hreq *h, int status, const char *why)
{
	if (status >= 400 && status < 500)
		http_error(h, status, "invalid_request_error",
		    "tts_request_refused", "the TTS backend refused this "
		    "request: %s", why);
	else
		http_error(h, 502, "server_error", "synthesis_failed", "%s",
		    why);
}

/* Finish: the last chunk if started, else an error or an empty reply. */
static void
as_end(struct astream *as, int status, const char *why)
{
	if (as->req != NULL)
		evhttp_connection_set_closecb(as->evcon, NULL, NULL);
	if (as->started) {
		if (why != NULL)
			as->h->note = "cut";
		evhttp_send_reply_end(as->req);
		http_done(as->h);
	} else if (why != NULL)
		synth_error(as->h, status, why);
	else
		http_reply(as->h, 200, audio_content_type(as->format), NULL, 0);
	as->req = NULL;
	as_free(as);
}

static void
as_start(struct astream *as)
{
	struct evkeyvalq	*out = evhttp_request_get_output_headers(as->req);
	struct timeval		 tv = { 60, 0 };

	http_headers(as->h);
	evhttp_add_header(out, "Content-Type", audio_content_type(as->format));
	evhttp_add_header(out, "X-TTS-Cache", as->label);
	if (as->reply != NULL)
		evhttp_add_header(out, "X-TTS-Reply-Id", reply_id(as->reply));
	as->h->status = 200;
	hist_observe(&as->srv->h_first_audio, now_usec() - as->h->t0);
	evhttp_send_reply_start(as->req, 200, "OK");
	bufferevent_set_timeouts(evhttp_connection_get_bufferevent(as->evcon),
	    NULL, &tv);
	as->started = 1;
}

static void
as_drained_cb(struct evhttp_connection *evcon, void *arg)
{
	struct astream	*as = arg;

	as->draining = 0;
	as_pump(as);
}

static void
as_send(struct astream *as, const void *data, size_t len)
{
	struct evbuffer		*buf;
	struct bufferevent	*bev;

	if (len == 0)
		return;
	if (!as->started)
		as_start(as);
	buf = evbuffer_new();
	evbuffer_add(buf, data, len);
	as->h->bytes += len;
	bev = evhttp_connection_get_bufferevent(as->evcon);
	if (evbuffer_get_length(bufferevent_get_output(bev)) + len >
	    AS_HIGH_WATER) {
		as->draining = 1;
		evhttp_send_reply_chunk_with_cb(as->req, buf, as_drained_cb,
		    as);
	} else
		evhttp_send_reply_chunk(as->req, buf);
	evbuffer_free(buf);
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

/* The live entry of text said with p, if any (LRU order untouched). */
static struct cache_entry *
peek_entry(struct tts *tts, const struct tts_params *p, const char *text)
{
	struct cache_entry	*e;
	char			*key = tts_key(p, text);

	e = cache_peek(tts_cache(tts), key, strlen(key), now_usec());
	free(key);
	return e;
}

static int
seg_pcm_len(struct astream *as, size_t i, uint64_t *sum)
{
	struct cache_entry	*e;

	e = peek_entry(as->srv->tts, &as->p, reply_seg_text(as->reply, i));
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
	} else if (reply_finished(as->reply)) {
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

	while (!as->draining && as->req != NULL) {
		if (as->e == NULL) {
			if ((r = as_next(as)) == 1)
				return;		/* the reply grows later */
			if (r == -1) {
				if (as->wav && !as->header_sent && as->started)
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

	event_active(as->pump_ev, EV_TIMEOUT, 0);
}

static struct astream *
as_new(struct hreq *h, const struct tts_params *p, const char *label)
{
	struct astream	*as;

	as = xcalloc(1, sizeof *as);
	as->h = h;
	as->srv = h->srv;
	as->req = h->req;
	as->evcon = evhttp_request_get_connection(h->req);
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
	as->pump_ev = evtimer_new(h->srv->base, as_pump_cb, as);
	h->srv->nstreams++;
	evhttp_connection_set_closecb(as->evcon, as_close_cb, as);
	return as;
}

struct seglist {
	char	**v;
	size_t	  n, cap;
};

/* The formats we can answer in, for a message: "wav, pcm, flac, mp3
 * or opus". */
const char *
audio_made_formats(struct tts *tts)
{
	static const char	*order[] = { "wav", "pcm", "flac", "mp3", "opus",
				    "aac" };
	static char		 buf[128];
	const char		*v[6];
	size_t			 i, n = 0, len = 0;
	int			 wav = tts_has_format(tts, "wav");

	for (i = 0; i < sizeof order / sizeof order[0]; i++)
		if (tts_has_format(tts, order[i]) || (wav &&
		    convert_can(order[i])))
			v[n++] = order[i];
	buf[0] = '\0';
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s",
		    i == 0 ? "" : i + 1 == n ? " or " : ", ", v[i]);
	return buf;
}

/*
 * A speech request in a format no endpoint makes: the WAV of every
 * segment is obtained (or found), and once all are complete they are
 * joined, converted and sent whole.
 */
struct aconv {
	struct hreq			*h;
	struct server			*srv;
	struct evhttp_connection	*evcon;
	char				*format;
	const char			*label;		/* X-TTS-Cache */
	struct cache_entry		**ents;
	struct tts_waiter		**ws;
	size_t				 n;
	struct event			*ev;
	char				 err[512];	/* of a failed entry */
	int				 errstatus;	/* its status */
	/* converting, a slice at a time */
	struct convert			*conv;
	unsigned char			*join;		/* its input, if ours */
	struct event			*conv_ev;
};

static void
ac_free(struct aconv *ac)
{
	size_t	i;

	convert_free(ac->conv);
	free(ac->join);
	if (ac->conv_ev != NULL)
		event_free(ac->conv_ev);

	for (i = 0; i < ac->n; i++) {
		tts_unwatch(ac->ws[i]);
		tts_release(ac->srv->tts, ac->ents[i]);
	}
	free(ac->ws);
	free(ac->ents);
	if (ac->ev != NULL)
		event_free(ac->ev);
	free(ac->format);
	server_stream_done(ac->srv);
	free(ac);
}

static void
ac_close_cb(struct evhttp_connection *evcon, void *arg)
{
	struct aconv	*ac = arg;

	evhttp_connection_set_closecb(evcon, NULL, NULL);
	ac->h->note = "client-closed";
	http_done(ac->h);
	ac_free(ac);
}

/* The samples of a complete WAV entry; -1 if it is not one. */
static int
ac_samples(struct cache_entry *e, struct wav_info *wi,
    const unsigned char **p, size_t *n)
{
	const unsigned char	*d;
	const char		*err;
	size_t			 len;

	d = cache_data(e, &len);
	if (wav_parse(d, len, wi, &err) != 1 ||
	    (wi->format != 1 && wi->format != 3 && wi->format != 0xfffe))
		return -1;
	*p = d + wi->data_offset;
	*n = len - wi->data_offset;
	if (wi->data_len != 0 && wi->data_len != 0xffffffff &&
	    wi->data_len <= *n)
		*n = wi->data_len;
	return 0;
}

/*
 * libsndfile gives each Ogg stream a random serial number, so the same
 * audio would convert to different bytes each time: give it one made
 * from the content instead (and mend each page's CRC).
 */
static void
ogg_reserial(unsigned char *d, size_t len, uint32_t serial)
{
	uint32_t	crc, page, old = 0;
	size_t		off = 0, plen, i;
	unsigned	k, nseg;

	while (off + 27 <= len && memcmp(d + off, "OggS", 4) == 0) {
		nseg = d[off + 26];
		if (off + 27 + nseg > len)
			return;
		plen = 27 + nseg;
		for (k = 0; k < nseg; k++)
			plen += d[off + 27 + k];
		if (off + plen > len)
			return;
		page = (uint32_t)d[off + 14] | (uint32_t)d[off + 15] << 8 |
		    (uint32_t)d[off + 16] << 16 | (uint32_t)d[off + 17] << 24;
		if (off == 0)
			old = page;
		else if (page != old)
			return;		/* another stream: leave it */
		for (k = 0; k < 4; k++) {
			d[off + 14 + k] = (unsigned char)(serial >> (8 * k));
			d[off + 22 + k] = 0;
		}
		crc = 0;
		for (i = 0; i < plen; i++) {
			crc ^= (uint32_t)d[off + i] << 24;
			for (k = 0; k < 8; k++)
				crc = crc & 0x80000000u ?
				    (crc << 1) ^ 0x04c11db7u : crc << 1;
		}
		for (k = 0; k < 4; k++)
			d[off + 22 + k] = (unsigned char)(crc >> (8 * k));
		off += plen;
	}
}

static void	ac_convert_cb(evutil_socket_t, short, void *);

/* Conversion failed: a 502 with the reason. */
static void
ac_fail(struct aconv *ac, const char *err)
{
	log_warn("%s: conversion to %s failed: %s", ac->h->id, ac->format,
	    err != NULL ? err : "?");
	evhttp_connection_set_closecb(ac->evcon, NULL, NULL);
	http_error(ac->h, 502, "server_error", "conversion_failed",
	    "Converting to %s failed: %s", ac->format,
	    err != NULL ? err : "unknown error");
	ac_free(ac);
}

/* Every entry complete: join, then convert a slice at a time. */
static void
ac_finish(struct aconv *ac)
{
	struct wav_info		 wi, w0;
	const unsigned char	*d, *in;
	unsigned char		*out;
	const char		*err = NULL;
	size_t			 len, inlen, total = 0, i;

	if (ac->n == 1)
		in = cache_data(ac->ents[0], &inlen);	/* pinned by us */
	else {
		for (i = 0; i < ac->n; i++) {
			if (ac_samples(ac->ents[i], &wi, &d, &len) != 0) {
				ac_fail(ac, "a segment is not WAV");
				return;
			}
			if (i == 0)
				w0 = wi;
			else if (!wav_same_layout(&wi, &w0)) {
				/* Brought to the first's rate and layout. */
				if ((len = wav_reshape_len(&wi, len, &w0)) ==
				    0) {
					ac_fail(ac, "the segments' WAV formats "
					    "differ, and are not 16-bit PCM");
					return;
				}
			}
			total += len;
		}
		if (total > CONVERT_IN_MAX) {
			ac_fail(ac, "audio too long to convert");
			return;
		}
		if (w0.format == 0xfffe)
			w0.format = w0.bits == 32 ? 3 : 1;
		ac->join = xmalloc(44 + total);
		wav_header(ac->join, &w0, (uint32_t)total);
		inlen = 44;
		for (i = 0; i < ac->n; i++) {
			ac_samples(ac->ents[i], &wi, &d, &len);
			if (i > 0 && !wav_same_layout(&wi, &w0)) {
				out = wav_reshape(&wi, d, len, &w0, &len);
				memcpy(ac->join + inlen, out, len);
				free(out);
			} else
				memcpy(ac->join + inlen, d, len);
			inlen += len;
		}
		in = ac->join;
	}
	if ((ac->conv = convert_begin(in, inlen, "wav", 0, ac->format,
	    &err)) == NULL) {
		ac_fail(ac, err);
		return;
	}
	ac->conv_ev = evtimer_new(ac->srv->base, ac_convert_cb, ac);
	ac_convert_cb(-1, 0, ac);
}

/* One slice of the conversion; the next after the loop has looked at
 * its sockets; the answer at the end. */
static void
ac_convert_cb(evutil_socket_t fd, short what, void *arg)
{
	static const struct timeval	 now = { 0, 0 };
	struct aconv			*ac = arg;
	unsigned char			*out;
	const char			*err = NULL;
	size_t				 len;
	int				 r;

	if ((r = convert_step(ac->conv, AC_SLICE_FRAMES, &err)) == 1) {
		evtimer_add(ac->conv_ev, &now);
		return;
	}
	if (r != 0) {
		ac_fail(ac, err);
		return;
	}
	out = convert_take(ac->conv, &len);
	if (len >= 4 && memcmp(out, "OggS", 4) == 0) {
		static const unsigned char	 zero[16];
		const char			*k = cache_key(ac->ents[0]);

		ogg_reserial(out, len, (uint32_t)siphash24(zero, k,
		    strlen(k)));
	}
	evhttp_connection_set_closecb(ac->evcon, NULL, NULL);
	evhttp_add_header(evhttp_request_get_output_headers(ac->h->req),
	    "X-TTS-Cache", ac->label);
	ac->h->note = ac->label;
	hist_observe(&ac->srv->h_first_audio, now_usec() - ac->h->t0);
	http_reply(ac->h, 200, audio_content_type(ac->format),
	    (const char *)out, len);
	free(out);
	ac_free(ac);
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
			evhttp_connection_set_closecb(ac->evcon, NULL, NULL);
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

/* Obtain the WAV of each segment and answer in p's format once all are
 * complete; a whole reply's (r) is labelled and counted as such. */
static void
ac_start(struct hreq *h, const struct tts_params *p, struct seglist *segs,
    struct reply *r)
{
	struct tts_params	 pw = *p;
	struct aconv		*ac;
	size_t			 i;
	int			 how, hit = 1;
	size_t			 missed = 0;

	ac = xcalloc(1, sizeof *ac);
	ac->h = h;
	ac->srv = h->srv;
	ac->evcon = evhttp_request_get_connection(h->req);
	ac->format = xstrdup(p->format);
	ac->ents = xcalloc(segs->n, sizeof *ac->ents);
	ac->ws = xcalloc(segs->n, sizeof *ac->ws);
	ac->ev = evtimer_new(h->srv->base, ac_check_cb, ac);
	h->srv->nstreams++;
	pw.format = "wav";
	for (i = 0; i < segs->n; i++) {
		ac->ents[i] = tts_obtain(h->srv->tts, &pw, segs->v[i],
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
	} else {
		ac->label = hit ? "hit" : segs->n == 1 ? "miss" : "assembled";
		h->srv->served[missed == 0 ? SERVED_CONVERTED :
		    missed < segs->n ? SERVED_PARTIAL : SERVED_MISS]++;
	}
	h->note = ac->label;
	evhttp_connection_set_closecb(ac->evcon, ac_close_cb, ac);
	ac_check(ac);
}

/* Validate and read a speech request into p (strings in the JSON); *conv
 * set when its format is to be converted from WAV. */
static int
speech_params(struct hreq *h, cJSON *root, struct tts_params *p,
    const char **input, int *conv)
{
	const struct config	*cf = h->srv->cf;
	struct speech_req	 r;
	struct req_error	 e;
	size_t			 n;

	if (request_speech(root, &r, &e) != 0) {
		http_error_param(h, 400, "invalid_request_error", e.code,
		    e.param, "%s", e.msg);
		return -1;
	}
	*input = r.input;
	if ((n = utf8_chars(*input)) > (size_t)cf->tts_max_input_chars) {
		http_error_param(h, 400, "invalid_request_error",
		    "input_too_long", "input", "'input' has %zu characters; at "
		    "most %lld are spoken per request (TTS_MAX_INPUT_CHARS): "
		    "send it in smaller pieces.", n, cf->tts_max_input_chars);
		return -1;
	}
	/* Names clients send become the backends' before keying, so a
	 * client's tts-1/alloy meets a prefetch made as liang/v1. */
	p->model = ttsmap_lookup(cf->model_map, r.model != NULL ? r.model :
	    cf->tts_default_model);
	p->voice = ttsmap_lookup(cf->voice_map, r.voice != NULL ? r.voice :
	    cf->tts_default_voice);
	p->format = r.format != NULL ? r.format : cf->tts_default_format;
	p->speed = r.speed;
	p->instructions = r.instructions;
	*conv = 0;
	if (tts_has_format(h->srv->tts, p->format))
		return 0;
	/* No endpoint makes it: made from the WAV of the same text, if we
	 * can convert to it and some endpoint makes WAV. */
	if (tts_has_format(h->srv->tts, "wav")) {
		if (convert_can(p->format)) {
			*conv = 1;
			return 0;
		}
		http_error(h, 400, "invalid_request_error",
		    "unsupported_response_format", "%s is not supported; ask "
		    "for %s.", p->format, audio_made_formats(h->srv->tts));
		return -1;
	}
	http_error(h, 400, "invalid_request_error",
	    "unsupported_response_format", "No TTS endpoint here makes '%s' "
	    "or WAV to convert from; configure an HTTP endpoint that does in "
	    "TTS_ENDPOINTS.", p->format);
	return -1;
}

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

static void
collect_cb(void *arg, const char *seg)
{
	struct seglist	*l = arg;

	if (l->n == l->cap) {	/* doubled: no quadratic copying */
		l->cap = l->cap != 0 ? l->cap * 2 : 16;
		l->v = xreallocarray(l->v, l->cap, sizeof *l->v);
	}
	l->v[l->n++] = xstrdup(seg);
}

/* Replies said as a request is: same model, voice, speed, instructions,
 * and in format. */
struct fits {
	const struct tts_params	*p;
	const char		*format;
};

static int
same_str(const char *a, const char *b)
{
	return a == NULL || b == NULL ? a == b : strcmp(a, b) == 0;
}

static int
reply_fits(void *arg, const struct reply *r)
{
	const struct fits	*f = arg;
	const struct tts_params	*rp = reply_params(r);

	return strcmp(rp->format, f->format) == 0 &&
	    strcmp(rp->model, f->p->model) == 0 &&
	    strcmp(rp->voice, f->p->voice) == 0 && rp->speed == f->p->speed &&
	    same_str(rp->instructions, f->p->instructions);
}


/*
 * The texts to obtain for a speech request, in order: where the input is
 * made of recent replies' segments (however the client cut and cleaned
 * it), those segments; the rest cut as the segmenter cuts.  *conv is set
 * when the segments found are WAV to convert from.
 */
static void
speech_texts(struct server *srv, const struct tts_params *p,
    const char *input, int *conv, struct seglist *segs)
{
	struct segment_opts	 so;
	struct tts_params	 pw = *p;
	struct fits		 f = { p, p->format };
	struct reply_part	*parts = NULL;
	size_t			 n = 0, matched, i;
	char			*clean;

	split_opts(srv->cf, &so);
	segment_split(&so, input, strlen(input), collect_cb, segs);
	if (*conv)
		pw.format = "wav";
	if (segs->n == 0 || srv->replies == NULL ||
	    (segs->n == 1 && peek_entry(srv->tts, &pw, segs->v[0]) != NULL))
		return;		/* nothing to say, or found as it is */
	clean = segment_clean(input, strlen(input));
	if (!*conv)
		n = reply_match(srv->replies, clean, strlen(clean),
		    reply_fits, &f, &parts, &matched);
	if (n == 0 && strcmp(p->format, "wav") != 0 &&
	    convert_can(p->format) && tts_has_format(srv->tts, "wav")) {
		/* One synthesis, every format: the replies' WAV. */
		f.format = "wav";
		if ((n = reply_match(srv->replies, clean, strlen(clean),
		    reply_fits, &f, &parts, &matched)) > 0)
			*conv = 1;
	}
	if (n > 0) {
		for (i = 0; i < segs->n; i++)
			free(segs->v[i]);
		segs->n = 0;
		for (i = 0; i < n; i++) {
			if (parts[i].r != NULL && parts[i].idx == REPLY_UNSPOKEN)
				continue;	/* the reply's code: not said */
			if (parts[i].r != NULL)
				collect_cb(segs, reply_seg_text(parts[i].r,
				    parts[i].idx));
			else
				segment_split(&so, clean + parts[i].off,
				    parts[i].len, collect_cb, segs);
		}
	}
	free(parts);
	free(clean);
}

/*
 * Nothing to say (only punctuation, markup or emoji; or only a reply's
 * code, which is not spoken): a short silence in the format asked for,
 * so that a client reading a message piece by piece goes on.
 */
static void
speech_silence(struct hreq *h, const struct tts_params *p)
{
	struct wav_info	 wi;
	unsigned char	*wav, *out = NULL;
	const char	*err = NULL, *what;
	size_t		 n = SILENCE_RATE / 10 * 2, len;

	memset(&wi, 0, sizeof wi);
	wi.format = 1;
	wi.channels = 1;
	wi.rate = SILENCE_RATE;
	wi.bits = 16;
	wav = xcalloc(1, 44 + n);
	wav_header(wav, &wi, (uint32_t)n);
	what = strcmp(p->format, "wav") == 0 ? "wav" : p->format;
	if (convert(wav, 44 + n, "wav", 0, what, &out, &len, &err) != 0) {
		http_error(h, 400, "invalid_request_error", "invalid_input",
		    "'input' has nothing to speak once markup, code and emoji "
		    "are removed.");
		free(wav);
		return;
	}
	h->srv->served[SERVED_EMPTY]++;
	evhttp_add_header(evhttp_request_get_output_headers(h->req),
	    "X-TTS-Cache", "empty");
	h->note = "empty";
	http_reply(h, 200, audio_content_type(p->format), (const char *)out,
	    len);
	free(out);
	free(wav);
}

void
audio_speech(struct hreq *h)
{
	struct server		*srv = h->srv;
	struct seglist		 segs = { NULL, 0, 0 };
	struct tts_params	 p;
	struct astream		*as;
	struct cache_entry	*e;
	struct held		*held;
	const unsigned char	*d;
	const char		*body, *input, *label;
	cJSON			*root = NULL;
	struct req_error	 re;
	size_t			 len, i, missed;
	int			 how, conv;

	if (http_auth(h) != 0)
		return;
	if ((body = http_body_checked(h, &len)) == NULL ||
	    !http_utf8_ok(h, body, len))
		return;
	if ((root = request_object(body, len, &re)) == NULL) {
		http_error_param(h, 400, "invalid_request_error", re.code,
		    re.param, "%s", re.msg);
		goto out;
	}
	if (srv->tts == NULL || !tts_usable(srv->tts)) {
		http_error(h, 503, "server_error", "no_tts_endpoint",
		    "No TTS endpoint is usable: configure TTS_ENDPOINTS or "
		    "check /health.");
		goto out;
	}
	if (speech_params(h, root, &p, &input, &conv) != 0)
		goto out;
	speech_texts(srv, &p, input, &conv, &segs);
	if (segs.n > (size_t)srv->cf->tts_max_segments) {
		http_error(h, 400, "invalid_request_error", "too_many_segments",
		    "'input' makes %zu segments; at most %lld are spoken per "
		    "request (TTS_MAX_SEGMENTS): send it in smaller pieces.",
		    segs.n, srv->cf->tts_max_segments);
		goto out;
	}
	if (segs.n == 0) {
		speech_silence(h, &p);
		goto out;
	}
	if (conv) {
		ac_start(h, &p, &segs, NULL);
		goto out;
	}
	if (segs.n == 1) {
		e = tts_obtain(srv->tts, &p, segs.v[0], SCHED_ONDEMAND, 0,
		    &how);
		srv->served[how == TTS_MISS ? SERVED_MISS : SERVED_EXACT]++;
		if (how == TTS_HIT) {
			/* The fast path: the whole answer in one write. */
			d = cache_data(e, &len);
			evhttp_add_header(evhttp_request_get_output_headers(
			    h->req), "X-TTS-Cache", "hit");
			h->note = "hit";
			/* Sent from the cache's own bytes, pinned until
			 * written. */
			hist_observe(&srv->h_first_audio, now_usec() - h->t0);
			held = xmalloc(sizeof *held);
			held->tts = srv->tts;
			held->e = e;
			http_reply_ref(h, 200, audio_content_type(p.format),
			    d, len, unpin_cb, held);
			goto out;
		}
		label = how == TTS_INFLIGHT ? "inflight" : how == TTS_SHARED ?
		    "shared" : "miss";
		as = as_new(h, &p, label);
		as->wav = 0;	/* one backend answer: sent as it is */
		as->ents = xcalloc(1, sizeof *as->ents);
		as->ents[0] = e;
		as->nents = 1;
	} else {
		as = as_new(h, &p, "assembled");
		as->ents = xcalloc(segs.n, sizeof *as->ents);
		for (i = missed = 0; i < segs.n; i++) {
			as->ents[i] = tts_obtain(srv->tts, &p, segs.v[i],
			    SCHED_ONDEMAND, (unsigned)i, &how);
			if (as->ents[i] == NULL)
				break;
			if (how == TTS_MISS)
				missed++;
		}
		as->nents = i;
		srv->served[missed == 0 ? SERVED_ASSEMBLED : missed < segs.n ?
		    SERVED_PARTIAL : SERVED_MISS]++;
	}
	h->note = as->label;
	as_pump(as);
out:
	for (i = 0; i < segs.n; i++)
		free(segs.v[i]);
	free(segs.v);
	cJSON_Delete(root);
}

/*
 * A whole reply in a format converted from its WAV: wait for the reply to
 * end, then convert its segments as one.
 */
struct rconv {
	struct hreq			*h;
	struct reply			*r;
	struct reply_watch		*w;
	struct evhttp_connection	*evcon;
	struct event			*ev;
	char				*format;
};

static void
rc_free(struct rconv *rc)
{
	reply_unwatch(rc->w);
	reply_release(rc->r);
	event_free(rc->ev);
	free(rc->format);
	free(rc);
}

static void
rc_close_cb(struct evhttp_connection *evcon, void *arg)
{
	struct rconv	*rc = arg;

	evhttp_connection_set_closecb(evcon, NULL, NULL);
	rc->h->note = "client-closed";
	http_done(rc->h);
	rc_free(rc);
}

static void
rc_check(struct rconv *rc)
{
	struct tts_params	 p;
	struct seglist		 segs = { NULL, 0, 0 };
	struct hreq		*h = rc->h;
	struct reply		*r = rc->r;
	size_t			 i;

	if (!reply_finished(r))
		return;
	evhttp_connection_set_closecb(rc->evcon, NULL, NULL);
	p = *reply_params(r);
	p.format = rc->format;
	for (i = 0; i < reply_nsegs(r); i++)
		if (reply_seg_state(r, i) != RSEG_FAILED)
			collect_cb(&segs, reply_seg_text(r, i));
	if (segs.n == 0)
		http_error(h, 502, "server_error", "synthesis_failed",
		    "The reply has no audio: %s.", reply_nsegs(r) == 0 ?
		    "nothing in it is speakable" : "every segment failed");
	else
		ac_start(h, &p, &segs, r);
	for (i = 0; i < segs.n; i++)
		free(segs.v[i]);
	free(segs.v);
	rc_free(rc);
}

static void
rc_check_cb(evutil_socket_t fd, short what, void *arg)
{
	rc_check(arg);
}

static void
rc_reply_cb(void *arg)
{
	struct rconv	*rc = arg;

	event_active(rc->ev, EV_TIMEOUT, 0);
}

static void
rc_start(struct hreq *h, struct reply *r, const char *format)
{
	struct rconv	*rc;

	rc = xcalloc(1, sizeof *rc);
	rc->h = h;
	rc->r = r;
	rc->evcon = evhttp_request_get_connection(h->req);
	rc->format = xstrdup(format);
	rc->ev = evtimer_new(h->srv->base, rc_check_cb, rc);
	reply_hold(r);
	rc->w = reply_watch(r, rc_reply_cb, rc);
	evhttp_connection_set_closecb(rc->evcon, rc_close_cb, rc);
	rc_check(rc);
}

static void	audio_reply_serve(struct hreq *, struct reply *, int);

/* A reply not known here, asked of the shared tier. */
struct rwait {
	struct hreq			*h;
	struct evhttp_connection	*evcon;
	struct mirror_wait		*mw;
	int				 segments;
	char				 id[64];
};

static void
rwait_close_cb(struct evhttp_connection *evcon, void *arg)
{
	struct rwait	*rw = arg;

	evhttp_connection_set_closecb(evcon, NULL, NULL);
	mirror_wait_cancel(rw->mw);
	rw->h->note = "client-closed";
	http_done(rw->h);
	free(rw);
}

static void
rwait_found_cb(void *arg, struct reply *r)
{
	struct rwait	*rw = arg;

	evhttp_connection_set_closecb(rw->evcon, NULL, NULL);
	if (r == NULL)
		http_error(rw->h, 404, "invalid_request_error",
		    "reply_not_found", "No reply '%s' here (it may have "
		    "expired).", rw->id);
	else
		audio_reply_serve(rw->h, r, rw->segments);
	free(rw);
}

void
audio_reply(struct hreq *h, const char *rest)
{
	struct server		*srv = h->srv;
	struct reply		*r;
	struct rwait		*rw;
	char			 id[64];
	size_t			 n;
	int			 segments = 0;

	if (http_auth(h) != 0)
		return;
	n = strcspn(rest, "/");
	if (n == 0 || n >= sizeof id) {
		http_error(h, 404, "invalid_request_error", "not_found",
		    "No such reply.");
		return;
	}
	memcpy(id, rest, n);
	id[n] = '\0';
	if (strcmp(rest + n, "/segments") == 0)
		segments = 1;
	else if (rest[n] != '\0') {
		http_error(h, 404, "invalid_request_error", "not_found",
		    "Unknown path %s.", h->path);
		return;
	}
	if (srv->replies == NULL || (r = reply_find(srv->replies, id)) ==
	    NULL) {
		/* Several instances: perhaps another one's. */
		rw = xcalloc(1, sizeof *rw);
		rw->h = h;
		rw->evcon = evhttp_request_get_connection(h->req);
		rw->segments = segments;
		snprintf(rw->id, sizeof rw->id, "%s", id);
		if (srv->replies != NULL && (rw->mw = mirror_find(srv->mirrors,
		    id, rwait_found_cb, rw)) != NULL) {
			evhttp_connection_set_closecb(rw->evcon,
			    rwait_close_cb, rw);
			return;
		}
		free(rw);
		http_error(h, 404, "invalid_request_error", "reply_not_found",
		    "No reply '%s' here (it may have expired).", id);
		return;
	}
	audio_reply_serve(h, r, segments);
}

/* Serve a reply found (here, or copied from another instance). */
static void
audio_reply_serve(struct hreq *h, struct reply *r, int segments)
{
	struct server		*srv = h->srv;
	struct astream		*as;
	struct tts_params	 p;
	const struct evhttp_uri	*uri;
	struct evkeyvalq	 q;
	const char		*fmt;
	cJSON			*j;

	if (segments) {
		j = reply_segments_json(r);
		http_json(h, 200, j);
		cJSON_Delete(j);
		return;
	}
	p = *reply_params(r);
	uri = evhttp_request_get_evhttp_uri(h->req);
	TAILQ_INIT(&q);
	fmt = NULL;
	if (evhttp_uri_get_query(uri) != NULL &&
	    evhttp_parse_query_str(evhttp_uri_get_query(uri), &q) == 0)
		fmt = evhttp_find_header(&q, "format");
	if (fmt == NULL)
		fmt = reply_format(r);	/* the chat's tts_format */
	if (fmt != NULL && strcmp(fmt, p.format) != 0) {
		if (audio_content_type(fmt) == NULL) {
			http_error(h, 400, "invalid_request_error",
			    "invalid_format", "'format' must be one of mp3, "
			    "opus, aac, flac, wav, pcm.");
			evhttp_clear_headers(&q);
			return;
		}
		/* Another format: converted from the reply's WAV, as one
		 * synthesis serves every format. */
		if (strcmp(p.format, "wav") == 0 && convert_can(fmt)) {
			h->note = "reply";
			rc_start(h, r, fmt);
			evhttp_clear_headers(&q);
			return;
		}
		if (!tts_has_format(srv->tts, fmt)) {
			http_error(h, 400, "invalid_request_error",
			    "unsupported_response_format", "%s is not "
			    "supported for this reply; ask for %s.", fmt,
			    audio_made_formats(srv->tts));
			evhttp_clear_headers(&q);
			return;
		}
		/* else made again in that format */
		p.format = fmt;
	}
	as = as_new(h, &p, "reply");
	evhttp_clear_headers(&q);
	as->reply = r;
	reply_hold(r);
	as->rw = reply_watch(r, as_reply_cb, as);
	h->note = "reply";
	as_pump(as);
}

void
audio_models(struct hreq *h)
{
	const struct config	*cf = h->srv->cf;
	cJSON			*root, *a;
	size_t			 i;

	root = cJSON_CreateObject();
	a = cJSON_AddArrayToObject(root, "models");
	cJSON_AddItemToArray(a, cJSON_CreateString(cf->tts_default_model));
	a = cJSON_AddArrayToObject(root, "voices");
	cJSON_AddItemToArray(a, cJSON_CreateString(cf->tts_default_voice));
	a = cJSON_AddArrayToObject(root, "formats");
	for (i = 0; i < sizeof formats / sizeof formats[0]; i++)
		if (h->srv->tts != NULL && tts_has_format(h->srv->tts,
		    formats[i].format))
			cJSON_AddItemToArray(a, cJSON_CreateString(
			    formats[i].format));
	cJSON_AddStringToObject(root, "default_format",
	    cf->tts_default_format);
	http_json(h, 200, root);
	cJSON_Delete(root);
}

cJSON *
audio_served_json(const struct server *srv)
{
	cJSON	*served = cJSON_CreateObject();
	size_t	 i;

	for (i = 0; i < SERVED_KINDS; i++)
		cJSON_AddNumberToObject(served, served_names[i],
		    (double)srv->served[i]);
	return served;
}

void
audio_cache_stats(struct hreq *h)
{
	cJSON	*j;

	if (h->srv->tts == NULL) {
		http_error(h, 503, "server_error", NULL, "No cache.");
		return;
	}
	j = tts_cache_json(h->srv->tts);
	cJSON_AddNumberToObject(j, "replies", (double)reply_count(
	    h->srv->replies));
	cJSON_AddItemToObject(j, "served", audio_served_json(h->srv));
	if (h->srv->shared != NULL)
		cJSON_AddItemToObject(j, "shared", shared_json(h->srv->shared));
	http_json(h, 200, j);
	cJSON_Delete(j);
}

void
audio_cache_clear(struct hreq *h)
{
	cJSON	*j;
	size_t	 n;

	if (http_auth(h) != 0)
		return;
	n = tts_clear(h->srv->tts);
	log_info("%s cache cleared: %zu entries", h->id, n);
	j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "status", "cleared");
	cJSON_AddNumberToObject(j, "removed", (double)n);
	http_json(h, 200, j);
	cJSON_Delete(j);
}

void
audio_metrics(struct hreq *h)
{
	struct server	*srv = h->srv;
	struct evbuffer	*b = evbuffer_new();
	char		*text, *hists = NULL;
	size_t		 len, hlen = 0, i;

	evbuffer_add_printf(b,
	    "# HELP ttsaccel_requests_total HTTP requests received.\n"
	    "# TYPE ttsaccel_requests_total counter\n"
	    "ttsaccel_requests_total %llu\n"
	    "# HELP ttsaccel_chats_total Chat completions proxied.\n"
	    "# TYPE ttsaccel_chats_total counter\n"
	    "ttsaccel_chats_total %llu\n"
	    "# HELP ttsaccel_upstream_errors_total Upstream failures.\n"
	    "# TYPE ttsaccel_upstream_errors_total counter\n"
	    "ttsaccel_upstream_errors_total %llu\n"
	    "# HELP ttsaccel_streams Replies being streamed now.\n"
	    "# TYPE ttsaccel_streams gauge\n"
	    "ttsaccel_streams %zu\n"
	    "# HELP ttsaccel_uptime_seconds Seconds since start.\n"
	    "# TYPE ttsaccel_uptime_seconds gauge\n"
	    "ttsaccel_uptime_seconds %.0f\n",
	    (unsigned long long)srv->nrequests,
	    (unsigned long long)srv->nchats,
	    (unsigned long long)srv->nupstream_errors, srv->nstreams,
	    (double)(now_usec() - srv->started) / 1e6);
	evbuffer_add_printf(b,
	    "# HELP ttsaccel_speech_requests_total Speech requests by how "
	    "they were served (all but miss without a new synthesis).\n"
	    "# TYPE ttsaccel_speech_requests_total counter\n");
	for (i = 0; i < SERVED_KINDS; i++)
		evbuffer_add_printf(b, "ttsaccel_speech_requests_total{served="
		    "\"%s\"} %llu\n", served_names[i],
		    (unsigned long long)srv->served[i]);
	hist_print(&srv->h_upstream_first, &hists, &hlen);
	hist_print(&srv->h_first_segment, &hists, &hlen);
	hist_print(&srv->h_first_audio, &hists, &hlen);
	evbuffer_add(b, hists, hlen);
	free(hists);
	if (srv->tts != NULL)
		tts_metrics(srv->tts, b);
	len = evbuffer_get_length(b);
	text = (char *)evbuffer_pullup(b, -1);
	http_reply(h, 200, "text/plain; version=0.0.4", text, len);
	evbuffer_free(b);
}
