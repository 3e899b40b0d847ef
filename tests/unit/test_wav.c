/*
 * Unit tests for the WAV header parser and writer: real headers written by
 * espeak-ng and sox (captured once, embedded below), each cut at every
 * byte; extra and odd-sized chunks; garbage; header -> parse round trips.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "wav.h"

/* espeak-ng --stdout "hello" | head -c 48: a stream, sizes 0x7ffff024
 * and 0x7ffff000 */
static const unsigned char espeak_stdout[] = {
	0x52, 0x49, 0x46, 0x46, 0x24, 0xf0, 0xff, 0x7f, 0x57, 0x41, 0x56, 0x45,
	0x66, 0x6d, 0x74, 0x20, 0x10, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00,
	0x22, 0x56, 0x00, 0x00, 0x44, 0xac, 0x00, 0x00, 0x02, 0x00, 0x10, 0x00,
	0x64, 0x61, 0x74, 0x61, 0x00, 0xf0, 0xff, 0x7f, 0x00, 0x00, 0x00, 0x00,
};
/* espeak-ng -w out.wav "hi" | head -c 48: real sizes */
static const unsigned char espeak_file[] = {
	0x52, 0x49, 0x46, 0x46, 0x28, 0x6d, 0x00, 0x00, 0x57, 0x41, 0x56, 0x45,
	0x66, 0x6d, 0x74, 0x20, 0x10, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00,
	0x22, 0x56, 0x00, 0x00, 0x44, 0xac, 0x00, 0x00, 0x02, 0x00, 0x10, 0x00,
	0x64, 0x61, 0x74, 0x61, 0x04, 0x6d, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};
/* sox -n -r 24000 -c 1 -b 16 out.wav synth 0.01 sine 440 | head -c 52 */
static const unsigned char sox_s16[] = {
	0x52, 0x49, 0x46, 0x46, 0x04, 0x02, 0x00, 0x00, 0x57, 0x41, 0x56, 0x45,
	0x66, 0x6d, 0x74, 0x20, 0x10, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00,
	0xc0, 0x5d, 0x00, 0x00, 0x80, 0xbb, 0x00, 0x00, 0x02, 0x00, 0x10, 0x00,
	0x64, 0x61, 0x74, 0x61, 0xe0, 0x01, 0x00, 0x00, 0xe3, 0x00, 0x32, 0x0a,
	0xb5, 0x14, 0x7d, 0x1e,
};
/* sox -n -r 24000 -c 1 -e floating-point -b 32 out.wav synth 0.001
 * sine 440 | head -c 62: an 18-byte fmt chunk, then a fact chunk */
static const unsigned char sox_float[] = {
	0x52, 0x49, 0x46, 0x46, 0x92, 0x00, 0x00, 0x00, 0x57, 0x41, 0x56, 0x45,
	0x66, 0x6d, 0x74, 0x20, 0x12, 0x00, 0x00, 0x00, 0x03, 0x00, 0x01, 0x00,
	0xc0, 0x5d, 0x00, 0x00, 0x00, 0x77, 0x01, 0x00, 0x04, 0x00, 0x20, 0x00,
	0x00, 0x00, 0x66, 0x61, 0x63, 0x74, 0x04, 0x00, 0x00, 0x00, 0x18, 0x00,
	0x00, 0x00, 0x64, 0x61, 0x74, 0x61, 0x60, 0x00, 0x00, 0x00, 0x80, 0x73,
	0xf4, 0x3b,
};
/* sox -n -r 48000 -c 2 -b 24 out.wav synth 0.0005 sine 440 | head -c 84:
 * WAVE_FORMAT_EXTENSIBLE (40-byte fmt), then a fact chunk */
static const unsigned char sox_ext24[] = {
	0x52, 0x49, 0x46, 0x46, 0xd8, 0x00, 0x00, 0x00, 0x57, 0x41, 0x56, 0x45,
	0x66, 0x6d, 0x74, 0x20, 0x28, 0x00, 0x00, 0x00, 0xfe, 0xff, 0x02, 0x00,
	0x80, 0xbb, 0x00, 0x00, 0x00, 0x65, 0x04, 0x00, 0x06, 0x00, 0x18, 0x00,
	0x16, 0x00, 0x18, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71,
	0x66, 0x61, 0x63, 0x74, 0x04, 0x00, 0x00, 0x00, 0x18, 0x00, 0x00, 0x00,
	0x64, 0x61, 0x74, 0x61, 0x90, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};
