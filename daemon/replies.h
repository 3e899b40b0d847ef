/* replies: a chat reply's audio, whole. */
#ifndef TTSACCEL_REPLIES_H
#define TTSACCEL_REPLIES_H

struct hreq;

/* GET /v1/audio/replies/{id} and /v1/audio/replies/{id}/segments: rest
 * is the path after /v1/audio/replies/. */
void	 replies_get(struct hreq *, const char *rest);

#endif
