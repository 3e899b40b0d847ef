/*
 * fuzz_span: the matching fold and the span matcher.  The input is
 * segment texts separated by newlines, then a NUL, then the query.
 * Asserts the fold's offsets are ordered and inside the input, that it is
 * valid UTF-8 and folds to itself again, and that the matcher's parts
 * cover the folded query in order, each matched part being exactly its
 * segment's folded text, and their input ranges tiling the query.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "norm.h"
#include "span.h"
#include "util.h"

#define NSEGS	64

static int
accept_odd(void *arg, void *owner)
{
	return ((uintptr_t)owner & 1) == 0 || *(int *)arg;
}

static void
check_fold(const char *in, size_t len, struct norm *n)
{
	size_t	 i, len2;
	char	*again;

	norm_text(in, len, n);
	assert(n->s[n->len] == '\0');
	assert(n->src[n->len] == len);
	for (i = 0; i < n->len; i++) {
		assert(n->src[i] < len);
		assert(i == 0 || n->src[i] >= n->src[i - 1]);
		assert(!(n->s[i] >= 'A' && n->s[i] <= 'Z'));
	}
	assert(utf8_valid(n->s, n->len));
	again = norm_string(n->s, n->len, &len2);
	assert(len2 == n->len && memcmp(again, n->s, len2) == 0);
	free(again);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned char	 seed[16];
	struct span_index		*x = span_index_new(seed);
	struct span_part		*v;
	struct norm			 q, sn[NSEGS];
	const char			*p = (const char *)data, *end, *nl;
	size_t				 ns = 0, i, n, matched, at, src;
	int				 odd = size > 0 && (data[0] & 1);

	end = memchr(p, '\0', size);
	if (end == NULL)
		end = p + size;
	while (p < end && ns < NSEGS) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		check_fold(p, (size_t)(nl - p), &sn[ns]);
		span_add(x, (void *)(uintptr_t)(ns % 3 + 2), ns, sn[ns].s,
		    sn[ns].len);
		ns++;
		p = nl + 1;
	}
	p = end < (const char *)data + size ? end + 1 :
	    (const char *)data + size;
	check_fold(p, (size_t)((const char *)data + size - p), &q);
	n = span_match(x, &q, 0, NULL, accept_odd, &odd, &v, &matched);
	at = 0;
	src = 0;
	for (i = 0; i < n; i++) {
		assert(v[i].from == at);
		assert(v[i].to > v[i].from && v[i].to <= q.len);
		assert(v[i].src_from == src);
		assert(v[i].src_to >= v[i].src_from);
		if (v[i].owner != NULL) {
			assert(v[i].idx < ns);
			if (v[i].over) {
				/* the text ends inside it: its start */
				assert(i + 1 == n && v[i].to == q.len);
				assert(sn[v[i].idx].len > v[i].to - v[i].from);
			} else
				assert(sn[v[i].idx].len == v[i].to - v[i].from);
			assert(memcmp(sn[v[i].idx].s, q.s + v[i].from,
			    v[i].to - v[i].from) == 0);
			assert(accept_odd(&odd, v[i].owner));
		} else
			assert(i == 0 || v[i - 1].owner != NULL);
		at = v[i].to;
		src = v[i].src_to;
	}
	assert(at == q.len);
	assert(n == 0 || src == q.src[q.len]);
	free(v);
	norm_free(&q);
	for (i = 0; i < ns; i++)
		norm_free(&sn[i]);
	span_index_free(x);
	return 0;
}
