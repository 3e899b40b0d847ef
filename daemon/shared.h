/* shared: the cache tier several instances share, on Redis (spec §9). */
#ifndef TTSACCEL_SHARED_H
#define TTSACCEL_SHARED_H

#include <stddef.h>
#include <stdint.h>

#include "sha256.h"

struct cJSON;
struct evbuffer;
struct server;
struct shared;
struct shared_key;
struct shared_follow;
struct shared_clear;
struct shared_watch;

/* REDIS_URL taken apart. */
struct shared_url {
	char		*host;		/* NULL for a Unix socket */
	int		 port;
	char		*path;		/* Unix socket path */
	char		*user;		/* ACL user, or NULL */
	char		*password;	/* or NULL */
	int		 db;
};

/* Parse redis://[[user]:password@]host[:port][/db] or
 * unix:///path[?db=N]; -1 with *cause (to free). */
int	 shared_url_parse(const char *, struct shared_url *, char **);
void	 shared_url_clear(struct shared_url *);

/*
 * Audio in Redis is wrapped in an envelope: a magic, the SHA-256 of the
 * content key it belongs to and the audio's length.  A value that is not
 * one, belongs to another key or is cut short is not ours (a miss).
 */
#define SHARED_ENV_HDR	52
void	 shared_env_pack(unsigned char *, const unsigned char[SHA256_LEN],
	    const void *, size_t);
/* 0 with *data and *len inside buf, or -1 if buf is not such a value. */
int	 shared_env_parse(const void *, size_t, const unsigned char[SHA256_LEN],
	    const unsigned char **, size_t *);

/* The tier for srv->cf's REDIS_URL (which must be set); it connects in
 * the background and reconnects with backoff.  NULL with *cause. */
struct shared *shared_new(struct server *, char **);
void	 shared_free(struct shared *);
/* Is Redis connected and answering? */
int	 shared_up(const struct shared *);

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
struct shared_key *shared_obtain(struct shared *, const char *,
	    void (*)(void *, int, const void *, size_t), void *);
/* After SHARED_WON: bytes of our synthesis, for the other instances. */
void	 shared_chunk(struct shared_key *, const void *, size_t);
/* After SHARED_WON: our synthesis ended (ok: audio is the whole of it);
 * stores it, tells the readers, lets the lock go; the handle is gone. */
void	 shared_end(struct shared_key *, int, const void *, size_t);
/* The owner no longer wants the key (no more callbacks); a held lock is
 * let go. */
void	 shared_cancel(struct shared_key *);

/* Replies: the instance that serves a chat publishes its reply. */
/* A reply (id) begins with these parameters (JSON); one more segment, with
 * the reply's text since the last event; its end (ok), with the rest. */
void	 shared_reply_begin(struct shared *, const char *, const char *);
void	 shared_reply_segment(struct shared *, const char *, const char *,
	    const char *, size_t);
void	 shared_reply_end(struct shared *, const char *, int, const char *,
	    size_t);

/* What a followed reply says. */
#define SHARED_R_PARAMS	0	/* its parameters (JSON text) */
#define SHARED_R_SEG	1	/* one more segment's text */
#define SHARED_R_CAUGHT	2	/* everything so far has been told */
#define SHARED_R_END	3	/* it ended (data "ok" or "cut"): final */
#define SHARED_R_NONE	4	/* no such reply: final */
#define SHARED_R_ERROR	5	/* the tier failed us: final */
#define SHARED_R_TEXT	6	/* the reply's text since its last event */
/* Follow reply id as it was published: its history, then what comes. */
struct shared_follow *shared_reply_follow(struct shared *, const char *,
	    void (*)(void *, int, const char *, size_t), void *);
void	 shared_unfollow(struct shared_follow *);
/* Follow every reply published in the cluster from now on (one
 * connection): cb(arg, id, event, data, len), SHARED_R_PARAMS, _TEXT,
 * _SEG and _END for each; SHARED_R_ERROR (id NULL) ends it.  NULL if the
 * tier is down. */
struct shared_watch *shared_replies_watch(struct shared *,
	    void (*)(void *, const char *, int, const char *, size_t), void *);
void	 shared_unwatch(struct shared_watch *);

/* Remove every key under the prefix (SCAN, UNLINK); cb(arg, removed,
 * error or NULL) once.  NULL with *cause if the tier is down. */
struct shared_clear *shared_clear(struct shared *,
	    void (*)(void *, long long, const char *), void *, char **);
void	 shared_clear_cancel(struct shared_clear *);

/* The tier's state and figures (to cJSON_Delete); Prometheus lines. */
struct cJSON *shared_json(const struct shared *);
void	 shared_metrics(const struct shared *, struct evbuffer *);

#endif
