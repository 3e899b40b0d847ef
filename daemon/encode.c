/*
 * encode: formats made from WAV on worker threads, kept in the cache
 * (spec §3.2, §3.5).
 *
 * A request for a format no endpoint makes is answered from the WAV of
 * its segments, joined and converted (convert.c, libsndfile).  That is the
 * daemon's only CPU-heavy work, so it runs on a small pool of threads
 * (pool.c), never on the event loop; and its result is kept in the audio
 * cache like a synthesis, under the byte and entry limits, so that a
 * repeat is a memory hit.
 *
 * Keys.  A conversion's key names the format and the keys of its sources,
 * each length-prefixed (encode_key): "cv1", never a synthesis's "v1".  So
 * the key is known as soon as the sources are, and the same sources in
 * the same format always meet the same entry.
 *
 * Single flight.  The first request for a key puts a pending entry in the
 * cache, whose user pointer is the flight (only this file reads the user
 * pointer of a "cv1" entry); a request that finds it pending joins its
 * waiters.  The flight pins its sources and its entry, so that neither is
 * freed while a worker reads or the loop writes; the worker reads only
 * the sources' bytes (complete entries never change) and writes only the
 * flight's result fields, read on the loop after the pool's done
 * callback.  At the end the loop appends the bytes (the cache's byte
 * limit applies from then on), ends the entry (a failure is not cached),
 * and calls each waiter.  The encoding goes on when its clients leave:
 * the next request finds it.
 *
 * encode_free stops the pool (a running encoding sees pool_stopping
 * between slices), then ends every flight still here as failed, with no
 * callback.
 */
#include <cjson/cJSON.h>
#include <event2/buffer.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "convert.h"
#include "encode.h"
#include "pool.h"
#include "util.h"
#include "wav.h"

#define ENCODE_SLICE	65536	/* frames converted between stop checks */
#define KEY_PREFIX	"cv1"

struct encode_waiter {
	struct flight		*f;
	void			(*cb)(void *, struct cache_entry *,
				    const char *);
	void			*arg;
	struct encode_waiter	*next, *prev;
};

/* One encoding: a pending entry's user pointer. */
struct flight {
	struct encode		*enc;
	struct cache_entry	*e;		/* its result, pinned */
	struct cache_entry	**srcs;		/* pinned (NULL: static) */
	size_t			 nsrcs;
	struct encode_src	*in;		/* their bytes, for the worker */
	char			*format;
	struct encode_waiter	*waiters;
	struct flight		*next, *prev;	/* all in progress */
	/* the worker's result, read on the loop after done */
	unsigned char		*out;
	size_t			 outlen;
	const char		*err;
};

struct encode {
	struct cache		*cache;
	struct pool		*pool;
	struct flight		*flights;
	uint64_t		 made, hits, joined, failures;
};

/* Keys. */

char *
encode_key(const char *format, const char *const *keys, size_t n)
{
	char	*k, *next;
	size_t	 i;

	k = xasprintf(KEY_PREFIX "\x1f%s\x1f%zu", format, n);
	for (i = 0; i < n; i++) {
		next = xasprintf("%s\x1f%zu:%s", k, strlen(keys[i]), keys[i]);
		free(k);
		k = next;
	}
	return k;
}

/* The pure part. */

/* The samples of a WAV file we can join; -1 if it is not one. */
static int
src_samples(const struct encode_src *s, struct wav_info *wi,
    const unsigned char **p, size_t *n)
{
	const char	*err;

	if (wav_parse(s->data, s->len, wi, &err) != 1 ||
	    (wi->format != 1 && wi->format != 3 && wi->format != 0xfffe))
		return -1;
	*p = s->data + wi->data_offset;
	*n = s->len - wi->data_offset;
	if (wi->data_len != 0 && wi->data_len != 0xffffffff &&
	    wi->data_len <= *n)
		*n = wi->data_len;
	return 0;
}

/* Several WAV files as one (to free), brought to the first's layout;
 * NULL with *err. */
