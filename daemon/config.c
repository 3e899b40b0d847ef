/* config: settings from defaults, file, .env, environment and options. */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "admin_proto.h"
#include "config.h"
#include "log.h"
#include "params.h"
#include "shared_url.h"
#include "ttsmap.h"
#include "util.h"

enum ctype { CT_STR, CT_INT, CT_SIZE, CT_LEVEL, CT_LISTEN };

#define CF_SECRET	0x1	/* masked in --check-config */
#define CF_URLKEY	0x2	/* may carry a password in a URL */

struct copt {
	const char	*name;		/* environment name */
	enum ctype	 type;
	size_t		 off;
	long long	 min, max;
	const char	*def;		/* NULL = unset */
	int		 flags;
	const char	*arg;		/* metavar for --help */
	const char	*help;
};

#define O(f) offsetof(struct config, f)
static const struct copt copts[] = {
	{ "NEWAPI_BASE_URL", CT_STR, O(upstream_url), 0, 0, NULL, 0, "URL",
	  "upstream OpenAI-compatible base URL" },
	{ "NEWAPI_API_KEY", CT_STR, O(upstream_key), 0, 0, NULL, CF_SECRET, "KEY",
	  "key sent upstream (and accepted from clients without API_KEYS)" },
	{ "NEWAPI_TIMEOUT", CT_INT, O(upstream_timeout), 1, 86400, "120", 0, "SEC",
	  "seconds for an upstream request" },
	{ "API_KEYS", CT_STR, O(api_keys), 0, 0, NULL, CF_SECRET, "K1,K2",
	  "keys clients may present; 'none' disables auth (loopback only)" },
	{ "HOST", CT_STR, O(host), 0, 0, "127.0.0.1", 0, "ADDR",
	  "HTTP listen address" },
	{ "PORT", CT_INT, O(port), 0, 65535, "8000", 0, "PORT",
	  "HTTP listen port" },
	{ "TTSACCEL_LISTEN", CT_LISTEN, O(listen), 0, 0, NULL, 0, "ADDR:PORT",
	  "HTTP listen address and port (overrides HOST and PORT)" },
	{ ADMIN_SOCKET_ENV, CT_STR, O(socket_path), 0, 0, NULL, 0, "PATH",
	  "admin socket path" },
	{ "TTSACCEL_CORS_ORIGIN", CT_STR, O(cors_origin), 0, 0, "*", 0, "ORIGIN",
	  "Access-Control-Allow-Origin sent to browsers" },
	{ "TTSACCEL_SHUTDOWN_TIMEOUT", CT_INT, O(shutdown_timeout), 0, 3600, "10",
	  0, "SEC", "seconds streams may take to finish on SIGTERM" },
	{ "TTS_ENDPOINTS", CT_STR, O(tts_endpoints), 0, 0, NULL, CF_URLKEY,
	  "LIST", "comma-separated TTS backends" },
	{ "TTS_API_KEY", CT_STR, O(tts_api_key), 0, 0, NULL, CF_SECRET, "KEY",
	  "bearer key sent to HTTP TTS endpoints" },
	{ "TTS_DEFAULT_MODEL", CT_STR, O(tts_default_model), 0, 0, "liang", 0,
	  "NAME", "TTS model when a request names none" },
	{ "TTS_DEFAULT_VOICE", CT_STR, O(tts_default_voice), 0, 0, "alloy", 0,
	  "NAME", "voice when a request names none" },
	{ "TTS_DEFAULT_FORMAT", CT_STR, O(tts_default_format), 0, 0, NULL, 0,
	  "FMT", "audio format when a request names none (unset: mp3 for "
	  "speech, as OpenAI's; wav for a chat's prefetch)" },
	{ "TTS_MAX_CONCURRENT_PER_ENDPOINT", CT_INT, O(tts_max_concurrent), 1,
	  1000, "3", 0, "N", "in-flight requests per endpoint" },
	{ "TTS_REQUEST_TIMEOUT", CT_INT, O(tts_request_timeout), 1, 3600, "60", 0,
	  "SEC", "seconds per backend request" },
	{ "TTS_RETRY_COUNT", CT_INT, O(tts_retry_count), 0, 100, "2", 0, "N",
	  "retries on another endpoint after a failure" },
	{ "TTS_MAX_AUDIO_BYTES", CT_SIZE, O(tts_max_audio_bytes), 1024, 0, "64M",
	  0, "SIZE", "largest backend answer (larger fails, is not cached)" },
	{ "TTS_HEALTH_INTERVAL", CT_INT, O(tts_health_interval), 0, 86400, "30", 0,
	  "SEC", "seconds between health probes (0 = off)" },
	{ "TTS_KEEPWARM_INTERVAL", CT_INT, O(tts_keepwarm_interval), 0, 86400, "0",
	  0, "SEC", "seconds between warm-up requests (0 = off)" },
	{ "TTS_MODEL_MAP", CT_STR, O(tts_model_map), 0, 0, NULL, 0, "A=B,…",
	  "client model names mapped to backend ones" },
	{ "TTS_VOICE_MAP", CT_STR, O(tts_voice_map), 0, 0, NULL, 0, "A=B,…",
	  "client voice names mapped to backend ones" },
	{ "TTS_MAX_INPUT_CHARS", CT_INT, O(tts_max_input_chars), 1, 100000000,
	  "100000", 0, "N", "characters of a speech request's input" },
	{ "TTS_MAX_SEGMENTS", CT_INT, O(tts_max_segments), 1, 10000000, "5000",
	  0, "N", "segments a speech request's input may be cut into" },
	{ "REPLY_MAX_BYTES", CT_SIZE, O(reply_max_bytes), 1024, 0, "1M", 0,
	  "SIZE", "text of one chat reply prefetched and kept for its audio" },
	{ "REPLY_CANCEL_GRACE", CT_INT, O(reply_cancel_grace), 0, 3600, "5", 0,
	  "SEC", "seconds before a reply whose audio reader left early is "
	  "cancelled (0 = never)" },
	{ "CACHE_MAX_SIZE", CT_INT, O(cache_max_size), 1, 100000000, "1000", 0,
	  "N", "cache entries" },
	{ "CACHE_MAX_BYTES", CT_SIZE, O(cache_max_bytes), 1024, 0, "256M", 0,
	  "SIZE", "audio bytes held in the cache (K, M, G suffixes)" },
	{ "CACHE_TTL", CT_INT, O(cache_ttl), 1, 31536000, "3600", 0, "SEC",
	  "seconds a cache entry lives" },
	{ "SPLITTER_MIN_LEN", CT_INT, O(splitter_min_len), 0, 10000, "5", 0, "N",
	  "segments shorter than this are merged with the next" },
	{ "SPLITTER_MAX_LEN", CT_INT, O(splitter_max_len), 2, 10000, "40", 0, "N",
	  "segments longer than this are cut at a soft boundary" },
	{ "SPLITTER_FIRST_LEN", CT_INT, O(splitter_first_len), 0, 10000, "10", 0,
	  "N", "first segment may end at a comma once this long (0 = off)" },
	{ "LOG_LEVEL", CT_LEVEL, O(log_level), 0, 0, "INFO", 0, "LEVEL",
	  "DEBUG, INFO, WARNING or ERROR" },
	{ "MAX_BODY_BYTES", CT_SIZE, O(max_body_bytes), 1024, 0, "4M", 0, "SIZE",
	  "largest request body accepted" },
	{ "MAX_CONNECTIONS", CT_INT, O(max_connections), 1, 1000000, "1000", 0,
	  "N", "HTTP connections open at once; more get 503 and are closed" },
	{ "CLIENT_HEADER_TIMEOUT", CT_INT, O(client_header_timeout), 1, 3600,
	  "30", 0, "SEC", "seconds a client may take to send a request's "
	  "headers" },
	{ "CLIENT_BODY_TIMEOUT", CT_INT, O(client_body_timeout), 1, 86400,
	  "120", 0, "SEC", "seconds a client may take to send a request's "
	  "body" },
	{ "REDIS_URL", CT_STR, O(redis_url), 0, 0, NULL, CF_URLKEY, "URL",
	  "the Redis several instances share (a redis:// or unix:// URL)" },
	{ "REDIS_PREFIX", CT_STR, O(redis_prefix), 0, 0, "ttsaccel:", 0, "PREFIX",
	  "namespace of the shared cache's keys" },
	{ "REDIS_FOLLOW_MAX", CT_INT, O(redis_follow_max), 1, 100000, "256", 0,
	  "N", "Redis connections following other instances' syntheses" },
};
#undef O
#define NCOPTS (sizeof copts / sizeof copts[0])

