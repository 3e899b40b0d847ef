/*
 * bench_cache: cache_get lookups per second on one core, with a table of
 * N entries (hits, in random order) and with keys not present (misses),
 * and puts per second while evicting at the entry limit.
 * Usage: bench_cache [entries]
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "util.h"

#define KEYMAX	160	/* a realistic key: model, voice, format, text */

static void
mkkey(char *buf, size_t i)
{
	snprintf(buf, KEYMAX, "tts-1|alloy|mp3|1.00||segment number "
	    "%zu of a reply that says something fairly ordinary here.", i);
}

static double
rate(uint64_t n, uint64_t t0)
{
	uint64_t	dt = now_usec() - t0;

	return dt == 0 ? 0 : (double)n * 1e6 / (double)dt;
}

int
main(int argc, char **argv)
{
	struct cache_opts	 o = { 0, 0, 0 };
	struct cache		*c;
	struct cache_entry	*e;
	unsigned char		 seed[16];
	char			 key[KEYMAX];
	size_t			 n = 100000, i, found = 0;
	uint64_t		 t0, rng = 88172645463325252ULL, ops;

	if (argc > 1 && (n = strtoul(argv[1], NULL, 10)) == 0)
		n = 100000;
	random_bytes(seed, sizeof seed);
	o.max_entries = n;
	c = cache_new(&o, seed);

	t0 = now_usec();
	for (i = 0; i < n; i++) {
		mkkey(key, i);
		e = cache_put(c, key, strlen(key), "", 0);
		cache_append(c, e, "audio", 5);
		cache_finish(c, e, 1, 0);
		cache_unpin(c, e);
	}
	printf("put (filling):    %10.0f /s  (%zu entries)\n", rate(n, t0), n);

	ops = 2000000;
	t0 = now_usec();
	for (i = 0; i < ops; i++) {
		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		mkkey(key, rng % n);
		if (cache_get(c, key, strlen(key), 1) != NULL)
			found++;
	}
	printf("get (hit):        %10.0f /s  (%zu of %llu found)\n",
	    rate(ops, t0), found, (unsigned long long)ops);

	t0 = now_usec();
	for (i = 0; i < ops; i++) {
		mkkey(key, n + i);
		if (cache_get(c, key, strlen(key), 1) != NULL)
			found++;
	}
	printf("get (miss):       %10.0f /s\n", rate(ops, t0));

	t0 = now_usec();
	for (i = 0; i < n; i++) {
		mkkey(key, 2 * n + i);
		e = cache_put(c, key, strlen(key), "", 2);
		cache_finish(c, e, 1, 2);
		cache_unpin(c, e);
	}
	printf("put (evicting):   %10.0f /s\n", rate(n, t0));

	t0 = now_usec();
	for (i = 0; i < ops; i++) {
		mkkey(key, rng % n);
		(void)siphash24(seed, key, strlen(key));
	}
	printf("siphash24 (%zu B): %9.0f /s  (key formatting included)\n",
	    strlen(key), rate(ops, t0));
	cache_free(c);
	return 0;
}
