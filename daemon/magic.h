/* magic: is a backend's answer audio of the format asked? (pure) */
#ifndef TTSACCEL_MAGIC_H
#define TTSACCEL_MAGIC_H

#include <stddef.h>
#include <stdint.h>

/* The most bytes looked at before the audio must have shown itself (a
 * WAV's chunks before its data, an ID3 tag's start). */
#define MAGIC_HEAD_MAX	(256 * 1024)

/* A WAV data length this large says "unknown": a stream's guess. */
#define MAGIC_WAV_STREAMED	0x7f000000u

/* What the head said, for magic_end. */
struct magic {
	int		 wav;		/* a WAV header was read */
	uint64_t	 data_offset;	/* its samples' first byte */
	uint32_t	 data_len;	/* as declared (0 or from
					   MAGIC_WAV_STREAMED up: unknown) */
	unsigned	 frame;		/* bytes per sample frame */
};

/*
 * Look at the first len bytes of an answer in format fmt (mp3 opus aac
 * flac wav pcm).  1: it is that format (*m filled); 0: more bytes are
 * needed; -1: it is not (*why says what it is instead).
 */
int	 magic_head(const char *, const void *, size_t, struct magic *,
	    const char **);
/*
 * The whole answer was total bytes: 0 if complete, -1 when cut short (a
 * WAV's data shorter than its header declared, a PCM sample cut in
 * half), with *why.  A WAV streamed with an unknown length is complete.
 */
int	 magic_end(const char *, const struct magic *, uint64_t, const char **);
/* The format these first bytes are, by their magic, or NULL. */
const char *magic_detect(const void *, size_t);

#endif
