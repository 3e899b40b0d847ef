/* Unit tests for the matching fold (norm) and the span matcher. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "norm.h"
#include "span.h"

static const unsigned char seed[16] = "0123456789abcdef";

static char *
fold(const char *s)
{
	return norm_string(s, strlen(s), NULL);
}

/* a and b fold alike (same = 1) or not (same = 0). */
static void
alike(const char *a, const char *b, int same)
{
	char	*fa = fold(a), *fb = fold(b);

	if ((strcmp(fa, fb) == 0) != same) {
		fprintf(stderr, "'%s' -> '%s' and '%s' -> '%s' should%s fold "
		    "alike\n", a, fa, b, fb, same ? "" : " not");
		CHECK(0);
	} else
		CHECK(1);
	free(fa);
	free(fb);
}

static void
test_fold(void)
{
	char	*s;

	s = fold("Hello, World!");
	CHECK_STR(s, "helloworld");
	free(s);
	s = fold("Pi is 3.14, about 1,000 or 10:30.");
	CHECK_STR(s, "piis314about1000or1030");
	free(s);
	s = fold("");
	CHECK_STR(s, "");
	free(s);
	s = fold("…!!");
	CHECK_STR(s, "");
	free(s);
	/* width forms, full-width punctuation, case */
	alike("你好，世界。", "你好,世界.", 1);
	alike("ＡＢＣ１２３", "abc123", 1);
	alike("The U.S. economy", "the us economy", 1);
	/* markdown marks, emoji and whitespace */
	alike("**Bold** and _it_ 🎉", "Bold and it", 1);
	alike("## Heading\n\n- item one\n- item two", "Heading. item one. "
	    "item two", 1);
	alike("Thumbs 👍🏽 up", "Thumbs up", 1);
	alike("a\u00e9b", "ae\u0301b", 1);	/* composed or not */
	alike("Price: $5", "Price 5", 0);	/* currency is heard */
	alike("Python 3.12 and Node.js", "Python 3. 12 and Node. js", 1);
	alike("cat", "cut", 0);
	/* invalid bytes are dropped, not fatal */
	alike("ab\xff\xfe" "cd", "ab cd", 1);
}

static void
test_offsets(void)
{
	struct norm	n;
	const char	*in = "Hi, **there** 世界!";

	norm_text(in, strlen(in), &n);
	CHECK_STR(n.s, "hithere世界");
	CHECK_INT(n.src[0], 0);
	CHECK_INT(n.src[2], 6);		/* 't' of there */
	CHECK_INT(n.brk[2], 1);
	CHECK_INT(n.brk[1], 0);
	CHECK_INT(n.src[7], 14);	/* 世 */
	CHECK_INT(n.brk[7], 1);
	CHECK_INT(n.src[n.len], strlen(in));
	CHECK_INT(n.brk[n.len], 1);
	norm_free(&n);
}

static int
accept_all(void *arg, void *owner)
{
	return 1;
}

static int
accept_not(void *arg, void *owner)
{
	return owner != arg;
}

static void
add(struct span_index *x, void *owner, size_t idx, const char *text)
{
	size_t	 len;
	char	*s = norm_string(text, strlen(text), &len);

	span_add(x, owner, idx, s, len);
	free(s);
}

static size_t
match(struct span_index *x, const char *text, struct span_part **v,
    size_t *matched, int (*acc)(void *, void *), void *arg)
{
	struct norm	n;
	size_t		np;

	norm_text(text, strlen(text), &n);
	np = span_match(x, &n, 0, NULL, acc, arg, v, matched);
	norm_free(&n);
	return np;
}

