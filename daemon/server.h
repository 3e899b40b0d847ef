/* server: the daemon's context and the HTTP layer shared by the handlers. */
#ifndef TTSACCEL_SERVER_H
#define TTSACCEL_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "metrics.h"

struct cJSON;
struct chat_tts;
struct config;
struct conns;
struct encode;
struct event;
struct px;
struct event_base;
struct evhttp;
struct evhttp_bound_socket;
struct evhttp_request;
struct evbuffer;
struct fetch;
struct mirrors;
struct replies;
struct shared;
struct tts;
struct upstream;

/* The one daemon context, passed explicitly. */
struct server {
	struct event_base		*base;
	struct config			*cf;
	struct evhttp			*http;
	struct evhttp_bound_socket	*bound;
	unsigned			 listen_port;	/* as bound */
	struct conns			*conns;		/* cap, deadlines */
	struct event			*accept_retry;	/* accepts paused */
	int				 accept_paused;	/* and said so */
	struct fetch			*fetch;
	struct tts			*tts;
	struct encode			*encode;	/* conversions, on
							   worker threads */
	struct replies			*replies;
	struct shared			*shared;	/* REDIS_URL set */
	struct mirrors			*mirrors;	/* other instances'
							   replies */
	struct upstream			*upstream;	/* its health */
	struct event			*stop_timer;
	int				 stopping;
	size_t				 nstreams;	/* replies in progress */
	struct px			*proxies;	/* proxy.c's requests */
	uint64_t			 started;	/* now_usec() at start */
	uint64_t			 nrequests;
	uint64_t			 nchats;
	uint64_t			 nupstream_errors;
	/* /v1/audio/speech requests by how they were served: without a
	 * new synthesis (exact, assembled, partial reuse, converted) or a
	 * miss. */
#define SERVED_EXACT		0
#define SERVED_ASSEMBLED	1
#define SERVED_PARTIAL		2
#define SERVED_CONVERTED	3
#define SERVED_MISS		4
#define SERVED_EMPTY		5	/* nothing to say: silence */
#define SERVED_KINDS		6
	uint64_t			 served[SERVED_KINDS];
	struct hist			 h_upstream_first;	/* chat sent →
								   upstream's answer */
	struct hist			 h_first_segment;	/* chat sent →
								   segment 0 queued */
	struct hist			 h_first_audio;		/* audio request →
								   first byte sent */
	/* Events for `watch` clients of the admin socket: build one only
	 * when nwatchers > 0, then hand it to server_emit. */
	size_t				 nwatchers;
	void	 (*emit)(struct server *, const char *, struct cJSON *);
	/* Consumer of spoken text: each content delta of choice 0. */
	void	*(*reply_begin)(struct server *, const char *,
		    const struct chat_tts *);
	void	 (*reply_delta)(void *, const char *, size_t, struct evbuffer *);
	void	 (*reply_end)(void *, int, struct evbuffer *);
};

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

/* Bind and serve; -1 with *cause. */
int	 server_listen(struct server *, char **);
/* Stop accepting new connections. */
void	 server_stop_listening(struct server *);

/* Send an event (the object is taken) to the watchers, if any. */
void	 server_emit(struct server *, const char *, struct cJSON *);
/* A stream has ended: when stopping and it was the last, leave the loop. */
void	 server_stream_done(struct server *);

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

#endif
