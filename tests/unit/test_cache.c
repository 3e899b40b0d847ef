/*
 * Unit tests for the cache: SipHash-2-4 against the paper's vectors,
 * LRU order, limits, pins, failures, TTL, odd keys, growth, and a
 * randomized run against a simple reference model.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "check.h"
#include "util.h"

static const unsigned char seed[16] = {
	0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
};

/* Short string keys. */
#define K(s)	(s), strlen(s)

static uint64_t
rd64le(const unsigned char *p)
{
	uint64_t	v = 0;
	int		i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* The reference vectors (key 00..0f, message 00..n-1), as the output
 * bytes are printed in the paper's vectors.h. */
static void
test_siphash(void)
{
	static const struct {
		size_t		n;
		unsigned char	out[8];
	} v[] = {
		{ 0, { 0x31, 0x0e, 0x0e, 0xdd, 0x47, 0xdb, 0x6f, 0x72 } },
		{ 1, { 0xfd, 0x67, 0xdc, 0x93, 0xc5, 0x39, 0xf8, 0x74 } },
		{ 2, { 0x5a, 0x4f, 0xa9, 0xd9, 0x09, 0x80, 0x6c, 0x0d } },
		{ 3, { 0x2d, 0x7e, 0xfb, 0xd7, 0x96, 0x66, 0x67, 0x85 } },
		{ 7, { 0x37, 0xd1, 0x01, 0x8b, 0xf5, 0x00, 0x02, 0xab } },
		{ 8, { 0x62, 0x24, 0x93, 0x9a, 0x79, 0xf5, 0xf5, 0x93 } },
		{ 9, { 0xb0, 0xe4, 0xa9, 0x0b, 0xdf, 0x82, 0x00, 0x9e } },
		{ 15, { 0xe5, 0x45, 0xbe, 0x49, 0x61, 0xca, 0x29, 0xa1 } },
		{ 16, { 0xdb, 0x9b, 0xc2, 0x57, 0x7f, 0xcc, 0x2a, 0x3f } },
		{ 31, { 0x42, 0xc3, 0x41, 0xd8, 0xfa, 0x92, 0xd8, 0x32 } },
		{ 32, { 0xce, 0x7c, 0xf2, 0x72, 0x2f, 0x51, 0x27, 0x71 } },
		{ 62, { 0x57, 0x5f, 0xf2, 0x8e, 0x60, 0x38, 0x1b, 0xe5 } },
		{ 63, { 0x72, 0x45, 0x06, 0xeb, 0x4c, 0x32, 0x8a, 0x95 } },
	};
	unsigned char	msg[64], other[16];
	size_t		i;

	for (i = 0; i < sizeof msg; i++)
		msg[i] = (unsigned char)i;
	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		if (siphash24(seed, msg, v[i].n) != rd64le(v[i].out))
			fprintf(stderr, "siphash24 wrong for n = %zu\n",
			    v[i].n);
		CHECK(siphash24(seed, msg, v[i].n) == rd64le(v[i].out));
	}
	/* The same values written as integers, as the brief gives them. */
	CHECK(siphash24(seed, msg, 0) == 0x726fdb47dd0e0e31ULL);
	CHECK(siphash24(seed, msg, 1) == 0x74f839c593dc67fdULL);
	CHECK(siphash24(seed, msg, 15) == 0xa129ca6149be45e5ULL);
	CHECK(siphash24(seed, msg, 63) == 0x958a324ceb064572ULL);
	/* Another seed, another hash. */
	memcpy(other, seed, sizeof other);
	other[15] ^= 1;
	CHECK(siphash24(other, msg, 15) != siphash24(seed, msg, 15));
}

/* Collect the keys of a walk as "k1,k2,...". */
struct walk {
	char	buf[1024];
	size_t	n, stop_after;
};

static int
walk_cb(void *arg, const struct cache_entry *e)
{
	struct walk	*w = arg;
	size_t		 len = strlen(w->buf);

	snprintf(w->buf + len, sizeof w->buf - len, "%s%s", len ? "," : "",
	    cache_key(e));
	w->n++;
	return w->stop_after != 0 && w->n >= w->stop_after;
}

static const char *
walk_keys(struct cache *c, size_t limit, struct walk *w)
{
	size_t	stop_after = w->stop_after;

	memset(w, 0, sizeof *w);
	w->stop_after = stop_after;
	cache_walk(c, limit, walk_cb, w);
	return w->buf;
}

/* Put a finished entry with len bytes and drop the writer's pin. */
static struct cache_entry *
put_done(struct cache *c, const char *key, size_t len, uint64_t now)
{
	struct cache_entry	*e;
	unsigned char		 buf[4096];

	memset(buf, key[0], sizeof buf);
	e = cache_put(c, key, strlen(key), key, now);
	while (len > 0) {
		size_t n = len < sizeof buf ? len : sizeof buf;
		cache_append(c, e, buf, n);
		len -= n;
	}
	cache_finish(c, e, 1, now);
	cache_unpin(c, e);
	return e;
}

