/*
 * Unit tests for format conversion: a generated tone, written as WAV bytes
 * here, converted to every format and decoded back with libsndfile, then
 * compared with the input (samples equal for wav, pcm and flac; correlation
 * and level for mp3 and opus); espeak-ng's streamed header; other WAV
 * sample formats; pcm input; bad input.
 */
#include <sndfile.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "convert.h"

#define TONE_HZ		440.0
#define TONE_AMP	0.5

struct wbuf {
	unsigned char	*p;
	size_t		 len;
	size_t		 cap;
};

static void
wb_put(struct wbuf *w, const void *d, size_t n)
{
	if (w->len + n > w->cap) {
		w->cap = (w->len + n) * 2;
		if ((w->p = realloc(w->p, w->cap)) == NULL)
			abort();
	}
	memcpy(w->p + w->len, d, n);
	w->len += n;
}

static void
wb_u16(struct wbuf *w, unsigned v)
{
	unsigned char	b[2] = { v & 0xff, (v >> 8) & 0xff };

	wb_put(w, b, 2);
}

static void
wb_u32(struct wbuf *w, uint32_t v)
{
	unsigned char	b[4] = { v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff,
	    v >> 24 };

	wb_put(w, b, 4);
}

/* Sample i of channel c of the test signal, in [-1, 1). */
static double
tone(size_t i, unsigned rate, unsigned c)
{
	return TONE_AMP * sin(2 * M_PI * TONE_HZ * (c + 1) * (double)i / rate);
}

/* The tone as 16-bit samples: what every lossless conversion must give. */
static short *
tone_s16(size_t frames, unsigned rate, unsigned channels)
{
	short	*s;
	size_t	 i;
	unsigned c;

	if ((s = calloc(frames * channels + 1, sizeof *s)) == NULL)
		abort();
	for (i = 0; i < frames; i++)
		for (c = 0; c < channels; c++)
			s[i * channels + c] = (short)lrint(tone(i, rate, c) *
			    32768);
	return s;
}

#define STREAMED	0x01	/* espeak-ng --stdout sizes */
#define EXTENSIBLE	0x02	/* WAVE_FORMAT_EXTENSIBLE */
#define TRAILER		0x04	/* a LIST chunk after the data */

/*
 * A WAV file of the tone: tag 1 (PCM, bits 8/16/24/32), 3 (float, 32/64),
 * 7 (mu-law) or 6 (A-law); 16-bit values are exactly tone_s16's.
 */
static unsigned char *
make_wav(unsigned tag, unsigned bits, unsigned channels, unsigned rate,
    size_t frames, int flags, size_t *len)
{
	struct wbuf	 w = { 0 };
	size_t		 i, data_len = frames * channels * (bits / 8);
	unsigned	 c, fmtlen = flags & EXTENSIBLE ? 40 : 16;
	double		 v;
	int32_t		 s;
	float		 fl;
	static const unsigned char guid_tail[14] = { 0x00, 0x00, 0x00, 0x00,
	    0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71 };

	wb_put(&w, "RIFF", 4);
	wb_u32(&w, flags & STREAMED ? 0x7ffff024 :
	    (uint32_t)(4 + 8 + fmtlen + 8 + data_len +
	    (flags & TRAILER ? 12 : 0)));
	wb_put(&w, "WAVEfmt ", 8);
	wb_u32(&w, fmtlen);
	wb_u16(&w, flags & EXTENSIBLE ? 0xfffe : tag);
	wb_u16(&w, channels);
	wb_u32(&w, rate);
	wb_u32(&w, rate * channels * (bits / 8));
	wb_u16(&w, channels * (bits / 8));
	wb_u16(&w, bits);
	if (flags & EXTENSIBLE) {
		wb_u16(&w, 22);
		wb_u16(&w, bits);
		wb_u32(&w, channels == 1 ? 0x4 : 0x3);
		wb_u16(&w, tag);
		wb_put(&w, guid_tail, sizeof guid_tail);
	}
	wb_put(&w, "data", 4);
	wb_u32(&w, flags & STREAMED ? 0x7ffff000 : (uint32_t)data_len);
	for (i = 0; i < frames; i++)
		for (c = 0; c < channels; c++) {
			v = tone(i, rate, c);
			s = (int32_t)lrint(v * 32768);	/* as tone_s16 */
			if (tag == 3 && bits == 32) {
				fl = (float)s / 32768;
				wb_put(&w, &fl, 4);	/* little-endian host */
			} else if (tag == 3) {
				v = (double)s / 32768;
				wb_put(&w, &v, 8);
			} else if (bits == 8) {
				unsigned char b = (unsigned char)
				    ((s >> 8) + 128);
				wb_put(&w, &b, 1);
			} else if (bits == 16)
				wb_u16(&w, (unsigned)s & 0xffff);
			else if (bits == 24) {
				wb_u16(&w, 0);	/* low byte 0, then s */
				w.len--;
				wb_u16(&w, (unsigned)s & 0xffff);
			} else
				wb_u32(&w, (uint32_t)s << 16);
		}
	if (flags & TRAILER) {
		wb_put(&w, "LIST", 4);
		wb_u32(&w, 4);
		wb_put(&w, "INFO", 4);
	}
	*len = w.len;
	return w.p;
}

