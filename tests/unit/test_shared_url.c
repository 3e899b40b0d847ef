/*
 * Unit tests for shared_url: REDIS_URL taken apart (passwords, users,
 * IPv6, databases, Unix sockets, errors), and the forms curl's URL parser
 * would read otherwise.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "shared_url.h"

static void
url_ok(const char *url, const char *host, int port, const char *path,
    const char *user, const char *pw, int db)
{
	struct shared_url	 u;
	char			*cause = NULL;

	CHECK_INT(shared_url_parse(url, &u, &cause), 0);
	if (cause != NULL) {
		fprintf(stderr, "  %s: %s\n", url, cause);
		free(cause);
		return;
	}
	if (host != NULL)
		CHECK_STR(u.host, host);
	else
		CHECK(u.host == NULL);
	CHECK_INT(u.port, port);
	if (path != NULL)
		CHECK_STR(u.path, path);
	else
		CHECK(u.path == NULL);
	if (user != NULL)
		CHECK_STR(u.user, user);
	else
		CHECK(u.user == NULL);
	if (pw != NULL)
		CHECK_STR(u.password, pw);
	else
		CHECK(u.password == NULL);
	CHECK_INT(u.db, db);
	shared_url_clear(&u);
}

static void
url_bad(const char *url)
{
	struct shared_url	 u;
	char			*cause = NULL;

	CHECK_INT(shared_url_parse(url, &u, &cause), -1);
	CHECK(cause != NULL && *cause != '\0');
	free(cause);
}

int
main(void)
{
	url_ok("redis://127.0.0.1", "127.0.0.1", 6379, NULL, NULL, NULL, 0);
	url_ok("redis://localhost:6380/2", "localhost", 6380, NULL, NULL,
	    NULL, 2);
	url_ok("redis://:s3cret@h:1", "h", 1, NULL, NULL, "s3cret", 0);
	url_ok("redis://app:p%40ss@h/3", "h", 6379, NULL, "app", "p@ss", 3);
	url_ok("redis://pw@h", "h", 6379, NULL, NULL, "pw", 0);
	url_ok("redis://:a@b@h", "h", 6379, NULL, NULL, "a@b", 0);
	url_ok("redis://[::1]:7000/1", "::1", 7000, NULL, NULL, NULL, 1);
	url_ok("redis://h/", "h", 6379, NULL, NULL, NULL, 0);
	url_ok("unix:///run/redis/redis.sock", NULL, 6379,
	    "/run/redis/redis.sock", NULL, NULL, 0);
	url_ok("unix:///tmp/r.sock?db=5", NULL, 6379, "/tmp/r.sock", NULL,
	    NULL, 5);
	url_bad("rediss://h");
	url_bad("http://h");
	url_bad("redis://");
	url_bad("redis://:pw@");
	url_bad("redis://h:0");
	url_bad("redis://h:65536");
	url_bad("redis://h:x");
	url_bad("redis://h/x");
	url_bad("redis://h/-1");
	url_bad("redis://[::1");
	url_bad("unix://relative.sock");
	url_bad("unix:///tmp/r.sock?database=1");
	url_bad("unix:///tmp/r.sock?db=x");
	url_ok("unix:///tmp/r.sock?password=p%26w&db=2", NULL, 6379,
	    "/tmp/r.sock", NULL, "p&w", 2);
	url_ok("unix:///tmp/r.sock?db=3&password=pw", NULL, 6379,
	    "/tmp/r.sock", NULL, "pw", 3);
	/* What curl's parser would read otherwise: the credentials run to
	 * the last '@' before the path, '?' and '#' included; so does a
	 * unix:// URL's query. */
	url_ok("redis://:pa?ss@h", "h", 6379, NULL, NULL, "pa?ss", 0);
	url_ok("redis://u:p#w@h/2", "h", 6379, NULL, "u", "p#w", 2);
	url_ok("redis://u:a@b?c#d@h:7", "h", 7, NULL, "u", "a@b?c#d", 0);
	url_ok("unix:///tmp/r.sock?password=a#b&db=1", NULL, 6379,
	    "/tmp/r.sock", NULL, "a#b", 1);
	url_ok("redis://[fe80::1%25eth0]:5/1", "fe80::1%eth0", 5, NULL, NULL,
	    NULL, 1);
	url_ok("unix:///tmp/a%20b/../r.sock", NULL, 6379,
	    "/tmp/a%20b/../r.sock", NULL, NULL, 0);
	/* Not a host after three slashes, no query, no fragment, even an
	 * empty one (which curl drops). */
	url_bad("redis:///3");
	url_bad("redis://h?x");
	url_bad("redis://h/1?");
	url_bad("redis://h#");
	url_bad("unix:///tmp/r.sock?");
	url_bad("unix:///tmp/r#sock");
	url_bad("redis://:p%00w@h");
	return CHECK_DONE();
}
