/* cache: synthesised audio by key — keyed hash, true LRU, TTL, limits (pure). */
#ifndef TTSACCEL_CACHE_H
#define TTSACCEL_CACHE_H

#include <stddef.h>
#include <stdint.h>

struct cache;
struct cache_entry;

/* The limits bound finished entries; entries being synthesised are
 * counted apart (pending, pending_bytes) and never evicted. */
struct cache_opts {
	size_t		 max_entries;	/* CACHE_MAX_SIZE: finished entries */
	uint64_t	 max_bytes;	/* CACHE_MAX_BYTES: their audio bytes */
	uint64_t	 ttl_usec;	/* CACHE_TTL */
};

/* Entry states. */
#define CACHE_PENDING	0	/* being synthesised: bytes still arriving */
#define CACHE_DONE	1	/* complete */
#define CACHE_FAILED	2	/* synthesis failed: no longer in the table */

struct cache_stats {
	size_t		 entries;	/* finished ones in the table */
	uint64_t	 bytes;		/* their audio bytes */
	size_t		 pending;	/* entries in CACHE_PENDING */
	uint64_t	 pending_bytes;	/* their audio bytes so far */
	uint64_t	 hits;		/* cache_get found a live entry */
	uint64_t	 misses;	/* cache_get found nothing (or expired) */
	uint64_t	 evictions;	/* removed for the size or byte limit */
	uint64_t	 expirations;	/* removed because the TTL passed */
	uint64_t	 scanned;	/* entries eviction and reaping looked
					   at: at most one more per call than
					   they removed */
};

/* A cache; seed is 16 random bytes keying the hash (SipHash-2-4). */
struct cache *cache_new(const struct cache_opts *, const unsigned char *);
/* Free the cache; entries still pinned are freed too (shutdown only). */
void	 cache_free(struct cache *);
/* Change the limits (reload); evicts at once if now over them. */
void	 cache_set_opts(struct cache *, const struct cache_opts *);

/*
 * Find a live entry (pending or done) by key and make it the most
 * recently used; counts a hit or a miss.  An expired entry is removed
 * (unless pinned: then it is only taken out of the table) and is a miss.
 */
struct cache_entry *cache_get(struct cache *, const char *key, size_t keylen,
	    uint64_t now);
/* Like cache_get but without touching LRU order or hit counts. */
struct cache_entry *cache_peek(struct cache *, const char *key, size_t keylen,
	    uint64_t now);
/*
 * Insert a new pending entry for key (which must not be live) with the
 * text it speaks (for listings); it starts pinned once for its writer.
 * It takes no place from finished entries: nothing is evicted for it
 * (dead ones may be reaped).
 */
struct cache_entry *cache_put(struct cache *, const char *key, size_t keylen,
	    const char *text, uint64_t now);
/* Append audio bytes to a pending entry (counted in pending_bytes; it
 * evicts nothing). */
void	 cache_append(struct cache *, struct cache_entry *, const void *,
	    size_t);
/* End a pending entry: ok = done (it counts against the limits from now,
 * and unpinned least-recently-used finished entries make room); else
 * failed (taken out of the table at once, so the next cache_get misses;
 * freed when the last pin goes).  A writer that let its pin go must
 * not touch the entry after this. */
void	 cache_finish(struct cache *, struct cache_entry *, int ok,
	    uint64_t now);
/* Pin an entry so it is never evicted or freed under a reader; a pin
 * and the last unpin count as uses (most recently used). */
void	 cache_pin(struct cache_entry *);
/* Drop a pin; an entry out of the table is freed with its last pin. */
void	 cache_unpin(struct cache *, struct cache_entry *);
/* Take every entry out of the table (pinned ones live on for their
 * readers); returns how many were removed, finished or pending. */
size_t	 cache_clear(struct cache *);

int	 cache_state(const struct cache_entry *);
/* Its pins (a pending entry's writer holds one). */
unsigned cache_pins(const struct cache_entry *);
/* The audio bytes so far; *len set. */
const unsigned char *cache_data(const struct cache_entry *, size_t *);
const char *cache_key(const struct cache_entry *);
const char *cache_text(const struct cache_entry *);
/* Hits of this entry, and its creation time. */
uint64_t cache_entry_hits(const struct cache_entry *);
uint64_t cache_entry_created(const struct cache_entry *);
/* A pointer the owner may hang on an entry (waiters, say). */
void	*cache_user(const struct cache_entry *);
void	 cache_set_user(struct cache_entry *, void *);

void	 cache_get_stats(const struct cache *, struct cache_stats *);
/* Visit entries in the table, most recently used first, until cb
 * returns non-zero or limit entries were visited (0 = all). */
void	 cache_walk(struct cache *, size_t,
	    int (*)(void *, const struct cache_entry *), void *);

/* SipHash-2-4 of data under a 16-byte key. */
uint64_t siphash24(const unsigned char *, const void *, size_t);

#endif
