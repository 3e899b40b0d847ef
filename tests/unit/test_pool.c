/*
 * Unit tests for the worker pool: every job's work runs on a worker and
 * its done on the loop's thread, once; the queue bound refuses a job and
 * takes one again once there is room; pool_free drops queued jobs, tells
 * a running one to stop and waits for it, and calls no done.
 */
#include <sys/resource.h>

#include <event2/event.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "loop.h"
#include "pool.h"
#include "util.h"

static pthread_t	loop_thread;
static struct event_base *base;

struct job {
	int		 in;
	int		 out;		/* work's */
	int		 worked_off_loop;
	int		 done;		/* done's calls */
	int		 done_on_loop;
	int		 nice;		/* the worker's */
	int		*left;		/* jobs not done yet */
};

static void
square_work(void *arg)
{
	struct job	*j = arg;

	j->out = j->in * j->in;
	j->worked_off_loop = !pthread_equal(pthread_self(), loop_thread);
	j->nice = getpriority(PRIO_PROCESS, (id_t)gettid());
}

static void
square_done(void *arg)
{
	struct job	*j = arg;

	j->done++;
	j->done_on_loop = pthread_equal(pthread_self(), loop_thread);
	if (--*j->left == 0)
		event_base_loopbreak(base);
}

/* Run the loop until every job is done. */
static void
run_until_done(int *left)
{
	loop_run(base, left);
}

static void
test_many(void)
{
	struct pool	*p;
	struct job	 jobs[200];
	char		*cause = NULL;
	size_t		 queued, running;
	int		 i, left = 200, ok = 1, nice_ok = 1;
	int		 loop_nice = getpriority(PRIO_PROCESS, (id_t)gettid());

	p = pool_new(base, 3, 1000, &cause);
	CHECK(p != NULL);
	memset(jobs, 0, sizeof jobs);
	for (i = 0; i < 200; i++) {
		jobs[i].in = i;
		jobs[i].left = &left;
		CHECK_INT(pool_submit(p, square_work, square_done, &jobs[i]),
		    0);
	}
	run_until_done(&left);
	CHECK_INT(left, 0);
	for (i = 0; i < 200; i++)
		if (jobs[i].out != i * i || jobs[i].done != 1 ||
		    !jobs[i].done_on_loop || !jobs[i].worked_off_loop)
			ok = 0;
	CHECK(ok);
	/* Workers yield to the loop (unless it is niced to 10 already). */
	for (i = 0; i < 200; i++)
		if (jobs[i].nice != 10 && loop_nice < 10)
			nice_ok = 0;
	CHECK(nice_ok);
	pool_counts(p, &queued, &running);
	CHECK_INT(queued, 0);
	CHECK_INT(running, 0);
	pool_free(p);
}

/* A job that holds its worker until the test lets it go. */
static pthread_mutex_t	gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	gate_cv = PTHREAD_COND_INITIALIZER;
static int		gate_open, gate_entered;

static void
gate_work(void *arg)
{
	pthread_mutex_lock(&gate_mu);
	gate_entered++;
	pthread_cond_broadcast(&gate_cv);
	while (!gate_open)
		pthread_cond_wait(&gate_cv, &gate_mu);
	pthread_mutex_unlock(&gate_mu);
	square_work(arg);
}

static void
gate_wait_entered(int n)
{
	pthread_mutex_lock(&gate_mu);
	while (gate_entered < n)
		pthread_cond_wait(&gate_cv, &gate_mu);
	pthread_mutex_unlock(&gate_mu);
}

static void
gate_set(int open)
{
	pthread_mutex_lock(&gate_mu);
	gate_open = open;
	gate_entered = 0;
	pthread_cond_broadcast(&gate_cv);
	pthread_mutex_unlock(&gate_mu);
}

