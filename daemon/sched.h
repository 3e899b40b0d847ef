/* sched: which synthesis runs next, and on which endpoint (pure). */
#ifndef TTSACCEL_SCHED_H
#define TTSACCEL_SCHED_H

#include <stddef.h>
#include <stdint.h>

struct sched;
struct sched_ep;
struct sched_job;

/* Priority classes: lower runs first. */
#define SCHED_ONDEMAND	0	/* a client is waiting for it */
#define SCHED_PREFETCH	1	/* a segment of a streaming reply */
#define SCHED_WARM	2	/* keep-warm: only on idle endpoints */

/* Endpoint states. */
#define SCHED_EP_UP		0	/* usable */
#define SCHED_EP_OPEN		1	/* circuit open: failing, not used */
#define SCHED_EP_HALFOPEN	2	/* trying one request after a pause */
#define SCHED_EP_DRAINING	3	/* no new work; leaves when idle */

struct sched_opts {
	int		 retries;		/* TTS_RETRY_COUNT */
	int		 fail_threshold;	/* consecutive failures to open (3) */
	uint64_t	 open_usec;		/* pause before half-open (30 s) */
};

struct sched_ep_info {
	const char	*name;
	int		 state;
	int		 inflight;
	int		 max;
	double		 weight;
	double		 ewma_usec;	/* recent latency, 0 = unknown */
	uint64_t	 done;
	uint64_t	 errors;
	int		 consecutive_errors;
};

struct sched *sched_new(const struct sched_opts *);
/* fit(job user, endpoint user): can that endpoint do that job (make its
 * format, say)?  Jobs then go only to fit endpoints, while some usable
 * one is fit; else anywhere, as without it. */
void	 sched_set_fit(struct sched *, int (*fit)(void *job, void *ep));
/* Free the scheduler, its endpoints and jobs (user pointers untouched). */
void	 sched_free(struct sched *);

/* Add an endpoint (name is copied); max >= 1, weight > 0. */
struct sched_ep *sched_ep_add(struct sched *, const char *name, int max,
	    double weight, void *user);
/* Find an endpoint by name, or NULL. */
struct sched_ep *sched_ep_find(struct sched *, const char *name);
/* No new work to it; in-flight work finishes. */
void	 sched_ep_drain(struct sched_ep *);
/* New max and weight (a reload); a draining endpoint takes work again. */
void	 sched_ep_update(struct sched_ep *, int max, double weight);
/* Remove it now if idle (returns 0), else -1 (drain it first). */
int	 sched_ep_remove(struct sched *, struct sched_ep *);
void	*sched_ep_user(const struct sched_ep *);
void	 sched_ep_info(const struct sched_ep *, struct sched_ep_info *);
/* A health probe's verdict: ok closes an open circuit, a failure keeps
 * (or puts) it open. */
void	 sched_ep_probe(struct sched *, struct sched_ep *, int ok,
	    uint64_t now);
/* Visit every endpoint in the order they were added. */
void	 sched_ep_walk(struct sched *, void (*fn)(void *arg, struct sched_ep *),
	    void *arg);
/* Is any endpoint usable now (up or half-open, not draining)? */
int	 sched_usable(struct sched *, uint64_t now);

/*
 * Queue a job: class, then index within its reply (segment 0 of any
 * reply before segment 5 of another), then age (t, when it was made).
 */
struct sched_job *sched_submit(struct sched *, int class, unsigned index,
	    uint64_t t, void *user);
/* A client now waits for a queued job: move it to SCHED_ONDEMAND. */
void	 sched_promote(struct sched *, struct sched_job *);
/* Withdraw a queued (not running) job; it is freed. */
void	 sched_cancel(struct sched *, struct sched_job *);
void	*sched_job_user(const struct sched_job *);
/* Attempts made so far. */
int	 sched_job_attempts(const struct sched_job *);

/*
 * The next job to start and where: the first queued job in priority
 * order on the usable endpoint with the lowest (inflight + 1) * latency
 * / weight, never above its max, never one the job already failed on
 * (unless no other is usable).  Returns 0 and marks the job running, or
 * -1 when nothing can start now.
 */
int	 sched_next(struct sched *, uint64_t now, struct sched_job **jobp,
	    struct sched_ep **epp);
/* How a running job ended (sched_done). */
#define SCHED_FAILED	0	/* the endpoint's fault: 5xx, timeout, … */
#define SCHED_OK	1
#define SCHED_REJECTED	2	/* the request's fault: the endpoint is fine */
#define SCHED_ELSEWHERE	3	/* not this endpoint's to do (a format) */
#define SCHED_CANCELLED	4	/* nobody wants it any more: stopped */

/*
 * A running job ended on ep after latency usec, how being one of the
 * above, at now.  SCHED_OK: the job is
 * freed, returns 0.  SCHED_FAILED: the endpoint's error counts go up
 * (maybe opening its circuit); the job is queued again if it has retries
 * left (returns 1), else freed (returns -1: give up).  SCHED_REJECTED:
 * freed (-1), nothing counted.  SCHED_ELSEWHERE: queued again away from
 * ep while it has retries left (1; else freed, -1), nothing counted.
 * SCHED_CANCELLED: freed (-1), nothing counted, the slot free again.
 */
int	 sched_done(struct sched *, struct sched_job *j, struct sched_ep *ep,
	    int how, uint64_t latency, uint64_t now);
/* Jobs queued (not running), and running. */
size_t	 sched_queued(const struct sched *);
size_t	 sched_running(const struct sched *);

#endif
