/* check: the tiny test harness the unit tests share. */
#ifndef TTSACCEL_CHECK_H
#define TTSACCEL_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_failed, check_passed;

#define CHECK(cond) do {						\
	if (cond)							\
		check_passed++;						\
	else {								\
		check_failed++;						\
		fprintf(stderr, "%s:%d: CHECK failed: %s\n",		\
		    __FILE__, __LINE__, #cond);				\
	}								\
} while (0)

#define CHECK_STR(got, want) do {					\
	const char *g_ = (got), *w_ = (want);				\
	if (g_ != NULL && w_ != NULL && strcmp(g_, w_) == 0)		\
		check_passed++;						\
	else {								\
		check_failed++;						\
		fprintf(stderr, "%s:%d: CHECK_STR failed: %s\n"		\
		    "   got: \"%s\"\n  want: \"%s\"\n", __FILE__, __LINE__,	\
		    #got, g_ ? g_ : "(null)", w_ ? w_ : "(null)");	\
	}								\
} while (0)

#define CHECK_INT(got, want) do {					\
	long long g_ = (long long)(got), w_ = (long long)(want);	\
	if (g_ == w_)							\
		check_passed++;						\
	else {								\
		check_failed++;						\
		fprintf(stderr, "%s:%d: CHECK_INT failed: %s: got %lld, "	\
		    "want %lld\n", __FILE__, __LINE__, #got, g_, w_);	\
	}								\
} while (0)

/* Print the summary and give the exit status. */
#define CHECK_DONE() (fprintf(stderr, "%s: %d checks passed, %d failed\n", \
	__FILE__, check_passed, check_failed), check_failed != 0)

#endif
