/*
 * cache: synthesised audio by key.
 *
 * A chained hash table (power-of-two buckets, doubled when the load
 * passes 3/4) keyed by SipHash-2-4 of the key under a random seed, so
 * keys an attacker picks cannot pile up in one chain.
 *
 * An entry is pinned while refs > 0; cache_put hands out an entry with
 * one pin, its writer's.  Pinned entries are never evicted or freed.
 * Every entry in the table is on one of two doubly linked lists, most
 * recently used at the head: the LRU list holds the unpinned ones (the
 * only ones eviction and reaping may take, from its tail), the pinned
 * list the others.  So eviction and reaping never step over an entry
 * they cannot take: each costs O(1) per entry removed, however many
 * entries are being synthesised.  A get, a pin and the last unpin each
 * count as a use (the entry goes to the head of its list); a use stamp
 * on each entry lets cache_walk merge the two lists in order of use.
 * An entry taken out of the table while pinned (failed, expired,
 * cleared) moves to the detached list and is freed with its last pin;
 * cache_free frees that list too.
 *
 * Limits (0 = none): max_entries and max_bytes bound the finished
 * entries in the table and their audio bytes.  Entries being
 * synthesised (pending, queued or running) do not count and are never
 * evicted: however many are in flight, they take no place from
 * finished audio, so none is pushed out by work not yet done (their
 * count and bytes are figures of their own).  An entry counts from the
 * moment it is finished; the limits are enforced then, at set_opts and
 * when the last pin of an entry in the table goes, from the LRU tail:
 * the least recently used finished audio goes first, and an entry just
 * finished (pinned by its writer, then at the head) is the last.  Only
 * unpinned entries are evicted, so finished ones being read may hold
 * the cache over a limit until they are let go.
 * TTL counts from creation: an entry whose age is ttl or more is dead;
 * cache_get removes it on sight, and put and finish reap dead unpinned
 * entries from the LRU tail (stopping at the first live one, so the
 * work is paid for by what it removes).
 */

#include <assert.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "util.h"

#define CACHE_BUCKETS_MIN	16
#define CACHE_DATA_MIN		1024

struct cache_list {
	struct cache_entry	*head, *tail;
};

struct cache_entry {
	struct cache_entry	*hnext;		/* hash chain */
	struct cache_entry	*prev, *next;	/* LRU, pinned or detached */
	struct cache		*owner;
	uint64_t		 hash;
	uint64_t		 stamp;		/* use order */
	unsigned char		*data;
	size_t			 len, cap;
	char			*text;
	void			*user;
	uint64_t		 created;
	uint64_t		 hits;
	unsigned int		 refs;
	int			 state;		/* CACHE_PENDING ... */
	int			 intable;
	size_t			 keylen;
	char			 key[];		/* keylen bytes, then NUL */
};

struct cache {
	struct cache_opts	 o;
	unsigned char		 seed[16];
	struct cache_entry	**buckets;
	size_t			 nbuckets;	/* a power of two */
	struct cache_list	 lru;		/* in the table, unpinned */
	struct cache_list	 pinned;	/* in the table, pinned */
	struct cache_list	 detached;	/* out of the table, pinned */
	size_t			 ntable;	/* in the table, any state */
	uint64_t		 clock;		/* the last use stamp */
	struct cache_stats	 st;
};

/* SipHash-2-4 (Aumasson and Bernstein), little-endian throughout. */

#define ROTL(x, b)	(uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

#define SIPROUND do {							\
	v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);	\
	v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;				\
	v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;				\
	v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);	\
} while (0)