/* Memory for libsndfile's virtual I/O (w set: writable, growing). */
struct rmem {
	const unsigned char	*p;
	size_t			 len;
	size_t			 pos;
	struct wbuf		*w;
};

static sf_count_t
rmem_len(void *u)
{
	return (sf_count_t)((struct rmem *)u)->len;
}

static sf_count_t
rmem_seek(sf_count_t off, int whence, void *u)
{
	struct rmem	*m = u;
	sf_count_t	 base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ?
	    (sf_count_t)m->pos : (sf_count_t)m->len;

	if (base + off < 0 || base + off > (sf_count_t)m->len)
		return -1;
	m->pos = (size_t)(base + off);
	return (sf_count_t)m->pos;
}

static sf_count_t
rmem_read(void *ptr, sf_count_t n, void *u)
{
	struct rmem	*m = u;

	if (n > (sf_count_t)(m->len - m->pos))
		n = (sf_count_t)(m->len - m->pos);
	memcpy(ptr, m->p + m->pos, (size_t)n);
	m->pos += (size_t)n;
	return n;
}

static sf_count_t
rmem_write(const void *ptr, sf_count_t n, void *u)
{
	struct rmem	*m = u;
	size_t		 end = m->pos + (size_t)n;

	if (m->w == NULL)
		return 0;
	if (end > m->w->len) {
		m->w->len = m->pos;	/* libsndfile writes no holes */
		wb_put(m->w, ptr, (size_t)n);
	} else
		memcpy(m->w->p + m->pos, ptr, (size_t)n);
	m->p = m->w->p;
	m->len = m->w->len;
	m->pos = end;
	return n;
}

static sf_count_t
rmem_tell(void *u)
{
	return (sf_count_t)((struct rmem *)u)->pos;
}

static SF_VIRTUAL_IO rmem_io = {
	rmem_len, rmem_seek, rmem_read, rmem_write, rmem_tell
};

/* Decoded audio: 16-bit and float copies of every sample. */
struct decoded {
	SF_INFO	 si;
	short	*s;
	float	*f;
};

/* Decode buf with libsndfile; si.format preset for raw input. */
static int
decode(const unsigned char *buf, size_t len, struct decoded *d)
{
	struct rmem	 m = { buf, len, 0, NULL };
	SNDFILE		*sf;
	sf_count_t	 n;

	if ((sf = sf_open_virtual(&rmem_io, SFM_READ, &d->si, &m)) == NULL) {
		fprintf(stderr, "decode: %s\n", sf_strerror(NULL));
		return -1;
	}
	n = d->si.frames * d->si.channels;
	d->s = calloc((size_t)n + 1, sizeof *d->s);
	d->f = calloc((size_t)n + 1, sizeof *d->f);
	if (d->s == NULL || d->f == NULL)
		abort();
	if (sf_readf_float(sf, d->f, d->si.frames) != d->si.frames ||
	    sf_seek(sf, 0, SEEK_SET) != 0 ||
	    sf_readf_short(sf, d->s, d->si.frames) != d->si.frames) {
		sf_close(sf);
		return -1;
	}
	sf_close(sf);
	return 0;
}

