/*
 * Unit tests for encode: conversion keys (never a synthesis's, never two
 * lists of sources on one key); the pure join-and-convert (the same bytes
 * every time, a join is the sources' samples end to end, a stop request
 * ends it); and on a loop with a cache: two requests for one conversion
 * share one encoding (single flight), a third is a hit on the same bytes,
 * a cancelled waiter is not called, a failure is not cached, and
 * encode_free with an encoding under way calls nobody and leaks nothing.
 */
#include <cjson/cJSON.h>
#include <event2/event.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "check.h"
#include "loop.h"
#include "encode.h"
#include "util.h"
#include "wav.h"

static const unsigned char seed[16] = "0123456789abcdef";

/* A 16-bit mono WAV of n samples of a ramp starting at v0 (to free). */
static unsigned char *
make_wav(size_t n, unsigned rate, int v0, size_t *len)
{
	struct wav_info	 wi;
	unsigned char	*b;
	size_t		 i;
	int		 v;

	memset(&wi, 0, sizeof wi);
	wi.format = 1;
	wi.channels = 1;
	wi.rate = rate;
	wi.bits = 16;
	b = xmalloc(44 + 2 * n);
	wav_header(b, &wi, (uint32_t)(2 * n));
	for (i = 0; i < n; i++) {
		v = (v0 + (int)(i * 37)) % 20000 - 10000;
		b[44 + 2 * i] = (unsigned char)(v & 0xff);
		b[44 + 2 * i + 1] = (unsigned char)((unsigned)v >> 8 & 0xff);
	}
	*len = 44 + 2 * n;
	return b;
}

static void
test_keys(void)
{
	const char	*ab[] = { "a", "b" }, *ab1[] = { "a\x1f" "1:b" };
	const char	*one[] = { "v1\x1fm\x1fv\x1fwav\x1f" "1.00\x1f\x1fhi" };
	char		*k1, *k2, *k3, *k4, *k5;

	k1 = encode_key("mp3", ab, 2);
	k2 = encode_key("mp3", ab, 2);
	k3 = encode_key("opus", ab, 2);
	k4 = encode_key("mp3", ab1, 1);
	k5 = encode_key("mp3", one, 1);
	CHECK_STR(k1, k2);			/* stable */
	CHECK(strcmp(k1, k3) != 0);		/* the format counts */
	CHECK(strcmp(k1, k4) != 0);		/* no separator games */
	CHECK(strncmp(k5, "cv1\x1f", 4) == 0);	/* never "v1..." */
	CHECK(strstr(k5, one[0]) != NULL);	/* the source's key in it */
	CHECK(strcmp(k5, one[0]) != 0);
	free(k1);
	free(k2);
	free(k3);
	free(k4);
	free(k5);
	k1 = encode_key("mp3", ab, 1);
	k2 = encode_key("mp3", ab, 2);
	CHECK(strcmp(k1, k2) != 0);		/* a prefix is another list */
	free(k1);
	free(k2);
}

static int
stop_now(void *arg)
{
	return 1;
}

static void
test_make(void)
{
	struct encode_src	 s[2];
	unsigned char		*a, *b, *o1 = NULL, *o2 = NULL, *w2 = NULL;
	const char		*err = NULL;
	size_t			 alen, blen, l1, l2, lw;

	a = make_wav(24000, 24000, 0, &alen);
	b = make_wav(12000, 24000, 500, &blen);
	s[0].data = a;
	s[0].len = alen;
	s[1].data = b;
	s[1].len = blen;

	/* Opus: the same bytes every time (the serial comes from the key). */
	CHECK_INT(encode_make(s, 1, "opus", "k", NULL, NULL, &o1, &l1, &err),
	    0);
	CHECK_INT(encode_make(s, 1, "opus", "k", NULL, NULL, &o2, &l2, &err),
	    0);
	CHECK(l1 == l2 && l1 > 4 && memcmp(o1, o2, l1) == 0);
	CHECK(memcmp(o1, "OggS", 4) == 0);
	free(o1);
	free(o2);

	/* Joined: as WAV, the samples of both end to end. */
	CHECK_INT(encode_make(s, 2, "wav", "k", NULL, NULL, &w2, &lw, &err),
	    0);
	CHECK_INT(lw, 44 + (alen - 44) + (blen - 44));
	CHECK(lw == 44 + (alen - 44) + (blen - 44) &&
	    memcmp(w2 + 44, a + 44, alen - 44) == 0 &&
	    memcmp(w2 + 44 + (alen - 44), b + 44, blen - 44) == 0);
	free(w2);

	/* Long enough to need more than one slice: the stop ends it. */
	free(a);
	a = make_wav(24000 * 10, 24000, 0, &alen);
	s[0].data = a;
	s[0].len = alen;
	o1 = (unsigned char *)"x";
	CHECK_INT(encode_make(s, 1, "flac", "k", stop_now, NULL, &o1, &l1,
	    &err), -1);
	CHECK(o1 == NULL);
	CHECK_STR(err, "the daemon is stopping");

	/* Not WAV among several: an error, no output. */
	s[1].data = (const unsigned char *)"not a wav file at all, really";
	s[1].len = strlen((const char *)s[1].data);
	CHECK_INT(encode_make(s, 2, "mp3", "k", NULL, NULL, &o1, &l1, &err),
	    -1);
	CHECK_STR(err, "a segment is not WAV");
	CHECK_INT(encode_make(s, 0, "mp3", "k", NULL, NULL, &o1, &l1, &err),
	    -1);
	free(a);
	free(b);
}

