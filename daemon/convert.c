/*
 * convert: one synthesis, every format (spec §3.5).
 *
 * The cache keeps what the backend sent (WAV or raw PCM); a request for
 * another format is made from it here, in memory, with libsndfile (and the
 * libFLAC, LAME and libopus behind it).  Nothing touches a file: libsndfile
 * reads and writes through its virtual I/O on memory buffers.
 *
 * Input.  The WAV header is parsed by wav.c, not by libsndfile, because
 * streaming writers put 0x7ffff000 or 0xffffffff in the sizes (espeak-ng
 * --stdout).  The bytes after the data chunk's header are handed to
 * libsndfile as RAW audio of the parsed format: PCM of 8 (unsigned), 16,
 * 24 or 32 bits, float of 32 or 64 bits, A-law, mu-law, and the same
 * inside WAVE_FORMAT_EXTENSIBLE.  A declared data length is used when it
 * is smaller than what is there (chunks may follow the data); 0,
 * 0xffffffff or a larger one means "up to the end".  A partial last frame
 * is dropped.  Samples are read as floats and made 16-bit here (x 32768,
 * rounded, clipped; NaN is silence): libsndfile's own float-to-short read
 * does not scale.  Input with no samples makes an empty wav or pcm, and
 * is an error for the others (their encoders would write nothing, or a
 * file that does not decode).
 *
 * Output.  16-bit, at the input's rate and channels, except:
 *   pcm   raw 16-bit little-endian mono: channels are mixed down (a
 *         headerless stream can only mean mono here, as for the input);
 *   wav   the 44-byte canonical header of wav.c, then the samples;
 *   flac  FLAC, 16-bit;
 *   opus  Ogg Opus, which libsndfile only writes at 8, 12, 16, 24 or 48
 *         kHz;
 *   mp3   MPEG layer III through LAME (if this libsndfile has it:
 *         convert_can says), at 8, 11.025, 12, 16, 22.05, 24, 32, 44.1 or
 *         48 kHz only.
 * For opus and mp3, another rate is resampled (libsndfile does not):
 * linearly, up to the next rate the encoder takes (22050 -> 24000 for
 * opus, 20000 -> 22050 for mp3), or down to 48000 from above, with no
 * low-pass filter (speech backends do not send such rates, and speech
 * has little energy up there).  The output lasts as long as the input.
 *
 * Bounds: input up to CONVERT_IN_MAX, rates within [CONVERT_RATE_MIN,
 * CONVERT_RATE_MAX] (so the resampler at most doubles the frames), output
 * up to CONVERT_OUT_MAX.
 */
#include <sndfile.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert.h"
#include "util.h"
#include "wav.h"

#define CONVERT_RATE_MIN	4000
#define CONVERT_RATE_MAX	384000
#define CONVERT_OUT_MAX		((size_t)256 * 1024 * 1024)
#define CONVERT_BLOCK		4096	/* frames read at a time */
#define CONVERT_OUTBUF		1024	/* frames resampled before writing */

#define WAV_FMT_PCM		0x0001
#define WAV_FMT_FLOAT		0x0003
#define WAV_FMT_ALAW		0x0006
#define WAV_FMT_MULAW		0x0007
#define WAV_FMT_EXTENSIBLE	0xfffe

enum conv_kind {
	CONV_WAV,
	CONV_PCM,
	CONV_LIBSNDFILE,
};

/* The only rates these encoders take, ascending, 0-terminated. */
static const uint32_t mp3_rates[] = { 8000, 11025, 12000, 16000, 22050,
    24000, 32000, 44100, 48000, 0 };
static const uint32_t opus_rates[] = { 8000, 12000, 16000, 24000, 48000,
    0 };

static const struct conv_format {
	const char	*name;
	enum conv_kind	 kind;
	int		 sf_format;	/* CONV_LIBSNDFILE only */
	const uint32_t	*rates;		/* NULL: any */
	const char	*missing;	/* not in this libsndfile */
	const char	*refused;	/* the encoder said no */
} conv_formats[] = {
	{ "wav", CONV_WAV, 0, NULL, NULL, NULL },
	{ "pcm", CONV_PCM, 0, NULL, NULL, NULL },
	{ "flac", CONV_LIBSNDFILE, SF_FORMAT_FLAC | SF_FORMAT_PCM_16, NULL,
	    "this libsndfile cannot write FLAC",
	    "the FLAC encoder refused this audio (at most 8 channels)" },
	{ "mp3", CONV_LIBSNDFILE, SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III,
	    mp3_rates, "this libsndfile cannot write MP3 (built without LAME)",
	    "the MP3 encoder refused this audio (mono or stereo only)" },
	{ "opus", CONV_LIBSNDFILE, SF_FORMAT_OGG | SF_FORMAT_OPUS, opus_rates,
	    "this libsndfile cannot write Ogg Opus",
	    "the Opus encoder refused this audio (channels)" },
};

