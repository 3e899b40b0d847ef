/* proxy: chat completions and pass-through of other /v1 paths upstream. */
#include <sys/queue.h>

#include <cjson/cJSON.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "chat.h"
#include "config.h"
#include "fetch.h"
#include "http.h"
#include "log.h"
#include "params.h"
#include "proxy.h"
#include "request.h"
#include "responses.h"
#include "server.h"
#include "sse.h"
#include "tts.h"
#include "upstream.h"
#include "util.h"

#define PX_HIGH_WATER	(1024 * 1024)	/* client output buffered: pause */
#define PX_HOLD_MAX	(16 * 1024 * 1024) /* non-streamed body held */

struct px {
	struct hreq			*h;
	struct server			*srv;
	struct evhttp_request		*req;
	struct hstream			*hs;		/* the reply */
	struct fetch_req		*fr;
	int				 chat;		/* else pass-through */
	int				 responses;	/* the chat is
							   /v1/responses */
	struct responses_pos		 rpos;
	int				 client_stream;
	int				 started;	/* chunked reply begun */
	int				 passing;	/* body passed as it comes */
	long				 status;
	char				*ctype;
	struct evbuffer			*hold;
	struct sse_parser		*sse;
	struct chat_asm			*asmb;
	struct chat_tts			 tts;
	void				*consumer;
	char				 reply_id[24];
	int				 saw_done;
	int				 upstream_error;
	struct event			*defer;
	int				 models;	/* GET /v1/models: merge */
};

static void	px_free(struct px *);
static void	px_closed_cb(void *);
static void	px_drained_cb(void *);
static void	px_cut_cb(void *);

static const struct http_stream_cbs px_cbs = {
	px_closed_cb, px_drained_cb, px_cut_cb
};

/* Headers a client sent that are not forwarded upstream. */
static int
skip_request_header(const char *name, const struct px *px)
{
	static const char *const hop[] = {
		"Host", "Content-Length", "Connection", "Keep-Alive",
		"Transfer-Encoding", "TE", "Trailer", "Upgrade",
		"Proxy-Authorization", "Proxy-Connection", "Authorization",
		"Accept-Encoding", "Expect", "Cookie", NULL
	};
	size_t	i;

	for (i = 0; hop[i] != NULL; i++)
		if (strcasecmp(name, hop[i]) == 0)
			return 1;
	if (strncasecmp(name, "X-TTS-", 6) == 0)
		return 1;
	/* A chat's are ours; a Responses request keeps its Accept. */
	if (px->chat && (strcasecmp(name, "Content-Type") == 0 ||
	    (!px->responses && strcasecmp(name, "Accept") == 0)))
		return 1;
	return 0;
}

/* Headers from upstream that are not passed to the client. */
static int
skip_response_header(const char *name, size_t len)
{
	static const char *const hop[] = {
		"Connection", "Keep-Alive", "Transfer-Encoding",
		"Content-Length", "Date", "Server", "Trailer", "Upgrade",
		"Proxy-Connection", "X-Request-Id",
		"Access-Control-Allow-Origin", NULL
	};
	size_t	i;

	for (i = 0; hop[i] != NULL; i++)
		if (strlen(hop[i]) == len && strncasecmp(name, hop[i], len) == 0)
			return 1;
	return 0;
}

/* Build the upstream header list; free with free_headers. */
static char **
upstream_headers(struct px *px)
{
	struct evkeyvalq	*in;
	struct evkeyval		*kv;
	const struct config	*cf = px->srv->cf;
	char			**v = NULL;
	size_t			 n = 0;

	in = evhttp_request_get_input_headers(px->req);
	v = xreallocarray(v, 4, sizeof *v);
	if (cf->upstream_key != NULL)
		v[n++] = xasprintf("Authorization: Bearer %s",
		    cf->upstream_key);
	if (px->chat)
		v[n++] = xstrdup("Content-Type: application/json");
	if (px->chat && !px->responses)
		v[n++] = xstrdup("Accept: text/event-stream");
	TAILQ_FOREACH(kv, in, next) {
		if (skip_request_header(kv->key, px))
			continue;
		v = xreallocarray(v, n + 2, sizeof *v);
		v[n++] = xasprintf("%s: %s", kv->key, kv->value);
	}
	v = xreallocarray(v, n + 1, sizeof *v);
	v[n] = NULL;
	return v;
}

