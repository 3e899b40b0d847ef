/* sha256: SHA-256 from libcrypto (EVP), behind the small API the shared
 * cache tier uses. */
#include <openssl/evp.h>

#include <stdlib.h>

#include "log.h"
#include "sha256.h"
#include "util.h"

struct sha256 {
	EVP_MD_CTX	*ctx;
};

static EVP_MD_CTX *
sha256_ctx_new(void)
{
	EVP_MD_CTX	*ctx;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		fatalx("EVP_MD_CTX_new failed");
	return ctx;
}

struct sha256 *
sha256_new(void)
{
	struct sha256	*h = xmalloc(sizeof *h);

	h->ctx = sha256_ctx_new();
	sha256_reset(h);
	return h;
}

void
sha256_free(struct sha256 *h)
{
	if (h == NULL)
		return;
	EVP_MD_CTX_free(h->ctx);
	free(h);
}

void
sha256_reset(struct sha256 *h)
{
	if (EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1)
		fatalx("EVP_DigestInit_ex(SHA-256) failed");
}

void
sha256_update(struct sha256 *h, const void *data, size_t len)
{
	if (len > 0 && EVP_DigestUpdate(h->ctx, data, len) != 1)
		fatalx("EVP_DigestUpdate failed");
}

void
sha256_digest(const struct sha256 *h, unsigned char out[SHA256_LEN])
{
	EVP_MD_CTX	*c = sha256_ctx_new();
	unsigned int	 n;

	/* On a copy: h goes on. */
	if (EVP_MD_CTX_copy_ex(c, h->ctx) != 1 ||
	    EVP_DigestFinal_ex(c, out, &n) != 1 || n != SHA256_LEN)
		fatalx("SHA-256: EVP_DigestFinal_ex failed");
	EVP_MD_CTX_free(c);
}

void
sha256(const void *data, size_t len, unsigned char out[SHA256_LEN])
{
	unsigned int	n;

	if (EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) != 1 ||
	    n != SHA256_LEN)
		fatalx("SHA-256: EVP_Digest failed");
}

void
sha256_hex(const void *data, size_t len, char out[2 * SHA256_LEN + 1])
{
	static const char	hex[] = "0123456789abcdef";
	unsigned char		d[SHA256_LEN];
	size_t			i;

	sha256(data, len, d);
	for (i = 0; i < SHA256_LEN; i++) {
		out[2 * i] = hex[d[i] >> 4];
		out[2 * i + 1] = hex[d[i] & 15];
	}
	out[2 * SHA256_LEN] = '\0';
}
