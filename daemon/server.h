/* server: the daemon's context, passed to every module, and what it owns:
 * the counters, the latency histograms, the watchers' events. */
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
struct event_base;
struct evhttp;
struct evhttp_bound_socket;
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

/* A context with its configuration: counters zero, the histograms
 * named. */
void	 server_init(struct server *, struct config *);
/* Send an event (the object is taken) to the watchers, if any. */
void	 server_emit(struct server *, const char *, struct cJSON *);
/* A stream has ended: when stopping and it was the last, leave the loop. */
void	 server_stream_done(struct server *);

#endif