static void
free_headers(char **v)
{
	size_t	i;

	for (i = 0; v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

static void
client_gone(struct px *px)
{
	log_info("%s client closed the connection; upstream transfer "
	    "cancelled", px->h->id);
	fetch_cancel(px->fr);
	px->fr = NULL;
	px->h->note = "client-closed";
	px->h->status = 499;
}

/* The client left, before the reply started or while it was written. */
static void
px_closed_cb(void *arg)
{
	struct px	*px = arg;

	client_gone(px);
	px->hs = NULL;
	px->req = NULL;
	px_free(px);
}

/* Stop watching the client: the reply is made another way. */
static void
px_release(struct px *px)
{
	if (px->hs != NULL)
		http_stream_release(px->hs);
	px->hs = NULL;
}

static void
px_free(struct px *px)
{
	if (px->fr != NULL)
		fetch_cancel(px->fr);
	if (px->consumer != NULL)
		px->srv->reply_end(px->consumer, !px->upstream_error, NULL);
	if (px->defer != NULL)
		event_free(px->defer);
	sse_free(px->sse);
	chat_asm_free(px->asmb);
	chat_tts_clear(&px->tts);
	if (px->hold != NULL)
		evbuffer_free(px->hold);
	free(px->ctype);
	px_release(px);
	server_stream_done(px->srv);
	free(px);
}

static void
px_drained_cb(void *arg)
{
	struct px	*px = arg;

	if (px->fr != NULL)
		fetch_resume(px->fr);
}

/* Send bytes of a started reply, pausing upstream if the client lags. */
static void
send_chunk(struct px *px, const void *data, size_t len)
{
	if (px->req == NULL || len == 0)
		return;
	if (http_stream_chunk(px->hs, data, len, px->fr != NULL ?
	    PX_HIGH_WATER : 0))
		fetch_pause(px->fr);
}

static void
start_reply(struct px *px, int status, const char *ctype)
{
	struct evkeyvalq	*out;

	out = evhttp_request_get_output_headers(px->req);
	if (px->chat) {
		evhttp_add_header(out, "Cache-Control", "no-cache");
		evhttp_add_header(out, "X-Accel-Buffering", "no");
	}
	if (px->reply_id[0] != '\0')
		evhttp_add_header(out, "X-TTS-Reply-Id", px->reply_id);
	http_stream_start(px->hs, status, ctype);
	px->started = 1;
}

/* The last chunk; the request is over. */
static void
end_reply(struct px *px)
{
	if (px->req != NULL) {
		http_count_until_sent(px->h);
		http_stream_end(px->hs);
		px->hs = NULL;
		px->req = NULL;
	}
	px_free(px);
}

/* Send a whole reply (non-streamed), then finish. */
static void
whole_reply(struct px *px, int status, const char *ctype, const char *body,
    size_t len)
{
	struct evkeyvalq	*out;

	px_release(px);
	if (px->reply_id[0] != '\0') {
		out = evhttp_request_get_output_headers(px->req);
		evhttp_add_header(out, "X-TTS-Reply-Id", px->reply_id);
	}
	http_count_until_sent(px->h);
	http_reply(px->h, status, ctype, body, len);
	px->req = NULL;
	px_free(px);
}

static void
px_error(struct px *px, int status, const char *type, const char *fmt,
    const char *arg)
{
	px_release(px);
	http_count_until_sent(px->h);
	http_error(px->h, status, type, NULL, fmt, arg);
	px->req = NULL;
	px_free(px);
}

/* Text of the reply for the consumer; for a streaming client that asked
 * for them, the `: tts {…}` comment lines follow the event. */
static void
px_speak(struct px *px, const char *text)
{
	struct evbuffer	*events;

	events = px->tts.events && px->client_stream ? evbuffer_new() : NULL;
	px->srv->reply_delta(px->consumer, text, strlen(text), events);
	if (events != NULL) {
		send_chunk(px, evbuffer_pullup(events, -1),
		    evbuffer_get_length(events));
		evbuffer_free(events);
	}
}

/* One SSE event from upstream (chat or Responses). */
static int
chat_event_cb(void *arg, const struct sse_event *ev)
{
	struct px	*px = arg;
	cJSON		*chunk;
	const char	*content;
	char		*clean, *sep;
	size_t		 cleanlen;
	int		 newpart = 0;

	if (px->client_stream)
		send_chunk(px, ev->raw, ev->rawlen);
	if (!ev->has_data || (px->consumer == NULL && px->asmb == NULL))
		return 0;
	if (strcmp(ev->data, "[DONE]") == 0) {
		px->saw_done = 1;
		return 0;
	}
	/* A \u0000 or bad UTF-8 would cut or pass into what is built. */
	clean = chat_sanitize(ev->data, ev->datalen, &cleanlen);
	chunk = cJSON_ParseWithLength(clean != NULL ? clean : ev->data,
	    clean != NULL ? cleanlen : ev->datalen);
	free(clean);
	if (chunk == NULL)
		return 0;
	if (px->responses) {
		/* Only output text: no reasoning, refusal or tool call. */
		content = responses_event_text(chunk, &px->rpos, &newpart);
		if (responses_event_failed(chunk))
			px->upstream_error = 1;
	} else {
		if (px->asmb != NULL)
			chat_asm_add(px->asmb, chunk);
		if (cJSON_GetObjectItemCaseSensitive(chunk, "error") != NULL)
			px->upstream_error = 1;
		content = chat_chunk_content(chunk);
	}
	if (content != NULL && px->consumer != NULL) {
		if (newpart) {
			sep = xasprintf(RESPONSES_SEP "%s", content);
			px_speak(px, sep);
			free(sep);
		} else
			px_speak(px, content);
	}
	cJSON_Delete(chunk);
	return 0;
}

static const char *
find_header(const char **hdrs, size_t n, const char *name)
{
	size_t		i, len = strlen(name);
	const char	*v;

	for (i = 0; i < n; i++)
		if (strncasecmp(hdrs[i], name, len) == 0 &&
		    hdrs[i][len] == ':') {
			v = hdrs[i] + len + 1;
			while (*v == ' ' || *v == '\t')
				v++;
			return v;
		}
	return NULL;
}

static void
up_head_cb(void *arg, long status, const char **hdrs, size_t n)
{
	struct px		*px = arg;
	const char		*ct, *colon;
	struct evkeyvalq	*out;
	size_t			 i, nlen;
	char			*name;

	px->status = status;
	upstream_answered(px->srv->upstream, status);
	if (px->chat)
		hist_observe(&px->srv->h_upstream_first, now_usec() - px->h->t0);
	if ((ct = find_header(hdrs, n, "Content-Type")) != NULL)
		px->ctype = xstrdup(ct);
	if (px->chat) {
		/* A streamed 2xx is passed at once; anything else is held
		 * and answered whole at the end. */
		if (status >= 200 && status < 300 && ct != NULL &&
		    strncasecmp(ct, "text/event-stream", 17) == 0 &&
		    (px->client_stream || !px->responses)) {
			px->sse = sse_new(0);
			if (px->client_stream) {
				/* A Responses stream keeps its charset. */
				start_reply(px, (int)status, px->responses ?
				    px->ctype : "text/event-stream");
				px->passing = 1;
			} else
				px->asmb = chat_asm_new();
		}
		return;
	}
	if (px->models)
		return;		/* held, merged at the end */
	/* Pass-through: status and headers as they are. */
	out = evhttp_request_get_output_headers(px->req);
	for (i = 0; i < n; i++) {
		colon = strchr(hdrs[i], ':');
		nlen = (size_t)(colon - hdrs[i]);
		if (skip_response_header(hdrs[i], nlen))
			continue;
		name = xstrndup(hdrs[i], nlen);
		colon++;
		while (*colon == ' ' || *colon == '\t')
			colon++;
		evhttp_add_header(out, name, colon);
		free(name);
	}
	http_stream_start(px->hs, (int)status, NULL);
	px->started = 1;
	px->passing = 1;
}

static void	up_done_cb(void *, int, const char *);

static void
oversized_cb(evutil_socket_t fd, short what, void *arg)
{
	up_done_cb(arg, 0, "an event larger than 8 MiB");
}

static void
up_data_cb(void *arg, const char *data, size_t len)
{
	struct px	*px = arg;

	if (px->sse != NULL) {
		if (sse_feed(px->sse, data, len, chat_event_cb, px) != 0) {
			log_warn("%s upstream sent an oversized event; "
			    "stream cut", px->h->id);
			px->upstream_error = 1;
			fetch_cancel(px->fr);
			px->fr = NULL;
			/* Finish from the loop, not inside curl's callback. */
			px->defer = evtimer_new(px->srv->base, oversized_cb,
			    px);
			event_active(px->defer, EV_TIMEOUT, 0);
		}
		return;
	}
	if (px->passing) {
		send_chunk(px, data, len);
		return;
	}
	if (px->hold == NULL)
		px->hold = evbuffer_new();
	if (evbuffer_get_length(px->hold) + len <= PX_HOLD_MAX)
		evbuffer_add(px->hold, data, len);
}

/* A non-SSE chat body (an upstream that ignored stream, or an error):
 * feed its content to the consumer when it is a completion, or its
 * output text when it is a Responses object. */
static void
feed_whole(struct px *px, const char *body, size_t len)
{
	cJSON		*root, *msg, *content;
	const cJSON	*c;
	char		*text;

	if (px->consumer == NULL || (root = cJSON_ParseWithLength(body,
	    len)) == NULL)
		return;
	if (px->responses) {
		if ((text = responses_output_text(root)) != NULL)
			px->srv->reply_delta(px->consumer, text, strlen(text),
			    NULL);
		free(text);
		cJSON_Delete(root);
		return;
	}
	c = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root,
	    "choices"), 0);
	msg = cJSON_GetObjectItemCaseSensitive(c, "message");
	content = cJSON_GetObjectItemCaseSensitive(msg, "content");
	if (cJSON_IsString(content))
		px->srv->reply_delta(px->consumer, content->valuestring,
		    strlen(content->valuestring), NULL);
	cJSON_Delete(root);
}

