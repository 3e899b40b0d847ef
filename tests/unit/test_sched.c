/*
 * test_sched: the scheduler on virtual time.  Priority order, promotion,
 * capacity under random completion, least-loaded and latency-weighted
 * choice, retries on another endpoint, the circuit breaker, probes,
 * draining and removal, keep-warm jobs, cancel (queued and running), and
 * 100 000 jobs.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "sched.h"
#include "util.h"

#define SEC	1000000ULL

static struct sched *
new_sched(int retries, int threshold, uint64_t open_usec)
{
	struct sched_opts	o;

	memset(&o, 0, sizeof o);
	o.retries = retries;
	o.fail_threshold = threshold;
	o.open_usec = open_usec;
	return sched_new(&o);
}

static struct sched_ep_info
info(struct sched_ep *ep)
{
	struct sched_ep_info	i;

	sched_ep_info(ep, &i);
	return i;
}

/* A job's identity in tests: reply * 100 + segment, as a pointer. */
#define TAG(n)		((void *)(uintptr_t)(n))
#define UNTAG(p)	((int)(uintptr_t)(p))

/* Run the next job and finish it at once; its tag, or -1. */
static int
run_one(struct sched *s, uint64_t now)
{
	struct sched_job	*j;
	struct sched_ep		*ep;
	int			 tag;

	if (sched_next(s, now, &j, &ep) != 0)
		return -1;
	tag = UNTAG(sched_job_user(j));
	CHECK_INT(sched_done(s, j, ep, 1, 1000, now), 0);
	return tag;
}

static void
test_order(void)
{
	struct sched	*s = new_sched(2, 3, 30 * SEC);
	int		 next[3] = { 0, 0, 0 }, r, k, seg, tag, bad = 0;
	uint64_t	 start[3] = { 100, 200, 300 }, now = 1000;

	sched_ep_add(s, "one", 1, 1, NULL);
	/* Three replies stream their segments interleaved, A ahead. */
	for (k = 0; k < 18; k++) {
		r = k % 3;
		if (k % 2 == 1 && next[0] < 6)
			r = 0;
		while (next[r] >= 6)
			r = (r + 1) % 3;
		sched_submit(s, SCHED_PREFETCH, (unsigned)next[r], start[r],
		    TAG(r * 100 + next[r]));
		next[r]++;
	}
	CHECK_INT(sched_queued(s), 18);
	for (seg = 0; seg < 6; seg++)
		for (r = 0; r < 3; r++) {
			tag = run_one(s, now++);
			if (tag != r * 100 + seg) {
				bad++;
				fprintf(stderr, "order: got %d want %d\n",
				    tag, r * 100 + seg);
			}
		}
	CHECK_INT(bad, 0);
	CHECK_INT(run_one(s, now), -1);

	/* Same age: submission order decides; class before index. */
	sched_submit(s, SCHED_PREFETCH, 1, 5, TAG(1));
	sched_submit(s, SCHED_PREFETCH, 0, 5, TAG(2));
	sched_submit(s, SCHED_PREFETCH, 0, 5, TAG(3));
	sched_submit(s, SCHED_ONDEMAND, 9, 9, TAG(4));
	sched_submit(s, SCHED_PREFETCH, 0, 1, TAG(5));
	CHECK_INT(run_one(s, now), 4);
	CHECK_INT(run_one(s, now), 5);
	CHECK_INT(run_one(s, now), 2);
	CHECK_INT(run_one(s, now), 3);
	CHECK_INT(run_one(s, now), 1);
	CHECK_INT(sched_queued(s), 0);
	CHECK_INT(sched_running(s), 0);
	sched_free(s);
}

static void
test_promote(void)
{
	struct sched		*s = new_sched(2, 3, 30 * SEC);
	struct sched_job	*j[10], *rj;
	struct sched_ep		*ep;
	int			 i;

	sched_ep_add(s, "one", 1, 1, NULL);
	for (i = 0; i < 10; i++)
		j[i] = sched_submit(s, SCHED_PREFETCH, (unsigned)i, 0, TAG(i));
	sched_promote(s, j[7]);
	CHECK_INT(run_one(s, 1), 7);
	sched_promote(s, j[9]);
	sched_promote(s, j[8]);
	CHECK_INT(run_one(s, 1), 8);	/* both on demand: index 8 first */
	CHECK_INT(run_one(s, 1), 9);
	CHECK_INT(run_one(s, 1), 0);
	/* Promoting a running job: a retry keeps the new class. */
	CHECK_INT(sched_next(s, 1, &rj, &ep), 0);
	CHECK_INT(UNTAG(sched_job_user(rj)), 1);
	sched_promote(s, rj);
	CHECK_INT(sched_done(s, rj, ep, 0, 10, 1), 1);
	CHECK_INT(run_one(s, 1), 1);
	CHECK_INT(run_one(s, 1), 2);
	sched_free(s);
}

