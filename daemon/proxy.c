/* proxy: chat completions and pass-through of other /v1 paths upstream. */
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

#include "chat.h"
#include "config.h"
#include "fetch.h"
#include "http.h"
#include "log.h"
#include "params.h"
#include "proxy.h"
#include "request.h"
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
	struct evhttp_connection	*evcon;
	struct bufferevent		*bev;
	bufferevent_data_cb		 saved_read, saved_write;
	bufferevent_event_cb		 saved_event;
	void				*saved_arg;
	int				 watching;
	struct fetch_req		*fr;
	int				 chat;		/* else pass-through */
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
	int				 flushing;
	int				 models;	/* GET /v1/models: merge */
	struct px			*next, *prev;	/* srv->proxies */
};

static void	px_finish(struct px *);

/* Headers a client sent that are not forwarded upstream. */
static int
skip_request_header(const char *name, int chat)
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
	if (chat && (strcasecmp(name, "Content-Type") == 0 ||
	    strcasecmp(name, "Accept") == 0))
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
	if (px->chat) {
		v[n++] = xstrdup("Content-Type: application/json");
		v[n++] = xstrdup("Accept: text/event-stream");
	}
	TAILQ_FOREACH(kv, in, next) {
		if (skip_request_header(kv->key, px->chat))
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

/*
 * Until the reply starts, evhttp does not read from the connection and
 * so cannot see a client leave.  Watch for it ourselves, with evhttp's
 * callbacks saved aside and put back before anything is sent.
 */
static void watch_read_cb(struct bufferevent *, void *);
static void watch_event_cb(struct bufferevent *, short, void *);

static void
watch_start(struct px *px)
{
	px->bev = evhttp_connection_get_bufferevent(px->evcon);
	bufferevent_getcb(px->bev, &px->saved_read, &px->saved_write,
	    &px->saved_event, &px->saved_arg);
	bufferevent_setcb(px->bev, watch_read_cb, px->saved_write,
	    watch_event_cb, px);
	bufferevent_setwatermark(px->bev, EV_READ, 0, 64 * 1024);
	bufferevent_set_timeouts(px->bev, NULL, NULL);
	bufferevent_enable(px->bev, EV_READ);
	px->watching = 1;
}

static void
watch_stop(struct px *px)
{
	if (!px->watching)
		return;
	px->watching = 0;
	bufferevent_disable(px->bev, EV_READ);
	bufferevent_setwatermark(px->bev, EV_READ, 0, 0);
	bufferevent_setcb(px->bev, px->saved_read, px->saved_write,
	    px->saved_event, px->saved_arg);
}

static void
watch_read_cb(struct bufferevent *bev, void *arg)
{
	/* Pipelined bytes wait for evhttp in the input buffer. */
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

static void
watch_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct px	*px = arg;

	if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))) {
		bufferevent_enable(bev, EV_READ);
		return;
	}
	watch_stop(px);
	client_gone(px);
	/* Hand the connection back to evhttp: the reply fails to be
	 * written and evhttp frees the connection as usual. */
	evhttp_connection_set_closecb(px->evcon, NULL, NULL);
	evhttp_send_reply(px->req, 499, "Client Closed Request", NULL);
	px->req = NULL;
	px_finish(px);
}

/* evhttp saw the client leave while the reply was being written. */
static void
close_cb(struct evhttp_connection *evcon, void *arg)
{
	struct px		*px = arg;
	struct evhttp_request	*req = px->req;

	evhttp_connection_set_closecb(evcon, NULL, NULL);
	client_gone(px);
	px->req = NULL;
	/* The request has lost its connection: finishing it frees it. */
	if (req != NULL)
		evhttp_send_reply_end(req);
	px_finish(px);
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
	if (px->prev != NULL)
		px->prev->next = px->next;
	else
		px->srv->proxies = px->next;
	if (px->next != NULL)
		px->next->prev = px->prev;
	if (!px->flushing)
		server_stream_done(px->srv);
	free(px);
}

