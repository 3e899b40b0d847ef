/*
 * wav: RIFF/WAVE headers — parse a backend's, write a stream's (pure).
 *
 * wav_parse walks the chunks of a header that may still be arriving:
 * "RIFF" (or "RF64") size "WAVE", then chunks of id, little-endian size
 * and body, padded to an even length.  It reads "fmt ", skips any other
 * chunk (LIST, fact, ds64, ...) and stops at the "data" chunk's header,
 * without looking at the samples.  Sizes in the RIFF header and the data
 * chunk are not trusted: streaming writers put 0, 0xffffffff or a large
 * guess there (espeak-ng --stdout writes 0x7ffff024 and 0x7ffff000).
 */
#include <stdint.h>
#include <string.h>

#include "util.h"
#include "wav.h"

/* Bytes allowed before the samples: a caller buffers at most this much
 * while wav_parse answers 0. */
#define WAV_HEADER_MAX	(256 * 1024)
#define WAV_FMT_MAX	1024		/* WAVEFORMATEXTENSIBLE is 40 */
#define WAV_CHANNELS_MAX 256
#define WAV_RATE_MAX	(8 * 1000 * 1000)
#define WAV_BITS_MAX	64

#define WAV_FMT_PCM		0x0001
#define WAV_FMT_FLOAT		0x0003
#define WAV_FMT_EXTENSIBLE	0xfffe

static uint16_t
get16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t
get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static void
put16(unsigned char *p, uint16_t v)
{
	p[0] = v & 0xff;
	p[1] = v >> 8;
}

static void
put32(unsigned char *p, uint32_t v)
{
	p[0] = v & 0xff;
	p[1] = (v >> 8) & 0xff;
	p[2] = (v >> 16) & 0xff;
	p[3] = v >> 24;
}

/* Do the first n bytes (n < 4) of buf agree with the 4-byte tag? */
static int
prefix_is(const unsigned char *buf, size_t n, const char *tag)
{
	return memcmp(buf, tag, n < 4 ? n : 4) == 0;
}

static int
fail(const char **err, const char *why)
{
	if (err != NULL)
		*err = why;
	return -1;
}

/* Read a complete fmt chunk body of size n into info. */
static int
parse_fmt(const unsigned char *p, uint32_t n, struct wav_info *info,
    const char **err)
{
	info->format = get16(p);
	info->channels = get16(p + 2);
	info->rate = get32(p + 4);
	info->bits = get16(p + 14);
	if (info->format == 0)
		return fail(err, "WAV format tag is 0 (unknown)");
	if (info->channels == 0 || info->channels > WAV_CHANNELS_MAX)
		return fail(err, "WAV channel count is 0 or absurd");
	if (info->rate == 0 || info->rate > WAV_RATE_MAX)
		return fail(err, "WAV sample rate is 0 or absurd");
	if (info->bits > WAV_BITS_MAX)
		return fail(err, "WAV bits per sample is absurd");
	if ((info->format == WAV_FMT_PCM || info->format == WAV_FMT_FLOAT ||
	    info->format == WAV_FMT_EXTENSIBLE) && info->bits == 0)
		return fail(err, "WAV bits per sample is 0");
	if (info->format == WAV_FMT_EXTENSIBLE && n < 40)
		return fail(err, "WAV extensible fmt chunk is too short");
	return 0;
}

int
wav_parse(const void *vbuf, size_t len, struct wav_info *info,
    const char **err)
{
	const unsigned char	*buf = vbuf;
	struct wav_info		 fi;
	size_t			 pos, skip;
	uint32_t		 size;
	int			 have_fmt = 0;

	memset(&fi, 0, sizeof fi);

	/* Reject a wrong magic as soon as its first byte is here. */
	if (len < 4) {
		if (prefix_is(buf, len, "RIFF") || prefix_is(buf, len, "RF64"))
			return 0;
		return fail(err, "not a WAV file: no RIFF header");
	}
	if (memcmp(buf, "RIFX", 4) == 0)
		return fail(err, "big-endian WAV (RIFX) is not supported");
	if (memcmp(buf, "RIFF", 4) != 0 && memcmp(buf, "RF64", 4) != 0)
		return fail(err, "not a WAV file: no RIFF header");
	if (len > 8 && !prefix_is(buf + 8, len - 8, "WAVE"))
		return fail(err, "RIFF file is not WAVE");
	if (len < 12)
		return 0;

	for (pos = 12;;) {
		if (len - pos < 8)
			return 0;
		size = get32(buf + pos + 4);
		if (memcmp(buf + pos, "data", 4) == 0) {
			if (!have_fmt)
				return fail(err, "WAV data chunk before the "
				    "fmt chunk");
			fi.data_offset = pos + 8;
			fi.data_len = size;
			*info = fi;
			return 1;
		}
		if (memcmp(buf + pos, "fmt ", 4) == 0) {
			if (have_fmt)
				return fail(err, "WAV has two fmt chunks");
			if (size < 16)
				return fail(err, "WAV fmt chunk is too short");
			if (size > WAV_FMT_MAX)
				return fail(err, "WAV fmt chunk size is "
				    "absurd");
			if (len - pos - 8 < size)
				return 0;
			if (parse_fmt(buf + pos + 8, size, &fi, err) != 0)
				return -1;
			have_fmt = 1;
		}
		/* Skip the chunk and its pad byte; the data chunk's header
		 * must still fit within WAV_HEADER_MAX. */
		skip = 8 + (size_t)size + (size & 1);
		if (skip > WAV_HEADER_MAX || pos + skip + 8 > WAV_HEADER_MAX)
			return fail(err, "WAV chunk before the data is too "
			    "large");
		pos += skip;
		if (pos > len)
			return 0;
	}
}