static void
test_basic(void)
{
	struct cache_opts	 o = { 100, 1 << 20, 0 };
	struct cache		*c = cache_new(&o, seed);
	struct cache_entry	*e, *g;
	struct cache_stats	 st;
	const unsigned char	*d;
	size_t			 len;
	int			 marker;

	CHECK(cache_get(c, K("hello"), 1) == NULL);
	e = cache_put(c, K("hello"), "Hello.", 5);
	CHECK(e != NULL);
	CHECK_INT(cache_state(e), CACHE_PENDING);
	CHECK_STR(cache_key(e), "hello");
	CHECK_STR(cache_text(e), "Hello.");
	CHECK_INT(cache_entry_created(e), 5);
	d = cache_data(e, &len);
	CHECK(d != NULL);
	CHECK_INT(len, 0);
	CHECK(cache_user(e) == NULL);
	cache_set_user(e, &marker);	/* never freed by the cache */
	CHECK(cache_user(e) == &marker);

	/* A pending entry is found, and streams what arrived so far. */
	cache_append(c, e, "RIFF", 4);
	g = cache_get(c, K("hello"), 6);
	CHECK(g == e);
	d = cache_data(g, &len);
	CHECK_INT(len, 4);
	CHECK(memcmp(d, "RIFF", 4) == 0);
	cache_append(c, e, "data", 4);
	cache_get_stats(c, &st);
	CHECK_INT(st.entries, 0);	/* the limits count finished ones */
	CHECK_INT(st.bytes, 0);
	CHECK_INT(st.pending, 1);
	CHECK_INT(st.pending_bytes, 8);
	CHECK_INT(st.hits, 1);
	CHECK_INT(st.misses, 1);

	cache_finish(c, e, 1, 7);
	cache_get_stats(c, &st);
	CHECK_INT(st.entries, 1);
	CHECK_INT(st.bytes, 8);
	CHECK_INT(st.pending, 0);
	CHECK_INT(st.pending_bytes, 0);
	cache_unpin(c, e);
	CHECK_INT(cache_state(e), CACHE_DONE);
	CHECK(cache_get(c, K("hello"), 8) == e);
	CHECK(cache_get(c, K("hell"), 8) == NULL);
	CHECK(cache_get(c, K("hello!"), 8) == NULL);
	CHECK_INT(cache_entry_hits(e), 2);
	d = cache_data(e, &len);
	CHECK_INT(len, 8);
	CHECK(memcmp(d, "RIFFdata", 8) == 0);
	cache_get_stats(c, &st);
	CHECK_INT(st.pending, 0);
	CHECK_INT(st.hits, 2);
	CHECK_INT(st.misses, 3);
	CHECK_INT(st.evictions, 0);
	CHECK_INT(st.expirations, 0);

	/* Large appends grow the buffer; content intact. */
	e = cache_put(c, K("big"), "", 9);
	for (len = 0; len < 100000; len++) {
		unsigned char b = (unsigned char)(len * 31);
		cache_append(c, e, &b, 1);
	}
	d = cache_data(e, &len);
	CHECK_INT(len, 100000);
	for (len = 0; len < 100000; len++)
		if (d[len] != (unsigned char)(len * 31))
			break;
	CHECK_INT(len, 100000);
	cache_finish(c, e, 1, 9);
	cache_unpin(c, e);
	cache_get_stats(c, &st);
	CHECK_INT(st.bytes, 100008);

	cache_free(c);
	cache_free(NULL);
}

static void
test_lru(void)
{
	struct cache_opts	 o = { 0, 0, 0 };
	struct cache		*c = cache_new(&o, seed);
	struct cache_stats	 st;
	struct walk		 w = { .stop_after = 0 };
	struct cache_entry	*e;

	put_done(c, "a", 1, 1);
	put_done(c, "b", 1, 2);
	put_done(c, "c", 1, 3);
	put_done(c, "d", 1, 4);
	put_done(c, "e", 1, 5);
	CHECK_STR(walk_keys(c, 0, &w), "e,d,c,b,a");
	cache_get(c, K("b"), 6);
	cache_get(c, K("d"), 6);
	cache_get(c, K("a"), 6);
	cache_get(c, K("a"), 6);
	cache_get(c, K("zz"), 6);
	CHECK_STR(walk_keys(c, 0, &w), "a,d,b,e,c");

	/* peek: no order change, no hits, no misses. */
	cache_get_stats(c, &st);
	e = cache_peek(c, K("c"), 7);
	CHECK(e != NULL && strcmp(cache_key(e), "c") == 0);
	CHECK_INT(cache_entry_hits(e), 0);
	CHECK(cache_peek(c, K("nope"), 7) == NULL);
	CHECK_STR(walk_keys(c, 0, &w), "a,d,b,e,c");
	{
		struct cache_stats st2;

		cache_get_stats(c, &st2);
		CHECK_INT(st2.hits, st.hits);
		CHECK_INT(st2.misses, st.misses);
		CHECK_INT(st.hits, 4);
		CHECK_INT(st.misses, 1);
	}

	/* walk limit, and a callback that stops early. */
	CHECK_STR(walk_keys(c, 2, &w), "a,d");
	CHECK_INT(w.n, 2);
	CHECK_STR(walk_keys(c, 1, &w), "a");
	CHECK_STR(walk_keys(c, 10, &w), "a,d,b,e,c");
	w.stop_after = 3;
	CHECK_STR(walk_keys(c, 0, &w), "a,d,b");
	CHECK_STR(walk_keys(c, 2, &w), "a,d");
	w.stop_after = 0;

	/* A new entry goes to the front. */
	put_done(c, "f", 1, 8);
	CHECK_STR(walk_keys(c, 0, &w), "f,a,d,b,e,c");
	cache_free(c);
}

static void
test_entry_limit(void)
{
	struct cache_opts	 o = { 3, 0, 0 };
	struct cache		*c = cache_new(&o, seed);
	struct cache_stats	 st;
	struct walk		 w = { .stop_after = 0 };

	put_done(c, "a", 1, 1);
	put_done(c, "b", 1, 2);
	put_done(c, "c", 1, 3);
	cache_get(c, K("a"), 4);
	put_done(c, "d", 1, 5);		/* evicts b, the LRU (not a, the oldest) */
	CHECK_STR(walk_keys(c, 0, &w), "d,a,c");
	cache_get(c, K("c"), 6);
	put_done(c, "e", 1, 7);		/* evicts a */
	CHECK_STR(walk_keys(c, 0, &w), "e,c,d");
	CHECK(cache_get(c, K("b"), 8) == NULL);
	CHECK(cache_get(c, K("a"), 8) == NULL);
	cache_get_stats(c, &st);
	CHECK_INT(st.entries, 3);
	CHECK_INT(st.evictions, 2);

	/* Lowering the limit evicts at once, from the LRU end. */
	o.max_entries = 1;
	cache_set_opts(c, &o);
	CHECK_STR(walk_keys(c, 0, &w), "e");
	cache_get_stats(c, &st);
	CHECK_INT(st.entries, 1);
	CHECK_INT(st.bytes, 1);
	CHECK_INT(st.evictions, 4);
	cache_free(c);
}