static unsigned char *
join(const struct encode_src *srcs, size_t n, size_t *outlen,
    const char **err)
{
	struct wav_info		 wi, w0;
	const unsigned char	*d;
	unsigned char		*buf, *re;
	size_t			 len, total = 0, off, i;

	memset(&w0, 0, sizeof w0);
	for (i = 0; i < n; i++) {
		if (src_samples(&srcs[i], &wi, &d, &len) != 0) {
			*err = "a segment is not WAV";
			return NULL;
		}
		if (i == 0)
			w0 = wi;
		else if (!wav_same_layout(&wi, &w0) &&
		    (len = wav_reshape_len(&wi, len, &w0)) == 0) {
			*err = "the segments' WAV formats differ, and are not "
			    "16-bit PCM";
			return NULL;
		}
		if (len > CONVERT_IN_MAX - total) {
			*err = "audio too long to convert";
			return NULL;
		}
		total += len;
	}
	if (w0.format == 0xfffe)
		w0.format = w0.bits == 32 ? 3 : 1;
	buf = xmalloc(44 + total);
	wav_header(buf, &w0, (uint32_t)total);
	off = 44;
	for (i = 0; i < n; i++) {
		src_samples(&srcs[i], &wi, &d, &len);
		if (i > 0 && !wav_same_layout(&wi, &w0)) {
			re = wav_reshape(&wi, d, len, &w0, &len);
			memcpy(buf + off, re, len);
			free(re);
		} else
			memcpy(buf + off, d, len);
		off += len;
	}
	*outlen = off;
	return buf;
}

/*
 * libsndfile gives each Ogg stream a random serial number, so the same
 * audio would convert to different bytes each time: give it one made
 * from the content instead (and mend each page's CRC).
 */
static void
ogg_reserial(unsigned char *d, size_t len, uint32_t serial)
{
	uint32_t	crc, page, old = 0;
	size_t		off = 0, plen, i;
	unsigned	k, nseg;

	while (off + 27 <= len && memcmp(d + off, "OggS", 4) == 0) {
		nseg = d[off + 26];
		if (off + 27 + nseg > len)
			return;
		plen = 27 + nseg;
		for (k = 0; k < nseg; k++)
			plen += d[off + 27 + k];
		if (off + plen > len)
			return;
		page = (uint32_t)d[off + 14] | (uint32_t)d[off + 15] << 8 |
		    (uint32_t)d[off + 16] << 16 | (uint32_t)d[off + 17] << 24;
		if (off == 0)
			old = page;
		else if (page != old)
			return;		/* another stream: leave it */
		for (k = 0; k < 4; k++) {
			d[off + 14 + k] = (unsigned char)(serial >> (8 * k));
			d[off + 22 + k] = 0;
		}
		crc = 0;
		for (i = 0; i < plen; i++) {
			crc ^= (uint32_t)d[off + i] << 24;
			for (k = 0; k < 8; k++)
				crc = crc & 0x80000000u ?
				    (crc << 1) ^ 0x04c11db7u : crc << 1;
		}
		for (k = 0; k < 4; k++)
			d[off + 22 + k] = (unsigned char)(crc >> (8 * k));
		off += plen;
	}
}

int
encode_make(const struct encode_src *srcs, size_t n, const char *format,
    const char *key, int (*stop)(void *), void *stoparg, unsigned char **out,
    size_t *outlen, const char **err)
{
	static const unsigned char	 zero[16];
	struct convert			*c;
	const unsigned char		*in;
	unsigned char			*joined = NULL;
	size_t				 inlen;
	int				 r;

	*out = NULL;
	*outlen = 0;
	if (n == 0) {
		*err = "nothing to convert";
		return -1;
	}
	if (n == 1) {
		in = srcs[0].data;
		inlen = srcs[0].len;
	} else {
		if ((joined = join(srcs, n, &inlen, err)) == NULL)
			return -1;
		in = joined;
	}
	if ((c = convert_begin(in, inlen, "wav", 0, format, err)) == NULL) {
		free(joined);
		return -1;
	}
	while ((r = convert_step(c, ENCODE_SLICE, err)) == 1)
		if (stop != NULL && stop(stoparg)) {
			*err = "the daemon is stopping";
			r = -1;
			break;
		}
	if (r == 0)
		*out = convert_take(c, outlen);
	convert_free(c);
	free(joined);
	if (r != 0)
		return -1;
	if (*outlen >= 4 && memcmp(*out, "OggS", 4) == 0)
		ogg_reserial(*out, *outlen, (uint32_t)siphash24(zero, key,
		    strlen(key)));
	return 0;
}

