/*
 * test_magic: is a backend's answer audio of the format asked?  Real
 * encoder output (WAV written here, MP3, Opus and FLAC made from it by
 * convert) is accepted whole and at every cut; text, HTML, JSON and
 * another format are refused; a truncated WAV is found at the end, a
 * streamed one (unknown length) is not.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "convert.h"
#include "magic.h"
#include "wav.h"

#define NFRAMES	4800

/* A 0.2 s 24 kHz mono 16-bit WAV: data_len as given (or the true one). */
static unsigned char *
make_wav(size_t *len, uint32_t declared)
{
	struct wav_info	 wi;
	unsigned char	*b;
	size_t		 i;

	memset(&wi, 0, sizeof wi);
	wi.format = 1;
	wi.channels = 1;
	wi.rate = 24000;
	wi.bits = 16;
	*len = 44 + 2 * NFRAMES;
	b = calloc(1, *len);
	wav_header(b, &wi, declared);
	for (i = 0; i < NFRAMES; i++) {
		b[44 + 2 * i] = (unsigned char)(i * 37);
		b[45 + 2 * i] = (unsigned char)((i * 13) & 0x3f);
	}
	return b;
}

/* Every prefix of an answer in fmt: never refused; the whole accepted. */
static void
every_cut(const char *fmt, const unsigned char *b, size_t len)
{
	struct magic	 m;
	const char	*why;
	size_t		 n;
	int		 r, refused = 0, decided = 0;

	for (n = 0; n <= len && n <= 4096; n++) {
		why = NULL;
		r = magic_head(fmt, b, n, &m, &why);
		if (r < 0)
			refused++;
		if (r == 1)
			decided = 1;
		else if (decided)
			refused++;	/* once decided, it stays so */
	}
	CHECK_INT(refused, 0);
	CHECK_INT(magic_head(fmt, b, len, &m, &why), 1);
	CHECK_INT(magic_end(fmt, &m, len, &why), 0);
}

static void
refused(const char *fmt, const void *b, size_t len, const char *says)
{
	struct magic	 m;
	const char	*why = NULL;

	CHECK_INT(magic_head(fmt, b, len, &m, &why), -1);
	CHECK(why != NULL && strstr(why, says) != NULL);
	if (why == NULL || strstr(why, says) == NULL)
		fprintf(stderr, "  (%s: %s)\n", fmt, why ? why : "(null)");
}

static void
test_formats(void)
{
	static const char *const fmts[] = { "mp3", "opus", "flac" };
	unsigned char	*wav, *out;
	const char	*err, *other;
	size_t		 len, olen, i, j;

	wav = make_wav(&len, 2 * NFRAMES);
	every_cut("wav", wav, len);
	CHECK_STR(magic_detect(wav, len), "wav");
	every_cut("pcm", wav + 44, len - 44);
	for (i = 0; i < sizeof fmts / sizeof fmts[0]; i++) {
		if (!convert_can(fmts[i]))
			continue;
		out = NULL;
		CHECK_INT(convert(wav, len, "wav", 0, fmts[i], &out, &olen,
		    &err), 0);
		if (out == NULL)
			continue;
		every_cut(fmts[i], out, olen);
		CHECK_STR(magic_detect(out, olen), fmts[i]);
		/* Asked for WAV (or another), got this: refused, named. */
		refused("wav", out, olen, "not the format asked");
		for (j = 0; j < sizeof fmts / sizeof fmts[0]; j++)
			if (j != i)
				refused(fmts[j], out, olen,
				    "not the format asked");
		free(out);
	}
	/* Asked for MP3, got WAV. */
	refused("mp3", wav, len, "WAV, not the format asked");
	other = magic_detect("\xff\xf1\x50\x80", 4);
	CHECK_STR(other, "aac");
	every_cut("aac", (const unsigned char *)"\xff\xf1\x50\x80\x02\x1f"
	    "\xfc\x21", 8);
	every_cut("aac", (const unsigned char *)"\0\0\0\x20" "ftypM4A ", 12);
	every_cut("mp3", (const unsigned char *)"ID3\x04\0\0\0\0\0\x0a"
	    "\0\0\0\0\0\0\0\0\0\0\xff\xfb\x90\x64", 24);
	free(wav);
}