/* The upstream's model list with the TTS model appended; NULL if the
 * body is not a list (then it is passed as it is). */
static char *
models_merge(struct px *px, const char *body, size_t len)
{
	const char	*tts = px->srv->cf->tts_default_model;
	cJSON		*root, *data, *m, *id;
	char		*out;

	if (body == NULL || (root = cJSON_ParseWithLength(body, len)) == NULL)
		return NULL;
	data = cJSON_GetObjectItemCaseSensitive(root, "data");
	if (!cJSON_IsArray(data)) {
		cJSON_Delete(root);
		return NULL;
	}
	cJSON_ArrayForEach(m, data) {
		id = cJSON_GetObjectItemCaseSensitive(m, "id");
		if (cJSON_IsString(id) && strcmp(id->valuestring, tts) == 0)
			break;
	}
	if (m == NULL) {
		m = cJSON_CreateObject();
		cJSON_AddStringToObject(m, "id", tts);
		cJSON_AddStringToObject(m, "object", "model");
		cJSON_AddNumberToObject(m, "created", 0);
		cJSON_AddStringToObject(m, "owned_by", "ttsaccel");
		cJSON_AddItemToArray(data, m);
	}
	out = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return out;
}

static void
up_done_cb(void *arg, int ok, const char *why)
{
	struct px	*px = arg;
	struct evbuffer	*events;
	char		*body, *msg, *merged;
	size_t		 len;

	px->fr = NULL;
	if (px->sse != NULL && ok)
		sse_finish(px->sse, chat_event_cb, px);
	if (!ok) {
		px->upstream_error = 1;
		px->srv->nupstream_errors++;
		upstream_failed(px->srv->upstream, px->status != 0, why);
		log_warn("%s upstream %s: %s", px->h->id,
		    px->status == 0 ? "unreachable" : "failed mid-reply", why);
	}
	if (px->started) {
		if (px->consumer != NULL && px->tts.events) {
			/* The last segments' events before the end. */
			events = evbuffer_new();
			px->srv->reply_end(px->consumer, !px->upstream_error,
			    events);
			px->consumer = NULL;
			send_chunk(px, evbuffer_pullup(events, -1),
			    evbuffer_get_length(events));
			evbuffer_free(events);
		}
		if (!ok && px->responses) {
			/* The Responses API's own error event. */
			msg = xasprintf("event: error\ndata: {\"type\":"
			    "\"error\",\"code\":\"upstream_failed\","
			    "\"message\":\"upstream connection lost: %s\","
			    "\"param\":null}\n\n", "the stream was cut");
			send_chunk(px, msg, strlen(msg));
			free(msg);
			px->h->note = "upstream-cut";
		} else if (!ok && px->chat) {
			/* The stream ends with an error event. */
			msg = xasprintf("data: {\"error\":{\"message\":"
			    "\"upstream connection lost: %s\",\"type\":"
			    "\"upstream_error\",\"param\":null,\"code\":"
			    "\"upstream_failed\"}}\n\n", "the stream was cut");
			send_chunk(px, msg, strlen(msg));
			free(msg);
			px->h->note = "upstream-cut";
		} else if (!ok)
			px->h->note = "upstream-cut";
		end_reply(px);
		return;
	}
	if (!ok) {
		if (strstr(why, "imeout") != NULL || strstr(why, "too slow"))
			px_error(px, 504, "upstream_error", "upstream timed "
			    "out: %s", why);
		else
			px_error(px, 502, "upstream_error", "upstream "
			    "request failed: %s", why);
		return;
	}
	if (px->asmb != NULL && !chat_asm_empty(px->asmb)) {
		body = chat_asm_result(px->asmb);
		whole_reply(px, 200, "application/json", body, strlen(body));
		free(body);
		return;
	}
	len = px->hold != NULL ? evbuffer_get_length(px->hold) : 0;
	body = len > 0 ? (char *)evbuffer_pullup(px->hold, -1) : NULL;
	if (px->models && px->status == 200 &&
	    (merged = models_merge(px, body, len)) != NULL) {
		whole_reply(px, 200, "application/json", merged,
		    strlen(merged));
		free(merged);
		return;
	}
	if (px->chat && px->status >= 200 && px->status < 300)
		feed_whole(px, body, len);
	if (px->status == 0)
		px->status = 502;
	whole_reply(px, (int)px->status, px->ctype != NULL ? px->ctype :
	    "application/json", body, len);
}

