/* sha256: SHA-256 (FIPS 180-4), for keys that are the same everywhere (pure). */
#ifndef TTSACCEL_SHA256_H
#define TTSACCEL_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN	32

struct sha256 {
	uint32_t	 h[8];
	uint64_t	 len;		/* bytes hashed so far */
	unsigned char	 buf[64];
	size_t		 nbuf;
};

void	 sha256_init(struct sha256 *);
void	 sha256_update(struct sha256 *, const void *, size_t);
void	 sha256_final(struct sha256 *, unsigned char[SHA256_LEN]);
/* The digest of data in one call. */
void	 sha256(const void *, size_t, unsigned char[SHA256_LEN]);
/* The digest as 64 lower-case hex digits and a NUL. */
void	 sha256_hex(const void *, size_t, char[2 * SHA256_LEN + 1]);

#endif
