/*
 * Unit tests for shared_env: the audio envelope (round trip; any other
 * value, another key's, a cut or a longer one refused).
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "sha256.h"
#include "shared_env.h"

int
main(void)
{
	unsigned char	 d[SHA256_LEN], d2[SHA256_LEN], *env;
	const unsigned char *data;
	const char	*audio = "RIFF....WAVEfmt some audio bytes";
	size_t		 len, alen = strlen(audio), i;

	sha256("v1\x1fkey", 6, d);
	sha256("v1\x1fother", 8, d2);
	env = malloc(SHARED_ENV_HDR + alen + 1);
	shared_env_pack(env, d, audio, alen);
	CHECK_INT(shared_env_parse(env, SHARED_ENV_HDR + alen, d, &data,
	    &len), 0);
	CHECK_INT(len, alen);
	CHECK(data == env + SHARED_ENV_HDR);
	CHECK(memcmp(data, audio, alen) == 0);
	/* Another key's audio is not this key's. */
	CHECK_INT(shared_env_parse(env, SHARED_ENV_HDR + alen, d2, &data,
	    &len), -1);
	/* Cut anywhere, or with a tail: refused. */
	for (i = 0; i < SHARED_ENV_HDR + alen; i++)
		CHECK_INT(shared_env_parse(env, i, d, &data, &len), -1);
	env[SHARED_ENV_HDR + alen] = 'x';
	CHECK_INT(shared_env_parse(env, SHARED_ENV_HDR + alen + 1, d, &data,
	    &len), -1);
	/* Any byte of the header changed: refused. */
	for (i = 0; i < SHARED_ENV_HDR; i++) {
		env[i] ^= 0x20;
		CHECK_INT(shared_env_parse(env, SHARED_ENV_HDR + alen, d,
		    &data, &len), -1);
		env[i] ^= 0x20;
	}
	CHECK_INT(shared_env_parse("not audio", 9, d, &data, &len), -1);
	/* Empty audio is never stored, so never found. */
	shared_env_pack(env, d, "", 0);
	CHECK_INT(shared_env_parse(env, SHARED_ENV_HDR, d, &data, &len), -1);
	free(env);
	return CHECK_DONE();
}
