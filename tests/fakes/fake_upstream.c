/*
 * fake_upstream: a scripted OpenAI-compatible chat server for the tests.
 *
 * It listens on 127.0.0.1 only.  Its behaviour is set by command-line
 * options and may be overridden per request, by X-Fake-<Option> request
 * headers or by an "x_fake" object in a chat request's body, so that one
 * instance can serve many scenarios.  Replies stream one SSE event per timer
 * tick; faults (abrupt close, error status, odd SSE framing, a stalled
 * stream) are injected on demand.  Run with --help for the options.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>

#include <cjson/cJSON.h>

#include "util.h"

#define DEFAULT_REPLY	"Hello! This is the fake upstream speaking. " \
			"It streams a short reply in small pieces."
#define DEFAULT_MODEL	"fake-model"
#define MAX_DELAY_MS	3600000LL
#define MAX_BODY	(16 * 1024 * 1024)
#define MAX_HEADERS	(256 * 1024)
#define ECHO_PREFIX	"ECHO:"
#define TOOL_NAME	"get_weather"
#define TOOL_ARGS	"{\"location\":\"Paris, France\",\"unit\":\"celsius\"}"
#define TOOL_PIECES	4

/* What one request is answered with: the defaults, then the overrides. */
struct script {
	char		*reply;
	char		*reasoning;	/* NULL: no reasoning_content */
	long long	 chunk;		/* code points per delta */
	long long	 repeat;	/* the reply this many times over */
	long long	 delay_ms;	/* between events */
	long long	 first_delay_ms; /* before the first event */
	int		 framing;
#define FRAME_MULTILINE	0x1
#define FRAME_NOSPACE	0x2
#define FRAME_CRLF	0x4
#define FRAME_DIRTY	0x8
	long long	 die_after;	/* content chunks, -1 = never */
	long long	 hang_after;	/* content chunks, -1 = never */
	int		 status;	/* answer this error status, 0 = no */
	int		 tool_call;
	int		 timestamps;
};

/* The dirty fault: ~0 becomes the escape \\u0000, ~x the byte 0xff
 * (out has room for 3 bytes per byte of in). */
static void
dirty_into(const char *in, char *out)
{
	for (; *in != '\0'; in++) {
		if (in[0] == '~' && in[1] == '0') {
			memcpy(out, "\\u0000", 6);
			out += 6;
			in++;
		} else if (in[0] == '~' && in[1] == 'x') {
			*out++ = (char)0xff;
			in++;
		} else
			*out++ = *in;
	}
	*out = '\0';
}

/* One SSE event still to send; json NULL is "[DONE]". */
struct sse_event {
	cJSON		*json;
	int		 content;	/* carries delta.content text */
	int		 named;		/* an event: line, its "type" */
};

/* A request answered later, from timer ticks. */
struct stream {
	LIST_ENTRY(stream)	 entry;
	struct evhttp_request	*req;
	struct evhttp_connection *evcon;
	struct event		*timer;
	struct event		*poll;		/* before the reply starts */
	unsigned long long	 seq;
	char			*path;
	struct script		 sc;
	int			 mode;
#define MODE_SSE	0	/* stream events, one per tick */
#define MODE_REPLY	1	/* send status + body at the first tick */
#define MODE_DIE	2	/* close the connection at the first tick */
#define MODE_HOLD	3	/* never answer; wait for the client to go */
	int			 reply_status;
	char			*reply_body;
	struct sse_event	*ev;
	size_t			 nev;
	size_t			 next;
	long long		 content_total;
	long long		 content_sent;
	int			 dying;
};

static LIST_HEAD(, stream) streams = LIST_HEAD_INITIALIZER(streams);

static struct event_base	*base;
static struct script		 defaults;
static const char		*require_key;
static FILE			*logfp;
static unsigned long long	 nrequests, ncompleted, nclosed, nkilled;
static size_t			 nactive, max_active;

static void	stream_tick_cb(evutil_socket_t, short, void *);
static void	stream_poll_cb(evutil_socket_t, short, void *);

static void __attribute__((noreturn))
die(const char *what)
{
	fprintf(stderr, "fake_upstream: %s\n", what);
	exit(1);
}

static void
usage(FILE *f)
{
	fprintf(f,
"usage: fake_upstream --port N [options]\n"
"A scripted OpenAI-compatible chat server on 127.0.0.1, for tests.\n"
"\n"
"  --port N              listen on 127.0.0.1:N (required)\n"
"  --log FILE            append one JSON line per request, and one per\n"
"                        streaming client that goes away mid-stream\n"
"  --require-key KEY     answer 401 unless Authorization: Bearer KEY\n"
"  --reply TEXT          the reply (default: three short sentences); a last\n"
"                        user message \"ECHO:rest\" makes the reply \"rest\"\n"
"  --chunk N             code points per content delta (default 4)\n"
"  --repeat N            the reply N times over (a large one; default 1)\n"
"  --delay-ms N          delay between SSE events (default 0)\n"
"  --first-delay-ms N    delay before the first event or the JSON answer\n"
"  --fault MODE[,MODE]   none | die-after:N | status:CODE | multiline |\n"
"                        nospace | crlf | dirty | hang | hang:N\n"
"  --reasoning TEXT      send reasoning_content deltas before the content\n"
"  --tool-call           send a tool call after the content\n"
"  --timestamps          add \"t_sent_ns\" to each chunk: CLOCK_REALTIME in ns\n"
"                        when the chunk is handed to the connection\n"
"  --help                this text\n"
"\n"
"Faults: die-after:N closes the connection after N content chunks, without\n"
"[DONE]; status:CODE answers CODE with an OpenAI error body; multiline\n"
"splits each event's JSON over several data: lines and adds event:, id:\n"
"and comment lines; nospace writes data:{...}; crlf ends lines with CRLF;\n"
"dirty writes each ~0 in an event's JSON as the escape \\u0000 and each\n"
"~x as the byte 0xff (invalid UTF-8), so ECHO:a~0b~xc sends both;\n"
"hang (hang:N) goes quiet after the first (N-th) content chunk until the\n"
"client leaves.  Without \"stream\": true, die-after closes the connection\n"
"without an answer and hang never answers.\n"
"\n"
"Per request, header X-Fake-<Option>: VALUE (X-Fake-Delay-Ms: 50,\n"
"X-Fake-Fault: die-after:3, X-Fake-Tool-Call: 1) or a body field\n"
"\"x_fake\": {\"delay_ms\": 50, ...} overrides the option's value.\n"
"\n"
"Endpoints: POST /v1/chat/completions, POST /v1/responses (the Responses\n"
"API: named events, --reasoning as a reasoning summary item, --tool-call as\n"
"a function_call item; the input's last user text may be ECHO:), GET\n"
"/v1/models, any other /v1/ path echoes the request as JSON, GET\n"
"/_fake/stats gives counters, POST /_fake/release ends the first delay of\n"
"every answer still waiting for it (a test holds many with a long\n"
"X-Fake-First-Delay-Ms, waits until all have arrived, then releases them).\n");
}

/* --- scripts --------------------------------------------------------- */

static void
script_init(struct script *sc)
{
	memset(sc, 0, sizeof(*sc));
	sc->reply = xstrdup(DEFAULT_REPLY);
	sc->chunk = 4;
	sc->repeat = 1;
	sc->die_after = -1;
	sc->hang_after = -1;
}

static void
script_copy(struct script *dst, const struct script *src)
{
	*dst = *src;
	dst->reply = xstrdup(src->reply);
	dst->reasoning = src->reasoning ? xstrdup(src->reasoning) : NULL;
}

static void
script_free(struct script *sc)
{
	free(sc->reply);
	free(sc->reasoning);
	sc->reply = sc->reasoning = NULL;
}

static int
parse_bool(const char *s, int *out)
{
	if (strcasecmp(s, "1") == 0 || strcasecmp(s, "true") == 0 ||
	    strcasecmp(s, "yes") == 0 || strcasecmp(s, "on") == 0)
		*out = 1;
	else if (strcasecmp(s, "0") == 0 || strcasecmp(s, "false") == 0 ||
	    strcasecmp(s, "no") == 0 || strcasecmp(s, "off") == 0)
		*out = 0;
	else
		return -1;
	return 0;
}

