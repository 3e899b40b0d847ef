/*
 * fuzz_magic: the audio check of backend answers on arbitrary bytes, in
 * every format.  Asserts that a refusal says why, that the answer only
 * firms up as bytes arrive (0 before it is decided, then the same
 * answer, never a flip from accepted to refused), that a WAV's data
 * offset lies within the bytes given, and that magic_end never reads
 * more than it was given.
 */

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "magic.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const fmts[] = { "wav", "mp3", "opus", "aac",
				    "flac", "pcm" };
	struct magic	 m, pm;
	const char	*why, *d;
	unsigned char	*copy;
	size_t		 i, n;
	int		 rc, prc;

	d = magic_detect(data, size);
	assert(d == NULL || strlen(d) > 0);
	for (i = 0; i < sizeof fmts / sizeof fmts[0]; i++) {
		why = NULL;
		rc = magic_head(fmts[i], data, size, &m, &why);
		assert(rc >= -1 && rc <= 1);
		if (rc == -1)
			assert(why != NULL && *why != '\0');
		if (rc == 1 && m.wav)
			assert(m.data_offset <= size);
		if (rc == 1) {
			why = NULL;
			if (magic_end(fmts[i], &m, size, &why) != 0)
				assert(why != NULL);
		}
		/* Each prefix in a buffer of its own size (ASan sees
		 * overreads): undecided, or the same answer. */
		for (n = 0; n < size && n < 96; n++) {
			copy = malloc(n ? n : 1);
			memcpy(copy, data, n);
			prc = magic_head(fmts[i], copy, n, &pm, &why);
			free(copy);
			if (prc == 1)
				assert(rc == 1);
			if (prc == -1)
				assert(rc == -1);
		}
	}
	return 0;
}
