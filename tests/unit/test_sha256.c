/*
 * Unit tests for the SHA-256 wrapper over libcrypto: the FIPS 180-2 / NIST
 * example vectors (empty, "abc", the two-block 448-bit message, a million
 * 'a'), lengths around the padding boundary checked against one-call and
 * byte-at-a-time hashing, a digest taken midway that leaves the rest
 * going on, a reset, and the hex form.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "sha256.h"

static void
hex_of(const char *s, size_t len, char *out)
{
	sha256_hex(s, len, out);
}

int
main(void)
{
	char		 hex[65], hex2[65];
	unsigned char	 d1[32], d2[32];
	struct sha256	*c;
	char		*m;
	size_t		 n, i;

	hex_of("", 0, hex);
	CHECK_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	hex_of("abc", 3, hex);
	CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	hex_of(m, strlen(m), hex);
	CHECK_STR(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	m = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
	hex_of(m, strlen(m), hex);
	CHECK_STR(hex, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");

	/* A million 'a', fed in uneven pieces. */
	m = malloc(1000000);
	memset(m, 'a', 1000000);
	c = sha256_new();
	for (n = 0, i = 1; n < 1000000; n += i, i = i * 7 % 997 + 1)
		sha256_update(c, m + n, n + i > 1000000 ? 1000000 - n : i);
	sha256_digest(c, d1);
	sha256(m, 1000000, d2);
	CHECK(memcmp(d1, d2, 32) == 0);
	sha256_hex(m, 1000000, hex);
	CHECK_STR(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");

	/* A digest midway ("ab" of "abc") and the rest after it. */
	sha256_reset(c);
	sha256_update(c, "ab", 2);
	sha256_digest(c, d1);
	sha256("ab", 2, d2);
	CHECK(memcmp(d1, d2, 32) == 0);
	sha256_update(c, "c", 1);
	sha256_digest(c, d1);
	sha256("abc", 3, d2);
	CHECK(memcmp(d1, d2, 32) == 0);
	CHECK(d1[0] == 0xba && d1[31] == 0xad);
	/* Reset: from nothing again. */
	sha256_reset(c);
	sha256_digest(c, d1);
	sha256("", 0, d2);
	CHECK(memcmp(d1, d2, 32) == 0);
	CHECK(d1[0] == 0xe3 && d1[31] == 0x55);

	/* Every length across the padding boundaries: one call agrees
	 * with a byte at a time. */
	for (n = 0; n < 200; n++) {
		sha256(m, n, d1);
		sha256_reset(c);
		for (i = 0; i < n; i++)
			sha256_update(c, m + i, 1);
		sha256_digest(c, d2);
		CHECK(memcmp(d1, d2, 32) == 0);
	}
	/* 55, 56 and 64 bytes: the padding edge cases (openssl dgst). */
	hex_of(m, 55, hex);
	CHECK_STR(hex, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
	hex_of(m, 56, hex);
	CHECK_STR(hex, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
	hex_of(m, 64, hex2);
	CHECK_STR(hex2, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
	sha256_free(c);
	sha256_free(NULL);
	free(m);
	return CHECK_DONE();
}