/* Parse a comma-separated list of fault modes into sc's fault fields. */
static int
parse_fault(struct script *sc, const char *value, const char **errstr)
{
	char		*copy, *tok, *save = NULL;
	long long	 n;
	int		 rc = -1;

	sc->framing = 0;
	sc->die_after = sc->hang_after = -1;
	sc->status = 0;
	copy = xstrdup(value);
	for (tok = strtok_r(copy, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		tok = strtrim(tok);
		if (strcmp(tok, "none") == 0 || *tok == '\0') {
			continue;
		} else if (strcmp(tok, "multiline") == 0) {
			sc->framing |= FRAME_MULTILINE;
		} else if (strcmp(tok, "nospace") == 0) {
			sc->framing |= FRAME_NOSPACE;
		} else if (strcmp(tok, "crlf") == 0) {
			sc->framing |= FRAME_CRLF;
		} else if (strcmp(tok, "dirty") == 0) {
			sc->framing |= FRAME_DIRTY;
		} else if (strcmp(tok, "hang") == 0) {
			sc->hang_after = 1;
		} else if (strncmp(tok, "hang:", 5) == 0) {
			if (parse_ll(tok + 5, 0, LLONG_MAX, &n, errstr) != 0)
				goto out;
			sc->hang_after = n;
		} else if (strncmp(tok, "die-after:", 10) == 0) {
			if (parse_ll(tok + 10, 0, LLONG_MAX, &n, errstr) != 0)
				goto out;
			sc->die_after = n;
		} else if (strncmp(tok, "status:", 7) == 0) {
			if (parse_ll(tok + 7, 400, 599, &n, errstr) != 0)
				goto out;
			sc->status = (int)n;
		} else {
			*errstr = "is not a fault mode (none, die-after:N, "
			    "status:CODE, multiline, nospace, crlf, dirty, hang, "
			    "hang:N)";
			goto out;
		}
	}
	rc = 0;
out:
	free(copy);
	return rc;
}

/*
 * Set option NAME (as on the command line, without dashes; '_' may stand
 * for '-') to VALUE.  0, or -1 with *errstr set.
 */
static int
script_set(struct script *sc, const char *name, const char *value,
    const char **errstr)
{
	char	 key[32];
	size_t	 i;

	for (i = 0; name[i] != '\0' && i < sizeof(key) - 1; i++)
		key[i] = name[i] == '_' ? '-' : tolower((unsigned char)name[i]);
	key[i] = '\0';
	if (name[i] != '\0') {
		*errstr = "is not a known option";
		return -1;
	}

	if (strcmp(key, "reply") == 0) {
		free(sc->reply);
		sc->reply = xstrdup(value);
	} else if (strcmp(key, "reasoning") == 0) {
		free(sc->reasoning);
		sc->reasoning = *value != '\0' ? xstrdup(value) : NULL;
	} else if (strcmp(key, "chunk") == 0) {
		return parse_ll(value, 1, 1000000, &sc->chunk, errstr);
	} else if (strcmp(key, "repeat") == 0) {
		return parse_ll(value, 1, 1000000, &sc->repeat, errstr);
	} else if (strcmp(key, "delay-ms") == 0) {
		return parse_ll(value, 0, MAX_DELAY_MS, &sc->delay_ms, errstr);
	} else if (strcmp(key, "first-delay-ms") == 0) {
		return parse_ll(value, 0, MAX_DELAY_MS, &sc->first_delay_ms,
		    errstr);
	} else if (strcmp(key, "fault") == 0) {
		return parse_fault(sc, value, errstr);
	} else if (strcmp(key, "tool-call") == 0) {
		if (parse_bool(value, &sc->tool_call) != 0) {
			*errstr = "is not a boolean (1, 0, true, false)";
			return -1;
		}
	} else if (strcmp(key, "timestamps") == 0) {
		if (parse_bool(value, &sc->timestamps) != 0) {
			*errstr = "is not a boolean (1, 0, true, false)";
			return -1;
		}
	} else {
		*errstr = "is not a known option";
		return -1;
	}
	return 0;
}

/* --- small helpers --------------------------------------------------- */

static const char *
method_name(enum evhttp_cmd_type cmd)
{
	switch (cmd) {
	case EVHTTP_REQ_GET:		return "GET";
	case EVHTTP_REQ_POST:		return "POST";
	case EVHTTP_REQ_HEAD:		return "HEAD";
	case EVHTTP_REQ_PUT:		return "PUT";
	case EVHTTP_REQ_DELETE:		return "DELETE";
	case EVHTTP_REQ_OPTIONS:	return "OPTIONS";
	case EVHTTP_REQ_TRACE:		return "TRACE";
	case EVHTTP_REQ_CONNECT:	return "CONNECT";
	case EVHTTP_REQ_PATCH:		return "PATCH";
	}
	return "UNKNOWN";
}

static long long
realtime_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Print and free a cJSON value as one log line. */
static void
log_json(cJSON *o)
{
	char	*s;

	if (logfp != NULL) {
		s = cJSON_PrintUnformatted(o);
		fprintf(logfp, "%s\n", s);
		fflush(logfp);
		free(s);
	}
	cJSON_Delete(o);
}

static void
log_event(const char *event, const struct stream *s)
{
	cJSON	*o;

	if (logfp == NULL)
		return;
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "event", event);
	cJSON_AddStringToObject(o, "path", s->path);
	cJSON_AddNumberToObject(o, "seq", (double)s->seq);
	cJSON_AddNumberToObject(o, "events_sent", (double)s->next);
	cJSON_AddNumberToObject(o, "content_sent", (double)s->content_sent);
	log_json(o);
}

/* Lower-cased request headers as a JSON object (repeats joined by ", "). */
static cJSON *
headers_json(struct evhttp_request *req)
{
	struct evkeyvalq	*hdrs = evhttp_request_get_input_headers(req);
	struct evkeyval		*kv;
	cJSON			*o, *old;
	char			*name, *p, *joined;

	o = cJSON_CreateObject();
	for (kv = hdrs->tqh_first; kv != NULL; kv = kv->next.tqe_next) {
		name = xstrdup(kv->key);
		for (p = name; *p != '\0'; p++)
			*p = tolower((unsigned char)*p);
		if ((old = cJSON_GetObjectItemCaseSensitive(o, name)) != NULL) {
			joined = xasprintf("%s, %s", old->valuestring,
			    kv->value);
			cJSON_ReplaceItemInObjectCaseSensitive(o, name,
			    cJSON_CreateString(joined));
			free(joined);
		} else
			cJSON_AddStringToObject(o, name, kv->value);
		free(name);
	}
	return o;
}

static void
add_header(struct evhttp_request *req, const char *name, const char *value)
{
	evhttp_add_header(evhttp_request_get_output_headers(req), name, value);
}

static void
add_common_headers(struct evhttp_request *req, unsigned long long seq,
    const char *type)
{
	char	id[64];

	snprintf(id, sizeof(id), "req_fake_%llu", seq);
	add_header(req, "X-Request-Id", id);
	add_header(req, "Content-Type", type);
}

/* Send a complete JSON answer; takes ownership of body. */
static void
send_json(struct evhttp_request *req, unsigned long long seq, int status,
    char *body)
{
	struct evbuffer	*buf = evbuffer_new();
	const char	*reason;

	switch (status) {
	case 200: reason = "OK"; break;
	case 400: reason = "Bad Request"; break;
	case 401: reason = "Unauthorized"; break;
	case 403: reason = "Forbidden"; break;
	case 404: reason = "Not Found"; break;
	case 405: reason = "Method Not Allowed"; break;
	case 429: reason = "Too Many Requests"; break;
	case 500: reason = "Internal Server Error"; break;
	case 502: reason = "Bad Gateway"; break;
	case 503: reason = "Service Unavailable"; break;
	case 504: reason = "Gateway Timeout"; break;
	default:  reason = "Error"; break;
	}
	add_common_headers(req, seq, "application/json");
	evbuffer_add(buf, body, strlen(body));
	evbuffer_add(buf, "\n", 1);
	evhttp_send_reply(req, status, reason, buf);
	evbuffer_free(buf);
	free(body);
}

