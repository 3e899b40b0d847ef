/*
 * test_segment: the segmenter on hand-written cases, on the corpus of
 * LLM replies under tests/segment/, and the cut-independence property.
 *
 * Corpus files (tests/segment/NAME.txt) hold records:
 *
 *	@@@ case NAME [min=N] [max=N] [first=N]
 *	the input, any number of lines
 *	@@@ expect
 *	one expected segment per line
 *
 * The input's last newline is not part of it.  Lines before the first
 * record and blank lines in the expected part are ignored.
 *
 * Usage: test_segment [corpus-dir]
 */

#include <glob.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "segment.h"
#include "util.h"

struct segs {
	char	**v;
	size_t	  n, cap;
};

static void
segs_add(struct segs *ss, const char *seg)
{
	if (ss->n == ss->cap) {
		ss->cap = ss->cap ? ss->cap * 2 : 16;
		ss->v = xreallocarray(ss->v, ss->cap, sizeof *ss->v);
	}
	ss->v[ss->n++] = xstrdup(seg);
}

static void
segs_clear(struct segs *ss)
{
	size_t	i;

	for (i = 0; i < ss->n; i++)
		free(ss->v[i]);
	free(ss->v);
	memset(ss, 0, sizeof *ss);
}

static int
segs_eq(const struct segs *a, const struct segs *b)
{
	size_t	i;

	if (a->n != b->n)
		return 0;
	for (i = 0; i < a->n; i++) {
		if (strcmp(a->v[i], b->v[i]) != 0)
			return 0;
	}
	return 1;
}

static void
segs_print(const char *what, const struct segs *ss)
{
	size_t	i;

	fprintf(stderr, "  %s (%zu):\n", what, ss->n);
	for (i = 0; i < ss->n; i++)
		fprintf(stderr, "    [%s]\n", ss->v[i]);
}

static void
drain(struct segmenter *s, struct segs *ss)
{
	char	*seg;

	while ((seg = segment_next(s)) != NULL) {
		segs_add(ss, seg);
		free(seg);
	}
}

/* Cut patterns for the property test. */
enum { FEED_WHOLE, FEED_CP, FEED_BYTE, FEED_RANDOM };

static uint64_t
rnd(uint64_t *st)
{
	*st ^= *st << 13;
	*st ^= *st >> 7;
	*st ^= *st << 17;
	return *st;
}

static void
run_feed(const struct segment_opts *o, const char *text, size_t len,
    int how, uint64_t seed, struct segs *ss)
{
	struct segmenter	*s;
	size_t			 i = 0, n;

	s = segment_new(o);
	while (i < len) {
		switch (how) {
		case FEED_WHOLE:
			n = len - i;
			break;
		case FEED_CP:
			n = 1;
			while (i + n < len &&
			    ((unsigned char)text[i + n] & 0xc0) == 0x80)
				n++;
			break;
		case FEED_BYTE:
			n = 1;
			break;
		default:
			n = 1 + rnd(&seed) % 7;
			if (n > len - i)
				n = len - i;
			break;
		}
		segment_feed(s, text + i, n);
		i += n;
		drain(s, ss);
	}
	segment_finish(s);
	drain(s, ss);
	segment_free(s);
}

/* Nothing empty, nothing invalid, nothing over the bound. */
static void
check_invariants(const struct segment_opts *o, const struct segs *ss)
{
	size_t	i, len;
	char	*c;

	for (i = 0; i < ss->n; i++) {
		len = strlen(ss->v[i]);
		CHECK(len > 0);
		CHECK(utf8_valid(ss->v[i], len));
		CHECK(ss->v[i][0] != ' ' && ss->v[i][len - 1] != ' ');
		CHECK(segment_len(ss->v[i], len) <=
		    o->max_len + SEGMENT_WORD_MAX + 2);
		c = segment_clean(ss->v[i], len);
		if (strcmp(c, ss->v[i]) != 0)
			fprintf(stderr, "  note: clean not idempotent: [%s] -> "
			    "[%s]\n", ss->v[i], c);
		free(c);
	}
}

