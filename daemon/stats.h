/* stats: the daemon's statistics. */
#ifndef TTSACCEL_STATS_H
#define TTSACCEL_STATS_H

struct cJSON;
struct hreq;
struct server;

/* Speech requests by how they were served: {"exact":n,...} (to
 * cJSON_Delete). */
struct cJSON *stats_served_json(const struct server *);
/* GET /cache/stats */
void	 stats_cache(struct hreq *);
/* GET /metrics */
void	 stats_metrics(struct hreq *);

#endif
