/*
 * segment: cut a streamed LLM reply into speakable, cleaned segments.
 *
 * Three stages, each a pure function of the text seen so far:
 *
 *   bytes --decode--> code points --clean--> speakable code points
 *         --cut--> segments
 *
 * The decoder drops invalid UTF-8 (truncated or overlong sequences,
 * surrogates, stray bytes).  The cleaner strips markdown, HTML tags and
 * emoji and folds whitespace, emitting ' ' and '\n' as the only spacing.
 * The cutter assembles segments by the rules of spec section 4.
 *
 * Delta cuts must not change the result, so every decision that depends
 * on what follows (is this '.' a decimal point, is this '*' a bullet, is
 * this '`' closed on its line) looks ahead through la()/qla(), which
 * answer LA_MORE when the text is not there yet; the stage then stops
 * and resumes on the next feed, so it decides exactly as it would with
 * the whole text.  segment_finish() turns LA_MORE into LA_EOF.
 *
 * A space after punctuation (or after one closer that follows it, as
 * in 'said "Stop." ') is firm: nothing that follows (a removed
 * code span or emoji, a table's cell separator) can take it away, so
 * the next code point the cutter gets is a space or a newline ("done.
 * `x`!" is "done. !", not "done.!", and a table cell ending in
 * punctuation gets no added comma).  The cutter, which treats a space,
 * a newline and the end alike after a run of punctuation, can thus end
 * "the end. " or the first segment's soft end as soon as the space is
 * fed, without waiting for the next word.  It still waits where the
 * rules need that word ("etc. ", "U.S. "), and a segment under min_len
 * still waits to be joined with the next.
 *
 * Bare URLs are kept and spoken, as Open WebUI does (its requests then
 * match ours, spec section 3.5).  They are never cut at their inner
 * '.', '?', ':' or ';' (those only end a sentence before a space), and
 * a URL longer than max_len is kept whole up to SEGMENT_WORD_MAX.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "log.h"
#include "segment.h"
#include "util.h"

#define LA_MORE		0xfffffffeU	/* not fed yet */
/* How far a look-ahead goes before it decides anyway: bounds the work
 * of re-scanning a held-back tail on every small delta. */
#define SCAN_MAX	1024
#define LA_EOF		0xffffffffU	/* end of the reply */

/* A growing array of code points, consumed from off. */
struct cpbuf {
	uint32_t	*v;
	size_t		 off, len, cap;
};

enum {
	MODE_TEXT,
	MODE_URL,	/* inside the (target) of a link or image: dropped */
	MODE_IMAGE	/* inside the [alt] of an image: dropped */
};

struct segmenter {
	struct segment_opts	 o;
	int			 clean_only;	/* segment_clean: no cutting */
	int			 piece;		/* fences only dropped */

	/* Decoder. */
	uint32_t		 dcp, dmin;
	int			 dneed;

	/* Cleaner: raw code points in, speakable ones out to q. */
	struct cpbuf		 in;
	int			 in_eof;
	uint32_t		 prev;		/* last raw code point consumed */
	int			 line_start;
	int			 in_fence;
	uint32_t		 fence_ch;
	size_t			 fence_len;
	int			 mode;
	size_t			 depth;
	int			 cell_text, cell_sep, pend_space;
	uint32_t		 last_out;	/* last code point put in q */
	uint32_t		 prev_out;	/* the one before it */

	/* Cutter: speakable code points in, segments out. */
	struct cpbuf		 q;
	int			 q_eof;
	char			*cur;
	size_t			 cur_len, cur_cap;
	size_t			 elen;		/* effective length of cur */
	size_t			 soft_pos, soft_elen;	/* after a soft end */
	size_t			 space_pos, space_elen;	/* at a space */
	size_t			 run_pos, run_elen;	/* start of the word */
	size_t			 last_pos, last_elen;	/* last code point */
	int			 last_wide;
	int			 tail;		/* cur is what a cut left */
	size_t			 nemitted;
	int			 done;

	/* Finished segments. */
	char			**out;
	size_t			 out_head, out_len, out_cap;
};

static void	 cut_append(struct segmenter *, uint32_t);

/* Unicode classes, from utf8proc. */

static int
cat_of(uint32_t cp)
{
	return utf8proc_get_property((utf8proc_int32_t)cp)->category;
}

static int
is_punct_cat(int cat)
{
	return cat >= UTF8PROC_CATEGORY_PC && cat <= UTF8PROC_CATEGORY_PO;
}

/* ASCII punctuation in the Unicode sense (P*; $+<=>^`|~ are symbols). */
static int
ascii_punct(uint32_t c)
{
	return (c >= '!' && c <= '/' && c != '$' && c != '+') ||
	    c == ':' || c == ';' || c == '?' || c == '@' ||
	    (c >= '[' && c <= ']') || c == '_' || c == '{' || c == '}';
}

static int
is_ascii_alnum(uint32_t c)
{
	return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' &&
	    (c | 0x20) <= 'z');
}

/* Effective width: wide 2, punctuation and marks 0, anything else 1. */
static size_t
cp_width(uint32_t cp)
{
	const utf8proc_property_t	*p;

	if (cp < 0x80)
		return ascii_punct(cp) ? 0 : 1;
	p = utf8proc_get_property((utf8proc_int32_t)cp);
	if (is_punct_cat(p->category) || p->category == UTF8PROC_CATEGORY_MN ||
	    p->category == UTF8PROC_CATEGORY_MC ||
	    p->category == UTF8PROC_CATEGORY_ME)
		return 0;
	return p->charwidth == 2 ? 2 : 1;
}

static int
is_wide(uint32_t cp)
{
	return cp >= 0x1100 && cp < LA_MORE &&
	    utf8proc_charwidth((utf8proc_int32_t)cp) == 2;
}

