/* http: the HTTP layer (evhttp glue) — listening, a record per request,
 * whole answers, OpenAI-shaped errors, auth and the access log.  It knows
 * nothing of the API: the router is passed in. */
#ifndef TTSACCEL_HTTP_H
#define TTSACCEL_HTTP_H

#include <stddef.h>
#include <stdint.h>

struct cJSON;
struct evhttp_request;
struct server;

/* One incoming request, from its arrival until its access-log line. */
struct hreq {
	struct server		*srv;
	struct evhttp_request	*req;
	char			 id[24];
	uint64_t		 t0;
	const char		*method;
	char			*path;		/* decoded, no query */
	char			*rawpath;	/* as received: what is forwarded */
	int			 status;
	size_t			 bytes;		/* body bytes sent */
	const char		*note;		/* for the access log */
};

/* Bind srv's HOST and PORT and serve, each request checked then handed
 * to route; -1 with *cause. */
int	 http_listen(struct server *, void (*route)(struct hreq *), char **);
/* Stop accepting new connections. */
void	 http_stop_listening(struct server *);

/* Add X-Request-Id and CORS headers to a response. */
void	 http_headers(struct hreq *);
/* Send a whole response and finish the request. */
void	 http_reply(struct hreq *, int, const char *, const char *, size_t);
/* The same without a copy: cleanup(body, len, arg) runs once it is sent
 * (or the connection is gone). */
void	 http_reply_ref(struct hreq *, int, const char *, const void *,
	    size_t, void (*)(const void *, size_t, void *), void *);
/* Send a cJSON value (not freed) as the whole response. */
void	 http_json(struct hreq *, int, const struct cJSON *);
/* An OpenAI-shaped error response. */
void	 http_error(struct hreq *, int, const char *, const char *,
	    const char *, ...) __attribute__((format(printf, 5, 6)));
/* The same, naming the request field at fault in "param". */
void	 http_error_param(struct hreq *, int, const char *, const char *,
	    const char *, const char *, ...)
	    __attribute__((format(printf, 6, 7)));
/* A request path checked and decoded (to free), or NULL with why it is
 * refused. */
char	*http_path_decode(const char *, const char **);
/* Answer 503: the server is shutting down, send the request again. */
void	 http_shutting_down(struct hreq *);
/* Answer 405 with an Allow header listing the methods given. */
void	 http_not_allowed(struct hreq *, const char *);
/* Check the client's bearer key; on failure send 401 and return -1. */
int	 http_auth(struct hreq *);
/* Log the access line and free the request record. */
void	 http_done(struct hreq *);
/* A request header's value, or NULL. */
const char *http_header(struct hreq *, const char *);
/* The request body; *len set. */
const char *http_body(struct hreq *, size_t *);
/* The body, or NULL after answering 413 when over MAX_BODY_BYTES. */
const char *http_body_checked(struct hreq *, size_t *);
/* Is the body valid UTF-8?  If not, answers 400 and returns 0. */
int	 http_utf8_ok(struct hreq *, const char *, size_t);


/*
 * A reply that outlives its handler: streamed (chunked), or answered whole
 * later.  From http_stream_new until it ends, the client going away is
 * told to closed(arg): the request is then logged ("client-closed") and
 * freed with the stream, and the owner frees what is its own, touching
 * neither again.  At shutdown's deadline, http_streams_cut calls cut(arg)
 * of each stream still running, which ends it one of the ways below.
 */
struct hstream;
struct http_stream_cbs {
	void	(*closed)(void *);	/* the client went away */
	void	(*drained)(void *);	/* written down (http_stream_chunk) */
	void	(*cut)(void *);		/* shutdown's deadline */
};

struct hstream *http_stream_new(struct hreq *, const struct http_stream_cbs *,
	    void *);
/* See the client leave before the reply starts too (evhttp reads nothing
 * from a connection while its request is being answered); called again
 * after http_stream_start, while the stream waits between chunks too. */
void	 http_stream_watch(struct hstream *);
/* Start the chunked reply: X-Request-Id, CORS, the Content-Type (if not
 * NULL) and the headers set so far; a stuck client times out after 60 s,
 * a quiet one never. */
void	 http_stream_start(struct hstream *, int status, const char *ctype);
int	 http_stream_started(const struct hstream *);
/* Send len bytes of the started reply.  Returns 1 when the client's
 * output then holds more than high bytes (high 0: no limit): drained(arg)
 * runs once it is written out. */
int	 http_stream_chunk(struct hstream *, const void *, size_t len,
	    size_t high);
/* The last chunk; the request logged and freed with the stream. */
void	 http_stream_end(struct hstream *);
/* Cut the started reply: no last chunk, the connection closed once what
 * was sent is written, so the client sees a transfer cut short.  Logged
 * with note; the request freed with the stream. */
void	 http_stream_abort(struct hstream *, const char *note);
/* The reply is answered another way (http_reply, http_error, ...), or by
 * another stream: stop watching; the stream is freed, the request not. */
void	 http_stream_release(struct hstream *);
/* A shutdown waits for this request's answer to be written out: it is
 * counted among the server's streams until then. */
void	 http_count_until_sent(struct hreq *);
/* Shutdown's deadline: cut every stream still running. */
void	 http_streams_cut(void);

#endif