static void
test_byte_limit(void)
{
	struct cache_opts	 o = { 0, 100, 0 };
	struct cache		*c = cache_new(&o, seed);
	struct cache_stats	 st;
	struct walk		 w = { .stop_after = 0 };
	struct cache_entry	*e;
	unsigned char		 buf[50];

	memset(buf, 'x', sizeof buf);
	put_done(c, "a", 40, 1);
	put_done(c, "b", 40, 2);
	cache_get(c, K("a"), 3);
	put_done(c, "c", 40, 4);	/* 120 > 100: b goes */
	CHECK_STR(walk_keys(c, 0, &w), "c,a");
	cache_get_stats(c, &st);
	CHECK_INT(st.bytes, 80);
	CHECK_INT(st.evictions, 1);

	/* A pending entry growing past the limit evicts nothing: its bytes
	 * are in flight, counted apart. */
	e = cache_put(c, K("p"), "p", 5);
	cache_append(c, e, buf, 30);
	cache_append(c, e, buf, 50);
	CHECK_STR(walk_keys(c, 0, &w), "p,c,a");
	cache_get_stats(c, &st);
	CHECK_INT(st.bytes, 80);
	CHECK_INT(st.pending_bytes, 80);
	CHECK_INT(st.evictions, 1);
	/* Finished, it counts: 160 > 100, the LRU (c, then a) make room;
	 * p itself, pinned by its writer, stays over the limit alone. */
	cache_finish(c, e, 1, 6);
	CHECK_STR(walk_keys(c, 0, &w), "p");
	cache_get_stats(c, &st);
	CHECK_INT(st.bytes, 80);
	CHECK_INT(st.pending_bytes, 0);
	CHECK_INT(st.evictions, 3);
	put_done(c, "q", 30, 6);
	/* 110 with q: q, unpinned, goes at once (p is pinned). */
	CHECK_STR(walk_keys(c, 0, &w), "p");
	cache_get_stats(c, &st);
	CHECK_INT(st.evictions, 4);
	/* Its last pin goes: within the limit, it stays. */
	cache_unpin(c, e);
	cache_get_stats(c, &st);
	CHECK_INT(st.bytes, 80);
	CHECK_INT(st.entries, 1);
	CHECK_INT(st.evictions, 4);
	cache_set_opts(c, &(struct cache_opts){ 0, 70, 0 });
	cache_get_stats(c, &st);
	CHECK_INT(st.bytes, 0);
	CHECK_INT(st.evictions, 5);
	cache_set_opts(c, &o);

	/* Raising the limit keeps everything; lowering it evicts. */
	put_done(c, "a", 30, 7);
	put_done(c, "b", 30, 8);
	put_done(c, "c", 30, 9);
	o.max_bytes = 1000;
	cache_set_opts(c, &o);
	CHECK_STR(walk_keys(c, 0, &w), "c,b,a");
	o.max_bytes = 60;
	cache_set_opts(c, &o);
	CHECK_STR(walk_keys(c, 0, &w), "c,b");
	cache_free(c);
}

static void
test_pins(void)
{
	struct cache_opts	 o = { 2, 0, 0 };
	struct cache		*c = cache_new(&o, seed);
	struct cache_stats	 st;
	struct walk		 w = { .stop_after = 0 };
	struct cache_entry	*a, *b, *p, *q;
	const unsigned char	*d;
	size_t			 len;

	a = put_done(c, "a", 3, 1);
	cache_pin(a);			/* a reader streams a */
	put_done(c, "b", 3, 2);
	put_done(c, "c", 3, 3);		/* a is the LRU but pinned: b goes */
	CHECK_STR(walk_keys(c, 0, &w), "c,a");
	put_done(c, "d", 3, 4);		/* c goes */
	CHECK_STR(walk_keys(c, 0, &w), "d,a");

	/* Two being synthesised: they take no place, nothing evicted. */
	b = cache_get(c, K("d"), 5);
	cache_pin(b);
	p = cache_put(c, K("p"), "", 6);
	q = cache_put(c, K("q"), "", 7);
	CHECK_STR(walk_keys(c, 0, &w), "q,p,d,a");
	cache_get_stats(c, &st);
	CHECK_INT(st.entries, 2);
	CHECK_INT(st.pending, 2);
	CHECK_INT(st.evictions, 2);

	/* Clear: all leave the table; pinned ones live on for readers. */
	CHECK_INT(cache_clear(c), 4);
	cache_get_stats(c, &st);
	CHECK_INT(st.entries, 0);
	CHECK_INT(st.bytes, 0);
	CHECK_INT(st.pending, 2);	/* still pending for their writers */
	CHECK(cache_get(c, K("a"), 8) == NULL);
	CHECK(cache_get(c, K("p"), 8) == NULL);
	d = cache_data(a, &len);
	CHECK_INT(len, 3);
	CHECK(memcmp(d, "aaa", 3) == 0);
	/* The detached writer keeps writing; no accounting for it. */
	cache_append(c, p, "xyz", 3);
	d = cache_data(p, &len);
	CHECK_INT(len, 3);
	CHECK(memcmp(d, "xyz", 3) == 0);
	cache_get_stats(c, &st);
	CHECK_INT(st.bytes, 0);
	/* A new entry for the same key is independent of the detached one. */
	put_done(c, "p", 5, 9);
	cache_finish(c, p, 1, 10);
	cache_get_stats(c, &st);
	CHECK_INT(st.pending, 1);
	CHECK_INT(st.entries, 1);
	CHECK_INT(st.bytes, 5);
	CHECK_INT(cache_state(p), CACHE_DONE);
	cache_unpin(c, p);		/* freed (valgrind/ASan would tell) */
	cache_unpin(c, a);
	cache_unpin(c, b);
	/* q is left pending and pinned: cache_free must free it. */
	CHECK_INT(cache_state(q), CACHE_PENDING);
	cache_free(c);
}