static void
test_cancel(void)
{
	struct sched		*s = new_sched(2, 3, 30 * SEC);
	struct sched_job	*a, *b, *c, *rj;
	struct sched_ep		*ep, *e1;

	e1 = sched_ep_add(s, "one", 1, 1, NULL);
	a = sched_submit(s, SCHED_PREFETCH, 0, 0, TAG(1));
	b = sched_submit(s, SCHED_PREFETCH, 1, 0, TAG(2));
	c = sched_submit(s, SCHED_PREFETCH, 2, 0, TAG(3));
	(void)a;
	sched_cancel(s, b);
	CHECK_INT(sched_queued(s), 2);
	CHECK_INT(run_one(s, 1), 1);
	sched_cancel(s, c);
	CHECK_INT(sched_queued(s), 0);
	CHECK_INT(run_one(s, 1), -1);

	/* Cancel a retried job waiting in the queue. */
	sched_submit(s, SCHED_PREFETCH, 0, 0, TAG(4));
	CHECK_INT(sched_next(s, 1, &rj, &ep), 0);
	CHECK(ep == e1);
	CHECK_INT(sched_done(s, rj, ep, 0, 10, 1), 1);
	CHECK_INT(sched_queued(s), 1);
	sched_cancel(s, rj);
	CHECK_INT(sched_queued(s), 0);
	CHECK_INT(run_one(s, 1), -1);

	/* Freeing with queued and running jobs leaks nothing. */
	sched_submit(s, SCHED_PREFETCH, 0, 0, TAG(5));
	sched_submit(s, SCHED_WARM, 0, 0, TAG(6));
	CHECK_INT(sched_next(s, 1, &rj, &ep), 0);
	sched_submit(s, SCHED_PREFETCH, 0, 0, TAG(7));
	CHECK_INT(sched_done(s, rj, ep, 0, 10, 1), 1);
	sched_free(s);
}

struct running {
	struct sched_job	*j;
	struct sched_ep		*ep;
};

/*
 * Random jobs on endpoints with random max and weight, finished in
 * random order, one in ten failing: in-flight never above max, every job
 * ends exactly once.
 */
static void
test_capacity(void)
{
	enum { NJOBS = 5000, NEPS = 5 };
	struct sched		*s;
	struct sched_ep		*eps[NEPS];
	struct running		*run, x;
	struct sched_ep_info	 in;
	int			*finished, maxes[NEPS], over = 0, twice = 0;
	int			 i, k, e, r, submitted = 0, nrun = 0;
	int			 gaveup = 0, notonce = 0, retried = 0;
	uint64_t		 now = 0;
	char			 name[16];
	void			*u;

	srand(12345);
	s = new_sched(2, 1000000, SEC);
	finished = xcalloc(NJOBS, sizeof *finished);
	run = xcalloc(NJOBS, sizeof *run);
	for (e = 0; e < NEPS; e++) {
		snprintf(name, sizeof name, "ep%d", e);
		maxes[e] = 1 + rand() % 4;
		eps[e] = sched_ep_add(s, name, maxes[e],
		    0.5 + (rand() % 4) * 0.5, NULL);
	}
	while (submitted < NJOBS || sched_queued(s) > 0 || nrun > 0) {
		now += 1 + (uint64_t)(rand() % 1000);
		for (k = rand() % 8; k > 0 && submitted < NJOBS; k--) {
			sched_submit(s, rand() % 3, (unsigned)(rand() % 10),
			    now, TAG(submitted));
			submitted++;
		}
		while (sched_next(s, now, &x.j, &x.ep) == 0)
			run[nrun++] = x;
		for (e = 0; e < NEPS; e++) {
			in = info(eps[e]);
			if (in.inflight > maxes[e] || in.inflight < 0)
				over++;
		}
		CHECK(nrun > 0 || sched_queued(s) == 0 || submitted < NJOBS);
		if (nrun == 0 && sched_queued(s) > 0 && submitted == NJOBS)
			break;	/* stuck: reported above */
		for (k = rand() % 6; k > 0 && nrun > 0; k--) {
			i = rand() % nrun;
			x = run[i];
			run[i] = run[--nrun];
			u = sched_job_user(x.j);
			r = sched_done(s, x.j, x.ep, rand() % 10 != 0,
			    100 + (uint64_t)(rand() % 1000), now);
			if (r == 1) {
				retried++;
				continue;
			}
			if (r == -1)
				gaveup++;
			if (finished[UNTAG(u)]++ != 0)
				twice++;
		}
	}
	for (i = 0; i < NJOBS; i++)
		if (finished[i] != 1)
			notonce++;
	CHECK_INT(over, 0);
	CHECK_INT(twice, 0);
	CHECK_INT(notonce, 0);
	CHECK(retried > NJOBS / 20);
	CHECK(gaveup < NJOBS / 50);
	CHECK_INT(sched_running(s), 0);
	CHECK_INT(sched_queued(s), 0);
	free(finished);
	free(run);
	sched_free(s);
}

/* Start n jobs without finishing any; count them per endpoint. */
static void
start_n(struct sched *s, int n, struct sched_ep **eps, int neps, int *count)
{
	struct sched_job	*j;
	struct sched_ep		*ep;
	int			 i, e;

	for (i = 0; i < n; i++)
		sched_submit(s, SCHED_PREFETCH, 0, 0, NULL);
	for (i = 0; i < n; i++) {
		if (sched_next(s, 1, &j, &ep) != 0)
			break;
		for (e = 0; e < neps; e++)
			if (eps[e] == ep)
				count[e]++;
	}
}

