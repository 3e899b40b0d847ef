/* sha256: SHA-256 (FIPS 180-4) from libcrypto, for keys that are the same
 * everywhere.  Out of memory, or a libcrypto without SHA-256, is fatal. */
#ifndef TTSACCEL_SHA256_H
#define TTSACCEL_SHA256_H

#include <stddef.h>

#define SHA256_LEN	32

/* A digest under way. */
struct sha256;

/* A digest of nothing yet. */
struct sha256	*sha256_new(void);
/* NULL is a no-op. */
void		 sha256_free(struct sha256 *);
/* Start again from nothing. */
void		 sha256_reset(struct sha256 *);
void		 sha256_update(struct sha256 *, const void *data, size_t len);
/* The digest of the bytes so far; more may be added after. */
void		 sha256_digest(const struct sha256 *,
		    unsigned char out[SHA256_LEN]);
/* The digest of data in one call. */
void		 sha256(const void *data, size_t len,
		    unsigned char out[SHA256_LEN]);
/* The digest as 64 lower-case hex digits and a NUL. */
void		 sha256_hex(const void *data, size_t len,
		    char out[2 * SHA256_LEN + 1]);

#endif