static const struct fetch_cbs up_cbs = {
	up_head_cb, up_data_cb, up_done_cb
};

static struct px *
px_new(struct hreq *h, int chat)
{
	struct px	*px;

	px = xcalloc(1, sizeof *px);
	px->h = h;
	px->srv = h->srv;
	px->req = h->req;
	px->chat = chat;
	px->srv->nstreams++;
	px->hs = http_stream_new(h, &px_cbs, px);
	return px;
}

/* Start the upstream transfer; the client's path and query are kept. */
static void
px_start(struct px *px, const char *body, size_t len)
{
	const struct evhttp_uri	*uri;
	const char		*q;
	char			*url, **hdrs;
	struct fetch_opts	 o;

	uri = evhttp_request_get_evhttp_uri(px->req);
	q = evhttp_uri_get_query(uri);
	/* The path routed on, as checked by http_path_decode: nothing
	 * there for anyone (libcurl included) to normalise. */
	url = xasprintf("%s%s%s%s", px->srv->cf->upstream_url,
	    px->h->rawpath, q != NULL ? "?" : "", q != NULL ? q : "");
	hdrs = upstream_headers(px);
	memset(&o, 0, sizeof o);
	o.method = px->h->method;
	o.url = url;
	o.headers = (const char **)hdrs;
	o.body = body;
	o.bodylen = len;
	o.timeout = px->srv->cf->upstream_timeout;
	o.path_as_is = 1;
	px->fr = fetch_start(px->srv->fetch, &o, &up_cbs, px);
	free(url);
	free_headers(hdrs);
	http_stream_watch(px->hs);
}

