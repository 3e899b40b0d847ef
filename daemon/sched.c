/*
 * sched: which synthesis runs next, and on which endpoint (pure).
 *
 * Order.  A job's key is (class, index, t, seq): its priority class,
 * its segment index within its reply, the uint64_t given to
 * sched_submit (its age: the caller passes the reply's or the job's
 * start time, smaller is older) and a submission sequence number that
 * breaks every remaining tie.  A promoted job keeps index, t and seq;
 * a retried job keeps its whole key.
 *
 * Queues.  Queued jobs live in one of two binary min-heaps:
 *
 *   fresh	jobs that never failed.  They may all run on the same
 *		endpoints, so if the first of them cannot start now none
 *		can (a WARM job is pickier still, and sorts last): only
 *		the top is ever looked at, O(log n) per sched_next.
 *   retry	jobs that failed somewhere and must avoid those endpoints
 *		while another is usable.  Each has its own set of
 *		endpoints, so sched_next visits them in key order (a
 *		best-first walk of the heap) until one can start, at most
 *		SCHED_SCAN_MAX of them: a retried job further down waits
 *		for one of those ahead of it to start or end.
 *
 * The job that starts is the first in key order of the fresh top (if
 * it can start) and the first retried job that can.
 *
 * Endpoints.  A job may start on an endpoint that is not draining,
 * whose circuit is closed (UP) or half-open with nothing in flight,
 * with inflight < max (and, for WARM, inflight == 0).  Among those the
 * cheapest (inflight + 1) * L / weight wins, L being its latency EWMA,
 * or while unknown the mean of the known ones (1 if none is known);
 * ties go to fewer in flight, then to the earlier added.
 *
 * Circuit.  consecutive_errors >= fail_threshold opens it (OPEN,
 * opened_at = now).  An OPEN circuit turns HALFOPEN once open_usec have
 * passed, lazily, when sched_next, sched_usable, sched_done or
 * sched_ep_probe look at it with a time, or in sched_ep_info against
 * the latest time the scheduler was given.  Half-open, one job runs:
 * success closes the circuit, failure opens it again from now.  A
 * success while still OPEN (a job started before the circuit opened)
 * only resets consecutive_errors.  A probe's success closes the
 * circuit, its failure opens it from now.  Draining is a flag apart
 * from the circuit; sched_ep_info reports it first.
 *
 * Only the endpoint's own failures (SCHED_FAILED) count toward its
 * circuit.  SCHED_REJECTED (the request was at fault: a 4xx to its own
 * parameters) ends the job and counts nothing; SCHED_ELSEWHERE (this
 * endpoint cannot do that job, a format say) retries it elsewhere and
 * counts nothing either; nor does SCHED_CANCELLED (a running job
 * stopped because nobody wants its result any more).
 *
 * Jobs remember the endpoints they failed on by id (ids are never
 * reused), so removing an endpoint leaves nothing dangling.
 */

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sched.h"
#include "util.h"

/* How many retried jobs sched_next looks at, in key order, per call. */
#define SCHED_SCAN_MAX	64

#define EWMA_ALPHA	0.3

#define Q_NONE		0	/* running */
#define Q_FRESH		1
#define Q_RETRY		2

struct sched_ep {
	struct sched	*s;
	uint64_t	 id;
	char		*name;
	int		 max;
	double		 weight;
	void		*user;

	int		 state;		/* SCHED_EP_UP, _OPEN or _HALFOPEN */
	int		 draining;
	uint64_t	 opened_at;
	int		 inflight;
	double		 ewma_usec;	/* 0: unknown */
	uint64_t	 done;
	uint64_t	 errors;
	int		 consecutive_errors;
};

struct sched_job {
	int		 class;
	unsigned	 index;
	uint64_t	 t;
	uint64_t	 seq;
	void		*user;

	int		 queue;		/* Q_NONE (running), Q_FRESH, Q_RETRY */
	size_t		 hidx;		/* position in its heap */
	struct sched_ep	*ep;		/* where it runs */
	struct sched_job *prev, *next;	/* the running list */

	int		 attempts;
	uint64_t	*failed;	/* endpoint ids it failed on */
	size_t		 nfailed, capfailed;
};

