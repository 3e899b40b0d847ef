/* Unit tests for the latency histograms. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "metrics.h"

int
main(void)
{
	struct hist	 h = { "t_seconds", "Test.", { 0 }, 0, 0 };
	char		*buf = NULL;
	size_t		 len = 0;

	hist_observe(&h, 500);		/* 0.5 ms: first bucket */
	hist_observe(&h, 1000);		/* exactly 1 ms: still the first */
	hist_observe(&h, 30000);	/* 30 ms: le 0.05 */
	hist_observe(&h, 120000000);	/* 2 min: only +Inf */
	hist_print(&h, &buf, &len);
	CHECK(strlen(buf) == len);
	CHECK(strstr(buf, "# TYPE t_seconds histogram\n") != NULL);
	CHECK(strstr(buf, "t_seconds_bucket{le=\"0.001\"} 2\n") != NULL);
	CHECK(strstr(buf, "t_seconds_bucket{le=\"0.025\"} 2\n") != NULL);
	CHECK(strstr(buf, "t_seconds_bucket{le=\"0.05\"} 3\n") != NULL);
	CHECK(strstr(buf, "t_seconds_bucket{le=\"60\"} 3\n") != NULL);
	CHECK(strstr(buf, "t_seconds_bucket{le=\"+Inf\"} 4\n") != NULL);
	CHECK(strstr(buf, "t_seconds_count 4\n") != NULL);
	CHECK(strstr(buf, "t_seconds_sum 120.031500\n") != NULL);
	free(buf);
	return CHECK_DONE();
}