/* An OpenAI-shaped error body, as a string the caller frees. */
static char *
error_body(int status, const char *message, const char *code)
{
	cJSON		*o, *e;
	const char	*type;
	char		*s;

	if (status == 401)
		type = "invalid_request_error";
	else if (status == 403)
		type = "permission_error";
	else if (status == 429)
		type = "rate_limit_error";
	else if (status >= 500)
		type = "server_error";
	else
		type = "invalid_request_error";
	o = cJSON_CreateObject();
	e = cJSON_AddObjectToObject(o, "error");
	cJSON_AddStringToObject(e, "message", message);
	cJSON_AddStringToObject(e, "type", type);
	cJSON_AddNullToObject(e, "param");
	if (code != NULL)
		cJSON_AddStringToObject(e, "code", code);
	else
		cJSON_AddNullToObject(e, "code");
	s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

static void
send_error(struct evhttp_request *req, unsigned long long seq, int status,
    const char *message, const char *code)
{
	send_json(req, seq, status, error_body(status, message, code));
}

static char *
injected_error_body(int status)
{
	char	 msg[128];

	snprintf(msg, sizeof(msg), "fake upstream: injected status %d",
	    status);
	return error_body(status, msg, status == 429 ?
	    "rate_limit_exceeded" : NULL);
}

/* Index just past the code point starting at s[i]. */
static size_t
utf8_step(const char *s, size_t len, size_t i)
{
	i++;
	while (i < len && ((unsigned char)s[i] & 0xc0) == 0x80)
		i++;
	return i;
}

/* --- streams --------------------------------------------------------- */

static struct stream *
stream_new(struct evhttp_request *req, unsigned long long seq,
    const char *path, const struct script *sc, int mode)
{
	struct stream	*s;

	s = xcalloc(1, sizeof(*s));
	s->req = req;
	s->evcon = evhttp_request_get_connection(req);
	s->seq = seq;
	s->path = xstrdup(path);
	script_copy(&s->sc, sc);
	s->mode = mode;
	s->timer = evtimer_new(base, stream_tick_cb, s);
	if (s->timer == NULL)
		die("evtimer_new failed");
	LIST_INSERT_HEAD(&streams, s, entry);
	if (++nactive > max_active)
		max_active = nactive;
	return s;
}

/* Forget s; the request is no longer ours to touch. */
static void
stream_free(struct stream *s)
{
	size_t	i;

	LIST_REMOVE(s, entry);
	nactive--;
	event_free(s->timer);
	if (s->poll != NULL)
		event_free(s->poll);
	for (i = 0; i < s->nev; i++)
		cJSON_Delete(s->ev[i].json);
	free(s->ev);
	free(s->reply_body);
	free(s->path);
	script_free(&s->sc);
	free(s);
}

static void
stream_arm(struct stream *s, long long ms)
{
	struct timeval	tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(s->timer, &tv);
}

static void
stream_add_event(struct stream *s, cJSON *json, int content)
{
	s->ev = xreallocarray(s->ev, s->nev + 1, sizeof(*s->ev));
	s->ev[s->nev].json = json;
	s->ev[s->nev].content = content;
	s->ev[s->nev].named = 0;
	s->nev++;
	if (content)
		s->content_total++;
}

/* The client went away before we finished. */
static void
stream_close_cb(struct evhttp_connection *evcon, void *arg)
{
	struct stream	*s = arg;

	nclosed++;
	log_event("client_closed", s);
	/*
	 * libevent detaches an unfinished request from a failed connection
	 * and leaves it to us; if it is still attached, the connection is
	 * being freed with it.
	 */
	if (evhttp_request_get_connection(s->req) == NULL)
		evhttp_request_free(s->req);
	stream_free(s);
}

/* Finish normally: let go of the connection first (it may be reused or
 * freed inside the send call). */
static void
stream_detach(struct stream *s)
{
	if (s->evcon != NULL)
		evhttp_connection_set_closecb(s->evcon, NULL, NULL);
}

/* Abruptly drop the client's connection. */
static void
stream_kill(struct stream *s)
{
	struct evhttp_connection	*evcon = s->evcon;

	nkilled++;
	log_event("killed", s);
	stream_detach(s);
	stream_free(s);
	if (evcon != NULL)
		evhttp_connection_free(evcon);
}

static void
stream_arm_poll(struct stream *s)
{
	struct timeval	tv = { 0, 50 * 1000 };

	evtimer_add(s->poll, &tv);
}

/* Before the reply starts, look for the client's EOF ourselves. */
static void
stream_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct stream			*s = arg;
	struct evhttp_connection	*evcon = s->evcon;
	struct bufferevent		*bev;
	char				 c;
	ssize_t				 n;

	bev = evhttp_connection_get_bufferevent(evcon);
	if (bev == NULL || (fd = bufferevent_getfd(bev)) == -1)
		return;
	n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n > 0 || (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK ||
	    errno == EINTR)))
		return;
	nclosed++;
	log_event("client_closed", s);
	stream_detach(s);
	stream_free(s);
	evhttp_connection_free(evcon);
}

/* Write one SSE event framed as the script says. */
static void
sse_format(struct evbuffer *out, const struct stream *s,
    const struct sse_event *ev)
{
	const char	*eol = (s->sc.framing & FRAME_CRLF) ? "\r\n" : "\n";
	const char	*field = (s->sc.framing & FRAME_NOSPACE) ?
			    "data:" : "data: ";
	char		*text, *line, *nl, *dirt, tbuf[32];
	int		 multi = (s->sc.framing & FRAME_MULTILINE) != 0;
	const char	*name = "message";
	cJSON		*type;

	/* A Responses event is named after its type, as OpenAI does. */
	if (ev->named) {
		type = cJSON_GetObjectItemCaseSensitive(ev->json, "type");
		name = type->valuestring;
	}

	if (ev->json == NULL)
		text = xstrdup("[DONE]");
	else {
		if (s->sc.timestamps) {
			snprintf(tbuf, sizeof(tbuf), "%lld", realtime_ns());
			cJSON_AddItemToObject(ev->json, "t_sent_ns",
			    cJSON_CreateRaw(tbuf));
		}
		text = multi ? cJSON_Print(ev->json) :
		    cJSON_PrintUnformatted(ev->json);
		if (s->sc.timestamps)
			cJSON_DeleteItemFromObjectCaseSensitive(ev->json,
			    "t_sent_ns");
	}
	if (multi) {
		evbuffer_add_printf(out, ": fake upstream event %zu%s",
		    s->next, eol);
		evbuffer_add_printf(out, "id: %zu%s", s->next, eol);
		evbuffer_add_printf(out, "event: %s%s", name, eol);
	} else if (ev->named)
		evbuffer_add_printf(out, "event: %s%s", name, eol);
	if (s->sc.framing & FRAME_DIRTY) {
		dirt = xmalloc(strlen(text) * 3 + 1);
		dirty_into(text, dirt);
		free(text);
		text = dirt;
	}
	/* Formatted JSON has newlines only between tokens: one data: line
	 * each, which an SSE parser joins back with "\n". */
	for (line = text; line != NULL; line = nl) {
		if ((nl = strchr(line, '\n')) != NULL)
			*nl++ = '\0';
		evbuffer_add_printf(out, "%s%s%s", field, line, eol);
	}
	evbuffer_add_printf(out, "%s", eol);
	free(text);
}

static int
output_pending(struct stream *s)
{
	struct bufferevent	*bev;

	if (s->evcon == NULL)
		return 0;
	bev = evhttp_connection_get_bufferevent(s->evcon);
	return bev != NULL &&
	    evbuffer_get_length(bufferevent_get_output(bev)) > 0;
}

static void
stream_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct stream		*s = arg;
	struct evhttp_request	*req = s->req;
	struct evbuffer		*buf;
	long long		 limit;

	switch (s->mode) {
	case MODE_REPLY:
		stream_detach(s);
		send_json(req, s->seq, s->reply_status, s->reply_body);
		s->reply_body = NULL;
		ncompleted++;
		stream_free(s);
		return;
	case MODE_DIE:
		stream_kill(s);
		return;
	case MODE_HOLD:
		return;
	}

	if (s->dying) {
		/* Close only once what was sent has left our buffers. */
		if (output_pending(s))
			stream_arm(s, 1);
		else
			stream_kill(s);
		return;
	}

	buf = evbuffer_new();
	sse_format(buf, s, &s->ev[s->next]);
	if (s->ev[s->next].content)
		s->content_sent++;
	s->next++;
	evhttp_send_reply_chunk(req, buf);
	evbuffer_free(buf);

	if (s->next == s->nev) {
		stream_detach(s);
		evhttp_send_reply_end(req);
		ncompleted++;
		stream_free(s);
		return;
	}
	if (s->sc.die_after >= 0) {
		limit = s->sc.die_after < s->content_total ?
		    s->sc.die_after : s->content_total;
		if (s->content_sent >= limit) {
			s->dying = 1;
			stream_arm(s, 0);
			return;
		}
	}
	if (s->sc.hang_after >= 0) {
		limit = s->sc.hang_after < s->content_total ?
		    s->sc.hang_after : s->content_total;
		if (s->content_sent >= limit)
			return;		/* until the client leaves */
	}
	stream_arm(s, s->sc.delay_ms);
}