struct heap {
	struct sched_job **v;
	size_t		 n, cap;
};

struct sched {
	struct sched_opts o;

	struct sched_ep	**eps;
	size_t		 neps, capeps;
	uint64_t	 next_ep_id;

	struct heap	 fresh, retry;
	size_t		 nurgent;	/* queued jobs of class < SCHED_WARM */
	struct sched_job *running;
	size_t		 nrunning;
	uint64_t	 seq;
	uint64_t	 last_now;	/* latest time given to us */

	size_t		*scan;		/* scratch for the retry walk */
	size_t		 capscan;

	int		(*fit)(void *, void *);	/* job user, endpoint user */
};

/* Does a sort before b? */
static int
job_before(const struct sched_job *a, const struct sched_job *b)
{
	if (a->class != b->class)
		return a->class < b->class;
	if (a->index != b->index)
		return a->index < b->index;
	if (a->t != b->t)
		return a->t < b->t;
	return a->seq < b->seq;
}

static void
heap_set(struct heap *h, size_t i, struct sched_job *j)
{
	h->v[i] = j;
	j->hidx = i;
}

static void
heap_up(struct heap *h, size_t i)
{
	struct sched_job	*j = h->v[i];
	size_t			 p;

	while (i > 0) {
		p = (i - 1) / 2;
		if (!job_before(j, h->v[p]))
			break;
		heap_set(h, i, h->v[p]);
		i = p;
	}
	heap_set(h, i, j);
}

static void
heap_down(struct heap *h, size_t i)
{
	struct sched_job	*j = h->v[i];
	size_t			 c;

	for (;;) {
		c = 2 * i + 1;
		if (c >= h->n)
			break;
		if (c + 1 < h->n && job_before(h->v[c + 1], h->v[c]))
			c++;
		if (!job_before(h->v[c], j))
			break;
		heap_set(h, i, h->v[c]);
		i = c;
	}
	heap_set(h, i, j);
}

static void
heap_push(struct heap *h, struct sched_job *j)
{
	if (h->n == h->cap) {
		h->cap = h->cap ? h->cap * 2 : 64;
		h->v = xreallocarray(h->v, h->cap, sizeof *h->v);
	}
	heap_set(h, h->n++, j);
	heap_up(h, j->hidx);
}

static void
heap_remove(struct heap *h, struct sched_job *j)
{
	size_t			 i = j->hidx;
	struct sched_job	*last;

	assert(i < h->n && h->v[i] == j);
	last = h->v[--h->n];
	if (i == h->n)
		return;
	heap_set(h, i, last);
	if (i > 0 && job_before(last, h->v[(i - 1) / 2]))
		heap_up(h, i);
	else
		heap_down(h, i);
}

static struct heap *
job_heap(struct sched *s, struct sched_job *j)
{
	return j->queue == Q_FRESH ? &s->fresh : &s->retry;
}

static void
job_enqueue(struct sched *s, struct sched_job *j)
{
	j->queue = j->nfailed == 0 ? Q_FRESH : Q_RETRY;
	heap_push(job_heap(s, j), j);
	if (j->class < SCHED_WARM)
		s->nurgent++;
}

static void
job_dequeue(struct sched *s, struct sched_job *j)
{
	assert(j->queue != Q_NONE);
	heap_remove(job_heap(s, j), j);
	if (j->class < SCHED_WARM)
		s->nurgent--;
	j->queue = Q_NONE;
}

static void
job_free(struct sched_job *j)
{
	free(j->failed);
	free(j);
}

static int
job_failed_on(const struct sched_job *j, const struct sched_ep *ep)
{
	size_t	i;

	for (i = 0; i < j->nfailed; i++)
		if (j->failed[i] == ep->id)
			return 1;
	return 0;
}

static void
job_add_failed(struct sched_job *j, const struct sched_ep *ep)
{
	if (job_failed_on(j, ep))
		return;
	if (j->nfailed == j->capfailed) {
		j->capfailed = j->capfailed ? j->capfailed * 2 : 4;
		j->failed = xreallocarray(j->failed, j->capfailed,
		    sizeof *j->failed);
	}
	j->failed[j->nfailed++] = ep->id;
}

