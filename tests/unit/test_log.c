/*
 * Unit tests for log escaping: whatever a message holds, a log line stays
 * one line of printable text — newlines (decoded from %0a or raw), CR,
 * ESC sequences, DEL, C1 controls, U+2028 and invalid UTF-8 are escaped,
 * a backslash is doubled so an escape cannot be forged, and valid UTF-8
 * passes.  log_write itself is checked through a captured stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "log.h"

/* log_escape of len bytes of s, as a string (static buffer). */
static const char *
esc(const char *s, size_t len)
{
	static char	 out[1024];
	FILE		*fp;
	size_t		 n;

	fp = tmpfile();
	log_escape(fp, s, len);
	rewind(fp);
	n = fread(out, 1, sizeof out - 1, fp);
	out[n] = '\0';
	fclose(fp);
	return out;
}
#define ESC(lit) esc(lit, sizeof lit - 1)

int
main(void)
{
	char	 path[] = "/tmp/ttsaccel-test-log.XXXXXX", line[4096];
	char	 big[3000];
	FILE	*fp;
	int	 fd, saved, nlines;

	CHECK_STR(ESC("GET /v1/models 200"), "GET /v1/models 200");
	CHECK_STR(ESC("a\nb"), "a\\nb");
	CHECK_STR(ESC("a\r\nINFO forged"), "a\\r\\nINFO forged");
	CHECK_STR(ESC("tab\there"), "tab\\there");
	CHECK_STR(ESC("\x1b[31mred\x1b[0m"), "\\x1b[31mred\\x1b[0m");
	CHECK_STR(ESC("del\x7f"), "del\\x7f");
	CHECK_STR(ESC("nul\0after"), "nul\\x00after");
	/* A backslash is doubled: "\n" typed by a client is not a newline. */
	CHECK_STR(ESC("a\\nb"), "a\\\\nb");
	/* Valid UTF-8 passes; invalid bytes, C1 and U+2028 do not. */
	CHECK_STR(ESC("caf\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80"),
	    "caf\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80");
	CHECK_STR(ESC("\xff\xfe"), "\\xff\\xfe");
	CHECK_STR(ESC("\xc2\x9b" "31m"), "\\xc2\\x9b31m");
	CHECK_STR(ESC("a\xe2\x80\xa8" "b"), "a\\xe2\\x80\\xa8b");
	CHECK_STR(ESC("\xc0\xaf"), "\\xc0\\xaf");		/* overlong */
	CHECK_STR(ESC("\xed\xa0\x80"), "\\xed\\xa0\\x80");	/* surrogate */
	CHECK_STR(ESC("\xe4\xb8"), "\\xe4\\xb8");		/* truncated */

	/* Through log_write: one line per call, however long. */
	fd = mkstemp(path);
	CHECK(fd >= 0);
	fflush(stderr);
	saved = dup(2);
	CHECK(dup2(fd, 2) == 2);
	log_write(LOG_LVL_INFO, "req %s 200", "/v1/x\n2026-01-01T00:00:00.000Z "
	    "INFO    forged");
	memset(big, 'x', sizeof big - 2);
	big[sizeof big - 2] = '\n';
	big[sizeof big - 1] = '\0';
	log_write(LOG_LVL_WARN, "long %s end", big);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	close(fd);
	fp = fopen(path, "r");
	nlines = 0;
	while (fp != NULL && fgets(line, sizeof line, fp) != NULL) {
		nlines++;
		if (nlines == 1) {
			CHECK(strstr(line, "/v1/x\\n2026-01-01") != NULL);
			CHECK(strstr(line, "INFO    forged 200\n") != NULL);
		} else
			CHECK(strstr(line, "x\\n end\n") != NULL);
	}
	CHECK_INT(nlines, 2);
	if (fp != NULL)
		fclose(fp);
	unlink(path);
	return CHECK_DONE();
}