/* sox -n -r 8000 -c 1 -b 8 out.wav synth 0.001 sine 440: the whole file */
static const unsigned char sox_u8[] = {
	0x52, 0x49, 0x46, 0x46, 0x2c, 0x00, 0x00, 0x00, 0x57, 0x41, 0x56, 0x45,
	0x66, 0x6d, 0x74, 0x20, 0x10, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00,
	0x40, 0x1f, 0x00, 0x00, 0x40, 0x1f, 0x00, 0x00, 0x01, 0x00, 0x08, 0x00,
	0x64, 0x61, 0x74, 0x61, 0x08, 0x00, 0x00, 0x00, 0x83, 0x9e, 0xba, 0xcd,
	0xd8, 0xd9, 0xcd, 0xbd,
};
/* sox -n -r 24000 -c 1 -b 16 -t wav - synth 0.01 sine 440 | head -c 48:
 * to a pipe, sizes 0x7ffff024 and 0x7ffff000 */
static const unsigned char sox_pipe[] = {
	0x52, 0x49, 0x46, 0x46, 0x24, 0xf0, 0xff, 0x7f, 0x57, 0x41, 0x56, 0x45,
	0x66, 0x6d, 0x74, 0x20, 0x10, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00,
	0xc0, 0x5d, 0x00, 0x00, 0x80, 0xbb, 0x00, 0x00, 0x02, 0x00, 0x10, 0x00,
	0x64, 0x61, 0x74, 0x61, 0x00, 0xf0, 0xff, 0x7f, 0xe2, 0x00, 0x33, 0x0a,
};

struct want {
	uint16_t	format, channels, bits;
	uint32_t	rate;
	size_t		data_offset;
	uint32_t	data_len;
};

static int
same(const struct wav_info *got, const struct want *w)
{
	return got->format == w->format && got->channels == w->channels &&
	    got->bits == w->bits && got->rate == w->rate &&
	    got->data_offset == w->data_offset &&
	    got->data_len == w->data_len;
}

/*
 * Parse buf cut at every length from 0 to len: 0 until the data chunk's
 * header is complete, then 1 with the same answer whatever follows.  Each
 * cut is copied to a buffer of its own size so that ASan catches a read
 * past it.
 */
static void
every_cut(const char *name, const unsigned char *buf, size_t len,
    const struct want *w)
{
	struct wav_info	 info;
	const char	*err;
	unsigned char	*copy;
	size_t		 n;
	int		 rc, bad = 0;

	for (n = 0; n <= len; n++) {
		copy = malloc(n ? n : 1);
		memcpy(copy, buf, n);
		memset(&info, 0xa5, sizeof info);
		err = NULL;
		rc = wav_parse(copy, n, &info, &err);
		free(copy);
		if (n < w->data_offset ? rc != 0 : rc != 1 || !same(&info, w)) {
			fprintf(stderr, "%s cut at %zu: rc %d (%s)\n", name, n,
			    rc, err ? err : "-");
			bad = 1;
		}
	}
	CHECK(!bad);
}

/* Parse a whole buffer that must be refused; the reason must contain
 * want_err.  Every prefix must give 0 or the same refusal. */
static void
refused(const unsigned char *buf, size_t len, const char *want_err)
{
	struct wav_info	 info;
	const char	*err = NULL;
	size_t		 n;
	int		 rc, bad = 0;

	CHECK_INT(wav_parse(buf, len, &info, &err), -1);
	if (err == NULL || strstr(err, want_err) == NULL) {
		fprintf(stderr, "reason \"%s\", want \"%s\"\n",
		    err ? err : "(null)", want_err);
		CHECK(0);
	}
	for (n = 0; n < len; n++) {
		err = NULL;
		rc = wav_parse(buf, n, &info, &err);
		if (rc == 1 || (rc == -1 && strstr(err, want_err) == NULL))
			bad = 1;
	}
	CHECK(!bad);
}

static int
parse_all(const void *buf, size_t len, struct wav_info *info,
    const char **err)
{
	*err = NULL;
	return wav_parse(buf, len, info, err);
}