/* Flights. */

static int
flight_stop_cb(void *arg)
{
	struct flight	*f = arg;

	return pool_stopping(f->enc->pool);
}

/* On a worker. */
static void
flight_work_cb(void *arg)
{
	struct flight	*f = arg;

	if (encode_make(f->in, f->nsrcs, f->format, cache_key(f->e),
	    flight_stop_cb, f, &f->out, &f->outlen, &f->err) != 0)
		f->out = NULL;
}

static void
flight_free(struct flight *f)
{
	struct encode	*enc = f->enc;
	size_t		 i;

	if (f->prev != NULL)
		f->prev->next = f->next;
	else
		enc->flights = f->next;
	if (f->next != NULL)
		f->next->prev = f->prev;
	for (i = 0; f->srcs != NULL && i < f->nsrcs; i++)
		cache_unpin(enc->cache, f->srcs[i]);
	cache_set_user(f->e, NULL);
	cache_unpin(enc->cache, f->e);		/* the writer's pin */
	free(f->srcs);
	free(f->in);
	free(f->format);
	free(f->out);
	free(f);
}

/* On the loop, once the worker is done. */
static void
flight_done_cb(void *arg)
{
	struct flight		*f = arg;
	struct encode		*enc = f->enc;
	struct encode_waiter	*w;
	const char		*err = NULL;

	if (f->out != NULL) {
		cache_append(enc->cache, f->e, f->out, f->outlen);
		cache_finish(enc->cache, f->e, 1, now_usec());
		enc->made++;
	} else {
		cache_finish(enc->cache, f->e, 0, now_usec());
		err = f->err != NULL ? f->err : "the encoder failed";
		enc->failures++;
	}
	/* Each waiter is taken off before its callback, which may free
	 * whatever waits. */
	while ((w = f->waiters) != NULL) {
		f->waiters = w->next;
		if (f->waiters != NULL)
			f->waiters->prev = NULL;
		if (err == NULL)
			cache_pin(f->e);	/* the caller's */
		w->cb(w->arg, err == NULL ? f->e : NULL, err);
		free(w);
	}
	flight_free(f);
}

static struct encode_waiter *
flight_wait(struct flight *f, void (*cb)(void *, struct cache_entry *,
    const char *), void *arg)
{
	struct encode_waiter	*w;

	w = xcalloc(1, sizeof *w);
	w->f = f;
	w->cb = cb;
	w->arg = arg;
	w->next = f->waiters;
	if (f->waiters != NULL)
		f->waiters->prev = w;
	f->waiters = w;
	return w;
}

void
encode_cancel(struct encode_waiter *w)
{
	if (w == NULL)
		return;
	if (w->prev != NULL)
		w->prev->next = w->next;
	else
		w->f->waiters = w->next;
	if (w->next != NULL)
		w->next->prev = w->prev;
	free(w);
}

/*
 * The conversion of n sources to format: keys[] name them, in[] are
 * their bytes, ents[] (or NULL) the entries holding those bytes, pinned
 * for the worker; text is for listings.
 */