static const struct copt *
copt_find(const char *name, size_t len)
{
	size_t	i;

	for (i = 0; i < NCOPTS; i++)
		if (strlen(copts[i].name) == len &&
		    strncasecmp(copts[i].name, name, len) == 0)
			return &copts[i];
	return NULL;
}

/* Set one option from text; -1 with *cause on a bad value. */
static int
copt_set(struct config *cf, const struct copt *o, const char *value,
    const char *where, char **cause)
{
	void		*field = (char *)cf + o->off;
	const char	*errstr = NULL;
	long long	 ll;
	uint64_t	 sz;
	int		 lvl;
	char		*host, *colon;

	switch (o->type) {
	case CT_STR:
		free(*(char **)field);
		*(char **)field = xstrdup(value);
		return 0;
	case CT_INT:
		if (parse_ll(value, o->min, o->max, &ll, &errstr) == 0) {
			*(long long *)field = ll;
			return 0;
		}
		break;
	case CT_SIZE:
		if (parse_size(value, &sz, &errstr) == 0) {
			if (sz < (uint64_t)o->min)
				errstr = "is too small";
			else {
				*(uint64_t *)field = sz;
				return 0;
			}
		}
		break;
	case CT_LEVEL:
		if ((lvl = log_level_parse(value)) != -1) {
			*(int *)field = lvl;
			return 0;
		}
		errstr = "is not one of DEBUG, INFO, WARNING, ERROR";
		break;
	case CT_LISTEN:
		colon = strrchr(value, ':');
		if (colon == NULL || colon == value ||
		    parse_ll(colon + 1, 0, 65535, &ll, &errstr) != 0) {
			errstr = "is not ADDRESS:PORT";
			break;
		}
		host = xstrndup(value, (size_t)(colon - value));
		if (host[0] == '[' && host[strlen(host) - 1] == ']') {
			memmove(host, host + 1, strlen(host));
			host[strlen(host) - 1] = '\0';
		}
		free(cf->host);
		cf->host = host;
		cf->port = ll;
		free(cf->listen);
		cf->listen = xstrdup(value);
		return 0;
	}
	*cause = xasprintf("%s: %s: '%s' %s", where, o->name,
	    (o->flags & CF_SECRET) ? "****" : value, errstr);
	return -1;
}

