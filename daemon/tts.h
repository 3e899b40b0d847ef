/* tts: syntheses — the cache, the scheduler and the backends together. */
#ifndef TTSACCEL_TTS_H
#define TTSACCEL_TTS_H

#include <stddef.h>
#include <stdint.h>

#include "params.h"

struct cJSON;
struct evbuffer;
struct cache;
struct cache_entry;
struct server;
struct tts;
struct tts_waiter;

/* How tts_obtain found its entry. */
#define TTS_HIT		0	/* complete in the cache */
#define TTS_INFLIGHT	1	/* being synthesised already */
#define TTS_MISS	2	/* a new synthesis was queued */
#define TTS_SHARED	3	/* asked of the shared tier: Redis's copy,
				   another instance's synthesis streamed, or
				   a new one here */

/* Build the endpoints from the configuration; NULL with *cause. */
struct tts *tts_new(struct server *, char **);
void	 tts_free(struct tts *);
/* The cache key of a text said with these parameters (to free). */
char	*tts_key(const struct tts_params *, const char *);
/* The live entry of text said with p, if any (not pinned; LRU order
 * untouched). */
struct cache_entry *tts_peek(struct tts *, const struct tts_params *,
	    const char *);
/* A short stable id (16 hex digits) of a key, for listings (to free). */
char	*tts_key_id(const char *);
/*
 * The entry for text with p: found, or a synthesis queued with class
 * (SCHED_ONDEMAND, SCHED_PREFETCH) and index.  Returned pinned (release
 * with tts_release); *how says which.  A waiting client promotes a
 * queued prefetch.  NULL only when no endpoint exists (*how = -1).
 */
struct cache_entry *tts_obtain(struct tts *, const struct tts_params *,
	    const char *, int, unsigned, int *);
void	 tts_release(struct tts *, struct cache_entry *);
/*
 * tts_release for a caller that no longer wants the audio (a cancelled
 * reply): a synthesis nobody else holds is stopped too — taken off the
 * queue, its backend transfer cancelled, its shared lock let go — and its
 * entry fails (never cached, never a hit).  1 if one was stopped.
 */
int	 tts_abandon(struct tts *, struct cache_entry *);
/* Call cb(arg) after bytes are added to a pending entry and when it ends.
 * A callback may remove only its own waiter.  The owner always frees the
 * waiter with tts_unwatch, even after the synthesis ended. */
struct tts_waiter *tts_watch(struct tts *, struct cache_entry *,
	    void (*)(void *), void *);
void	 tts_unwatch(struct tts_waiter *);
/* A pending or just-ended entry's endpoint, error, and timings (usec). */
const char *tts_entry_endpoint(const struct cache_entry *);
const char *tts_entry_error(const struct cache_entry *);
/* The HTTP status a client gets for a failed entry: the backend's own
 * 4xx when the request was at fault, else 502. */
int	 tts_entry_status(const struct cache_entry *);
/* Is any endpoint usable? */
int	 tts_usable(struct tts *);
/* Can some endpoint produce this format? */
int	 tts_has_format(struct tts *, const char *);
/* What can be made now: the formats the endpoints make (none without
 * tts) and those converted from WAV. */
void	 tts_can(struct tts *, struct params_can *);
struct cache *tts_cache(struct tts *);
/* Empty the cache; returns entries removed. */
size_t	 tts_clear(struct tts *);
/* Endpoints at run time: add one (TTS_ENDPOINTS syntax); drain one (no new
 * work, it leaves when idle); remove one (now if idle: 0; else drained
 * and leaving: 1).  -1 with *cause. */
int	 tts_endpoint_add(struct tts *, const char *, char **);
int	 tts_endpoint_drain(struct tts *, const char *, char **);
int	 tts_endpoint_remove(struct tts *, const char *, char **);
size_t	 tts_endpoint_count(struct tts *);
const char *tts_endpoint_name(struct tts *, size_t);
/* After a reload: add the endpoints the configuration lists and lacks,
 * drain those it no longer lists, apply the cache limits.  -1 with
 * *cause (nothing changed) if an endpoint is invalid. */
int	 tts_sync_endpoints(struct tts *, char **);
/* Apply the cache limits of the (reloaded) configuration. */
void	 tts_reconfigure(struct tts *);
/* JSON of the endpoints, for /health and stats (to cJSON_Delete). */
struct cJSON *tts_endpoints_json(struct tts *);
/* JSON of the cache's figures (to cJSON_Delete). */
struct cJSON *tts_cache_json(struct tts *);
/* Prometheus lines for the cache, syntheses and endpoints. */
void	 tts_metrics(struct tts *, struct evbuffer *);

#endif
