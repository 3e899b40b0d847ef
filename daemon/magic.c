/*
 * magic: is a backend's answer audio of the format asked? (pure)
 *
 * By the first bytes: WAV is RIFF/RF64 + WAVE with a sane fmt chunk
 * before its data (wav_parse); MP3 an ID3v2 tag or an MPEG audio frame
 * header (sync, and no reserved version, layer, bit rate or sample rate);
 * Opus an Ogg page ("OggS", version 0); FLAC "fLaC"; AAC an ADTS header
 * (12-bit sync, layer 0), an ADIF header or an MP4 box ("ftyp"); PCM
 * anything.  At the end: a WAV's data is at least what its header
 * declared, unless that was unknown, and PCM (16-bit) is of even length.
 * Streaming writers that cannot seek back declare an unknown length as 0,
 * 0xffffffff or a huge guess (sox and espeak-ng: 0x7ffff000): any
 * length of MAGIC_WAV_STREAMED or more is taken as unknown.
 */
#include <string.h>

#include "magic.h"
#include "wav.h"

/* How many bytes decide each format (more are not needed). */
#define NEED_MP3	4
#define NEED_OGG	5
#define NEED_FLAC	4
#define NEED_AAC	8

static int
bad(const void *buf, size_t len, const char *fmt, const char **why)
{
	const char	*is = magic_detect(buf, len);

	if (is == NULL) {
		/* A text or markup answer says most. */
		if (len > 0 && (((const char *)buf)[0] == '{' ||
		    ((const char *)buf)[0] == '<'))
			*why = "the backend answered with text (JSON or HTML), "
			    "not audio";
		else
			*why = "the backend's answer is not audio";
	} else if (strcmp(is, "wav") == 0)
		*why = "the backend answered with WAV, not the format asked";
	else if (strcmp(is, "mp3") == 0)
		*why = "the backend answered with MP3, not the format asked";
	else if (strcmp(is, "opus") == 0)
		*why = "the backend answered with Ogg, not the format asked";
	else if (strcmp(is, "flac") == 0)
		*why = "the backend answered with FLAC, not the format asked";
	else
		*why = "the backend answered with AAC, not the format asked";
	(void)fmt;
	return -1;
}

/* An MPEG audio frame header at p (4 bytes)? */
static int
mp3_frame(const unsigned char *p)
{
	if (p[0] != 0xff || (p[1] & 0xe0) != 0xe0)
		return 0;
	if ((p[1] & 0x18) == 0x08)	/* version: reserved */
		return 0;
	if ((p[1] & 0x06) == 0x00)	/* layer: reserved */
		return 0;
	if ((p[2] & 0xf0) == 0xf0)	/* bit rate: bad */
		return 0;
	if ((p[2] & 0x0c) == 0x0c)	/* sample rate: reserved */
		return 0;
	return 1;
}

/* An ID3v2 tag header at p (10 bytes, or fewer: a prefix of one)? */
static int
id3_head(const unsigned char *p, size_t len)
{
	size_t	i;

	if (len > 3)
		len = len < 10 ? len : 10;
	for (i = 0; i < len && i < 3; i++)
		if (p[i] != (unsigned char)"ID3"[i])
			return 0;
	if (len > 3 && p[3] == 0xff)
		return 0;
	if (len > 4 && p[4] == 0xff)
		return 0;
	for (i = 6; i < len; i++)	/* sizes are 7-bit (syncsafe) */
		if (p[i] & 0x80)
			return 0;
	return 1;
}

/* An ADTS header at p (2 bytes)? */
static int
adts(const unsigned char *p)
{
	return p[0] == 0xff && (p[1] & 0xf6) == 0xf0;
}

const char *
magic_detect(const void *vbuf, size_t len)
{
	const unsigned char	*p = vbuf;

	if (len >= 12 && (memcmp(p, "RIFF", 4) == 0 ||
	    memcmp(p, "RF64", 4) == 0) && memcmp(p + 8, "WAVE", 4) == 0)
		return "wav";
	if (len >= 4 && memcmp(p, "OggS", 4) == 0)
		return "opus";
	if (len >= 4 && memcmp(p, "fLaC", 4) == 0)
		return "flac";
	if (len >= 10 && id3_head(p, 10))
		return "mp3";
	if (len >= 2 && adts(p))
		return "aac";
	if (len >= 4 && mp3_frame(p))
		return "mp3";
	if (len >= 8 && memcmp(p + 4, "ftyp", 4) == 0)
		return "aac";
	if (len >= 4 && memcmp(p, "ADIF", 4) == 0)
		return "aac";
	return NULL;
}