/* Hand req to a stream that answers from timer ticks. */
static void
stream_start(struct stream *s)
{
	evhttp_connection_set_closecb(s->evcon, stream_close_cb, s);
	if (s->mode == MODE_SSE) {
		add_common_headers(s->req, s->seq,
		    "text/event-stream; charset=utf-8");
		add_header(s->req, "Cache-Control", "no-cache");
		evhttp_send_reply_start(s->req, 200, "OK");
	} else {
		/* evhttp notices a hang-up only while it writes a reply. */
		s->poll = event_new(base, -1, EV_PERSIST, stream_poll_cb, s);
		if (s->poll == NULL)
			die("event_new failed");
		stream_arm_poll(s);
	}
	if (s->mode != MODE_HOLD)
		stream_arm(s, s->sc.first_delay_ms);
}

/* --- chat completions ------------------------------------------------ */

struct chat {
	char		 id[64];
	char		 call_id[64];
	long long	 created;
	const char	*model;
	const char	*reply;		/* from the script or ECHO: */
	int		 include_usage;
	long long	 prompt_tokens;
	long long	 completion_tokens;
};

/* The text of the last user message (caller frees), or NULL. */
static char *
last_user_text(cJSON *messages)
{
	cJSON	*m, *role, *content, *part, *t;
	cJSON	*last = NULL;
	char	*text, *joined;

	cJSON_ArrayForEach(m, messages) {
		role = cJSON_GetObjectItemCaseSensitive(m, "role");
		if (cJSON_IsString(role) &&
		    strcmp(role->valuestring, "user") == 0)
			last = m;
	}
	if (last == NULL)
		return NULL;
	content = cJSON_GetObjectItemCaseSensitive(last, "content");
	if (cJSON_IsString(content))
		return xstrdup(content->valuestring);
	if (!cJSON_IsArray(content))
		return NULL;
	text = xstrdup("");
	cJSON_ArrayForEach(part, content) {
		t = cJSON_GetObjectItemCaseSensitive(part, "text");
		if (!cJSON_IsString(t))
			continue;
		joined = xasprintf("%s%s", text, t->valuestring);
		free(text);
		text = joined;
	}
	return text;
}

static cJSON *
chunk_new(const struct chat *c, cJSON *delta, const char *finish)
{
	cJSON	*o, *choices, *ch;

	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "id", c->id);
	cJSON_AddStringToObject(o, "object", "chat.completion.chunk");
	cJSON_AddNumberToObject(o, "created", (double)c->created);
	cJSON_AddStringToObject(o, "model", c->model);
	cJSON_AddStringToObject(o, "system_fingerprint", "fp_fake");
	choices = cJSON_AddArrayToObject(o, "choices");
	if (delta != NULL) {
		ch = cJSON_CreateObject();
		cJSON_AddNumberToObject(ch, "index", 0);
		cJSON_AddItemToObject(ch, "delta", delta);
		cJSON_AddNullToObject(ch, "logprobs");
		if (finish != NULL)
			cJSON_AddStringToObject(ch, "finish_reason", finish);
		else
			cJSON_AddNullToObject(ch, "finish_reason");
		cJSON_AddItemToArray(choices, ch);
	}
	if (c->include_usage)
		cJSON_AddNullToObject(o, "usage");
	return o;
}

static cJSON *
usage_new(const struct chat *c)
{
	cJSON	*u = cJSON_CreateObject();

	cJSON_AddNumberToObject(u, "prompt_tokens", (double)c->prompt_tokens);
	cJSON_AddNumberToObject(u, "completion_tokens",
	    (double)c->completion_tokens);
	cJSON_AddNumberToObject(u, "total_tokens",
	    (double)(c->prompt_tokens + c->completion_tokens));
	return u;
}

/* A rough token count: four bytes a token. */
static long long
completion_tokens(const struct script *sc, const struct chat *c)
{
	size_t	n = strlen(c->reply);

	if (sc->reasoning != NULL)
		n += strlen(sc->reasoning);
	return (long long)(n / 4 + 1);
}

/* One delta event per n code points of text, in field name. */
static void
add_text_events(struct stream *s, const struct chat *c, const char *field,
    const char *text, int content)
{
	size_t		 len = strlen(text), i = 0, j;
	long long	 k;
	char		*piece;
	cJSON		*delta;

	while (i < len) {
		for (j = i, k = 0; j < len && k < s->sc.chunk; k++)
			j = utf8_step(text, len, j);
		piece = xstrndup(text + i, j - i);
		delta = cJSON_CreateObject();
		cJSON_AddStringToObject(delta, field, piece);
		free(piece);
		stream_add_event(s, chunk_new(c, delta, NULL), content);
		i = j;
	}
}

/* A delta with one tool call: the first names it, the others carry
 * pieces of its arguments. */
static cJSON *
tool_delta(const struct chat *c, int first, const char *args)
{
	cJSON	*delta, *calls, *call, *fn;

	delta = cJSON_CreateObject();
	calls = cJSON_AddArrayToObject(delta, "tool_calls");
	call = cJSON_CreateObject();
	cJSON_AddNumberToObject(call, "index", 0);
	if (first) {
		cJSON_AddStringToObject(call, "id", c->call_id);
		cJSON_AddStringToObject(call, "type", "function");
	}
	fn = cJSON_AddObjectToObject(call, "function");
	if (first)
		cJSON_AddStringToObject(fn, "name", TOOL_NAME);
	cJSON_AddStringToObject(fn, "arguments", args);
	cJSON_AddItemToArray(calls, call);
	return delta;
}

static void
build_sse(struct stream *s, struct chat *c)
{
	cJSON		*delta, *last;
	size_t		 alen = strlen(TOOL_ARGS), step, off;

	c->completion_tokens = completion_tokens(&s->sc, c);
	char		*piece;

	delta = cJSON_CreateObject();
	cJSON_AddStringToObject(delta, "role", "assistant");
	cJSON_AddStringToObject(delta, "content", "");
	cJSON_AddNullToObject(delta, "refusal");
	stream_add_event(s, chunk_new(c, delta, NULL), 0);

	if (s->sc.reasoning != NULL)
		add_text_events(s, c, "reasoning_content", s->sc.reasoning, 0);
	add_text_events(s, c, "content", c->reply, 1);

	if (s->sc.tool_call) {
		/* The name first with empty arguments, as OpenAI does, then
		 * the arguments in pieces. */
		stream_add_event(s, chunk_new(c, tool_delta(c, 1, ""), NULL),
		    0);
		step = (alen + TOOL_PIECES - 1) / TOOL_PIECES;
		for (off = 0; off < alen; off += step) {
			piece = xstrndup(TOOL_ARGS + off,
			    alen - off < step ? alen - off : step);
			stream_add_event(s, chunk_new(c,
			    tool_delta(c, 0, piece), NULL), 0);
			free(piece);
		}
	}

	stream_add_event(s, chunk_new(c, cJSON_CreateObject(),
	    s->sc.tool_call ? "tool_calls" : "stop"), 0);
	if (c->include_usage) {
		last = chunk_new(c, NULL, NULL);
		cJSON_ReplaceItemInObjectCaseSensitive(last, "usage",
		    usage_new(c));
		stream_add_event(s, last, 0);
	}
	stream_add_event(s, NULL, 0);
}

