/* http: evhttp glue — listening, request records, errors, auth, access log;
 * a leaf: the router is passed in (http_listen). */
#include <sys/queue.h>

#include <cjson/cJSON.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "conn.h"
#include "http.h"
#include "log.h"
#include "server.h"
#include "util.h"

#define HTTP_URI_MAX		(16 * 1024)	/* request target: else 414 */
#define HTTP_HEADERS_MAX	(64 * 1024)	/* all headers: else 431 */
#define HTTP_HARD_HEADERS_MAX	(256 * 1024)	/* evhttp's HTML 400 */
#define HTTP_ALLOW_PROXIED	"GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
#define HTTP_ACCEPT_PAUSE_MS	250		/* after EMFILE and the like */

/* The listener's callbacks get evhttp's argument: ours is kept here,
 * with the router (http_listen). */
static struct server	*http_srv;
static void		(*http_route)(struct hreq *);

static const char *
method_name(enum evhttp_cmd_type m)
{
	switch (m) {
	case EVHTTP_REQ_GET:		return "GET";
	case EVHTTP_REQ_POST:		return "POST";
	case EVHTTP_REQ_HEAD:		return "HEAD";
	case EVHTTP_REQ_PUT:		return "PUT";
	case EVHTTP_REQ_DELETE:		return "DELETE";
	case EVHTTP_REQ_OPTIONS:	return "OPTIONS";
	case EVHTTP_REQ_PATCH:		return "PATCH";
	case EVHTTP_REQ_TRACE:		return "TRACE";
	case EVHTTP_REQ_CONNECT:	return "CONNECT";
	default:			return "OTHER";
	}
}

/* Request ids need to be unique, not secret: a seeded PRNG (splitmix64)
 * spares a system call per request. */