static void
test_match(void)
{
	struct span_index	*x = span_index_new(seed);
	struct span_part	*v;
	int			 r1, r2;
	size_t			 n, m;
	const char		*q;

	add(x, &r1, 0, "The weather today is sunny.");
	add(x, &r1, 1, "Take a hat with you.");
	add(x, &r1, 2, "Rain is due tomorrow.");
	add(x, &r2, 0, "Take a hat with you.");
	add(x, &r2, 1, "Something else entirely.");
	CHECK_INT(span_count(x), 5);

	/* a run of two, cut and cleaned the client's way */
	n = match(x, "the weather TODAY is sunny! take a hat, with you",
	    &v, &m, accept_all, NULL);
	CHECK_INT(n, 2);
	CHECK_INT(m, 2);
	CHECK(v[0].owner == &r1 && v[0].idx == 0);
	CHECK(v[1].owner == &r1 && v[1].idx == 1);	/* r1 goes on */
	free(v);

	/* the whole reply, as markdown */
	n = match(x, "**The weather** today is sunny.\n\n- Take a hat with "
	    "you.\n- Rain is due tomorrow.", &v, &m, accept_all, NULL);
	CHECK_INT(n, 3);
	CHECK_INT(m, 3);
	CHECK(n == 3 && v[2].owner == &r1 && v[2].idx == 2);
	free(v);

	/* alone, the newest owner of equal text wins */
	n = match(x, "Take a hat with you.", &v, &m, accept_all, NULL);
	CHECK(n == 1 && v[0].owner == &r2 && v[0].idx == 0);
	free(v);
	/* unless it may not be used */
	n = match(x, "Take a hat with you.", &v, &m, accept_not, &r2);
	CHECK(n == 1 && v[0].owner == &r1 && v[0].idx == 1);
	free(v);

	/* partial: a gap before, between and after */
	q = "Well. The weather today is sunny. And so on. Rain is due "
	    "tomorrow. Bye now.";
	n = match(x, q, &v, &m, accept_all, NULL);
	CHECK_INT(n, 5);
	CHECK_INT(m, 2);
	if (n == 5) {
		CHECK(v[0].owner == NULL);
		CHECK_INT(v[0].src_from, 0);
		CHECK_INT(v[0].src_to, 6);	/* "Well. " */
		CHECK(v[1].owner == &r1 && v[1].idx == 0);
		CHECK(v[2].owner == NULL);
		CHECK(strncmp(q + v[2].src_from, "And so on. ",
		    v[2].src_to - v[2].src_from) == 0);
		CHECK(v[3].owner == &r1 && v[3].idx == 2);
		CHECK(v[4].owner == NULL);
		CHECK_STR(q + v[4].src_from, "Bye now.");
		CHECK_INT(v[4].src_to, strlen(q));
	}
	free(v);

	/* a segment inside a word is not a match */
	n = match(x, "Xthe weather today is sunnyX", &v, &m, accept_all,
	    NULL);
	CHECK_INT(m, 0);
	CHECK_INT(n, 1);
	free(v);
	n = match(x, "the weather today is sunnyfoo", &v, &m, accept_all,
	    NULL);
	CHECK_INT(m, 0);
	free(v);

	/* nothing at all */
	n = match(x, "", &v, &m, accept_all, NULL);
	CHECK_INT(n, 0);
	free(v);
	span_index_free(x);
}

/* A text that ends inside a segment gets the whole segment, marked. */
static void
test_over(void)
{
	struct span_index	*x = span_index_new(seed);
	struct span_part	*v;
	struct norm		 n;
	int			 r;
	size_t			 np, m;
	const char		*q;

	add(x, &r, 0, "Upgrade first.");
	add(x, &r, 1, "This works in Git 2.40 and later.");
	add(x, &r, 2, "Done now.");
	q = "Upgrade first. This works in Git 2.";
	np = match(x, q, &v, &m, accept_all, NULL);
	CHECK_INT(np, 2);
	CHECK(np == 2 && v[1].idx == 1 && v[1].over && !v[0].over);
	free(v);
	/* not after a segment of another run, nor when too short */
	np = match(x, "Upgrade first. Done", &v, &m, accept_all, NULL);
	CHECK(m == 1 && !v[np - 1].over);
	free(v);
	/* from an offset: the rest of the client's next piece */
	q = "40 and later. Done now.";
	norm_text(q, strlen(q), &n);
	CHECK_STR(n.s, "40andlaterdonenow");
	np = span_match(x, &n, 10, NULL, accept_all, NULL, &v, &m);
	CHECK(np == 1 && m == 1 && v[0].idx == 2);
	CHECK(np == 1 && v[0].src_from == 14);
	free(v);
	norm_free(&n);
	span_index_free(x);
}

/* A client cut a few letters (or one CJK character) into the next
 * segment: too short for a bucket, taken as the start of the successor of
 * the segment before it, or of the one the text goes on from. */
