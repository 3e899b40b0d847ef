/*
 * fuzz_wav: the WAV header parser on arbitrary bytes.  Asserts that a
 * header found lies within the bytes given, that every prefix of the input
 * agrees (0 before the answer, then the same answer), and that a header
 * written from a PCM or float header parses back to the same format.
 */

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wav.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wav_info	 info, part, back;
	const char	*err = NULL;
	unsigned char	 h[44], *copy;
	size_t		 n;
	int		 rc, prc;

	rc = wav_parse(data, size, &info, &err);
	assert(rc >= -1 && rc <= 1);
	if (rc == -1)
		assert(err != NULL && *err != '\0');
	if (rc != 1)
		goto prefixes;

	assert(info.data_offset >= 20 && info.data_offset <= size);
	assert(info.channels > 0 && info.rate > 0);
	/* The bytes after the data chunk's header do not matter. */
	assert(wav_parse(data, info.data_offset, &part, &err) == 1);
	assert(memcmp(&part, &info, sizeof info) == 0);

	/* A header written for PCM or float parses back (other formats
	 * cannot be described by the 44-byte header). */
	if (info.format == 1 || info.format == 3 || info.format == 0xfffe) {
		wav_header(h, &info, info.data_len);
		assert(wav_parse(h, sizeof h, &back, &err) == 1);
		assert(back.channels == info.channels &&
		    back.rate == info.rate && back.bits == info.bits &&
		    back.data_len == info.data_len &&
		    back.data_offset == 44);
	}

prefixes:
	/* Each prefix in a buffer of its own size: ASan sees overreads. */
	for (n = 0; n < size && n < 128; n++) {
		copy = malloc(n ? n : 1);
		memcpy(copy, data, n);
		prc = wav_parse(copy, n, &part, &err);
		free(copy);
		if (rc == 1 && n >= info.data_offset)
			assert(prc == 1);
		else if (rc == 1 || rc == 0)
			assert(prc == 0);
		else
			assert(prc == 0 || prc == -1);
	}
	return 0;
}
