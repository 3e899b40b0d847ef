/* speech: POST /v1/audio/speech. */
#ifndef TTSACCEL_SPEECH_H
#define TTSACCEL_SPEECH_H

struct hreq;

void	 speech_post(struct hreq *);

#endif
