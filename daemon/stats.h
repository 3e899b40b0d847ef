/* stats: the daemon's statistics, one place for every view of them. */
#ifndef TTSACCEL_STATS_H
#define TTSACCEL_STATS_H

struct cJSON;
struct evbuffer;
struct server;

/* The views: each shows its own set, in its own order. */
#define STATS_HEALTH	0	/* GET /health */
#define STATS_ADMIN	1	/* the admin socket's `stats` */
#define STATS_CACHE	2	/* GET /cache/stats: NULL without a cache */

/* The statistics of a view (to cJSON_Delete). */
struct cJSON *stats_json(struct server *, int view);
/* Speech requests by how they were served: {"exact":n,...} (to
 * cJSON_Delete). */
struct cJSON *stats_served_json(const struct server *);
/* All of them in Prometheus' text format (GET /metrics), appended. */
void	 stats_metrics(struct server *, struct evbuffer *);

#endif