static char *
build_completion(const struct script *sc, struct chat *c)
{
	cJSON	*o, *choices, *ch, *msg, *calls, *call, *fn;
	char	*s;

	c->completion_tokens = completion_tokens(sc, c);
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "id", c->id);
	cJSON_AddStringToObject(o, "object", "chat.completion");
	cJSON_AddNumberToObject(o, "created", (double)c->created);
	cJSON_AddStringToObject(o, "model", c->model);
	choices = cJSON_AddArrayToObject(o, "choices");
	ch = cJSON_CreateObject();
	cJSON_AddNumberToObject(ch, "index", 0);
	msg = cJSON_AddObjectToObject(ch, "message");
	cJSON_AddStringToObject(msg, "role", "assistant");
	cJSON_AddStringToObject(msg, "content", c->reply);
	cJSON_AddNullToObject(msg, "refusal");
	if (sc->reasoning != NULL)
		cJSON_AddStringToObject(msg, "reasoning_content",
		    sc->reasoning);
	if (sc->tool_call) {
		calls = cJSON_AddArrayToObject(msg, "tool_calls");
		call = cJSON_CreateObject();
		cJSON_AddStringToObject(call, "id", c->call_id);
		cJSON_AddStringToObject(call, "type", "function");
		fn = cJSON_AddObjectToObject(call, "function");
		cJSON_AddStringToObject(fn, "name", TOOL_NAME);
		cJSON_AddStringToObject(fn, "arguments", TOOL_ARGS);
		cJSON_AddItemToArray(calls, call);
	}
	cJSON_AddNullToObject(ch, "logprobs");
	cJSON_AddStringToObject(ch, "finish_reason",
	    sc->tool_call ? "tool_calls" : "stop");
	cJSON_AddItemToArray(choices, ch);
	cJSON_AddItemToObject(o, "usage", usage_new(c));
	cJSON_AddStringToObject(o, "system_fingerprint", "fp_fake");
	s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

/* Apply a body's "x_fake" object to sc; 0, or -1 with a message. */
static int
apply_body_overrides(struct script *sc, cJSON *body, char *msg,
    size_t msglen)
{
	cJSON		*xf, *item;
	const char	*errstr;
	char		 num[64], *value;
	int		 rc;

	xf = cJSON_GetObjectItemCaseSensitive(body, "x_fake");
	if (xf == NULL)
		return 0;
	if (!cJSON_IsObject(xf)) {
		snprintf(msg, msglen, "x_fake is not an object");
		return -1;
	}
	cJSON_ArrayForEach(item, xf) {
		if (cJSON_IsString(item))
			value = xstrdup(item->valuestring);
		else if (cJSON_IsBool(item))
			value = xstrdup(cJSON_IsTrue(item) ? "1" : "0");
		else if (cJSON_IsNumber(item)) {
			snprintf(num, sizeof(num), "%.0f", item->valuedouble);
			value = xstrdup(num);
		} else {
			snprintf(msg, msglen, "x_fake.%s has a bad type",
			    item->string);
			return -1;
		}
		rc = script_set(sc, item->string, value, &errstr);
		free(value);
		if (rc != 0) {
			snprintf(msg, msglen, "x_fake.%s %s", item->string,
			    errstr);
			return -1;
		}
	}
	return 0;
}

/*
 * A request's body as a JSON object with its "x_fake" overrides applied
 * to sc; or NULL, the 400 sent.
 */
static cJSON *
body_object(struct evhttp_request *req, unsigned long long seq,
    struct script *sc, const char *body, size_t bodylen)
{
	cJSON	*j;
	char	 msg[256];

	j = cJSON_ParseWithLength(body, bodylen);
	if (!cJSON_IsObject(j)) {
		send_error(req, seq, 400, "fake upstream: the body is not a "
		    "JSON object", NULL);
		cJSON_Delete(j);
		return NULL;
	}
	if (apply_body_overrides(sc, j, msg, sizeof(msg)) != 0) {
		send_error(req, seq, 400, msg, NULL);
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

static void
handle_chat(struct evhttp_request *req, unsigned long long seq,
    const char *path, struct script *sc, const char *body, size_t bodylen)
{
	struct chat	 c;
	struct stream	*s;
	cJSON		*j, *model, *stream, *so, *iu;
	char		*user = NULL, *many = NULL;
	size_t		 len;
	long long	 i;
	int		 streaming;

	memset(&c, 0, sizeof(c));
	if ((j = body_object(req, seq, sc, body, bodylen)) == NULL)
		goto out;
	model = cJSON_GetObjectItemCaseSensitive(j, "model");
	c.model = cJSON_IsString(model) ? model->valuestring : DEFAULT_MODEL;
	stream = cJSON_GetObjectItemCaseSensitive(j, "stream");
	streaming = cJSON_IsTrue(stream);
	so = cJSON_GetObjectItemCaseSensitive(j, "stream_options");
	iu = cJSON_GetObjectItemCaseSensitive(so, "include_usage");
	c.include_usage = streaming && cJSON_IsTrue(iu);
	snprintf(c.id, sizeof(c.id), "chatcmpl-fake%llu", seq);
	snprintf(c.call_id, sizeof(c.call_id), "call_fake%llu", seq);
	c.created = (long long)time(NULL);
	c.prompt_tokens = (long long)(bodylen / 4 + 1);
	user = last_user_text(cJSON_GetObjectItemCaseSensitive(j,
	    "messages"));
	if (user != NULL && strncmp(user, ECHO_PREFIX,
	    strlen(ECHO_PREFIX)) == 0)
		c.reply = user + strlen(ECHO_PREFIX);
	else
		c.reply = sc->reply;
	if (sc->repeat > 1) {
		len = strlen(c.reply);
		if (len > SIZE_MAX / (size_t)sc->repeat - 1)
			abort();
		many = xmalloc(len * (size_t)sc->repeat + 1);
		for (i = 0; i < sc->repeat; i++)
			memcpy(many + (size_t)i * len, c.reply, len);
		many[len * (size_t)sc->repeat] = '\0';
		c.reply = many;
	}

	if (sc->status != 0) {
		s = stream_new(req, seq, path, sc, MODE_REPLY);
		s->reply_status = sc->status;
		s->reply_body = injected_error_body(sc->status);
	} else if (!streaming) {
		if (sc->hang_after >= 0)
			s = stream_new(req, seq, path, sc, MODE_HOLD);
		else if (sc->die_after >= 0)
			s = stream_new(req, seq, path, sc, MODE_DIE);
		else {
			s = stream_new(req, seq, path, sc, MODE_REPLY);
			s->reply_status = 200;
			s->reply_body = build_completion(sc, &c);
		}
	} else {
		s = stream_new(req, seq, path, sc, MODE_SSE);
		build_sse(s, &c);
	}
	stream_start(s);
out:
	free(many);
	free(user);
	cJSON_Delete(j);
}

/* --- responses ------------------------------------------------------- */

/* One Responses API reply being built: its events carry a sequence
 * number each, and the output items as they end up. */
struct resp {
	char		 id[64];
	char		 msg_id[64];
	char		 rs_id[64];
	char		 fc_id[64];
	char		 call_id[64];
	long long	 created;
	const char	*model;
	const char	*reply;
	long long	 input_tokens;
	long long	 output_tokens;
	long long	 seq;
};

/* The response object: in_progress with no output, or completed with
 * output (taken) and usage. */
static cJSON *
resp_object(const struct resp *r, cJSON *output)
{
	cJSON	*o, *x, *u;

	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "id", r->id);
	cJSON_AddStringToObject(o, "object", "response");
	cJSON_AddNumberToObject(o, "created_at", (double)r->created);
	cJSON_AddStringToObject(o, "status", output != NULL ? "completed" :
	    "in_progress");
	cJSON_AddNullToObject(o, "error");
	cJSON_AddNullToObject(o, "incomplete_details");
	cJSON_AddNullToObject(o, "instructions");
	cJSON_AddNullToObject(o, "max_output_tokens");
	cJSON_AddStringToObject(o, "model", r->model);
	cJSON_AddItemToObject(o, "output", output != NULL ? output :
	    cJSON_CreateArray());
	cJSON_AddTrueToObject(o, "parallel_tool_calls");
	cJSON_AddNullToObject(o, "previous_response_id");
	x = cJSON_AddObjectToObject(o, "text");
	x = cJSON_AddObjectToObject(x, "format");
	cJSON_AddStringToObject(x, "type", "text");
	cJSON_AddStringToObject(o, "tool_choice", "auto");
	cJSON_AddArrayToObject(o, "tools");
	if (output == NULL)
		cJSON_AddNullToObject(o, "usage");
	else {
		u = cJSON_AddObjectToObject(o, "usage");
		cJSON_AddNumberToObject(u, "input_tokens",
		    (double)r->input_tokens);
		x = cJSON_AddObjectToObject(u, "input_tokens_details");
		cJSON_AddNumberToObject(x, "cached_tokens", 0);
		cJSON_AddNumberToObject(u, "output_tokens",
		    (double)r->output_tokens);
		x = cJSON_AddObjectToObject(u, "output_tokens_details");
		cJSON_AddNumberToObject(x, "reasoning_tokens", 0);
		cJSON_AddNumberToObject(u, "total_tokens",
		    (double)(r->input_tokens + r->output_tokens));
	}
	cJSON_AddObjectToObject(o, "metadata");
	return o;
}

/* An event of TYPE (its fields added by the caller), numbered. */
static cJSON *
resp_event(struct resp *r, const char *type)
{
	cJSON	*o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "type", type);
	cJSON_AddNumberToObject(o, "sequence_number", (double)r->seq++);
	return o;
}