static int
check_upstream(struct hreq *h)
{
	if (h->srv->cf->upstream_url != NULL)
		return 0;
	http_error(h, 503, "server_error", "upstream_not_configured",
	    "No upstream is configured: set NEWAPI_BASE_URL to an "
	    "OpenAI-compatible base URL.");
	return -1;
}

/* A new reply id in buf: "r" and 16 random hex digits. */
static void
px_new_reply_id(char *buf, size_t len)
{
	static const char	hex[] = "0123456789abcdef";
	unsigned char		r[8];
	size_t			i;

	random_bytes(r, sizeof r);
	buf[0] = 'r';
	for (i = 0; i < sizeof r && 2 * i + 3 < len; i++) {
		buf[1 + 2 * i] = hex[r[i] >> 4];
		buf[2 + 2 * i] = hex[r[i] & 15];
	}
	buf[1 + 2 * i] = '\0';
}

/* X-TTS-* headers override the body's tts_* fields. */
static void
tts_headers(struct hreq *h, struct chat_tts *tts)
{
	const char	*v;

	if ((v = http_header(h, "X-TTS-Enabled")) != NULL)
		tts->enabled = !(strcasecmp(v, "false") == 0 ||
		    strcmp(v, "0") == 0 || strcasecmp(v, "no") == 0 ||
		    strcasecmp(v, "off") == 0);
	if ((v = http_header(h, "X-TTS-Model")) != NULL && *v != '\0') {
		free(tts->model);
		tts->model = xstrdup(v);
	}
	if ((v = http_header(h, "X-TTS-Voice")) != NULL && *v != '\0') {
		free(tts->voice);
		tts->voice = xstrdup(v);
	}
	if ((v = http_header(h, "X-TTS-Format")) != NULL && *v != '\0') {
		free(tts->format);
		tts->format = xstrdup(v);
	}
}