/* Letters, numbers and symbols are speakable; punctuation alone is not. */
static int
is_speakable(uint32_t cp)
{
	int	cat;

	if (cp < 0x80)
		return is_ascii_alnum(cp) || (cp > ' ' && cp < 0x7f &&
		    !ascii_punct(cp));
	cat = cat_of(cp);
	return (cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO) ||
	    (cat >= UTF8PROC_CATEGORY_ND && cat <= UTF8PROC_CATEGORY_NO) ||
	    (cat >= UTF8PROC_CATEGORY_SM && cat <= UTF8PROC_CATEGORY_SO);
}

static int
is_alnum_cp(uint32_t cp)
{
	int	cat;

	if (cp < 0x80)
		return is_ascii_alnum(cp);
	if (cp >= LA_MORE)
		return 0;
	cat = cat_of(cp);
	return (cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO) ||
	    (cat >= UTF8PROC_CATEGORY_ND && cat <= UTF8PROC_CATEGORY_NO);
}

static int
is_nl(uint32_t cp)
{
	return cp == '\n' || cp == 0x0b || cp == 0x0c || cp == 0x85 ||
	    cp == 0x2028 || cp == 0x2029;
}

static int
is_ws(uint32_t cp)
{
	if (cp < 0x80)
		return cp == ' ' || cp == '\t' || cp == '\r';
	if (cp >= LA_MORE)
		return 0;
	return cat_of(cp) == UTF8PROC_CATEGORY_ZS;
}

/* End of line for look-ahead purposes. */
static int
is_eol(uint32_t cp)
{
	return cp == LA_EOF || is_nl(cp);
}

enum { CP_KEEP, CP_SPACE, CP_DROP };

/*
 * What the cleaner does with a non-ASCII code point.  Emoji are
 * Extended_Pictographic, regional indicators, and wide So/Sk symbols
 * without a compatibility decomposition (skin tones; keeps CJK unit
 * signs such as U+33A1); they become a space.  Default ignorables
 * (ZWJ, variation selectors, tags, ZWSP), other format and control
 * characters, enclosing marks (keycaps), private use and unassigned
 * code points are dropped.
 */
static int
cp_class(uint32_t cp)
{
	const utf8proc_property_t	*p;

	p = utf8proc_get_property((utf8proc_int32_t)cp);
	if (p->boundclass == UTF8PROC_BOUNDCLASS_EXTENDED_PICTOGRAPHIC ||
	    p->boundclass == UTF8PROC_BOUNDCLASS_E_ZWG ||
	    p->boundclass == UTF8PROC_BOUNDCLASS_REGIONAL_INDICATOR)
		return CP_SPACE;
	if (p->ignorable)
		return CP_DROP;
	switch (p->category) {
	case UTF8PROC_CATEGORY_CN:
	case UTF8PROC_CATEGORY_CC:
	case UTF8PROC_CATEGORY_CF:
	case UTF8PROC_CATEGORY_CS:
	case UTF8PROC_CATEGORY_CO:
	case UTF8PROC_CATEGORY_ME:
		return CP_DROP;
	case UTF8PROC_CATEGORY_SO:
	case UTF8PROC_CATEGORY_SK:
		if (p->charwidth == 2 && p->decomp_type == 0)
			return CP_SPACE;
		break;
	}
	return CP_KEEP;
}

/* Closing quotes and brackets, which stay with their sentence. */
static int
is_closer(uint32_t cp)
{
	int	cat;

	if (cp < 0x80)
		return cp == '"' || cp == '\'' || cp == ')' || cp == ']' ||
		    cp == '}';
	if (cp >= LA_MORE)
		return 0;
	cat = cat_of(cp);
	return cat == UTF8PROC_CATEGORY_PE || cat == UTF8PROC_CATEGORY_PF;
}

enum { P_NONE, P_HARD, P_SOFT };

static int
punct_kind(uint32_t cp)
{
	switch (cp) {
	case '.': case '!': case '?': case ';':
	case 0x3002: case 0xff01: case 0xff1f: case 0xff1b: case 0x2026:
	case 0xff61:
		return P_HARD;
	case ',': case ':':
	case 0xff0c: case 0x3001: case 0xff1a: case 0x2014:
		return P_SOFT;
	}
	return P_NONE;
}

/* Code point buffers. */

static void
cpbuf_reserve(struct cpbuf *b, size_t n)
{
	size_t	cap;

	if (b->off > 0 && (b->off == b->len || b->off >= b->len / 2)) {
		memmove(b->v, b->v + b->off, (b->len - b->off) * sizeof *b->v);
		b->len -= b->off;
		b->off = 0;
	}
	if (n <= b->cap - b->len)
		return;
	cap = b->cap ? b->cap : 256;
	while (cap - b->len < n) {
		if (cap > SIZE_MAX / 2 / sizeof *b->v)
			fatalx("segment: buffer overflow");
		cap *= 2;
	}
	b->v = xreallocarray(b->v, cap, sizeof *b->v);
	b->cap = cap;
}

static void
cpbuf_push(struct cpbuf *b, uint32_t cp)
{
	if (b->len == b->cap)
		cpbuf_reserve(b, 1);
	b->v[b->len++] = cp;
}