/* The last bytes of a reply are written: the stream is over. */
static void
flushed_cb(struct evhttp_request *req, void *arg)
{
	server_stream_done(arg);
}

/* Count the stream as running until its reply is written out. */
static void
flush_then_done(struct px *px)
{
	evhttp_request_set_on_complete_cb(px->req, flushed_cb, px->srv);
	px->flushing = 1;
}

/* Everything is over for this request: log it and let go. */
static void
px_finish(struct px *px)
{
	http_done(px->h);
	px_free(px);
}

static void
drained_cb(struct evhttp_connection *evcon, void *arg)
{
	struct px	*px = arg;

	if (px->fr != NULL)
		fetch_resume(px->fr);
}

/* Send bytes of a started reply, pausing upstream if the client lags. */
static void
send_chunk(struct px *px, const void *data, size_t len)
{
	struct evbuffer	*buf;
	struct bufferevent *bev;

	if (px->req == NULL || len == 0)
		return;
	buf = evbuffer_new();
	evbuffer_add(buf, data, len);
	px->h->bytes += len;
	bev = evhttp_connection_get_bufferevent(px->evcon);
	if (px->fr != NULL && evbuffer_get_length(bufferevent_get_output(bev))
	    + len > PX_HIGH_WATER) {
		fetch_pause(px->fr);
		evhttp_send_reply_chunk_with_cb(px->req, buf, drained_cb, px);
	} else
		evhttp_send_reply_chunk(px->req, buf);
	evbuffer_free(buf);
}

static void
start_reply(struct px *px, int status, const char *ctype)
{
	struct evkeyvalq	*out;
	struct timeval		 tv = { 60, 0 };

	watch_stop(px);
	http_headers(px->h);
	out = evhttp_request_get_output_headers(px->req);
	if (ctype != NULL)
		evhttp_add_header(out, "Content-Type", ctype);
	if (px->chat) {
		evhttp_add_header(out, "Cache-Control", "no-cache");
		evhttp_add_header(out, "X-Accel-Buffering", "no");
	}
	if (px->reply_id[0] != '\0')
		evhttp_add_header(out, "X-TTS-Reply-Id", px->reply_id);
	px->h->status = status;
	evhttp_send_reply_start(px->req, status, NULL);
	/* A quiet client must not time the stream out; a stuck one may. */
	bufferevent_set_timeouts(evhttp_connection_get_bufferevent(px->evcon),
	    NULL, &tv);
	px->started = 1;
}

static void
end_reply(struct px *px)
{
	if (px->req != NULL) {
		evhttp_connection_set_closecb(px->evcon, NULL, NULL);
		flush_then_done(px);
		evhttp_send_reply_end(px->req);
		px->req = NULL;
	}
}

/* Send a whole reply (non-streamed), then finish. */
static void
whole_reply(struct px *px, int status, const char *ctype, const char *body,
    size_t len)
{
	struct evkeyvalq	*out;

	watch_stop(px);
	evhttp_connection_set_closecb(px->evcon, NULL, NULL);
	if (px->reply_id[0] != '\0') {
		out = evhttp_request_get_output_headers(px->req);
		evhttp_add_header(out, "X-TTS-Reply-Id", px->reply_id);
	}
	flush_then_done(px);
	http_reply(px->h, status, ctype, body, len);
	px->req = NULL;
	px_free(px);
}

static void
px_error(struct px *px, int status, const char *type, const char *fmt,
    const char *arg)
{
	watch_stop(px);
	evhttp_connection_set_closecb(px->evcon, NULL, NULL);
	flush_then_done(px);
	http_error(px->h, status, type, NULL, fmt, arg);
	px->req = NULL;
	px_free(px);
}

