/* replies: a chat reply's audio, whole. */
#ifndef TTSACCEL_REPLIES_H
#define TTSACCEL_REPLIES_H

struct cJSON;
struct hreq;
struct reply;

/* GET /v1/audio/replies/{id} and /v1/audio/replies/{id}/segments: rest
 * is the path after /v1/audio/replies/. */
void	 replies_get(struct hreq *, const char *rest);
/* DELETE /v1/audio/replies/{id}: cancel the reply (reply_cancel). */
void	 replies_delete(struct hreq *, const char *rest);
/* The answer to a cancel of r (to cJSON_Delete): {id, object, cancelled,
 * state}; now: whether this call cancelled it. */
struct cJSON *replies_cancel_json(const struct reply *, int now);

#endif