static void
request_id(char *buf, size_t len)
{
	static uint64_t	state;
	uint64_t	z;

	if (state == 0)
		random_bytes(&state, sizeof state);
	z = (state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	snprintf(buf, len, "%016llx", (unsigned long long)z);
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Check a request path as received (still percent-encoded) and decode it.
 * What is routed and authenticated must be what the upstream sees, so
 * anything a server on the way could read differently is refused: bytes
 * outside RFC 3986's pchar set (backslash, controls, raw non-ASCII), a
 * bad escape, an encoded slash, backslash, percent or control byte, and
 * empty, "." or ".." segments (also with ";parameters", also encoded).
 * Returns the decoded path (to free), or NULL with *why.
 */
char *
http_path_decode(const char *raw, const char **why)
{
	static const char	ok[] = "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:@/";
	size_t			len = strlen(raw), i, n = 0, slen;
	char			*out, *s;
	int			hi, lo, c;

	if (len == 0 || raw[0] != '/') {
		*why = "it does not start with '/'";
		return NULL;
	}
	out = xmalloc(len + 1);
	for (i = 0; i < len; i++) {
		c = (unsigned char)raw[i];
		if (c == '%') {
			if (i + 2 >= len) {
				*why = "it has a truncated %-escape";
				goto bad;
			}
			if ((hi = hexval((unsigned char)raw[i + 1])) < 0 ||
			    (lo = hexval((unsigned char)raw[i + 2])) < 0) {
				*why = "it has a malformed %-escape";
				goto bad;
			}
			c = hi * 16 + lo;
			i += 2;
			if (c == '/' || c == '\\' || c == '%' || c < 0x20 ||
			    c == 0x7f) {
				*why = "it encodes a slash, backslash, percent "
				    "sign or control character";
				goto bad;
			}
		} else if (c == 0 || strchr(ok, c) == NULL) {
			*why = "it holds a character that must be "
			    "percent-encoded";
			goto bad;
		}
		out[n++] = (char)c;
	}
	out[n] = '\0';
	/* Segments, decoded: no empty one but the last, no dot segment. */
	for (s = out + 1; ; s += slen + 1) {
		slen = strcspn(s, "/");
		if (slen == 0 && s[0] == '/') {
			*why = "it has an empty segment ('//')";
			goto bad;
		}
		i = strcspn(s, ";/");
		if ((i == 1 && s[0] == '.') ||
		    (i == 2 && s[0] == '.' && s[1] == '.')) {
			*why = "it has a '.' or '..' segment";
			goto bad;
		}
		if (s[slen] == '\0')
			break;
	}
	return out;
bad:
	free(out);
	return NULL;
}

/*
 * Is host[0..len) a loopback name, with no port or the given one?
 * 127.0.0.1, localhost, [::1]; any port when port is 0.
 */
static int
loopback_host(const char *host, size_t len, unsigned port)
{
	static const char *const names[] = { "127.0.0.1", "localhost",
	    "[::1]" };
	const char	*colon, *rb;
	size_t		 i, hlen;
	long long	 ll;
	const char	*errstr;
	char		 num[8];

	if (len > 0 && host[0] == '[') {
		if ((rb = memchr(host, ']', len)) == NULL)
			return 0;
		hlen = (size_t)(rb - host) + 1;
		colon = hlen < len ? host + hlen : NULL;
		if (colon != NULL && *colon != ':')
			return 0;
	} else {
		colon = memchr(host, ':', len);
		hlen = colon != NULL ? (size_t)(colon - host) : len;
	}
	for (i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strlen(names[i]) == hlen &&
		    strncasecmp(host, names[i], hlen) == 0)
			break;
	if (i == sizeof names / sizeof names[0])
		return 0;
	if (colon == NULL)
		return 1;
	if (len - hlen - 1 == 0 || len - hlen - 1 >= sizeof num)
		return 0;
	memcpy(num, colon + 1, len - hlen - 1);
	num[len - hlen - 1] = '\0';
	if (strspn(num, "0123456789") != strlen(num) ||
	    parse_ll(num, 1, 65535, &ll, &errstr) != 0)
		return 0;
	return port == 0 || (unsigned)ll == port;
}

/* Is this Origin a page served from this machine (any port)? */
static int
loopback_origin(const char *origin)
{
	const char	*h;

	if (strncasecmp(origin, "http://", 7) == 0)
		h = origin + 7;
	else if (strncasecmp(origin, "https://", 8) == 0)
		h = origin + 8;
	else
		return 0;
	return loopback_host(h, strlen(h), 0);
}

/*
 * Without client keys (API_KEYS=none, or none at all on loopback) the
 * port is open to anything on this machine, browsers included: refuse a
 * Host that is not loopback (DNS rebinding) and a browser's cross-site
 * request (an Origin not of this machine, or Sec-Fetch-Site: cross-site),
 * unless the Origin is the one TTSACCEL_CORS_ORIGIN names.  0 = go on.
 */
static int
http_open_guard(struct hreq *h)
{
	const struct config	*cf = h->srv->cf;
	const struct evhttp_uri	*uri;
	const char		*host, *uh, *origin, *site;

	if (cf->nclient_keys != 0)
		return 0;
	uri = evhttp_request_get_evhttp_uri(h->req);
	host = http_header(h, "Host");
	uh = uri != NULL ? evhttp_uri_get_host(uri) : NULL;
	if ((host != NULL && !loopback_host(host, strlen(host),
	    h->srv->listen_port)) || (uh != NULL && strcmp(uh, "::1") != 0 &&
	    !loopback_host(uh, strlen(uh), 0))) {
		http_error(h, 403, "invalid_request_error", "host_not_allowed",
		    "Without client keys only a loopback Host is accepted "
		    "(127.0.0.1, localhost or [::1], with port %u); connect to "
		    "one of those, or set API_KEYS to serve other names.",
		    h->srv->listen_port);
		return -1;
	}
	origin = http_header(h, "Origin");
	site = http_header(h, "Sec-Fetch-Site");
	if (origin != NULL && !loopback_origin(origin) &&
	    !(cf->cors_origin != NULL && strcmp(cf->cors_origin, "*") != 0 &&
	    strcmp(cf->cors_origin, origin) == 0)) {
		http_error(h, 403, "invalid_request_error",
		    "origin_not_allowed", "Without client keys, browser "
		    "requests from other sites are refused; serve the page "
		    "from this machine, name its origin in "
		    "TTSACCEL_CORS_ORIGIN, or set API_KEYS.");
		return -1;
	}
	if (origin == NULL && site != NULL &&
	    strcasecmp(site, "cross-site") == 0) {
		http_error(h, 403, "invalid_request_error",
		    "origin_not_allowed", "Without client keys, browser "
		    "requests from other sites are refused; set API_KEYS.");
		return -1;
	}
	return 0;
}

/*
 * What evhttp lets through but an OpenAI-shaped error belongs to: a
 * request line or headers over our limits (evhttp's own, higher, answer
 * in HTML), and framing a proxy in front could read differently (two
 * Content-Length headers, or one with Transfer-Encoding).  0 = go on.
 */
static int
http_framing(struct hreq *h, const char *uri)
{
	struct evkeyvalq	*in = evhttp_request_get_input_headers(h->req);
	struct evkeyval		*kv;
	size_t			 bytes = 0, ncl = 0, nte = 0;

	if (uri != NULL && strlen(uri) > HTTP_URI_MAX) {
		evhttp_add_header(evhttp_request_get_output_headers(h->req),
		    "Connection", "close");
		http_error(h, 414, "invalid_request_error", "uri_too_long",
		    "The request target is longer than %d bytes; send "
		    "parameters in the body.", HTTP_URI_MAX);
		return -1;
	}
	TAILQ_FOREACH(kv, in, next) {
		bytes += strlen(kv->key) + strlen(kv->value) + 4;
		if (strcasecmp(kv->key, "Content-Length") == 0)
			ncl++;
		else if (strcasecmp(kv->key, "Transfer-Encoding") == 0)
			nte++;
	}
	if (bytes > HTTP_HEADERS_MAX) {
		evhttp_add_header(evhttp_request_get_output_headers(h->req),
		    "Connection", "close");
		http_error(h, 431, "invalid_request_error",
		    "headers_too_large", "The request headers take %zu "
		    "bytes, more than %d; send fewer or shorter headers.",
		    bytes, HTTP_HEADERS_MAX);
		return -1;
	}
	if (ncl > 1 || (ncl > 0 && nte > 0)) {
		evhttp_add_header(evhttp_request_get_output_headers(h->req),
		    "Connection", "close");
		http_error(h, 400, "invalid_request_error",
		    "ambiguous_framing", "The request has %s; send exactly one "
		    "Content-Length, or Transfer-Encoding alone.", ncl > 1 ?
		    "more than one Content-Length header" :
		    "both Content-Length and Transfer-Encoding");
		return -1;
	}
	return 0;
}

static void
gen_cb(struct evhttp_request *req, void *arg)
{
	struct server		*srv = arg;
	struct hreq		*h;
	const struct evhttp_uri	*uri;
	const char		*p, *given, *why;

	/* Large answers (audio) go out in large writes. */
	bufferevent_set_max_single_write(evhttp_connection_get_bufferevent(
	    evhttp_request_get_connection(req)), 1024 * 1024);

	conns_request(srv->conns, req);
	h = xcalloc(1, sizeof *h);
	h->srv = srv;
	h->req = req;
	h->t0 = now_usec();
	if (srv->accept_paused) {
		srv->accept_paused = 0;
		log_info("accepting connections again");
	}
	h->method = method_name(evhttp_request_get_command(req));
	srv->nrequests++;
	given = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "X-Request-Id");
	if (given != NULL && strlen(given) < sizeof h->id &&
	    strspn(given, "0123456789abcdefABCDEF-_") == strlen(given) &&
	    *given != '\0')
		snprintf(h->id, sizeof h->id, "%s", given);
	else
		request_id(h->id, sizeof h->id);
	uri = evhttp_request_get_evhttp_uri(req);
	p = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	if (p == NULL)
		p = "";
	/* Routed, authenticated and forwarded: one path, checked once. */
	h->rawpath = xstrdup(p);
	/* Until it is checked, the path is logged as received (escaped by
	 * the log), cut short. */
	h->path = xstrndup(p, strnlen(p, 1024));
	if (http_framing(h, evhttp_request_get_uri(req)) != 0)
		return;
	if (evhttp_request_get_command(req) == EVHTTP_REQ_CONNECT) {
		/* Its target is no path: nothing to route. */
		http_not_allowed(h, HTTP_ALLOW_PROXIED);
		return;
	}
	free(h->path);
	if ((h->path = http_path_decode(p, &why)) == NULL) {
		h->path = xstrndup(p, strnlen(p, 1024));
		http_error(h, 400, "invalid_request_error", "invalid_path",
		    "The request path is refused because %s; send a plain "
		    "path such as /v1/chat/completions.", why);
		return;
	}
	if (http_open_guard(h) != 0)
		return;
	http_route(h);
}

static void
accept_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server	*srv = arg;

	if (srv->bound != NULL)
		evconnlistener_enable(evhttp_bound_socket_get_listener(
		    srv->bound));
}