static int
property(const char *name, const struct segment_opts *o, const char *text,
    size_t len)
{
	struct segs	 whole = { 0 }, other = { 0 };
	int		 how, ok = 1;
	uint64_t	 seed;
	const char	*hows[] = { "whole", "code point", "byte", "random" };

	run_feed(o, text, len, FEED_WHOLE, 0, &whole);
	check_invariants(o, &whole);
	for (how = FEED_CP; how <= FEED_RANDOM; how++) {
		for (seed = 1; seed <= (how == FEED_RANDOM ? 8 : 1); seed++) {
			run_feed(o, text, len, how, seed * 0x9e3779b97f4a7c15ULL,
			    &other);
			if (!segs_eq(&whole, &other)) {
				fprintf(stderr, "%s: fed by %s (seed %llu) "
				    "differs\n", name, hows[how],
				    (unsigned long long)seed);
				segs_print("whole", &whole);
				segs_print(hows[how], &other);
				ok = 0;
			}
			segs_clear(&other);
		}
	}
	CHECK(ok);
	segs_clear(&whole);
	return ok;
}

/* Corpus. */

struct ccase {
	char			*name;
	struct segment_opts	 o;
	char			*input;
	size_t			 input_len;
	struct segs		 want;
};

static void
parse_opts(char *p, struct segment_opts *o)
{
	char		*tok;
	const char	*err;
	long long	 v;

	while ((tok = strsep(&p, " ")) != NULL) {
		if (strncmp(tok, "min=", 4) == 0 &&
		    parse_ll(tok + 4, 0, 10000, &v, &err) == 0)
			o->min_len = (size_t)v;
		else if (strncmp(tok, "max=", 4) == 0 &&
		    parse_ll(tok + 4, 1, 10000, &v, &err) == 0)
			o->max_len = (size_t)v;
		else if (strncmp(tok, "first=", 6) == 0 &&
		    parse_ll(tok + 6, 0, 10000, &v, &err) == 0)
			o->first_len = (size_t)v;
	}
}

static int ncases;

static void
run_case(const char *file, struct ccase *c)
{
	struct segs	got = { 0 };

	ncases++;
	run_feed(&c->o, c->input, c->input_len, FEED_WHOLE, 0, &got);
	if (!segs_eq(&got, &c->want)) {
		fprintf(stderr, "%s: case %s: segments differ\n", file,
		    c->name);
		segs_print("got", &got);
		segs_print("want", &c->want);
		CHECK(!"corpus case");
	} else
		CHECK(1);
	property(c->name, &c->o, c->input, c->input_len);
	segs_clear(&got);
}

static void
run_file(const char *path)
{
	FILE		*f;
	char		*line = NULL, *p;
	size_t		 cap = 0, ilen = 0, icap = 0;
	ssize_t		 n;
	int		 state = 0;	/* 0 none, 1 input, 2 expect */
	struct ccase	 c = { 0 };

	if ((f = fopen(path, "r")) == NULL) {
		fprintf(stderr, "%s: cannot open\n", path);
		CHECK(!"corpus file");
		return;
	}
	for (;;) {
		n = getline(&line, &cap, f);
		if (n < 0 || strncmp(line, "@@@ case ", 9) == 0) {
			if (state == 2) {
				c.input_len = ilen;
				if (ilen > 0 && c.input[ilen - 1] == '\n')
					c.input_len--;
				run_case(path, &c);
				segs_clear(&c.want);
				free(c.name);
			}
			if (n < 0)
				break;
			if (line[n - 1] == '\n')
				line[--n] = '\0';
			p = line + 9;
			c.name = xstrdup(strsep(&p, " "));
			segment_opts_default(&c.o);
			if (p != NULL)
				parse_opts(p, &c.o);
			ilen = 0;
			state = 1;
			continue;
		}
		if (state == 1 && strcmp(line, "@@@ expect\n") == 0) {
			state = 2;
			continue;
		}
		if (state == 1) {
			if (icap - ilen < (size_t)n + 1) {
				icap = (ilen + n + 1) * 2;
				c.input = xrealloc(c.input, icap);
			}
			memcpy(c.input + ilen, line, n);
			ilen += n;
			continue;
		}
		if (state == 2) {
			if (n > 0 && line[n - 1] == '\n')
				line[--n] = '\0';
			if (n > 0)
				segs_add(&c.want, line);
		}
	}
	free(c.input);
	free(line);
	fclose(f);
}

