/* replies: GET /v1/audio/replies/{id} and .../segments — a chat reply's
 * audio, whole, here or copied from another instance. */
#include <sys/queue.h>

#include <cjson/cJSON.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audio.h"
#include "convert.h"
#include "http.h"
#include "log.h"
#include "mirror.h"
#include "params.h"
#include "replies.h"
#include "reply.h"
#include "server.h"
#include "stream.h"
#include "tts.h"
#include "util.h"

/*
 * A whole reply in a format converted from its WAV: wait for the reply to
 * end, then convert its segments as one.
 */
struct rconv {
	struct hreq			*h;
	struct reply			*r;
	struct reply_watch		*w;
	struct hstream			*hs;		/* watching the
							   client */
	struct event			*ev;
	char				*format;
	int				 left;		/* the client went */
};

/* The answer is made now (or handed on): stop watching the client. */
static void
rc_answer(struct rconv *rc)
{
	if (rc->hs != NULL)
		http_stream_release(rc->hs);
	rc->hs = NULL;
}

static void
rc_free(struct rconv *rc)
{
	rc_answer(rc);
	reply_unwatch(rc->w);
	if (rc->left)
		reply_abandon(rc->r);
	else
		reply_release(rc->r);
	event_free(rc->ev);
	free(rc->format);
	free(rc);
}

static void
rc_closed_cb(void *arg)
{
	struct rconv	*rc = arg;

	rc->hs = NULL;
	rc->left = 1;
	rc_free(rc);
}

/* Shutdown's deadline: nothing was sent yet, a 503. */
static void
rc_cut_cb(void *arg)
{
	struct rconv	*rc = arg;

	log_info("%s stream cut by shutdown", rc->h->id);
	rc_answer(rc);
	http_shutting_down(rc->h);
	rc_free(rc);
}

static const struct http_stream_cbs rc_cbs = {
	rc_closed_cb, NULL, rc_cut_cb
};

static void
rc_check(struct rconv *rc)
{
	struct tts_params	 p;
	struct hreq		*h = rc->h;
	struct reply		*r = rc->r;
	char			**texts;
	size_t			 i, n = 0;

	if (!reply_finished(r) && !reply_cancelled(r))
		return;
	rc_answer(rc);
	p = *reply_params(r);
	p.format = rc->format;
	texts = xcalloc(reply_nsegs(r), sizeof *texts);
	/* A cancelled reply: the audio made before its first segment
	 * cancelled (100 ms of silence if none). */
	for (i = 0; i < reply_nsegs(r) &&
	    reply_seg_state(r, i) != RSEG_CANCELLED; i++)
		if (reply_seg_state(r, i) != RSEG_FAILED)
			texts[n++] = xstrdup(reply_seg_text(r, i));
	if (n == 0 && !reply_cancelled(r))
		http_error(h, 502, "server_error", "synthesis_failed",
		    "The reply has no audio: %s.", reply_nsegs(r) == 0 ?
		    "nothing in it is speakable" : "every segment failed");
	else
		stream_convert(h, &p, texts, n, r, NULL);
	for (i = 0; i < n; i++)
		free(texts[i]);
	free(texts);
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
	rc->format = xstrdup(format);
	rc->ev = evtimer_new(h->srv->base, rc_check_cb, rc);
	reply_hold(r);
	rc->w = reply_watch(r, rc_reply_cb, rc);
	rc->hs = http_stream_new(h, &rc_cbs, rc);
	rc_check(rc);
}

static void	replies_serve(struct hreq *, struct reply *, int);

/* A reply not known here, asked of the shared tier. */
struct rwait {
	struct hreq			*h;
	struct hstream			*hs;		/* watching the
							   client */
	struct mirror_wait		*mw;
	int				 segments;
	char				 id[64];
};

static void
rwait_closed_cb(void *arg)
{
	struct rwait	*rw = arg;

	mirror_wait_cancel(rw->mw);
	free(rw);
}

/* Shutdown's deadline: nothing was sent yet, a 503. */
static void
rwait_cut_cb(void *arg)
{
	struct rwait	*rw = arg;

	log_info("%s stream cut by shutdown", rw->h->id);
	mirror_wait_cancel(rw->mw);
	http_stream_release(rw->hs);
	http_shutting_down(rw->h);
	free(rw);
}

