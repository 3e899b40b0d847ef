/* shared_env: the envelope audio is stored in, in Redis (pure). */
#ifndef TTSACCEL_SHARED_ENV_H
#define TTSACCEL_SHARED_ENV_H

#include <stddef.h>

#include "sha256.h"

/*
 * Audio in Redis is wrapped in an envelope: a magic, the SHA-256 of the
 * content key it belongs to and the audio's length.  A value that is not
 * one, belongs to another key or is cut short is not ours (a miss).
 */
#define SHARED_ENV_HDR	52
/* Write the envelope of len bytes of data for digest to out
 * (SHARED_ENV_HDR + len bytes). */
void	 shared_env_pack(unsigned char *out,
	    const unsigned char digest[SHA256_LEN], const void *data,
	    size_t len);
/* 0 with *data and *dlen inside buf, or -1 if buf is not such a value. */
int	 shared_env_parse(const void *buf, size_t len,
	    const unsigned char digest[SHA256_LEN], const unsigned char **data,
	    size_t *dlen);

#endif
