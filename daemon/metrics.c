/* metrics: latency histograms in Prometheus text form (pure). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "util.h"

/* Upper bounds in seconds: from 1 ms (a proxy's overhead) to a minute. */
static const double bounds[HIST_BUCKETS] = {
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
	10, 60
};

void
hist_observe(struct hist *h, uint64_t usec)
{
	double	sec = (double)usec / 1e6;
	size_t	i;

	for (i = 0; i < HIST_BUCKETS && sec > bounds[i]; i++)
		;
	h->counts[i]++;
	h->count++;
	h->sum += sec;
}

static void
append(char **buf, size_t *len, const char *fmt, ...)
{
	va_list	ap;
	char	line[256];
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof line)
		n = sizeof line - 1;
	*buf = xrealloc(*buf, *len + (size_t)n + 1);
	memcpy(*buf + *len, line, (size_t)n + 1);
	*len += (size_t)n;
}

void
hist_print(const struct hist *h, char **buf, size_t *len)
{
	uint64_t	cum = 0;
	size_t		i;

	append(buf, len, "# HELP %s %s\n# TYPE %s histogram\n", h->name,
	    h->help, h->name);
	for (i = 0; i < HIST_BUCKETS; i++) {
		cum += h->counts[i];
		append(buf, len, "%s_bucket{le=\"%g\"} %llu\n", h->name,
		    bounds[i], (unsigned long long)cum);
	}
	append(buf, len, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.6f\n"
	    "%s_count %llu\n", h->name, (unsigned long long)h->count, h->name,
	    h->sum, h->name, (unsigned long long)h->count);
}
