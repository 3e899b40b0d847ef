/* norm: text folded for matching what clients send against segments (pure). */
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "norm.h"
#include "util.h"

#define NORM_OPTS	(UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT | \
			    UTF8PROC_CASEFOLD)
#define NORM_DMAX	32	/* longest decomposition we keep */

/* What a folded code point does. */
#define FOLD_KEEP	0	/* spoken: kept */
#define FOLD_MARK	1	/* a mark: kept only on a kept base */
#define FOLD_DROP	2	/* separates, or is not heard */

struct out {
	struct norm	*n;
	size_t		 cap;
};

static int
fold_class(utf8proc_int32_t cp)
{
	switch (utf8proc_get_property(cp)->category) {
	case UTF8PROC_CATEGORY_LU:
	case UTF8PROC_CATEGORY_LL:
	case UTF8PROC_CATEGORY_LT:
	case UTF8PROC_CATEGORY_LM:
	case UTF8PROC_CATEGORY_LO:
	case UTF8PROC_CATEGORY_ND:
	case UTF8PROC_CATEGORY_NL:
	case UTF8PROC_CATEGORY_NO:
	case UTF8PROC_CATEGORY_SC:
		return FOLD_KEEP;
	case UTF8PROC_CATEGORY_MN:
	case UTF8PROC_CATEGORY_MC:
	case UTF8PROC_CATEGORY_ME:
		return FOLD_MARK;
	default:
		return FOLD_DROP;
	}
}

static void
out_cp(struct out *o, utf8proc_int32_t cp, size_t src, int brk)
{
	struct norm	*n = o->n;
	utf8proc_uint8_t b[4];
	utf8proc_ssize_t k, i;

	k = utf8proc_encode_char(cp, b);
	if (n->len + (size_t)k + 1 > o->cap) {
		o->cap = (n->len + (size_t)k + 1) * 2;
		n->s = xrealloc(n->s, o->cap);
		n->src = xreallocarray(n->src, o->cap, sizeof *n->src);
		n->brk = xrealloc(n->brk, o->cap);
	}
	for (i = 0; i < k; i++) {
		n->s[n->len] = (char)b[i];
		n->src[n->len] = src;
		n->brk[n->len] = i == 0 && brk;
		n->len++;
	}
}

void
norm_text(const char *in, size_t len, struct norm *n)
{
	const utf8proc_uint8_t	*p = (const utf8proc_uint8_t *)in;
	utf8proc_int32_t	 cp, d[NORM_DMAX];
	utf8proc_ssize_t	 k, nd, j;
	struct out		 o = { n, 0 };
	size_t			 off = 0;
	int			 brk = 0, based = 0, c;

	memset(n, 0, sizeof *n);
	while (off < len) {
		k = utf8proc_iterate(p + off, (utf8proc_ssize_t)(len - off),
		    &cp);
		if (k <= 0) {
			off++;		/* an invalid byte: not heard */
			brk = 1;
			based = 0;
			continue;
		}
		nd = utf8proc_decompose_char(cp, d, NORM_DMAX, NORM_OPTS,
		    NULL);
		if (nd < 0 || nd > NORM_DMAX)
			nd = 0;
		for (j = 0; j < nd; j++) {
			c = fold_class(d[j]);
			if (c == FOLD_KEEP) {
				out_cp(&o, d[j], off, brk);
				brk = 0;
				based = 1;
			} else if (c == FOLD_MARK && based) {
				out_cp(&o, d[j], off, 0);
			} else {
				brk = 1;
				based = 0;
			}
		}
		off += (size_t)k;
	}
	out_cp(&o, 0, len, 0);		/* room for the sentinels */
	n->len--;
	n->s[n->len] = '\0';
	n->src[n->len] = len;
	n->brk[n->len] = brk || n->len == 0;
}

void
norm_free(struct norm *n)
{
	free(n->s);
	free(n->src);
	free(n->brk);
	memset(n, 0, sizeof *n);
}

char *
norm_string(const char *in, size_t len, size_t *outlen)
{
	struct norm	 n;
	char		*s;

	norm_text(in, len, &n);
	s = n.s;
	if (outlen != NULL)
		*outlen = n.len;
	free(n.src);
	free(n.brk);
	return s;
}