static void
run_corpus(const char *dir)
{
	glob_t	g;
	char	*pat;
	size_t	i;

	pat = xasprintf("%s/*.txt", dir);
	if (glob(pat, 0, NULL, &g) != 0) {
		fprintf(stderr, "no corpus in %s\n", dir);
		CHECK(!"corpus found");
		free(pat);
		return;
	}
	for (i = 0; i < g.gl_pathc; i++)
		run_file(g.gl_pathv[i]);
	globfree(&g);
	free(pat);
	fprintf(stderr, "corpus: %d cases\n", ncases);
	CHECK(ncases >= 60);
}

/* Hand-written unit cases. */

static void
split_cb(void *arg, const char *seg)
{
	segs_add(arg, seg);
}

/* Split with the defaults and compare with a NULL-terminated list. */
static void
expect_split(const char *text, const char *const *want)
{
	struct segs	got = { 0 }, w = { 0 };
	struct segment_opts o;

	segment_opts_default(&o);
	for (; *want != NULL; want++)
		segs_add(&w, *want);
	segment_split(&o, text, strlen(text), split_cb, &got);
	if (!segs_eq(&got, &w)) {
		fprintf(stderr, "split of [%s] differs\n", text);
		segs_print("got", &got);
		segs_print("want", &w);
		CHECK(!"split");
	} else
		CHECK(1);
	property(text, &o, text, strlen(text));
	segs_clear(&got);
	segs_clear(&w);
}

#define SPLIT(text, ...) do {						\
	const char *const w_[] = { __VA_ARGS__, NULL };			\
	expect_split(text, w_);						\
} while (0)
#define SPLIT_NONE(text) do {						\
	const char *const w_[] = { NULL };				\
	expect_split(text, w_);						\
} while (0)