static void
test_balance(void)
{
	struct sched		*s;
	struct sched_ep		*eps[3], *ep;
	struct sched_job	*j;
	int			 count[3], i, e;
	struct running		 r[64];
	uint64_t		 now;

	/* No latency known: fewest in flight, ties to the first added. */
	s = new_sched(2, 3, SEC);
	eps[0] = sched_ep_add(s, "a", 10, 1, NULL);
	eps[1] = sched_ep_add(s, "b", 10, 1, NULL);
	eps[2] = sched_ep_add(s, "c", 10, 1, NULL);
	for (i = 0; i < 6; i++) {
		sched_submit(s, SCHED_PREFETCH, 0, 0, NULL);
		CHECK_INT(sched_next(s, 1, &r[i].j, &r[i].ep), 0);
		CHECK(r[i].ep == eps[i % 3]);
	}
	CHECK_INT(sched_done(s, r[4].j, r[4].ep, 1, 500, 2), 0);
	/* b has known latency 500 now; the others assume the mean, 500. */
	sched_submit(s, SCHED_PREFETCH, 0, 0, NULL);
	CHECK_INT(sched_next(s, 3, &j, &ep), 0);
	CHECK(ep == eps[1]);
	CHECK_INT(info(eps[1]).inflight, 2);
	CHECK(info(eps[1]).ewma_usec == 500);
	sched_free(s);

	/* EWMA, alpha 0.3. */
	s = new_sched(2, 3, SEC);
	eps[0] = sched_ep_add(s, "a", 1, 1, NULL);
	for (i = 0; i < 2; i++) {
		sched_submit(s, SCHED_PREFETCH, 0, 0, NULL);
		CHECK_INT(sched_next(s, 1, &j, &ep), 0);
		CHECK_INT(sched_done(s, j, ep, 1, 1000 * (i + 1), 1), 0);
	}
	CHECK(info(eps[0]).ewma_usec > 1299.99 &&
	    info(eps[0]).ewma_usec < 1300.01);
	/* Failures leave it alone. */
	sched_submit(s, SCHED_PREFETCH, 0, 0, NULL);
	CHECK_INT(sched_next(s, 1, &j, &ep), 0);
	CHECK_INT(sched_done(s, j, ep, 0, 99999, 1), 1);
	CHECK(info(eps[0]).ewma_usec > 1299.99 &&
	    info(eps[0]).ewma_usec < 1300.01);
	sched_free(s);

	/* Latency: a 10x slower endpoint gets about a tenth. */
	s = new_sched(2, 3, SEC);
	eps[0] = sched_ep_add(s, "slow", 100, 1, NULL);
	eps[1] = sched_ep_add(s, "fast", 100, 1, NULL);
	sched_submit(s, SCHED_PREFETCH, 0, 0, NULL);
	sched_submit(s, SCHED_PREFETCH, 0, 0, NULL);
	for (e = 0; e < 2; e++)
		CHECK_INT(sched_next(s, 1, &r[e].j, &r[e].ep), 0);
	CHECK(r[0].ep == eps[0] && r[1].ep == eps[1]);
	for (e = 0; e < 2; e++)
		CHECK_INT(sched_done(s, r[e].j, r[e].ep, 1,
		    e == 0 ? 100000 : 10000, 1), 0);
	CHECK(info(eps[0]).ewma_usec == 100000);
	CHECK(info(eps[1]).ewma_usec == 10000);
	memset(count, 0, sizeof count);
	start_n(s, 44, eps, 2, count);
	CHECK_INT(count[0], 4);
	CHECK_INT(count[1], 40);
	sched_free(s);

	/* Weight 2 gets double. */
	s = new_sched(2, 3, SEC);
	eps[0] = sched_ep_add(s, "w1", 100, 1, NULL);
	eps[1] = sched_ep_add(s, "w2", 100, 2, NULL);
	memset(count, 0, sizeof count);
	start_n(s, 60, eps, 2, count);
	CHECK_INT(count[0], 20);
	CHECK_INT(count[1], 40);
	sched_free(s);

	/*
	 * Steady state on virtual time: jobs take 10 ms on "fast", 50 ms
	 * on "slow"; fast does most of the work.
	 */
	s = new_sched(2, 3, SEC);
	eps[0] = sched_ep_add(s, "slow", 4, 1, NULL);
	eps[1] = sched_ep_add(s, "fast", 4, 1, NULL);
	{
		struct { struct sched_job *j; struct sched_ep *ep;
		    uint64_t end; } fl[8];
		int	 nfl = 0, done_n = 0, k;

		memset(count, 0, sizeof count);
		now = 0;
		for (i = 0; i < 400; i++)
			sched_submit(s, SCHED_PREFETCH, (unsigned)i, 0, NULL);
		while (done_n < 400) {
			while (nfl < 8 && sched_next(s, now, &fl[nfl].j,
			    &fl[nfl].ep) == 0) {
				fl[nfl].end = now + (fl[nfl].ep == eps[0] ?
				    50000 : 10000);
				count[fl[nfl].ep == eps[1]]++;
				nfl++;
			}
			/* Finish the earliest. */
			for (k = 0, i = 1; i < nfl; i++)
				if (fl[i].end < fl[k].end)
					k = i;
			now = fl[k].end;
			CHECK_INT(sched_done(s, fl[k].j, fl[k].ep, 1,
			    fl[k].ep == eps[0] ? 50000 : 10000, now), 0);
			fl[k] = fl[--nfl];
			done_n++;
		}
		CHECK(count[1] > 3 * count[0]);
		CHECK(count[0] > 0);
	}
	sched_free(s);
}