static void
test_not_audio(void)
{
	static const char	html[] = "<html><body>502 Bad Gateway</body>"
				    "</html>";
	static const char	json[] = "{\"error\":{\"message\":\"x\"}}";
	static const char	text[] = "Internal error, try again later\n";
	static const char *const fmts[] = { "wav", "mp3", "opus", "flac",
				    "aac" };
	size_t			 i;

	for (i = 0; i < sizeof fmts / sizeof fmts[0]; i++) {
		refused(fmts[i], html, sizeof html - 1, "text");
		refused(fmts[i], json, sizeof json - 1, "text");
		refused(fmts[i], text, sizeof text - 1, "not audio");
	}
	CHECK(magic_detect(html, sizeof html - 1) == NULL);
	/* PCM is anything (but odd lengths at the end). */
	{
		struct magic	 m;
		const char	*why;

		CHECK_INT(magic_head("pcm", text, sizeof text - 1, &m, &why),
		    1);
	}
	/* A RIFF that is not sane: refused with wav_parse's reason. */
	refused("wav", "RIFF\x24\0\0\0WAVEfmt \x10\0\0\0\0\0\0\0\0\0\0\0"
	    "\0\0\0\0\0\0\0\0", 36, "WAV format tag is 0");
}

static void
test_end(void)
{
	struct magic	 m;
	const char	*why;
	unsigned char	*wav;
	size_t		 len;

	/* Declared 9600 bytes, 4800 came: cut short. */
	wav = make_wav(&len, 2 * NFRAMES);
	CHECK_INT(magic_head("wav", wav, len, &m, &why), 1);
	CHECK_INT(magic_end("wav", &m, len, &why), 0);
	CHECK_INT(magic_end("wav", &m, len + 100, &why), 0);
	CHECK_INT(magic_end("wav", &m, 44 + NFRAMES, &why), -1);
	CHECK(strstr(why, "cut short") != NULL);
	CHECK_INT(magic_end("wav", &m, 30, &why), -1);
	free(wav);
	/* Streamed: unknown length (0xffffffff or 0) is complete at any
	 * whole frame. */
	wav = make_wav(&len, 0xffffffff);
	CHECK_INT(magic_head("wav", wav, 44, &m, &why), 1);
	CHECK_INT(magic_end("wav", &m, len, &why), 0);
	CHECK_INT(magic_end("wav", &m, 44 + 1000, &why), 0);
	CHECK_INT(magic_end("wav", &m, 44 + 1001, &why), -1);
	free(wav);
	wav = make_wav(&len, 0);
	CHECK_INT(magic_head("wav", wav, 44, &m, &why), 1);
	CHECK_INT(magic_end("wav", &m, len, &why), 0);
	free(wav);
	/* sox and espeak-ng on a pipe: 0x7ffff000. */
	wav = make_wav(&len, 0x7ffff000);
	CHECK_INT(magic_head("wav", wav, 44, &m, &why), 1);
	CHECK_INT(magic_end("wav", &m, len, &why), 0);
	free(wav);
	/* PCM: even lengths only. */
	CHECK_INT(magic_head("pcm", "ab", 2, &m, &why), 1);
	CHECK_INT(magic_end("pcm", &m, 2000, &why), 0);
	CHECK_INT(magic_end("pcm", &m, 2001, &why), -1);
	/* Other formats are not judged at the end. */
	CHECK_INT(magic_head("flac", "fLaC", 4, &m, &why), 1);
	CHECK_INT(magic_end("flac", &m, 5, &why), 0);
}

int
main(void)
{
	test_formats();
	test_not_audio();
	test_end();
	return CHECK_DONE();
}