static void
test_failed(void)
{
	struct cache_opts	 o = { 10, 1000, 0 };
	struct cache		*c = cache_new(&o, seed);
	struct cache_stats	 st;
	struct cache_entry	*e, *r;
	const unsigned char	*d;
	size_t			 len;

	put_done(c, "x", 10, 1);
	e = cache_put(c, K("f"), "f", 2);
	cache_append(c, e, "partial", 7);
	r = cache_get(c, K("f"), 3);	/* a reader waits on it */
	CHECK(r == e);
	cache_pin(r);
	cache_get_stats(c, &st);
	CHECK_INT(st.bytes, 10);
	CHECK_INT(st.pending_bytes, 7);
	cache_finish(c, e, 0, 4);
	CHECK_INT(cache_state(e), CACHE_FAILED);
	cache_get_stats(c, &st);
	CHECK_INT(st.entries, 1);
	CHECK_INT(st.bytes, 10);
	CHECK_INT(st.pending, 0);
	CHECK_INT(st.pending_bytes, 0);
	CHECK(cache_get(c, K("f"), 5) == NULL);
	CHECK(cache_peek(c, K("f"), 5) == NULL);
	d = cache_data(r, &len);	/* readers still see it */
	CHECK_INT(len, 7);
	CHECK(memcmp(d, "partial", 7) == 0);
	cache_unpin(c, e);		/* writer */
	CHECK_INT(cache_state(r), CACHE_FAILED);
	cache_unpin(c, r);		/* last pin: freed */
	cache_get_stats(c, &st);
	CHECK_INT(st.evictions, 0);

	/* The next request tries again. */
	e = cache_put(c, K("f"), "f", 6);
	cache_finish(c, e, 1, 7);
	cache_unpin(c, e);
	CHECK(cache_get(c, K("f"), 8) == e);

	/* Failed with no pin left but the writer's, in a cleared cache. */
	e = cache_put(c, K("g"), "g", 9);
	cache_clear(c);
	cache_finish(c, e, 0, 10);
	cache_get_stats(c, &st);
	CHECK_INT(st.pending, 0);
	cache_unpin(c, e);
	cache_free(c);
}

/* A writer that lets its pin go before finishing: append evicts nothing,
 * and freeing a pending entry keeps the pending figures exact. */
static void
test_unpinned_writer(void)
{
	struct cache_opts	 o = { 0, 100, 0 };
	struct cache		*c = cache_new(&o, seed);
	struct cache_stats	 st;
	struct walk		 w = { .stop_after = 0 };
	struct cache_entry	*e;
	unsigned char		 buf[150];

	memset(buf, 'y', sizeof buf);
	put_done(c, "a", 50, 1);
	e = cache_put(c, K("p"), "p", 2);
	cache_unpin(c, e);
	cache_append(c, e, buf, sizeof buf);	/* in flight: a stays */
	CHECK_STR(walk_keys(c, 0, &w), "p,a");
	cache_get_stats(c, &st);
	CHECK_INT(st.bytes, 50);
	CHECK_INT(st.pending, 1);
	CHECK_INT(st.pending_bytes, 150);
	CHECK_INT(cache_clear(c), 2);		/* p freed, still pending */
	cache_get_stats(c, &st);
	CHECK_INT(st.pending, 0);
	CHECK_INT(st.pending_bytes, 0);
	CHECK_INT(st.entries, 0);
	cache_free(c);
}

static void
test_ttl(void)
{
	struct cache_opts	 o = { 0, 0, 1000 };
	struct cache		*c = cache_new(&o, seed);
	struct cache_stats	 st;
	struct walk		 w = { .stop_after = 0 };
	struct cache_entry	*e;

	put_done(c, "a", 1, 0);
	CHECK(cache_get(c, K("a"), 999) != NULL);
	CHECK(cache_peek(c, K("a"), 999) != NULL);
	CHECK(cache_peek(c, K("a"), 1000) == NULL);	/* no removal */
	cache_get_stats(c, &st);
	CHECK_INT(st.entries, 1);
	CHECK(cache_get(c, K("a"), 1000) == NULL);	/* ttl from creation */
	cache_get_stats(c, &st);
	CHECK_INT(st.entries, 0);
	CHECK_INT(st.bytes, 0);
	CHECK_INT(st.hits, 1);
	CHECK_INT(st.misses, 1);
	CHECK_INT(st.expirations, 1);

	/* A pinned expired entry leaves the table but lives on. */
	e = put_done(c, "b", 2, 2000);
	cache_pin(e);
	CHECK(cache_get(c, K("b"), 3500) == NULL);
	cache_get_stats(c, &st);
	CHECK_INT(st.entries, 0);
	CHECK_INT(st.expirations, 2);
	CHECK_STR(cache_key(e), "b");
	cache_unpin(c, e);

	/* put reaps dead unpinned entries from the LRU tail. */
	put_done(c, "c", 1, 5000);
	put_done(c, "d", 1, 5100);
	e = put_done(c, "e", 1, 5200);
	cache_pin(e);
	put_done(c, "f", 1, 5900);
	CHECK_STR(walk_keys(c, 0, &w), "f,e,d,c");
	put_done(c, "g", 1, 6250);	/* c, d dead; e dead but pinned */
	CHECK_STR(walk_keys(c, 0, &w), "g,f,e");
	cache_get_stats(c, &st);
	CHECK_INT(st.expirations, 4);
	CHECK_INT(st.entries, 3);
	cache_unpin(c, e);
	/* An expired key may be put again. */
	put_done(c, "f", 1, 7300);	/* f, e, g dead */
	CHECK_STR(walk_keys(c, 0, &w), "f");
	cache_get_stats(c, &st);
	CHECK_INT(st.expirations, 7);
	/* A pending entry that expires is taken out; its writer finishes. */
	e = cache_put(c, K("p"), "", 8000);
	CHECK(cache_get(c, K("p"), 9000) == NULL);
	cache_append(c, e, "z", 1);
	cache_finish(c, e, 1, 9001);
	cache_get_stats(c, &st);
	CHECK_INT(st.pending, 0);
	CHECK_INT(st.bytes, 0);
	cache_unpin(c, e);
	cache_free(c);
}