/* The chat's own TTS fields are ones we can say: 0, or -1 (answered). */
static int
chat_tts_check(struct hreq *h, const struct chat_tts *tts)
{
	struct params_can	 can;
	char			*list;

	if (tts->format != NULL && params_format_index(tts->format) < 0) {
		http_error(h, 400, "invalid_request_error", "invalid_tts_format",
		    "'tts_format' must be one of " PARAMS_FORMAT_LIST ".");
		return -1;
	}
	tts_can(h->srv->tts, &can);
	if (tts->format != NULL && h->srv->tts != NULL &&
	    params_making(&can, tts->format) < 0) {
		list = params_can_text(&can);
		http_error(h, 400, "invalid_request_error",
		    "unsupported_tts_format", "'tts_format' %s cannot be made "
		    "here; ask for %s.", tts->format, list);
		free(list);
		return -1;
	}
	if (tts->speed != 0 && !params_speed_ok(tts->speed)) {
		http_error(h, 400, "invalid_request_error", "invalid_tts_speed",
		    "'tts_speed' must be a number from 0.25 to 4.0.");
		return -1;
	}
	return 0;
}

/* Start a chat (or a Responses request) whose body nbody is ready for
 * upstream: tts is taken, nbody is not. */
static void
px_chat(struct hreq *h, struct chat_tts *tts, int stream, int responses,
    const char *nbody, size_t nlen)
{
	struct px	*px;

	tts_headers(h, tts);
	if (chat_tts_check(h, tts) != 0) {
		chat_tts_clear(tts);
		return;
	}
	h->srv->nchats++;
	px = px_new(h, 1);
	px->responses = responses;
	px->tts = *tts;
	px->client_stream = stream;
	if (tts->enabled) {
		px_new_reply_id(px->reply_id, sizeof px->reply_id);
		if (h->srv->reply_begin != NULL)
			px->consumer = h->srv->reply_begin(h->srv,
			    px->reply_id, &px->tts);
	}
	px_start(px, nbody, nlen);
}

