/*
 * fuzz_sched: the scheduler under any sequence of operations.  Each
 * input byte is an operation (its low bits pick which, the rest its
 * argument); time moves forward by the operation's argument.  Asserts
 * that no endpoint runs more than its max, that a half-open endpoint
 * runs at most one job, that nothing starts on a draining or open
 * endpoint, that the queued and running counts match the model, that a
 * retried job never starts where it failed while an endpoint it did not
 * fail on is usable, and that every job ends exactly once.
 */

#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched.h"
#include "util.h"

#define MAXEPS	6
#define MAXJOBS	256

struct fjob {
	int			 kind;	/* 0: any endpoint; else its kind */
	struct sched_job	*j;
	struct sched_ep		*ep;	/* running on, or NULL: queued */
	int			 live;
	struct sched_ep		*failed[8];
	int			 nfailed;
};

static struct fjob	jobs[MAXJOBS];
static int		njobs;

static int
failed_on(const struct fjob *f, const struct sched_ep *ep)
{
	int	i;

	for (i = 0; i < f->nfailed; i++)
		if (f->failed[i] == ep)
			return 1;
	return 0;
}

/* Kind-1 and kind-2 jobs prefer endpoints of their kind. */
static int
fit(void *job, void *ep)
{
	const struct fjob	*f = job;

	return f->kind == 0 || (uintptr_t)ep == (uintptr_t)f->kind;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sched_opts	 o;
	struct sched		*s;
	struct sched_ep		*eps[MAXEPS], *ep;
	struct sched_job	*j;
	struct sched_ep_info	 in;
	uint64_t		 now = 1;
	size_t			 p, queued, running;
	int			 neps = 0, i, k, r, op, arg, e;
	char			 name[16];

	if (size < 2)
		return 0;
	memset(&o, 0, sizeof o);
	o.retries = data[0] % 4;
	o.fail_threshold = 1 + data[1] % 4;
	o.open_usec = 50;
	s = sched_new(&o);
	if (data[0] & 4)
		sched_set_fit(s, fit);
	memset(jobs, 0, sizeof jobs);
	njobs = 0;

	for (p = 2; p < size; p++) {
		op = data[p] & 7;
		arg = data[p] >> 3;
		now += (uint64_t)arg;
		switch (op) {
		case 0:
			if (neps == MAXEPS)
				break;
			snprintf(name, sizeof name, "e%d", arg);
			eps[neps++] = sched_ep_add(s, name, 1 + arg % 3,
			    1 + arg % 2, (void *)(uintptr_t)(1 + arg / 2 % 2));
			break;
		case 1:
		case 2:
			if (njobs == MAXJOBS)
				break;
			jobs[njobs].kind = op == 2 ? 1 + arg % 2 : 0;
			jobs[njobs].j = sched_submit(s, arg % 3,
			    (unsigned)(arg / 3), now, &jobs[njobs]);
			jobs[njobs].live = 1;
			njobs++;
			break;
		case 3:
			while (sched_next(s, now, &j, &ep) == 0) {
				struct fjob *f = sched_job_user(j);

				assert(f->live && f->ep == NULL && f->j == j);
				sched_ep_info(ep, &in);
				assert(in.inflight <= in.max);
				assert(in.state == SCHED_EP_UP ||
				    (in.state == SCHED_EP_HALFOPEN &&
				    in.inflight == 1));
				if (failed_on(f, ep))
					for (e = 0; e < neps; e++) {
						struct sched_ep_info ie;

						sched_ep_info(eps[e], &ie);
						/* a fit one was chosen over it */
						if ((data[0] & 4) && fit(f,
						    sched_ep_user(ep)) && !fit(f,
						    sched_ep_user(eps[e])))
							continue;
						assert(failed_on(f, eps[e]) ||
						    (ie.state != SCHED_EP_UP &&
						    ie.state !=
						    SCHED_EP_HALFOPEN));
					}
				f->ep = ep;
			}
			break;
		case 4:
		case 5:
			/* Finish the arg-th running job, ok unless op 5. */
			for (i = 0, k = 0; i < njobs; i++) {
				if (!jobs[i].live || jobs[i].ep == NULL)
					continue;
				if (k++ < arg % 8)
					continue;
				ep = jobs[i].ep;
				jobs[i].ep = NULL;
				r = sched_done(s, jobs[i].j, ep, op == 4,
				    (uint64_t)arg * 10, now);
				if (r == 1) {
					assert(op == 5);
					if (jobs[i].nfailed < 8 &&
					    !failed_on(&jobs[i], ep))
						jobs[i].failed[
						    jobs[i].nfailed++] = ep;
				} else
					jobs[i].live = 0;
				break;
			}
			break;
		case 6:
			/* Promote or cancel a queued job. */
			for (i = 0, k = 0; i < njobs; i++) {
				if (!jobs[i].live || jobs[i].ep != NULL)
					continue;
				if (k++ < arg % 16)
					continue;
				if (arg & 1)
					sched_promote(s, jobs[i].j);
				else {
					sched_cancel(s, jobs[i].j);
					jobs[i].live = 0;
				}
				break;
			}
			break;
		case 7:
			if (neps == 0)
				break;
			e = arg % neps;
			switch ((arg / neps) % 4) {
			case 0:
				sched_ep_drain(eps[e]);
				break;
			case 1:
				sched_ep_info(eps[e], &in);
				if (sched_ep_remove(s, eps[e]) == 0) {
					assert(in.inflight == 0);
					/* Forget it in the model too. */
					for (i = 0; i < njobs; i++)
						for (k = 0; k <
						    jobs[i].nfailed; k++)
							if (jobs[i].failed[k]
							    == eps[e])
								jobs[i].failed[k]
								    = NULL;
					eps[e] = eps[--neps];
				} else
					assert(in.inflight > 0);
				break;
			case 2:
			case 3:
				sched_ep_probe(s, eps[e], (arg / neps) % 4 == 2,
				    now);
				break;
			}
			break;
		}
		queued = running = 0;
		for (i = 0; i < njobs; i++)
			if (jobs[i].live) {
				if (jobs[i].ep != NULL)
					running++;
				else
					queued++;
			}
		assert(sched_queued(s) == queued);
		assert(sched_running(s) == running);
		for (e = 0; e < neps; e++) {
			sched_ep_info(eps[e], &in);
			assert(in.inflight >= 0 && in.inflight <= in.max);
		}
		(void)sched_usable(s, now);
	}
	sched_free(s);
	return 0;
}