static void
test_keys(void)
{
	struct cache_opts	 o = { 0, 0, 0 };
	struct cache		*c = cache_new(&o, seed);
	static const char	*const kv[] = { "a", "a\0", "a\0b", "a\0c",
	    "\0", "", "\0\0" };
	static const size_t	 kl[] = { 1, 2, 3, 3, 1, 0, 2 };
	struct cache_entry	*e[7], *x, *y;
	struct cache_stats	 st;
	char			 k1[32], k2[32];
	uint64_t		 h1;
	size_t			 i, j;

	for (i = 0; i < 7; i++) {
		e[i] = cache_put(c, kv[i], kl[i], "", 1);
		cache_finish(c, e[i], 1, 1);
		cache_unpin(c, e[i]);
	}
	for (i = 0; i < 7; i++) {
		CHECK(cache_get(c, kv[i], kl[i], 2) == e[i]);
		CHECK(memcmp(cache_key(e[i]), kv[i], kl[i]) == 0);
		CHECK(cache_key(e[i])[kl[i]] == '\0');
	}
	CHECK(cache_get(c, "a\0d", 3, 2) == NULL);
	CHECK(cache_get(c, "\0\0\0", 3, 2) == NULL);

	/* Two keys whose hashes share their low 16 bits share a chain at
	 * any table size up to 65536 buckets. */
	snprintf(k1, sizeof k1, "seed-key");
	h1 = siphash24(seed, k1, strlen(k1));
	for (j = 0;; j++) {
		snprintf(k2, sizeof k2, "probe-%zu", j);
		if ((siphash24(seed, k2, strlen(k2)) & 0xffff) ==
		    (h1 & 0xffff))
			break;
	}
	x = put_done(c, k1, 1, 3);
	y = put_done(c, k2, 2, 3);
	CHECK(cache_get(c, K(k1), 4) == x);
	CHECK(cache_get(c, K(k2), 4) == y);
	/* Removing one from the shared chain leaves the other. */
	cache_pin(x);
	o.max_entries = 1;
	cache_set_opts(c, &o);		/* all go but x, pinned */
	CHECK(cache_get(c, K(k2), 5) == NULL);
	CHECK(cache_get(c, K(k1), 5) == x);
	cache_get_stats(c, &st);
	CHECK_INT(st.entries, 1);
	CHECK_INT(st.evictions, 8);
	cache_unpin(c, x);
	cache_free(c);
}

static void
test_growth(void)
{
	struct cache_opts	 o = { 200000, 0, 0 };
	struct cache		*c = cache_new(&o, seed);
	struct cache_stats	 st;
	struct walk		 w = { .stop_after = 0 };
	struct cache_entry	*e;
	char			 key[32];
	size_t			 i, found = 0, right = 0;

	for (i = 0; i < 100000; i++) {
		snprintf(key, sizeof key, "key%zu", i);
		e = cache_put(c, K(key), key, i);
		cache_append(c, e, "x", 1);
		cache_finish(c, e, 1, i);
		cache_unpin(c, e);
	}
	cache_get_stats(c, &st);
	CHECK_INT(st.entries, 100000);
	CHECK_INT(st.bytes, 100000);
	for (i = 0; i < 100000; i++) {
		snprintf(key, sizeof key, "key%zu", i);
		if ((e = cache_get(c, K(key), 200000)) != NULL) {
			found++;
			if (strcmp(cache_key(e), key) == 0)
				right++;
		}
	}
	CHECK_INT(found, 100000);
	CHECK_INT(right, 100000);
	o.max_entries = 3;
	cache_set_opts(c, &o);
	CHECK_STR(walk_keys(c, 0, &w), "key99999,key99998,key99997");
	cache_get_stats(c, &st);
	CHECK_INT(st.evictions, 99997);
	CHECK_INT(cache_clear(c), 3);
	/* Still works after clear shrank the table. */
	put_done(c, "again", 1, 1);
	CHECK(cache_get(c, K("again"), 2) != NULL);
	cache_free(c);
}

/*
 * Many entries being synthesised at once (a speech request of 30,000
 * sentences): eviction and reaping must not step over them on every
 * put and every chunk.  Every call looks at no more entries than it
 * removes, plus one (the live one the reaper stops at).
 */
static void
test_many_pending(void)
{
	struct cache_opts	 o = { 0, 50000, 1000000 };
	struct cache		*c = cache_new(&o, seed);
	struct cache_stats	 st;
	struct cache_entry	**pend;
	unsigned char		 chunk[100];
	char			 key[32];
	size_t			 i, n = 20000, calls = 0;

	memset(chunk, 'z', sizeof chunk);
	pend = xcalloc(n, sizeof *pend);
	for (i = 0; i < n; i++) {
		snprintf(key, sizeof key, "p%zu", i);
		pend[i] = cache_put(c, K(key), key, 1);
		calls++;
		cache_append(c, pend[i], chunk, sizeof chunk);
		calls++;
		if (i % 10 == 0) {	/* some finished, evictable ones */
			put_done(c, key + 1, 200, 1);
			calls += 4;
		}
	}
	for (i = 0; i < n; i++) {
		cache_append(c, pend[i], chunk, sizeof chunk);
		calls++;
	}
	cache_get_stats(c, &st);
	CHECK_INT(st.pending, n);
	CHECK_INT(st.pending_bytes, n * 2 * sizeof chunk);
	/* The finished ones that fit the byte limit, in flight ones aside. */
	CHECK_INT(st.entries, o.max_bytes / 200);
	CHECK_INT(st.bytes, o.max_bytes);
	CHECK_INT(st.evictions, n / 10 - o.max_bytes / 200);
	CHECK(st.scanned <= st.evictions + st.expirations + calls);
	/* Quadratic would be about n * n / 2 looks. */
	CHECK(st.scanned < 4 * n);
	/* The writers finish and let go: the byte limit holds again. */
	for (i = 0; i < n; i++) {
		cache_finish(c, pend[i], 1, 2);
		cache_unpin(c, pend[i]);
	}
	cache_get_stats(c, &st);
	CHECK(st.bytes <= o.max_bytes);
	CHECK_INT(st.pending, 0);
	CHECK(st.scanned <= st.evictions + st.expirations + calls + 2 * n);
	free(pend);
	cache_free(c);
}

