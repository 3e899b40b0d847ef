/*
 * shared_url: REDIS_URL taken apart with libcurl's URL API (curl_url);
 * no I/O, no Redis.
 *
 * redis://[[user]:password@]host[:port][/db] is a URL of a scheme curl
 * does not know, parsed as such.  Two leniencies of the Redis clients
 * are kept: the credentials run to the last '@' before the path, so a
 * password may hold '@', '?' or '#' unencoded (they are encoded before
 * curl sees them); and redis://password@host, with no colon, names a
 * password, not a user.
 *
 * unix:///path[?db=N][&password=P] has no authority, a path and a query:
 * the shape of a file: URL, which is how curl is asked to read it.  The
 * path is taken as written; the password is percent-decoded.
 */
#include <curl/curl.h>

#include <stdlib.h>
#include <string.h>

#include "shared_url.h"
#include "util.h"

/* Spaces as written (a socket's path may have them); no "." or ".."
 * removed from a path. */
#define URL_FLAGS	(CURLU_NON_SUPPORT_SCHEME | CURLU_PATH_AS_IS | \
			 CURLU_ALLOW_SPACE)

static const char url_forms[] = "redis://[[user]:password@]host[:port]"
    "[/db] or unix:///path[?db=N][&password=P]";

void
shared_url_clear(struct shared_url *u)
{
	free(u->host);
	free(u->path);
	free(u->user);
	free(u->password);
	memset(u, 0, sizeof *u);
}

/* A handle holding s parsed; NULL with *cause. */
static CURLU *
url_handle(const char *s, char **cause)
{
	CURLU		*h;
	CURLUcode	 rc;

	if ((h = curl_url()) == NULL) {
		*cause = xstrdup("out of memory");
		return NULL;
	}
	if ((rc = curl_url_set(h, CURLUPART_URL, s, URL_FLAGS)) != CURLUE_OK) {
		*cause = xasprintf("%s (expected %s)", curl_url_strerror(rc),
		    url_forms);
		curl_url_cleanup(h);
		return NULL;
	}
	return h;
}

/* Part p of h into *out (to free; NULL if the URL has none): 0, or -1
 * with *cause (a part that cannot be decoded). */
static int
url_part(CURLU *h, CURLUPart p, unsigned int flags, char **out,
    char **cause)
{
	char		*s = NULL;
	CURLUcode	 rc;

	*out = NULL;
	switch (rc = curl_url_get(h, p, &s, flags)) {
	case CURLUE_OK:
		*out = xstrdup(s);
		curl_free(s);
		return 0;
	case CURLUE_NO_USER:
	case CURLUE_NO_PASSWORD:
	case CURLUE_NO_HOST:
	case CURLUE_NO_PORT:
	case CURLUE_NO_QUERY:
	case CURLUE_NO_FRAGMENT:
	case CURLUE_NO_ZONEID:
		return 0;
	default:
		*cause = xstrdup(curl_url_strerror(rc));
		return -1;
	}
}

/* s with the bytes of chars in [from, to) percent-encoded (the rest as
 * it is), for a string curl would end early. */
static char *
url_quote(const char *s, const char *from, const char *to,
    const char *chars)
{
	const char	*q;
	char		*out, *o;

	o = out = xmalloc(strlen(s) + 2 * (size_t)(to - from) + 1);
	memcpy(o, s, (size_t)(from - s));
	o += from - s;
	for (q = from; q < to; q++) {
		if (strchr(chars, *q) != NULL) {
			*o++ = '%';
			*o++ = "0123456789ABCDEF"[(unsigned char)*q >> 4];
			*o++ = "0123456789ABCDEF"[*q & 0xf];
		} else
			*o++ = *q;
	}
	memcpy(o, to, strlen(to) + 1);
	return out;
}

