/* split: `ttsaccel --split`, the segmenter on stdin for tuning. */
#ifndef TTSACCEL_SPLIT_H
#define TTSACCEL_SPLIT_H

#include <stdio.h>

struct config;

/* Print one speakable segment per line of the text read; exit status. */
int	 split_stdin(const struct config *, FILE *, FILE *);

#endif