static void
test_retry(void)
{
	struct sched		*s;
	struct sched_ep		*a, *b, *ep;
	struct sched_job	*j, *j2, *f, *x;

	/* A job failing on a runs next on b, even when a is cheaper. */
	s = new_sched(2, 100, SEC);
	a = sched_ep_add(s, "a", 4, 10, NULL);
	b = sched_ep_add(s, "b", 4, 1, NULL);
	sched_submit(s, SCHED_PREFETCH, 0, 0, TAG(1));
	CHECK_INT(sched_next(s, 1, &j, &ep), 0);
	CHECK(ep == a);
	CHECK_INT(sched_job_attempts(j), 1);
	CHECK_INT(sched_done(s, j, ep, 0, 10, 1), 1);
	CHECK_INT(sched_queued(s), 1);
	CHECK_INT(info(a).errors, 1);
	CHECK_INT(info(a).consecutive_errors, 1);
	CHECK_INT(sched_next(s, 1, &j2, &ep), 0);
	CHECK(j2 == j);
	CHECK(ep == b);
	CHECK_INT(sched_job_attempts(j), 2);
	/* Failing on b too: both are out, so it may use either again. */
	CHECK_INT(sched_done(s, j, ep, 0, 10, 1), 1);
	CHECK_INT(sched_next(s, 1, &j2, &ep), 0);
	CHECK(ep == a);
	CHECK_INT(sched_job_attempts(j), 3);
	/* Retries exhausted: attempts 3 > retries 2. */
	CHECK_INT(sched_done(s, j, ep, 0, 10, 1), -1);
	CHECK_INT(sched_queued(s), 0);
	CHECK_INT(sched_running(s), 0);
	/* A success resets the consecutive count. */
	sched_submit(s, SCHED_PREFETCH, 0, 0, TAG(1));
	CHECK_INT(sched_next(s, 1, &j, &ep), 0);
	CHECK(ep == a);
	CHECK_INT(info(a).consecutive_errors, 2);
	CHECK_INT(sched_done(s, j, ep, 1, 10, 1), 0);
	CHECK_INT(info(a).consecutive_errors, 0);
	CHECK_INT(info(a).errors, 2);
	CHECK_INT(info(a).done, 1);
	sched_free(s);

	/* retries 0: the first failure gives up. */
	s = new_sched(0, 100, SEC);
	a = sched_ep_add(s, "a", 1, 1, NULL);
	sched_submit(s, SCHED_PREFETCH, 0, 0, TAG(1));
	CHECK_INT(sched_next(s, 1, &j, &ep), 0);
	CHECK_INT(sched_done(s, j, ep, 0, 10, 1), -1);
	sched_free(s);

	/*
	 * The retried job is first in order but b, its only other choice,
	 * is full: it waits, and a later job takes a instead of starving.
	 */
	s = new_sched(2, 100, SEC);
	a = sched_ep_add(s, "a", 1, 1, NULL);
	b = sched_ep_add(s, "b", 1, 1, NULL);
	sched_submit(s, SCHED_ONDEMAND, 0, 0, TAG(1));
	sched_submit(s, SCHED_PREFETCH, 0, 0, TAG(2));
	CHECK_INT(sched_next(s, 1, &j, &ep), 0);
	CHECK(ep == a && UNTAG(sched_job_user(j)) == 1);
	CHECK_INT(sched_next(s, 1, &j2, &ep), 0);
	CHECK(ep == b && UNTAG(sched_job_user(j2)) == 2);
	CHECK_INT(sched_done(s, j, a, 0, 10, 2), 1);
	sched_submit(s, SCHED_PREFETCH, 5, 0, TAG(3));
	CHECK_INT(sched_next(s, 3, &f, &ep), 0);
	CHECK(ep == a && UNTAG(sched_job_user(f)) == 3);
	CHECK_INT(sched_next(s, 3, &x, &ep), -1);
	CHECK_INT(sched_done(s, j2, b, 1, 10, 4), 0);
	CHECK_INT(sched_next(s, 5, &x, &ep), 0);
	CHECK(x == j && ep == b);
	CHECK_INT(sched_done(s, x, ep, 1, 10, 5), 0);
	CHECK_INT(sched_done(s, f, a, 1, 10, 5), 0);

	/*
	 * Several retried jobs: they go in key order, each skipping where
	 * it failed.  Fail r1 (index 1) on a and r2 (index 0) on b.
	 */
	{
		struct sched_job	*r1, *r2, *g;
		struct sched_ep		*e1, *e2;

		sched_submit(s, SCHED_PREFETCH, 1, 0, TAG(11));
		sched_submit(s, SCHED_PREFETCH, 0, 9, TAG(12));
		CHECK_INT(sched_next(s, 6, &r2, &e2), 0);	/* index 0 */
		CHECK_INT(sched_next(s, 6, &r1, &e1), 0);
		CHECK(e2 == a && e1 == b);
		CHECK_INT(sched_done(s, r2, a, 0, 10, 7), 1);
		CHECK_INT(sched_done(s, r1, b, 0, 10, 7), 1);
		CHECK_INT(sched_next(s, 8, &g, &ep), 0);
		CHECK(g == r2 && ep == b);
		CHECK_INT(sched_next(s, 8, &g, &ep), 0);
		CHECK(g == r1 && ep == a);
		CHECK_INT(sched_done(s, r1, a, 1, 10, 9), 0);
		CHECK_INT(sched_done(s, r2, b, 1, 10, 9), 0);
	}
	sched_free(s);

	/* Only one endpoint: the retry runs there again. */
	s = new_sched(1, 100, SEC);
	a = sched_ep_add(s, "a", 1, 1, NULL);
	sched_submit(s, SCHED_PREFETCH, 0, 0, TAG(1));
	CHECK_INT(sched_next(s, 1, &j, &ep), 0);
	CHECK_INT(sched_done(s, j, ep, 0, 10, 1), 1);
	CHECK_INT(sched_next(s, 1, &j, &ep), 0);
	CHECK(ep == a);
	CHECK_INT(sched_done(s, j, ep, 1, 10, 1), 0);
	sched_free(s);
}