/* A buffer libsndfile reads or writes through its virtual I/O. */
struct mem {
	unsigned char	*buf;
	size_t		 len;
	size_t		 cap;
	size_t		 pos;
	size_t		 max;		/* write no further than this */
	int		 writable;
	int		 full;		/* a write went past max */
};

/* The samples of the input, once its header is read. */
struct source {
	const unsigned char	*data;
	size_t			 len;		/* whole frames */
	int			 subformat;	/* SF_FORMAT_PCM_16 ... */
	unsigned		 channels;
	uint32_t		 rate;
};

/* Where 16-bit frames go: a libsndfile encoder, or out written here. */
struct sink {
	enum conv_kind	 kind;
	unsigned	 channels;
	SNDFILE		*sf;
	struct mem	 out;
};

/* Linear interpolation from in_rate to out_rate, frame by frame. */
struct resample {
	uint32_t	 in_rate;
	uint32_t	 out_rate;
	unsigned	 channels;
	uint64_t	 fed;		/* input frames given so far */
	uint64_t	 made;		/* output frames made so far */
	short		*last;		/* the last input frame given */
	short		*buf;		/* frames made, not yet written */
	size_t		 nbuf;
};

static const struct conv_format *
format_find(const char *name)
{
	size_t	i;

	for (i = 0; name != NULL &&
	    i < sizeof conv_formats / sizeof conv_formats[0]; i++)
		if (strcmp(conv_formats[i].name, name) == 0)
			return &conv_formats[i];
	return NULL;
}

/* Does this libsndfile write the format at all? */
static int
format_available(const struct conv_format *f)
{
	SF_INFO	si;

	if (f->kind != CONV_LIBSNDFILE)
		return 1;
	memset(&si, 0, sizeof si);
	si.samplerate = 48000;
	si.channels = 1;
	si.format = f->sf_format;
	return sf_format_check(&si);
}

int
convert_can(const char *to)
{
	const struct conv_format	*f;

	if ((f = format_find(to)) == NULL)
		return 0;
	return format_available(f);
}

static sf_count_t
mem_filelen_cb(void *arg)
{
	struct mem	*m = arg;

	return (sf_count_t)m->len;
}

static sf_count_t
mem_seek_cb(sf_count_t off, int whence, void *arg)
{
	struct mem	*m = arg;
	size_t		 base, back;

	switch (whence) {
	case SEEK_SET:
		base = 0;
		break;
	case SEEK_CUR:
		base = m->pos;
		break;
	case SEEK_END:
		base = m->len;
		break;
	default:
		return -1;
	}
	if (off < 0) {
		back = (size_t)(0 - (uint64_t)off);
		if (back > base)
			return -1;
		m->pos = base - back;
	} else {
		if ((uint64_t)off > m->max - base)
			return -1;
		m->pos = base + (size_t)off;
	}
	return (sf_count_t)m->pos;
}

static sf_count_t
mem_read_cb(void *ptr, sf_count_t count, void *arg)
{
	struct mem	*m = arg;
	size_t		 n;

	if (count <= 0 || m->pos >= m->len)
		return 0;
	n = m->len - m->pos;
	if ((uint64_t)count < n)
		n = (size_t)count;
	memcpy(ptr, m->buf + m->pos, n);
	m->pos += n;
	return (sf_count_t)n;
}

static sf_count_t
mem_write_cb(const void *ptr, sf_count_t count, void *arg)
{
	struct mem	*m = arg;
	size_t		 n, end, cap;

	if (!m->writable || count <= 0)
		return 0;
	if ((uint64_t)count > m->max - m->pos) {
		m->full = 1;
		return 0;
	}
	n = (size_t)count;
	end = m->pos + n;
	if (end > m->cap) {
		cap = m->cap < 4096 ? 4096 : m->cap;
		while (cap < end)
			cap = cap > m->max / 2 ? m->max : cap * 2;
		m->buf = xrealloc(m->buf, cap);
		m->cap = cap;
	}
	if (m->pos > m->len)
		memset(m->buf + m->len, 0, m->pos - m->len);
	memcpy(m->buf + m->pos, ptr, n);
	m->pos = end;
	if (end > m->len)
		m->len = end;
	return count;
}