void
wav_header(unsigned char h[44], const struct wav_info *info,
    uint32_t data_len)
{
	uint32_t	align, riff;

	/* A 16-byte fmt chunk holds plain PCM or float only. */
	align = (uint32_t)info->channels * ((info->bits + 7u) / 8u);
	if (data_len == 0xffffffff || data_len > 0xffffffff - 36)
		riff = 0xffffffff;
	else
		riff = 36 + data_len;

	memcpy(h, "RIFF", 4);
	put32(h + 4, riff);
	memcpy(h + 8, "WAVE", 4);
	memcpy(h + 12, "fmt ", 4);
	put32(h + 16, 16);
	put16(h + 20, info->format == WAV_FMT_FLOAT ? WAV_FMT_FLOAT :
	    WAV_FMT_PCM);
	put16(h + 22, info->channels);
	put32(h + 24, info->rate);
	put32(h + 28, info->rate * align);
	put16(h + 32, (uint16_t)align);
	put16(h + 34, info->bits);
	memcpy(h + 36, "data", 4);
	put32(h + 40, data_len);
}

/* 16-bit PCM (plain, or extensible at 16 bits)? */
static int
is_s16(const struct wav_info *w)
{
	return (w->format == WAV_FMT_PCM || w->format == WAV_FMT_EXTENSIBLE) &&
	    w->bits == 16 && w->channels > 0 && w->rate > 0;
}

int
wav_same_layout(const struct wav_info *a, const struct wav_info *b)
{
	return a->rate == b->rate && a->channels == b->channels &&
	    a->bits == b->bits && (a->format == b->format ||
	    (is_s16(a) && is_s16(b)));
}

size_t
wav_reshape_len(const struct wav_info *from, size_t inlen,
    const struct wav_info *to)
{
	uint64_t	nin, nout;

	if (!is_s16(from) || !is_s16(to))
		return 0;
	nin = inlen / (2u * from->channels);
	nout = nin * to->rate / from->rate;
	return (size_t)(nout * 2u * to->channels);
}

static int16_t
s16_at(const unsigned char *p, size_t frame, unsigned ch,
    const struct wav_info *from, const struct wav_info *to)
{
	const unsigned char	*f = p + frame * 2u * from->channels;
	int32_t			 sum = 0;
	unsigned		 c;

	if (from->channels == 1)
		return (int16_t)get16(f);
	if (to->channels == 1) {
		/* Mixed down: the mean of every channel. */
		for (c = 0; c < from->channels; c++)
			sum += (int16_t)get16(f + 2u * c);
		return (int16_t)(sum / (int32_t)from->channels);
	}
	c = ch < from->channels ? ch : from->channels - 1u;
	return (int16_t)get16(f + 2u * c);
}

unsigned char *
wav_reshape(const struct wav_info *from, const void *in, size_t inlen,
    const struct wav_info *to, size_t *outlen)
{
	const unsigned char	*p = in;
	unsigned char		*out;
	size_t			 nin, nout, j, i0, i1;
	unsigned		 c;
	double			 x, frac, v;
	int16_t			 s;

	if ((*outlen = wav_reshape_len(from, inlen, to)) == 0)
		return NULL;
	nin = inlen / (2u * from->channels);
	nout = *outlen / (2u * to->channels);
	out = xmalloc(*outlen);
	for (j = 0; j < nout; j++) {
		/* Linear interpolation between the two nearest frames. */
		x = (double)j * from->rate / to->rate;
		i0 = (size_t)x;
		if (i0 >= nin)
			i0 = nin - 1;
		i1 = i0 + 1 < nin ? i0 + 1 : i0;
		frac = x - (double)i0;
		for (c = 0; c < to->channels; c++) {
			v = (1 - frac) * s16_at(p, i0, c, from, to) +
			    frac * s16_at(p, i1, c, from, to);
			s = (int16_t)(v < 0 ? v - 0.5 : v + 0.5);
			put16(out + (j * to->channels + c) * 2u, (uint16_t)s);
		}
	}
	return out;
}
