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
#include "log.h"
#include "reply.h"
#include "sched.h"
#include "segment.h"
#include "server.h"
#include "split.h"
#include "tts.h"
#include "ttsmap.h"
#include "util.h"
#include "wav.h"

#define AS_HIGH_WATER	(256 * 1024)	/* client output buffered: wait */

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
	struct wav_info			 fmt;
	struct event			*pump_ev;
	char				 err[512];	/* of a failed entry */
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
		http_error(as->h, status, "server_error", "synthesis_failed",
		    "%s", why);
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
	    (err = tts_entry_error(as->e)) != NULL)
		snprintf(as->err, sizeof as->err, "%s", err);
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
pcm_len(struct cache_entry *e, uint64_t *sum)
{
	struct wav_info		 wi;
	const unsigned char	*d;
	const char		*err;
	size_t			 len;

	if (cache_state(e) != CACHE_DONE)
		return -1;
	d = cache_data(e, &len);
	if (wav_parse(d, len, &wi, &err) != 1)
		return -1;
	if (wi.data_len != 0 && wi.data_len != 0xffffffff &&
	    wi.data_len <= len - wi.data_offset)
		*sum += wi.data_len;
	else
		*sum += len - wi.data_offset;
	return 0;
}

static int
seg_pcm_len(struct astream *as, size_t i, uint64_t *sum)
{
	struct cache_entry	*e;
	char			*key;
	int			 r = -1;

	key = tts_key(&as->p, reply_seg_text(as->reply, i));
	e = cache_peek(tts_cache(as->srv->tts), key, strlen(key), now_usec());
	if (e != NULL)
		r = pcm_len(e, sum);
	free(key);
	return r;
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
			exact = pcm_len(as->ents[i], &sum) == 0;
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
	size_t			 len;
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
		}
		st = cache_state(as->e);
		d = cache_data(as->e, &len);
		if (!as->parsed) {
			r = wav_parse(d, len, &as->fmt, &err);
			if (r == 0 && st == CACHE_PENDING)
				goto wait;
			if (r == 1) {
				as->off = as->fmt.data_offset;
				if (as->fmt.data_len != 0 &&
				    as->fmt.data_len != 0xffffffff &&
				    as->fmt.data_len <= len - as->off)
					as->end = as->off + as->fmt.data_len;
				if (!as->header_sent)
					send_wav_header(as);
			} else if (st == CACHE_DONE)
				log_warn("%s: segment %zu is not WAV (%s); sent "
				    "as it is", as->h->id, as->idx, r == 0 ?
				    "too short" : err);
			as->parsed = 1;
		}
		if (as->end != 0 && len > as->end)
			len = as->end;	/* trailing chunks are not samples */
		if (as->off < len) {
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
				as_end(as, 502, err != NULL ? err :
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

/* Validate and read a speech request into p (strings in the JSON). */
static int
speech_params(struct hreq *h, cJSON *root, struct tts_params *p,
    const char **input)
{
	const struct config	*cf = h->srv->cf;
	const cJSON		*it;

	it = cJSON_GetObjectItemCaseSensitive(root, "input");
	if (!cJSON_IsString(it) || it->valuestring[0] == '\0') {
		http_error(h, 400, "invalid_request_error", "invalid_input",
		    "'input' is required: the text to speak, a non-empty "
		    "string.");
		return -1;
	}
	*input = it->valuestring;
	p->model = cf->tts_default_model;
	it = cJSON_GetObjectItemCaseSensitive(root, "model");
	if (cJSON_IsString(it) && it->valuestring[0] != '\0')
		p->model = it->valuestring;
	p->voice = cf->tts_default_voice;
	it = cJSON_GetObjectItemCaseSensitive(root, "voice");
	if (cJSON_IsString(it) && it->valuestring[0] != '\0')
		p->voice = it->valuestring;
	/* Names clients send become the backends' before keying, so a
	 * client's tts-1/alloy meets a prefetch made as liang/v1. */
	p->model = ttsmap_lookup(cf->model_map, p->model);
	p->voice = ttsmap_lookup(cf->voice_map, p->voice);
	p->format = cf->tts_default_format;
	it = cJSON_GetObjectItemCaseSensitive(root, "response_format");
	if (it != NULL && !cJSON_IsNull(it)) {
		if (!cJSON_IsString(it) ||
		    audio_content_type(it->valuestring) == NULL) {
			http_error(h, 400, "invalid_request_error",
			    "invalid_response_format", "'response_format' "
			    "must be one of mp3, opus, aac, flac, wav, pcm.");
			return -1;
		}
		p->format = it->valuestring;
	}
	p->speed = 1.0;
	it = cJSON_GetObjectItemCaseSensitive(root, "speed");
	if (it != NULL && !cJSON_IsNull(it)) {
		if (!cJSON_IsNumber(it) || it->valuedouble < 0.25 ||
		    it->valuedouble > 4.0) {
			http_error(h, 400, "invalid_request_error",
			    "invalid_speed", "'speed' must be a number from "
			    "0.25 to 4.0.");
			return -1;
		}
		p->speed = it->valuedouble;
	}
	p->instructions = NULL;
	it = cJSON_GetObjectItemCaseSensitive(root, "instructions");
	if (cJSON_IsString(it) && it->valuestring[0] != '\0')
		p->instructions = it->valuestring;
	if (!tts_has_format(h->srv->tts, p->format)) {
		http_error(h, 400, "invalid_request_error",
		    "unsupported_response_format", "No TTS endpoint here makes "
		    "'%s' (local programs make wav only, and format conversion "
		    "is not built yet); ask for wav or configure an HTTP "
		    "endpoint in TTS_ENDPOINTS.", p->format);
		return -1;
	}
	return 0;
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

struct seglist {
	char	**v;
	size_t	  n;
};

static void
collect_cb(void *arg, const char *seg)
{
	struct seglist	*l = arg;

	l->v = xreallocarray(l->v, l->n + 1, sizeof *l->v);
	l->v[l->n++] = xstrdup(seg);
}

void
audio_speech(struct hreq *h)
{
	struct server		*srv = h->srv;
	struct segment_opts	 so;
	struct seglist		 segs = { NULL, 0 };
	struct tts_params	 p;
	struct astream		*as;
	struct cache_entry	*e;
	struct held		*held;
	const unsigned char	*d;
	const char		*body, *input, *label;
	cJSON			*root = NULL;
	size_t			 len, i;
	int			 how;

	if (http_auth(h) != 0)
		return;
	body = http_body(h, &len);
	if (len > srv->cf->max_body_bytes) {
		http_error(h, 413, "invalid_request_error", "request_too_large",
		    "Request body of %zu bytes is larger than MAX_BODY_BYTES "
		    "(%llu).", len,
		    (unsigned long long)srv->cf->max_body_bytes);
		return;
	}
	if (!utf8_valid(body, len)) {
		http_error(h, 400, "invalid_request_error", "invalid_utf8",
		    "Request body is not valid UTF-8.");
		return;
	}
	if ((root = cJSON_ParseWithLength(body, len)) == NULL ||
	    !cJSON_IsObject(root)) {
		http_error(h, 400, "invalid_request_error", "invalid_json",
		    "Request body must be a JSON object.");
		goto out;
	}
	if (srv->tts == NULL || !tts_usable(srv->tts)) {
		http_error(h, 503, "server_error", "no_tts_endpoint",
		    "No TTS endpoint is usable: configure TTS_ENDPOINTS or "
		    "check /health.");
		goto out;
	}
	if (speech_params(h, root, &p, &input) != 0)
		goto out;
	split_opts(srv->cf, &so);
	segment_split(&so, input, strlen(input), collect_cb, &segs);
	if (segs.n == 0) {
		http_error(h, 400, "invalid_request_error", "invalid_input",
		    "'input' has nothing to speak once markup, code and emoji "
		    "are removed.");
		goto out;
	}
	if (segs.n == 1) {
		e = tts_obtain(srv->tts, &p, segs.v[0], SCHED_ONDEMAND, 0,
		    &how);
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
		label = how == TTS_INFLIGHT ? "inflight" : "miss";
		as = as_new(h, &p, label);
		as->wav = 0;	/* one backend answer: sent as it is */
		as->ents = xcalloc(1, sizeof *as->ents);
		as->ents[0] = e;
		as->nents = 1;
	} else {
		as = as_new(h, &p, "assembled");
		as->ents = xcalloc(segs.n, sizeof *as->ents);
		for (i = 0; i < segs.n; i++) {
			as->ents[i] = tts_obtain(srv->tts, &p, segs.v[i],
			    SCHED_ONDEMAND, (unsigned)i, &how);
			if (as->ents[i] == NULL)
				break;
		}
		as->nents = i;
	}
	h->note = as->label;
	as_pump(as);
out:
	for (i = 0; i < segs.n; i++)
		free(segs.v[i]);
	free(segs.v);
	cJSON_Delete(root);
}

void
audio_reply(struct hreq *h, const char *rest)
{
	struct server		*srv = h->srv;
	struct reply		*r;
	struct astream		*as;
	struct tts_params	 p;
	const struct evhttp_uri	*uri;
	struct evkeyvalq	 q;
	const char		*fmt;
	char			 id[64];
	size_t			 n;
	int			 segments = 0;
	cJSON			*j;

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
		http_error(h, 404, "invalid_request_error", "reply_not_found",
		    "No reply '%s' here (it may have expired).", id);
		return;
	}
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
	if (fmt != NULL && strcmp(fmt, p.format) != 0) {
		if (audio_content_type(fmt) == NULL) {
			http_error(h, 400, "invalid_request_error",
			    "invalid_format", "'format' must be one of mp3, "
			    "opus, aac, flac, wav, pcm.");
			evhttp_clear_headers(&q);
			return;
		}
		/* Another format: its segments are synthesised in it (no
		 * conversion yet). */
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
	size_t		 len, hlen = 0;

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