static void
put32(unsigned char *p, uint32_t v)
{
	p[0] = v & 0xff;
	p[1] = (v >> 8) & 0xff;
	p[2] = (v >> 16) & 0xff;
	p[3] = v >> 24;
}

static uint32_t
get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

/* A builder for hand-made files: append bytes, chunks. */
struct file {
	unsigned char	b[4096];
	size_t		n;
};

static void
add(struct file *f, const void *p, size_t n)
{
	memcpy(f->b + f->n, p, n);
	f->n += n;
}

static void
add_chunk(struct file *f, const char *id, const void *body, uint32_t size,
    int pad)
{
	unsigned char	sz[4];

	add(f, id, 4);
	put32(sz, size);
	add(f, sz, 4);
	add(f, body, size);
	if (pad && (size & 1))
		add(f, "", 1);
}

/* The 16-byte fmt body of 16-bit mono 24 kHz PCM. */
static const unsigned char fmt_s16_24k[16] = {
	0x01, 0x00, 0x01, 0x00, 0xc0, 0x5d, 0x00, 0x00,
	0x80, 0xbb, 0x00, 0x00, 0x02, 0x00, 0x10, 0x00,
};

/* LIST INFO ISFT as ffmpeg writes it (constructed in its layout). */
static const char list_body[] = "INFOISFT\x0e\x00\x00\x00Lavf60.16.100";

static void
start(struct file *f, const char *magic)
{
	f->n = 0;
	add(f, magic, 4);
	add(f, "\xff\xff\xff\xff", 4);
	add(f, "WAVE", 4);
}

static void
test_real(void)
{
	static const struct want
	    w_espeak = { 1, 1, 16, 22050, 44, 0x7ffff000 },
	    w_espeak_file = { 1, 1, 16, 22050, 44, 0x6d04 },
	    w_s16 = { 1, 1, 16, 24000, 44, 0x1e0 },
	    w_float = { 3, 1, 32, 24000, 58, 0x60 },
	    w_ext24 = { 0xfffe, 2, 24, 48000, 80, 0x90 },
	    w_u8 = { 1, 1, 8, 8000, 44, 8 },
	    w_pipe = { 1, 1, 16, 24000, 44, 0x7ffff000 };

	every_cut("espeak_stdout", espeak_stdout, sizeof espeak_stdout,
	    &w_espeak);
	every_cut("espeak_file", espeak_file, sizeof espeak_file,
	    &w_espeak_file);
	every_cut("sox_s16", sox_s16, sizeof sox_s16, &w_s16);
	every_cut("sox_float", sox_float, sizeof sox_float, &w_float);
	every_cut("sox_ext24", sox_ext24, sizeof sox_ext24, &w_ext24);
	every_cut("sox_u8", sox_u8, sizeof sox_u8, &w_u8);
	every_cut("sox_pipe", sox_pipe, sizeof sox_pipe, &w_pipe);
}