/* Queue an event, named after its type. */
static void
resp_add(struct stream *s, cJSON *ev, int content)
{
	stream_add_event(s, ev, content);
	s->ev[s->nev - 1].named = 1;
}

/* The output items: a reasoning summary (when scripted), the message,
 * a function call (when scripted); status "completed". */
static cJSON *
resp_items(const struct script *sc, const struct resp *r)
{
	cJSON	*out, *it, *a, *p;

	out = cJSON_CreateArray();
	if (sc->reasoning != NULL) {
		it = cJSON_CreateObject();
		cJSON_AddStringToObject(it, "id", r->rs_id);
		cJSON_AddStringToObject(it, "type", "reasoning");
		a = cJSON_AddArrayToObject(it, "summary");
		p = cJSON_CreateObject();
		cJSON_AddStringToObject(p, "type", "summary_text");
		cJSON_AddStringToObject(p, "text", sc->reasoning);
		cJSON_AddItemToArray(a, p);
		cJSON_AddItemToArray(out, it);
	}
	it = cJSON_CreateObject();
	cJSON_AddStringToObject(it, "id", r->msg_id);
	cJSON_AddStringToObject(it, "type", "message");
	cJSON_AddStringToObject(it, "status", "completed");
	a = cJSON_AddArrayToObject(it, "content");
	p = cJSON_CreateObject();
	cJSON_AddStringToObject(p, "type", "output_text");
	cJSON_AddArrayToObject(p, "annotations");
	cJSON_AddArrayToObject(p, "logprobs");
	cJSON_AddStringToObject(p, "text", r->reply);
	cJSON_AddItemToArray(a, p);
	cJSON_AddStringToObject(it, "role", "assistant");
	cJSON_AddItemToArray(out, it);
	if (sc->tool_call) {
		it = cJSON_CreateObject();
		cJSON_AddStringToObject(it, "id", r->fc_id);
		cJSON_AddStringToObject(it, "type", "function_call");
		cJSON_AddStringToObject(it, "status", "completed");
		cJSON_AddStringToObject(it, "arguments", TOOL_ARGS);
		cJSON_AddStringToObject(it, "call_id", r->call_id);
		cJSON_AddStringToObject(it, "name", TOOL_NAME);
		cJSON_AddItemToArray(out, it);
	}
	return out;
}

/* Item i of the finished output (a copy), with status as given, and its
 * text emptied when it is just starting. */
static cJSON *
resp_item(const struct script *sc, const struct resp *r, int i, int start)
{
	cJSON	*all, *it, *c;

	all = resp_items(sc, r);
	it = cJSON_DetachItemFromArray(all, i);
	cJSON_Delete(all);
	if (!start)
		return it;
	if (cJSON_GetObjectItemCaseSensitive(it, "status") != NULL)
		cJSON_ReplaceItemInObjectCaseSensitive(it, "status",
		    cJSON_CreateString("in_progress"));
	if ((c = cJSON_GetObjectItemCaseSensitive(it, "content")) != NULL)
		cJSON_ReplaceItemInObjectCaseSensitive(it, "content",
		    cJSON_CreateArray());
	if ((c = cJSON_GetObjectItemCaseSensitive(it, "summary")) != NULL)
		cJSON_ReplaceItemInObjectCaseSensitive(it, "summary",
		    cJSON_CreateArray());
	if ((c = cJSON_GetObjectItemCaseSensitive(it, "arguments")) != NULL)
		cJSON_ReplaceItemInObjectCaseSensitive(it, "arguments",
		    cJSON_CreateString(""));
	return it;
}

/* A content or summary part: {"type", "text"} (+ annotations, logprobs
 * for output text). */
static cJSON *
resp_part(const char *type, const char *text)
{
	cJSON	*p = cJSON_CreateObject();

	cJSON_AddStringToObject(p, "type", type);
	if (strcmp(type, "output_text") == 0) {
		cJSON_AddArrayToObject(p, "annotations");
		cJSON_AddArrayToObject(p, "logprobs");
	}
	cJSON_AddStringToObject(p, "text", text);
	return p;
}

/* An event about an item: TYPE with item_id, output_index and, when
 * field is given, that index (part 0); the caller adds the rest. */
static cJSON *
resp_part_event(struct resp *r, const char *type, const char *item_id,
    int out_index, const char *field)
{
	cJSON	*e = resp_event(r, type);

	cJSON_AddStringToObject(e, "item_id", item_id);
	cJSON_AddNumberToObject(e, "output_index", out_index);
	if (field != NULL)
		cJSON_AddNumberToObject(e, field, 0);
	return e;
}

/* Delta events of TYPE for text, n code points each; field names the
 * index of the part (content_index or summary_index). */
static void
resp_deltas(struct stream *s, struct resp *r, const char *type,
    const char *item_id, int out_index, const char *field, const char *text,
    int content)
{
	size_t		 len = strlen(text), i = 0, j;
	long long	 k;
	char		*piece;
	cJSON		*e;

	while (i < len) {
		for (j = i, k = 0; j < len && k < s->sc.chunk; k++)
			j = utf8_step(text, len, j);
		piece = xstrndup(text + i, j - i);
		e = resp_part_event(r, type, item_id, out_index, field);
		cJSON_AddStringToObject(e, "delta", piece);
		if (content)
			cJSON_AddArrayToObject(e, "logprobs");
		free(piece);
		resp_add(s, e, content);
		i = j;
	}
}

static void
resp_item_event(struct stream *s, struct resp *r, const char *type,
    int out_index, int start)
{
	cJSON	*e = resp_event(r, type);

	cJSON_AddNumberToObject(e, "output_index", out_index);
	cJSON_AddItemToObject(e, "item", resp_item(&s->sc, r, out_index,
	    start));
	resp_add(s, e, 0);
}

/* The events of a streamed response, as OpenAI sends them. */
static void
build_resp_sse(struct stream *s, struct resp *r)
{
	size_t	 alen = strlen(TOOL_ARGS), step, off;
	char	*piece;
	cJSON	*e;
	int	 oi = 0;

	e = resp_event(r, "response.created");
	cJSON_AddItemToObject(e, "response", resp_object(r, NULL));
	resp_add(s, e, 0);
	e = resp_event(r, "response.in_progress");
	cJSON_AddItemToObject(e, "response", resp_object(r, NULL));
	resp_add(s, e, 0);

	if (s->sc.reasoning != NULL) {
		resp_item_event(s, r, "response.output_item.added", oi, 1);
		e = resp_part_event(r, "response.reasoning_summary_part.added",
		    r->rs_id, oi, "summary_index");
		cJSON_AddItemToObject(e, "part", resp_part("summary_text", ""));
		resp_add(s, e, 0);
		resp_deltas(s, r, "response.reasoning_summary_text.delta",
		    r->rs_id, oi, "summary_index", s->sc.reasoning, 0);
		e = resp_part_event(r, "response.reasoning_summary_text.done",
		    r->rs_id, oi, "summary_index");
		cJSON_AddStringToObject(e, "text", s->sc.reasoning);
		resp_add(s, e, 0);
		e = resp_part_event(r, "response.reasoning_summary_part.done",
		    r->rs_id, oi, "summary_index");
		cJSON_AddItemToObject(e, "part", resp_part("summary_text",
		    s->sc.reasoning));
		resp_add(s, e, 0);
		resp_item_event(s, r, "response.output_item.done", oi, 0);
		oi++;
	}

	resp_item_event(s, r, "response.output_item.added", oi, 1);
	e = resp_part_event(r, "response.content_part.added", r->msg_id, oi,
	    "content_index");
	cJSON_AddItemToObject(e, "part", resp_part("output_text", ""));
	resp_add(s, e, 0);
	resp_deltas(s, r, "response.output_text.delta", r->msg_id, oi,
	    "content_index", r->reply, 1);
	e = resp_part_event(r, "response.output_text.done", r->msg_id, oi,
	    "content_index");
	cJSON_AddStringToObject(e, "text", r->reply);
	cJSON_AddArrayToObject(e, "logprobs");
	resp_add(s, e, 0);
	e = resp_part_event(r, "response.content_part.done", r->msg_id, oi,
	    "content_index");
	cJSON_AddItemToObject(e, "part", resp_part("output_text", r->reply));
	resp_add(s, e, 0);
	resp_item_event(s, r, "response.output_item.done", oi, 0);
	oi++;

	if (s->sc.tool_call) {
		resp_item_event(s, r, "response.output_item.added", oi, 1);
		step = (alen + TOOL_PIECES - 1) / TOOL_PIECES;
		for (off = 0; off < alen; off += step) {
			piece = xstrndup(TOOL_ARGS + off,
			    alen - off < step ? alen - off : step);
			e = resp_part_event(r,
			    "response.function_call_arguments.delta",
			    r->fc_id, oi, NULL);
			cJSON_AddStringToObject(e, "delta", piece);
			resp_add(s, e, 0);
			free(piece);
		}
		e = resp_part_event(r, "response.function_call_arguments.done",
		    r->fc_id, oi, NULL);
		cJSON_AddStringToObject(e, "arguments", TOOL_ARGS);
		resp_add(s, e, 0);
		resp_item_event(s, r, "response.output_item.done", oi, 0);
	}

	e = resp_event(r, "response.completed");
	cJSON_AddItemToObject(e, "response", resp_object(r,
	    resp_items(&s->sc, r)));
	resp_add(s, e, 0);
}