/*
 * accept() failed for want of descriptors or memory: the socket stays
 * readable, so accepting again at once would spin.  Pause for a while,
 * saying so once until a request is served again.
 */

static void
accept_error_cb(struct evconnlistener *lev, void *arg)
{
	struct server	*srv = http_srv;
	struct timeval	 tv = { 0, HTTP_ACCEPT_PAUSE_MS * 1000 };
	int		 err = EVUTIL_SOCKET_ERROR();

	evconnlistener_disable(lev);
	evtimer_add(srv->accept_retry, &tv);
	if (srv->accept_paused)
		return;
	srv->accept_paused = 1;
	log_warn("accept: %s; pausing new connections for %d ms at a time "
	    "until they can be taken (raise the descriptor limit: ulimit -n, "
	    "LimitNOFILE=)", evutil_socket_error_to_string(err),
	    HTTP_ACCEPT_PAUSE_MS);
}

int
http_listen(struct server *srv, void (*route)(struct hreq *), char **cause)
{
	const struct config	*cf = srv->cf;
	uint64_t		 hard;
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	evutil_socket_t		 fd;
	int			 one = 1;

	srv->http = evhttp_new(srv->base);
	srv->conns = conns_new(srv);
	/*
	 * evhttp answers bodies over its own limit with an HTML page;
	 * keep it well above MAX_BODY_BYTES so that the API's own check
	 * answers with an OpenAI-shaped 413 for all but absurd bodies.
	 */
	hard = cf->max_body_bytes * 2 + 65536;
	evhttp_set_max_body_size(srv->http, (ev_ssize_t)hard);
	/* Our own limits answer in JSON (http_framing); evhttp's are the
	 * last guard. */
	evhttp_set_max_headers_size(srv->http, HTTP_HARD_HEADERS_MAX);
	evhttp_set_timeout(srv->http, 60);
	evhttp_set_default_content_type(srv->http, "application/json");
	/* Every method evhttp knows reaches us, to be answered 405 with
	 * Allow where it does not belong. */
	evhttp_set_allowed_methods(srv->http, EVHTTP_REQ_GET |
	    EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
	    EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH |
	    EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT);
	evhttp_set_gencb(srv->http, gen_cb, srv);
	srv->bound = evhttp_bind_socket_with_handle(srv->http, cf->host,
	    (ev_uint16_t)cf->port);
	if (srv->bound == NULL) {
		*cause = xasprintf("cannot listen on %s port %lld: %s "
		    "(is another server running there? set HOST/PORT)",
		    cf->host, cf->port, strerror(errno));
		return -1;
	}
	/* Each streamed event goes out at once, not held back for an ACK
	 * (accepted sockets inherit this on Linux). */
	http_srv = srv;
	http_route = route;
	srv->accept_retry = evtimer_new(srv->base, accept_retry_cb, srv);
	evconnlistener_set_error_cb(evhttp_bound_socket_get_listener(
	    srv->bound), accept_error_cb);
	fd = evhttp_bound_socket_get_fd(srv->bound);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	sslen = sizeof ss;
	if (getsockname(fd, (struct sockaddr *)&ss, &sslen) == 0)
		srv->listen_port = ntohs(ss.ss_family == AF_INET6 ?
		    ((struct sockaddr_in6 *)&ss)->sin6_port :
		    ((struct sockaddr_in *)&ss)->sin_port);
	return 0;
}