/* One SSE event from upstream (chat). */
static int
chat_event_cb(void *arg, const struct sse_event *ev)
{
	struct px	*px = arg;
	struct evbuffer	*events;
	cJSON		*chunk;
	const char	*content;
	char		*clean;
	size_t		 cleanlen;

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
	if (px->asmb != NULL)
		chat_asm_add(px->asmb, chunk);
	if (cJSON_GetObjectItemCaseSensitive(chunk, "error") != NULL)
		px->upstream_error = 1;
	content = chat_chunk_content(chunk);
	if (content != NULL && px->consumer != NULL) {
		events = px->tts.events && px->client_stream ?
		    evbuffer_new() : NULL;
		px->srv->reply_delta(px->consumer, content, strlen(content),
		    events);
		if (events != NULL) {
			/* `: tts {…}` comment lines after the event. */
			send_chunk(px, evbuffer_pullup(events, -1),
			    evbuffer_get_length(events));
			evbuffer_free(events);
		}
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
		    strncasecmp(ct, "text/event-stream", 17) == 0) {
			px->sse = sse_new(0);
			if (px->client_stream) {
				start_reply(px, (int)status, "text/event-stream");
				px->passing = 1;
			} else
				px->asmb = chat_asm_new();
		}
		return;
	}
	if (px->models)
		return;		/* held, merged at the end */
	/* Pass-through: status and headers as they are. */
	watch_stop(px);
	http_headers(px->h);
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
	px->h->status = (int)status;
	evhttp_send_reply_start(px->req, (int)status, NULL);
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
 * feed its content to the consumer when it is a completion. */
static void
feed_whole(struct px *px, const char *body, size_t len)
{
	cJSON		*root, *msg, *content;
	const cJSON	*c;

	if (px->consumer == NULL || (root = cJSON_ParseWithLength(body,
	    len)) == NULL)
		return;
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
		if (!ok && px->chat) {
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
		px_finish(px);
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
	px->evcon = evhttp_request_get_connection(h->req);
	px->chat = chat;
	px->srv->nstreams++;
	px->next = px->srv->proxies;
	if (px->next != NULL)
		px->next->prev = px;
	px->srv->proxies = px;
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
	evhttp_connection_set_closecb(px->evcon, close_cb, px);
	watch_start(px);
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

void
proxy_chat(struct hreq *h)
{
	struct px		*px;
	const char		*body;
	char			*nbody;
	size_t			 len;
	struct chat_tts		 tts;
	struct req_error	 re;
	int			 stream;

	if (http_auth(h) != 0)
		return;
	if ((body = http_body_checked(h, &len)) == NULL ||
	    check_upstream(h) != 0 || !http_utf8_ok(h, body, len))
		return;
	if ((nbody = chat_rewrite(body, len, &tts, &stream, &re)) == NULL) {
		http_error_param(h, 400, "invalid_request_error", re.code,
		    re.param, "%s", re.msg);
		return;
	}
	tts_headers(h, &tts);
	if (chat_tts_check(h, &tts) != 0) {
		chat_tts_clear(&tts);
		free(nbody);
		return;
	}
	h->srv->nchats++;
	px = px_new(h, 1);
	px->tts = tts;
	px->client_stream = stream;
	if (tts.enabled) {
		px_new_reply_id(px->reply_id, sizeof px->reply_id);
		if (h->srv->reply_begin != NULL)
			px->consumer = h->srv->reply_begin(h->srv,
			    px->reply_id, &px->tts);
	}
	px_start(px, nbody, strlen(nbody));
	free(nbody);
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
px_cut(struct px *px)
{
	static const char	ev[] = "data: {\"error\":{\"message\":"
	    "\"the server is shutting down and cut this stream: send the "
	    "request again\",\"type\":\"server_error\",\"param\":null,"
	    "\"code\":\"shutting_down\"}}\n\n";

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
	if (px->chat)
		send_chunk(px, ev, sizeof ev - 1);
	px->h->note = "shutdown-cut";
	end_reply(px);
	px_finish(px);
}

void
proxy_shutdown(struct server *srv)
{
	struct px	*px, *next;

	for (px = srv->proxies; px != NULL; px = next) {
		next = px->next;
		px_cut(px);
	}
}