/*
 * Syntheses in flight take no place from finished audio (make soak: with
 * more queued than the cache holds, each segment was evicted the moment
 * it was done, and older finished ones as soon as the queue filled).
 * The limits bound the finished entries, and the least recently used
 * of those go first.
 */
static void
test_inflight(void)
{
	struct cache_opts	 o = { 4, 1000, 0 };
	struct cache		*c = cache_new(&o, seed);
	struct cache_stats	 st;
	struct walk		 w = { .stop_after = 0 };
	struct cache_entry	*p[10];
	unsigned char		 buf[300];
	char			 key[8];
	size_t			 i;

	memset(buf, 'q', sizeof buf);
	put_done(c, "a", 100, 1);
	put_done(c, "b", 100, 2);
	for (i = 0; i < 10; i++) {		/* queued: more than fit */
		snprintf(key, sizeof key, "p%zu", i);
		p[i] = cache_put(c, K(key), key, 3);
	}
	cache_get_stats(c, &st);
	CHECK_INT(st.entries, 2);
	CHECK_INT(st.pending, 10);
	CHECK_INT(st.evictions, 0);
	CHECK(cache_get(c, K("a"), 4) != NULL);
	CHECK(cache_get(c, K("b"), 4) != NULL);
	/* Running ones past the byte limit: still nothing evicted. */
	for (i = 0; i < 10; i++)
		cache_append(c, p[i], buf, sizeof buf);
	cache_get_stats(c, &st);
	CHECK_INT(st.bytes, 200);
	CHECK_INT(st.pending_bytes, 3000);
	CHECK_INT(st.evictions, 0);
	/* One ends while nine are in flight: it is kept. */
	cache_finish(c, p[0], 1, 5);
	cache_unpin(c, p[0]);
	CHECK(cache_get(c, K("p0"), 6) == p[0]);
	CHECK_STR(walk_keys(c, 0, &w), "p0,b,a,p9,p8,p7,p6,p5,p4,p3,p2,p1");
	cache_get_stats(c, &st);
	CHECK_INT(st.entries, 3);
	CHECK_INT(st.bytes, 500);
	CHECK_INT(st.evictions, 0);
	/* The next: 800 bytes, four entries, within both limits. */
	cache_finish(c, p[1], 1, 7);
	cache_unpin(c, p[1]);
	cache_get_stats(c, &st);
	CHECK_INT(st.entries, 4);
	CHECK_INT(st.evictions, 0);
	/* The next: 1100 bytes, the least recently used finished (a) goes,
	 * not the one just done. */
	cache_finish(c, p[2], 1, 8);
	CHECK(cache_peek(c, K("a"), 8) == NULL);
	CHECK(cache_peek(c, K("p2"), 8) == p[2]);
	cache_unpin(c, p[2]);
	CHECK(cache_peek(c, K("p2"), 8) == p[2]);
	cache_get_stats(c, &st);
	CHECK_INT(st.entries, 4);
	CHECK_INT(st.bytes, 1000);
	CHECK_INT(st.evictions, 1);
	/* The rest: each pushes out the least recently used finished one. */
	for (i = 3; i < 10; i++) {
		cache_finish(c, p[i], 1, 9);
		cache_unpin(c, p[i]);
		cache_get_stats(c, &st);
		CHECK(st.entries <= o.max_entries && st.bytes <= o.max_bytes);
		CHECK(cache_peek(c, K(cache_key(p[i])), 9) == p[i]);
	}
	CHECK_STR(walk_keys(c, 0, &w), "p9,p8,p7");
	cache_get_stats(c, &st);
	CHECK_INT(st.pending, 0);
	CHECK_INT(st.pending_bytes, 0);
	CHECK_INT(st.bytes, 900);
	cache_free(c);
}

/*
 * The randomized model: the cache's documented rules written the plain
 * way (arrays, linear scans), compared after every operation.
 */

#define NKEYS		48
#define NREC		512

struct mrec {
	int			 used;
	int			 key;
	size_t			 bytes;
	uint64_t		 created, hits;
	int			 wpin;		/* the writer's pin held */
	int			 rpins;		/* readers' pins held */
	int			 state, intable;
	struct cache_entry	*e;
};

struct model {
	struct cache_opts	 o;
	struct mrec		 r[NREC];
	int			 lru[NREC];	/* record indexes, MRU first */
	int			 nlru;
	struct cache_stats	 st;
	uint64_t		 now, rng;
	int			 rpins;
};

static uint64_t
rnd(struct model *m)
{
	m->rng ^= m->rng << 13;
	m->rng ^= m->rng >> 7;
	m->rng ^= m->rng << 17;
	return m->rng;
}

static size_t
mkey(int id, char *buf)
{
	size_t	len = 3 + (size_t)(id % 3), i;

	buf[0] = 'k';
	buf[1] = '\0';
	buf[2] = (char)id;
	for (i = 3; i < len; i++)
		buf[i] = '\0';
	return len;
}

static unsigned char
mbyte(int key, size_t off)
{
	return (unsigned char)(key * 7 + off);
}

static int
mrefs(const struct mrec *r)
{
	return r->wpin + r->rpins;
}

static int
mexpired(const struct model *m, const struct mrec *r)
{
	return m->o.ttl_usec != 0 && m->now - r->created >= m->o.ttl_usec;
}

static int
mfind(const struct model *m, int key)
{
	int	i;

	for (i = 0; i < m->nlru; i++)
		if (m->r[m->lru[i]].key == key)
			return m->lru[i];
	return -1;
}

static void
mfree(struct model *m, int i)
{
	if (m->r[i].state == CACHE_PENDING) {
		m->st.pending--;
		m->st.pending_bytes -= m->r[i].bytes;
	}
	m->r[i].used = 0;
}

static void
mremove(struct model *m, int i)
{
	int	j;

	for (j = 0; m->lru[j] != i; j++)
		;
	memmove(&m->lru[j], &m->lru[j + 1],
	    (size_t)(m->nlru - j - 1) * sizeof m->lru[0]);
	m->nlru--;
	m->r[i].intable = 0;
	if (m->r[i].state == CACHE_DONE) {
		m->st.entries--;
		m->st.bytes -= m->r[i].bytes;
	}
	if (mrefs(&m->r[i]) == 0)
		mfree(m, i);
}