static void
running_add(struct sched *s, struct sched_job *j)
{
	j->prev = NULL;
	j->next = s->running;
	if (s->running != NULL)
		s->running->prev = j;
	s->running = j;
	s->nrunning++;
}

static void
running_remove(struct sched *s, struct sched_job *j)
{
	if (j->prev != NULL)
		j->prev->next = j->next;
	else
		s->running = j->next;
	if (j->next != NULL)
		j->next->prev = j->prev;
	j->prev = j->next = NULL;
	s->nrunning--;
}

static void
sched_saw(struct sched *s, uint64_t now)
{
	if (now > s->last_now)
		s->last_now = now;
}

/* Has the open circuit's pause ended at now? */
static int
ep_pause_over(const struct sched_ep *ep, uint64_t now)
{
	return now >= ep->opened_at &&
	    now - ep->opened_at >= ep->s->o.open_usec;
}

/* The circuit's state at now (OPEN turns HALFOPEN after the pause). */
static int
ep_circuit(const struct sched_ep *ep, uint64_t now)
{
	if (ep->state == SCHED_EP_OPEN && ep_pause_over(ep, now))
		return SCHED_EP_HALFOPEN;
	return ep->state;
}

static void
ep_update(struct sched_ep *ep, uint64_t now)
{
	ep->state = ep_circuit(ep, now);
}

static void
ep_open(struct sched_ep *ep, uint64_t now)
{
	ep->state = SCHED_EP_OPEN;
	ep->opened_at = now;
}

static void
ep_close(struct sched_ep *ep)
{
	ep->state = SCHED_EP_UP;
	ep->consecutive_errors = 0;
}

/* Could it take work now, capacity aside?  (States already updated.) */
static int
ep_usable(const struct sched_ep *ep)
{
	return !ep->draining && (ep->state == SCHED_EP_UP ||
	    ep->state == SCHED_EP_HALFOPEN);
}

/* Has a usable endpoint room for one more job of this class? */
static int
ep_room(const struct sched_ep *ep, int class)
{
	if (ep->inflight >= ep->max)
		return 0;
	if (ep->state == SCHED_EP_HALFOPEN && ep->inflight > 0)
		return 0;
	if (class == SCHED_WARM && ep->inflight > 0)
		return 0;
	return 1;
}

static double
ep_cost(const struct sched_ep *ep, double mean)
{
	double	l = ep->ewma_usec > 0 ? ep->ewma_usec : mean;

	return (ep->inflight + 1) * l / ep->weight;
}

/* Is a (with cost ca) a better choice than b (cost cb)? */
static int
ep_better(const struct sched_ep *a, double ca, const struct sched_ep *b,
    double cb)
{
	if (b == NULL)
		return 1;
	if (ca != cb)
		return ca < cb;
	return a->inflight < b->inflight;	/* else b, added first */
}

/*
 * Where job j would start now, or NULL.  mean is the latency assumed
 * for endpoints whose own is unknown.
 */
/* Is any usable endpoint fit for j? */
static int
any_fit(struct sched *s, struct sched_job *j)
{
	size_t	i;

	for (i = 0; i < s->neps; i++)
		if (ep_usable(s->eps[i]) &&
		    s->fit(j->user, s->eps[i]->user))
			return 1;
	return 0;
}

static struct sched_ep *
sched_pick(struct sched *s, struct sched_job *j, double mean)
{
	struct sched_ep	*ep, *best_new = NULL, *best_failed = NULL;
	double		 c, cost_new = 0, cost_failed = 0;
	int		 any_new = 0, fitting;
	size_t		 i;

	if (j->class == SCHED_WARM && s->nurgent > 0)
		return NULL;
	/* Only endpoints fit for the job, if some usable one is. */
	fitting = s->fit != NULL && any_fit(s, j);
	for (i = 0; i < s->neps; i++) {
		ep = s->eps[i];
		if (!ep_usable(ep) || (fitting && !s->fit(j->user, ep->user)))
			continue;
		if (j->nfailed > 0 && job_failed_on(j, ep)) {
			if (any_new || !ep_room(ep, j->class))
				continue;
			c = ep_cost(ep, mean);
			if (ep_better(ep, c, best_failed, cost_failed)) {
				best_failed = ep;
				cost_failed = c;
			}
			continue;
		}
		any_new = 1;
		if (!ep_room(ep, j->class))
			continue;
		c = ep_cost(ep, mean);
		if (ep_better(ep, c, best_new, cost_new)) {
			best_new = ep;
			cost_new = c;
		}
	}
	return any_new ? best_new : best_failed;
}