/* On a loop. */

static struct event_base	*base;

struct req {
	int			 called;
	struct cache_entry	*e;
	const char		*err;
	int			*left;
};

static void
req_cb(void *arg, struct cache_entry *e, const char *err)
{
	struct req	*r = arg;

	r->called++;
	r->e = e;
	r->err = err;
	if (--*r->left == 0)
		event_base_loopbreak(base);
}

static void
run_until(int *left)
{
	loop_run(base, left);
}

/* A complete entry holding bytes. */
static struct cache_entry *
put_done(struct cache *c, const char *key, const void *d, size_t len)
{
	struct cache_entry	*e;

	e = cache_put(c, key, strlen(key), "text", now_usec());
	cache_append(c, e, d, len);
	cache_finish(c, e, 1, now_usec());
	return e;	/* pinned once: ours */
}

static void
test_flight(void)
{
	struct cache_opts	 o = { 100, 0, 0 };
	struct cache		*c;
	struct encode		*enc;
	struct cache_entry	*src[2], *e;
	struct encode_waiter	*w1, *w2, *w3;
	struct req		 r1, r2, r3;
	unsigned char		*a, *b;
	const unsigned char	*d1, *d2;
	const char		*err = NULL;
	char			*cause = NULL;
	size_t			 alen, blen, l1, l2;
	int			 left;
	cJSON			*j;

	c = cache_new(&o, seed);
	enc = encode_new(base, c, &cause);
	CHECK(enc != NULL);
	a = make_wav(24000, 24000, 0, &alen);
	b = make_wav(12000, 24000, 9, &blen);
	src[0] = put_done(c, "v1\x1f" "a", a, alen);
	src[1] = put_done(c, "v1\x1f" "b", b, blen);

	memset(&r1, 0, sizeof r1);
	memset(&r2, 0, sizeof r2);
	memset(&r3, 0, sizeof r3);
	left = 2;
	r1.left = r2.left = r3.left = &left;
	CHECK_INT(encode_obtain(enc, "mp3", src, 2, req_cb, &r1, &e, &w1,
	    &err), ENCODE_NEW);
	CHECK_INT(encode_obtain(enc, "mp3", src, 2, req_cb, &r2, &e, &w2,
	    &err), ENCODE_INFLIGHT);
	CHECK_INT(encode_obtain(enc, "mp3", src, 2, req_cb, &r3, &e, &w3,
	    &err), ENCODE_INFLIGHT);
	encode_cancel(w3);
	run_until(&left);
	CHECK_INT(r1.called, 1);
	CHECK_INT(r2.called, 1);
	CHECK_INT(r3.called, 0);
	CHECK(r1.e != NULL && r1.e == r2.e);
	CHECK(r1.e != NULL && cache_state(r1.e) == CACHE_DONE);

	/* Again: a hit, the same bytes. */
	CHECK_INT(encode_obtain(enc, "mp3", src, 2, req_cb, &r3, &e, &w3,
	    &err), ENCODE_HIT);
	CHECK(e == r1.e);
	d1 = cache_data(r1.e, &l1);
	d2 = cache_data(e, &l2);
	CHECK(l1 > 0 && l1 == l2 && d1 == d2);
	j = encode_json(enc);
	CHECK_INT(cJSON_GetObjectItem(j, "made")->valuedouble, 1);
	CHECK_INT(cJSON_GetObjectItem(j, "hits")->valuedouble, 1);
	CHECK_INT(cJSON_GetObjectItem(j, "joined")->valuedouble, 2);
	cJSON_Delete(j);
	cache_unpin(c, e);
	cache_unpin(c, r1.e);
	cache_unpin(c, r2.e);

	/* A failure reaches every waiter, and is not cached. */
	cache_unpin(c, src[1]);
	src[1] = put_done(c, "v1\x1f" "bad", "garbage", 7);
	memset(&r1, 0, sizeof r1);
	left = 1;
	r1.left = &left;
	CHECK_INT(encode_obtain(enc, "opus", src, 2, req_cb, &r1, &e, &w1,
	    &err), ENCODE_NEW);
	run_until(&left);
	CHECK(r1.called == 1 && r1.e == NULL && r1.err != NULL);
	memset(&r1, 0, sizeof r1);
	r1.left = &left;
	CHECK_INT(encode_obtain(enc, "opus", src, 2, req_cb, &r1, &e, &w1,
	    &err), ENCODE_NEW);
	encode_cancel(w1);

	/* Stopped with that one under way (or done, its callback not run):
	 * nobody is called, nothing leaks. */
	encode_free(enc);
	CHECK_INT(r1.called, 0);
	cache_unpin(c, src[0]);
	cache_unpin(c, src[1]);
	cache_free(c);
	free(a);
	free(b);
}

int
main(void)
{
	base = event_base_new();
	test_keys();
	test_make();
	test_flight();
	event_base_free(base);
	return CHECK_DONE();
}