static uint64_t
le64(const unsigned char *p)
{
	return (uint64_t)p[0] | (uint64_t)p[1] << 8 |
	    (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
	    (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 |
	    (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
}

uint64_t
siphash24(const unsigned char *key, const void *data, size_t len)
{
	const unsigned char	*p = data, *end;
	uint64_t		 k0 = le64(key), k1 = le64(key + 8), m, b;
	uint64_t		 v0 = 0x736f6d6570736575ULL ^ k0;
	uint64_t		 v1 = 0x646f72616e646f6dULL ^ k1;
	uint64_t		 v2 = 0x6c7967656e657261ULL ^ k0;
	uint64_t		 v3 = 0x7465646279746573ULL ^ k1;
	size_t			 left = len & 7;

	for (end = p + (len - left); p != end; p += 8) {
		m = le64(p);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	b = (uint64_t)len << 56;
	switch (left) {
	case 7: b |= (uint64_t)p[6] << 48;	/* FALLTHROUGH */
	case 6: b |= (uint64_t)p[5] << 40;	/* FALLTHROUGH */
	case 5: b |= (uint64_t)p[4] << 32;	/* FALLTHROUGH */
	case 4: b |= (uint64_t)p[3] << 24;	/* FALLTHROUGH */
	case 3: b |= (uint64_t)p[2] << 16;	/* FALLTHROUGH */
	case 2: b |= (uint64_t)p[1] << 8;	/* FALLTHROUGH */
	case 1: b |= (uint64_t)p[0];		break;
	case 0: break;
	}
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

/* Lists. */

static void
list_unlink(struct cache_list *l, struct cache_entry *e)
{
	if (e->prev != NULL)
		e->prev->next = e->next;
	else
		l->head = e->next;
	if (e->next != NULL)
		e->next->prev = e->prev;
	else
		l->tail = e->prev;
	e->prev = e->next = NULL;
}

static void
list_push_head(struct cache_list *l, struct cache_entry *e)
{
	e->prev = NULL;
	e->next = l->head;
	if (l->head != NULL)
		l->head->prev = e;
	else
		l->tail = e;
	l->head = e;
}

/* The table's list e is on. */
static struct cache_list *
entry_list(struct cache *c, const struct cache_entry *e)
{
	return e->refs > 0 ? &c->pinned : &c->lru;
}

/* A use of an entry in the table: to the head of its list. */
static void
entry_touch(struct cache *c, struct cache_entry *e)
{
	struct cache_list	*l = entry_list(c, e);

	e->stamp = ++c->clock;
	if (l->head != e) {
		list_unlink(l, e);
		list_push_head(l, e);
	}
}

/* Entries. */

static void
entry_free(struct cache *c, struct cache_entry *e)
{
	if (e->state == CACHE_PENDING) {
		c->st.pending--;
		c->st.pending_bytes -= e->len;
	}
	free(e->data);
	free(e->text);
	free(e);
}

static int
entry_expired(const struct cache *c, const struct cache_entry *e,
    uint64_t now)
{
	return c->o.ttl_usec != 0 && now >= e->created &&
	    now - e->created >= c->o.ttl_usec;
}

static struct cache_entry *
table_find(const struct cache *c, const char *key, size_t keylen)
{
	struct cache_entry	*e;
	uint64_t		 h = siphash24(c->seed, key, keylen);

	for (e = c->buckets[h & (c->nbuckets - 1)]; e != NULL; e = e->hnext) {
		if (e->hash == h && e->keylen == keylen &&
		    memcmp(e->key, key, keylen) == 0)
			return e;
	}
	return NULL;
}

static void
table_grow(struct cache *c)
{
	struct cache_entry	**nb, *e, *next;
	size_t			  n = c->nbuckets * 2, i, slot;

	nb = xcalloc(n, sizeof *nb);
	for (i = 0; i < c->nbuckets; i++) {
		for (e = c->buckets[i]; e != NULL; e = next) {
			next = e->hnext;
			slot = e->hash & (n - 1);
			e->hnext = nb[slot];
			nb[slot] = e;
		}
	}
	free(c->buckets);
	c->buckets = nb;
	c->nbuckets = n;
}

/* Take e out of the table; free it unless pinned. */
static void
table_remove(struct cache *c, struct cache_entry *e)
{
	struct cache_entry	**pp;

	assert(e->intable);
	for (pp = &c->buckets[e->hash & (c->nbuckets - 1)]; *pp != e;
	    pp = &(*pp)->hnext)
		assert(*pp != NULL);
	*pp = e->hnext;
	e->hnext = NULL;
	list_unlink(entry_list(c, e), e);
	e->intable = 0;
	c->ntable--;
	if (e->state == CACHE_DONE) {
		c->st.entries--;
		c->st.bytes -= e->len;
	}
	if (e->refs > 0)
		list_push_head(&c->detached, e);
	else
		entry_free(c, e);
}

/* Finished entries or their bytes over a limit? */
static int
over_limits(const struct cache *c)
{
	return (c->o.max_entries != 0 && c->st.entries > c->o.max_entries) ||
	    (c->o.max_bytes != 0 && c->st.bytes > c->o.max_bytes);
}

/* Evict unpinned entries from the LRU tail until the finished ones fit,
 * or nothing evictable is left.  Every entry looked at goes. */
static void
evict(struct cache *c)
{
	struct cache_entry	*e;

	while (over_limits(c) && (e = c->lru.tail) != NULL) {
		c->st.scanned++;
		table_remove(c, e);
		c->st.evictions++;
	}
}

/* Remove dead unpinned entries from the LRU tail, up to the first live
 * one. */
static void
reap(struct cache *c, uint64_t now)
{
	struct cache_entry	*e;

	while ((e = c->lru.tail) != NULL) {
		c->st.scanned++;
		if (!entry_expired(c, e, now))
			break;
		table_remove(c, e);
		c->st.expirations++;
	}
}

/* The cache. */

struct cache *
cache_new(const struct cache_opts *o, const unsigned char *seed)
{
	struct cache	*c;

	c = xcalloc(1, sizeof *c);
	c->o = *o;
	memcpy(c->seed, seed, sizeof c->seed);
	c->nbuckets = CACHE_BUCKETS_MIN;
	c->buckets = xcalloc(c->nbuckets, sizeof *c->buckets);
	return c;
}

void
cache_free(struct cache *c)
{
	struct cache_entry	*e, *next;

	if (c == NULL)
		return;
	for (e = c->lru.head; e != NULL; e = next) {
		next = e->next;
		entry_free(c, e);
	}
	for (e = c->pinned.head; e != NULL; e = next) {
		next = e->next;
		entry_free(c, e);
	}
	for (e = c->detached.head; e != NULL; e = next) {
		next = e->next;
		entry_free(c, e);
	}
	free(c->buckets);
	free(c);
}

void
cache_set_opts(struct cache *c, const struct cache_opts *o)
{
	c->o = *o;
	evict(c);
}

struct cache_entry *
cache_get(struct cache *c, const char *key, size_t keylen, uint64_t now)
{
	struct cache_entry	*e;

	if ((e = table_find(c, key, keylen)) == NULL) {
		c->st.misses++;
		return NULL;
	}
	if (entry_expired(c, e, now)) {
		table_remove(c, e);
		c->st.expirations++;
		c->st.misses++;
		return NULL;
	}
	c->st.hits++;
	e->hits++;
	entry_touch(c, e);
	return e;
}

struct cache_entry *
cache_peek(struct cache *c, const char *key, size_t keylen, uint64_t now)
{
	struct cache_entry	*e;

	if ((e = table_find(c, key, keylen)) == NULL ||
	    entry_expired(c, e, now))
		return NULL;
	return e;
}

struct cache_entry *
cache_put(struct cache *c, const char *key, size_t keylen, const char *text,
    uint64_t now)
{
	struct cache_entry	*e, **slot;

	if ((e = table_find(c, key, keylen)) != NULL) {
		/* The caller must not put a live key; a dead one goes. */
		assert(entry_expired(c, e, now));
		table_remove(c, e);
		c->st.expirations++;
	}
	reap(c, now);

	if (keylen > SIZE_MAX - sizeof *e - 1)
		abort();
	e = xcalloc(1, sizeof *e + keylen + 1);
	memcpy(e->key, key, keylen);
	e->key[keylen] = '\0';
	e->keylen = keylen;
	e->owner = c;
	e->stamp = ++c->clock;
	e->hash = siphash24(c->seed, key, keylen);
	e->text = xstrdup(text != NULL ? text : "");
	e->created = now;
	e->refs = 1;
	e->state = CACHE_PENDING;
	e->intable = 1;

	slot = &c->buckets[e->hash & (c->nbuckets - 1)];
	e->hnext = *slot;
	*slot = e;
	list_push_head(&c->pinned, e);
	c->ntable++;
	c->st.pending++;
	if (c->ntable > c->nbuckets / 4 * 3)
		table_grow(c);
	return e;
}

void
cache_append(struct cache *c, struct cache_entry *e, const void *data,
    size_t len)
{
	size_t	cap;

	assert(e->state == CACHE_PENDING);
	if (len == 0)
		return;
	if (len > SIZE_MAX - e->len)
		abort();
	if (e->len + len > e->cap) {
		cap = e->cap != 0 ? e->cap : CACHE_DATA_MIN;
		while (cap < e->len + len)
			cap = cap > SIZE_MAX / 2 ? e->len + len : cap * 2;
		e->data = xrealloc(e->data, cap);
		e->cap = cap;
	}
	memcpy(e->data + e->len, data, len);
	e->len += len;
	c->st.pending_bytes += len;
}

void
cache_finish(struct cache *c, struct cache_entry *e, int ok, uint64_t now)
{
	assert(e->state == CACHE_PENDING);
	c->st.pending--;
	c->st.pending_bytes -= e->len;
	if (!ok) {
		e->state = CACHE_FAILED;
		if (e->intable)
			table_remove(c, e);
		reap(c, now);
		return;
	}
	e->state = CACHE_DONE;
	if (e->intable) {
		/* It counts from now: the least recently used finished
		 * entries make room (never this one while its writer holds
		 * it). */
		c->st.entries++;
		c->st.bytes += e->len;
		reap(c, now);
		evict(c);
	} else
		reap(c, now);
}

void
cache_pin(struct cache_entry *e)
{
	struct cache	*c = e->owner;

	assert(e->refs < UINT_MAX);
	if (e->intable && e->refs == 0)
		list_unlink(&c->lru, e);
	e->refs++;
	if (!e->intable)
		return;
	if (e->refs == 1) {
		e->stamp = ++c->clock;
		list_push_head(&c->pinned, e);
	} else
		entry_touch(c, e);
}

void
cache_unpin(struct cache *c, struct cache_entry *e)
{
	assert(e->refs > 0);
	if (--e->refs > 0)
		return;
	if (!e->intable) {
		list_unlink(&c->detached, e);
		entry_free(c, e);
		return;
	}
	list_unlink(&c->pinned, e);
	e->stamp = ++c->clock;
	list_push_head(&c->lru, e);
	evict(c);
}

size_t
cache_clear(struct cache *c)
{
	size_t	n = c->ntable;

	while (c->lru.head != NULL)
		table_remove(c, c->lru.head);
	while (c->pinned.head != NULL)
		table_remove(c, c->pinned.head);
	if (c->nbuckets != CACHE_BUCKETS_MIN) {
		free(c->buckets);
		c->nbuckets = CACHE_BUCKETS_MIN;
		c->buckets = xcalloc(c->nbuckets, sizeof *c->buckets);
	}
	return n;
}

/* Accessors. */

unsigned
cache_pins(const struct cache_entry *e)
{
	return e->refs;
}

int
cache_state(const struct cache_entry *e)
{
	return e->state;
}

const unsigned char *
cache_data(const struct cache_entry *e, size_t *len)
{
	*len = e->len;
	return e->data != NULL ? e->data : (const unsigned char *)"";
}

const char *
cache_key(const struct cache_entry *e)
{
	return e->key;
}

const char *
cache_text(const struct cache_entry *e)
{
	return e->text;
}

uint64_t
cache_entry_hits(const struct cache_entry *e)
{
	return e->hits;
}

uint64_t
cache_entry_created(const struct cache_entry *e)
{
	return e->created;
}

void *
cache_user(const struct cache_entry *e)
{
	return e->user;
}

void
cache_set_user(struct cache_entry *e, void *user)
{
	e->user = user;
}

void
cache_get_stats(const struct cache *c, struct cache_stats *st)
{
	*st = c->st;
}

void
cache_walk(struct cache *c, size_t limit,
    int (*cb)(void *, const struct cache_entry *), void *arg)
{
	struct cache_entry	*a = c->lru.head, *b = c->pinned.head, *e;
	size_t			 n = 0;

	/* Both lists are in stamp order: merge them. */
	while (a != NULL || b != NULL) {
		if (b == NULL || (a != NULL && a->stamp > b->stamp)) {
			e = a;
			a = a->next;
		} else {
			e = b;
			b = b->next;
		}
		if (cb(arg, e) != 0 || (limit != 0 && ++n >= limit))
			break;
	}
}