static void
test_short_over(void)
{
	struct span_index	*x = span_index_new(seed);
	struct span_seg		*h0;
	struct span_part	*v;
	struct norm		 n;
	char			*s;
	int			 r, r2;
	size_t			 np, m, len;
	const char		*q;

	s = norm_string("A black hole forms when a massive star", 38, &len);
	h0 = span_add(x, &r, 0, s, len);
	free(s);
	add(x, &r, 1, "runs out of nuclear fuel and its core");
	add(x, &r, 2, "比如用番茄钟。");
	add(x, &r2, 0, "run away now");
	np = match(x, "A black hole forms when a massive star ru", &v, &m,
	    accept_all, NULL);
	CHECK(np == 2 && m == 2 && v[1].idx == 1 && v[1].owner == &r &&
	    v[1].over);
	free(v);
	/* not a successor's start: a gap, synthesised */
	np = match(x, "A black hole forms when a massive star xy", &v, &m,
	    accept_all, NULL);
	CHECK(np == 2 && m == 1 && v[1].owner == NULL);
	free(v);
	/* with nothing before it, too short to say whose it is */
	np = match(x, "ru", &v, &m, accept_all, NULL);
	CHECK(m == 0);
	free(v);
	/* one CJK character into the next segment */
	np = match(x, "runs out of nuclear fuel and its core 比", &v, &m,
	    accept_all, NULL);
	CHECK(np == 2 && m == 2 && v[1].idx == 2 && v[1].over);
	free(v);
	/* the next piece after one that ended inside segment 0 */
	q = "n a massive star runs o";
	norm_text(q, strlen(q), &n);
	np = span_match(x, &n, 13, h0, accept_all, NULL, &v, &m);
	CHECK(np == 1 && m == 1 && v[0].idx == 1 && v[0].over);
	free(v);
	/* without it, "runso" is only a gap */
	np = span_match(x, &n, 13, NULL, accept_all, NULL, &v, &m);
	CHECK(np == 1 && m == 0);
	free(v);
	norm_free(&n);
	/* another owner's whole segment says less than the segment the
	 * whole text is the start of */
	add(x, &r2, 1, "One.");
	add(x, &r, 3, "One tip is to keep a regular schedule.");
	np = match(x, "One tip is to keep a regular sch", &v, &m, accept_all,
	    NULL);
	CHECK(np == 1 && m == 1 && v[0].owner == &r && v[0].idx == 3 &&
	    v[0].over);
	free(v);
	np = match(x, "One. Two", &v, &m, accept_all, NULL);
	CHECK(np == 2 && m == 1 && v[0].owner == &r2);
	free(v);
	/* the successor must be usable */
	np = match(x, "A black hole forms when a massive star ru", &v, &m,
	    accept_not, &r);
	CHECK(m == 0);
	free(v);
	span_index_free(x);
}

/* Chinese: no spaces, segments cut at punctuation; a segment cut inside
 * a run (no separator) still matches when its successor follows. */
static void
test_cjk(void)
{
	struct span_index	*x = span_index_new(seed);
	struct span_part	*v;
	int			 r;
	size_t			 n, m;

	add(x, &r, 0, "今天天气很好，");
	add(x, &r, 1, "我们去公园散步吧。");
	add(x, &r, 2, "这是一个没有标点的很长的句子被切开");
	add(x, &r, 3, "成了两段");
	n = match(x, "今天天气很好, 我们去公园散步吧. 这是一个没有标点的很长的"
	    "句子被切开成了两段", &v, &m, accept_all, NULL);
	CHECK_INT(n, 4);
	CHECK_INT(m, 4);
	free(v);
	/* a client cut between two characters of the next segment: that
	 * segment whole, marked over */
	n = match(x, "这是一个没有标点的很长的句子被切开成了", &v, &m,
	    accept_all, NULL);
	CHECK_INT(m, 2);
	CHECK(n == 2 && v[1].idx == 3 && v[1].over);
	free(v);
	/* but not when what follows is not how the next one starts */
	n = match(x, "这是一个没有标点的很长的句子被切开两段", &v, &m,
	    accept_all, NULL);
	CHECK_INT(m, 0);
	free(v);
	span_index_free(x);
}

/* Many segments: the table grows, removal works. */
static void
test_many(void)
{
	struct span_index	*x = span_index_new(seed);
	struct span_seg		*h[500];
	struct span_part	*v;
	char			 buf[64];
	int			 owner;
	size_t			 i, n, m, len;
	char			*s;

	for (i = 0; i < 500; i++) {
		snprintf(buf, sizeof buf, "sentence number %zu here.", i);
		s = norm_string(buf, strlen(buf), &len);
		h[i] = span_add(x, &owner, i, s, len);
		free(s);
	}
	CHECK_INT(span_count(x), 500);
	n = match(x, "Sentence number 77 here. Sentence number 78 here.", &v,
	    &m, accept_all, NULL);
	CHECK(n == 2 && m == 2 && v[0].idx == 77 && v[1].idx == 78);
	free(v);
	for (i = 0; i < 500; i += 2)
		span_remove(x, h[i]);
	CHECK_INT(span_count(x), 250);
	/* the even ones are gone */
	n = match(x, "Sentence number 77 here.", &v, &m, accept_all, NULL);
	CHECK(n == 1 && m == 1);
	free(v);
	n = match(x, "Sentence number 78 here.", &v, &m, accept_all, NULL);
	CHECK(n == 1 && m == 0);
	free(v);
	span_remove(x, NULL);
	span_index_free(x);
}

int
main(void)
{
	test_fold();
	test_offsets();
	test_match();
	test_cjk();
	test_over();
	test_short_over();
	test_many();
	return CHECK_DONE();
}