static void
decoded_free(struct decoded *d)
{
	free(d->s);
	free(d->f);
}

/* Correlation of channel 0 of d with the tone (lag 0), and RMS ratio. */
static void
compare_lossy(const struct decoded *d, unsigned rate, double *corr,
    double *rms_ratio)
{
	double	 sxy = 0, sxx = 0, syy = 0, x, y;
	size_t	 i, n = (size_t)d->si.frames;

	for (i = 0; i < n; i++) {
		x = tone(i, rate, 0);
		y = d->f[i * d->si.channels];
		sxy += x * y;
		sxx += x * x;
		syy += y * y;
	}
	*corr = sxx > 0 && syy > 0 ? sxy / sqrt(sxx * syy) : 0;
	*rms_ratio = sxx > 0 ? sqrt(syy / sxx) : 0;
}

/* Convert and decode; the frame count is checked by the caller. */
static int
roundtrip(const unsigned char *in, size_t inlen, const char *from,
    unsigned rate, const char *to, unsigned out_rate, struct decoded *d)
{
	unsigned char	*out = NULL;
	size_t		 outlen = 0;
	const char	*err = NULL;
	int		 rc;

	memset(d, 0, sizeof *d);
	rc = convert(in, inlen, from, rate, to, &out, &outlen, &err);
	CHECK_INT(rc, 0);
	if (rc != 0) {
		fprintf(stderr, "convert %s -> %s: %s\n", from, to, err);
		return -1;
	}
	CHECK(out != NULL && outlen > 0);
	if (strcmp(to, "pcm") == 0) {
		d->si.samplerate = (int)out_rate;
		d->si.channels = 1;
		d->si.format = SF_FORMAT_RAW | SF_FORMAT_PCM_16 |
		    SF_ENDIAN_LITTLE;
	} else if (strcmp(to, "wav") == 0) {
		/* Canonical: a 44-byte header, then the samples. */
		CHECK(outlen >= 44 && memcmp(out, "RIFF", 4) == 0 &&
		    memcmp(out + 36, "data", 4) == 0);
	}
	rc = decode(out, outlen, d);
	CHECK_INT(rc, 0);
	free(out);
	return rc;
}

static int
want_format(const char *to)
{
	if (strcmp(to, "wav") == 0)
		return SF_FORMAT_WAV | SF_FORMAT_PCM_16;
	if (strcmp(to, "pcm") == 0)
		return SF_FORMAT_RAW | SF_FORMAT_PCM_16;
	if (strcmp(to, "flac") == 0)
		return SF_FORMAT_FLAC | SF_FORMAT_PCM_16;
	if (strcmp(to, "mp3") == 0)
		return SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III;
	return SF_FORMAT_OGG | SF_FORMAT_OPUS;
}

/* Convert a tone WAV to a format and check what comes back. */
static void
tone_to(const char *to, unsigned rate, unsigned out_rate, int flags)
{
	struct decoded	 d;
	unsigned char	*in;
	size_t		 inlen, frames = rate * 3 / 2;	/* 1.5 s */
	short		*want;
	double		 corr, ratio, ms;
	int		 lossless;

	in = make_wav(1, 16, 1, rate, frames, flags, &inlen);
	if (roundtrip(in, inlen, "wav", 0, to, out_rate, &d) != 0) {
		free(in);
		return;
	}
	CHECK_INT(d.si.format & ~SF_FORMAT_ENDMASK, want_format(to));
	CHECK_INT(d.si.channels, 1);
	CHECK_INT(d.si.samplerate, out_rate);
	ms = 1000.0 * ((double)d.si.frames / out_rate -
	    (double)frames / rate);
	fprintf(stderr, "  %u Hz -> %-4s %u Hz: %lld frames, %+.2f ms\n",
	    rate, to, out_rate, (long long)d.si.frames, ms);
	CHECK(fabs(ms) <= 5.0);

	lossless = strcmp(to, "mp3") != 0 && strcmp(to, "opus") != 0;
	if (lossless) {
		want = tone_s16(frames, rate, 1);
		CHECK_INT(d.si.frames, frames);
		CHECK(d.si.frames == (sf_count_t)frames &&
		    memcmp(d.s, want, frames * sizeof *want) == 0);
		free(want);
	} else {
		compare_lossy(&d, out_rate, &corr, &ratio);
		fprintf(stderr, "  %u Hz -> %-4s: correlation %.4f, "
		    "RMS ratio %.3f\n", rate, to, corr, ratio);
		CHECK(corr > 0.95);
		CHECK(ratio > 0.85 && ratio < 1.15);
	}
	decoded_free(&d);
	free(in);
}