int
magic_head(const char *fmt, const void *vbuf, size_t len, struct magic *m,
    const char **why)
{
	const unsigned char	*p = vbuf;
	struct wav_info		 wi;
	const char		*err;
	int			 r;

	memset(m, 0, sizeof *m);
	if (strcmp(fmt, "pcm") == 0)
		return 1;
	if (strcmp(fmt, "wav") == 0) {
		r = wav_parse(p, len, &wi, &err);
		if (r == 0 && len >= MAGIC_HEAD_MAX) {
			*why = "the backend's WAV has no data chunk in its "
			    "first 256 KB";
			return -1;
		}
		if (r == 0)
			return 0;
		if (r < 0) {
			if (len >= 12 && magic_detect(p, len) != NULL &&
			    strcmp(magic_detect(p, len), "wav") != 0)
				return bad(p, len, fmt, why);
			if (len >= 4 && (memcmp(p, "RIFF", 4) == 0 ||
			    memcmp(p, "RF64", 4) == 0)) {
				*why = err;
				return -1;
			}
			return bad(p, len, fmt, why);
		}
		m->wav = 1;
		m->data_offset = wi.data_offset;
		m->data_len = wi.data_len;
		m->frame = (unsigned)wi.channels * ((wi.bits + 7u) / 8u);
		return 1;
	}
	if (strcmp(fmt, "mp3") == 0) {
		if (len < NEED_MP3) {
			/* Decide as soon as a byte says no. */
			if (id3_head(p, len) || (p[0] == 0xff && (len < 2 ||
			    (p[1] & 0xe0) == 0xe0)))
				return 0;
			return bad(p, len, fmt, why);
		}
		if (id3_head(p, len < 10 ? len : 10)) {
			if (len < 10)
				return 0;
			return 1;
		}
		if (mp3_frame(p))
			return 1;
		return bad(p, len, fmt, why);
	}
	if (strcmp(fmt, "opus") == 0) {
		if (len < NEED_OGG)
			return memcmp(p, "OggS", len < 4 ? len : 4) == 0 ? 0 :
			    bad(p, len, fmt, why);
		if (memcmp(p, "OggS", 4) == 0 && p[4] == 0)
			return 1;
		return bad(p, len, fmt, why);
	}
	if (strcmp(fmt, "flac") == 0) {
		if (len < NEED_FLAC)
			return memcmp(p, "fLaC", len) == 0 ? 0 :
			    bad(p, len, fmt, why);
		if (memcmp(p, "fLaC", 4) == 0)
			return 1;
		return bad(p, len, fmt, why);
	}
	if (strcmp(fmt, "aac") == 0) {
		if (len >= 2 && adts(p))
			return 1;
		if (len >= 4 && memcmp(p, "ADIF", 4) == 0)
			return 1;
		if (len >= 8 && memcmp(p + 4, "ftyp", 4) == 0)
			return 1;
		if (len < NEED_AAC)
			return 0;
		return bad(p, len, fmt, why);
	}
	return 1;	/* a format we do not know: not judged */
}

int
magic_end(const char *fmt, const struct magic *m, uint64_t total,
    const char **why)
{
	uint64_t	have;

	if (strcmp(fmt, "pcm") == 0 && total % 2 != 0) {
		*why = "the backend's PCM ends inside a sample (odd length)";
		return -1;
	}
	if (!m->wav)
		return 0;
	if (total < m->data_offset) {
		*why = "the backend's WAV ends inside its header";
		return -1;
	}
	have = total - m->data_offset;
	if (m->data_len != 0 && m->data_len < MAGIC_WAV_STREAMED &&
	    have < m->data_len) {
		*why = "the backend's WAV is cut short: its data is shorter "
		    "than its header says";
		return -1;
	}
	if (m->frame > 1 && (m->data_len == 0 ||
	    m->data_len >= MAGIC_WAV_STREAMED) && have % m->frame != 0) {
		*why = "the backend's WAV ends inside a sample frame";
		return -1;
	}
	return 0;
}