void
http_stop_listening(struct server *srv)
{
	if (srv->accept_retry != NULL) {
		event_free(srv->accept_retry);
		srv->accept_retry = NULL;
	}
	if (srv->bound != NULL) {
		evhttp_del_accept_socket(srv->http, srv->bound);
		srv->bound = NULL;
	}
}

void
http_headers(struct hreq *h)
{
	struct evkeyvalq	*out = evhttp_request_get_output_headers(h->req);
	const char		*origin = h->srv->cf->cors_origin, *given;

	evhttp_add_header(out, "X-Request-Id", h->id);
	/* No wildcard without client keys: only a page of this machine,
	 * named back (http_open_guard refused the others). */
	if (origin != NULL && strcmp(origin, "*") == 0 &&
	    h->srv->cf->nclient_keys == 0) {
		given = http_header(h, "Origin");
		origin = given != NULL && loopback_origin(given) ? given : NULL;
		if (origin != NULL)
			evhttp_add_header(out, "Vary", "Origin");
	}
	if (origin != NULL && *origin != '\0') {
		evhttp_add_header(out, "Access-Control-Allow-Origin", origin);
		evhttp_add_header(out, "Access-Control-Expose-Headers",
		    "X-Request-Id, X-TTS-Reply-Id, X-TTS-Cache");
		if (strcmp(origin, "*") != 0)
			evhttp_add_header(out, "Vary", "Origin");
	}
}