static void
test_can(void)
{
	CHECK_INT(convert_can("wav"), 1);
	CHECK_INT(convert_can("pcm"), 1);
	CHECK_INT(convert_can("flac"), 1);
	CHECK_INT(convert_can("mp3"), 1);	/* Debian's libsndfile has it */
	CHECK_INT(convert_can("opus"), 1);
	CHECK_INT(convert_can("aac"), 0);
	CHECK_INT(convert_can("ogg"), 0);
	CHECK_INT(convert_can("WAV"), 0);
	CHECK_INT(convert_can(""), 0);
	CHECK_INT(convert_can(NULL), 0);
}

static void
test_tone(void)
{
	static const char	*to[] = { "wav", "pcm", "flac", "mp3", "opus" };
	size_t			 i;

	for (i = 0; i < sizeof to / sizeof to[0]; i++)
		tone_to(to[i], 24000, 24000, 0);
	/* Other rates: kept where the encoder takes them, else resampled
	 * to the next one up, or down to 48 kHz. */
	tone_to("mp3", 22050, 22050, 0);
	tone_to("mp3", 16000, 16000, 0);
	tone_to("mp3", 20000, 22050, 0);
	tone_to("mp3", 96000, 48000, 0);
	tone_to("mp3", 4000, 8000, 0);
	tone_to("opus", 4000, 8000, 0);
	tone_to("opus", 48000, 48000, 0);
	tone_to("opus", 44100, 48000, 0);
	tone_to("opus", 11025, 12000, 0);
	tone_to("opus", 96000, 48000, 0);
	tone_to("flac", 44100, 44100, 0);
}

/* espeak-ng --stdout: sizes 0x7ffff024 and 0x7ffff000, 22050 Hz. */
static void
test_streamed(void)
{
	static const char	*to[] = { "wav", "pcm", "flac", "mp3", "opus" };
	size_t			 i;

	for (i = 0; i < sizeof to / sizeof to[0]; i++)
		tone_to(to[i], 22050, strcmp(to[i], "opus") == 0 ? 24000 :
		    22050, STREAMED);
	/* A real declared length with a chunk after the data. */
	tone_to("wav", 24000, 24000, TRAILER);
	tone_to("flac", 24000, 24000, TRAILER);
}

/* Other sample formats in: the 16-bit tone must come out exactly. */
static void
test_sample_formats(void)
{
	static const struct {
		unsigned	tag, bits;
		int		flags;
		int		exact;
	} t[] = {
		{ 1, 16, EXTENSIBLE, 1 },
		{ 1, 24, 0, 1 },
		{ 1, 32, 0, 1 },
		{ 1, 32, EXTENSIBLE, 1 },
		{ 3, 32, 0, 1 },
		{ 3, 64, 0, 1 },
		{ 3, 32, EXTENSIBLE | STREAMED, 1 },
		{ 1, 8, 0, 0 },		/* 8 bits: the top byte only */
	};
	struct decoded	 d;
	unsigned char	*in;
	size_t		 inlen, i, j, frames = 2400;
	short		*want = tone_s16(frames, 24000, 1);
	long		 maxdiff;

	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		in = make_wav(t[i].tag, t[i].bits, 1, 24000, frames,
		    t[i].flags, &inlen);
		if (roundtrip(in, inlen, "wav", 0, "wav", 24000, &d) == 0) {
			CHECK_INT(d.si.frames, frames);
			for (j = 0, maxdiff = 0; j < frames &&
			    j < (size_t)d.si.frames; j++)
				if (labs((long)d.s[j] - want[j]) > maxdiff)
					maxdiff = labs((long)d.s[j] - want[j]);
			if (t[i].exact)
				CHECK_INT(maxdiff, 0);
			else
				CHECK(maxdiff <= 256);
			if (maxdiff != 0 && t[i].exact)
				fprintf(stderr, "  tag %u bits %u: max diff "
				    "%ld\n", t[i].tag, t[i].bits, maxdiff);
		}
		decoded_free(&d);
		free(in);
	}
	free(want);
}