static void
add_endpoint(struct config *cf, const char *line)
{
	cf->endpoints = xreallocarray(cf->endpoints, cf->nendpoints + 1,
	    sizeof *cf->endpoints);
	cf->endpoints[cf->nendpoints++] = xstrdup(line);
}

/* Strip matching quotes around a value, in place. */
static char *
unquote(char *v)
{
	size_t	n = strlen(v);

	if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
		v[n - 1] = '\0';
		v++;
	}
	return v;
}

/*
 * Read a `key = value` file.  In the config file (dotenv = 0) keys are
 * the environment names in any case, unknown ones are errors, and
 * `endpoint = URL …` may repeat.  In .env (dotenv = 1) lines are
 * `[export] NAME=value`; names that are not ours are other programs'
 * and only draw a warning.
 */
static int
read_file(struct config *cf, const char *path, int dotenv, char **cause)
{
	FILE		*f;
	char		*line = NULL, *p, *eq, *key, *value;
	char		 where[512];
	size_t		 cap = 0;
	ssize_t		 n;
	int		 lineno = 0, rc = -1;
	const struct copt *o;

	if ((f = fopen(path, "r")) == NULL) {
		*cause = xasprintf("%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	while ((n = getline(&line, &cap, f)) != -1) {
		lineno++;
		snprintf(where, sizeof where, "%s line %d", path, lineno);
		p = strtrim(line);
		if (*p == '\0' || *p == '#')
			continue;
		if (dotenv && strncmp(p, "export ", 7) == 0)
			p = strtrim(p + 7);
		if ((eq = strchr(p, '=')) == NULL) {
			*cause = xasprintf("%s: expected 'key = value'", where);
			goto out;
		}
		*eq = '\0';
		key = strtrim(p);
		value = unquote(strtrim(eq + 1));
		if (!dotenv && strcasecmp(key, "endpoint") == 0) {
			if (*value == '\0') {
				*cause = xasprintf("%s: endpoint: empty URL", where);
				goto out;
			}
			add_endpoint(cf, value);
			continue;
		}
		if ((o = copt_find(key, strlen(key))) == NULL) {
			if (dotenv) {
				log_warn("%s: '%s' is not a ttsaccel setting; "
				    "ignored", where, key);
				continue;
			}
			*cause = xasprintf("%s: unknown key '%s' (keys are the "
			    "environment names in lower case; see "
			    "ttsaccel.conf(5))", where, key);
			goto out;
		}
		if (copt_set(cf, o, value, where, cause) != 0)
			goto out;
	}
	if (ferror(f)) {
		*cause = xasprintf("%s: read error: %s", path, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	free(line);
	fclose(f);
	return rc;
}

static int
read_env(struct config *cf, char **envp, char **cause)
{
	const struct copt	*o;
	char			 where[128];
	const char		*eq;
	size_t			 i, j;

	if (envp == NULL)
		return 0;
	/* In table order, so TTSACCEL_LISTEN comes after HOST and PORT. */
	for (i = 0; i < NCOPTS; i++) {
		o = &copts[i];
		for (j = 0; envp[j] != NULL; j++) {
			eq = strchr(envp[j], '=');
			if (eq == NULL || (size_t)(eq - envp[j]) !=
			    strlen(o->name) ||
			    strncmp(envp[j], o->name, strlen(o->name)) != 0)
				continue;
			snprintf(where, sizeof where, "environment");
			if (copt_set(cf, o, eq + 1, where, cause) != 0)
				return -1;
		}
	}
	return 0;
}

static const char *
env_get(char **envp, const char *name)
{
	size_t	i, n = strlen(name);

	for (i = 0; envp != NULL && envp[i] != NULL; i++)
		if (strncmp(envp[i], name, n) == 0 && envp[i][n] == '=')
			return envp[i] + n + 1;
	return NULL;
}

/* The option name of a setting: lower case, dashes. */
static void
opt_name(const struct copt *o, char *buf, size_t len)
{
	size_t	i;

	for (i = 0; o->name[i] != '\0' && i + 1 < len; i++)
		buf[i] = o->name[i] == '_' ? '-' :
		    (char)tolower((unsigned char)o->name[i]);
	buf[i] = '\0';
}

/* Short aliases for common settings. */
static const struct {
	const char	*alias;
	const char	*name;
} aliases[] = {
	{ "upstream", "NEWAPI_BASE_URL" },
	{ "host", "HOST" },
	{ "port", "PORT" },
	{ "listen", "TTSACCEL_LISTEN" },
	{ "socket", "TTSACCEL_SOCKET" },
	{ "log-level", "LOG_LEVEL" },
};

static const struct copt *
opt_find(const char *arg, size_t len)
{
	char	buf[64];
	size_t	i;

	for (i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
		if (strlen(aliases[i].alias) == len &&
		    strncmp(aliases[i].alias, arg, len) == 0)
			return copt_find(aliases[i].name,
			    strlen(aliases[i].name));
	for (i = 0; i < NCOPTS; i++) {
		opt_name(&copts[i], buf, sizeof buf);
		if (strlen(buf) == len && strncmp(buf, arg, len) == 0)
			return &copts[i];
	}
	return NULL;
}

void
config_usage(FILE *f)
{
	char	buf[64], left[96];
	size_t	i, j;

	fprintf(f,
"usage: ttsaccel [--config FILE] [--SETTING VALUE ...]\n"
"       ttsaccel --check-config | --split | --help | --version\n"
"\n"
"An OpenAI-compatible chat proxy that prefetches the reply's speech.\n"
"\n"
"  -c, --config FILE     read FILE (default $TTSACCEL_CONFIG, else\n"
"                        /etc/ttsaccel/ttsaccel.conf if it exists)\n"
"      --check-config    validate, print the effective configuration\n"
"                        (secrets masked) and exit\n"
"      --split           read text on stdin, print one speakable segment\n"
"                        per line with the current SPLITTER_* settings\n"
"  -h, --help            this help\n"
"  -V, --version         print the version\n"
"\n"
"Settings (each also an environment variable, and a config file key in\n"
"lower case; later wins: defaults < file < .env < environment < options):\n");
	for (i = 0; i < NCOPTS; i++) {
		opt_name(&copts[i], buf, sizeof buf);
		snprintf(left, sizeof left, "--%s %s", buf, copts[i].arg);
		fprintf(f, "  %-40s %s\n", left, copts[i].name);
		fprintf(f, "  %-40s   %s", "", copts[i].help);
		if (copts[i].def != NULL)
			fprintf(f, " [%s]", copts[i].def);
		fputc('\n', f);
	}
	fprintf(f, "Aliases:");
	for (j = 0; j < sizeof aliases / sizeof aliases[0]; j++)
		fprintf(f, " --%s", aliases[j].alias);
	fprintf(f, "\n\nSee ttsaccel(8) and ttsaccel.conf(5).\n");
}

/* Split API_KEYS, resolve defaults and check what spans several keys. */
static char	*mask_url(const char *);

static int
finish(struct config *cf, char **envp, char **cause)
{
	struct shared_url su;
	const char	*src;
	char		*copy, *tok, *save, *s, *why, *masked;
	size_t		 n;

	if (cf->upstream_url != NULL) {
		s = strtrim(cf->upstream_url);
		if (*s == '\0') {
			free(cf->upstream_url);
			cf->upstream_url = NULL;
		} else {
			memmove(cf->upstream_url, s, strlen(s) + 1);
			if (strncmp(s, "http://", 7) != 0 &&
			    strncmp(s, "https://", 8) != 0) {
				*cause = xasprintf("NEWAPI_BASE_URL: '%s' is not "
				    "an http:// or https:// URL", s);
				return -1;
			}
			n = strlen(s);
			while (n > 0 && s[n - 1] == '/')
				s[--n] = '\0';
			if (n >= 3 && strcmp(s + n - 3, "/v1") == 0)
				s[n - 3] = '\0';
		}
	}
	if (cf->upstream_key != NULL && *cf->upstream_key == '\0') {
		free(cf->upstream_key);
		cf->upstream_key = NULL;
	}

	src = cf->api_keys != NULL ? cf->api_keys : cf->upstream_key;
	if (src != NULL && strcasecmp(src, "none") == 0) {
		if (strcmp(cf->host, "127.0.0.1") != 0 &&
		    strcmp(cf->host, "localhost") != 0 &&
		    strcmp(cf->host, "::1") != 0) {
			*cause = xasprintf("API_KEYS: 'none' (no client auth) is "
			    "only allowed when listening on loopback, not on "
			    "'%s'; set API_KEYS to a list of keys", cf->host);
			return -1;
		}
	} else if (src != NULL) {
		copy = xstrdup(src);
		for (tok = strtok_r(copy, ",", &save); tok != NULL;
		    tok = strtok_r(NULL, ",", &save)) {
			tok = strtrim(tok);
			if (*tok == '\0')
				continue;
			cf->client_keys = xreallocarray(cf->client_keys,
			    cf->nclient_keys + 1, sizeof *cf->client_keys);
			cf->client_keys[cf->nclient_keys++] = xstrdup(tok);
		}
		free(copy);
	}
	if (cf->client_keys == NULL && (src == NULL ||
	    strcasecmp(src, "none") != 0)) {
		/* No key at all: like the original, open — but only on
		 * loopback, where it cannot be reached from outside. */
		if (strcmp(cf->host, "127.0.0.1") != 0 &&
		    strcmp(cf->host, "localhost") != 0 &&
		    strcmp(cf->host, "::1") != 0) {
			*cause = xasprintf("no client keys: set API_KEYS (or "
			    "NEWAPI_API_KEY) before listening on '%s', or "
			    "API_KEYS=none on loopback", cf->host);
			return -1;
		}
	}

	if (cf->tts_default_format != NULL && *cf->tts_default_format == '\0') {
		free(cf->tts_default_format);
		cf->tts_default_format = NULL;
	}
	if (cf->tts_default_format != NULL &&
	    params_format_index(cf->tts_default_format) < 0) {
		*cause = xasprintf("TTS_DEFAULT_FORMAT: '%s' is not one of "
		    PARAMS_FORMAT_LIST, cf->tts_default_format);
		return -1;
	}
	if (cf->redis_url != NULL && *cf->redis_url == '\0') {
		free(cf->redis_url);
		cf->redis_url = NULL;
	}
	if (cf->redis_url != NULL) {
		if (shared_url_parse(cf->redis_url, &su, &why) != 0) {
			masked = mask_url(cf->redis_url);
			*cause = xasprintf("REDIS_URL: '%s': %s", masked, why);
			free(masked);
			free(why);
			return -1;
		}
		shared_url_clear(&su);
	}
	if (cf->redis_prefix == NULL || *cf->redis_prefix == '\0' ||
	    strlen(cf->redis_prefix) > 128) {
		*cause = xstrdup("REDIS_PREFIX: must be 1 to 128 characters");
		return -1;
	}
	if ((cf->model_map = ttsmap_parse(cf->tts_model_map, &why)) == NULL) {
		*cause = xasprintf("TTS_MODEL_MAP: %s", why);
		free(why);
		return -1;
	}
	if ((cf->voice_map = ttsmap_parse(cf->tts_voice_map, &why)) == NULL) {
		*cause = xasprintf("TTS_VOICE_MAP: %s", why);
		free(why);
		return -1;
	}
	if (cf->splitter_min_len > cf->splitter_max_len) {
		*cause = xasprintf("SPLITTER_MIN_LEN (%lld) is larger than "
		    "SPLITTER_MAX_LEN (%lld)", cf->splitter_min_len,
		    cf->splitter_max_len);
		return -1;
	}
	cf->params.model = cf->tts_default_model;
	cf->params.voice = cf->tts_default_voice;
	cf->params.format = cf->tts_default_format;
	cf->params.model_map = cf->model_map;
	cf->params.voice_map = cf->voice_map;
	segment_opts_default(&cf->params.split);
	cf->params.split.min_len = (size_t)cf->splitter_min_len;
	cf->params.split.max_len = (size_t)cf->splitter_max_len;
	cf->params.split.first_len = (size_t)cf->splitter_first_len;
	if (cf->socket_path == NULL)
		cf->socket_path = admin_proto_socket_path(
		    env_get(envp, "XDG_RUNTIME_DIR"), env_get(envp, "TMPDIR"),
		    geteuid(), &cf->socket_private);
	return 0;
}

int
config_private_dir(const char *dir, uid_t uid, int create, char **cause)
{
	struct stat	st;

	if (lstat(dir, &st) != 0) {
		if (errno != ENOENT || !create) {
			*cause = xasprintf("the admin socket's directory %s: %s",
			    dir, strerror(errno));
			return -1;
		}
		if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
			*cause = xasprintf("cannot create the admin socket's "
			    "directory %s: %s", dir, strerror(errno));
			return -1;
		}
		if (lstat(dir, &st) != 0) {
			*cause = xasprintf("the admin socket's directory %s: %s",
			    dir, strerror(errno));
			return -1;
		}
	}
	if (S_ISLNK(st.st_mode)) {
		*cause = xasprintf("the admin socket's directory %s is a "
		    "symbolic link, not a private directory: remove it, or "
		    "set XDG_RUNTIME_DIR or TTSACCEL_SOCKET", dir);
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		*cause = xasprintf("the admin socket's directory %s is not a "
		    "directory: remove it, or set XDG_RUNTIME_DIR or "
		    "TTSACCEL_SOCKET", dir);
		return -1;
	}
	if (st.st_uid != uid) {
		*cause = xasprintf("the admin socket's directory %s belongs to "
		    "uid %u, not to uid %u: another user may have made it "
		    "to take the socket; remove it, or set XDG_RUNTIME_DIR or "
		    "TTSACCEL_SOCKET", dir, (unsigned)st.st_uid, (unsigned)uid);
		return -1;
	}
	if ((st.st_mode & 07777) != 0700) {
		*cause = xasprintf("the admin socket's directory %s has mode "
		    "%04o, not 0700: run chmod 0700 %s, or set XDG_RUNTIME_DIR "
		    "or TTSACCEL_SOCKET", dir, (unsigned)(st.st_mode & 07777),
		    dir);
		return -1;
	}
	return 0;
}

int
config_load(struct config *cf, int argc, char **argv, char **envp,
    int *action, char **cause)
{
	const struct copt	*o;
	const char		*file = NULL, *arg, *value;
	char			 where[128];
	int			 i, explicit = 0;
	size_t			 j, len;

	memset(cf, 0, sizeof *cf);
	*action = CONFIG_ACT_RUN;
	*cause = NULL;
	for (j = 0; j < NCOPTS; j++)
		if (copts[j].def != NULL &&
		    copt_set(cf, &copts[j], copts[j].def, "default", cause) != 0)
			return -1;

	/* First pass over argv: actions and --config. */
	for (i = 1; i < argc; i++) {
		arg = argv[i];
		if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0)
			*action = CONFIG_ACT_HELP;
		else if (strcmp(arg, "-V") == 0 || strcmp(arg, "--version") == 0)
			*action = CONFIG_ACT_VERSION;
		else if (strcmp(arg, "--check-config") == 0)
			*action = CONFIG_ACT_CHECK;
		else if (strcmp(arg, "--split") == 0)
			*action = CONFIG_ACT_SPLIT;
		else if (strcmp(arg, "-c") == 0 || strcmp(arg, "--config") == 0) {
			if (i + 1 >= argc) {
				*cause = xasprintf("%s needs a FILE", arg);
				return -1;
			}
			file = argv[++i];
			explicit = 1;
		} else if (strncmp(arg, "--config=", 9) == 0) {
			file = arg + 9;
			explicit = 1;
		} else if (strncmp(arg, "--", 2) == 0) {
			len = strcspn(arg + 2, "=");
			if (opt_find(arg + 2, len) == NULL) {
				*cause = xasprintf("unknown option '%.*s' (see "
				    "ttsaccel --help)", (int)len + 2, arg);
				return -1;
			}
			if (arg[2 + len] == '\0')
				i++;
		} else {
			*cause = xasprintf("unexpected argument '%s' (see "
			    "ttsaccel --help)", arg);
			return -1;
		}
	}
	if (*action == CONFIG_ACT_HELP || *action == CONFIG_ACT_VERSION)
		return 0;

	if (file == NULL && (file = env_get(envp, "TTSACCEL_CONFIG")) != NULL &&
	    *file != '\0')
		explicit = 1;
	if (file == NULL || *file == '\0') {
		file = "/etc/ttsaccel/ttsaccel.conf";
		explicit = access(file, F_OK) == 0;
	}
	if (explicit) {
		if (read_file(cf, file, 0, cause) != 0)
			return -1;
		cf->file = xstrdup(file);
	}
	if (access(".env", F_OK) == 0 && read_file(cf, ".env", 1, cause) != 0)
		return -1;
	if (read_env(cf, envp, cause) != 0)
		return -1;

	/* Second pass: the settings given as options. */
	for (i = 1; i < argc; i++) {
		arg = argv[i];
		if (strcmp(arg, "-c") == 0 || strcmp(arg, "--config") == 0) {
			i++;
			continue;
		}
		if (strncmp(arg, "--", 2) != 0)
			continue;
		len = strcspn(arg + 2, "=");
		if ((o = opt_find(arg + 2, len)) == NULL)
			continue;
		if (arg[2 + len] == '=')
			value = arg + 3 + len;
		else if (i + 1 < argc)
			value = argv[++i];
		else {
			*cause = xasprintf("option '%s' needs a value", arg);
			return -1;
		}
		snprintf(where, sizeof where, "option --%.*s", (int)len,
		    arg + 2);
		if (copt_set(cf, o, value, where, cause) != 0)
			return -1;
	}
	return finish(cf, envp, cause);
}

void
config_clear(struct config *cf)
{
	size_t	i;

	for (i = 0; i < NCOPTS; i++)
		if (copts[i].type == CT_STR || copts[i].type == CT_LISTEN)
			free(*(char **)((char *)cf + copts[i].off));
	for (i = 0; i < cf->nendpoints; i++)
		free(cf->endpoints[i]);
	free(cf->endpoints);
	for (i = 0; i < cf->nclient_keys; i++)
		free(cf->client_keys[i]);
	free(cf->client_keys);
	free(cf->file);
	free(cf->socket_private);
	ttsmap_free(cf->model_map);
	ttsmap_free(cf->voice_map);
	memset(cf, 0, sizeof *cf);
}

/* Mask a password in scheme://user:password@host, and key=… options. */
static char *
mask_url(const char *in)
{
	const char	*at, *scheme, *colon, *s;
	char		*copy, *k, *out;
	size_t		 n;

	static const char *const names[] = { "key=", "password=" };
	size_t		 i, nl;

	/* key=VALUE up to the next option or entry becomes key=****; so
	 * does password=VALUE (a unix:// REDIS_URL's). */
	copy = xstrdup(in);
	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		nl = strlen(names[i]);
		for (k = copy; (k = strstr(k, names[i])) != NULL;
		    k += nl + 4) {
			n = strcspn(k + nl, "| ,\t&");
			out = xasprintf("%.*s%s****%s", (int)(k - copy), copy,
			    names[i], k + nl + n);
			k = out + (k - copy);
			free(copy);
			copy = out;
		}
	}
	s = copy;
	scheme = strstr(s, "://");
	at = strchr(s, '@');
	if (scheme == NULL || at == NULL || at < scheme)
		return copy;
	colon = memchr(scheme + 3, ':', (size_t)(at - scheme - 3));
	if (colon == NULL)	/* scheme://password@host */
		out = xasprintf("%.*s****%s", (int)(scheme + 3 - s), s, at);
	else
		out = xasprintf("%.*s:****%s", (int)(colon - s), s, at);
	free(copy);
	return out;
}

void
config_print(const struct config *cf, FILE *f)
{
	const struct copt	*o;
	const void		*field;
	char			*masked, *s;
	size_t			 i;

	fprintf(f, "# ttsaccel %s effective configuration\n", TTSACCEL_VERSION);
	fprintf(f, "# config file: %s\n", cf->file != NULL ? cf->file :
	    "(none)");
	for (i = 0; i < NCOPTS; i++) {
		o = &copts[i];
		field = (const char *)cf + o->off;
		fprintf(f, "%s=", o->name);
		switch (o->type) {
		case CT_STR:
		case CT_LISTEN:
			if (*(char *const *)field == NULL)
				fprintf(f, "(unset)");
			else if (o->flags & CF_SECRET)
				fprintf(f, "****");
			else if (o->flags & CF_URLKEY) {
				masked = mask_url(*(char *const *)field);
				fprintf(f, "%s", masked);
				free(masked);
			} else
				fprintf(f, "%s", *(char *const *)field);
			break;
		case CT_INT:
			fprintf(f, "%lld", *(const long long *)field);
			break;
		case CT_SIZE:
			fprintf(f, "%llu", (unsigned long long)
			    *(const uint64_t *)field);
			break;
		case CT_LEVEL:
			fprintf(f, "%s", log_level_name(*(const int *)field));
			break;
		}
		fputc('\n', f);
	}
	for (i = 0; i < cf->nendpoints; i++) {
		masked = mask_url(cf->endpoints[i]);
		fprintf(f, "endpoint=%s\n", masked);
		free(masked);
	}
	s = ttsmap_string(cf->model_map);
	fprintf(f, "# model map (exact, case-sensitive): %s\n", *s != '\0' ?
	    s : "none");
	free(s);
	s = ttsmap_string(cf->voice_map);
	fprintf(f, "# voice map (exact, case-sensitive): %s\n", *s != '\0' ?
	    s : "none");
	free(s);
	fprintf(f, "# client auth: %s\n", cf->nclient_keys > 0 ?
	    "required" : "off (loopback only)");
}

int
config_key_ok(const struct config *cf, const char *key)
{
	size_t	i, klen = strlen(key);
	int	ok = 0;

	for (i = 0; i < cf->nclient_keys; i++)
		ok |= const_time_eq(key, klen, cf->client_keys[i],
		    strlen(cf->client_keys[i]));
	return ok;
}
