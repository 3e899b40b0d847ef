/*
 * pool: a few worker threads for CPU-heavy work (audio encoding), so that
 * the event loop never runs it.
 *
 * The loop queues a job (work, done, arg) under the mutex; a worker takes
 * it, runs work(arg) with no lock held, and puts the job on the finished
 * list.  A worker that finds that list empty writes one byte to a
 * non-blocking pipe, whose read end is an event on the loop: the loop
 * drains the pipe, takes the whole finished list, and calls each done(arg)
 * there.  So no worker ever calls libevent, and every done callback runs
 * on the loop, in no particular order.  A wake-up is never lost: a worker
 * that does not write found the list non-empty, so the byte written for
 * the first job on it is still to be (or already) read, and the loop
 * drains the pipe before it takes the list.
 *
 * The queue is bounded (qmax): a job beyond it is refused, and the caller
 * says so to its client.  Workers block every signal (the loop's signal
 * events must see them on the loop's thread), and run POOL_NICE lower in
 * priority than the loop, so that on a busy machine the loop wins the CPU
 * whenever it has something to do (Linux's nice value is per thread).
 *
 * pool_free stops the workers: queued jobs are dropped, running ones see
 * pool_stopping() and may give up early, all are joined; finished jobs
 * whose done has not run are dropped too.  The owner knows its jobs and
 * frees what their arguments hold.
 */
#include <sys/resource.h>
#include <sys/types.h>

#include <event2/event.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pool.h"
#include "util.h"

#define POOL_NICE	10

struct pool_job {
	void		(*work)(void *);
	void		(*done)(void *);
	void		*arg;
	struct pool_job	*next;
};

struct pool_list {
	struct pool_job	*head, *tail;
};

struct pool {
	struct event_base	*base;
	struct event		*ev;		/* the pipe's read end */
	int			 wake[2];
	pthread_t		*threads;
	unsigned		 nthreads;
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;		/* a job queued, or stopping */
	/* under mu */
	struct pool_list	 queue;
	size_t			 nqueued;
	size_t			 qmax;
	size_t			 nrunning;
	struct pool_list	 finished;
	atomic_int		 stopping;
};

static void
list_push(struct pool_list *l, struct pool_job *j)
{
	j->next = NULL;
	if (l->tail != NULL)
		l->tail->next = j;
	else
		l->head = j;
	l->tail = j;
}

static struct pool_job *
list_pop(struct pool_list *l)
{
	struct pool_job	*j = l->head;

	if (j != NULL && (l->head = j->next) == NULL)
		l->tail = NULL;
	return j;
}

static void
list_drop(struct pool_list *l)
{
	struct pool_job	*j;

	while ((j = list_pop(l)) != NULL)
		free(j);
}

static void *
pool_worker(void *arg)
{
	struct pool	*p = arg;
	struct pool_job	*j;
	int		 wake;
	ssize_t		 n;

	/* Best effort: without it the work is done all the same. */
	(void)setpriority(PRIO_PROCESS, (id_t)gettid(), POOL_NICE);
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!atomic_load(&p->stopping) && p->queue.head == NULL)
			pthread_cond_wait(&p->cv, &p->mu);
		if (atomic_load(&p->stopping))
			break;
		j = list_pop(&p->queue);
		p->nqueued--;
		p->nrunning++;
		pthread_mutex_unlock(&p->mu);

		j->work(j->arg);

		pthread_mutex_lock(&p->mu);
		p->nrunning--;
		wake = p->finished.head == NULL;
		list_push(&p->finished, j);
		if (wake) {
			/* A full pipe has bytes unread: a wake-up to come. */
			do
				n = write(p->wake[1], "", 1);
			while (n < 0 && errno == EINTR);
		}
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* On the loop: the finished jobs' done callbacks. */
static void
pool_wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pool	*p = arg;
	struct pool_list l;
	struct pool_job	*j;
	char		 buf[64];

	while (read(fd, buf, sizeof buf) > 0)
		;
	pthread_mutex_lock(&p->mu);
	l = p->finished;
	p->finished.head = p->finished.tail = NULL;
	pthread_mutex_unlock(&p->mu);
	while ((j = list_pop(&l)) != NULL) {
		j->done(j->arg);
		free(j);
	}
}

unsigned
pool_threads_for_cpus(unsigned max)
{
	long	n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		n = 1;
	if (max < 1)
		max = 1;
	return n > (long)max ? max : (unsigned)n;
}

struct pool *
pool_new(struct event_base *base, unsigned nthreads, size_t qmax,
    char **cause)
{
	struct pool	*p;
	sigset_t	 all, old;
	unsigned	 i;
	int		 e;

	if (nthreads < 1 || nthreads > POOL_THREADS_MAX) {
		*cause = xasprintf("pool: %u threads (1 to %d)", nthreads,
		    POOL_THREADS_MAX);
		return NULL;
	}
	p = xcalloc(1, sizeof *p);
	p->base = base;
	p->qmax = qmax;
	atomic_init(&p->stopping, 0);
	if (pipe2(p->wake, O_NONBLOCK | O_CLOEXEC) != 0) {
		*cause = xasprintf("pool: pipe: %s", strerror(errno));
		free(p);
		return NULL;
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->ev = event_new(base, p->wake[0], EV_READ | EV_PERSIST, pool_wake_cb,
	    p);
	event_add(p->ev, NULL);
	p->threads = xcalloc(nthreads, sizeof *p->threads);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (i = 0; i < nthreads; i++) {
		if ((e = pthread_create(&p->threads[i], NULL, pool_worker,
		    p)) != 0) {
			pthread_sigmask(SIG_SETMASK, &old, NULL);
			*cause = xasprintf("pool: cannot start a thread: %s",
			    strerror(e));
			pool_free(p);
			return NULL;
		}
		p->nthreads = i + 1;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return p;
}

void
pool_free(struct pool *p)
{
	unsigned	i;

	if (p == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	atomic_store(&p->stopping, 1);
	list_drop(&p->queue);
	p->nqueued = 0;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	list_drop(&p->finished);
	event_free(p->ev);
	close(p->wake[0]);
	close(p->wake[1]);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p->threads);
	free(p);
}

int
pool_submit(struct pool *p, void (*work)(void *), void (*done)(void *),
    void *arg)
{
	struct pool_job	*j;

	pthread_mutex_lock(&p->mu);
	if (atomic_load(&p->stopping) || p->nqueued >= p->qmax) {
		pthread_mutex_unlock(&p->mu);
		return -1;
	}
	j = xmalloc(sizeof *j);
	j->work = work;
	j->done = done;
	j->arg = arg;
	list_push(&p->queue, j);
	p->nqueued++;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return 0;
}

int
pool_stopping(struct pool *p)
{
	return atomic_load(&p->stopping);
}

void
pool_counts(struct pool *p, size_t *queued, size_t *running)
{
	pthread_mutex_lock(&p->mu);
	*queued = p->nqueued;
	*running = p->nrunning;
	pthread_mutex_unlock(&p->mu);
}