static sf_count_t
mem_tell_cb(void *arg)
{
	struct mem	*m = arg;

	return (sf_count_t)m->pos;
}

static SF_VIRTUAL_IO mem_io = {
	mem_filelen_cb,
	mem_seek_cb,
	mem_read_cb,
	mem_write_cb,
	mem_tell_cb,
};

/* Find the fmt chunk of a header wav_parse accepted; its body or NULL. */
static const unsigned char *
source_fmt_chunk(const unsigned char *p, size_t end, uint32_t *size)
{
	size_t		pos;
	uint32_t	n;

	for (pos = 12; pos + 8 <= end; pos += 8 + (size_t)n + (n & 1)) {
		n = (uint32_t)p[pos + 4] | (uint32_t)p[pos + 5] << 8 |
		    (uint32_t)p[pos + 6] << 16 | (uint32_t)p[pos + 7] << 24;
		if (memcmp(p + pos, "fmt ", 4) == 0) {
			if (pos + 8 + n > end)
				return NULL;
			*size = n;
			return p + pos + 8;
		}
	}
	return NULL;
}

/* The libsndfile subformat for a WAV format tag and sample size, or 0. */
static int
source_subformat(unsigned tag, unsigned bits)
{
	switch (tag) {
	case WAV_FMT_PCM:
		switch ((bits + 7) / 8) {
		case 1:
			return SF_FORMAT_PCM_U8;
		case 2:
			return SF_FORMAT_PCM_16;
		case 3:
			return SF_FORMAT_PCM_24;
		case 4:
			return SF_FORMAT_PCM_32;
		}
		return 0;
	case WAV_FMT_FLOAT:
		if (bits == 32)
			return SF_FORMAT_FLOAT;
		if (bits == 64)
			return SF_FORMAT_DOUBLE;
		return 0;
	case WAV_FMT_ALAW:
		return bits == 8 ? SF_FORMAT_ALAW : 0;
	case WAV_FMT_MULAW:
		return bits == 8 ? SF_FORMAT_ULAW : 0;
	}
	return 0;
}

/* Bytes per sample of a subformat. */
static size_t
subformat_bytes(int subformat)
{
	switch (subformat) {
	case SF_FORMAT_PCM_16:
		return 2;
	case SF_FORMAT_PCM_24:
		return 3;
	case SF_FORMAT_PCM_32:
	case SF_FORMAT_FLOAT:
		return 4;
	case SF_FORMAT_DOUBLE:
		return 8;
	}
	return 1;
}

static int
source_wav(const unsigned char *in, size_t inlen, struct source *src,
    const char **err)
{
	struct wav_info		 info;
	const unsigned char	*fmt;
	uint32_t		 fmtlen;
	unsigned		 tag;
	size_t			 frame;

	switch (wav_parse(in, inlen, &info, err)) {
	case 1:
		break;
	case 0:
		*err = "WAV header is truncated";
		return -1;
	default:
		return -1;
	}
	tag = info.format;
	if (tag == WAV_FMT_EXTENSIBLE) {
		/* The real tag opens the SubFormat GUID, 24 bytes in. */
		fmt = source_fmt_chunk(in, info.data_offset, &fmtlen);
		if (fmt == NULL || fmtlen < 40) {
			*err = "WAV extensible fmt chunk is unreadable";
			return -1;
		}
		tag = (unsigned)fmt[24] | (unsigned)fmt[25] << 8;
	}
	if ((src->subformat = source_subformat(tag, info.bits)) == 0) {
		*err = "WAV sample format is not supported (PCM, float, "
		    "A-law and mu-law are)";
		return -1;
	}
	src->channels = info.channels;
	src->rate = info.rate;
	src->data = in + info.data_offset;
	src->len = inlen - info.data_offset;
	if (info.data_len != 0 && info.data_len != 0xffffffff &&
	    info.data_len < src->len)
		src->len = info.data_len;
	frame = subformat_bytes(src->subformat) * src->channels;
	src->len -= src->len % frame;
	return 0;
}

