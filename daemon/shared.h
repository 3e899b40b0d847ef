/*
 * shared: the cache tier several instances share, on Redis (spec §9):
 * audio by content key, chat replies, clearing, figures.  REDIS_URL is
 * taken apart in shared_url.h, the audio's envelope is shared_env.h.
 */
#ifndef TTSACCEL_SHARED_H
#define TTSACCEL_SHARED_H

#include <stddef.h>

struct cJSON;
struct config;
struct evbuffer;
struct event_base;
struct shared;
struct shared_key;
struct shared_follow;
struct shared_clear;
struct shared_watch;

/* The tier for *cf's REDIS_URL (which must be set), on base; *cf is read
 * each time it is used (a reload swaps it).  It connects in the
 * background and reconnects with backoff.  NULL with *cause. */
struct shared *shared_new(struct event_base *base, struct config *const *cf,
	    char **cause);
void	 shared_free(struct shared *sh);
/* Is Redis connected and answering? */
int	 shared_up(const struct shared *sh);

/* What happens to a key asked of the tier (see shared_obtain). */
#define SHARED_HIT	0	/* the audio, complete (data, len): final */
#define SHARED_WON	1	/* ours to synthesise: shared_chunk, shared_end
				   (after SHARED_DATA: it must begin with the
				   bytes passed on) */
#define SHARED_DATA	2	/* bytes of another instance's synthesis */
#define SHARED_DONE	3	/* that synthesis is complete: final */
#define SHARED_FAILED	4	/* it failed after bytes came (data = why): final */
#define SHARED_LOCAL	5	/* nothing shared: synthesise here alone: final */
#define SHARED_RESUME	6	/* the same, after bytes were passed on: the
				   new synthesis must begin with them: final */

/*
 * Ask the tier for the audio of a content key (tts_key's string): found,
 * or this instance holds the lock and synthesises, or another one does
 * and its bytes are streamed here.  cb(arg, event, data, len) runs from
 * the loop, never inside this call; after a final event the handle is
 * gone.  NULL when the tier is not usable now: synthesise locally.
 */
struct shared_key *shared_obtain(struct shared *sh, const char *key,
	    void (*cb)(void *arg, int event, const void *data, size_t len),
	    void *arg);
/* After SHARED_WON: bytes of our synthesis, for the other instances. */
void	 shared_chunk(struct shared_key *k, const void *data, size_t len);
/* After SHARED_WON: our synthesis ended (ok: audio is the whole of it);
 * stores it, tells the readers, lets the lock go; the handle is gone. */
void	 shared_end(struct shared_key *k, int ok, const void *audio,
	    size_t len);
/* The owner no longer wants the key (no more callbacks); a held lock is
 * let go. */
void	 shared_cancel(struct shared_key *k);

/* Replies: the instance that serves a chat publishes its reply. */
/* A reply (id) begins with these parameters (JSON); one more segment, with
 * the reply's text since the last event; its end (ok), with the rest. */
void	 shared_reply_begin(struct shared *sh, const char *id,
	    const char *params);
void	 shared_reply_segment(struct shared *sh, const char *id,
	    const char *segment, const char *text, size_t textlen);
void	 shared_reply_end(struct shared *sh, const char *id, int ok,
	    const char *text, size_t textlen);

/* What a followed reply says. */
#define SHARED_R_PARAMS	0	/* its parameters (JSON text) */
#define SHARED_R_SEG	1	/* one more segment's text */
#define SHARED_R_CAUGHT	2	/* everything so far has been told */
#define SHARED_R_END	3	/* it ended (data "ok" or "cut"): final */
#define SHARED_R_NONE	4	/* no such reply: final */
#define SHARED_R_ERROR	5	/* the tier failed us: final */
#define SHARED_R_TEXT	6	/* the reply's text since its last event */
/* Follow reply id as it was published: its history, then what comes. */
struct shared_follow *shared_reply_follow(struct shared *sh, const char *id,
	    void (*cb)(void *arg, int event, const char *data, size_t len),
	    void *arg);
void	 shared_unfollow(struct shared_follow *f);
/* Follow every reply published in the cluster from now on (one
 * connection): cb(arg, id, event, data, len), SHARED_R_PARAMS, _TEXT,
 * _SEG and _END for each; SHARED_R_ERROR (id NULL) ends it.  NULL if the
 * tier is down. */
struct shared_watch *shared_replies_watch(struct shared *sh,
	    void (*cb)(void *arg, const char *id, int event, const char *data,
	    size_t len), void *arg);
void	 shared_unwatch(struct shared_watch *w);

/* Remove every key under the prefix (SCAN, UNLINK); cb(arg, removed,
 * error or NULL) once.  NULL with *cause if the tier is down. */
struct shared_clear *shared_clear(struct shared *sh,
	    void (*cb)(void *arg, long long removed, const char *error),
	    void *arg, char **cause);
void	 shared_clear_cancel(struct shared_clear *c);

/* The tier's state and figures (to cJSON_Delete); Prometheus lines. */
struct cJSON *shared_json(const struct shared *sh);
void	 shared_metrics(const struct shared *sh, struct evbuffer *b);

#endif