/* The finished entries (only they count) over a limit. */
static int
mover(const struct model *m)
{
	return (m->o.max_entries != 0 &&
	    m->st.entries > m->o.max_entries) ||
	    (m->o.max_bytes != 0 && m->st.bytes > m->o.max_bytes);
}

static void
mevict(struct model *m)
{
	int	j, i;

	for (j = m->nlru - 1; j >= 0 && mover(m); j--) {
		i = m->lru[j];
		if (mrefs(&m->r[i]) == 0) {
			mremove(m, i);
			m->st.evictions++;
		}
	}
}

static void
mreap(struct model *m)
{
	int	j, i;

	/* Pinned entries are not the reaper's to see. */
	for (j = m->nlru - 1; j >= 0; j--) {
		i = m->lru[j];
		if (mrefs(&m->r[i]) > 0)
			continue;
		if (!mexpired(m, &m->r[i]))
			break;
		mremove(m, i);
		m->st.expirations++;
	}
}

static void
mtouch(struct model *m, int i)
{
	int	j;

	for (j = 0; m->lru[j] != i; j++)
		;
	memmove(&m->lru[1], &m->lru[0], (size_t)j * sizeof m->lru[0]);
	m->lru[0] = i;
}

/* Returns the record index found, or -1. */
static int
mget(struct model *m, int key)
{
	int	i = mfind(m, key);

	if (i < 0) {
		m->st.misses++;
		return -1;
	}
	if (mexpired(m, &m->r[i])) {
		mremove(m, i);
		m->st.expirations++;
		m->st.misses++;
		return -1;
	}
	m->st.hits++;
	m->r[i].hits++;
	mtouch(m, i);
	return i;
}

static int
mnewrec(struct model *m)
{
	int	i;

	for (i = 0; i < NREC; i++)
		if (!m->r[i].used)
			return i;
	return -1;
}

static void
munpin(struct model *m, int i)
{
	if (mrefs(&m->r[i]) > 0)
		return;
	if (!m->r[i].intable)
		mfree(m, i);
	else {
		mtouch(m, i);		/* the last unpin is a use */
		mevict(m);
	}
}

static int
walk_ptr_cb(void *arg, const struct cache_entry *e)
{
	const struct cache_entry	***pp = arg;

	*(*pp)++ = e;
	return 0;
}

/* Compare the cache with the model; 1 if they agree. */
static int
mcompare(struct model *m, struct cache *c, int step)
{
	const struct cache_entry	*seen[NREC + 1], **p = seen;
	struct cache_stats		 st;
	const unsigned char		*d;
	size_t				 len, k, n;
	int				 i, j, pinned_all = 1;

	cache_get_stats(c, &st);
	if (st.entries != m->st.entries || st.bytes != m->st.bytes ||
	    st.pending != m->st.pending ||
	    st.pending_bytes != m->st.pending_bytes || st.hits != m->st.hits ||
	    st.misses != m->st.misses || st.evictions != m->st.evictions ||
	    st.expirations != m->st.expirations) {
		fprintf(stderr, "step %d: stats differ: entries %zu/%zu "
		    "bytes %llu/%llu pending %zu/%zu (%llu/%llu bytes) "
		    "hits %llu/%llu "
		    "misses %llu/%llu evictions %llu/%llu "
		    "expirations %llu/%llu\n", step, st.entries,
		    m->st.entries, (unsigned long long)st.bytes,
		    (unsigned long long)m->st.bytes, st.pending,
		    m->st.pending, (unsigned long long)st.pending_bytes,
		    (unsigned long long)m->st.pending_bytes,
		    (unsigned long long)st.hits,
		    (unsigned long long)m->st.hits,
		    (unsigned long long)st.misses,
		    (unsigned long long)m->st.misses,
		    (unsigned long long)st.evictions,
		    (unsigned long long)m->st.evictions,
		    (unsigned long long)st.expirations,
		    (unsigned long long)m->st.expirations);
		return 0;
	}
	cache_walk(c, 0, walk_ptr_cb, &p);
	n = (size_t)(p - seen);
	if (n != (size_t)m->nlru) {
		fprintf(stderr, "step %d: walk saw %zu, model has %d\n",
		    step, n, m->nlru);
		return 0;
	}
	for (j = 0; j < m->nlru; j++) {
		if (seen[j] != m->r[m->lru[j]].e) {
			fprintf(stderr, "step %d: LRU order differs at %d\n",
			    step, j);
			return 0;
		}
		if (mrefs(&m->r[m->lru[j]]) == 0)
			pinned_all = 0;
	}
	/* The limits hold unless only pinned entries are left. */
	if (mover(m) && !pinned_all) {
		fprintf(stderr, "step %d: over the limits\n", step);
		return 0;
	}
	for (i = 0; i < NREC; i++) {
		struct mrec *r = &m->r[i];

		if (!r->used)
			continue;
		if (cache_state(r->e) != r->state ||
		    cache_entry_hits(r->e) != r->hits ||
		    cache_entry_created(r->e) != r->created) {
			fprintf(stderr, "step %d: entry %d differs\n", step, i);
			return 0;
		}
		d = cache_data(r->e, &len);
		if (len != r->bytes) {
			fprintf(stderr, "step %d: entry %d has %zu bytes, "
			    "want %zu\n", step, i, len, r->bytes);
			return 0;
		}
		for (k = 0; k < len; k++)
			if (d[k] != mbyte(r->key, k)) {
				fprintf(stderr, "step %d: entry %d byte %zu\n",
				    step, i, k);
				return 0;
			}
	}
	return 1;
}

/* A random record index satisfying what, or -1. */
static int
mpick(struct model *m, int what)
{
	int	cand[NREC], n = 0, i;

	for (i = 0; i < NREC; i++) {
		struct mrec *r = &m->r[i];

		if (!r->used)
			continue;
		if ((what == 0 && r->wpin && r->state == CACHE_PENDING) ||
		    (what == 1 && r->wpin && r->state != CACHE_PENDING) ||
		    (what == 2 && r->rpins > 0) ||
		    what == 3)
			cand[n++] = i;
	}
	return n == 0 ? -1 : cand[rnd(m) % (uint64_t)n];
}