static int
source_parse(const void *in, size_t inlen, const char *from, unsigned rate,
    struct source *src, const char **err)
{
	memset(src, 0, sizeof *src);
	if (from != NULL && strcmp(from, "wav") == 0) {
		if (source_wav(in, inlen, src, err) != 0)
			return -1;
	} else if (from != NULL && strcmp(from, "pcm") == 0) {
		src->data = in;
		src->len = inlen & ~(size_t)1;
		src->subformat = SF_FORMAT_PCM_16;
		src->channels = 1;
		src->rate = rate;
	} else {
		*err = "input audio must be wav or pcm";
		return -1;
	}
	if (src->rate < CONVERT_RATE_MIN || src->rate > CONVERT_RATE_MAX) {
		*err = "input sample rate is outside 4000 to 384000 Hz";
		return -1;
	}
	return 0;
}

static short
to_s16(float v)
{
	float	s;

	if (isnan(v))
		return 0;
	s = v * 32768.0f;
	if (s >= 32767.0f)
		return 32767;
	if (s <= -32768.0f)
		return -32768;
	return (short)lrintf(s);
}

static void
put_s16(unsigned char *p, short v)
{
	uint16_t	u = (uint16_t)v;

	p[0] = u & 0xff;
	p[1] = u >> 8;
}

/* Write frames of 16-bit samples; -1 when the encoder or buffer fails. */
static int
sink_write(struct sink *s, const short *x, size_t frames)
{
	unsigned char	 b[4096];
	size_t		 i, n, bl;
	unsigned	 c;
	long		 sum;

	if (s->kind == CONV_LIBSNDFILE) {
		if (sf_writef_short(s->sf, x, (sf_count_t)frames) !=
		    (sf_count_t)frames)
			return -1;
		return 0;
	}
	n = s->kind == CONV_PCM ? frames : frames * s->channels;
	for (i = 0, bl = 0; i < n; i++) {
		if (s->kind == CONV_PCM) {
			for (c = 0, sum = 0; c < s->channels; c++)
				sum += x[i * s->channels + c];
			put_s16(b + bl, (short)(sum / (long)s->channels));
		} else
			put_s16(b + bl, x[i]);
		bl += 2;
		if (bl == sizeof b || i + 1 == n) {
			if (mem_write_cb(b, (sf_count_t)bl, &s->out) !=
			    (sf_count_t)bl)
				return -1;
			bl = 0;
		}
	}
	return 0;
}

static void
resample_init(struct resample *r, uint32_t in_rate, uint32_t out_rate,
    unsigned channels)
{
	memset(r, 0, sizeof *r);
	r->in_rate = in_rate;
	r->out_rate = out_rate;
	r->channels = channels;
	r->last = xcalloc(channels, sizeof *r->last);
	r->buf = xcalloc((size_t)CONVERT_OUTBUF * channels, sizeof *r->buf);
}

static void
resample_free(struct resample *r)
{
	free(r->last);
	free(r->buf);
}

static int
resample_flush(struct resample *r, struct sink *s)
{
	size_t	n = r->nbuf;

	r->nbuf = 0;
	return n == 0 ? 0 : sink_write(s, r->buf, n);
}

/* Add one output frame; x is the input block starting at frame r->fed. */
static int
resample_one(struct resample *r, const short *x, uint64_t idx, uint64_t f,
    int hold, struct sink *s)
{
	short		*y = r->buf + r->nbuf * r->channels;
	double		 s0, s1;
	unsigned	 c;

	for (c = 0; c < r->channels; c++) {
		if (hold) {
			y[c] = r->last[c];
			continue;
		}
		s0 = idx < r->fed ? r->last[c] :
		    x[(idx - r->fed) * r->channels + c];
		s1 = x[(idx + 1 - r->fed) * r->channels + c];
		y[c] = (short)lrint((s0 * (double)(r->out_rate - f) +
		    s1 * (double)f) / r->out_rate);
	}
	if (++r->nbuf == CONVERT_OUTBUF)
		return resample_flush(r, s);
	return 0;
}

/* Feed k input frames, writing every output frame they complete. */
static int
resample_feed(struct resample *r, const short *x, size_t k, struct sink *s)
{
	uint64_t	pos;

	if (k == 0)
		return 0;
	for (;; r->made++) {
		/* Output frame made sits at input position pos / out_rate,
		 * between frames idx and idx + 1 (idx >= fed - 1). */
		pos = r->made * r->in_rate;
		if (pos / r->out_rate + 1 >= r->fed + k)
			break;
		if (resample_one(r, x, pos / r->out_rate, pos % r->out_rate,
		    0, s) != 0)
			return -1;
	}
	memcpy(r->last, x + (k - 1) * r->channels,
	    r->channels * sizeof *r->last);
	r->fed += k;
	return 0;
}