/*
 * The first job of heap h in key order that can start now (looking at no
 * more than SCHED_SCAN_MAX of them, and none after bound), or NULL.
 */
static struct sched_job *
sched_scan(struct sched *s, struct heap *h, double mean,
    const struct sched_job *bound, struct sched_ep **epp)
{
	struct sched_job	*j;
	struct sched_ep		*ep;
	size_t			 n = 0, visited, i, c, k, p, x;

	if (h->n == 0)
		return NULL;
	/* A min-heap of positions in h, by their jobs' keys. */
	if (s->capscan < 2 * SCHED_SCAN_MAX + 2) {
		s->capscan = 2 * SCHED_SCAN_MAX + 2;
		s->scan = xreallocarray(s->scan, s->capscan, sizeof *s->scan);
	}
	s->scan[n++] = 0;
	for (visited = 0; n > 0 && visited < SCHED_SCAN_MAX; visited++) {
		/* Pop the smallest. */
		i = s->scan[0];
		x = s->scan[--n];
		for (k = 0; (c = 2 * k + 1) < n; k = c) {
			if (c + 1 < n && job_before(h->v[s->scan[c + 1]],
			    h->v[s->scan[c]]))
				c++;
			if (!job_before(h->v[s->scan[c]], h->v[x]))
				break;
			s->scan[k] = s->scan[c];
		}
		if (n > 0)
			s->scan[k] = x;

		j = h->v[i];
		if (bound != NULL && job_before(bound, j))
			return NULL;
		if ((ep = sched_pick(s, j, mean)) != NULL) {
			*epp = ep;
			return j;
		}
		/* Push its children. */
		for (c = 2 * i + 1; c <= 2 * i + 2 && c < h->n; c++) {
			for (k = n++; k > 0; k = p) {
				p = (k - 1) / 2;
				if (!job_before(h->v[c], h->v[s->scan[p]]))
					break;
				s->scan[k] = s->scan[p];
			}
			s->scan[k] = c;
		}
	}
	return NULL;
}

void
sched_set_fit(struct sched *s, int (*fit)(void *, void *))
{
	s->fit = fit;
}

struct sched *
sched_new(const struct sched_opts *o)
{
	struct sched	*s;

	s = xcalloc(1, sizeof *s);
	if (o != NULL)
		s->o = *o;
	else {
		s->o.retries = 2;
		s->o.fail_threshold = 3;
		s->o.open_usec = 30 * 1000000ULL;
	}
	if (s->o.retries < 0)
		s->o.retries = 0;
	if (s->o.fail_threshold < 1)
		s->o.fail_threshold = 1;
	return s;
}

void
sched_free(struct sched *s)
{
	struct sched_job	*j, *next;
	size_t			 i;

	if (s == NULL)
		return;
	for (i = 0; i < s->fresh.n; i++)
		job_free(s->fresh.v[i]);
	for (i = 0; i < s->retry.n; i++)
		job_free(s->retry.v[i]);
	for (j = s->running; j != NULL; j = next) {
		next = j->next;
		job_free(j);
	}
	for (i = 0; i < s->neps; i++) {
		free(s->eps[i]->name);
		free(s->eps[i]);
	}
	free(s->fresh.v);
	free(s->retry.v);
	free(s->eps);
	free(s->scan);
	free(s);
}