static int
obtain(struct encode *enc, const char *format, const char *const *keys,
    const struct encode_src *in, struct cache_entry *const *ents, size_t n,
    const char *text, void (*cb)(void *, struct cache_entry *, const char *),
    void *arg, struct cache_entry **e, struct encode_waiter **w,
    const char **err)
{
	struct flight	*f;
	char		*key;
	size_t		 i;
	uint64_t	 now = now_usec();

	*e = NULL;
	*w = NULL;
	key = encode_key(format, keys, n);
	if ((*e = cache_get(enc->cache, key, strlen(key), now)) != NULL) {
		free(key);
		if (cache_state(*e) == CACHE_DONE) {
			cache_pin(*e);
			enc->hits++;
			return ENCODE_HIT;
		}
		/* Pending: a flight of ours (the only writer of "cv1"). */
		f = cache_user(*e);
		*e = NULL;
		*w = flight_wait(f, cb, arg);
		enc->joined++;
		return ENCODE_INFLIGHT;
	}

	f = xcalloc(1, sizeof *f);
	f->enc = enc;
	f->format = xstrdup(format);
	f->nsrcs = n;
	f->in = xcalloc(n, sizeof *f->in);
	memcpy(f->in, in, n * sizeof *f->in);
	/* The entry first: the worker reads its key. */
	f->e = cache_put(enc->cache, key, strlen(key), text, now);
	free(key);
	if (pool_submit(enc->pool, flight_work_cb, flight_done_cb, f) != 0) {
		cache_finish(enc->cache, f->e, 0, now);
		cache_unpin(enc->cache, f->e);
		free(f->in);
		free(f->format);
		free(f);
		*err = "too many conversions are waiting";
		return -1;
	}
	if (ents != NULL) {
		f->srcs = xcalloc(n, sizeof *f->srcs);
		for (i = 0; i < n; i++) {
			f->srcs[i] = ents[i];
			cache_pin(ents[i]);
		}
	}
	cache_set_user(f->e, f);
	f->next = enc->flights;
	if (enc->flights != NULL)
		enc->flights->prev = f;
	enc->flights = f;
	*w = flight_wait(f, cb, arg);
	return ENCODE_NEW;
}

int
encode_obtain(struct encode *enc, const char *format,
    struct cache_entry *const *ents, size_t n,
    void (*cb)(void *, struct cache_entry *, const char *), void *arg,
    struct cache_entry **e, struct encode_waiter **w, const char **err)
{
	struct encode_src	*in;
	const char		**keys;
	char			*text, *t;
	size_t			 i;
	int			 r;

	keys = xcalloc(n, sizeof *keys);
	in = xcalloc(n, sizeof *in);
	text = xasprintf("[%s]", format);
	for (i = 0; i < n; i++) {
		keys[i] = cache_key(ents[i]);
		in[i].data = cache_data(ents[i], &in[i].len);
		t = xasprintf("%s %s", text, cache_text(ents[i]));
		free(text);
		text = t;
	}
	r = obtain(enc, format, keys, in, ents, n, text, cb, arg, e, w, err);
	free(text);
	free(in);
	free(keys);
	return r;
}

struct cache_entry *
encode_merged(struct encode *enc, struct cache_entry *const *ents, size_t n,
    const char **err)
{
	struct cache_entry	*e;
	struct encode_src	*in;
	const char		**keys;
	unsigned char		*buf;
	char			*key, *text, *t;
	size_t			 i, len;
	uint64_t		 now = now_usec();

	keys = xcalloc(n, sizeof *keys);
	for (i = 0; i < n; i++)
		keys[i] = cache_key(ents[i]);
	key = encode_key("wav", keys, n);
	free(keys);
	/* Never pending: made whole below, before anyone can find it. */
	if ((e = cache_get(enc->cache, key, strlen(key), now)) != NULL) {
		free(key);
		cache_pin(e);
		return e;
	}
	in = xcalloc(n, sizeof *in);
	text = xstrdup("[wav]");
	for (i = 0; i < n; i++) {
		in[i].data = cache_data(ents[i], &in[i].len);
		t = xasprintf("%s %s", text, cache_text(ents[i]));
		free(text);
		text = t;
	}
	buf = join(in, n, &len, err);
	free(in);
	if (buf != NULL) {
		/* The writer's pin becomes the caller's. */
		e = cache_put(enc->cache, key, strlen(key), text, now);
		cache_append(enc->cache, e, buf, len);
		cache_finish(enc->cache, e, 1, now);
		free(buf);
	}
	free(text);
	free(key);
	return e;
}