/* The text of a Responses input: a string, or the last user message of
 * a list (caller frees); NULL if none. */
static char *
resp_input_text(cJSON *input)
{
	if (cJSON_IsString(input))
		return xstrdup(input->valuestring);
	return last_user_text(input);
}

static void
handle_responses(struct evhttp_request *req, unsigned long long seq,
    const char *path, struct script *sc, const char *body, size_t bodylen)
{
	struct resp	 r;
	struct stream	*s;
	cJSON		*j, *model, *o;
	char		*user = NULL;

	memset(&r, 0, sizeof(r));
	if ((j = body_object(req, seq, sc, body, bodylen)) == NULL)
		goto out;
	model = cJSON_GetObjectItemCaseSensitive(j, "model");
	r.model = cJSON_IsString(model) ? model->valuestring : DEFAULT_MODEL;
	snprintf(r.id, sizeof(r.id), "resp_fake%llu", seq);
	snprintf(r.msg_id, sizeof(r.msg_id), "msg_fake%llu", seq);
	snprintf(r.rs_id, sizeof(r.rs_id), "rs_fake%llu", seq);
	snprintf(r.fc_id, sizeof(r.fc_id), "fc_fake%llu", seq);
	snprintf(r.call_id, sizeof(r.call_id), "call_fake%llu", seq);
	r.created = (long long)time(NULL);
	r.input_tokens = (long long)(bodylen / 4 + 1);
	user = resp_input_text(cJSON_GetObjectItemCaseSensitive(j, "input"));
	if (user != NULL && strncmp(user, ECHO_PREFIX,
	    strlen(ECHO_PREFIX)) == 0)
		r.reply = user + strlen(ECHO_PREFIX);
	else
		r.reply = sc->reply;
	r.output_tokens = (long long)((strlen(r.reply) + (sc->reasoning !=
	    NULL ? strlen(sc->reasoning) : 0)) / 4 + 1);

	if (sc->status != 0) {
		s = stream_new(req, seq, path, sc, MODE_REPLY);
		s->reply_status = sc->status;
		s->reply_body = injected_error_body(sc->status);
	} else if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j,
	    "stream"))) {
		if (sc->hang_after >= 0)
			s = stream_new(req, seq, path, sc, MODE_HOLD);
		else if (sc->die_after >= 0)
			s = stream_new(req, seq, path, sc, MODE_DIE);
		else {
			s = stream_new(req, seq, path, sc, MODE_REPLY);
			s->reply_status = 200;
			o = resp_object(&r, resp_items(sc, &r));
			s->reply_body = cJSON_PrintUnformatted(o);
			cJSON_Delete(o);
		}
	} else {
		s = stream_new(req, seq, path, sc, MODE_SSE);
		build_resp_sse(s, &r);
	}
	stream_start(s);
out:
	free(user);
	cJSON_Delete(j);
}

/* --- other endpoints ------------------------------------------------- */

static void
handle_models(struct evhttp_request *req, unsigned long long seq)
{
	static const char *ids[] = { DEFAULT_MODEL, "fake-model-mini" };
	cJSON	*o, *data, *m;
	size_t	 i;

	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "object", "list");
	data = cJSON_AddArrayToObject(o, "data");
	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		m = cJSON_CreateObject();
		cJSON_AddStringToObject(m, "id", ids[i]);
		cJSON_AddStringToObject(m, "object", "model");
		cJSON_AddNumberToObject(m, "created", 1700000000);
		cJSON_AddStringToObject(m, "owned_by", "fake-upstream");
		cJSON_AddItemToArray(data, m);
	}
	send_json(req, seq, 200, cJSON_PrintUnformatted(o));
	cJSON_Delete(o);
}

static void
handle_echo(struct evhttp_request *req, unsigned long long seq,
    const char *method, const char *path, const char *query,
    const char *body)
{
	cJSON	*o, *e;

	o = cJSON_CreateObject();
	e = cJSON_AddObjectToObject(o, "echo");
	cJSON_AddStringToObject(e, "method", method);
	cJSON_AddStringToObject(e, "path", path);
	cJSON_AddStringToObject(e, "query", query);
	cJSON_AddStringToObject(e, "body", body);
	cJSON_AddItemToObject(e, "headers", headers_json(req));
	send_json(req, seq, 200, cJSON_PrintUnformatted(o));
	cJSON_Delete(o);
}

static void
handle_stats(struct evhttp_request *req, unsigned long long seq)
{
	cJSON	*o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "requests", (double)nrequests);
	cJSON_AddNumberToObject(o, "active", (double)nactive);
	cJSON_AddNumberToObject(o, "max_active", (double)max_active);
	cJSON_AddNumberToObject(o, "completed", (double)ncompleted);
	cJSON_AddNumberToObject(o, "client_closed", (double)nclosed);
	cJSON_AddNumberToObject(o, "killed", (double)nkilled);
	send_json(req, seq, 200, cJSON_PrintUnformatted(o));
	cJSON_Delete(o);
}

/*
 * POST /_fake/release: every answer still in its first delay (nothing
 * sent yet) starts now.  Answers {"released":N}.
 */
static void
handle_release(struct evhttp_request *req, unsigned long long seq)
{
	struct stream	*s;
	cJSON		*o = cJSON_CreateObject();
	size_t		 n = 0;

	LIST_FOREACH(s, &streams, entry) {
		if (s->mode == MODE_HOLD || s->dying || s->next > 0 ||
		    !evtimer_pending(s->timer, NULL))
			continue;
		stream_arm(s, 0);
		n++;
	}
	cJSON_AddNumberToObject(o, "released", (double)n);
	send_json(req, seq, 200, cJSON_PrintUnformatted(o));
	cJSON_Delete(o);
}

/* Is the request's bearer key the one required? */
static int
authorized(struct evhttp_request *req, const char **why)
{
	const char	*auth;
	size_t		 klen = strlen(require_key);

	auth = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Authorization");
	if (auth == NULL || strncasecmp(auth, "Bearer ", 7) != 0) {
		*why = "You didn't provide an API key.";
		return 0;
	}
	auth += 7;
	if (!const_time_eq(auth, strlen(auth), require_key, klen)) {
		*why = "Incorrect API key provided.";
		return 0;
	}
	return 1;
}

/* Apply X-Fake-* request headers to sc; 0, or -1 with a message. */
static int
apply_header_overrides(struct evhttp_request *req, struct script *sc,
    char *msg, size_t msglen)
{
	struct evkeyvalq	*hdrs = evhttp_request_get_input_headers(req);
	struct evkeyval		*kv;
	const char		*errstr;

	for (kv = hdrs->tqh_first; kv != NULL; kv = kv->next.tqe_next) {
		if (strncasecmp(kv->key, "X-Fake-", 7) != 0)
			continue;
		if (script_set(sc, kv->key + 7, kv->value, &errstr) != 0) {
			snprintf(msg, msglen, "header %s %s", kv->key, errstr);
			return -1;
		}
	}
	return 0;
}