static void
test_bound(void)
{
	struct pool	*p;
	struct job	 jobs[4], extra;
	char		*cause = NULL;
	size_t		 queued, running;
	int		 i, left = 4;

	gate_set(0);
	p = pool_new(base, 1, 2, &cause);
	memset(jobs, 0, sizeof jobs);
	memset(&extra, 0, sizeof extra);
	for (i = 0; i < 4; i++) {
		jobs[i].in = i + 1;
		jobs[i].left = &left;
	}
	/* One running (held), two waiting: the queue is full. */
	CHECK_INT(pool_submit(p, gate_work, square_done, &jobs[0]), 0);
	gate_wait_entered(1);
	CHECK_INT(pool_submit(p, gate_work, square_done, &jobs[1]), 0);
	CHECK_INT(pool_submit(p, gate_work, square_done, &jobs[2]), 0);
	pool_counts(p, &queued, &running);
	CHECK_INT(queued, 2);
	CHECK_INT(running, 1);
	CHECK_INT(pool_submit(p, gate_work, square_done, &extra), -1);
	gate_set(1);
	/* Room again once the worker has taken the next one. */
	do {
		usleep(1000);
		pool_counts(p, &queued, &running);
	} while (queued == 2);
	CHECK_INT(pool_submit(p, gate_work, square_done, &jobs[3]), 0);
	run_until_done(&left);
	CHECK_INT(left, 0);
	for (i = 0; i < 4; i++)
		CHECK_INT(jobs[i].out, (i + 1) * (i + 1));
	CHECK_INT(extra.done, 0);
	pool_free(p);
}

/* Runs until the pool stops. */
static struct pool	*stop_pool;
static atomic_int	 stop_seen;

static void
until_stop_work(void *arg)
{
	pthread_mutex_lock(&gate_mu);
	gate_entered++;
	pthread_cond_broadcast(&gate_cv);
	pthread_mutex_unlock(&gate_mu);
	while (!pool_stopping(stop_pool))
		usleep(1000);
	atomic_store(&stop_seen, 1);
}

static void
never_done(void *arg)
{
	struct job	*j = arg;

	j->done++;
}

static void
test_free(void)
{
	struct job	 jobs[5];
	char		*cause = NULL;
	int		 i;

	gate_set(0);
	memset(jobs, 0, sizeof jobs);
	stop_pool = pool_new(base, 1, 10, &cause);
	CHECK_INT(pool_stopping(stop_pool), 0);
	CHECK_INT(pool_submit(stop_pool, until_stop_work, never_done,
	    &jobs[0]), 0);
	gate_wait_entered(1);
	for (i = 1; i < 5; i++)
		CHECK_INT(pool_submit(stop_pool, square_work, never_done,
		    &jobs[i]), 0);
	pool_free(stop_pool);	/* returns: the running job saw the stop */
	CHECK_INT(atomic_load(&stop_seen), 1);
	/* Nothing left for the loop: no event, no done. */
	CHECK_INT(event_base_loop(base, EVLOOP_NONBLOCK), 1);
	for (i = 0; i < 5; i++)
		CHECK_INT(jobs[i].done, 0);
	for (i = 1; i < 5; i++)
		CHECK_INT(jobs[i].out, 0);	/* dropped, never run */
}

static void
test_args(void)
{
	char	*cause = NULL;
	unsigned n;

	CHECK(pool_new(base, 0, 1, &cause) == NULL);
	CHECK(cause != NULL);
	free(cause);
	cause = NULL;
	CHECK(pool_new(base, POOL_THREADS_MAX + 1, 1, &cause) == NULL);
	free(cause);
	n = pool_threads_for_cpus(4);
	CHECK(n >= 1 && n <= 4);
	CHECK_INT(pool_threads_for_cpus(1), 1);
}

int
main(void)
{
	loop_thread = pthread_self();
	base = event_base_new();
	test_many();
	test_bound();
	test_free();
	test_args();
	event_base_free(base);
	return CHECK_DONE();
}
