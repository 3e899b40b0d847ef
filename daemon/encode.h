/* encode: formats made from WAV on worker threads, kept in the cache. */
#ifndef TTSACCEL_ENCODE_H
#define TTSACCEL_ENCODE_H

#include <stddef.h>

struct cJSON;
struct cache;
struct cache_entry;
struct event_base;
struct evbuffer;
struct encode;
struct encode_waiter;

#define ENCODE_QUEUE_MAX	256	/* encodings waiting for a thread */
#define ENCODE_THREADS_MAX	4	/* one per CPU, at most this */

/* How encode_obtain found the audio. */
#define ENCODE_HIT		0	/* converted before: in the cache */
#define ENCODE_INFLIGHT		1	/* being converted: joined */
#define ENCODE_NEW		2	/* a new encoding was queued */

/* Audio to join and convert: a WAV file's bytes. */
struct encode_src {
	const unsigned char	*data;
	size_t			 len;
};

/* Encodings on worker threads, their results in cache; NULL with *cause. */
struct encode *encode_new(struct event_base *, struct cache *, char **);
/* Stop the workers (a running encoding gives up), drop what waits; no
 * callback runs.  Before the cache is freed. */
void	 encode_free(struct encode *);

/*
 * The cache key of the audio of sources with keys (in order) joined and
 * converted to format (to free).  Never the key of a synthesis (those
 * begin "v1"), and each part is length-prefixed, so no two lists of keys
 * share one.
 */
char	*encode_key(const char *, const char *const *, size_t);

/*
 * The audio of ents (complete WAV entries, in order, pinned by the
 * caller) joined and converted to format:
 *   ENCODE_HIT: in the cache, *e set (pinned: cache_unpin it);
 *   ENCODE_INFLIGHT, ENCODE_NEW: *w set; cb(arg, e, err) runs later on
 *     the loop, once, with e complete and pinned for the caller, or NULL
 *     and the reason; the waiter is freed after it;
 *   -1 with *err: too many encodings wait (ENCODE_QUEUE_MAX).
 */
int	 encode_obtain(struct encode *, const char *,
	    struct cache_entry *const *, size_t,
	    void (*)(void *, struct cache_entry *, const char *), void *,
	    struct cache_entry **, struct encode_waiter **, const char **);
/* The same for static bytes (silence) that name names: never a key of
 * a cache entry (those begin "v1"). */
int	 encode_obtain_static(struct encode *, const char *, const char *,
	    const struct encode_src *,
	    void (*)(void *, struct cache_entry *, const char *), void *,
	    struct cache_entry **, struct encode_waiter **, const char **);
/*
 * The WAV of ents (n > 1 complete WAV entries, in order, pinned by the
 * caller) merged under one header, kept in the cache like a conversion
 * (the key encode_key makes for "wav"), so that a repeat is one buffer.
 * Merging is a copy, made at once on the loop.  The entry, pinned for
 * the caller (cache_unpin it); NULL with *err when the entries cannot be
 * merged (one is not WAV, or layouts that cannot be brought together).
 */
struct cache_entry *encode_merged(struct encode *,
	    struct cache_entry *const *, size_t, const char **);
/* No longer wait (before the callback ran); the encoding goes on. */
void	 encode_cancel(struct encode_waiter *);

/*
 * The pure part, run on a worker: join the sources' samples (brought to
 * the first one's layout) and convert them to format; Ogg gets a serial
 * number made from key, so converting again gives the same bytes.
 * stop(arg) is asked between slices and ends it.  0 with *out (to free),
 * or -1 with a static *err.
 */
int	 encode_make(const struct encode_src *, size_t, const char *,
	    const char *, int (*)(void *), void *, unsigned char **, size_t *,
	    const char **);

/* {"made","hits","joined","failures","queued","running"} (to
 * cJSON_Delete), and the same as Prometheus lines. */
struct cJSON *encode_json(struct encode *);
void	 encode_metrics(struct encode *, struct evbuffer *);

#endif