static void
test_circuit(void)
{
	struct sched		*s;
	struct sched_ep		*a, *b, *ep;
	struct sched_job	*j, *j2;
	int			 i;

	s = new_sched(0, 3, 30 * SEC);
	a = sched_ep_add(s, "a", 4, 1, NULL);
	CHECK_INT(sched_usable(s, 0), 1);
	for (i = 0; i < 3; i++) {
		CHECK_INT(info(a).state, SCHED_EP_UP);
		sched_submit(s, SCHED_PREFETCH, 0, 0, NULL);
		CHECK_INT(sched_next(s, 10, &j, &ep), 0);
		CHECK_INT(sched_done(s, j, ep, 0, 10, 10), -1);
	}
	CHECK_INT(info(a).state, SCHED_EP_OPEN);
	CHECK_INT(info(a).consecutive_errors, 3);
	CHECK_INT(sched_usable(s, 11), 0);
	sched_submit(s, SCHED_PREFETCH, 0, 0, NULL);
	sched_submit(s, SCHED_PREFETCH, 1, 0, NULL);
	CHECK_INT(sched_next(s, 11, &j, &ep), -1);
	CHECK_INT(sched_next(s, 10 + 30 * SEC - 1, &j, &ep), -1);
	CHECK_INT(sched_usable(s, 10 + 30 * SEC - 1), 0);
	/* Half-open after the pause: one job only. */
	CHECK_INT(sched_usable(s, 10 + 30 * SEC), 1);
	CHECK_INT(info(a).state, SCHED_EP_HALFOPEN);
	CHECK_INT(sched_next(s, 10 + 30 * SEC, &j, &ep), 0);
	CHECK_INT(sched_next(s, 10 + 30 * SEC, &j2, &ep), -1);
	/* It fails: open again, from now. */
	CHECK_INT(sched_done(s, j, a, 0, 10, 100 * SEC), -1);
	CHECK_INT(info(a).state, SCHED_EP_OPEN);
	CHECK_INT(sched_next(s, 100 * SEC + 29 * SEC, &j, &ep), -1);
	CHECK_INT(sched_next(s, 130 * SEC, &j, &ep), 0);
	CHECK_INT(sched_next(s, 130 * SEC, &j2, &ep), -1);
	/* It succeeds: closed, full capacity again. */
	CHECK_INT(sched_done(s, j, a, 1, 10, 131 * SEC), 0);
	CHECK_INT(info(a).state, SCHED_EP_UP);
	CHECK_INT(info(a).consecutive_errors, 0);
	CHECK_INT(info(a).errors, 4);
	sched_submit(s, SCHED_PREFETCH, 0, 0, NULL);
	sched_submit(s, SCHED_PREFETCH, 0, 0, NULL);
	CHECK_INT(sched_next(s, 131 * SEC, &j, &ep), 0);
	CHECK_INT(sched_next(s, 131 * SEC, &j2, &ep), 0);
	CHECK_INT(sched_done(s, j, a, 1, 10, 131 * SEC), 0);
	CHECK_INT(sched_done(s, j2, a, 1, 10, 131 * SEC), 0);

	/* Probe: a failure opens it, a success closes it. */
	sched_ep_probe(s, a, 0, 140 * SEC);
	CHECK_INT(info(a).state, SCHED_EP_OPEN);
	CHECK_INT(sched_usable(s, 141 * SEC), 0);
	sched_ep_probe(s, a, 0, 160 * SEC);
	CHECK_INT(sched_usable(s, 171 * SEC), 0);	/* reopened at 160 */
	CHECK_INT(sched_usable(s, 190 * SEC), 1);
	CHECK_INT(info(a).state, SCHED_EP_HALFOPEN);
	sched_ep_probe(s, a, 1, 191 * SEC);
	CHECK_INT(info(a).state, SCHED_EP_UP);
	sched_ep_probe(s, a, 0, 192 * SEC);
	sched_ep_probe(s, a, 1, 193 * SEC);
	CHECK_INT(info(a).state, SCHED_EP_UP);
	sched_submit(s, SCHED_PREFETCH, 0, 0, NULL);
	CHECK_INT(sched_next(s, 193 * SEC, &j, &ep), 0);
	CHECK_INT(sched_done(s, j, a, 1, 10, 193 * SEC), 0);
	sched_free(s);

	/* With another endpoint, work goes there while a is open. */
	s = new_sched(5, 2, SEC);
	a = sched_ep_add(s, "a", 4, 1, NULL);
	b = sched_ep_add(s, "b", 4, 1, NULL);
	sched_ep_probe(s, a, 0, 0);
	for (i = 0; i < 4; i++)
		sched_submit(s, SCHED_PREFETCH, 0, 0, NULL);
	for (i = 0; i < 4; i++) {
		CHECK_INT(sched_next(s, 1, &j, &ep), 0);
		CHECK(ep == b);
	}
	CHECK_INT(sched_next(s, 1, &j, &ep), -1);
	CHECK_INT(info(b).inflight, 4);
	sched_free(s);
}

struct walk {
	struct sched	*s;
	int		 n, removed;
	char		 names[64];
};

static void
walk_cb(void *arg, struct sched_ep *ep)
{
	struct walk		*w = arg;
	struct sched_ep_info	 i;

	sched_ep_info(ep, &i);
	strncat(w->names, i.name, sizeof w->names - strlen(w->names) - 1);
	w->n++;
	if (i.state == SCHED_EP_DRAINING && sched_ep_remove(w->s, ep) == 0)
		w->removed++;
}

