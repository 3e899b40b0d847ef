/* stream: audio to one client, from cache entries or a reply's segments. */
#ifndef TTSACCEL_STREAM_H
#define TTSACCEL_STREAM_H

#include <stddef.h>

struct cache_entry;
struct hreq;
struct reply;
struct tts_params;

/*
 * Send ents (n of them, taken with their pins) in order as one answer
 * said with p, labelled label (X-TTS-Cache).  merge: WAV entries are
 * merged under one header (else each is sent as it is).  A failed entry
 * ends it: an error before the first byte, else the stream is cut.
 */
void	 stream_entries(struct hreq *, const struct tts_params *p,
	    const char *label, struct cache_entry **ents, size_t n,
	    int merge);
/* A reply's segments as they are made, in p's format; a failed segment
 * is left out. */
void	 stream_reply(struct hreq *, const struct tts_params *p,
	    struct reply *r);
/*
 * The WAV of each of texts[0..ntexts) obtained (or found), and once all
 * are complete joined, converted to p's format and sent whole.  A whole
 * reply's (r not NULL) is labelled "reply", else it is counted in the
 * server's served statistics.
 */
void	 stream_convert(struct hreq *, const struct tts_params *p,
	    char *const *texts, size_t ntexts, struct reply *r);

#endif