void
http_reply(struct hreq *h, int status, const char *ctype, const char *body,
    size_t len)
{
	struct evbuffer	*buf;

	http_headers(h);
	if (ctype != NULL)
		evhttp_add_header(evhttp_request_get_output_headers(h->req),
		    "Content-Type", ctype);
	buf = evbuffer_new();
	if (body != NULL)
		evbuffer_add(buf, body, len);
	h->status = status;
	h->bytes = len;
	evhttp_send_reply(h->req, status, NULL, buf);
	evbuffer_free(buf);
	http_done(h);
}

void
http_reply_ref(struct hreq *h, int status, const char *ctype,
    const void *body, size_t len, void (*cleanup)(const void *, size_t,
    void *), void *arg)
{
	struct evbuffer	*buf;

	http_headers(h);
	if (ctype != NULL)
		evhttp_add_header(evhttp_request_get_output_headers(h->req),
		    "Content-Type", ctype);
	buf = evbuffer_new();
	evbuffer_add_reference(buf, body, len, cleanup, arg);
	h->status = status;
	h->bytes = len;
	evhttp_send_reply(h->req, status, NULL, buf);
	evbuffer_free(buf);
	http_done(h);
}

void
http_json(struct hreq *h, int status, const cJSON *json)
{
	char	*s;

	s = cJSON_PrintUnformatted(json);
	http_reply(h, status, "application/json", s, strlen(s));
	free(s);
}

static void
http_verror(struct hreq *h, int status, const char *type, const char *code,
    const char *param, const char *fmt, va_list ap)
{
	cJSON	*root, *err;
	char	*msg;

	if (vasprintf(&msg, fmt, ap) < 0)
		fatalx("out of memory");
	root = cJSON_CreateObject();
	err = cJSON_AddObjectToObject(root, "error");
	cJSON_AddStringToObject(err, "message", msg);
	cJSON_AddStringToObject(err, "type", type);
	if (param != NULL)
		cJSON_AddStringToObject(err, "param", param);
	else
		cJSON_AddNullToObject(err, "param");
	if (code != NULL)
		cJSON_AddStringToObject(err, "code", code);
	else
		cJSON_AddNullToObject(err, "code");
	h->note = NULL;
	log_debug("%s %s: %d %s", h->id, h->path, status, msg);
	free(msg);
	http_json(h, status, root);
	cJSON_Delete(root);
}

