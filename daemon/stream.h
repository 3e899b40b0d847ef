/* stream: audio to one client, from cache entries or a reply's segments. */
#ifndef TTSACCEL_STREAM_H
#define TTSACCEL_STREAM_H

#include <stddef.h>

struct cache_entry;
struct hreq;
struct reply;
struct speech_sse;
struct tts_params;

/*
 * Send ents (n of them, taken with their pins) in order as one answer
 * said with p, labelled label (X-TTS-Cache).  merge: WAV entries are
 * merged under one header (else each is sent as it is).  A failed entry
 * ends it: an error before the first byte, else the stream is cut.
 * ev not NULL: the answer is text/event-stream, the same bytes framed
 * from ev (copied) as speech.audio.delta events, ended by
 * speech.audio.done, or by an error event instead of a cut.
 */
void	 stream_entries(struct hreq *, const struct tts_params *p,
	    const char *label, struct cache_entry **ents, size_t n,
	    int merge, const struct speech_sse *ev);
/* A reply's segments as they are made, in p's format; a failed segment
 * is left out. */
void	 stream_reply(struct hreq *, const struct tts_params *p,
	    struct reply *r);
/*
 * The WAV of each of texts[0..ntexts) obtained (or found), and once all
 * are complete joined, converted to p's format on a worker thread (or
 * found converted in the cache) and sent whole (ev: as events, as
 * stream_entries sends them).  A whole
 * reply's (r not NULL) is labelled "reply", else it is counted in the
 * server's served statistics.
 */
void	 stream_convert(struct hreq *, const struct tts_params *p,
	    char *const *texts, size_t ntexts, struct reply *r,
	    const struct speech_sse *ev);
/* The same for no texts: 100 ms of silence in p's format, converted once
 * (ntexts 0), labelled "empty".  The silence as WAV: */
const unsigned char *stream_silence_wav(size_t *);
/* Send a complete entry's bytes as the whole answer in format, without a
 * copy; the caller's pin is taken and dropped once they are written. */
void	 stream_send_entry(struct hreq *, const char *,
	    struct cache_entry *);
/* The same, labelled (X-TTS-Cache and the access log's note). */
void	 stream_send_labelled(struct hreq *, const char *label,
	    const char *format, struct cache_entry *);

#endif
