/* Unit tests for the replies kept for their audio: when they go (the
 * count, their time after they end, held ones kept until released). */
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "check.h"
#include "params.h"
#include "reply.h"
#include "util.h"

static const struct tts_params params = { "tts-1", "alloy", "wav", NULL, 1.0 };

/* Until more than usec have passed since t. */
static void
pass(uint64_t t, uint64_t usec)
{
	while (now_usec() - t <= usec)
		usleep(10000);
}

static struct reply *
finished(struct replies *rs, const char *id)
{
	struct reply	*r = reply_new(rs, id, &params);

	reply_finish(r, 1);
	return r;
}

/* Beyond the count, the oldest finished reply goes first; one still
 * running stays. */
static void
test_count(void)
{
	struct replies	*rs = replies_new(NULL, NULL, 2, 3600000000ULL);
	struct reply	*a;

	a = reply_new(rs, "a", &params);	/* still running */
	finished(rs, "b");
	finished(rs, "c");
	finished(rs, "d");
	CHECK(reply_find(rs, "a") == a);
	CHECK(reply_find(rs, "b") == NULL);
	CHECK(reply_find(rs, "c") == NULL);
	CHECK(reply_find(rs, "d") != NULL);
	reply_finish(a, 1);
	finished(rs, "e");
	CHECK(reply_find(rs, "a") == NULL);
	CHECK(reply_find(rs, "d") != NULL);
	CHECK(reply_find(rs, "e") != NULL);
	replies_free(rs);
}

/* After its time a finished reply goes; a held one stays until it is
 * released, and then goes at the next look; an older reply that ends
 * later keeps its own time.  The time is long, so that a check that
 * something stays does not depend on the machine's speed. */
static void
test_time(void)
{
	const uint64_t	 ttl = 1000000;
	struct replies	*rs = replies_new(NULL, NULL, 100, ttl);
	struct reply	*held, *late;
	uint64_t	 t;

	late = reply_new(rs, "late", &params);	/* the oldest */
	t = now_usec();
	finished(rs, "a");
	held = finished(rs, "held");
	reply_hold(held);
	CHECK(reply_find(rs, "a") != NULL);
	pass(t, ttl);
	CHECK(reply_find(rs, "a") == NULL);
	CHECK(reply_find(rs, "held") == held);
	CHECK(reply_find(rs, "late") == late);
	reply_finish(late, 1);
	t = now_usec();
	reply_release(held);
	CHECK(reply_find(rs, "held") == NULL);
	CHECK(reply_find(rs, "late") == late);
	pass(t, ttl);
	CHECK(reply_find(rs, "late") == NULL);
	replies_free(rs);
}

int
main(void)
{
	test_count();
	test_time();
	return CHECK_DONE();
}