static size_t
utf8_put(char *p, uint32_t cp)
{
	if (cp < 0x80) {
		p[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		p[0] = (char)(0xc0 | (cp >> 6));
		p[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		p[0] = (char)(0xe0 | (cp >> 12));
		p[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		p[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	p[0] = (char)(0xf0 | (cp >> 18));
	p[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	p[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	p[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Next code point of valid UTF-8 (our own output) at *i. */
static uint32_t
utf8_get(const char *s, size_t len, size_t *i)
{
	const unsigned char	*p = (const unsigned char *)s + *i;
	uint32_t		 cp;
	size_t			 n, k;

	if (p[0] < 0x80) {
		(*i)++;
		return p[0];
	}
	if (p[0] >= 0xf0) {
		n = 3;
		cp = p[0] & 0x07;
	} else if (p[0] >= 0xe0) {
		n = 2;
		cp = p[0] & 0x0f;
	} else {
		n = 1;
		cp = p[0] & 0x1f;
	}
	for (k = 1; k <= n && *i + k < len; k++)
		cp = (cp << 6) | (p[k] & 0x3f);
	*i += k;
	return cp;
}

/* Decoder: bytes to code points, invalid sequences dropped. */

static void
decode(struct segmenter *s, const unsigned char *p, size_t len)
{
	size_t		 i;
	unsigned char	 b;

	cpbuf_reserve(&s->in, len);
	for (i = 0; i < len; i++) {
		b = p[i];
		if (s->dneed == 0 && b < 0x80) {
			s->in.v[s->in.len++] = b;
			continue;
		}
		if (s->dneed > 0) {
			if ((b & 0xc0) == 0x80) {
				s->dcp = (s->dcp << 6) | (b & 0x3f);
				if (--s->dneed == 0 && s->dcp >= s->dmin &&
				    s->dcp <= 0x10ffff &&
				    (s->dcp < 0xd800 || s->dcp > 0xdfff))
					s->in.v[s->in.len++] = s->dcp;
				continue;
			}
			s->dneed = 0;	/* truncated: dropped */
			if (b < 0x80) {
				s->in.v[s->in.len++] = b;
				continue;
			}
		}
		if (b >= 0xc2 && b <= 0xdf) {
			s->dcp = b & 0x1f;
			s->dneed = 1;
			s->dmin = 0x80;
		} else if (b >= 0xe0 && b <= 0xef) {
			s->dcp = b & 0x0f;
			s->dneed = 2;
			s->dmin = 0x800;
		} else if (b >= 0xf0 && b <= 0xf4) {
			s->dcp = b & 0x07;
			s->dneed = 3;
			s->dmin = 0x10000;
		}
		/* else a stray byte: dropped */
	}
}

/* Cleaner. */

static uint32_t
la(const struct segmenter *s, size_t k)
{
	size_t	i = s->in.off + k;

	if (i < s->in.len)
		return s->in.v[i];
	return s->in_eof ? LA_EOF : LA_MORE;
}

static void
consume(struct segmenter *s, size_t n)
{
	s->prev = s->in.v[s->in.off + n - 1];
	s->in.off += n;
}

/*
 * Is the held space firm (see the top of the file)?  It is after
 * punctuation, or after a closer that follows punctuation (deeper runs
 * of closers, rare, are not firm: the cutter then waits, as before).
 */
static int
space_firm(const struct segmenter *s)
{
	return s->pend_space == 1 && (punct_kind(s->last_out) != P_NONE ||
	    (is_closer(s->last_out) && punct_kind(s->prev_out) != P_NONE));
}

/*
 * Put one code point into q, folding whitespace and dropping emoji.  A
 * space is held until something visible follows it, so q never ends in
 * one (the cutter may already have taken what is in q).  A weak space
 * stands for something removed; it does not weaken a firm one.
 */
static void
out_weak(struct segmenter *s, uint32_t cp, int weak)
{
	if (is_nl(cp)) {
		s->pend_space = 0;
		if (s->last_out != '\n') {
			cpbuf_push(&s->q, '\n');
			s->last_out = '\n';
		}
		s->cell_text = s->cell_sep = 0;
		return;
	}
	if (cp >= 0x80) {
		switch (cp_class(cp)) {
		case CP_DROP:
			return;
		case CP_SPACE:
			cp = ' ';
			weak = 1;
			break;
		default:
			if (cat_of(cp) == UTF8PROC_CATEGORY_ZS)
				cp = ' ';
			break;
		}
	} else if (cp == '\t' || cp == '\r')
		cp = ' ';
	else if (cp < ' ' || cp == 0x7f)
		return;
	if (cp == ' ') {
		if (s->last_out != '\n' && !space_firm(s))
			s->pend_space = weak ? 2 : 1;
		return;
	}
	if (s->cell_sep && space_firm(s))
		s->cell_sep = 0;	/* the punctuation separates */
	s->prev_out = s->last_out;
	if (s->cell_sep) {
		/* Table cells are read as a list. */
		s->cell_sep = 0;
		s->pend_space = 0;
		if (is_wide(s->last_out) && s->last_out < LA_MORE) {
			cpbuf_push(&s->q, 0xff0c);
			s->prev_out = 0xff0c;
		} else {
			cpbuf_push(&s->q, ',');
			s->pend_space = 1;
		}
	}
	/* A space left by something removed goes before punctuation:
	 * "call `f()`." is "call." */
	if (s->pend_space == 1 || (s->pend_space == 2 &&
	    punct_kind(cp) == P_NONE && !is_closer(cp))) {
		cpbuf_push(&s->q, ' ');
		s->prev_out = ' ';
	}
	s->pend_space = 0;
	cpbuf_push(&s->q, cp);
	s->last_out = cp;
	s->cell_text = 1;
}

static void
out(struct segmenter *s, uint32_t cp)
{
	out_weak(s, cp, 0);
}

/* Length of the run of c starting k ahead; *more if it may go on. */
static size_t
run_len(const struct segmenter *s, size_t k, uint32_t c, int *more)
{
	size_t		n = 0;
	uint32_t	d;

	while (n < SCAN_MAX && (d = la(s, k + n)) == c)
		n++;
	if (n == SCAN_MAX)
		d = LA_EOF;	/* long enough: decide */
	*more = d == LA_MORE;
	return n;
}

/*
 * Is the line from k on made only of whitespace and the ASCII code
 * points in ok?  1 yes, 0 no, -1 not known yet.  Counts '-' and '|'
 * (any other mark counts as a '-') and gives where the line ends.
 */
static int
line_only(const struct segmenter *s, size_t k, const char *ok,
    size_t *dashes, size_t *pipes, size_t *end)
{
	uint32_t	d;

	*dashes = *pipes = *end = 0;
	for (;; k++) {
		d = la(s, k);
		if (d == LA_MORE)
			return -1;
		if (is_eol(d) || k == SCAN_MAX)
			break;
		if (is_ws(d))
			continue;
		if (d >= 0x80 || strchr(ok, (int)d) == NULL)
			return 0;
		if (d == '|')
			(*pipes)++;
		else if (d != ':')
			(*dashes)++;
	}
	*end = k;
	return 1;
}

/* Drop the code points up to (not including) the end of the line. */
static void
drop_to(struct segmenter *s, size_t end)
{
	if (end > 0)
		consume(s, end);
	s->line_start = 0;
}

/* In a fenced code block: drop lines until the closing fence. */
static int
clean_fence(struct segmenter *s)
{
	uint32_t	c;
	size_t		k = 0, n;
	int		more;

	if (!s->line_start) {
		while ((c = la(s, 0)) < LA_MORE) {
			consume(s, 1);
			if (is_nl(c)) {
				s->line_start = 1;
				return 1;
			}
		}
		return c == LA_MORE ? 0 : -1;
	}
	while (is_ws(c = la(s, k)))
		k++;
	if (c == LA_MORE)
		return 0;
	if (c == LA_EOF)
		return -1;
	n = run_len(s, k, s->fence_ch, &more);
	if (more)
		return 0;
	if (n >= s->fence_len) {
		k += n;
		while (is_ws(c = la(s, k)))
			k++;
		if (c == LA_MORE)
			return 0;
		if (is_eol(c)) {
			consume(s, k + (c != LA_EOF));
			s->in_fence = 0;
			s->line_start = 1;
			out(s, '\n');
			return 1;
		}
	}
	s->line_start = 0;
	return 1;
}

/*
 * Markdown at the start of a line.  1 consumed something, 0 need more,
 * 2 nothing here: go on with the inline rules.
 */
static int
clean_line_start(struct segmenter *s, uint32_t c)
{
	uint32_t	d;
	size_t		n, k, end, dashes, pipes;
	int		more, r;
	char		mark[2];

	if (is_ws(c)) {
		consume(s, 1);
		return 1;
	}
	if (c == '`' || c == '~') {
		n = run_len(s, 0, c, &more);
		if (more)
			return 0;
		if (n >= 3 && s->piece) {
			/* a piece of a reply: code, or the end of code? */
			consume(s, n);
			s->line_start = 0;
			out_weak(s, ' ', 1);
			return 1;
		}
		if (n >= 3) {
			/* A backtick fence's info string has no backtick. */
			for (k = n;; k++) {
				d = la(s, k);
				if (d == LA_MORE)
					return 0;
				if (is_eol(d) || (c == '`' && d == '`') ||
				    k == SCAN_MAX)
					break;
			}
			if (d != '`') {
				consume(s, k + (is_eol(d) && d != LA_EOF));
				s->in_fence = 1;
				s->fence_ch = c;
				s->fence_len = n;
				s->line_start = is_eol(d);
				out(s, '\n');
				return 1;
			}
		}
		s->line_start = 0;
		return 2;
	}
	if (c == '#') {
		n = run_len(s, 0, '#', &more);
		d = la(s, n);
		if (more)
			return 0;
		if (n <= 6 && (is_ws(d) || is_eol(d))) {
			/* still the line's start: "## 2. Steps" is "Steps" */
			consume(s, n);
			return 1;
		}
		s->line_start = 0;
		return 2;
	}
	if (c == '>') {
		consume(s, 1);
		return 1;
	}
	if (c == '|' || c == ':' || c == '-') {
		/* A table's separator row. */
		r = line_only(s, 0, "|:-", &dashes, &pipes, &end);
		if (r < 0)
			return 0;
		if (r == 1 && dashes > 0 && pipes > 0) {
			drop_to(s, end);
			return 1;
		}
	}
	if (c == '-' || c == '*' || c == '_' || c == '=') {
		/* A thematic break or a setext heading's underline. */
		mark[0] = (char)c;
		mark[1] = '\0';
		r = line_only(s, 0, mark, &dashes, &pipes, &end);
		if (r < 0)
			return 0;
		if (r == 1 && dashes >= (c == '=' ? 2 : 3)) {
			drop_to(s, end);
			return 1;
		}
	}
	if (c == '-' || c == '*' || c == '+' || c == 0x2022) {
		d = la(s, 1);
		if (d == LA_MORE)
			return 0;
		if (is_ws(d) || is_eol(d)) {
			/* A task list's "[ ]" or "[x]" goes too. */
			n = 1;
			if (is_ws(d) && la(s, 2) == '[') {
				d = la(s, 3);
				if (la(s, 4) == LA_MORE || la(s, 5) == LA_MORE)
					return 0;
				if ((d == ' ' || d == 'x' || d == 'X') &&
				    la(s, 4) == ']' && (is_ws(la(s, 5)) ||
				    is_eol(la(s, 5))))
					n = 5;
			} else if (is_ws(d) && la(s, 2) == LA_MORE)
				return 0;
			consume(s, n);
			s->line_start = 0;
			return 1;
		}
	}
	if (c >= '0' && c <= '9') {
		/*
		 * A list number, or a heading's ("**2. Eat well**", "## 3)
		 * Rest", "**1.** Boil"): not spoken, as clients that send
		 * the text cleaned remove it too.
		 */
		for (n = 0; n < 4 && (d = la(s, n)) >= '0' && d <= '9'; n++)
			;
		if (d == LA_MORE)
			return 0;
		if (n < 4 && (d == '.' || d == ')')) {
			for (k = n + 1; (d = la(s, k)) == '*' || d == '_'; k++)
				;
			if (d == LA_MORE)
				return 0;
			if (is_ws(d)) {		/* "42." alone is a number */
				consume(s, n + 1);
				s->line_start = 0;
				return 1;
			}
		}
	}
	s->line_start = 0;
	return 2;
}

/*
 * An inline code span that closes on its line is spoken without its
 * marks (`git status`, `requests`: short names a sentence needs; clients
 * send them too), unless it is fenced with three or more (a code block
 * on one line); unclosed, only the marks go.
 */
static int
clean_code(struct segmenter *s)
{
	size_t		n, m, k, i;
	uint32_t	d;
	int		more;

	n = run_len(s, 0, '`', &more);
	if (more)
		return 0;
	if (n >= 3 && s->piece) {
		consume(s, n);
		out_weak(s, ' ', 1);
		return 1;
	}
	for (k = n;;) {
		d = la(s, k);
		if (d == LA_MORE)
			return 0;
		if (is_eol(d) || k >= SCAN_MAX) {
			consume(s, n);	/* unclosed: only the marks go */
			return 1;
		}
		if (d != '`') {
			k++;
			continue;
		}
		m = run_len(s, k, '`', &more);
		if (more)
			return 0;
		k += m;
		if (m == n) {
			/* ``` on one line is a code block whose newlines
			 * were folded away: not spoken */
			for (i = n; n < 3 && i < k - m; i++)
				out(s, la(s, i));
			consume(s, k);
			if (n >= 3)
				out_weak(s, ' ', 1);
			return 1;
		}
	}
}

/*
 * After '<' (and '/'), a tag's name: ASCII letters, digits and '-', then
 * its end, a space, '/' or an autolink's ':'.  Text in angle brackets
 * ("<Python编程:从入门到实践>", a title as a client makes 《…》 ASCII) is
 * no tag: it is spoken.
 */
static int
tag_name_ok(struct segmenter *s)
{
	uint32_t	d;
	size_t		k = la(s, 1) == '/' ? 2 : 1;

	if (la(s, 1) == '!' || la(s, 1) == '?')
		return 1;
	for (;; k++) {
		d = la(s, k);
		if (!((d | 0x20) >= 'a' && (d | 0x20) <= 'z') &&
		    !(d >= '0' && d <= '9') && d != '-')
			break;
	}
	return d == '>' || d == ' ' || d == '\t' || d == '/' || d == ':';
}

/* An HTML tag (dropped) or an autolink (its URL kept). */
static int
clean_tag(struct segmenter *s)
{
	uint32_t	d;
	size_t		k, i;
	int		url = 0;

	d = la(s, 1);
	if (d == LA_MORE)
		return 0;
	if (!((d | 0x20) >= 'a' && (d | 0x20) <= 'z') && d != '/' &&
	    d != '!' && d != '?') {
		consume(s, 1);
		out(s, '<');
		return 1;
	}
	for (k = 1; k < 256; k++) {
		d = la(s, k);
		if (d == LA_MORE)
			return 0;
		if (d == '>' || d == '<' || is_eol(d))
			break;
		if (d == ':' && la(s, k + 1) == '/' && la(s, k + 2) == '/')
			url = 1;
	}
	if (d != '>' || !tag_name_ok(s)) {
		consume(s, 1);
		out(s, '<');
		return 1;
	}
	if (url) {
		for (i = 1; i < k; i++)
			out(s, la(s, i));
	} else
		out_weak(s, ' ', 1);
	consume(s, k + 1);
	return 1;
}

/* One step of the cleaner: 1 progress, 0 need more, -1 at the end. */
static int
clean_step(struct segmenter *s)
{
	uint32_t	c, d;
	size_t		n, k;
	int		more, r, at_start;

	c = la(s, 0);
	if (c == LA_MORE)
		return 0;
	if (c == LA_EOF)
		return -1;
	if (s->in_fence)
		return clean_fence(s);
	if (s->mode == MODE_URL && !is_nl(c)) {
		if (c == '(')
			s->depth++;
		else if (c == ')' && --s->depth == 0)
			s->mode = MODE_TEXT;
		consume(s, 1);
		return 1;
	}
	if (s->mode == MODE_IMAGE && !is_nl(c)) {
		if (c == '[')
			s->depth++;
		else if (c == ']' && --s->depth == 0) {
			d = la(s, 1);
			if (d == LA_MORE) {
				s->depth++;
				return 0;
			}
			if (d == '(') {
				s->mode = MODE_URL;
				s->depth = 1;
				consume(s, 2);
				return 1;
			}
			s->mode = MODE_TEXT;
		}
		consume(s, 1);
		return 1;
	}
	s->mode = MODE_TEXT;
	at_start = s->line_start && !is_nl(c);
	if (at_start) {
		r = clean_line_start(s, c);
		if (r != 2)
			return r;
	}
	switch (c) {
	case '`':
		return clean_code(s);
	case '<':
		return clean_tag(s);
	case '*':
		n = run_len(s, 0, '*', &more);
		d = la(s, n);
		if (more)
			return 0;
		/* A lone '*' between spaces or digits is not emphasis. */
		if (n == 1 && ((s->prev == ' ' && d == ' ') ||
		    (s->prev >= '0' && s->prev <= '9' && d >= '0' && d <= '9')))
			out(s, '*');
		consume(s, n);
		/* emphasis opening a line: what follows still starts it */
		s->line_start = at_start && !is_ws(d);
		return 1;
	case '_':
		n = run_len(s, 0, '_', &more);
		d = la(s, n);
		if (more)
			return 0;
		if (is_alnum_cp(s->prev) && is_alnum_cp(d)) {
			for (k = 0; k < n; k++)
				out(s, '_');
		}
		consume(s, n);
		s->line_start = at_start && !is_ws(d);
		return 1;
	case '~':
		n = run_len(s, 0, '~', &more);
		if (more)
			return 0;
		if (n == 1)
			out(s, '~');
		consume(s, n);
		return 1;
	case '!':
		d = la(s, 1);
		if (d == LA_MORE)
			return 0;
		if (d == '[') {
			s->mode = MODE_IMAGE;
			s->depth = 1;
			consume(s, 2);
			return 1;
		}
		break;
	case '[':
		/* A citation, [1] or [^2], is not read. */
		k = la(s, 1) == '^' ? 2 : 1;
		for (n = 0; n < 4 && (d = la(s, k + n)) >= '0' && d <= '9'; n++)
			;
		if (d == LA_MORE)
			return 0;
		if (n > 0 && n < 4 && d == ']') {
			d = la(s, k + n + 1);
			if (d == LA_MORE)
				return 0;
			if (d != '(') {
				consume(s, k + n + 1);
				out_weak(s, ' ', 1);
				return 1;
			}
		}
		consume(s, 1);
		return 1;
	case ']':
		d = la(s, 1);
		if (d == LA_MORE)
			return 0;
		if (d == '(') {
			s->mode = MODE_URL;
			s->depth = 1;
			consume(s, 2);
		} else
			consume(s, 1);
		return 1;
	case '|':
		if (s->cell_text)
			s->cell_sep = 1;
		s->cell_text = 0;
		consume(s, 1);
		return 1;
	case '\\':
		d = la(s, 1);
		if (d == LA_MORE)
			return 0;
		if (d < 0x80 && ascii_punct(d)) {
			consume(s, 2);
			out(s, d);
			return 1;
		}
		break;
	}
	if (is_nl(c))
		s->line_start = 1;
	consume(s, 1);
	out(s, c);
	return 1;
}

/* Cutter. */

static uint32_t
qla(const struct segmenter *s, size_t k)
{
	size_t	i = s->q.off + k;

	if (i < s->q.len)
		return s->q.v[i];
	return s->q_eof ? LA_EOF : LA_MORE;
}

/*
 * qla() for the code point after a run of punctuation: a firm space the
 * cleaner holds is as good as a space in q.
 */
static uint32_t
qla_end(const struct segmenter *s, size_t k)
{
	uint32_t	d = qla(s, k);

	return d == LA_MORE && space_firm(s) ? ' ' : d;
}

static int
text_speakable(const char *p, size_t len)
{
	size_t	i = 0;

	while (i < len) {
		if (is_speakable(utf8_get(p, len, &i)))
			return 1;
	}
	return 0;
}

static void
emit(struct segmenter *s, const char *p, size_t len)
{
	while (len > 0 && p[len - 1] == ' ')
		len--;
	while (len > 0 && p[0] == ' ') {
		p++;
		len--;
	}
	if (len == 0 || !text_speakable(p, len))
		return;
	if (s->out_len == s->out_cap) {
		if (s->out_head > 0) {
			memmove(s->out, s->out + s->out_head,
			    (s->out_len - s->out_head) * sizeof *s->out);
			s->out_len -= s->out_head;
			s->out_head = 0;
		}
		if (s->out_len == s->out_cap) {
			s->out_cap = s->out_cap ? s->out_cap * 2 : 16;
			s->out = xreallocarray(s->out, s->out_cap,
			    sizeof *s->out);
		}
	}
	s->out[s->out_len++] = xstrndup(p, len);
	s->nemitted++;
}

static void
cur_reset(struct segmenter *s)
{
	s->cur_len = s->elen = 0;
	s->soft_pos = s->space_pos = s->run_pos = s->last_pos = 0;
	s->soft_elen = s->space_elen = s->run_elen = s->last_elen = 0;
	s->last_wide = 0;
}

static void
cut_append(struct segmenter *s, uint32_t cp)
{
	size_t	w;

	if (cp == ' ' && (s->cur_len == 0 || s->cur[s->cur_len - 1] == ' '))
		return;
	if (s->cur_cap - s->cur_len < 4) {
		s->cur_cap = s->cur_cap ? s->cur_cap * 2 : 256;
		s->cur = xrealloc(s->cur, s->cur_cap);
	}
	w = cp_width(cp);
	s->last_pos = s->cur_len;
	s->last_elen = s->elen;
	s->last_wide = w == 2;
	if (cp == ' ') {
		s->space_pos = s->cur_len;
		s->space_elen = s->elen;
	}
	s->cur_len += utf8_put(s->cur + s->cur_len, cp);
	s->elen += w;
	if (cp == ' ' || w == 2) {
		s->run_pos = s->cur_len;
		s->run_elen = s->elen;
	}
}

/* Cut cur at pos: emit the head, keep the rest. */
static void
cut_at(struct segmenter *s, size_t pos)
{
	char	*rest;
	size_t	 len, i;

	emit(s, s->cur, pos);
	len = s->cur_len - pos;
	if (len == 0) {
		cur_reset(s);
		return;
	}
	rest = xmalloc(len);
	memcpy(rest, s->cur + pos, len);
	cur_reset(s);
	for (i = 0; i < len;)
		cut_append(s, utf8_get(rest, len, &i));
	free(rest);
}

/* The most a segment may hold in bytes (for runs of punctuation). */
static size_t
byte_cap(const struct segmenter *s)
{
	size_t	m = s->o.max_len + SEGMENT_WORD_MAX;

	return m > SIZE_MAX / 8 - 1024 ? SIZE_MAX : m * 8 + 1024;
}

/*
 * cur has passed max_len: cut at the best soft end in reach, else at a
 * space, else before the word or the wide code point that passed it.
 * A narrow word is left to grow up to SEGMENT_WORD_MAX (URLs stay
 * whole).  0 if nothing is cut yet.
 */
static int
force_cut(struct segmenter *s)
{
	size_t	half = s->o.max_len / 2, minl = s->o.min_len;

	if (minl == 0)
		minl = 1;
	if (s->cur_len > byte_cap(s)) {
		cut_at(s, s->last_pos > 0 ? s->last_pos : s->cur_len);
		return 1;
	}
	if (s->soft_pos > 0 && s->soft_elen >= half && s->soft_elen >= minl)
		cut_at(s, s->soft_pos);
	else if (s->space_pos > 0 && s->space_elen >= half &&
	    s->space_elen >= minl)
		cut_at(s, s->space_pos);
	else if (s->soft_pos > 0 && s->soft_elen >= minl)
		cut_at(s, s->soft_pos);
	else if (s->space_pos > 0 && s->space_elen >= minl)
		cut_at(s, s->space_pos);
	else if (s->last_wide)
		cut_at(s, s->last_pos > 0 && s->last_elen > 0 ?
		    s->last_pos : s->cur_len);
	else if (s->run_pos > 0 && s->run_elen >= minl)
		cut_at(s, s->run_pos);
	else if (s->elen - s->run_elen <= SEGMENT_WORD_MAX)
		return 0;
	else
		cut_at(s, s->last_pos > 0 ? s->last_pos : s->cur_len);
	return 1;
}

static void
check_len(struct segmenter *s)
{
	while ((s->elen > s->o.max_len || s->cur_len > byte_cap(s)) &&
	    force_cut(s))
		s->tail = 1;
}

/* A hard end, a newline or the end of the reply. */
static void
boundary(struct segmenter *s, int final)
{
	size_t		i;
	uint32_t	c;

	while (s->cur_len > 0 && s->cur[s->cur_len - 1] == ' ') {
		s->cur_len--;
		s->elen--;
	}
	if (s->cur_len == 0)
		return;
	/* A short sentence is joined with the next; not the short rest of
	 * a long one that was cut: a client cuts at its end too. */
	if (!final && s->elen < s->o.min_len && !s->tail &&
	    text_speakable(s->cur, s->cur_len)) {
		/* Joined with the next, by a space unless after a CJK
		 * full stop or the like. */
		i = s->cur_len - 1;
		while (i > 0 && ((unsigned char)s->cur[i] & 0xc0) == 0x80)
			i--;
		c = utf8_get(s->cur, s->cur_len, &i);
		if (!is_wide(c) || punct_kind(c) == P_NONE)
			cut_append(s, ' ');
		return;
	}
	emit(s, s->cur, s->cur_len);
	cur_reset(s);
	s->tail = 0;
}

static int
str_in(const char *w, const char *const *list)
{
	for (; *list != NULL; list++) {
		if (strcmp(w, *list) == 0)
			return 1;
	}
	return 0;
}

/*
 * Is the '.' about to be appended (followed by a space) part of an
 * abbreviation rather than a sentence end?  1 yes, 0 no, -1 need more.
 * k is the look-ahead index just past the '.'.
 */
static int
abbrev(const struct segmenter *s, size_t k)
{
	static const char *const never[] = { "mr", "mrs", "ms", "dr", "prof",
	    "sr", "jr", "st", "mt", "vs", "e.g", "i.e", "cf", "fig", "approx",
	    "viz", NULL };
	static const char *const before_lower[] = { "etc", "inc", "ltd",
	    "co", "corp", "jan", "feb", "mar", "apr", "jun", "jul", "aug",
	    "sep", "sept", "oct", "nov", "dec", "a.m", "p.m", "u.s", "u.k",
	    "u.n", "e.u", "no", NULL };
	char		 w[8];
	size_t		 i, n = 0;
	uint32_t	 d;
	int		 cat;

	for (i = s->cur_len; i > 0 && n < sizeof w; i--, n++) {
		d = (unsigned char)s->cur[i - 1];
		if (!((d | 0x20) >= 'a' && (d | 0x20) <= 'z') && d != '.')
			break;
	}
	if (n == 0 || n == sizeof w)
		return 0;
	if (i > 0 && is_ascii_alnum((unsigned char)s->cur[i - 1]))
		return 0;
	for (n = 0; i < s->cur_len; i++, n++)
		w[n] = (char)((unsigned char)s->cur[i] | 0x20);
	w[n] = '\0';
	/* A single capital is an initial (J. R. R. Tolkien). */
	if (n == 1 && s->cur[s->cur_len - 1] >= 'A' &&
	    s->cur[s->cur_len - 1] <= 'Z')
		return 1;
	if (str_in(w, never))
		return 1;
	if (!str_in(w, before_lower))
		return 0;
	/* "etc." ends the sentence unless a lower-case word or a number
	 * follows. */
	if (qla(s, k) == ' ')
		k++;
	d = qla(s, k);
	if (d == LA_MORE)
		return -1;
	if (d == LA_EOF || d == '\n')
		return 0;
	if (d < 0x80)
		return (d >= 'a' && d <= 'z') || (d >= '0' && d <= '9');
	cat = cat_of(d);
	return cat == UTF8PROC_CATEGORY_LL ||
	    (cat >= UTF8PROC_CATEGORY_ND && cat <= UTF8PROC_CATEGORY_NO);
}

/* One step of the cutter: 1 progress, 0 need more, -1 at the end. */
static int
cut_step(struct segmenter *s)
{
	uint32_t	c, d;
	size_t		k, i;
	int		kind, ok, r;

	c = qla(s, 0);
	if (c == LA_MORE)
		return 0;
	if (c == LA_EOF) {
		boundary(s, 1);
		return -1;
	}
	if (c == '\n') {
		s->q.off++;
		boundary(s, 0);
		return 1;
	}
	kind = punct_kind(c);
	if (kind == P_NONE) {
		s->q.off++;
		cut_append(s, c);
		check_len(s);
		return 1;
	}
	/* Closing quotes and brackets (and, after a hard end, more hard
	 * ends: "?!", "...") stay with the punctuation. */
	for (k = 1;; k++) {
		d = qla_end(s, k);
		if (d == LA_MORE)
			return 0;
		if (k == 32 || (!is_closer(d) && (kind != P_HARD ||
		    punct_kind(d) != P_HARD)))
			break;
	}
	ok = 1;
	if (c < 0x80) {
		/* ASCII punctuation ends only before a space or a wide
		 * character: not in 3.14, 1,000, 10:30, v1.2.3, a.txt,
		 * https://x.y/?q=1 */
		ok = d == LA_EOF || d == ' ' || d == '\n' || is_wide(d);
		if (ok && c == '.' && k == 1) {
			r = abbrev(s, k);
			if (r < 0)
				return 0;
			ok = !r;
		}
	}
	for (i = 0; i < k; i++)
		cut_append(s, qla(s, i));
	s->q.off += k;
	if (ok && kind == P_HARD)
		boundary(s, 0);
	else if (ok) {
		s->soft_pos = s->run_pos = s->cur_len;
		s->soft_elen = s->run_elen = s->elen;
		if (s->nemitted == 0 && s->o.first_len > 0 &&
		    s->elen >= s->o.first_len)
			boundary(s, 0);
	}
	check_len(s);
	return 1;
}

/* Run both stages as far as the text allows. */
static void
run(struct segmenter *s)
{
	int	r;

	if (s->done)
		return;
	while ((r = clean_step(s)) > 0)
		;
	if (r < 0)
		s->q_eof = 1;
	if (s->clean_only)
		return;
	while ((r = cut_step(s)) > 0)
		;
	if (r < 0)
		s->done = 1;
	if (s->q.off == s->q.len)
		s->q.off = s->q.len = 0;
}

void
segment_opts_default(struct segment_opts *o)
{
	o->min_len = SEGMENT_MIN_LEN;
	o->max_len = SEGMENT_MAX_LEN;
	o->first_len = SEGMENT_FIRST_LEN;
}

struct segmenter *
segment_new(const struct segment_opts *o)
{
	struct segmenter	*s;

	s = xcalloc(1, sizeof *s);
	if (o != NULL)
		s->o = *o;
	else
		segment_opts_default(&s->o);
	if (s->o.max_len == 0)
		s->o.max_len = 1;
	if (s->o.min_len > s->o.max_len)
		s->o.min_len = s->o.max_len;
	s->prev = '\n';
	s->line_start = 1;
	s->last_out = '\n';
	return s;
}

void
segment_free(struct segmenter *s)
{
	size_t	i;

	if (s == NULL)
		return;
	for (i = s->out_head; i < s->out_len; i++)
		free(s->out[i]);
	free(s->out);
	free(s->in.v);
	free(s->q.v);
	free(s->cur);
	free(s);
}

void
segment_feed(struct segmenter *s, const char *p, size_t len)
{
	size_t	n;

	/* In slices, so the code point buffers stay in cache. */
	while (!s->in_eof && len > 0) {
		n = len < 16384 ? len : 16384;
		decode(s, (const unsigned char *)p, n);
		run(s);
		p += n;
		len -= n;
	}
}

void
segment_finish(struct segmenter *s)
{
	if (s->in_eof)
		return;
	s->in_eof = 1;
	s->dneed = 0;
	run(s);
}

char *
segment_next(struct segmenter *s)
{
	char	*seg;

	if (s->out_head == s->out_len)
		return NULL;
	seg = s->out[s->out_head++];
	if (s->out_head == s->out_len)
		s->out_head = s->out_len = 0;
	return seg;
}

static char *
clean_text(const char *text, size_t len, int piece)
{
	struct segmenter	*s;
	char			*buf;
	size_t			 i, n = 0;
	uint32_t		 c;

	s = segment_new(NULL);
	s->clean_only = 1;
	s->piece = piece;
	segment_feed(s, text, len);
	segment_finish(s);
	buf = xreallocarray(NULL, s->q.len - s->q.off + 1, 4);
	for (i = s->q.off; i < s->q.len; i++) {
		c = s->q.v[i];
		if (c == '\n')
			c = ' ';
		if (c == ' ' && (n == 0 || buf[n - 1] == ' '))
			continue;
		n += utf8_put(buf + n, c);
	}
	while (n > 0 && buf[n - 1] == ' ')
		n--;
	if (!text_speakable(buf, n))
		n = 0;
	buf[n] = '\0';
	segment_free(s);
	return buf;
}

char *
segment_clean(const char *text, size_t len)
{
	return clean_text(text, len, 0);
}

char *
segment_clean_piece(const char *text, size_t len)
{
	return clean_text(text, len, 1);
}

void
segment_split(const struct segment_opts *o, const char *text, size_t len,
    void (*cb)(void *, const char *), void *arg)
{
	struct segmenter	*s;
	char			*seg;

	s = segment_new(o);
	segment_feed(s, text, len);
	segment_finish(s);
	while ((seg = segment_next(s)) != NULL) {
		cb(arg, seg);
		free(seg);
	}
	segment_free(s);
}

size_t
segment_len(const char *p, size_t len)
{
	size_t	i = 0, n = 0;

	while (i < len)
		n += cp_width(utf8_get(p, len, &i));
	return n;
}