/* After the last input frame: hold it to the end, so that the output
 * lasts as long as the input. */
static int
resample_end(struct resample *r, struct sink *s)
{
	uint64_t	total;

	total = (r->fed * r->out_rate + r->in_rate - 1) / r->in_rate;
	for (; r->made < total; r->made++)
		if (resample_one(r, NULL, 0, 0, 1, s) != 0)
			return -1;
	return resample_flush(r, s);
}

/* The rate to encode audio at rate in: itself, the next one up the
 * encoder takes, or its highest. */
static uint32_t
format_rate(const struct conv_format *f, uint32_t rate)
{
	size_t	i;

	if (f->rates == NULL)
		return rate;
	for (i = 0; f->rates[i] != 0; i++)
		if (rate <= f->rates[i])
			return f->rates[i];
	return f->rates[i - 1];
}

/* A conversion under way. */
struct convert {
	const struct conv_format	*f;
	struct source			 src;
	struct sink			 sink;
	struct resample			 rs;
	struct mem			 inmem;
	SNDFILE				*insf;
	float				*fbuf;
	short				*sbuf;
	sf_count_t			 total;
	int				 resampling;
	int				 done;
};

void
convert_free(struct convert *c)
{
	if (c == NULL)
		return;
	if (c->sink.sf != NULL)
		sf_close(c->sink.sf);
	if (c->insf != NULL)
		sf_close(c->insf);
	if (c->resampling)
		resample_free(&c->rs);
	free(c->sink.out.buf);
	free(c->fbuf);
	free(c->sbuf);
	free(c);
}

struct convert *
convert_begin(const void *in, size_t inlen, const char *from, unsigned rate,
    const char *to, const char **err)
{
	const struct conv_format	*f;
	struct convert			*c;
	unsigned char			 h[44];
	SF_INFO				 si;
	uint32_t			 out_rate;

	if ((f = format_find(to)) == NULL) {
		if (to != NULL && strcmp(to, "aac") == 0)
			*err = "aac is not supported";
		else
			*err = "unknown audio format";
		return NULL;
	}
	if (!format_available(f)) {
		*err = f->missing;
		return NULL;
	}
	if (inlen > CONVERT_IN_MAX) {
		*err = "input audio is larger than 64 MiB";
		return NULL;
	}
	if (in == NULL && inlen == 0)
		in = "";
	c = xcalloc(1, sizeof *c);
	c->f = f;
	if (source_parse(in, inlen, from, rate, &c->src, err) != 0)
		goto fail;

	/* libsndfile writes nothing (FLAC, MP3) or a file it cannot read
	 * back (Opus) for no samples; WAV and PCM can be empty. */
	if (c->src.len == 0 && f->kind == CONV_LIBSNDFILE) {
		*err = "input audio has no samples";
		goto fail;
	}
	if ((out_rate = format_rate(f, c->src.rate)) != c->src.rate)
		c->resampling = 1;

	/* The input, as RAW audio of the parsed format. */
	if (c->src.len != 0) {
		c->inmem.buf = (unsigned char *)c->src.data; /* never written */
		c->inmem.len = c->inmem.max = c->src.len;
		memset(&si, 0, sizeof si);
		si.samplerate = (int)c->src.rate;
		si.channels = (int)c->src.channels;
		si.format = SF_FORMAT_RAW | c->src.subformat;
		if (subformat_bytes(c->src.subformat) > 1)
			si.format |= SF_ENDIAN_LITTLE;
		if (!sf_format_check(&si) || (c->insf = sf_open_virtual(
		    &mem_io, SFM_READ, &si, &c->inmem)) == NULL) {
			*err = "input audio cannot be read (format or "
			    "channels)";
			goto fail;
		}
	}

	/* The output. */
	c->sink.kind = f->kind;
	c->sink.channels = c->src.channels;
	c->sink.out.max = CONVERT_OUT_MAX;
	c->sink.out.writable = 1;
	if (f->kind == CONV_WAV) {
		memset(h, 0, sizeof h);
		mem_write_cb(h, sizeof h, &c->sink.out);	/* room for it */
	} else if (f->kind == CONV_LIBSNDFILE) {
		memset(&si, 0, sizeof si);
		si.samplerate = (int)out_rate;
		si.channels = (int)c->src.channels;
		si.format = f->sf_format;
		if (!sf_format_check(&si) || (c->sink.sf = sf_open_virtual(
		    &mem_io, SFM_WRITE, &si, &c->sink.out)) == NULL) {
			*err = f->refused;
			goto fail;
		}
	}
	if (c->resampling)
		resample_init(&c->rs, c->src.rate, out_rate,
		    c->src.channels);
	c->fbuf = xreallocarray(NULL, (size_t)CONVERT_BLOCK *
	    c->src.channels, sizeof *c->fbuf);
	c->sbuf = xreallocarray(NULL, (size_t)CONVERT_BLOCK *
	    c->src.channels, sizeof *c->sbuf);
	return c;
fail:
	convert_free(c);
	return NULL;
}

