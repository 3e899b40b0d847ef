/* libFuzzer target: the SSE parser.  Whole and cut at a point given by
 * the input, the events and their bytes must be the same, and the bytes
 * of all events are exactly the input. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sse.h"
#include "util.h"

struct acc {
	char	*raw;
	size_t	 rawlen;
	char	*data;
	size_t	 datalen;
	size_t	 n;
};

static int
cb(void *arg, const struct sse_event *ev)
{
	struct acc	*a = arg;

	assert(ev->data[ev->datalen] == '\0');
	a->raw = xrealloc(a->raw, a->rawlen + ev->rawlen + 1);
	memcpy(a->raw + a->rawlen, ev->raw, ev->rawlen);
	a->rawlen += ev->rawlen;
	a->data = xrealloc(a->data, a->datalen + ev->datalen + 2);
	memcpy(a->data + a->datalen, ev->data, ev->datalen);
	a->datalen += ev->datalen;
	a->data[a->datalen++] = ev->has_data ? '|' : '#';
	a->n++;
	return 0;
}

static void
run(const uint8_t *d, size_t n, size_t cut, struct acc *a)
{
	struct sse_parser	*p = sse_new(0);

	memset(a, 0, sizeof *a);
	sse_feed(p, (const char *)d, cut, cb, a);
	sse_feed(p, (const char *)d + cut, n - cut, cb, a);
	sse_finish(p, cb, a);
	sse_free(p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct acc	w, c;
	size_t		cut = n > 0 ? d[0] % (n + 1) : 0;

	run(d, n, n, &w);
	run(d, n, cut, &c);
	assert(w.n == c.n);
	assert(w.rawlen == c.rawlen && (w.rawlen == 0 ||
	    memcmp(w.raw, c.raw, w.rawlen) == 0));
	assert(w.datalen == c.datalen && (w.datalen == 0 ||
	    memcmp(w.data, c.data, w.datalen) == 0));
	/* Events cover the input, except a trailing incomplete event
	 * without data, which is dropped. */
	assert(w.rawlen <= n && (w.rawlen == 0 || memcmp(w.raw, d, w.rawlen) == 0));
	free(w.raw);
	free(w.data);
	free(c.raw);
	free(c.data);
	return 0;
}