static void
test_chunks(void)
{
	static const struct want w = { 1, 1, 16, 24000, 0, 0xffffffff };
	struct want	 ww;
	struct file	 f;
	unsigned char	 ds64[28] = { 0 };

	/* LIST before fmt and between fmt and data. */
	start(&f, "RIFF");
	add_chunk(&f, "LIST", list_body, sizeof list_body - 1, 1);
	add_chunk(&f, "fmt ", fmt_s16_24k, 16, 1);
	add_chunk(&f, "LIST", list_body, sizeof list_body - 1, 1);
	add(&f, "data\xff\xff\xff\xff\x01\x02", 10);
	ww = w;
	ww.data_offset = f.n - 2;
	every_cut("LIST around fmt", f.b, f.n, &ww);

	/* Odd sizes are padded to even: a 3-byte chunk takes 4 bytes. */
	start(&f, "RIFF");
	add_chunk(&f, "fmt ", fmt_s16_24k, 16, 1);
	add_chunk(&f, "junk", "abc", 3, 1);
	add_chunk(&f, "odd1", "x", 1, 1);
	add(&f, "data\x00\x00\x00\x00", 8);
	ww = w;
	ww.data_offset = f.n;
	ww.data_len = 0;
	every_cut("odd chunks", f.b, f.n, &ww);

	/* An 18-byte fmt (cbSize 0) and a fact chunk. */
	start(&f, "RIFF");
	{
		unsigned char	fmt18[18];

		memcpy(fmt18, fmt_s16_24k, 16);
		fmt18[16] = fmt18[17] = 0;
		add_chunk(&f, "fmt ", fmt18, 18, 1);
	}
	add_chunk(&f, "fact", "\x10\x00\x00\x00", 4, 1);
	add(&f, "data\x20\x00\x00\x00", 8);
	ww = w;
	ww.data_offset = f.n;
	ww.data_len = 32;
	every_cut("fmt 18 + fact", f.b, f.n, &ww);

	/* RF64: sizes in a ds64 chunk, skipped; data says 0xffffffff. */
	start(&f, "RF64");
	add_chunk(&f, "ds64", ds64, sizeof ds64, 1);
	add_chunk(&f, "fmt ", fmt_s16_24k, 16, 1);
	add(&f, "data\xff\xff\xff\xff", 8);
	ww = w;
	ww.data_offset = f.n;
	every_cut("RF64", f.b, f.n, &ww);

	/* Unknown chunks up to just under the header limit are skipped. */
	{
		static unsigned char	 big[300 * 1024];
		struct wav_info		 info;
		const char		*err;
		size_t			 n;

		memcpy(big, "RIFF\xff\xff\xff\xffWAVE", 12);
		memcpy(big + 12, "fmt \x10\x00\x00\x00", 8);
		memcpy(big + 20, fmt_s16_24k, 16);
		n = 200 * 1024;
		memcpy(big + 36, "LIST", 4);
		put32(big + 40, (uint32_t)n);
		memcpy(big + 44 + n, "data\x00\x01\x00\x00", 8);
		CHECK_INT(parse_all(big, 44 + n, &info, &err), 0);
		CHECK_INT(parse_all(big, 44 + n + 7, &info, &err), 0);
		CHECK_INT(parse_all(big, 44 + n + 8, &info, &err), 1);
		CHECK_INT(info.data_offset, 44 + n + 8);
		CHECK_INT(info.data_len, 256);
		/* 300 KiB of LIST is refused at once, not waited for. */
		put32(big + 40, 300 * 1024 - 60);
		CHECK_INT(parse_all(big, 44, &info, &err), -1);
		CHECK(err != NULL && strstr(err, "too large") != NULL);
	}
}

