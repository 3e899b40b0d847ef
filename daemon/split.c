/* split: `ttsaccel --split`, the segmenter on stdin for tuning. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "segment.h"
#include "split.h"
#include "util.h"

static void
print_cb(void *arg, const char *seg)
{
	fprintf(arg, "%s\n", seg);
}

int
split_stdin(const struct config *cf, FILE *in, FILE *out)
{
	char	*text = NULL;
	size_t	 len = 0, cap = 0, n;

	for (;;) {
		if (len + 65536 > cap) {
			cap = (len + 65536) * 2;
			text = xrealloc(text, cap);
		}
		n = fread(text + len, 1, cap - len, in);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(in)) {
		fprintf(stderr, "ttsaccel: --split: cannot read stdin\n");
		free(text);
		return 1;
	}
	segment_split(&cf->params.split, text != NULL ? text : "", len, print_cb, out);
	free(text);
	return fflush(out) == 0 ? 0 : 1;
}