/*
 * A chat or a Responses request: keyed, its body checked, then rewritten
 * for upstream by chat_rewrite or responses_rewrite (responses: 1), a
 * rewrite's refusal answered 400.
 */
static void
px_entry(struct hreq *h, int responses)
{
	const char		*body;
	char			*nbody;
	size_t			 len, nlen;
	struct chat_tts		 tts;
	struct req_error	 re;
	int			 stream;

	if (http_auth(h) != 0)
		return;
	if ((body = http_body_checked(h, &len)) == NULL ||
	    check_upstream(h) != 0 || !http_utf8_ok(h, body, len))
		return;
	if (responses)
		nbody = responses_rewrite(body, len, &tts, &stream, &nlen, &re);
	else if ((nbody = chat_rewrite(body, len, &tts, &stream, &re)) != NULL)
		nlen = strlen(nbody);
	if (nbody == NULL) {
		http_error_param(h, 400, "invalid_request_error", re.code,
		    re.param, "%s", re.msg);
		return;
	}
	px_chat(h, &tts, stream, responses, nbody, nlen);
	free(nbody);
}

void
proxy_chat(struct hreq *h)
{
	px_entry(h, 0);
}

void
proxy_responses(struct hreq *h)
{
	px_entry(h, 1);
}

void
proxy_pass(struct hreq *h, int auth)
{
	struct px	*px;
	const char	*body;
	size_t		 len;

	if (auth && http_auth(h) != 0)
		return;
	if ((body = http_body_checked(h, &len)) == NULL ||
	    check_upstream(h) != 0)
		return;
	px = px_new(h, 0);
	px->models = strcmp(h->path, "/v1/models") == 0 &&
	    strcmp(h->method, "GET") == 0;
	px_start(px, len > 0 ? body : NULL, len);
}

/* Cut one request at shutdown's deadline. */
static void
px_cut_cb(void *arg)
{
	struct px		*px = arg;
	static const char	ev[] = "data: {\"error\":{\"message\":"
	    "\"the server is shutting down and cut this stream: send the "
	    "request again\",\"type\":\"server_error\",\"param\":null,"
	    "\"code\":\"shutting_down\"}}\n\n";
	static const char	rev[] = "event: error\ndata: {\"type\":"
	    "\"error\",\"code\":\"shutting_down\",\"message\":\"the "
	    "server is shutting down and cut this stream: send the request "
	    "again\",\"param\":null}\n\n";

	if (px->req == NULL)
		return;		/* already written out, being flushed */
	log_info("%s stream cut by shutdown", px->h->id);
	if (px->fr != NULL) {
		fetch_cancel(px->fr);
		px->fr = NULL;
	}
	px->upstream_error = 1;		/* the reply is cut short */
	if (!px->started) {
		px_error(px, 503, "server_error", "%s", "the server is "
		    "shutting down: send the request again");
		return;
	}
	if (px->responses)
		send_chunk(px, rev, sizeof rev - 1);
	else if (px->chat)
		send_chunk(px, ev, sizeof ev - 1);
	px->h->note = "shutdown-cut";
	end_reply(px);
}
