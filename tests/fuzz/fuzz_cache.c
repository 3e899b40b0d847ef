/*
 * fuzz_cache: random operation sequences on the cache.  After every
 * operation asserts that the walk agrees with the stats (finished
 * entries, their bytes), that the limits hold on the finished entries
 * unless only ones we pinned are left, that the pending count and bytes
 * equal the syntheses we left unfinished, that a found
 * entry has the key asked for, and (through ASan) that no entry we hold
 * a pin on was freed.  The first bytes pick the limits.
 */

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "util.h"

#define NHELD	64

struct held {
	struct cache_entry	*e;
	int			 writer;	/* the writer's pin, unfinished */
};

struct fz {
	struct cache		*c;
	struct cache_opts	 o;
	struct held		 h[NHELD];
	size_t			 nh;
	uint64_t		 now;
};

struct walkstate {
	struct fz	*f;
	size_t		 n, unpinned;
	uint64_t	 bytes;
};

static int
is_held(const struct fz *f, const struct cache_entry *e)
{
	size_t	i;

	for (i = 0; i < f->nh; i++)
		if (f->h[i].e == e)
			return 1;
	return 0;
}

static int
walk_cb(void *arg, const struct cache_entry *e)
{
	struct walkstate	*w = arg;
	size_t			 len;

	(void)cache_data(e, &len);
	assert(cache_state(e) != CACHE_FAILED);
	if (cache_state(e) != CACHE_DONE)
		return 0;	/* in flight: not counted */
	w->n++;
	w->bytes += len;
	if (!is_held(w->f, e))
		w->unpinned++;
	return 0;
}

static void
check(struct fz *f)
{
	struct cache_stats	st;
	struct walkstate	w = { f, 0, 0, 0 };
	size_t			i, writers = 0, len;
	uint64_t		wbytes = 0;
	volatile unsigned char	sink = 0;

	cache_get_stats(f->c, &st);
	cache_walk(f->c, 0, walk_cb, &w);
	assert(w.n == st.entries);
	assert(w.bytes == st.bytes);
	if ((f->o.max_entries != 0 && st.entries > f->o.max_entries) ||
	    (f->o.max_bytes != 0 && st.bytes > f->o.max_bytes))
		assert(w.unpinned == 0);
	for (i = 0; i < f->nh; i++) {
		const unsigned char *d = cache_data(f->h[i].e, &len);

		if (len > 0)
			sink = d[0] ^ d[len - 1];	/* still readable */
		if (f->h[i].writer) {
			writers++;
			wbytes += len;
			assert(cache_state(f->h[i].e) == CACHE_PENDING);
		}
	}
	assert(st.pending == writers);
	assert(st.pending_bytes == wbytes);
	(void)sink;
}

static void
hold(struct fz *f, struct cache_entry *e, int writer)
{
	f->h[f->nh].e = e;
	f->h[f->nh].writer = writer;
	f->nh++;
}

static void
drop(struct fz *f, size_t i)
{
	cache_unpin(f->c, f->h[i].e);
	f->h[i] = f->h[--f->nh];
}

/* A writer whose synthesis is unfinished, or -1. */
static int
pick_writer(struct fz *f, unsigned sel)
{
	size_t	i, n = 0;

	for (i = 0; i < f->nh; i++)
		if (f->h[i].writer)
			n++;
	if (n == 0)
		return -1;
	sel %= n;
	for (i = 0; i < f->nh; i++)
		if (f->h[i].writer && sel-- == 0)
			return (int)i;
	return -1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned char seed[16] = "0123456789abcdef";
	static unsigned char	   audio[512];
	struct fz		   f;
	struct cache_entry	  *e;
	char			   key[4];
	size_t			   p = 0, keylen, i;
	int			   w;

	if (size < 3)
		return 0;
	memset(&f, 0, sizeof f);
	f.o.max_entries = data[0] % 16;
	f.o.max_bytes = (uint64_t)(data[1] % 16) * 64;
	f.o.ttl_usec = (uint64_t)(data[2] % 8) * 100;
	f.c = cache_new(&f.o, seed);
	for (p = 3; p + 1 < size; p += 2) {
		unsigned op = data[p] & 0x0f, arg = data[p + 1];

		f.now += data[p] >> 4;
		/* Keys: 1 to 3 bytes, embedded NULs allowed. */
		keylen = 1 + arg % 3;
		key[0] = (char)(arg & 0x0c);
		key[1] = 0;
		key[2] = (char)(arg & 0x30);
		switch (op) {
		case 0: case 1: case 2:			/* get, pin if found */
			e = cache_get(f.c, key, keylen, f.now);
			if (e != NULL) {
				assert(memcmp(cache_key(e), key, keylen) == 0);
				if (f.nh < NHELD && (arg & 0x80)) {
					cache_pin(e);
					hold(&f, e, 0);
				}
			}
			break;
		case 3:					/* peek */
			e = cache_peek(f.c, key, keylen, f.now);
			assert(e == NULL ||
			    memcmp(cache_key(e), key, keylen) == 0);
			break;
		case 4: case 5: case 6:			/* put if not live */
			if (f.nh >= NHELD ||
			    cache_peek(f.c, key, keylen, f.now) != NULL)
				break;
			e = cache_put(f.c, key, keylen, "text", f.now);
			hold(&f, e, 1);
			break;
		case 7: case 8: case 9:			/* append */
			if ((w = pick_writer(&f, arg)) < 0)
				break;
			memset(audio, arg, sizeof audio);
			cache_append(f.c, f.h[w].e, audio,
			    (size_t)arg * 2 % sizeof audio);
			break;
		case 10: case 11:			/* finish */
			if ((w = pick_writer(&f, arg)) < 0)
				break;
			cache_finish(f.c, f.h[w].e, arg & 1, f.now);
			f.h[w].writer = 0;
			break;
		case 12: case 13:			/* unpin a finished one */
			for (i = 0; i < f.nh; i++)
				if (!f.h[(i + arg) % f.nh].writer) {
					drop(&f, (i + arg) % f.nh);
					break;
				}
			break;
		case 14:
			if (arg < 16)
				cache_clear(f.c);
			else if (arg < 64) {
				f.o.max_entries = arg % 16;
				f.o.max_bytes = (uint64_t)(arg % 7) * 100;
				cache_set_opts(f.c, &f.o);
			}
			break;
		case 15:
			f.now += (uint64_t)arg * 10;
			break;
		}
		check(&f);
	}
	/* Half the time let go of everything; else cache_free frees it. */
	if (data[0] & 0x80) {
		for (i = 0; i < f.nh; i++)
			if (f.h[i].writer) {
				cache_finish(f.c, f.h[i].e, 1, f.now);
				f.h[i].writer = 0;
			}
		while (f.nh > 0)
			drop(&f, 0);
		check(&f);
	}
	cache_free(f.c);
	return 0;
}