static int
url_redis(const char *url, struct shared_url *u, char **cause)
{
	CURLU		*h;
	char		*s, *zone = NULL, *port = NULL, *path = NULL;
	const char	*p, *q, *at = NULL, *errstr;
	long long	 ll;
	size_t		 n;
	int		 rv = -1;

	/* curl would take redis:///x's x for the host. */
	if (url[8] == '/' || url[8] == '\0') {
		*cause = xstrdup("no host");
		return -1;
	}
	/* The credentials run to the last '@' before the path. */
	p = url + 8;
	for (q = p; *q != '\0' && *q != '/'; q++)
		if (*q == '@')
			at = q;
	s = at != NULL ? url_quote(url, p, at, "@?#") : xstrdup(url);
	/* Even an empty one, which curl would drop. */
	if ((q = strpbrk(s, "?#")) != NULL) {
		*cause = xasprintf("'%s': a redis:// URL has no query or "
		    "fragment", q);
		free(s);
		return -1;
	}
	h = url_handle(s, cause);
	free(s);
	if (h == NULL)
		return -1;
	if (url_part(h, CURLUPART_HOST, 0, &u->host, cause) != 0 ||
	    url_part(h, CURLUPART_ZONEID, 0, &zone, cause) != 0 ||
	    url_part(h, CURLUPART_PORT, 0, &port, cause) != 0 ||
	    url_part(h, CURLUPART_USER, CURLU_URLDECODE, &u->user,
	    cause) != 0 ||
	    url_part(h, CURLUPART_PASSWORD, CURLU_URLDECODE, &u->password,
	    cause) != 0 ||
	    url_part(h, CURLUPART_PATH, 0, &path, cause) != 0)
		goto out;
	if (u->host == NULL || u->host[0] == '\0') {
		*cause = xstrdup("no host");
		goto out;
	}
	/* An IPv6 address without its brackets, and with its zone. */
	if (u->host[0] == '[' && (n = strlen(u->host)) >= 2) {
		s = xasprintf("%.*s%s%s", (int)(n - 2), u->host + 1,
		    zone != NULL ? "%" : "", zone != NULL ? zone : "");
		free(u->host);
		u->host = s;
	}
	/* redis://password@host, as some clients accept */
	if (u->password == NULL && u->user != NULL) {
		u->password = u->user;
		u->user = NULL;
	}
	if (u->user != NULL && u->user[0] == '\0') {
		free(u->user);
		u->user = NULL;
	}
	if (port != NULL) {
		if (parse_ll(port, 1, 65535, &ll, &errstr) != 0) {
			*cause = xasprintf("port '%s' %s", port, errstr);
			goto out;
		}
		u->port = (int)ll;
	}
	if (path != NULL && path[0] == '/' && path[1] != '\0') {
		if (parse_ll(path + 1, 0, 1000000, &ll, &errstr) != 0) {
			*cause = xasprintf("database '%s' %s", path + 1,
			    errstr);
			goto out;
		}
		u->db = (int)ll;
	}
	rv = 0;
out:
	free(zone);
	free(port);
	free(path);
	curl_url_cleanup(h);
	return rv;
}

static int
url_unix(const char *url, struct shared_url *u, char **cause)
{
	CURLU		*h;
	char		*s, *query = NULL, *v, *d;
	const char	*q, *end, *errstr;
	long long	 ll;
	int		 dlen, rv = -1;

	if (url[7] != '/') {
		*cause = xstrdup("a unix:// URL needs an absolute path: "
		    "unix:///path/to/redis.sock[?db=N][&password=P]");
		return -1;
	}
	/* The query runs to the end: a '#' in it is the password's. */
	s = xasprintf("file://%s", url + 7);
	if ((q = strchr(s, '?')) != NULL) {
		v = url_quote(s, q, q + strlen(q), "#");
		free(s);
		s = v;
	}
	if (strchr(s, '#') != NULL) {
		*cause = xstrdup("a '#' in a socket's path is written %23");
		free(s);
		return -1;
	}
	h = url_handle(s, cause);
	if (h == NULL) {
		free(s);
		return -1;
	}
	if (url_part(h, CURLUPART_PATH, 0, &u->path, cause) != 0 ||
	    url_part(h, CURLUPART_QUERY, 0, &query, cause) != 0)
		goto out;
	if (u->path == NULL) {
		*cause = xstrdup("no path");
		goto out;
	}
	/* An empty query, which curl drops, is no db=N. */
	if (query == NULL && strchr(s, '?') != NULL)
		query = xstrdup("");
	/* ?db=N and ?password=P, in any order, joined by & */
	for (q = query; q != NULL; q = *end == '&' ? end + 1 : NULL) {
		end = q + strcspn(q, "&");
		v = xstrndup(q, (size_t)(end - q));
		if (strncmp(v, "db=", 3) == 0) {
			if (parse_ll(v + 3, 0, 1000000, &ll, &errstr) != 0) {
				*cause = xasprintf("database '%s' %s", v + 3,
				    errstr);
				free(v);
				goto out;
			}
			u->db = (int)ll;
		} else if (strncmp(v, "password=", 9) == 0) {
			if ((d = curl_easy_unescape(NULL, v + 9, 0,
			    &dlen)) == NULL) {
				*cause = xstrdup("out of memory");
				free(v);
				goto out;
			}
			free(u->password);
			u->password = xstrdup(d);
			curl_free(d);
		} else {
			*cause = xasprintf("'%s' is not db=N or password=P", v);
			free(v);
			goto out;
		}
		free(v);
	}
	rv = 0;
out:
	free(s);
	free(query);
	curl_url_cleanup(h);
	return rv;
}

int
shared_url_parse(const char *url, struct shared_url *u, char **cause)
{
	int	rv;

	memset(u, 0, sizeof *u);
	u->port = 6379;
	if (strncmp(url, "unix://", 7) == 0)
		rv = url_unix(url, u, cause);
	else if (strncmp(url, "redis://", 8) == 0)
		rv = url_redis(url, u, cause);
	else {
		*cause = xasprintf("not %s (TLS is not supported)", url_forms);
		rv = -1;
	}
	if (rv != 0)
		shared_url_clear(u);
	return rv;
}
