/*
 * shared_env: the envelope of the audio stored in Redis (no I/O): an
 * 8-byte magic, a version and three zero bytes, the SHA-256 of the content
 * key, the audio's length (64 bits, big-endian), then the audio.
 */
#include <stdint.h>
#include <string.h>

#include "sha256.h"
#include "shared_env.h"

static const char env_magic[8] = { 't', 't', 's', 'a', 'c', 'c', 'e', 'l' };

void
shared_env_pack(unsigned char *out, const unsigned char digest[SHA256_LEN],
    const void *data, size_t len)
{
	uint64_t	n = len;
	int		i;

	memcpy(out, env_magic, 8);
	out[8] = 1;		/* version */
	out[9] = out[10] = out[11] = 0;
	memcpy(out + 12, digest, SHA256_LEN);
	for (i = 0; i < 8; i++)
		out[44 + i] = (unsigned char)(n >> (56 - 8 * i));
	if (len > 0)
		memcpy(out + SHARED_ENV_HDR, data, len);
}

int
shared_env_parse(const void *buf, size_t len,
    const unsigned char digest[SHA256_LEN], const unsigned char **data,
    size_t *dlen)
{
	const unsigned char	*p = buf;
	uint64_t		 n = 0;
	int			 i;

	if (len < SHARED_ENV_HDR || memcmp(p, env_magic, 8) != 0 ||
	    p[8] != 1 || p[9] != 0 || p[10] != 0 || p[11] != 0 ||
	    memcmp(p + 12, digest, SHA256_LEN) != 0)
		return -1;
	for (i = 0; i < 8; i++)
		n = n << 8 | p[44 + i];
	if (n == 0 || n != len - SHARED_ENV_HDR)
		return -1;	/* empty, cut short or with a tail */
	*data = p + SHARED_ENV_HDR;
	*dlen = (size_t)n;
	return 0;
}