static void
test_clean(void)
{
	char	*c;

#define CLEAN(in, want) do {						\
	c = segment_clean(in, strlen(in));				\
	CHECK_STR(c, want);						\
	free(c);							\
} while (0)
	CLEAN("**Hello** _world_!", "Hello world!");
	CLEAN("# Title\n\n- one\n- two", "Title one two");
	CLEAN("See [the docs](https://x.org/a_(b)) now.", "See the docs now.");
	CLEAN("![logo](a.png) Done.", "Done.");
	CLEAN("Run `ls -l` here.", "Run ls -l here.");
	CLEAN("Unclosed `ls -l here.", "Unclosed ls -l here.");
	CLEAN("Say ``a ` b`` now.", "Say a ` b now.");
	CLEAN("Folded ```js f(); ``` block.", "Folded block.");
	CLEAN("```sh\nrm -rf /\n```\nDone.", "Done.");
	CLEAN("a<br>b <b>c</b>", "a b c");
	/* a title in ASCII angle brackets is no tag: spoken */
	CLEAN("读<Python编程:从入门到实践>。", "读<Python编程:从入门到实践>。");
	CLEAN("a <x-y z=1>b</x-y> <T>c", "a b c");
	CLEAN("Great 🎉🎉 job 👍🏽!", "Great job!");
	CLEAN("家👨‍👩‍👧人", "家 人");
	CLEAN("snake_case and __init__", "snake_case and init");
	CLEAN("2 * 3 = 6", "2 * 3 = 6");
	CLEAN("~~old~~ new ~5", "old new ~5");
	CLEAN("> quoted\n> more", "quoted more");
	CLEAN("| a | b |\n|---|:-:|\n| 1 | 2 |", "a, b 1, 2");
	CLEAN("| 名称 | 价格 |\n| --- | --- |", "名称，价格");
	CLEAN("| a. | b |\n| c: | d |", "a. b c: d");
	CLEAN("Done. `x`. Yes: `y`.", "Done. x. Yes: y.");
	CLEAN("Done.`x`. Yes:`y`.", "Done.x. Yes:y.");
	CLEAN("<https://example.com/x>", "https://example.com/x");
	CLEAN("\\*not emphasis\\*", "*not emphasis*");
	CLEAN("  lots \t of\r\n  space  ", "lots of space");
	CLEAN("🎉🎉", "");
	CLEAN("---", "");
	CLEAN("", "");
	CLEAN("a\xff\xfe b \xe4\xbd", "a b");
	CLEAN("25°C, 30℃, 5㎡", "25°C, 30℃, 5㎡");
	CLEAN("Hello\xe2\x80\x8bworld", "Helloworld");
	/* numbered headings: their numbers go, as list numbers do */
	CLEAN("**2. 多吃时令蔬菜。**", "多吃时令蔬菜。");
	CLEAN("**3.** Boil it.\n## 4) Rest", "Boil it. Rest");
	CLEAN("# 1984 was a year.", "1984 was a year.");
#undef CLEAN
}

/* A piece of a reply, cut by a client: fences only dropped. */
static void
test_clean_piece(void)
{
	char	*c;

#define PIECE(in, want) do {						\
	c = segment_clean_piece(in, strlen(in));			\
	CHECK_STR(c, want);						\
	free(c);							\
} while (0)
	/* the end of code an earlier piece opened, then text */
	PIECE("x = 1\n```\n\nA few things to note.",
	    "x = 1 A few things to note.");
	/* an unclosed fence, whitespace folded by the client */
	PIECE("Here's a minimal example: ```python import pandas as pd",
	    "Here's a minimal example: python import pandas as pd");
	PIECE("```sh\nls\n```\nDone.", "sh ls Done.");
	PIECE("~~~\ncode\n~~~", "code");
	/* the rest as segment_clean has it */
	PIECE("Run `ls -l` **now**.", "Run ls -l now.");
	PIECE("1. First\n2. Second", "First Second");
	PIECE("", "");
	/* a reply's segment_clean still drops the code */
	c = segment_clean("x = 1\n```\n\nA few things to note.",
	    strlen("x = 1\n```\n\nA few things to note."));
	CHECK_STR(c, "x = 1");
	free(c);
#undef PIECE
}

static void
test_split(void)
{
	SPLIT("Hello there. How are you today?",
	    "Hello there.", "How are you today?");
	SPLIT("Pi is 3.14 and e is 2.718. Next one.",
	    "Pi is 3.14 and e is 2.718.", "Next one.");
	SPLIT("Mr. Smith met Dr. Jones at 3 p.m. today.",
	    "Mr. Smith met Dr. Jones at 3 p.m. today.");
	SPLIT("你好。今天天气很好！", "你好。今天天气很好！");
	SPLIT("今天天气很好。我们去公园散步吧！", "今天天气很好。",
	    "我们去公园散步吧！");
	SPLIT("He said \"Stop.\" Then he left the room.",
	    "He said \"Stop.\"", "Then he left the room.");
	SPLIT("Ok. Fine.", "Ok. Fine.");
	SPLIT("Done", "Done");
	SPLIT_NONE("");
	SPLIT_NONE("   \n\n  ");
	SPLIT_NONE("```\ncode only\n```");
	SPLIT_NONE("🎉 ... !!!");
}