/* Float samples out of range are clipped, NaN is silence. */
static void
test_float_edges(void)
{
	static const float	 v[] = { 1.5f, -1.5f, 1.0f, -1.0f, 0.25f,
	    -0.25f, 0.0f, 1e30f };
	static const short	 want[] = { 32767, -32768, 32767, -32768, 8192,
	    -8192, 0, 32767, 0 };
	struct decoded		 d;
	unsigned char		*in;
	size_t			 inlen, n = sizeof v / sizeof v[0];
	float			 nan = NAN;

	in = make_wav(3, 32, 1, 8000, n + 1, 0, &inlen);
	memcpy(in + inlen - 4 * (n + 1), v, sizeof v);	/* little-endian */
	memcpy(in + inlen - 4, &nan, 4);
	if (roundtrip(in, inlen, "wav", 0, "wav", 8000, &d) == 0) {
		CHECK_INT(d.si.frames, n + 1);
		CHECK(d.si.frames == (sf_count_t)(n + 1) &&
		    memcmp(d.s, want, sizeof want) == 0);
	}
	decoded_free(&d);
	free(in);
}

/* Stereo: kept by wav and flac, mixed down to mono by pcm. */
static void
test_stereo(void)
{
	struct decoded	 d;
	unsigned char	*in;
	size_t		 inlen, i, frames = 2400;
	short		*want = tone_s16(frames, 16000, 2);
	int		 ok;

	in = make_wav(1, 16, 2, 16000, frames, 0, &inlen);
	if (roundtrip(in, inlen, "wav", 0, "flac", 16000, &d) == 0) {
		CHECK_INT(d.si.channels, 2);
		CHECK(d.si.frames == (sf_count_t)frames &&
		    memcmp(d.s, want, frames * 2 * sizeof *want) == 0);
	}
	decoded_free(&d);
	if (roundtrip(in, inlen, "wav", 0, "pcm", 16000, &d) == 0) {
		CHECK_INT(d.si.frames, frames);
		for (i = 0, ok = 1; i < frames && ok; i++)
			ok = d.s[i] == (want[2 * i] + want[2 * i + 1]) / 2;
		CHECK(ok);
	}
	decoded_free(&d);
	if (roundtrip(in, inlen, "wav", 0, "opus", 16000, &d) == 0) {
		CHECK_INT(d.si.channels, 2);
		CHECK(labs((long)d.si.frames - (long)frames) <= 80);
	}
	decoded_free(&d);
	free(in);
	free(want);
}

/* Raw 16-bit mono in, at the rate given. */
static void
test_pcm_in(void)
{
	struct decoded	 d;
	unsigned char	*out;
	size_t		 i, frames = 1600, outlen;
	short		*want = tone_s16(frames, 16000, 1);
	unsigned char	*raw = malloc(frames * 2 + 1);
	const char	*err;

	for (i = 0; i < frames; i++) {
		raw[2 * i] = (uint16_t)want[i] & 0xff;
		raw[2 * i + 1] = (uint16_t)want[i] >> 8;
	}
	raw[frames * 2] = 0x55;		/* half a sample: dropped */
	if (roundtrip(raw, frames * 2 + 1, "pcm", 16000, "wav", 16000,
	    &d) == 0) {
		CHECK_INT(d.si.samplerate, 16000);
		CHECK(d.si.frames == (sf_count_t)frames &&
		    memcmp(d.s, want, frames * 2) == 0);
	}
	decoded_free(&d);

	/* pcm -> pcm gives the same bytes back. */
	CHECK_INT(convert(raw, frames * 2, "pcm", 16000, "pcm", &out,
	    &outlen, &err), 0);
	CHECK(outlen == frames * 2 && memcmp(out, raw, outlen) == 0);
	free(out);

	/* A rate is needed, and a sane one. */
	err = NULL;
	CHECK_INT(convert(raw, frames * 2, "pcm", 0, "wav", &out, &outlen,
	    &err), -1);
	CHECK(err != NULL && strstr(err, "rate") != NULL);
	CHECK(out == NULL && outlen == 0);
	CHECK_INT(convert(raw, frames * 2, "pcm", 1, "opus", &out, &outlen,
	    &err), -1);
	CHECK_INT(convert(raw, frames * 2, "pcm", 10000000, "flac", &out,
	    &outlen, &err), -1);
	free(raw);
	free(want);
}