static const struct http_stream_cbs rwait_cbs = {
	rwait_closed_cb, NULL, rwait_cut_cb
};

static void
rwait_found_cb(void *arg, struct reply *r)
{
	struct rwait	*rw = arg;

	http_stream_release(rw->hs);
	if (r == NULL)
		http_error(rw->h, 404, "invalid_request_error",
		    "reply_not_found", "No reply '%s' here (it may have "
		    "expired).", rw->id);
	else
		replies_serve(rw->h, r, rw->segments);
	free(rw);
}

void
replies_get(struct hreq *h, const char *rest)
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
		rw->segments = segments;
		snprintf(rw->id, sizeof rw->id, "%s", id);
		if (srv->replies != NULL && (rw->mw = mirror_find(srv->mirrors,
		    id, rwait_found_cb, rw)) != NULL) {
			rw->hs = http_stream_new(h, &rwait_cbs, rw);
			return;
		}
		free(rw);
		http_error(h, 404, "invalid_request_error", "reply_not_found",
		    "No reply '%s' here (it may have expired).", id);
		return;
	}
	replies_serve(h, r, segments);
}

cJSON *
replies_cancel_json(const struct reply *r, int now)
{
	cJSON	*j, *seg;

	j = reply_segments_json(r);
	seg = cJSON_DetachItemFromObjectCaseSensitive(j, "state");
	cJSON_Delete(j);
	j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "id", reply_id(r));
	cJSON_AddStringToObject(j, "object", "audio.reply");
	cJSON_AddBoolToObject(j, "cancelled", reply_cancelled(r));
	cJSON_AddBoolToObject(j, "cancelled_now", now);
	cJSON_AddItemToObject(j, "state", seg);
	return j;
}

void
replies_delete(struct hreq *h, const char *rest)
{
	struct server	*srv = h->srv;
	struct reply	*r;
	cJSON		*j;
	size_t		 n;
	int		 now;

	if (http_auth(h) != 0)
		return;
	n = strcspn(rest, "/");
	if (n == 0 || rest[n] != '\0') {
		http_error(h, 404, "invalid_request_error", "not_found",
		    "Unknown path %s: DELETE /v1/audio/replies/{id} cancels "
		    "a reply.", h->path);
		return;
	}
	if (srv->replies == NULL || (r = reply_find(srv->replies, rest)) ==
	    NULL) {
		http_error(h, 404, "invalid_request_error", "reply_not_found",
		    "No reply '%s' here (it may have expired, or be served by "
		    "another instance: cancel it there).", rest);
		return;
	}
	now = reply_cancel(r, h->id);
	j = replies_cancel_json(r, now);
	http_json(h, 200, j);
	cJSON_Delete(j);
}

/* Serve a reply found (here, or copied from another instance). */
static void
replies_serve(struct hreq *h, struct reply *r, int segments)
{
	struct server		*srv = h->srv;
	struct tts_params	 p;
	struct params_can	 can;
	const struct evhttp_uri	*uri;
	struct evkeyvalq	 q;
	const char		*fmt;
	char			*list;
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
		if (params_format_index(fmt) < 0) {
			http_error(h, 400, "invalid_request_error",
			    "invalid_format", "'format' must be one of "
			    PARAMS_FORMAT_LIST ".");
			evhttp_clear_headers(&q);
			return;
		}
		/* Another format: converted from the reply's WAV, as one
		 * synthesis serves every format. */
		tts_can(srv->tts, &can);
		if (strcmp(p.format, "wav") == 0 &&
		    params_converts(&can, fmt)) {
			h->note = "reply";
			rc_start(h, r, fmt);
			evhttp_clear_headers(&q);
			return;
		}
		if (params_making(&can, fmt) != PARAMS_DIRECT) {
			list = params_can_text(&can);
			http_error(h, 400, "invalid_request_error",
			    "unsupported_response_format", "%s is not "
			    "supported for this reply; ask for %s.", fmt, list);
			free(list);
			evhttp_clear_headers(&q);
			return;
		}
		/* else made again in that format */
		p.format = fmt;
	}
	stream_reply(h, &p, r);	/* p copied: q may go */
	evhttp_clear_headers(&q);
}