static void
test_drain(void)
{
	struct sched		*s;
	struct sched_ep		*a, *b, *c, *ep;
	struct sched_job	*j, *j2, *j3;
	struct walk		 w;

	s = new_sched(2, 3, SEC);
	a = sched_ep_add(s, "a", 2, 1, TAG(7));
	b = sched_ep_add(s, "b", 2, 1, NULL);
	CHECK(sched_ep_user(a) == TAG(7));
	CHECK(sched_ep_find(s, "b") == b);
	CHECK(sched_ep_find(s, "zz") == NULL);
	sched_submit(s, SCHED_PREFETCH, 0, 0, TAG(1));
	CHECK_INT(sched_next(s, 1, &j, &ep), 0);
	CHECK(ep == a);
	sched_ep_drain(a);
	CHECK_INT(info(a).state, SCHED_EP_DRAINING);
	CHECK_INT(sched_ep_remove(s, a), -1);
	sched_submit(s, SCHED_PREFETCH, 0, 0, TAG(2));
	sched_submit(s, SCHED_PREFETCH, 0, 0, TAG(3));
	sched_submit(s, SCHED_PREFETCH, 0, 0, TAG(4));
	CHECK_INT(sched_next(s, 1, &j2, &ep), 0);
	CHECK(ep == b);
	CHECK_INT(sched_next(s, 1, &j3, &ep), 0);
	CHECK(ep == b);
	CHECK_INT(sched_next(s, 1, &j3, &ep), -1);	/* a is draining */
	/* The job on a fails: it retries elsewhere, a stays out. */
	CHECK_INT(sched_done(s, j, a, 0, 10, 2), 1);
	CHECK_INT(info(a).inflight, 0);
	CHECK_INT(sched_usable(s, 2), 1);
	CHECK_INT(sched_ep_remove(s, a), 0);
	CHECK(sched_ep_find(s, "a") == NULL);
	/* A new endpoint never matches the removed one's id. */
	c = sched_ep_add(s, "a", 2, 1, NULL);
	CHECK_INT(sched_next(s, 3, &j3, &ep), 0);
	CHECK(ep == c);
	CHECK_INT(sched_done(s, j3, ep, 1, 10, 3), 0);
	CHECK_INT(sched_next(s, 3, &j3, &ep), 0);
	CHECK(ep == c);
	CHECK_INT(sched_done(s, j3, ep, 1, 10, 3), 0);
	CHECK_INT(sched_done(s, j2, b, 1, 10, 3), 0);
	/* Nothing usable once all drain. */
	sched_ep_drain(b);
	sched_ep_drain(c);
	CHECK_INT(sched_usable(s, 4), 0);
	CHECK_INT(sched_next(s, 4, &j3, &ep), -1);
	/* Walk in order added; the callback removes idle drained ones. */
	memset(&w, 0, sizeof w);
	w.s = s;
	CHECK_INT(info(b).inflight, 1);
	sched_ep_walk(s, walk_cb, &w);
	CHECK_STR(w.names, "ba");
	CHECK_INT(w.n, 2);
	CHECK_INT(w.removed, 1);
	CHECK(sched_ep_find(s, "a") == NULL);
	sched_free(s);	/* a running job on b: freed too */
}

static void
test_warm(void)
{
	struct sched		*s;
	struct sched_ep		*a, *b, *ep;
	struct sched_job	*j, *w, *p, *p2, *x;

	s = new_sched(2, 100, SEC);
	a = sched_ep_add(s, "a", 2, 1, NULL);
	sched_submit(s, SCHED_WARM, 0, 0, TAG(1));
	CHECK_INT(sched_next(s, 1, &w, &ep), 0);
	CHECK(ep == a);
	sched_submit(s, SCHED_WARM, 0, 0, TAG(2));
	CHECK_INT(sched_next(s, 1, &x, &ep), -1);	/* a not idle */
	sched_submit(s, SCHED_PREFETCH, 3, 0, TAG(3));
	CHECK_INT(sched_next(s, 1, &p, &ep), 0);	/* a has room */
	CHECK_INT(UNTAG(sched_job_user(p)), 3);
	CHECK_INT(sched_done(s, w, a, 1, 10, 2), 0);
	CHECK_INT(sched_next(s, 2, &x, &ep), -1);
	CHECK_INT(sched_done(s, p, a, 1, 10, 2), 0);
	CHECK_INT(sched_next(s, 3, &x, &ep), 0);
	CHECK_INT(UNTAG(sched_job_user(x)), 2);
	CHECK_INT(sched_done(s, x, a, 1, 10, 3), 0);
	sched_free(s);

	/*
	 * An urgent job is queued (a retry waiting for b): a WARM job
	 * does not take idle a.
	 */
	s = new_sched(2, 100, SEC);
	a = sched_ep_add(s, "a", 1, 1, NULL);
	b = sched_ep_add(s, "b", 1, 1, NULL);
	sched_submit(s, SCHED_PREFETCH, 0, 0, TAG(1));
	sched_submit(s, SCHED_PREFETCH, 1, 0, TAG(2));
	CHECK_INT(sched_next(s, 1, &p, &ep), 0);
	CHECK(ep == a);
	CHECK_INT(sched_next(s, 1, &p2, &ep), 0);
	CHECK(ep == b);
	CHECK_INT(sched_done(s, p, a, 0, 10, 2), 1);
	sched_submit(s, SCHED_WARM, 0, 0, TAG(3));
	CHECK_INT(sched_next(s, 2, &x, &ep), -1);
	CHECK_INT(sched_done(s, p2, b, 1, 10, 3), 0);
	CHECK_INT(sched_next(s, 3, &x, &ep), 0);
	CHECK(x == p && ep == b);
	CHECK_INT(sched_next(s, 3, &j, &ep), 0);
	CHECK(ep == a && UNTAG(sched_job_user(j)) == 3);
	CHECK_INT(sched_done(s, x, b, 1, 10, 4), 0);
	CHECK_INT(sched_done(s, j, a, 1, 10, 4), 0);
	sched_free(s);
}

