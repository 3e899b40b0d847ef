/* speech: POST /v1/audio/speech — the request read, its texts found
 * (recent replies' segments where the input is made of them), and the
 * answer from the cache, a stream or a conversion. */
#include <cjson/cJSON.h>
#include <event2/buffer.h>
#include <event2/http.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "config.h"
#include "convert.h"
#include "http.h"
#include "params.h"
#include "reply.h"
#include "request.h"
#include "sched.h"
#include "segment.h"
#include "server.h"
#include "speech_sse.h"
#include "speech.h"
#include "stream.h"
#include "tts.h"
#include "util.h"

struct seglist {
	char	**v;
	size_t	  n, cap;
};

/* Validate and read a speech request into p (strings in the JSON); *conv
 * set when its format is to be converted from WAV, *sse when the answer
 * is to be events (stream_format "sse"). */
static int
speech_params(struct hreq *h, cJSON *root, struct tts_params *p,
    const char **input, int *conv, int *sse)
{
	const struct config	*cf = h->srv->cf;
	struct speech_req	 r;
	struct params_ask	 ask;
	struct params_can	 can;
	struct req_error	 e;
	size_t			 n;
	char			*list;

	if (request_speech(root, &r, &e) != 0) {
		http_error_param(h, 400, "invalid_request_error", e.code,
		    e.param, "%s", e.msg);
		return -1;
	}
	*input = r.input;
	*sse = r.sse;
	if ((n = utf8_chars(*input)) > (size_t)cf->tts_max_input_chars) {
		http_error_param(h, 400, "invalid_request_error",
		    "input_too_long", "input", "'input' has %zu characters; at "
		    "most %lld are spoken per request (TTS_MAX_INPUT_CHARS): "
		    "send it in smaller pieces.", n, cf->tts_max_input_chars);
		return -1;
	}
	/* Resolved as a chat's prefetch is (params.c), so that the names
	 * clients send meet the audio prefetched. */
	ask.model = r.model;
	ask.voice = r.voice;
	ask.format = r.format;
	ask.instructions = r.instructions;
	ask.speed = r.speed;
	tts_can(h->srv->tts, &can);
	*conv = 0;
	switch (params_resolve(&cf->params, PARAMS_SPEECH, &ask, &can, p)) {
	case PARAMS_DIRECT:
		return 0;
	case PARAMS_FROM_WAV:
		/* No endpoint makes it: made from the WAV of the same
		 * text. */
		*conv = 1;
		return 0;
	case PARAMS_UNCONVERTIBLE:
		list = params_can_text(&can);
		http_error(h, 400, "invalid_request_error",
		    "unsupported_response_format", "%s is not supported; ask "
		    "for %s.", p->format, list);
		free(list);
		return -1;
	}
	http_error(h, 400, "invalid_request_error",
	    "unsupported_response_format", "No TTS endpoint here makes '%s' "
	    "or WAV to convert from; configure an HTTP endpoint that does in "
	    "TTS_ENDPOINTS.", p->format);
	return -1;
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
reply_fits(void *arg, const struct reply *r)
{
	const struct fits	*f = arg;
	const struct tts_params	*rp = reply_params(r);

	return strcmp(rp->format, f->format) == 0 && params_same(rp, f->p, 1);
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
	const struct segment_opts *so = &srv->cf->params.split;
	struct params_can	 can;
	struct tts_params	 pw = *p;
	struct fits		 f = { p, p->format };
	struct reply_part	*parts = NULL;
	size_t			 n = 0, matched, i, len = strlen(input);
	char			*clean;
	int			 fence;

	segment_split(so, input, len, collect_cb, segs);
	if (*conv)
		pw.format = "wav";
	/* A fence in a piece a client cut may open code or close code an
	 * earlier piece opened ("...```\n\nA few things to note."): the
	 * reply it comes from tells. */
	fence = memmem(input, len, "```", 3) != NULL ||
	    memmem(input, len, "~~~", 3) != NULL;
	if (srv->replies == NULL || (!fence && (segs->n == 0 ||
	    (segs->n == 1 && tts_peek(srv->tts, &pw, segs->v[0]) != NULL))))
		return;		/* nothing to say, or found as it is */
	clean = fence ? segment_clean_piece(input, len) :
	    segment_clean(input, len);
	if (!*conv)
		n = reply_match(srv->replies, clean, strlen(clean),
		    reply_fits, &f, &parts, &matched);
	tts_can(srv->tts, &can);
	if (n == 0 && params_from_wav(&can, p->format)) {
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
				segment_split(so, clean + parts[i].off,
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
speech_silence(struct hreq *h, const struct tts_params *p,
    struct speech_sse *ev)
{
	const unsigned char	*wav;
	struct evbuffer		*b;
	size_t			 len;

	if (strcmp(p->format, "wav") == 0) {
		wav = stream_silence_wav(&len);
		h->srv->served[SERVED_EMPTY]++;
		evhttp_add_header(evhttp_request_get_output_headers(h->req),
		    "X-TTS-Cache", "empty");
		h->note = "empty";
		if (ev == NULL) {
			http_reply(h, 200, params_content_type(p->format),
			    (const char *)wav, len);
			return;
		}
		b = evbuffer_new();
		speech_sse_delta(ev, b, wav, len);
		speech_sse_done(ev, b);
		len = evbuffer_get_length(b);
		http_reply(h, 200, "text/event-stream",
		    (const char *)evbuffer_pullup(b, -1), len);
		evbuffer_free(b);
	} else if (!convert_can(p->format))
		http_error(h, 400, "invalid_request_error", "invalid_input",
		    "'input' has nothing to speak once markup, code and emoji "
		    "are removed.");
	else
		stream_convert(h, p, NULL, 0, NULL, ev);  /* converted once */
}

void
speech_post(struct hreq *h)
{
	struct server		*srv = h->srv;
	struct seglist		 segs = { NULL, 0, 0 };
	struct speech_sse	 sse, *ev = NULL;
	struct tts_params	 p;
	struct cache_entry	*e, **ents;
	const char		*body, *input, *label;
	cJSON			*root = NULL;
	struct req_error	 re;
	size_t			 len, i, missed;
	int			 how, conv, events;

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
	if (speech_params(h, root, &p, &input, &conv, &events) != 0)
		goto out;
	if (events) {
		/* Usage: the input's characters (no tokenizer here). */
		speech_sse_init(&sse, utf8_chars(input));
		ev = &sse;
	}
	speech_texts(srv, &p, input, &conv, &segs);
	if (segs.n > (size_t)srv->cf->tts_max_segments) {
		http_error(h, 400, "invalid_request_error", "too_many_segments",
		    "'input' makes %zu segments; at most %lld are spoken per "
		    "request (TTS_MAX_SEGMENTS): send it in smaller pieces.",
		    segs.n, srv->cf->tts_max_segments);
		goto out;
	}
	if (segs.n == 0) {
		speech_silence(h, &p, ev);
		goto out;
	}
	if (conv) {
		stream_convert(h, &p, segs.v, segs.n, NULL, ev);
		goto out;
	}
	if (segs.n == 1) {
		e = tts_obtain(srv->tts, &p, segs.v[0], SCHED_ONDEMAND, 0,
		    &how);
		srv->served[how == TTS_MISS ? SERVED_MISS : SERVED_EXACT]++;
		if (how == TTS_HIT && ev == NULL) {
			/* The fast path: the whole answer in one write, from
			 * the cache's own bytes. */
			stream_send_labelled(h, "hit", p.format, e);
			goto out;
		}
		label = how == TTS_HIT ? "hit" : how == TTS_INFLIGHT ?
		    "inflight" : how == TTS_SHARED ? "shared" : "miss";
		ents = xcalloc(1, sizeof *ents);
		ents[0] = e;
		/* one backend answer: sent as it is */
		stream_entries(h, &p, label, ents, 1, 0, ev);
	} else {
		ents = xcalloc(segs.n, sizeof *ents);
		for (i = missed = 0; i < segs.n; i++) {
			ents[i] = tts_obtain(srv->tts, &p, segs.v[i],
			    SCHED_ONDEMAND, (unsigned)i, &how);
			if (ents[i] == NULL)
				break;
			if (how == TTS_MISS)
				missed++;
		}
		srv->served[missed == 0 ? SERVED_ASSEMBLED : missed < segs.n ?
		    SERVED_PARTIAL : SERVED_MISS]++;
		stream_entries(h, &p, "assembled", ents, i, 1, ev);
	}
out:
	for (i = 0; i < segs.n; i++)
		free(segs.v[i]);
	free(segs.v);
	cJSON_Delete(root);
}