void
http_error(struct hreq *h, int status, const char *type, const char *code,
    const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	http_verror(h, status, type, code, NULL, fmt, ap);
	va_end(ap);
}

void
http_error_param(struct hreq *h, int status, const char *type,
    const char *code, const char *param, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	http_verror(h, status, type, code, param, fmt, ap);
	va_end(ap);
}

void
http_shutting_down(struct hreq *h)
{
	http_count_until_sent(h);
	http_error(h, 503, "server_error", "shutting_down", "The server is "
	    "shutting down and did not answer this request: send it again.");
}

void
http_not_allowed(struct hreq *h, const char *allow)
{
	evhttp_add_header(evhttp_request_get_output_headers(h->req), "Allow",
	    allow);
	http_error(h, 405, "invalid_request_error", "method_not_allowed",
	    "Method %s is not allowed on %s; use %s.", h->method, h->path,
	    allow);
}

const char *
http_header(struct hreq *h, const char *name)
{
	return evhttp_find_header(evhttp_request_get_input_headers(h->req),
	    name);
}

const char *
http_body(struct hreq *h, size_t *len)
{
	struct evbuffer	*in = evhttp_request_get_input_buffer(h->req);

	*len = evbuffer_get_length(in);
	return (const char *)evbuffer_pullup(in, -1);
}

const char *
http_body_checked(struct hreq *h, size_t *len)
{
	const char	*body = http_body(h, len);
	uint64_t	 max = h->srv->cf->max_body_bytes;

	if (*len <= max)
		return body != NULL ? body : "";
	http_error(h, 413, "invalid_request_error", "request_too_large",
	    "Request body of %zu bytes is larger than MAX_BODY_BYTES (%llu).",
	    *len, (unsigned long long)max);
	return NULL;
}

int
http_utf8_ok(struct hreq *h, const char *body, size_t len)
{
	if (utf8_valid(body, len))
		return 1;
	http_error(h, 400, "invalid_request_error", "invalid_utf8",
	    "Request body is not valid UTF-8.");
	return 0;
}

int
http_auth(struct hreq *h)
{
	const struct config	*cf = h->srv->cf;
	const char		*v;

	if (cf->nclient_keys == 0)
		return 0;
	v = http_header(h, "Authorization");
	if (v != NULL && strncasecmp(v, "Bearer ", 7) == 0) {
		v += 7;
		while (*v == ' ')
			v++;
		if (config_key_ok(cf, v))
			return 0;
		http_error(h, 401, "invalid_request_error", "invalid_api_key",
		    "Incorrect API key provided.");
		return -1;
	}
	http_error(h, 401, "invalid_request_error", "invalid_api_key",
	    "Missing API key: send 'Authorization: Bearer <key>' with a key "
	    "from API_KEYS.");
	return -1;
}

void
http_done(struct hreq *h)
{
	log_info("%s %s %s %d %zu %.1fms%s%s", h->id, h->method, h->path,
	    h->status, h->bytes, (double)(now_usec() - h->t0) / 1000.0,
	    h->note != NULL ? " " : "", h->note != NULL ? h->note : "");
	free(h->path);
	free(h->rawpath);
	free(h);
}

/* --- replies that outlive their handler ------------------------------ */

struct hstream {
	TAILQ_ENTRY(hstream)		 entry;
	struct hreq			*h;
	struct evhttp_request		*req;
	struct evhttp_connection	*evcon;
	const struct http_stream_cbs	*cbs;
	void				*arg;
	int				 started;
	/* watching before the start, with evhttp's callbacks saved (1), or
	 * after it, through evhttp's own (HS_WATCH_STARTED) */
	int				 watching;
	struct bufferevent		*bev;
	bufferevent_data_cb		 saved_read, saved_write;
	bufferevent_event_cb		 saved_event;
	void				*saved_arg;
};

/* Those running, for shutdown's deadline. */
static TAILQ_HEAD(, hstream)	http_streams =
    TAILQ_HEAD_INITIALIZER(http_streams);