static double
seconds(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * 100 000 jobs (a few promoted, a few cancelled) through one slot of
 * eight endpoints: dispatched in key order, quickly.
 */
static void
test_perf(void)
{
	enum { N = 100000 };
	struct sched		*s;
	struct sched_job	*j, **jobs;
	struct sched_ep		*ep, *eps[8];
	unsigned		*cls, *idx, pc = 0, pi = 0, c, x;
	int			 i, k, n = 0, unsorted = 0, e, ncancel;
	double			 t0, el;
	char			 name[8];

	srand(777);
	s = new_sched(2, 3, SEC);
	for (e = 0; e < 8; e++) {
		snprintf(name, sizeof name, "e%d", e);
		eps[e] = sched_ep_add(s, name, 1, 1, NULL);
		if (e > 0)
			sched_ep_drain(eps[e]);
	}
	jobs = xcalloc(N, sizeof *jobs);
	cls = xcalloc(N, sizeof *cls);
	idx = xcalloc(N, sizeof *idx);
	t0 = seconds();
	for (i = 0; i < N; i++) {
		cls[i] = (unsigned)(rand() % 3);
		idx[i] = (unsigned)(rand() % 50);
		jobs[i] = sched_submit(s, (int)cls[i], idx[i], (uint64_t)i,
		    TAG(i));
	}
	for (i = 0; i < N; i += 97) {
		sched_promote(s, jobs[i]);
		cls[i] = SCHED_ONDEMAND;
	}
	for (i = 5; i < N; i += 101)
		if (i % 97 != 0) {
			sched_cancel(s, jobs[i]);
			n++;
		}
	CHECK_INT(sched_queued(s), N - n);
	ncancel = n;
	n = 0;
	while (sched_next(s, 1, &j, &ep) == 0) {
		k = UNTAG(sched_job_user(j));
		c = cls[k];
		x = idx[k];
		if (c < pc || (c == pc && x < pi))
			unsorted++;
		pc = c;
		pi = x;
		CHECK(ep == eps[0]);
		if (sched_done(s, j, ep, 1, 10, 1) != 0)
			unsorted++;
		n++;
	}
	el = seconds() - t0;
	CHECK_INT(sched_queued(s), 0);
	CHECK_INT(n, N - ncancel);
	CHECK(ncancel > 900);
	CHECK_INT(unsorted, 0);
	/* The time is shown, not checked: a pass/fail test must not depend
	 * on how busy the machine is. */
	fprintf(stderr, "perf: %d jobs in %.3f s\n", n, el);
	free(jobs);
	free(cls);
	free(idx);
	sched_free(s);
}

/* Jobs tagged odd need an endpoint whose user is "mp3"; even: any. */
static int
fit_mp3(void *job, void *ep)
{
	return UNTAG(job) % 2 == 0 || (ep != NULL &&
	    strcmp(ep, "mp3") == 0);
}

static void
test_fit(void)
{
	struct sched		*s = new_sched(2, 3, 30 * SEC);
	struct sched_ep		*wav, *mp3, *ep, *ep1;
	struct sched_job	*j, *j1;
	uint64_t		 now = 1000;
	int			 i, on_wav = 0, ran = 0;

	sched_set_fit(s, fit_mp3);
	wav = sched_ep_add(s, "wav", 4, 100, "wav");	/* cheaper */
	mp3 = sched_ep_add(s, "mp3", 1, 1, "mp3");
	/* odd jobs only ever on the mp3 endpoint, waiting for its slot */
	for (i = 1; i <= 5; i += 2)
		sched_submit(s, SCHED_ONDEMAND, 0, now, TAG(i));
	CHECK_INT(sched_next(s, now, &j1, &ep1), 0);
	CHECK(ep1 == mp3);
	CHECK_INT(sched_next(s, now, &j, &ep), -1);	/* its max is 1 */
	CHECK_INT(sched_queued(s), 2);
	/* even jobs go anywhere, the cheap WAV one first */
	sched_submit(s, SCHED_ONDEMAND, 0, now, TAG(2));
	CHECK_INT(sched_next(s, now, &j, &ep), 0);
	CHECK(ep == wav && UNTAG(sched_job_user(j)) == 2);
	CHECK_INT(sched_done(s, j, ep, 1, 1000, now), 0);
	CHECK_INT(sched_done(s, j1, ep1, 1, 1000, now), 0);
	/* the other two odd ones, one after the other on mp3 */
	while (sched_next(s, now, &j, &ep) == 0) {
		ran++;
		on_wav += ep == wav;
		CHECK_INT(sched_done(s, j, ep, 1, 1000, now), 0);
	}
	CHECK_INT(ran, 2);
	CHECK_INT(on_wav, 0);
	/* with the mp3 endpoint gone, an odd job goes where it can */
	sched_ep_drain(mp3);
	sched_submit(s, SCHED_ONDEMAND, 0, now, TAG(7));
	CHECK_INT(sched_next(s, now, &j, &ep), 0);
	CHECK(ep == wav);
	CHECK_INT(sched_done(s, j, ep, 1, 1000, now), 0);
	sched_free(s);
}

/*
 * A request's own fault never takes an endpoint out: 20 rejections leave
 * it up with no error counted, and the job ends at once; a job the
 * endpoint cannot do goes elsewhere, nothing counted.  Failures still
 * open the circuit.
 */
static void
test_rejected(void)
{
	struct sched		*s = new_sched(2, 3, 30 * SEC);
	struct sched_job	*j;
	struct sched_ep		*ep, *a, *b;
	int			 i;

	a = sched_ep_add(s, "a", 1, 1, NULL);
	for (i = 0; i < 20; i++) {
		sched_submit(s, SCHED_ONDEMAND, 0, 0, TAG(i));
		CHECK_INT(sched_next(s, 1, &j, &ep), 0);
		CHECK(ep == a);
		CHECK_INT(sched_done(s, j, ep, SCHED_REJECTED, 10, 1), -1);
	}
	CHECK_INT(info(a).state, SCHED_EP_UP);
	CHECK_INT((int)info(a).errors, 0);
	CHECK_INT(info(a).consecutive_errors, 0);
	CHECK_INT(sched_queued(s), 0);
	CHECK_INT(sched_usable(s, 1), 1);

	/* Elsewhere: retried on b, a's counts untouched. */
	b = sched_ep_add(s, "b", 1, 1, NULL);
	sched_submit(s, SCHED_ONDEMAND, 0, 0, TAG(100));
	CHECK_INT(sched_next(s, 1, &j, &ep), 0);
	CHECK(ep == a);
	CHECK_INT(sched_done(s, j, ep, SCHED_ELSEWHERE, 10, 1), 1);
	CHECK_INT(sched_next(s, 1, &j, &ep), 0);
	CHECK(ep == b);
	CHECK_INT(UNTAG(sched_job_user(j)), 100);
	CHECK_INT(sched_done(s, j, ep, SCHED_OK, 10, 1), 0);
	CHECK_INT((int)info(a).errors, 0);
	CHECK_INT(info(a).state, SCHED_EP_UP);

	/* Elsewhere again and again: given up after its retries (2), with
	 * nothing counted against either. */
	sched_submit(s, SCHED_ONDEMAND, 0, 0, TAG(150));
	for (i = 0; i < 3; i++) {
		CHECK_INT(sched_next(s, 1, &j, &ep), 0);
		CHECK_INT(sched_done(s, j, ep, SCHED_ELSEWHERE, 10, 1),
		    i < 2 ? 1 : -1);
	}
	CHECK_INT(sched_queued(s), 0);
	CHECK_INT((int)(info(a).errors + info(b).errors), 0);
	CHECK_INT(info(a).state, SCHED_EP_UP);
	CHECK_INT(info(b).state, SCHED_EP_UP);

	/* Three real failures still open a's circuit. */
	CHECK_INT(sched_ep_remove(s, b), 0);
	sched_submit(s, SCHED_ONDEMAND, 0, 0, TAG(200));
	for (i = 0; i < 3; i++) {
		CHECK_INT(sched_next(s, 1, &j, &ep), 0);
		CHECK(ep == a);
		CHECK_INT(sched_done(s, j, ep, SCHED_FAILED, 10, 1),
		    i < 2 ? 1 : -1);
	}
	CHECK_INT(info(a).state, SCHED_EP_OPEN);
	sched_free(s);
}

/* A reply cancelled: its queued jobs withdrawn, its running one stopped
 * (SCHED_CANCELLED); another reply's jobs go on in order, the slot free,
 * nothing learnt of the endpoint. */
static void
test_cancelled(void)
{
	struct sched		*s = new_sched(2, 1, 30 * SEC);
	struct sched_job	*j, *a[4];
	struct sched_ep		*ep, *e;
	int			 i;

	e = sched_ep_add(s, "e", 1, 1, NULL);
	for (i = 0; i < 4; i++) {
		a[i] = sched_submit(s, SCHED_PREFETCH, (unsigned)i, 1, TAG(i));
		sched_submit(s, SCHED_PREFETCH, (unsigned)i, 2, TAG(100 + i));
	}
	CHECK_INT(sched_next(s, 1, &j, &ep), 0);
	CHECK(j == a[0] && ep == e);
	CHECK_INT(sched_next(s, 1, &j, &ep), -1);	/* one slot */
	for (i = 1; i < 4; i++)
		sched_cancel(s, a[i]);
	CHECK_INT(sched_queued(s), 4);
	CHECK_INT(sched_done(s, a[0], e, SCHED_CANCELLED, 5 * SEC, 2), -1);
	CHECK_INT(info(e).inflight, 0);
	CHECK_INT((int)info(e).done, 0);
	CHECK_INT((int)info(e).errors, 0);
	CHECK_INT(info(e).consecutive_errors, 0);
	CHECK(info(e).ewma_usec == 0);
	CHECK_INT(info(e).state, SCHED_EP_UP);	/* threshold 1: not a failure */
	CHECK_INT(sched_running(s), 0);
	for (i = 0; i < 4; i++)
		CHECK_INT(run_one(s, 3), 100 + i);
	CHECK_INT(run_one(s, 3), -1);
	CHECK_INT(sched_queued(s), 0);

	/* Half-open: a stopped probe job neither closes nor reopens it. */
	sched_ep_probe(s, e, 0, 10);
	CHECK_INT(sched_usable(s, 10 + 30 * SEC), 1);
	CHECK_INT(info(e).state, SCHED_EP_HALFOPEN);
	sched_submit(s, SCHED_ONDEMAND, 0, 3, TAG(7));
	CHECK_INT(sched_next(s, 10 + 30 * SEC, &j, &ep), 0);
	CHECK_INT(sched_done(s, j, ep, SCHED_CANCELLED, 10, 11 + 30 * SEC),
	    -1);
	CHECK_INT(info(e).state, SCHED_EP_HALFOPEN);
	CHECK_INT((int)info(e).errors, 0);
	sched_free(s);
}

int
main(void)
{
	test_order();
	test_promote();
	test_cancel();
	test_capacity();
	test_balance();
	test_retry();
	test_circuit();
	test_drain();
	test_warm();
	test_fit();
	test_rejected();
	test_cancelled();
	test_perf();
	return CHECK_DONE();
}
