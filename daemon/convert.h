/* convert: one synthesis, every format — re-encode audio in memory (pure). */
#ifndef TTSACCEL_CONVERT_H
#define TTSACCEL_CONVERT_H

#include <stddef.h>

#define CONVERT_IN_MAX	(64u * 1024 * 1024)	/* largest input accepted */

/* Can we make this format (wav pcm flac mp3 opus) from audio we hold? */
int	 convert_can(const char *format);
/*
 * Convert the whole audio file in (from "wav": any PCM, float, A-law or
 * mu-law WAV, streamed sizes allowed; or "pcm": 16-bit little-endian mono
 * at the given rate) to the format to.  Returns 0 with a malloc'd buffer
 * in *out and its length in *outlen, or -1 with a static reason in *err.
 */
int	 convert(const void *in, size_t inlen, const char *from,
	    unsigned rate, const char *to, unsigned char **out, size_t *outlen,
	    const char **err);

/*
 * The same in steps, so that a long conversion does not hold the event
 * loop: begin (in must stay valid until convert_free; NULL with *err),
 * then convert_step with up to frames more input frames until it returns
 * 0 (done) or -1 (*err); convert_take gives the output (malloc'd).
 */
struct convert;
struct convert *convert_begin(const void *in, size_t inlen, const char *from,
	    unsigned rate, const char *to, const char **err);
int	 convert_step(struct convert *, size_t frames, const char **err);
unsigned char *convert_take(struct convert *, size_t *outlen);
void	 convert_free(struct convert *);

#endif