static void
log_request(unsigned long long seq, struct evhttp_request *req,
    const char *method, const char *path, const char *query,
    const char *body)
{
	cJSON	*o;

	if (logfp == NULL)
		return;
	o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "seq", (double)seq);
	cJSON_AddStringToObject(o, "method", method);
	cJSON_AddStringToObject(o, "path", path);
	cJSON_AddStringToObject(o, "query", query);
	cJSON_AddItemToObject(o, "headers", headers_json(req));
	cJSON_AddStringToObject(o, "body", body);
	log_json(o);
}

static void
request_cb(struct evhttp_request *req, void *arg)
{
	const struct evhttp_uri	*uri = evhttp_request_get_evhttp_uri(req);
	struct evbuffer		*in = evhttp_request_get_input_buffer(req);
	enum evhttp_cmd_type	 cmd = evhttp_request_get_command(req);
	const char		*method = method_name(cmd);
	const char		*path, *query, *why;
	struct script		 sc;
	unsigned long long	 seq = ++nrequests;
	size_t			 bodylen;
	char			*body, msg[256];

	path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	query = uri != NULL ? evhttp_uri_get_query(uri) : NULL;
	if (path == NULL)
		path = "";
	if (query == NULL)
		query = "";
	bodylen = evbuffer_get_length(in);
	body = xmalloc(bodylen + 1);
	evbuffer_copyout(in, body, bodylen);
	body[bodylen] = '\0';
	log_request(seq, req, method, path, query, body);

	script_copy(&sc, &defaults);
	if (strcmp(path, "/_fake/stats") == 0) {
		handle_stats(req, seq);
		goto out;
	}
	if (strcmp(path, "/_fake/release") == 0) {
		handle_release(req, seq);
		goto out;
	}
	if (strncmp(path, "/v1/", 4) != 0) {
		send_error(req, seq, 404, "fake upstream: no such path",
		    "unknown_url");
		goto out;
	}
	if (require_key != NULL && !authorized(req, &why)) {
		send_error(req, seq, 401, why, "invalid_api_key");
		goto out;
	}
	if (apply_header_overrides(req, &sc, msg, sizeof(msg)) != 0) {
		send_error(req, seq, 400, msg, NULL);
		goto out;
	}

	if (strcmp(path, "/v1/chat/completions") == 0) {
		if (cmd != EVHTTP_REQ_POST)
			send_error(req, seq, 405, "fake upstream: use POST",
			    NULL);
		else
			handle_chat(req, seq, path, &sc, body, bodylen);
	} else if (strcmp(path, "/v1/responses") == 0 &&
	    cmd == EVHTTP_REQ_POST)
		handle_responses(req, seq, path, &sc, body, bodylen);
	else if (sc.status != 0)
		send_json(req, seq, sc.status, injected_error_body(sc.status));
	else if (strcmp(path, "/v1/models") == 0 && cmd == EVHTTP_REQ_GET)
		handle_models(req, seq);
	else
		handle_echo(req, seq, method, path, query, body);
out:
	script_free(&sc);
	free(body);
}

/* --- main ------------------------------------------------------------ */

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	event_base_loopbreak(base);
}

static evutil_socket_t
listen_on(int port)
{
	struct sockaddr_in	 sin;
	evutil_socket_t		 fd;
	int			 one = 1;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* Accepted sockets inherit it: no Nagle delay between small
	 * events, which would distort latency measurements. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	/* A deep backlog: tests open hundreds of streams at once. */
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(fd, 1024) == -1 ||
	    evutil_make_socket_nonblocking(fd) == -1 ||
	    evutil_make_socket_closeonexec(fd) == -1) {
		evutil_closesocket(fd);
		return -1;
	}
	return fd;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "port",		required_argument,	NULL, 'p' },
		{ "log",		required_argument,	NULL, 'l' },
		{ "require-key",	required_argument,	NULL, 'k' },
		{ "reply",		required_argument,	NULL, 'r' },
		{ "chunk",		required_argument,	NULL, 'c' },
		{ "repeat",		required_argument,	NULL, 'n' },
		{ "delay-ms",		required_argument,	NULL, 'd' },
		{ "first-delay-ms",	required_argument,	NULL, 'D' },
		{ "fault",		required_argument,	NULL, 'f' },
		{ "reasoning",		required_argument,	NULL, 'R' },
		{ "tool-call",		no_argument,		NULL, 't' },
		{ "timestamps",		no_argument,		NULL, 'T' },
		{ "help",		no_argument,		NULL, 'h' },
		{ NULL,			0,			NULL, 0 }
	};
	static const cJSON_Hooks hooks = { xmalloc, free };
	struct evhttp		*http;
	struct event_config	*cfg;
	struct event		*sigterm, *sigint;
	struct stream		*s;
	const char		*errstr, *logpath = NULL;
	long long		 port = -1;
	evutil_socket_t		 fd;
	int			 ch, i, rc = 2;

	cJSON_InitHooks((cJSON_Hooks *)&hooks);
	script_init(&defaults);
	while ((ch = getopt_long(argc, argv, "", longopts, &i)) != -1) {
		errstr = NULL;
		switch (ch) {
		case 'p':
			if (parse_ll(optarg, 1, 65535, &port, &errstr) != 0)
				goto bad;
			break;
		case 'l':
			logpath = optarg;
			break;
		case 'k':
			require_key = optarg;
			break;
		case 't':
			defaults.tool_call = 1;
			break;
		case 'T':
			defaults.timestamps = 1;
			break;
		case 'h':
			usage(stdout);
			rc = 0;
			goto out;
		case '?':
			usage(stderr);
			goto out;
		default:
			if (script_set(&defaults, longopts[i].name, optarg,
			    &errstr) != 0)
				goto bad;
			break;
		}
		continue;
bad:
		fprintf(stderr, "fake_upstream: --%s %s\n", longopts[i].name,
		    errstr);
		goto out;
	}
	if (optind != argc || port < 0) {
		usage(stderr);
		goto out;
	}

	rc = 1;
	if ((fd = listen_on((int)port)) == -1) {
		fprintf(stderr, "fake_upstream: 127.0.0.1:%lld: %s\n", port,
		    strerror(errno));
		goto out;
	}
	if (logpath != NULL && (logfp = fopen(logpath, "a")) == NULL) {
		fprintf(stderr, "fake_upstream: %s: %s\n", logpath,
		    strerror(errno));
		evutil_closesocket(fd);
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);
	/* Timers count from the clock, not from the loop's cached time, and
	 * from the precise clock, not the coarse one libevent prefers (a
	 * tick, 4 ms, behind): no delay is cut short. */
	if ((cfg = event_config_new()) == NULL ||
	    event_config_set_flag(cfg, EVENT_BASE_FLAG_NO_CACHE_TIME |
	    EVENT_BASE_FLAG_PRECISE_TIMER) != 0 ||
	    (base = event_base_new_with_config(cfg)) == NULL)
		die("event_base_new failed");
	event_config_free(cfg);
	if ((http = evhttp_new(base)) == NULL ||
	    evhttp_accept_socket(http, fd) != 0)
		die("evhttp setup failed");
	evhttp_set_max_body_size(http, MAX_BODY);
	evhttp_set_max_headers_size(http, MAX_HEADERS);
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	    EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
	/* Streams may stay quiet for long (hang, big delays). */
	evhttp_set_timeout(http, 3600);
	evhttp_set_gencb(http, request_cb, NULL);

	sigterm = evsignal_new(base, SIGTERM, signal_cb, NULL);
	sigint = evsignal_new(base, SIGINT, signal_cb, NULL);
	if (sigterm == NULL || sigint == NULL ||
	    evsignal_add(sigterm, NULL) != 0 || evsignal_add(sigint, NULL) != 0)
		die("signal setup failed");

	fprintf(stderr, "fake_upstream: listening on 127.0.0.1:%lld\n", port);
	event_base_dispatch(base);
	fprintf(stderr, "fake_upstream: exiting (%llu requests)\n", nrequests);

	/* Our streams first (their requests belong to the connections that
	 * evhttp_free frees), then the server. */
	while ((s = LIST_FIRST(&streams)) != NULL) {
		stream_detach(s);
		if (evhttp_request_get_connection(s->req) == NULL)
			evhttp_request_free(s->req);
		stream_free(s);
	}
	evhttp_free(http);
	event_free(sigterm);
	event_free(sigint);
	event_base_free(base);
	libevent_global_shutdown();
	rc = 0;
out:
	script_free(&defaults);
	if (logfp != NULL)
		fclose(logfp);
	return rc;
}
