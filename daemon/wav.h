/* wav: RIFF/WAVE headers — parse a backend's, write a stream's (pure). */
#ifndef TTSACCEL_WAV_H
#define TTSACCEL_WAV_H

#include <stddef.h>
#include <stdint.h>

struct wav_info {
	uint16_t	 format;	/* 1 = PCM, 3 = float, 0xfffe = extensible */
	uint16_t	 channels;
	uint32_t	 rate;
	uint16_t	 bits;
	size_t		 data_offset;	/* first byte of the samples */
	uint32_t	 data_len;	/* as declared; 0 or 0xffffffff when
					   streamed with an unknown length */
};

/*
 * Parse the header at the start of buf.  Returns 1 with *info set when
 * the data chunk has been reached, 0 when more bytes are needed, -1 when
 * this is not a WAV file we can read (the reason in *err).
 */
int	 wav_parse(const void *, size_t, struct wav_info *, const char **);
/* Write a 44-byte canonical PCM header for data_len bytes of samples
 * (0xffffffff sizes for a stream of unknown length). */
void	 wav_header(unsigned char [44], const struct wav_info *, uint32_t);

/* Same rate, channels and sample format? */
int	 wav_same_layout(const struct wav_info *, const struct wav_info *);
/*
 * Samples of one 16-bit PCM layout brought to another's rate and
 * channel count: linear interpolation, mono copied to every channel,
 * several mixed to mono, else channel by channel (the last repeated).
 * Returns the samples (to free) and *outlen, or NULL when either side is
 * not 16-bit PCM.  wav_reshape_len gives the length alone (0: cannot).
 */
unsigned char *wav_reshape(const struct wav_info *, const void *, size_t,
	    const struct wav_info *, size_t *);
size_t	 wav_reshape_len(const struct wav_info *, size_t,
	    const struct wav_info *);

#endif