static void
test_garbage(void)
{
	struct file		 f;
	struct wav_info		 info;
	const char		*err;
	unsigned char		 fmt[16];
	static const unsigned char
	    mp3[] = "ID3\x04\x00\x00\x00\x00\x00\x00\xff\xfb",
	    ogg[] = "OggS\x00\x02\x00\x00",
	    json[] = "{\"error\":{\"message\":\"overloaded\"}}",
	    rifx[] = "RIFX\x00\x00\x00\x24WAVEfmt ",
	    avi[] = "RIFF\x00\x00\x00\x00AVI LIST";

	refused(mp3, sizeof mp3 - 1, "no RIFF header");
	refused(ogg, sizeof ogg - 1, "no RIFF header");
	refused(json, sizeof json - 1, "no RIFF header");
	refused(rifx, sizeof rifx - 1, "RIFX");
	refused(avi, sizeof avi - 1, "not WAVE");

	/* Nothing yet, or only a plausible start: more is needed. */
	CHECK_INT(parse_all("", 0, &info, &err), 0);
	CHECK_INT(parse_all("R", 1, &info, &err), 0);
	CHECK_INT(parse_all("RIF", 3, &info, &err), 0);
	CHECK_INT(parse_all("RF6", 3, &info, &err), 0);
	CHECK_INT(parse_all("RIFF\0\0\0\0WA", 10, &info, &err), 0);
	CHECK_INT(parse_all("X", 1, &info, &err), -1);
	CHECK_INT(parse_all("RIFF\0\0\0\0WB", 10, &info, &err), -1);

	/* data before fmt. */
	start(&f, "RIFF");
	add(&f, "data\x10\x00\x00\x00", 8);
	refused(f.b, f.n, "before the fmt");

	/* fmt too short, or absurdly long. */
	start(&f, "RIFF");
	add_chunk(&f, "fmt ", fmt_s16_24k, 14, 1);
	add(&f, "data\x10\x00\x00\x00", 8);
	refused(f.b, f.n, "too short");
	start(&f, "RIFF");
	add(&f, "fmt \x00\x00\x01\x00", 8);
	refused(f.b, f.n, "absurd");

	/* A chunk claiming 2 GiB before the data. */
	start(&f, "RIFF");
	add_chunk(&f, "fmt ", fmt_s16_24k, 16, 1);
	add(&f, "LIST\x00\x00\x00\x80", 8);
	refused(f.b, f.n, "too large");
	start(&f, "RIFF");
	add(&f, "junk\xff\xff\xff\xff", 8);
	refused(f.b, f.n, "too large");

	/* Two fmt chunks. */
	start(&f, "RIFF");
	add_chunk(&f, "fmt ", fmt_s16_24k, 16, 1);
	add_chunk(&f, "fmt ", fmt_s16_24k, 16, 1);
	refused(f.b, f.n, "two fmt");

	/* Zero or absurd fields. */
	memcpy(fmt, fmt_s16_24k, 16);
	fmt[2] = 0;				/* channels 0 */
	start(&f, "RIFF");
	add_chunk(&f, "fmt ", fmt, 16, 1);
	refused(f.b, f.n, "channel");
	memcpy(fmt, fmt_s16_24k, 16);
	memset(fmt + 4, 0, 4);			/* rate 0 */
	start(&f, "RIFF");
	add_chunk(&f, "fmt ", fmt, 16, 1);
	refused(f.b, f.n, "sample rate");
	memcpy(fmt, fmt_s16_24k, 16);
	memset(fmt + 4, 0xff, 4);		/* rate 4 GHz */
	start(&f, "RIFF");
	add_chunk(&f, "fmt ", fmt, 16, 1);
	refused(f.b, f.n, "sample rate");
	memcpy(fmt, fmt_s16_24k, 16);
	fmt[14] = 0;				/* PCM with 0 bits */
	start(&f, "RIFF");
	add_chunk(&f, "fmt ", fmt, 16, 1);
	refused(f.b, f.n, "bits");
	memcpy(fmt, fmt_s16_24k, 16);
	fmt[0] = 0;				/* format tag 0 */
	start(&f, "RIFF");
	add_chunk(&f, "fmt ", fmt, 16, 1);
	refused(f.b, f.n, "format");
	memcpy(fmt, fmt_s16_24k, 16);
	fmt[0] = 0xfe;				/* extensible, 16 bytes */
	fmt[1] = 0xff;
	start(&f, "RIFF");
	add_chunk(&f, "fmt ", fmt, 16, 1);
	refused(f.b, f.n, "extensible");

	/* A NULL err is allowed. */
	CHECK_INT(wav_parse("nope", 4, &info, NULL), -1);
}

static void
round_trip(uint16_t format, uint16_t channels, uint32_t rate,
    uint16_t bits, uint32_t data_len, uint32_t want_riff)
{
	struct wav_info	 in, out;
	unsigned char	 h[44];
	const char	*err;

	memset(&in, 0, sizeof in);
	in.format = format;
	in.channels = channels;
	in.rate = rate;
	in.bits = bits;
	wav_header(h, &in, data_len);
	CHECK(memcmp(h, "RIFF", 4) == 0 && memcmp(h + 8, "WAVEfmt ", 8) == 0);
	CHECK_INT(get32(h + 4), want_riff);
	CHECK_INT(get32(h + 16), 16);
	CHECK_INT(get32(h + 28), rate * channels * ((bits + 7u) / 8u));
	CHECK_INT(h[32] | h[33] << 8, channels * ((bits + 7) / 8));
	CHECK(memcmp(h + 36, "data", 4) == 0);
	CHECK_INT(parse_all(h, sizeof h, &out, &err), 1);
	CHECK_INT(out.format, format == 3 ? 3 : 1);
	CHECK_INT(out.channels, channels);
	CHECK_INT(out.rate, rate);
	CHECK_INT(out.bits, bits);
	CHECK_INT(out.data_offset, 44);
	CHECK_INT(out.data_len, data_len);
}