static void
mrandom_opts(struct model *m)
{
	m->o.max_entries = rnd(m) % 8 == 0 ? 0 : 4 + rnd(m) % 40;
	m->o.max_bytes = rnd(m) % 8 == 0 ? 0 : 2000 + rnd(m) % 40000;
	m->o.ttl_usec = rnd(m) % 8 == 0 ? 0 : 50000 + rnd(m) % 1000000;
}

static void
test_model_run(uint64_t rngseed, int steps)
{
	static struct model	 m;
	struct cache		*c;
	struct cache_entry	*e;
	unsigned char		 buf[4096];
	char			 kb[8];
	size_t			 kl, n, k;
	int			 step, op, key, i, ok = 1;

	memset(&m, 0, sizeof m);
	m.rng = rngseed;
	m.now = 1000;
	mrandom_opts(&m);
	c = cache_new(&m.o, seed);

	for (step = 0; step < steps && ok; step++) {
		m.now += rnd(&m) % 4000;
		op = (int)(rnd(&m) % 1000);
		key = (int)(rnd(&m) % (rnd(&m) % 2 ? 12 : NKEYS));
		kl = mkey(key, kb);
		if (op < 200) {				/* get */
			i = mget(&m, key);
			e = cache_get(c, kb, kl, m.now);
			ok = e == (i < 0 ? NULL : m.r[i].e);
		} else if (op < 240) {			/* peek */
			i = mfind(&m, key);
			if (i >= 0 && mexpired(&m, &m.r[i]))
				i = -1;
			e = cache_peek(c, kb, kl, m.now);
			ok = e == (i < 0 ? NULL : m.r[i].e);
		} else if (op < 380) {			/* put */
			i = mfind(&m, key);
			if (i >= 0 && !mexpired(&m, &m.r[i]))
				continue;	/* live: not allowed */
			if (i >= 0) {
				mremove(&m, i);
				m.st.expirations++;
			}
			mreap(&m);	/* nothing evicted: it takes no place */
			if ((i = mnewrec(&m)) < 0)
				break;
			memset(&m.r[i], 0, sizeof m.r[i]);
			m.r[i].used = 1;
			m.r[i].key = key;
			m.r[i].created = m.now;
			m.r[i].wpin = 1;
			m.r[i].state = CACHE_PENDING;
			m.r[i].intable = 1;
			memmove(&m.lru[1], &m.lru[0],
			    (size_t)m.nlru * sizeof m.lru[0]);
			m.lru[0] = i;
			m.nlru++;
			m.st.pending++;
			m.r[i].e = cache_put(c, kb, kl, "t", m.now);
		} else if (op < 540) {			/* append */
			if ((i = mpick(&m, 0)) < 0)
				continue;
			n = rnd(&m) % (rnd(&m) % 4 == 0 ? 4096 : 600);
			for (k = 0; k < n; k++)
				buf[k] = mbyte(m.r[i].key, m.r[i].bytes + k);
			m.r[i].bytes += n;
			m.st.pending_bytes += n;
			cache_append(c, m.r[i].e, buf, n);
		} else if (op < 700) {			/* finish */
			int good = rnd(&m) % 5 != 0;

			if ((i = mpick(&m, 0)) < 0)
				continue;
			e = m.r[i].e;
			m.st.pending--;
			m.st.pending_bytes -= m.r[i].bytes;
			if (good) {
				m.r[i].state = CACHE_DONE;
				if (m.r[i].intable) {
					m.st.entries++;
					m.st.bytes += m.r[i].bytes;
				}
				mreap(&m);
				mevict(&m);
			} else {
				m.r[i].state = CACHE_FAILED;
				if (m.r[i].intable)
					mremove(&m, i);
				mreap(&m);
			}
			cache_finish(c, e, good, m.now);
		} else if (op < 880) {			/* unpin */
			if (rnd(&m) % 4 != 0) {
				if ((i = mpick(&m, 1)) < 0)
					continue;
				m.r[i].wpin = 0;
			} else {
				if ((i = mpick(&m, 2)) < 0)
					continue;
				m.r[i].rpins--;
				m.rpins--;
			}
			e = m.r[i].e;
			munpin(&m, i);
			cache_unpin(c, e);
		} else if (op < 940) {			/* pin */
			if (m.rpins >= 24 || (i = mpick(&m, 3)) < 0)
				continue;
			m.r[i].rpins++;
			m.rpins++;
			if (m.r[i].intable)
				mtouch(&m, i);	/* a pin is a use */
			cache_pin(m.r[i].e);
		} else if (op < 944) {			/* clear */
			int want = m.nlru;

			while (m.nlru > 0)
				mremove(&m, m.lru[0]);
			ok = cache_clear(c) == (size_t)want;
		} else if (op < 960) {			/* set_opts */
			mrandom_opts(&m);
			mevict(&m);
			cache_set_opts(c, &m.o);
		} else					/* a quiet spell */
			m.now += rnd(&m) % 100000;
		if (!ok)
			fprintf(stderr, "step %d: op %d returned wrong\n",
			    step, op);
		ok = ok && mcompare(&m, c, step);
	}
	CHECK(ok);
	if (!ok)
		fprintf(stderr, "model run with seed %llu failed\n",
		    (unsigned long long)rngseed);
	CHECK(step == steps);
	cache_free(c);
}

static void
test_model(void)
{
	uint64_t	s;

	for (s = 1; s <= 12; s++)
		test_model_run(s * 0x9e3779b97f4a7c15ULL, 4000);
}

int
main(void)
{
	test_siphash();
	test_basic();
	test_lru();
	test_entry_limit();
	test_byte_limit();
	test_pins();
	test_failed();
	test_unpinned_writer();
	test_ttl();
	test_keys();
	test_growth();
	test_many_pending();
	test_inflight();
	test_model();
	return CHECK_DONE();
}
