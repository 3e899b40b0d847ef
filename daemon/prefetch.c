/* prefetch: the spoken text of a chat reply, synthesised as it streams.
 *
 * Each content delta of choice 0 goes through the segmenter; every
 * segment is queued for synthesis the moment it is cut, as one more
 * segment of the reply (see reply.c), so the whole reply's audio can be
 * fetched while — or after — it streams.  Past REPLY_MAX_BYTES of text
 * the reply takes no more (the client's stream goes on): its memory is
 * bounded, and it ends as cut short.
 */
#include <cjson/cJSON.h>
#include <event2/buffer.h>

#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "config.h"
#include "log.h"
#include "params.h"
#include "prefetch.h"
#include "reply.h"
#include "segment.h"
#include "server.h"
#include "shared.h"
#include "tts.h"
#include "util.h"

struct pf {
	struct server		*srv;
	uint64_t		 t0;		/* the chat's start */
	struct reply		*reply;
	struct segmenter	*seg;
	char			*raw;		/* text not yet published */
	size_t			 rawlen, rawcap;
	uint64_t		 fed;		/* text bytes taken */
	int			 capped;	/* past REPLY_MAX_BYTES */
};

static void
drain(struct pf *pf, struct evbuffer *events)
{
	cJSON	*ev;
	char	*s, *line;
	size_t	 i;

	while ((s = segment_next(pf->seg)) != NULL) {
		i = reply_nsegs(pf->reply);
		log_debug("%s segment %zu: %s", reply_id(pf->reply), i, s);
		if (i == 0)
			hist_observe(&pf->srv->h_first_segment,
			    now_usec() - pf->t0);
		reply_add(pf->reply, s);
		if (events != NULL) {
			ev = cJSON_CreateObject();
			cJSON_AddStringToObject(ev, "reply",
			    reply_id(pf->reply));
			cJSON_AddNumberToObject(ev, "index", (double)i);
			cJSON_AddStringToObject(ev, "text", s);
			cJSON_AddStringToObject(ev, "key",
			    reply_seg_key(pf->reply, i));
			line = cJSON_PrintUnformatted(ev);
			evbuffer_add_printf(events, ": tts %s\n\n", line);
			free(line);
			cJSON_Delete(ev);
		}
		shared_reply_segment(pf->srv->shared, reply_id(pf->reply), s,
		    pf->raw, pf->rawlen);
		pf->rawlen = 0;
		free(s);
	}
}

/* Several instances: the reply is published for the others (mirror.c). */
static void
publish(struct server *srv, const char *id, const struct tts_params *p,
    const char *asked)
{
	cJSON	*o;
	char	*s;

	if (srv->shared == NULL)
		return;
	o = params_json(p, asked);
	s = cJSON_PrintUnformatted(o);
	shared_reply_begin(srv->shared, id, s);
	cJSON_free(s);
	cJSON_Delete(o);
}

static void *
reply_begin(struct server *srv, const char *id, const struct chat_tts *t)
{
	const struct params_ask	 ask = { t->model, t->voice, t->format, NULL,
				    t->speed };
	struct params_can	 can;
	struct pf		*pf;
	struct tts_params	 p;
	const char		*asked;

	if (srv->replies == NULL)
		return NULL;
	pf = xcalloc(1, sizeof *pf);
	pf->srv = srv;
	pf->t0 = now_usec();
	/* Resolved as /v1/audio/speech resolves, so that they meet. */
	tts_can(srv->tts, &can);
	asked = NULL;
	if (params_resolve(&srv->cf->params, PARAMS_CHAT, &ask, &can, &p) ==
	    PARAMS_FROM_WAV) {
		/* One synthesis, every format: in a format no endpoint
		 * makes, the reply is prefetched as WAV and its audio
		 * converted when asked. */
		asked = p.format;
		p.format = "wav";
	}
	pf->reply = reply_new(srv->replies, id, &p);
	if (asked != NULL)
		reply_set_format(pf->reply, asked);
	publish(srv, id, &p, asked);
	pf->seg = segment_new(&srv->cf->params.split);
	return pf;
}

static void
reply_delta(void *arg, const char *text, size_t len, struct evbuffer *events)
{
	struct pf	*pf = arg;

	if (pf->capped)
		return;
	if (len > pf->srv->cf->reply_max_bytes - pf->fed) {
		/* The stream goes on; its audio stops here. */
		pf->capped = 1;
		log_warn("%s: reply longer than REPLY_MAX_BYTES (%llu bytes): "
		    "its prefetch stops after %zu segment(s)",
		    reply_id(pf->reply),
		    (unsigned long long)pf->srv->cf->reply_max_bytes,
		    reply_nsegs(pf->reply));
		return;
	}
	pf->fed += len;
	reply_text(pf->reply, text, len);
	if (pf->srv->shared != NULL) {
		/* Published with the next segment (or the end). */
		if (pf->rawlen + len > pf->rawcap) {
			pf->rawcap = (pf->rawlen + len) * 2;
			pf->raw = xrealloc(pf->raw, pf->rawcap);
		}
		memcpy(pf->raw + pf->rawlen, text, len);
		pf->rawlen += len;
	}
	segment_feed(pf->seg, text, len);
	drain(pf, events);
}

static void
reply_end(void *arg, int ok, struct evbuffer *events)
{
	struct pf	*pf = arg;

	segment_finish(pf->seg);
	drain(pf, events);
	/* A reply past the cap has only its start's audio: cut short. */
	ok = ok && !pf->capped;
	log_debug("%s reply %s: %zu segment(s)", reply_id(pf->reply),
	    ok ? "complete" : "cut short", reply_nsegs(pf->reply));
	reply_finish(pf->reply, ok);
	shared_reply_end(pf->srv->shared, reply_id(pf->reply), ok, pf->raw,
	    pf->rawlen);
	free(pf->raw);
	segment_free(pf->seg);
	free(pf);
}

void
prefetch_init(struct server *srv)
{
	srv->reply_begin = reply_begin;
	srv->reply_delta = reply_delta;
	srv->reply_end = reply_end;
}