/* A header and no samples: an empty wav or pcm; the encoders would make
 * nothing or a broken file, so an error for them. */
static void
test_empty(void)
{
	static const char	*to[] = { "wav", "pcm", "flac", "mp3", "opus" };
	unsigned char		*in, *out;
	size_t			 inlen, outlen, i;
	const char		*err;
	struct decoded		 d;
	int			 rc, raw;

	in = make_wav(1, 16, 1, 24000, 0, 0, &inlen);
	for (i = 0; i < sizeof to / sizeof to[0]; i++) {
		err = NULL;
		out = NULL;
		rc = convert(in, inlen, "wav", 0, to[i], &out, &outlen, &err);
		raw = strcmp(to[i], "wav") == 0 || strcmp(to[i], "pcm") == 0;
		if (!raw) {
			CHECK_INT(rc, -1);
			CHECK_STR(err, "input audio has no samples");
			CHECK(out == NULL && outlen == 0);
			continue;
		}
		CHECK_INT(rc, 0);
		CHECK(out != NULL);
		CHECK_INT(outlen, strcmp(to[i], "wav") == 0 ? 44 : 0);
		if (strcmp(to[i], "wav") == 0) {
			memset(&d, 0, sizeof d);
			CHECK_INT(decode(out, outlen, &d), 0);
			CHECK_INT(d.si.frames, 0);
			decoded_free(&d);
		}
		free(out);
	}
	/* pcm in, nothing at all. */
	CHECK_INT(convert(in, 0, "pcm", 24000, "pcm", &out, &outlen, &err),
	    0);
	CHECK(out != NULL && outlen == 0);
	free(out);
	free(in);
}

static void
test_bad(void)
{
	static const unsigned char	 garbage[] = "this is not audio at all,"
	    " just some text that a broken backend sent back";
	unsigned char			*in, *out, *big;
	size_t				 inlen, outlen;
	const char			*err;

#define BAD(buf, len, from, rate, to, want) do {			\
	out = (unsigned char *)"x";					\
	outlen = 7;							\
	err = NULL;							\
	CHECK_INT(convert(buf, len, from, rate, to, &out, &outlen,	\
	    &err), -1);							\
	CHECK(out == NULL && outlen == 0);				\
	CHECK(err != NULL && *err != '\0');				\
	if (want != NULL)						\
		CHECK_STR(err, want);					\
} while (0)

	BAD(garbage, sizeof garbage, "wav", 0, "flac", NULL);
	BAD(garbage, sizeof garbage, "wav", 0, "pcm", NULL);
	BAD(garbage, 0, "wav", 0, "pcm", NULL);
	BAD(garbage, sizeof garbage, "mp3", 0, "wav",
	    "input audio must be wav or pcm");

	in = make_wav(1, 16, 1, 24000, 2400, 0, &inlen);
	BAD(in, inlen, "wav", 0, "aac", "aac is not supported");
	BAD(in, inlen, "wav", 0, "ogg", "unknown audio format");
	BAD(in, inlen, "wav", 0, NULL, "unknown audio format");
	BAD(in, 30, "wav", 0, "wav", "WAV header is truncated");
	/* Unsupported WAV sample formats: ADPCM, 12-bit float. */
	in[20] = 2;
	BAD(in, inlen, "wav", 0, "wav", NULL);
	in[20] = 3;
	BAD(in, inlen, "wav", 0, "wav", NULL);
	free(in);

	/* Mono or stereo only in MP3. */
	in = make_wav(1, 16, 3, 24000, 2400, 0, &inlen);
	BAD(in, inlen, "wav", 0, "mp3", NULL);
	free(in);

	/* Bounded: one byte over 64 MiB is refused before it is read. */
	if ((big = calloc(1, CONVERT_IN_MAX + 1)) == NULL)
		abort();
	in = make_wav(1, 16, 1, 24000, 0, STREAMED, &inlen);
	memcpy(big, in, inlen);
	BAD(big, CONVERT_IN_MAX + 1, "wav", 0, "pcm",
	    "input audio is larger than 64 MiB");
	free(in);
	free(big);