static void
test_header(void)
{
	struct wav_info	 info;
	unsigned char	 h[44];
	const char	*err;

	round_trip(1, 1, 24000, 16, 48000, 48036);
	round_trip(1, 2, 44100, 16, 0, 36);
	round_trip(1, 1, 22050, 16, 0xffffffff, 0xffffffff);
	round_trip(3, 1, 24000, 32, 4000, 4036);
	round_trip(1, 1, 8000, 8, 8, 44);
	round_trip(1, 6, 96000, 24, 0x7ffff000, 0x7ffff024);
	/* No wrap-around: RIFF size saturates. */
	round_trip(1, 1, 24000, 16, 0xfffffff0, 0xffffffff);
	/* Extensible input is written as plain PCM. */
	round_trip(0xfffe, 2, 48000, 16, 100, 136);

	/* A parsed espeak-ng header rewritten for a known length. */
	CHECK_INT(parse_all(espeak_stdout, sizeof espeak_stdout, &info, &err),
	    1);
	wav_header(h, &info, 0x6d04);
	CHECK(memcmp(h, espeak_file, 44) == 0);
	/* sox's own header comes out byte for byte. */
	CHECK_INT(parse_all(sox_s16, sizeof sox_s16, &info, &err), 1);
	wav_header(h, &info, info.data_len);
	CHECK(memcmp(h, sox_s16, 44) == 0);
}

/* 16-bit PCM brought to another rate and channel count. */
static void
test_reshape(void)
{
	struct wav_info	 m24, m48, s24, f24;
	unsigned char	 in[8], st[8], *out;
	size_t		 olen;
	int16_t		 v[4] = { 0, 1000, -2000, 3000 };
	int		 i;

	memset(&m24, 0, sizeof m24);
	m24.format = 1;
	m24.channels = 1;
	m24.rate = 24000;
	m24.bits = 16;
	m48 = m24;
	m48.rate = 48000;
	s24 = m24;
	s24.channels = 2;
	f24 = m24;
	f24.format = 3;
	f24.bits = 32;
	for (i = 0; i < 4; i++) {
		in[2 * i] = (unsigned char)((uint16_t)v[i] & 0xff);
		in[2 * i + 1] = (unsigned char)((uint16_t)v[i] >> 8);
	}
	CHECK(wav_same_layout(&m24, &m24));
	CHECK(!wav_same_layout(&m24, &m48));
	CHECK(!wav_same_layout(&m24, &s24));
	/* 48 kHz to 24 kHz: every other sample. */
	out = wav_reshape(&m48, in, sizeof in, &m24, &olen);
	CHECK(out != NULL);
	CHECK_INT(olen, 4);
	CHECK_INT((int16_t)(out[0] | out[1] << 8), 0);
	CHECK_INT((int16_t)(out[2] | out[3] << 8), -2000);
	free(out);
	/* 24 kHz to 48 kHz: samples in between interpolated. */
	out = wav_reshape(&m24, in, sizeof in, &m48, &olen);
	CHECK_INT(olen, 16);
	CHECK_INT((int16_t)(out[2] | out[3] << 8), 500);
	CHECK_INT((int16_t)(out[4] | out[5] << 8), 1000);
	CHECK_INT((int16_t)(out[6] | out[7] << 8), -500);
	free(out);
	/* Mono to stereo: copied; stereo to mono: mixed. */
	out = wav_reshape(&m24, in, 4, &s24, &olen);
	CHECK_INT(olen, 8);
	CHECK(memcmp(out, in, 2) == 0 && memcmp(out + 2, in, 2) == 0);
	CHECK(memcmp(out + 4, in + 2, 2) == 0 && memcmp(out + 6, in + 2, 2)
	    == 0);
	memcpy(st, out, 8);
	free(out);
	st[2] = 0xe8;	/* right channel of frame 0: 1000 */
	st[3] = 0x03;
	out = wav_reshape(&s24, st, 8, &m24, &olen);
	CHECK_INT(olen, 4);
	CHECK_INT((int16_t)(out[0] | out[1] << 8), 500);
	CHECK_INT((int16_t)(out[2] | out[3] << 8), 1000);
	free(out);
	/* Not 16-bit PCM: cannot. */
	CHECK(wav_reshape(&f24, in, sizeof in, &m24, &olen) == NULL);
	CHECK_INT(wav_reshape_len(&m24, sizeof in, &f24), 0);
	/* A lone odd byte is not a sample. */
	CHECK_INT(wav_reshape_len(&m24, 9, &m48), 16);
}

int
main(void)
{
	test_real();
	test_chunks();
	test_garbage();
	test_header();
	test_reshape();
	return CHECK_DONE();
}
