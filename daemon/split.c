/* split: `ttsaccel --split`, the segmenter on stdin for tuning. */
#include <stdio.h>

#include "config.h"
#include "split.h"

int
split_stdin(const struct config *cf, FILE *in, FILE *out)
{
	fprintf(stderr, "ttsaccel: --split needs the segmenter, which is not "
	    "built in yet\n");
	return 1;
}