#define HS_WATCH_STARTED	2

static void
hs_watch_stop(struct hstream *hs)
{
	if (!hs->watching)
		return;
	if (hs->watching == HS_WATCH_STARTED) {
		hs->watching = 0;
		bufferevent_disable(hs->bev, EV_READ);
		bufferevent_setwatermark(hs->bev, EV_READ, 0, 0);
		return;
	}
	hs->watching = 0;
	bufferevent_disable(hs->bev, EV_READ);
	bufferevent_setwatermark(hs->bev, EV_READ, 0, 0);
	bufferevent_setcb(hs->bev, hs->saved_read, hs->saved_write,
	    hs->saved_event, hs->saved_arg);
}

/* Let go of the connection: evhttp's alone again. */
static void
hs_free(struct hstream *hs)
{
	hs_watch_stop(hs);
	evhttp_connection_set_closecb(hs->evcon, NULL, NULL);
	TAILQ_REMOVE(&http_streams, hs, entry);
	free(hs);
}

/* evhttp saw the client leave (while the reply was being written). */
static void
hs_close_cb(struct evhttp_connection *evcon, void *arg)
{
	struct hstream		*hs = arg;
	struct evhttp_request	*req = hs->req;
	struct hreq		*h = hs->h;
	int			 started = hs->started;

	evhttp_connection_set_closecb(evcon, NULL, NULL);
	h->note = "client-closed";
	hs->cbs->closed(hs->arg);
	hs_free(hs);
	/* The request has lost its connection: finishing it frees it. */
	if (started)
		evhttp_send_reply_end(req);
	http_done(h);
}

static void
hs_watch_read_cb(struct bufferevent *bev, void *arg)
{
	/* Pipelined bytes wait for evhttp in the input buffer. */
}

/* We saw the client leave before the reply started. */
static void
hs_watch_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct hstream		*hs = arg;
	struct evhttp_request	*req = hs->req;
	struct hreq		*h = hs->h;

	if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))) {
		bufferevent_enable(bev, EV_READ);
		return;
	}
	h->note = "client-closed";
	h->status = 499;
	hs->cbs->closed(hs->arg);
	hs_free(hs);
	/* Hand the connection back to evhttp: the reply fails to be
	 * written and evhttp frees the connection as usual. */
	evhttp_send_reply(req, 499, "Client Closed Request", NULL);
	http_done(h);
}

struct hstream *
http_stream_new(struct hreq *h, const struct http_stream_cbs *cbs, void *arg)
{
	struct hstream	*hs;

	hs = xcalloc(1, sizeof *hs);
	hs->h = h;
	hs->req = h->req;
	hs->evcon = evhttp_request_get_connection(h->req);
	hs->cbs = cbs;
	hs->arg = arg;
	TAILQ_INSERT_TAIL(&http_streams, hs, entry);
	evhttp_connection_set_closecb(hs->evcon, hs_close_cb, hs);
	return hs;
}

void
http_stream_watch(struct hstream *hs)
{
	hs->bev = evhttp_connection_get_bufferevent(hs->evcon);
	if (hs->started) {
		/* evhttp writes with no read callback and its error callback:
		 * reading lets that callback see the client leave, as when a
		 * write fails (pipelined bytes wait, 64 KiB at most). */
		bufferevent_setwatermark(hs->bev, EV_READ, 0, 64 * 1024);
		bufferevent_enable(hs->bev, EV_READ);
		hs->watching = HS_WATCH_STARTED;
		return;
	}
	bufferevent_getcb(hs->bev, &hs->saved_read, &hs->saved_write,
	    &hs->saved_event, &hs->saved_arg);
	bufferevent_setcb(hs->bev, hs_watch_read_cb, hs->saved_write,
	    hs_watch_event_cb, hs);
	bufferevent_setwatermark(hs->bev, EV_READ, 0, 64 * 1024);
	bufferevent_set_timeouts(hs->bev, NULL, NULL);
	bufferevent_enable(hs->bev, EV_READ);
	hs->watching = 1;
}

