/* speech_sse: speech as server-sent events (stream_format "sse") — audio
 * bytes framed as OpenAI's speech.audio.delta events, base64 encoded as
 * they come, then speech.audio.done with the usage (pure: no I/O). */
#ifndef TTSACCEL_SPEECH_SSE_H
#define TTSACCEL_SPEECH_SSE_H

#include <stddef.h>

struct evbuffer;

/* The most audio bytes one delta event carries (a multiple of 3). */
#define SPEECH_SSE_MAX		49152

/* One answer's framing: the bytes not yet framed and its usage. */
struct speech_sse {
	unsigned char	 carry[2];	/* 0-2 bytes left over */
	size_t		 ncarry;
	size_t		 input_tokens;	/* what speech.audio.done says */
};

/* A new answer's framing, for an input of input_tokens (characters). */
void	 speech_sse_init(struct speech_sse *, size_t input_tokens);
/*
 * Append to out the delta events for len more bytes of audio: each
 * carries a multiple of 3 bytes (at most SPEECH_SSE_MAX), so that its
 * base64 has no padding and decodes on its own; the 0-2 bytes left over
 * are carried to the next call.
 */
void	 speech_sse_delta(struct speech_sse *, struct evbuffer *,
	    const void *, size_t);
/* The end: the bytes carried as a last delta, then speech.audio.done. */
void	 speech_sse_done(struct speech_sse *, struct evbuffer *);
/* An answer that fails once its events have begun ends with this event:
 * {"type":"error","error":{"message","type","param":null,"code"}}. */
void	 speech_sse_error(struct evbuffer *, const char *type,
	    const char *code, const char *message);

#endif
