/* Unit tests for the model and voice name maps. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "ttsmap.h"

/* Parse must fail with a cause containing want. */
static void
fails(const char *spec, const char *want)
{
	struct ttsmap	*m;
	char		*cause = NULL;

	m = ttsmap_parse(spec, &cause);
	CHECK(m == NULL);
	CHECK(cause != NULL);
	if (cause == NULL)
		return;
	if (strstr(cause, want) == NULL) {
		fprintf(stderr, "'%s': cause '%s' lacks '%s'\n", spec, cause,
		    want);
		CHECK(0);
	}
	free(cause);
	ttsmap_free(m);
}

static void
test_parse_lookup(void)
{
	struct ttsmap	*m;
	char		*cause = NULL, *s;

	m = ttsmap_parse("tts-1=liang,tts-1-hd=liang", &cause);
	CHECK(m != NULL);
	CHECK(cause == NULL);
	CHECK_INT(ttsmap_count(m), 2);
	CHECK_STR(ttsmap_lookup(m, "tts-1"), "liang");
	CHECK_STR(ttsmap_lookup(m, "tts-1-hd"), "liang");
	CHECK(ttsmap_has(m, "tts-1"));
	CHECK(!ttsmap_has(m, "liang"));
	CHECK(!ttsmap_has(m, NULL));
	CHECK(!ttsmap_has(NULL, "tts-1"));
	/* Unmapped names pass unchanged; the very same pointer. */
	s = "gpt-4o-mini-tts";
	CHECK(ttsmap_lookup(m, s) == s);
	CHECK_STR(ttsmap_lookup(m, "liang"), "liang");
	/* Exact and case-sensitive: no prefixes, no case folding. */
	CHECK_STR(ttsmap_lookup(m, "TTS-1"), "TTS-1");
	CHECK_STR(ttsmap_lookup(m, "tts-"), "tts-");
	CHECK_STR(ttsmap_lookup(m, "tts-1 "), "tts-1 ");
	CHECK_STR(ttsmap_lookup(m, ""), "");
	CHECK(ttsmap_lookup(m, NULL) == NULL);
	s = ttsmap_string(m);
	CHECK_STR(s, "tts-1=liang,tts-1-hd=liang");
	free(s);
	ttsmap_free(m);
}

static void
test_whitespace_empty(void)
{
	struct ttsmap	*m;
	char		*cause = NULL, *s;

	m = ttsmap_parse("  alloy = v1 ,, ,\tnova=v2\t,", &cause);
	CHECK(m != NULL);
	CHECK_INT(ttsmap_count(m), 2);
	CHECK_STR(ttsmap_lookup(m, "alloy"), "v1");
	CHECK_STR(ttsmap_lookup(m, "nova"), "v2");
	CHECK_STR(ttsmap_lookup(m, " alloy"), " alloy");
	s = ttsmap_string(m);
	CHECK_STR(s, "alloy=v1,nova=v2");
	free(s);
	ttsmap_free(m);

	/* Nothing at all is the empty map. */
	m = ttsmap_parse("", &cause);
	CHECK(m != NULL);
	CHECK_INT(ttsmap_count(m), 0);
	CHECK_STR(ttsmap_lookup(m, "alloy"), "alloy");
	s = ttsmap_string(m);
	CHECK_STR(s, "");
	free(s);
	ttsmap_free(m);
	m = ttsmap_parse(" , ,", &cause);
	CHECK(m != NULL);
	CHECK_INT(ttsmap_count(m), 0);
	ttsmap_free(m);
	m = ttsmap_parse(NULL, &cause);
	CHECK(m != NULL);
	CHECK_INT(ttsmap_count(m), 0);
	ttsmap_free(m);

	/* A NULL map maps nothing. */
	CHECK_STR(ttsmap_lookup(NULL, "alloy"), "alloy");
	CHECK_INT(ttsmap_count(NULL), 0);
	ttsmap_free(NULL);
}

static void
test_one_step(void)
{
	struct ttsmap	*m;
	char		*cause = NULL;

	/* No chains: a=b,b=c maps a to b, not c; swaps work. */
	m = ttsmap_parse("a=b,b=c", &cause);
	CHECK_STR(ttsmap_lookup(m, "a"), "b");
	CHECK_STR(ttsmap_lookup(m, "b"), "c");
	ttsmap_free(m);
	m = ttsmap_parse("x=y,y=x", &cause);
	CHECK_STR(ttsmap_lookup(m, "x"), "y");
	CHECK_STR(ttsmap_lookup(m, "y"), "x");
	ttsmap_free(m);
	/* Case differs: two names. */
	m = ttsmap_parse("Alloy=v1,alloy=v2", &cause);
	CHECK(m != NULL);
	CHECK_STR(ttsmap_lookup(m, "Alloy"), "v1");
	CHECK_STR(ttsmap_lookup(m, "alloy"), "v2");
	ttsmap_free(m);
	/* UTF-8 names are bytes like any other. */
	m = ttsmap_parse("晓晓=xiaoxiao", &cause);
	CHECK_STR(ttsmap_lookup(m, "晓晓"), "xiaoxiao");
	ttsmap_free(m);
}

static void
test_duplicates(void)
{
	struct ttsmap	*m;
	char		*cause = NULL;

	/* The same pair twice is harmless: kept once. */
	m = ttsmap_parse("tts-1=liang, tts-1 = liang", &cause);
	CHECK(m != NULL);
	CHECK_INT(ttsmap_count(m), 1);
	CHECK_STR(ttsmap_lookup(m, "tts-1"), "liang");
	ttsmap_free(m);
	/* One name to two targets is an error, not last-wins. */
	fails("tts-1=liang,tts-1=other", "'tts-1' is mapped twice");
	fails("tts-1=liang,tts-1=other", "'other'");
	/* Two names to one target are fine. */
	m = ttsmap_parse("a=x,b=x", &cause);
	CHECK_INT(ttsmap_count(m), 2);
	ttsmap_free(m);
}

static void
test_errors(void)
{
	fails("a", "'a' is not a client=backend pair");
	fails("tts-1=liang,alloy", "'alloy'");
	fails("=b", "'=b' lacks the client name");
	fails("a=", "'a=' lacks the backend name");
	fails(" a = ", "'a=' lacks the backend name");
	fails("=", "'=' lacks the client name");
	fails("a=b=c", "'a=b=c' has more than one '='");
	fails("ok=fine, =b ,c=d", "'=b'");
}

int
main(void)
{
	test_parse_lookup();
	test_whitespace_empty();
	test_one_step();
	test_duplicates();
	test_errors();
	return CHECK_DONE();
}