void
http_stream_start(struct hstream *hs, int status, const char *ctype)
{
	struct timeval	tv = { 60, 0 };

	hs_watch_stop(hs);
	http_headers(hs->h);
	if (ctype != NULL)
		evhttp_add_header(evhttp_request_get_output_headers(hs->req),
		    "Content-Type", ctype);
	hs->h->status = status;
	evhttp_send_reply_start(hs->req, status, NULL);
	/* A quiet client must not time the stream out; a stuck one may. */
	bufferevent_set_timeouts(evhttp_connection_get_bufferevent(hs->evcon),
	    NULL, &tv);
	hs->started = 1;
}

int
http_stream_started(const struct hstream *hs)
{
	return hs->started;
}

static void
hs_drained_cb(struct evhttp_connection *evcon, void *arg)
{
	struct hstream	*hs = arg;

	hs->cbs->drained(hs->arg);
}

int
http_stream_chunk(struct hstream *hs, const void *data, size_t len,
    size_t high)
{
	struct evbuffer		*buf;
	struct bufferevent	*bev;
	int			 full = 0;

	if (len == 0)
		return 0;
	buf = evbuffer_new();
	evbuffer_add(buf, data, len);
	hs->h->bytes += len;
	bev = evhttp_connection_get_bufferevent(hs->evcon);
	if (high != 0 && evbuffer_get_length(bufferevent_get_output(bev)) +
	    len > high) {
		full = 1;
		evhttp_send_reply_chunk_with_cb(hs->req, buf, hs_drained_cb,
		    hs);
	} else
		evhttp_send_reply_chunk(hs->req, buf);
	evbuffer_free(buf);
	return full;
}

void
http_stream_end(struct hstream *hs)
{
	struct evhttp_request	*req = hs->req;
	struct hreq		*h = hs->h;

	hs_free(hs);
	evhttp_send_reply_end(req);
	http_done(h);
}

static void
hs_sent_cb(struct evhttp_request *req, void *arg)
{
	server_stream_done(arg);
}

void
http_count_until_sent(struct hreq *h)
{
	h->srv->nstreams++;
	evhttp_request_set_on_complete_cb(h->req, hs_sent_cb, h->srv);
}

/* An aborted reply's bytes are written (or cannot be): close. */
static void
hs_abort_write_cb(struct bufferevent *bev, void *arg)
{
	if (evbuffer_get_length(bufferevent_get_output(bev)) != 0)
		return;
	evhttp_connection_free(arg);
	server_stream_done(http_srv);
}

static void
hs_abort_event_cb(struct bufferevent *bev, short what, void *arg)
{
	evhttp_connection_free(arg);
	server_stream_done(http_srv);
}

void
http_stream_abort(struct hstream *hs, const char *note)
{
	struct evhttp_connection	*evcon = hs->evcon;
	struct bufferevent		*bev;
	struct hreq			*h = hs->h;

	hs_free(hs);
	/*
	 * No last chunk: evhttp is no longer told of the connection, which
	 * is closed once what was sent is written.  The client sees the
	 * transfer cut short; evhttp frees the request with the connection.
	 */
	bev = evhttp_connection_get_bufferevent(evcon);
	bufferevent_disable(bev, EV_READ);
	bufferevent_setcb(bev, NULL, hs_abort_write_cb, hs_abort_event_cb,
	    evcon);
	bufferevent_enable(bev, EV_WRITE);
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		bufferevent_trigger(bev, EV_WRITE, BEV_TRIG_IGNORE_WATERMARKS |
		    BEV_TRIG_DEFER_CALLBACKS);
	/* A shutdown waits for the connection to close. */
	h->srv->nstreams++;
	h->note = note;
	http_done(h);
}

void
http_stream_release(struct hstream *hs)
{
	hs_free(hs);
}

void
http_streams_cut(void)
{
	struct hstream	*hs, *next;

	for (hs = TAILQ_FIRST(&http_streams); hs != NULL; hs = next) {
		next = TAILQ_NEXT(hs, entry);
		hs->cbs->cut(hs->arg);
	}
}
