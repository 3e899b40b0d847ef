/* libFuzzer target: an endpoint spec (backend_new) and the TTS_MODEL_MAP /
 * TTS_VOICE_MAP maps (ttsmap_parse).  A spec is an endpoint whose shown
 * name holds no password, or refused with a reason; a map parses, prints
 * and parses again to the same map. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "ttsmap.h"

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct backend	*be;
	struct ttsmap	*m, *m2;
	char		*s, *cause = NULL, *str, *str2, *masked;

	s = malloc(n + 1);
	memcpy(s, d, n);
	s[n] = '\0';
	be = backend_new(NULL, NULL, s, 4, "sk-default", 30, &cause);
	if (be != NULL) {
		assert(cause == NULL);
		assert(backend_name(be) != NULL && backend_id(be) != NULL);
		/* Masking is stable: the shown name masks to itself. */
		if (strncmp(backend_id(be), "exec:", 5) != 0) {
			masked = backend_mask_url(backend_name(be));
			assert(masked != NULL);
			assert(strcmp(masked, backend_name(be)) == 0);
			free(masked);
		}
		backend_free(be);
	} else {
		assert(cause != NULL);
		free(cause);
	}
	cause = NULL;
	if ((m = ttsmap_parse(s, &cause)) != NULL) {
		str = ttsmap_string(m);
		m2 = ttsmap_parse(str, &cause);
		assert(m2 != NULL);
		str2 = ttsmap_string(m2);
		assert(strcmp(str, str2) == 0);
		assert(ttsmap_count(m) == ttsmap_count(m2));
		free(str);
		free(str2);
		ttsmap_free(m2);
		ttsmap_free(m);
	} else {
		assert(cause != NULL);
		free(cause);
	}
	free(s);
	return 0;
}
