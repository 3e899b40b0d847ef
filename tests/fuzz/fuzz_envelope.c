/*
 * fuzz_envelope: the shared tier's audio envelope parser on arbitrary
 * bytes (what Redis may hold under our keys).  Asserts that audio found
 * lies within the bytes given and fills them exactly, that packing it
 * again gives the same bytes, and that no prefix parses.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sha256.h"
#include "shared_env.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char		 d[SHA256_LEN], *copy, *again;
	const unsigned char	*audio;
	size_t			 len, n;

	/* The digest the value claims, so both outcomes are reached. */
	if (size >= 44)
		memcpy(d, data + 12, SHA256_LEN);
	else
		memset(d, 0, sizeof d);
	copy = malloc(size ? size : 1);
	memcpy(copy, data, size);
	if (shared_env_parse(copy, size, d, &audio, &len) == 0) {
		assert(len > 0 && audio == copy + SHARED_ENV_HDR);
		assert(SHARED_ENV_HDR + len == size);
		again = malloc(size);
		shared_env_pack(again, d, audio, len);
		assert(memcmp(again, copy, size) == 0);
		free(again);
		for (n = 0; n < size && n < 256; n++)
			assert(shared_env_parse(copy, n, d, &audio, &len) == -1);
	}
	free(copy);
	return 0;
}