static void
test_stream(void)
{
	struct segmenter	*s;
	char			*seg;
	struct segment_opts	 o;

	/* "3." must wait for what follows. */
	s = segment_new(NULL);
	segment_feed(s, "It costs about 3", 16);
	CHECK(segment_next(s) == NULL);
	segment_feed(s, ".", 1);
	CHECK(segment_next(s) == NULL);
	segment_feed(s, "5 dollars. And", 14);
	seg = segment_next(s);
	CHECK_STR(seg, "It costs about 3.5 dollars.");
	free(seg);
	CHECK(segment_next(s) == NULL);
	segment_finish(s);
	seg = segment_next(s);
	CHECK_STR(seg, "And");
	free(seg);
	CHECK(segment_next(s) == NULL);
	/* Feeding after the end is ignored. */
	segment_feed(s, "more.", 5);
	segment_finish(s);
	CHECK(segment_next(s) == NULL);
	segment_free(s);

	/* A segment is ready before the reply ends. */
	s = segment_new(NULL);
	segment_feed(s, "First sentence here. Sec", 24);
	seg = segment_next(s);
	CHECK_STR(seg, "First sentence here.");
	free(seg);
	segment_free(s);	/* with text held back: no leak */

	/* first_len = 0 turns the early comma off. */
	segment_opts_default(&o);
	o.first_len = 0;
	s = segment_new(&o);
	segment_feed(s, "Well, that is a good question, really", 37);
	segment_finish(s);
	seg = segment_next(s);
	CHECK_STR(seg, "Well, that is a good question, really");
	free(seg);
	segment_free(s);
	segment_free(NULL);

	CHECK_INT(segment_len("abc", 3), 3);
	CHECK_INT(segment_len("中文", 6), 4);
	CHECK_INT(segment_len("a, b.", 5), 3);
}

/*
 * Feed text (whole, then code point by code point) and check the segments
 * ready before anything else is fed: want (NULL-terminated, may be empty).
 */
static void
expect_ready(const struct segment_opts *o, const char *text,
    const char *const *want)
{
	struct segs	got = { 0 }, w = { 0 };
	struct segmenter *s;
	size_t		i, n, len = strlen(text);
	int		how;

	for (; *want != NULL; want++)
		segs_add(&w, *want);
	for (how = 0; how < 2; how++) {
		s = segment_new(o);
		for (i = 0; i < len; i += n) {
			n = how == 0 ? len : 1;
			while (i + n < len &&
			    ((unsigned char)text[i + n] & 0xc0) == 0x80)
				n++;
			segment_feed(s, text + i, n);
			drain(s, &got);
		}
		if (!segs_eq(&got, &w)) {
			fprintf(stderr, "ready after [%s] (%s) differs\n",
			    text, how == 0 ? "whole" : "code points");
			segs_print("got", &got);
			segs_print("want", &w);
			CHECK(!"ready");
		} else
			CHECK(1);
		segs_clear(&got);
		segment_free(s);
	}
	segs_clear(&w);
}

#define READY(o, text, ...) do {					\
	const char *const w_[] = { __VA_ARGS__, NULL };			\
	expect_ready(o, text, w_);					\
} while (0)
#define READY_NONE(o, text) do {					\
	const char *const w_[] = { NULL };				\
	expect_ready(o, text, w_);					\
} while (0)

/*
 * A segment is ready as soon as the text fed so far decides it: a hard
 * end (or the first segment's soft end) followed by a space does not
 * wait for the next word, unless the rules need that word.
 */
