/* metrics: latency histograms in Prometheus text form (pure). */
#ifndef TTSACCEL_METRICS_H
#define TTSACCEL_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define HIST_BUCKETS	14

struct hist {
	const char	*name;		/* ttsaccel_…_seconds */
	const char	*help;
	uint64_t	 counts[HIST_BUCKETS + 1];	/* the last is +Inf */
	uint64_t	 count;
	double		 sum;		/* seconds */
};

/* Record one observation of usec microseconds. */
void	 hist_observe(struct hist *, uint64_t);
/* Append the histogram's exposition lines to buf (grown with xrealloc);
 * *len is the text's length so far. */
void	 hist_print(const struct hist *, char **, size_t *);

#endif