int
encode_obtain_static(struct encode *enc, const char *format,
    const char *name, const struct encode_src *src,
    void (*cb)(void *, struct cache_entry *, const char *), void *arg,
    struct cache_entry **e, struct encode_waiter **w, const char **err)
{
	char	*text;
	int	 r;

	text = xasprintf("[%s] (%s)", format, name);
	r = obtain(enc, format, &name, src, NULL, 1, text, cb, arg, e, w,
	    err);
	free(text);
	return r;
}

/* The encoder. */

struct encode *
encode_new(struct event_base *base, struct cache *cache, char **cause)
{
	struct encode	*enc;

	enc = xcalloc(1, sizeof *enc);
	enc->cache = cache;
	if ((enc->pool = pool_new(base, pool_threads_for_cpus(
	    ENCODE_THREADS_MAX), ENCODE_QUEUE_MAX, cause)) == NULL) {
		free(enc);
		return NULL;
	}
	return enc;
}

void
encode_free(struct encode *enc)
{
	struct flight		*f;
	struct encode_waiter	*w;

	if (enc == NULL)
		return;
	pool_free(enc->pool);
	while ((f = enc->flights) != NULL) {
		/* Their owners are gone or going: no callback. */
		while ((w = f->waiters) != NULL) {
			f->waiters = w->next;
			free(w);
		}
		cache_finish(enc->cache, f->e, 0, now_usec());
		flight_free(f);
	}
	free(enc);
}

cJSON *
encode_json(struct encode *enc)
{
	cJSON	*o = cJSON_CreateObject();
	size_t	 queued, running;

	pool_counts(enc->pool, &queued, &running);
	cJSON_AddNumberToObject(o, "made", (double)enc->made);
	cJSON_AddNumberToObject(o, "hits", (double)enc->hits);
	cJSON_AddNumberToObject(o, "joined", (double)enc->joined);
	cJSON_AddNumberToObject(o, "failures", (double)enc->failures);
	cJSON_AddNumberToObject(o, "queued", (double)queued);
	cJSON_AddNumberToObject(o, "running", (double)running);
	return o;
}

void
encode_metrics(struct encode *enc, struct evbuffer *b)
{
	size_t	queued, running;

	pool_counts(enc->pool, &queued, &running);
	evbuffer_add_printf(b,
	    "# HELP ttsaccel_conversions_total Audio converted from WAV to "
	    "another format (on the worker threads).\n"
	    "# TYPE ttsaccel_conversions_total counter\n"
	    "ttsaccel_conversions_total %llu\n"
	    "# HELP ttsaccel_conversion_hits_total Converted audio served "
	    "from the cache.\n"
	    "# TYPE ttsaccel_conversion_hits_total counter\n"
	    "ttsaccel_conversion_hits_total %llu\n"
	    "# HELP ttsaccel_conversions_joined_total Requests that waited "
	    "for a conversion under way instead of starting one.\n"
	    "# TYPE ttsaccel_conversions_joined_total counter\n"
	    "ttsaccel_conversions_joined_total %llu\n"
	    "# HELP ttsaccel_conversion_failures_total Conversions that "
	    "failed.\n"
	    "# TYPE ttsaccel_conversion_failures_total counter\n"
	    "ttsaccel_conversion_failures_total %llu\n"
	    "# HELP ttsaccel_conversions_queued Conversions waiting for a "
	    "thread.\n"
	    "# TYPE ttsaccel_conversions_queued gauge\n"
	    "ttsaccel_conversions_queued %zu\n",
	    (unsigned long long)enc->made, (unsigned long long)enc->hits,
	    (unsigned long long)enc->joined,
	    (unsigned long long)enc->failures, queued);
}
