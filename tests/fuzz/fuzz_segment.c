/*
 * fuzz_segment: the segmenter on arbitrary bytes.  Asserts that no
 * segment is empty, invalid UTF-8, padded with spaces or longer than
 * max_len plus one word, and that cutting the input differently (whole,
 * byte by byte, at cuts the input chooses) gives the same segments.
 * The first byte picks the options.
 */

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "segment.h"
#include "util.h"

struct segs {
	char	**v;
	size_t	  n, cap;
};

static void
collect(struct segmenter *s, struct segs *ss)
{
	char	*seg;

	while ((seg = segment_next(s)) != NULL) {
		if (ss->n == ss->cap) {
			ss->cap = ss->cap ? ss->cap * 2 : 16;
			ss->v = xreallocarray(ss->v, ss->cap, sizeof *ss->v);
		}
		ss->v[ss->n++] = seg;
	}
}

static void
segs_free(struct segs *ss)
{
	size_t	i;

	for (i = 0; i < ss->n; i++)
		free(ss->v[i]);
	free(ss->v);
}

/* how: 0 whole, 1 byte by byte, 2 cuts from the data. */
static void
feed(const struct segment_opts *o, const uint8_t *p, size_t len, int how,
    struct segs *ss)
{
	struct segmenter	*s;
	size_t			 i = 0, n, k = 0;

	s = segment_new(o);
	while (i < len) {
		if (how == 0)
			n = len - i;
		else if (how == 1)
			n = 1;
		else {
			n = 1 + p[k++ % len] % 13;
			if (n > len - i)
				n = len - i;
		}
		segment_feed(s, (const char *)p + i, n);
		i += n;
		collect(s, ss);
	}
	segment_finish(s);
	collect(s, ss);
	segment_free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct segment_opts	 o;
	struct segs		 a = { 0 }, b = { 0 };
	size_t			 i, j, len;
	char			*c;
	int			 how;

	segment_opts_default(&o);
	if (size > 0 && data[0] < 0x20) {
		/* Small odd options now and then. */
		o.min_len = data[0] & 7;
		o.max_len = 1 + ((data[0] >> 3) & 3) * 7;
		o.first_len = data[0] & 1 ? 0 : 3;
	}
	feed(&o, data, size, 0, &a);
	for (i = 0; i < a.n; i++) {
		len = strlen(a.v[i]);
		assert(len > 0);
		assert(utf8_valid(a.v[i], len));
		assert(a.v[i][0] != ' ' && a.v[i][len - 1] != ' ');
		assert(segment_len(a.v[i], len) <=
		    o.max_len + SEGMENT_WORD_MAX + 2);
	}
	for (how = 1; how <= 2; how++) {
		memset(&b, 0, sizeof b);
		feed(&o, data, size, how, &b);
		assert(a.n == b.n);
		for (j = 0; j < a.n; j++)
			assert(strcmp(a.v[j], b.v[j]) == 0);
		segs_free(&b);
	}
	segs_free(&a);

	c = segment_clean((const char *)data, size);
	len = strlen(c);
	assert(utf8_valid(c, len));
	assert(len == 0 || (c[0] != ' ' && c[len - 1] != ' '));
	free(c);
	/* a client's piece: the same, fences only dropped */
	c = segment_clean_piece((const char *)data, size);
	len = strlen(c);
	assert(utf8_valid(c, len));
	assert(len == 0 || (c[0] != ' ' && c[len - 1] != ' '));
	free(c);
	return 0;
}
