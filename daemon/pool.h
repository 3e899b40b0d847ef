/* pool: a few worker threads for CPU-heavy work, answered on the loop. */
#ifndef TTSACCEL_POOL_H
#define TTSACCEL_POOL_H

#include <stddef.h>

struct event_base;
struct pool;

/*
 * Start nthreads workers (1 to POOL_THREADS_MAX) taking jobs from a queue
 * of at most qmax waiting jobs; NULL with *cause (to free) if a thread or
 * the wake-up pipe cannot be made.  The workers make no libevent call:
 * a job's done callback runs on base's loop.
 */
#define POOL_THREADS_MAX	16
struct pool *pool_new(struct event_base *, unsigned, size_t, char **);
/*
 * Stop: jobs not started are dropped, running ones are asked to stop
 * (pool_stopping) and waited for; no done callback runs from here on.
 * The owner frees what its jobs' arguments hold.
 */
void	 pool_free(struct pool *);
/*
 * Queue work(arg) for a worker; done(arg) runs on the loop once work has
 * returned.  -1 when qmax jobs are waiting already (nothing queued).
 * work must not touch what the loop changes meanwhile.
 */
int	 pool_submit(struct pool *, void (*)(void *), void (*)(void *),
	    void *);
/* Has pool_free begun?  A long job checks between its steps and gives up
 * (from a worker; any thread). */
int	 pool_stopping(struct pool *);
/* Jobs waiting, and running (from the loop). */
void	 pool_counts(struct pool *, size_t *, size_t *);
/* The number of threads to start for this machine: one per CPU, at
 * least 1, at most max. */
unsigned pool_threads_for_cpus(unsigned);

#endif