#undef BAD
}

/* mu-law and A-law WAVs, written by libsndfile: we must decode them as
 * libsndfile does. */
static void
test_law(void)
{
	static const int	 law[] = { SF_FORMAT_ULAW, SF_FORMAT_ALAW };
	struct decoded		 d, ref;
	short			*want = tone_s16(8000, 8000, 1);
	struct wbuf		 w;
	struct rmem		 m;
	SNDFILE			*sf;
	SF_INFO			 si;
	size_t			 i;

	for (i = 0; i < sizeof law / sizeof law[0]; i++) {
		memset(&w, 0, sizeof w);
		memset(&m, 0, sizeof m);
		m.w = &w;
		memset(&si, 0, sizeof si);
		si.samplerate = 8000;
		si.channels = 1;
		si.format = SF_FORMAT_WAV | law[i];
		if ((sf = sf_open_virtual(&rmem_io, SFM_WRITE, &si,
		    &m)) == NULL)
			abort();
		CHECK_INT(sf_writef_short(sf, want, 8000), 8000);
		sf_close(sf);

		memset(&ref, 0, sizeof ref);
		CHECK_INT(decode(w.p, w.len, &ref), 0);
		if (roundtrip(w.p, w.len, "wav", 0, "wav", 8000, &d) == 0) {
			CHECK_INT(d.si.frames, 8000);
			CHECK(d.si.frames == ref.si.frames &&
			    memcmp(d.s, ref.s, 8000 * 2) == 0);
		}
		decoded_free(&d);
		decoded_free(&ref);
		free(w.p);
	}
	free(want);
}

/* Converting in small steps gives the same bytes as in one go, with a
 * resampling format (opus from 22050 Hz) and a plain one among them. */
static void
test_steps(void)
{
	static const char	*fmts[] = { "wav", "pcm", "flac", "mp3",
				    "opus" };
	static const size_t	 steps[] = { 1, 1000, 4096, 5000 };
	struct convert		*c;
	unsigned char		*in, *one, *out;
	const char		*err = NULL;
	size_t			 inlen, onelen, outlen, i, k, calls;
	int			 r;

	in = make_wav(1, 16, 1, 22050, 22050, 0, &inlen);
	for (i = 0; i < sizeof fmts / sizeof fmts[0]; i++) {
		if (!convert_can(fmts[i]))
			continue;
		CHECK(convert(in, inlen, "wav", 0, fmts[i], &one, &onelen,
		    &err) == 0);
		for (k = 0; k < sizeof steps / sizeof steps[0]; k++) {
			c = convert_begin(in, inlen, "wav", 0, fmts[i], &err);
			CHECK(c != NULL);
			if (c == NULL)
				continue;
			calls = 0;
			while ((r = convert_step(c, steps[k], &err)) == 1)
				calls++;
			CHECK_INT(r, 0);
			/* it did stop for more */
			CHECK(calls >= 22050 / steps[k] - 1);
			CHECK(convert_step(c, steps[k], &err) == 0);
			out = convert_take(c, &outlen);
			if (strcmp(fmts[i], "opus") == 0) {
				/* Ogg's serial number is random: compare
				 * lengths only */
				CHECK_INT(outlen, onelen);
			} else
				CHECK(out != NULL && outlen == onelen &&
				    memcmp(out, one, onelen) == 0);
			free(out);
			convert_free(c);
		}
		free(one);
	}
	/* errors come from begin */
	CHECK(convert_begin(in, inlen, "wav", 0, "aac", &err) == NULL);
	CHECK_STR(err, "aac is not supported");
	convert_free(NULL);
	free(in);
}

int
main(void)
{
	test_can();
	test_tone();
	test_streamed();
	test_sample_formats();
	test_float_edges();
	test_stereo();
	test_pcm_in();
	test_empty();
	test_bad();
	test_law();
	test_steps();
	return CHECK_DONE();
}