static void
test_ready(void)
{
	struct segment_opts	 o, o0;
	struct segmenter	*s;
	char			*seg;

	segment_opts_default(&o);
	o0 = o;
	o0.first_len = 0;

	/* Decided by the space. */
	READY(&o, "Hello there. ", "Hello there.");
	READY(&o, "Hello there.  \t ", "Hello there.");
	READY(&o, "Wait a moment! ", "Wait a moment!");
	READY(&o, "Is it ready? ", "Is it ready?");
	READY(&o, "It is done; ", "It is done;");
	READY(&o, "He said \"Stop.\" ", "He said \"Stop.\"");
	READY(&o, "(It was late.) ", "(It was late.)");
	READY(&o, "Really?! ", "Really?!");
	READY(&o, "It costs 3. ", "It costs 3.");
	READY(&o, "We waited... ", "We waited...");
	READY(&o, "今天天气很好。 ", "今天天气很好。");
	READY(&o, "你好吗？我很好！ ", "你好吗？", "我很好！");
	READY(&o, "Hello there. Sec", "Hello there.");
	READY(&o, "**Hello there.** ", "Hello there.");
	READY(&o, "Hello there. **", "Hello there.");
	READY(&o, "Hello there. `co", "Hello there.");
	READY(&o, "Hello there. <b", "Hello there.");
	READY(&o, "| Hello there. |", "Hello there.");
	READY(&o, "Hello there. Mr. Smith came. ", "Hello there.",
	    "Mr. Smith came.");
	/* The first segment's soft end (first_len 10). */
	READY(&o, "Well, first of all, ", "Well, first of all,");
	READY(&o, "Well, first of all: ", "Well, first of all:");
	READY(&o, "首先，我们需要注意， ", "首先，我们需要注意，");

	/* Still waiting for what follows, as the rules need it. */
	READY_NONE(&o, "Hello there.");		/* "." ends before a space */
	READY_NONE(&o, "今天天气很好。");	/* a closing quote may follow */
	READY_NONE(&o, "It costs 3.");		/* 3.14 */
	READY_NONE(&o, "Wait! ");		/* under min_len: joined */
	READY_NONE(&o, "Hi. ");
	READY_NONE(&o, "你好。 ");
	READY_NONE(&o, "I met Mr. ");		/* never ends a sentence */
	READY_NONE(&o, "We met Dr. Smith and J. ");
	READY_NONE(&o, "We live in the U.S. ");	/* "U.S. today" */
	READY_NONE(&o, "Buy pears, plums etc. ");
	READY_NONE(&o, "See you at 3 p.m. ");
	READY_NONE(&o, "It happened in Jan. ");
	READY_NONE(&o, "Hello there.`x`");	/* "there.!" may follow */
	READY_NONE(&o, "1. ");			/* a list marker */
	/* A run of two closers after the end is not looked into. */
	READY_NONE(&o, "(He said \"Stop now.\") ");
	READY_NONE(&o, "Well, ");		/* under first_len */
	READY_NONE(&o0, "Well, first of all, ");	/* first_len off */
	READY(&o, "Hello there. Well, first of all, ", "Hello there.");

	/* What the held abbreviation becomes depends on the next word. */
	s = segment_new(NULL);
	segment_feed(s, "Buy pears etc. ", 15);
	CHECK(segment_next(s) == NULL);
	segment_feed(s, "T", 1);
	seg = segment_next(s);
	CHECK_STR(seg, "Buy pears etc.");
	free(seg);
	segment_free(s);
	s = segment_new(NULL);
	segment_feed(s, "Buy pears etc. ", 15);
	segment_feed(s, "a", 1);
	CHECK(segment_next(s) == NULL);
	segment_free(s);

	/* The firm space: what is removed after it, or a table's cell
	 * separator, cannot put what follows onto the sentence. */
	SPLIT("It is done. `x`! Yes it is.", "It is done.", "x! Yes it is.");
	SPLIT("It is done. 🎉! Yes it is.", "It is done.", "Yes it is.");
	SPLIT("It is done.`x`! Yes it is.", "It is done.x!", "Yes it is.");
	SPLIT("Call it like this: `f()`.", "Call it like this:", "f().");
	/* The short rest of a cut sentence stays apart from the next one
	 * (clients cut at its end), while a short sentence is joined. */
	SPLIT("Say you invest a thousand at an annual rate of 5%. After one "
	    "year you have more.", "Say you invest a thousand at an annual",
	    "rate of 5%.", "After one year you have more.");
	SPLIT("Ok. After one year you have more.",
	    "Ok. After one year you have more.");
	SPLIT("| Step one. | Do it now |", "Step one.", "Do it now");
	SPLIT("| 第一步。 | 现在去做 |", "第一步。", "现在去做");
}

