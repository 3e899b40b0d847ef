/* audio: GET /v1/audio/models — the model, voice and formats spoken here. */
#ifndef TTSACCEL_AUDIO_H
#define TTSACCEL_AUDIO_H

struct hreq;

/* GET /v1/audio/models */
void	 audio_models(struct hreq *);

#endif
