/*
 * fuzz_convert: arbitrary bytes as a "wav" backend reply, converted to
 * flac, pcm and wav (and, for short inputs, to opus, through the
 * resampler).  Asserts that a conversion either fails with a reason and
 * no buffer, or gives a buffer; that pcm is whole samples and wav starts
 * with its 44-byte header; and that the same bytes as raw "pcm" at a rate
 * taken from the input convert to pcm unchanged (whole samples).
 */

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "convert.h"

static void
one(const uint8_t *data, size_t size, const char *from, unsigned rate,
    const char *to)
{
	unsigned char	*out = NULL;
	size_t		 outlen = 0;
	const char	*err = NULL;
	int		 rc;

	rc = convert(data, size, from, rate, to, &out, &outlen, &err);
	assert(rc == 0 || rc == -1);
	if (rc == -1) {
		assert(err != NULL && *err != '\0');
		assert(out == NULL && outlen == 0);
		return;
	}
	assert(out != NULL);
	if (strcmp(to, "pcm") == 0)
		assert(outlen % 2 == 0);
	if (strcmp(to, "wav") == 0)
		assert(outlen >= 44 && memcmp(out, "RIFF", 4) == 0 &&
		    (outlen - 44) % 2 == 0);
	if (strcmp(from, "pcm") == 0 && strcmp(to, "pcm") == 0)
		assert(outlen == (size & ~(size_t)1) &&
		    memcmp(out, data, outlen) == 0);
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned	rate;

	one(data, size, "wav", 0, "flac");
	one(data, size, "wav", 0, "pcm");
	one(data, size, "wav", 0, "wav");
	if (size < 4096 && size > 0 && (data[0] & 3) == 0)
		one(data, size, "wav", 0, "opus");

	/* The bytes as raw samples, at a rate picked by the first two. */
	rate = size >= 2 ? 4000u + ((unsigned)data[0] << 8 | data[1]) * 6u :
	    24000;
	one(data, size, "pcm", rate, "pcm");
	return 0;
}