/* Long text with no punctuation at all is cut near max_len. */
static void
test_long(void)
{
	struct segs		 got = { 0 };
	struct segment_opts	 o;
	char			 buf[4096];
	size_t			 i;

	segment_opts_default(&o);
	buf[0] = '\0';
	for (i = 0; i < 50; i++)
		strcat(buf, "word ");
	segment_split(&o, buf, strlen(buf), split_cb, &got);
	CHECK(got.n >= 6);
	for (i = 0; i < got.n; i++)
		CHECK(segment_len(got.v[i], strlen(got.v[i])) <= o.max_len);
	segs_clear(&got);
	property("words", &o, buf, strlen(buf));

	buf[0] = '\0';
	for (i = 0; i < 100; i++)
		strcat(buf, "长");
	segment_split(&o, buf, strlen(buf), split_cb, &got);
	CHECK_INT(got.n, 5);
	for (i = 0; i < got.n; i++)
		CHECK_INT(segment_len(got.v[i], strlen(got.v[i])), 40);
	segs_clear(&got);

	memset(buf, 'x', 300);
	buf[300] = '\0';
	segment_split(&o, buf, 300, split_cb, &got);
	for (i = 0; i < got.n; i++)
		CHECK(strlen(got.v[i]) <= SEGMENT_WORD_MAX + 1);
	segs_clear(&got);
	property("xs", &o, buf, 300);

	memset(buf, ',', 4000);
	buf[4000] = '\0';
	segment_split(&o, buf, 4000, split_cb, &got);
	CHECK_INT(got.n, 0);
	segs_clear(&got);
}

/* Inputs the fuzzer found, and other traps for cut-independence. */
static void
test_traps(void)
{
	static const char *const traps[] = {
		".....................\n\n2. \x0cirst\n-\n[x] done\n",
		"-\n[x] a\n- [ ]\n- [x]b\n* [\n",
		"`a``b```c````\n``` x\n```",
		"<a href=\"x\">y</a><br/><https://a.b/c> <!-- -->",
		"![a [b] c](d (e) f) [g](h) [1] [^2] [12](x)",
		"Mr. mr. etc. Etc. e.g. U.S. a.m. 3. 3.5 ... !!! ??? ;;; ,,, ::",
		"\xe4\xbd\xa0\xe5\xa5\xbd\xe3\x80\x82\xe2\x80\x9d\xef\xbc\x89",
		"\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9 \xed\xa0\x80 "
		    "\xc0\xaf \xf4\x90\x80\x80 \xe0\x80",
		"| a | b |\n|:-|-:|\n| c |\n---|---\n===\n***\n_ _ _",
		NULL
	};
	struct segment_opts	 o;
	size_t			 i;

	for (i = 0; traps[i] != NULL; i++) {
		segment_opts_default(&o);
		property(traps[i], &o, traps[i], strlen(traps[i]));
		o.min_len = 0;
		o.max_len = 3;
		o.first_len = 1;
		property(traps[i], &o, traps[i], strlen(traps[i]));
	}
}

int
main(int argc, char **argv)
{
	test_clean();
	test_clean_piece();
	test_split();
	test_stream();
	test_ready();
	test_long();
	test_traps();
	run_corpus(argc > 1 ? argv[1] : "tests/segment");
	return CHECK_DONE();
}