/* All input read: flush the encoder, write the WAV header. */
static int
convert_end(struct convert *c, const char **err)
{
	struct wav_info	wi;
	unsigned char	h[44];
	int		closed;

	if (c->insf != NULL && c->total != (sf_count_t)(c->src.len /
	    (subformat_bytes(c->src.subformat) * c->src.channels))) {
		*err = "input audio could not be read to the end";
		return -1;
	}
	if (c->resampling && resample_end(&c->rs, &c->sink) != 0)
		goto write_failed;
	if (c->sink.sf != NULL) {
		closed = sf_close(c->sink.sf);
		c->sink.sf = NULL;
		if (closed != 0)
			goto write_failed;
	}
	if (c->sink.out.full)
		goto full;
	if (c->f->kind == CONV_WAV) {
		memset(&wi, 0, sizeof wi);
		wi.format = WAV_FMT_PCM;
		wi.channels = (uint16_t)c->src.channels;
		wi.rate = c->src.rate;
		wi.bits = 16;
		wav_header(h, &wi, (uint32_t)(c->sink.out.len - sizeof h));
		memcpy(c->sink.out.buf, h, sizeof h);
	}
	c->done = 1;
	return 0;
write_failed:
	if (!c->sink.out.full) {
		*err = "the encoder failed";
		return -1;
	}
full:
	*err = "converted audio is larger than 256 MiB";
	return -1;
}

int
convert_step(struct convert *c, size_t frames, const char **err)
{
	sf_count_t	got, want;
	size_t		i, n, left = frames;

	if (c->done)
		return 0;
	while (c->insf != NULL && left > 0) {
		want = left < CONVERT_BLOCK ? (sf_count_t)left : CONVERT_BLOCK;
		if ((got = sf_readf_float(c->insf, c->fbuf, want)) <= 0)
			break;
		n = (size_t)got * c->src.channels;
		for (i = 0; i < n; i++)
			c->sbuf[i] = to_s16(c->fbuf[i]);
		if (c->resampling ?
		    resample_feed(&c->rs, c->sbuf, (size_t)got, &c->sink) != 0 :
		    sink_write(&c->sink, c->sbuf, (size_t)got) != 0) {
			*err = c->sink.out.full ? "converted audio is larger "
			    "than 256 MiB" : "the encoder failed";
			return -1;
		}
		c->total += got;
		left -= (size_t)got;
		if (got < want)
			break;
	}
	if (left == 0 && c->insf != NULL && c->total < (sf_count_t)(
	    c->src.len / (subformat_bytes(c->src.subformat) *
	    c->src.channels)))
		return 1;
	return convert_end(c, err);
}

unsigned char *
convert_take(struct convert *c, size_t *len)
{
	unsigned char	*out;

	if (!c->done)
		return NULL;
	if (c->sink.out.len == 0)
		c->sink.out.buf = xrealloc(c->sink.out.buf, 1);
	out = c->sink.out.buf;
	*len = c->sink.out.len;
	c->sink.out.buf = NULL;
	c->sink.out.len = 0;
	return out;
}

int
convert(const void *in, size_t inlen, const char *from, unsigned rate,
    const char *to, unsigned char **out, size_t *outlen, const char **err)
{
	struct convert	*c;
	int		 r;

	*out = NULL;
	*outlen = 0;
	if ((c = convert_begin(in, inlen, from, rate, to, err)) == NULL)
		return -1;
	while ((r = convert_step(c, SIZE_MAX, err)) == 1)
		;
	if (r == 0)
		*out = convert_take(c, outlen);
	convert_free(c);
	return r == 0 ? 0 : -1;
}