struct sched_ep *
sched_ep_add(struct sched *s, const char *name, int max, double weight,
    void *user)
{
	struct sched_ep	*ep;

	ep = xcalloc(1, sizeof *ep);
	ep->s = s;
	ep->id = ++s->next_ep_id;
	ep->name = xstrdup(name);
	ep->max = max >= 1 ? max : 1;
	ep->weight = weight > 0 ? weight : 1;	/* also catches NaN */
	ep->user = user;
	ep->state = SCHED_EP_UP;
	if (s->neps == s->capeps) {
		s->capeps = s->capeps ? s->capeps * 2 : 8;
		s->eps = xreallocarray(s->eps, s->capeps, sizeof *s->eps);
	}
	s->eps[s->neps++] = ep;
	return ep;
}

struct sched_ep *
sched_ep_find(struct sched *s, const char *name)
{
	size_t	i;

	for (i = 0; i < s->neps; i++)
		if (strcmp(s->eps[i]->name, name) == 0)
			return s->eps[i];
	return NULL;
}

void
sched_ep_drain(struct sched_ep *ep)
{
	ep->draining = 1;
}

void
sched_ep_update(struct sched_ep *ep, int max, double weight)
{
	ep->max = max < 1 ? 1 : max;
	ep->weight = weight > 0 ? weight : 1;
	ep->draining = 0;
}

int
sched_ep_remove(struct sched *s, struct sched_ep *ep)
{
	size_t	i;

	if (ep->inflight > 0)
		return -1;
	for (i = 0; i < s->neps; i++)
		if (s->eps[i] == ep)
			break;
	assert(i < s->neps);
	if (i == s->neps)
		return -1;
	memmove(&s->eps[i], &s->eps[i + 1],
	    (s->neps - i - 1) * sizeof *s->eps);
	s->neps--;
	free(ep->name);
	free(ep);
	return 0;
}

void *
sched_ep_user(const struct sched_ep *ep)
{
	return ep->user;
}

void
sched_ep_info(const struct sched_ep *ep, struct sched_ep_info *info)
{
	memset(info, 0, sizeof *info);
	info->name = ep->name;
	info->state = ep->draining ? SCHED_EP_DRAINING :
	    ep_circuit(ep, ep->s->last_now);
	info->inflight = ep->inflight;
	info->max = ep->max;
	info->weight = ep->weight;
	info->ewma_usec = ep->ewma_usec;
	info->done = ep->done;
	info->errors = ep->errors;
	info->consecutive_errors = ep->consecutive_errors;
}

void
sched_ep_probe(struct sched *s, struct sched_ep *ep, int ok, uint64_t now)
{
	sched_saw(s, now);
	if (ok) {
		if (ep->state != SCHED_EP_UP)
			ep_close(ep);
	} else
		ep_open(ep, now);
}

void
sched_ep_walk(struct sched *s, void (*cb)(void *, struct sched_ep *),
    void *arg)
{
	struct sched_ep	*ep;
	size_t		 i = 0;

	/* The callback may remove the endpoint it is given. */
	while (i < s->neps) {
		ep = s->eps[i];
		cb(arg, ep);
		if (i < s->neps && s->eps[i] == ep)
			i++;
	}
}

int
sched_usable(struct sched *s, uint64_t now)
{
	size_t	i;
	int	usable = 0;

	sched_saw(s, now);
	for (i = 0; i < s->neps; i++) {
		ep_update(s->eps[i], now);
		if (ep_usable(s->eps[i]))
			usable = 1;
	}
	return usable;
}

struct sched_job *
sched_submit(struct sched *s, int class, unsigned index, uint64_t t,
    void *user)
{
	struct sched_job	*j;

	if (class < SCHED_ONDEMAND)
		class = SCHED_ONDEMAND;
	if (class > SCHED_WARM)
		class = SCHED_WARM;
	j = xcalloc(1, sizeof *j);
	j->class = class;
	j->index = index;
	j->t = t;
	j->seq = s->seq++;
	j->user = user;
	job_enqueue(s, j);
	return j;
}

void
sched_promote(struct sched *s, struct sched_job *j)
{
	if (j->class == SCHED_ONDEMAND)
		return;
	if (j->queue == Q_NONE) {
		/* Running: it keeps the class should it be retried. */
		j->class = SCHED_ONDEMAND;
		return;
	}
	job_dequeue(s, j);
	j->class = SCHED_ONDEMAND;
	job_enqueue(s, j);
}

