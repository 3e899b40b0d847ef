/*
 * bench_segment: MB/s of mixed text (English, Chinese, markdown, code,
 * emoji) segmented on one core, fed in token-sized deltas as a stream
 * would be, and whole.
 * Usage: bench_segment [megabytes]
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "segment.h"
#include "util.h"

static const char *const sample[] = {
	"Sure! Here's a quick summary of the options. The meeting is at "
	"3 p.m. tomorrow, and Dr. Smith will present the results (about "
	"3.14% growth, or 1,000 new users).\n\n",
	"## Installation\n\n1. Run `pip install requests`.\n2. Edit "
	"config.yaml and set **timeout** to 30.\n- See [the docs]"
	"(https://docs.example.com/v1.2.3/) for more.\n\n",
	"```python\ndef add(a, b):\n    return a + b\n```\n\n",
	"当然可以，下面是详细的步骤说明。人工智能的发展经历了几个阶段，从早期"
	"的符号主义到后来的连接主义，再到今天的大语言模型。你觉得呢？🎉👍\n\n",
	"| Name | Age |\n|------|-----|\n| Alice | 30 |\n| Bob | 25 |\n\n",
	"> Tip: don't over-steep it! 使用Docker部署非常方便，只需要运行"
	"docker run命令即可。Visit https://example.com/docs?page=2 now.\n\n",
};

static size_t nseg;

static void
count_cb(void *arg, const char *seg)
{
	(void)arg;
	(void)seg;
	nseg++;
}

int
main(int argc, char **argv)
{
	struct segmenter	*s;
	char			*text, *seg;
	size_t			 want = 16 << 20, len = 0, i, n, chunk;
	uint64_t		 t0, t1;
	double			 secs;
	const char		*errstr;
	long long		 mb;

	if (argc > 1) {
		if (parse_ll(argv[1], 1, 1024, &mb, &errstr) != 0) {
			fprintf(stderr, "bench_segment: megabytes %s\n", errstr);
			return 1;
		}
		want = (size_t)mb << 20;
	}
	text = xmalloc(want + 4096);
	for (i = 0; len < want; i++) {
		n = strlen(sample[i % (sizeof sample / sizeof *sample)]);
		memcpy(text + len, sample[i % (sizeof sample /
		    sizeof *sample)], n);
		len += n;
	}

	/* Streamed: deltas of 1 to 16 bytes, as an LLM sends tokens. */
	t0 = now_usec();
	s = segment_new(NULL);
	for (i = 0; i < len; i += chunk) {
		chunk = 1 + (i * 7 % 16);
		if (chunk > len - i)
			chunk = len - i;
		segment_feed(s, text + i, chunk);
		while ((seg = segment_next(s)) != NULL) {
			nseg++;
			free(seg);
		}
	}
	segment_finish(s);
	while ((seg = segment_next(s)) != NULL) {
		nseg++;
		free(seg);
	}
	segment_free(s);
	t1 = now_usec();
	secs = (double)(t1 - t0) / 1e6;
	printf("segment streamed: %.1f MB in %.3f s, %.1f MB/s, %zu "
	    "segments\n", len / 1e6, secs, len / 1e6 / secs, nseg);

	nseg = 0;
	t0 = now_usec();
	segment_split(NULL, text, len, count_cb, NULL);
	t1 = now_usec();
	secs = (double)(t1 - t0) / 1e6;
	printf("segment whole:    %.1f MB in %.3f s, %.1f MB/s, %zu "
	    "segments\n", len / 1e6, secs, len / 1e6 / secs, nseg);

	t0 = now_usec();
	seg = segment_clean(text, len);
	t1 = now_usec();
	secs = (double)(t1 - t0) / 1e6;
	printf("clean whole:      %.1f MB in %.3f s, %.1f MB/s\n",
	    len / 1e6, secs, len / 1e6 / secs);
	free(seg);
	free(text);
	return 0;
}
