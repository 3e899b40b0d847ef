/* audio: the audio formats answered in, and GET /v1/audio/models. */
#ifndef TTSACCEL_AUDIO_H
#define TTSACCEL_AUDIO_H

struct hreq;
struct tts;

/* GET /v1/audio/models */
void	 audio_models(struct hreq *);
/* The formats we can answer in, for a message: "wav, pcm, flac, mp3 or
 * opus" (a static buffer). */
const char *audio_made_formats(struct tts *);
/* The Content-Type of an audio format, or NULL if unknown. */
const char *audio_content_type(const char *);

#endif
