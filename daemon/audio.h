/* audio: the speech endpoints — /v1/audio/speech, whole replies, cache. */
#ifndef TTSACCEL_AUDIO_H
#define TTSACCEL_AUDIO_H

struct hreq;

/* POST /v1/audio/speech */
void	 audio_speech(struct hreq *);
/* GET /v1/audio/replies/{id} and /v1/audio/replies/{id}/segments */
void	 audio_reply(struct hreq *, const char *);
/* GET /v1/audio/models */
void	 audio_models(struct hreq *);
/* GET /cache/stats, POST /cache/clear, GET /metrics */
void	 audio_cache_stats(struct hreq *);
void	 audio_cache_clear(struct hreq *);
void	 audio_metrics(struct hreq *);
struct cJSON;
struct server;
/* Speech requests by how they were served: {"exact":n,...} (to
 * cJSON_Delete). */
struct cJSON *audio_served_json(const struct server *);
struct tts;
/* The formats we can answer in, for a message: "wav, pcm, flac, mp3 or
 * opus" (a static buffer). */
const char *audio_made_formats(struct tts *);
/* The Content-Type of an audio format, or NULL if unknown. */
const char *audio_content_type(const char *);

#endif