void
sched_cancel(struct sched *s, struct sched_job *j)
{
	assert(j->queue != Q_NONE);
	if (j->queue == Q_NONE)
		return;
	job_dequeue(s, j);
	job_free(j);
}

void *
sched_job_user(const struct sched_job *j)
{
	return j->user;
}

int
sched_job_attempts(const struct sched_job *j)
{
	return j->attempts;
}

int
sched_next(struct sched *s, uint64_t now, struct sched_job **jobp,
    struct sched_ep **epp)
{
	struct sched_job	*j = NULL, *r;
	struct sched_ep		*ep = NULL, *rep = NULL;
	double			 sum = 0, mean;
	size_t			 i, known = 0;
	int			 room = 0;

	sched_saw(s, now);
	if (s->fresh.n == 0 && s->retry.n == 0)
		return -1;
	for (i = 0; i < s->neps; i++) {
		ep = s->eps[i];
		ep_update(ep, now);
		if (ep->ewma_usec > 0) {
			sum += ep->ewma_usec;
			known++;
		}
		if (ep_usable(ep) && ep_room(ep, SCHED_ONDEMAND))
			room = 1;
	}
	if (!room)
		return -1;
	mean = known > 0 ? sum / known : 1;

	ep = NULL;
	if (s->fresh.n > 0) {
		j = s->fresh.v[0];
		if ((ep = sched_pick(s, j, mean)) == NULL)
			j = NULL;
		/* The first may wait for an endpoint fit for it while
		 * others could start elsewhere. */
		if (j == NULL && s->fit != NULL)
			j = sched_scan(s, &s->fresh, mean, NULL, &ep);
	}
	if ((r = sched_scan(s, &s->retry, mean, j, &rep)) != NULL &&
	    (j == NULL || job_before(r, j))) {
		j = r;
		ep = rep;
	}
	if (j == NULL)
		return -1;

	job_dequeue(s, j);
	j->ep = ep;
	j->attempts++;
	running_add(s, j);
	ep->inflight++;
	*jobp = j;
	*epp = ep;
	return 0;
}

/* After a failure on ep: queued again away from ep while the job has
 * retries left (1), else freed (-1: give up). */
static int
job_retry(struct sched *s, struct sched_job *j, struct sched_ep *ep)
{
	if (j->attempts > s->o.retries) {
		job_free(j);
		return -1;
	}
	job_add_failed(j, ep);
	job_enqueue(s, j);
	return 1;
}

int
sched_done(struct sched *s, struct sched_job *j, struct sched_ep *ep, int how,
    uint64_t latency, uint64_t now)
{
	assert(j->queue == Q_NONE && j->ep == ep && ep->inflight > 0);
	sched_saw(s, now);
	running_remove(s, j);
	j->ep = NULL;
	ep->inflight--;
	ep_update(ep, now);

	if (how == SCHED_REJECTED || how == SCHED_CANCELLED) {
		/* The endpoint answered, the request was at fault; or the
		 * job was stopped: nothing to learn of the endpoint. */
		job_free(j);
		return -1;
	}
	if (how == SCHED_ELSEWHERE)	/* not ep's to do: nothing counted */
		return job_retry(s, j, ep);
	if (how == SCHED_OK) {
		double	l = latency > 0 ? (double)latency : 1;

		ep->done++;
		ep->ewma_usec = ep->ewma_usec > 0 ?
		    (1 - EWMA_ALPHA) * ep->ewma_usec + EWMA_ALPHA * l : l;
		if (ep->state == SCHED_EP_HALFOPEN)
			ep_close(ep);
		ep->consecutive_errors = 0;
		job_free(j);
		return 0;
	}

	ep->errors++;
	ep->consecutive_errors++;
	if (ep->state == SCHED_EP_HALFOPEN)
		ep_open(ep, now);
	else if (ep->state == SCHED_EP_UP &&
	    ep->consecutive_errors >= s->o.fail_threshold)
		ep_open(ep, now);
	return job_retry(s, j, ep);
}

size_t
sched_queued(const struct sched *s)
{
	return s->fresh.n + s->retry.n;
}

size_t
sched_running(const struct sched *s)
{
	return s->nrunning;
}
