/* ttsaccelctl: inspect and steer a running ttsaccel. */
#include <sys/socket.h>

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "admin.h"
#include "chat.h"
#include "util.h"

#define TEXT_COLS	60	/* code points of a text shown in a table */
#define LIST_DEFAULT	20	/* cache list without -n */
#define USAGE		2	/* exit status of a usage error */

/* The command table: drives both dispatch and usage.  A name of two words
 * is a command with a subcommand ("cache list"); a command that speaks to
 * the daemon has the name of the protocol's, a space for each dot
 * (cache.list, admin_proto.h). */
struct cmd {
	const char	*name;
	int		 (*fn)(int, char **);
	const char	*args;
	const char	*help;
};

static int	cmd_stats(int, char **);
static int	cmd_health(int, char **);
static int	cmd_cache_clear(int, char **);
static int	cmd_cache_list(int, char **);
static int	cmd_endpoints_list(int, char **);
static int	cmd_endpoints_add(int, char **);
static int	cmd_endpoints_drain(int, char **);
static int	cmd_endpoints_remove(int, char **);
static int	cmd_reload(int, char **);
static int	cmd_log_level(int, char **);
static int	cmd_watch(int, char **);
static int	cmd_replies_cancel(int, char **);

static const struct cmd cmds[] = {
	{ "stats", cmd_stats, "",
	  "cache and endpoint figures" },
	{ "health", cmd_health, "",
	  "exit 0 if the daemon can serve, 1 otherwise" },
	{ "cache clear", cmd_cache_clear, "[--shared]",
	  "empty the cache (--shared: and this cluster's keys in Redis)" },
	{ "cache list", cmd_cache_list, "[-n N]",
	  "the N newest cache entries (20)" },
	{ "endpoints list", cmd_endpoints_list, "[--names]",
	  "the TTS endpoints (--names: their URLs only)" },
	{ "endpoints add", cmd_endpoints_add, "URL [--max N] [--weight W]",
	  "add a TTS endpoint" },
	{ "endpoints drain", cmd_endpoints_drain, "URL",
	  "give an endpoint no new work; it leaves when idle" },
	{ "endpoints remove", cmd_endpoints_remove, "URL",
	  "remove an endpoint (after its work is done)" },
	{ "reload", cmd_reload, "",
	  "re-read the configuration" },
	{ "log level", cmd_log_level, "LEVEL",
	  "set the log level: DEBUG, INFO, WARNING or ERROR" },
	{ "watch", cmd_watch, "",
	  "print events as they happen, until interrupted" },
	{ "replies cancel", cmd_replies_cancel, "ID",
	  "cancel a chat reply's audio not made yet" },
	{ "say", cmd_say, "[-v VOICE] [-o FILE] [--player CMD] [--verbose] "
	  "TEXT",
	  "speak TEXT through the daemon (to the player or FILE)" },
	{ "chat", cmd_chat, "[-m MODEL] [-v VOICE] [--player CMD] "
	  "[--no-audio] [-o FILE] [--verbose] [PROMPT]",
	  "chat with spoken replies (interactive without PROMPT)" },
	{ NULL, NULL, NULL, NULL }
};

/* Earlier names, still understood: the first word OLD is NEW. */
static const struct {
	const char	*old;
	const char	*new;
} aliases[] = {
	{ "endpoint",	"endpoints" },
	{ "log-level",	"log level" },
};

static const struct cmd	*cur;		/* the command running */
static char		 cur_typed[64];	/* its name as typed, for messages */
static char		*sockpath;	/* -s, or the default */
static int		 json_out;	/* --json */
static volatile sig_atomic_t stop;	/* watch: SIGINT or SIGTERM */
static volatile sig_atomic_t watch_fd = -1;	/* watch's connection */

#define OPT_JSON	0x100
#define OPT_ERROR	0x101

static void
usage(FILE *f)
{
	const struct cmd	*c;
	char			 left[160];
	const char		*p;
	size_t			 i, n;
	int			 col;

	fprintf(f,
"usage: ttsaccelctl [-s SOCKET] [--json] COMMAND [ARGS]\n"
"       ttsaccelctl --help | --version\n"
"\n"
"Inspect and steer a running ttsaccel daemon over its admin socket.\n"
"\n"
"  -s, --socket PATH  the daemon's admin socket (default: $TTSACCEL_SOCKET,\n"
"                     else $XDG_RUNTIME_DIR/ttsaccel.sock, else\n"
"                     /run/ttsaccel/ttsaccel.sock for root, else\n"
"                     ttsaccel.sock in $TMPDIR/ttsaccel-UID)\n"
"  --json             print the daemon's data as one line of JSON (watch:\n"
"                     the event lines as they come)\n"
"  -h, --help         this help\n"
"  -V, --version      print the version\n"
"\n"
"Commands:\n");
	for (c = cmds; c->name != NULL; c++) {
		snprintf(left, sizeof left, "%s%s%s", c->name,
		    *c->args != '\0' ? " " : "", c->args);
		if (strlen(left) <= 26) {
			fprintf(f, "  %-26s %s\n", left, c->help);
			continue;
		}
		/* Long arguments: on lines of their own, under the name. */
		for (p = left, col = 2; *p != '\0'; p += n) {
			n = strcspn(p + 1, " ") + 1;
			if (col + n > 78 && p != left) {
				col = fprintf(f, "\n%*s", (int)strlen(c->name) +
				    2, "") - 1;
				p++;
				n--;
			}
			col += fprintf(f, "%s%.*s", p == left ? "  " : "",
			    (int)n, p);
		}
		fprintf(f, "\n  %-26s %s\n", "", c->help);
	}
	fprintf(f, "\nEarlier names still work:");
	for (i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
		fprintf(f, "%s %s for %s", i > 0 ? "," : "", aliases[i].old,
		    aliases[i].new);
	fprintf(f, ".\n\nExit status: 0 success, 1 failure, 2 usage error.\n");
}

/* A failure: "ttsaccelctl: reason" on stderr; returns 1. */
static int __attribute__((format(printf, 1, 2)))
fail(const char *fmt, ...)
{
	va_list	ap;

	fputs("ttsaccelctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

/* A usage error in the current command: the reason and its usage line;
 * returns 2. */
static int __attribute__((format(printf, 1, 2)))
usage_error(const char *fmt, ...)
{
	va_list	ap;

	fputs("ttsaccelctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (cur != NULL)
		fprintf(stderr, "usage: ttsaccelctl [-s SOCKET] [--json] "
		    "%s%s%s\n", cur->name, *cur->args != '\0' ? " " : "",
		    cur->args);
	else
		fprintf(stderr, "usage: ttsaccelctl [-s SOCKET] [--json] "
		    "COMMAND [ARGS] (see ttsaccelctl --help)\n");
	return USAGE;
}

/*
 * The next option of the current command (getopt_long with --json added
 * and reported here): the option's character, -1 at the end, or OPT_ERROR
 * after a usage message.  Operands may come before options.
 */
static int
opt_next(int argc, char **argv, const char *sopts, const struct option *lopts)
{
	static const struct option	 none[] = { { NULL, 0, NULL, 0 } };
	struct option			 all[16];
	char				 shorts[32];
	size_t				 n = 0;
	int				 ch;

	if (lopts == NULL)
		lopts = none;
	for (; lopts[n].name != NULL && n < 14; n++)
		all[n] = lopts[n];
	all[n++] = (struct option){ "json", no_argument, NULL, OPT_JSON };
	all[n] = (struct option){ NULL, 0, NULL, 0 };
	snprintf(shorts, sizeof shorts, ":%s", sopts);
	opterr = 0;
	for (;;) {
		ch = getopt_long(argc, argv, shorts, all, NULL);
		if (ch == OPT_JSON) {
			json_out = 1;
			continue;
		}
		if (ch == '?') {
			if (optopt != 0)
				usage_error("unknown option -%c", optopt);
			else
				usage_error("unknown option %s",
				    argv[optind - 1]);
			return OPT_ERROR;
		}
		if (ch == ':') {
			usage_error("option %s needs a value",
			    argv[optind - 1]);
			return OPT_ERROR;
		}
		return ch;
	}
}

/* Parse a command that takes no option but --json and exactly nargs
 * operands: 0, or 2 after a usage message. */
static int
plain_args(int argc, char **argv, int nargs)
{
	int	ch;

	optind = 0;
	while ((ch = opt_next(argc, argv, "", NULL)) != -1)
		if (ch == OPT_ERROR)
			return USAGE;
	if (argc - optind < nargs)
		return usage_error("%s needs %s", cur_typed, cur->args);
	if (argc - optind > nargs)
		return usage_error("unexpected argument '%s'",
		    argv[optind + nargs]);
	return 0;
}

/* Send one request to the daemon: its data, or NULL after printing why. */
static cJSON *
call(const char *cmd, cJSON *args)
{
	cJSON	*data;
	char	*cause = NULL;

	if ((data = admin_call(sockpath, cmd, args, &cause)) == NULL) {
		fail("%s", cause);
		free(cause);
	}
	return data;
}

/* Print data as one line of JSON. */
static int
print_json(const cJSON *data)
{
	char	*s;

	if ((s = cJSON_PrintUnformatted(data)) == NULL)
		return fail("cannot print the reply as JSON");
	puts(s);
	free(s);
	return 0;
}

/* A member of an object, or NULL. */
static cJSON *
get(const cJSON *obj, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(obj, key);
}

/* A string member, or def. */
static const char *
str(const cJSON *obj, const char *key, const char *def)
{
	const cJSON	*v = get(obj, key);

	return cJSON_IsString(v) ? v->valuestring : def;
}

/* A number member into buf ("-" when absent): whole numbers as such. */
static const char *
num(const cJSON *obj, const char *key, char *buf, size_t len)
{
	const cJSON	*v = get(obj, key);
	double		 d;

	if (cJSON_IsBool(v))
		snprintf(buf, len, "%s", cJSON_IsTrue(v) ? "yes" : "no");
	else if (!cJSON_IsNumber(v))
		snprintf(buf, len, "-");
	else {
		d = v->valuedouble;
		if (d == floor(d) && fabs(d) < 1e15)
			snprintf(buf, len, "%.0f", d);
		else
			snprintf(buf, len, "%g", d);
	}
	return buf;
}

/* Bytes as B, KiB, MiB or GiB. */
static const char *
fmt_size(double b, char *buf, size_t len)
{
	if (b < 1024)
		snprintf(buf, len, "%.0f B", b);
	else if (b < 1024.0 * 1024)
		snprintf(buf, len, "%.1f KiB", b / 1024);
	else if (b < 1024.0 * 1024 * 1024)
		snprintf(buf, len, "%.1f MiB", b / (1024.0 * 1024));
	else
		snprintf(buf, len, "%.1f GiB", b / (1024.0 * 1024 * 1024));
	return buf;
}

/* A size member, or "-". */
static const char *
size_of(const cJSON *obj, const char *key, char *buf, size_t len)
{
	const cJSON	*v = get(obj, key);

	if (!cJSON_IsNumber(v)) {
		snprintf(buf, len, "-");
		return buf;
	}
	return fmt_size(v->valuedouble, buf, len);
}

/* Seconds as "42s", "3m 02s", "5h 07m", "2d 03h". */
static const char *
fmt_duration(double s, char *buf, size_t len)
{
	long long	t = s < 0 ? 0 : (long long)s;

	if (t < 60)
		snprintf(buf, len, "%llds", t);
	else if (t < 3600)
		snprintf(buf, len, "%lldm %02llds", t / 60, t % 60);
	else if (t < 86400)
		snprintf(buf, len, "%lldh %02lldm", t / 3600, t / 60 % 60);
	else
		snprintf(buf, len, "%lldd %02lldh", t / 86400, t / 3600 % 24);
	return buf;
}

/* Milliseconds, or "-" when absent or not yet measured. */
static const char *
ms_of(const cJSON *obj, const char *key, char *buf, size_t len)
{
	const cJSON	*v = get(obj, key);

	if (!cJSON_IsNumber(v) || v->valuedouble <= 0)
		snprintf(buf, len, "-");
	else if (v->valuedouble < 10)
		snprintf(buf, len, "%.1f ms", v->valuedouble);
	else
		snprintf(buf, len, "%.0f ms", v->valuedouble);
	return buf;
}

/* A text for one line: control characters as spaces, at most cols code
 * points (then "..."), quoted when quote is set.  Allocated. */
static char *
fmt_text(const char *s, size_t cols, int quote)
{
	char	*out;
	size_t	 i, o = 0, cps = 0, len = strlen(s);

	out = xmalloc(len + 6);
	if (quote)
		out[o++] = '"';
	for (i = 0; i < len; i++) {
		unsigned char	c = (unsigned char)s[i];

		if ((c & 0xc0) != 0x80 && cps++ == cols) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		out[o++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
	}
	if (quote)
		out[o++] = '"';
	out[o] = '\0';
	return out;
}

/* Display width of a UTF-8 string (code points). */
static size_t
width(const char *s)
{
	size_t	n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

/* A table: a header row, rows of cells, printed aligned ('r' columns to
 * the right) with the last column unpadded. */
struct table {
	size_t		  ncols;
	size_t		  ncells;
	char		**cells;
	const char	 *align;
};

static void
table_add(struct table *t, ...)
{
	va_list		 ap;
	const char	*s;
	size_t		 i;

	t->cells = xreallocarray(t->cells, t->ncells + t->ncols,
	    sizeof *t->cells);
	va_start(ap, t);
	for (i = 0; i < t->ncols; i++) {
		s = va_arg(ap, const char *);
		t->cells[t->ncells++] = xstrdup(s != NULL ? s : "-");
	}
	va_end(ap);
}

static void
table_print(struct table *t)
{
	size_t	*w, i, c, pad;

	w = xcalloc(t->ncols, sizeof *w);
	for (i = 0; i < t->ncells; i++)
		if (width(t->cells[i]) > w[i % t->ncols])
			w[i % t->ncols] = width(t->cells[i]);
	for (i = 0; i < t->ncells; i++) {
		c = i % t->ncols;
		pad = w[c] - width(t->cells[i]);
		if (t->align[c] == 'r')
			printf("%*s%s", (int)pad, "", t->cells[i]);
		else if (c + 1 < t->ncols)
			printf("%s%*s", t->cells[i], (int)pad, "");
		else
			printf("%s", t->cells[i]);
		fputs(c + 1 < t->ncols ? "  " : "\n", stdout);
	}
	for (i = 0; i < t->ncells; i++)
		free(t->cells[i]);
	free(t->cells);
	free(w);
}

/* Labelled values, printed "Label : value" with the labels aligned. */
struct kv {
	size_t	  n;
	char	**label;
	char	**value;
};

static void
kv_add(struct kv *kv, const char *label, const char *fmt, ...)
{
	va_list	ap;
	char	buf[512];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	kv->label = xreallocarray(kv->label, kv->n + 1, sizeof *kv->label);
	kv->value = xreallocarray(kv->value, kv->n + 1, sizeof *kv->value);
	kv->label[kv->n] = xstrdup(label);
	kv->value[kv->n++] = xstrdup(buf);
}

static void
kv_print(struct kv *kv)
{
	size_t	i, w = 0;

	for (i = 0; i < kv->n; i++)
		if (strlen(kv->label[i]) > w)
			w = strlen(kv->label[i]);
	for (i = 0; i < kv->n; i++) {
		printf("%-*s : %s\n", (int)w, kv->label[i], kv->value[i]);
		free(kv->label[i]);
		free(kv->value[i]);
	}
	free(kv->label);
	free(kv->value);
	kv->n = 0;
	kv->label = kv->value = NULL;
}

/* The endpoints as a table. */
static void
print_endpoints(const cJSON *eps)
{
	struct table	 t = { 7, 0, NULL, "llrrrrr" };
	const cJSON	*ep;
	char		 inflight[64], a[32], b[32], w[32], lat[32], done[32];
	char		 errs[32];

	if (cJSON_GetArraySize(eps) == 0) {
		printf("no endpoints\n");
		return;
	}
	table_add(&t, "URL", "STATE", "IN FLIGHT", "WEIGHT", "LATENCY",
	    "DONE", "ERRORS");
	cJSON_ArrayForEach(ep, eps) {
		snprintf(inflight, sizeof inflight, "%s/%s",
		    num(ep, "in_flight", a, sizeof a), num(ep, "max", b,
		    sizeof b));
		table_add(&t, str(ep, "url", "?"), str(ep, "state", "?"),
		    inflight, num(ep, "weight", w, sizeof w),
		    ms_of(ep, "latency_ms", lat, sizeof lat),
		    num(ep, "done", done, sizeof done),
		    num(ep, "errors", errs, sizeof errs));
	}
	table_print(&t);
}

/* "Synthesis failures" from "synthesis_failures". */
static void
label_of(const char *key, char *buf, size_t len)
{
	size_t	i;

	snprintf(buf, len, "%s", key);
	for (i = 0; buf[i] != '\0'; i++)
		if (buf[i] == '_')
			buf[i] = ' ';
	if (buf[0] >= 'a' && buf[0] <= 'z')
		buf[0] = (char)(buf[0] - 'a' + 'A');
}

/* Speech requests by how they were served, and the share answered
 * without a new synthesis (all but misses). */
static void
print_served(const cJSON *sv)
{
	static const char *const kinds[][2] = {
		{ "exact", "Exact" }, { "assembled", "Assembled" },
		{ "partial", "Partial" }, { "converted", "Converted" },
		{ "empty", "Nothing to say" }, { "miss", "Missed" },
	};
	struct kv	 kv = { 0, NULL, NULL };
	const cJSON	*v;
	double		 total = 0, miss = 0;
	char		 a[64];
	size_t		 i;

	for (i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
		if (cJSON_IsNumber(v = get(sv, kinds[i][0]))) {
			total += v->valuedouble;
			if (strcmp(kinds[i][0], "miss") == 0)
				miss = v->valuedouble;
		}
	printf("\n");
	if (total > 0)
		kv_add(&kv, "Speech served", "%.0f, %.1f%% without a new "
		    "synthesis", total, 100 * (total - miss) / total);
	else
		kv_add(&kv, "Speech served", "0");
	for (i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
		kv_add(&kv, kinds[i][1], "%s", num(sv, kinds[i][0], a,
		    sizeof a));
	kv_print(&kv);
}

/* The shared tier (Redis), when the daemon has one. */
static void
print_shared(const cJSON *sh)
{
	static const char *const counters[][2] = {
		{ "hits", "Shared hits" }, { "misses", "Shared misses" },
		{ "locks_won", "Locks won" }, { "locks_waited", "Locks waited" },
		{ "takeovers", "Takeovers" }, { "stored", "Stored" },
		{ "foreign", "Foreign values" }, { "fallbacks", "Fallbacks" },
		{ "errors", "Redis errors" }, { "reconnects", "Reconnects" },
		{ "following", "Following now" },
	};
	struct kv	 kv = { 0, NULL, NULL };
	const cJSON	*v;
	char		 a[64];
	size_t		 i;

	printf("\n");
	v = get(sh, "state_s");
	kv_add(&kv, "Shared tier", "%s for %s", str(sh, "state", "-"),
	    cJSON_IsNumber(v) ? fmt_duration(v->valuedouble, a, sizeof a) :
	    "-");
	if (get(sh, "error") != NULL)
		kv_add(&kv, "Last error", "%s", str(sh, "error", "-"));
	kv_add(&kv, "Redis", "%s, prefix %s", str(sh, "redis", "-"),
	    str(sh, "prefix", "-"));
	for (i = 0; i < sizeof counters / sizeof counters[0]; i++)
		kv_add(&kv, counters[i][1], "%s",
		    num(sh, counters[i][0], a, sizeof a));
	kv_print(&kv);
}

static void
print_stats(const cJSON *d)
{
	static const char *const general[][2] = {
		{ "requests", "Requests" }, { "chats", "Chats" },
		{ "streams", "Streams" }, { "replies", "Replies" },
		{ "watchers", "Watchers" },
		{ "upstream_errors", "Upstream errors" },
	};
	static const char *const counters[][2] = {
		{ "hits", "Hits" }, { "misses", "Misses" },
		{ "in_flight", "In flight" }, { "queued", "Queued" },
		{ "syntheses", "Syntheses" },
		{ "synthesis_failures", "Synthesis failures" },
		{ "retries", "Retries" }, { "cancelled", "Cancelled" },
		{ "evictions", "Evictions" },
		{ "expirations", "Expirations" },
	};
	static const char *const shown[] = { "entries", "size", "max_size",
	    "bytes", "max_bytes", "hit_rate", "ttl" };
	struct kv	 kv = { 0, NULL, NULL };
	const cJSON	*cache, *v;
	char		 a[64], b[64], label[64];
	double		 hits, misses;
	size_t		 i;
	int		 known;

	kv_add(&kv, "Version", "%s", str(d, "version", "-"));
	v = get(d, "uptime_s");
	kv_add(&kv, "Uptime", "%s", cJSON_IsNumber(v) ?
	    fmt_duration(v->valuedouble, a, sizeof a) : "-");
	v = get(d, "usable");
	kv_add(&kv, "Usable", "%s", cJSON_IsTrue(v) ? "yes" : "no");
	for (i = 0; i < sizeof general / sizeof general[0]; i++)
		kv_add(&kv, general[i][1], "%s",
		    num(d, general[i][0], a, sizeof a));
	kv_print(&kv);

	if (cJSON_IsObject(cache = get(d, "cache"))) {
		printf("\n");
		kv_add(&kv, "Cache entries", "%s of %s",
		    num(cache, "entries", a, sizeof a),
		    num(cache, "max_size", b, sizeof b));
		kv_add(&kv, "Cache bytes", "%s of %s",
		    size_of(cache, "bytes", a, sizeof a),
		    size_of(cache, "max_bytes", b, sizeof b));
		v = get(cache, "hits");
		hits = cJSON_IsNumber(v) ? v->valuedouble : 0;
		v = get(cache, "misses");
		misses = cJSON_IsNumber(v) ? v->valuedouble : 0;
		if (hits + misses > 0)
			kv_add(&kv, "Hit rate", "%.1f%%",
			    100 * hits / (hits + misses));
		else
			kv_add(&kv, "Hit rate", "-");
		for (i = 0; i < sizeof counters / sizeof counters[0]; i++)
			kv_add(&kv, counters[i][1], "%s",
			    num(cache, counters[i][0], a, sizeof a));
		if (cJSON_IsNumber(v = get(cache, "ttl")))
			kv_add(&kv, "Entry lifetime", "%s",
			    fmt_duration(v->valuedouble, a, sizeof a));
		/* Figures this version does not know, as they come. */
		cJSON_ArrayForEach(v, cache) {
			known = 0;
			for (i = 0; i < sizeof counters / sizeof counters[0];
			    i++)
				known |= strcmp(v->string, counters[i][0]) == 0;
			for (i = 0; i < sizeof shown / sizeof shown[0]; i++)
				known |= strcmp(v->string, shown[i]) == 0;
			if (known || !(cJSON_IsNumber(v) || cJSON_IsBool(v)))
				continue;
			label_of(v->string, label, sizeof label);
			kv_add(&kv, label, "%s", num(cache, v->string, a,
			    sizeof a));
		}
		kv_print(&kv);
	}
	if (cJSON_IsObject(v = get(d, "served")))
		print_served(v);
	if (cJSON_IsObject(v = get(d, "shared")))
		print_shared(v);
	if (cJSON_IsArray(v = get(d, "endpoints"))) {
		printf("\n");
		print_endpoints(v);
	}
}

static int
cmd_stats(int argc, char **argv)
{
	cJSON	*d;
	int	 rc;

	if ((rc = plain_args(argc, argv, 0)) != 0)
		return rc;
	if ((d = call(ADMIN_CMD_STATS, NULL)) == NULL)
		return 1;
	if (json_out)
		rc = print_json(d);
	else if (!cJSON_IsObject(d))
		rc = fail("the daemon's stats are not an object");
	else
		print_stats(d);
	cJSON_Delete(d);
	return rc;
}

/* The upstream's state as the daemon knows it, on one line. */
static void
print_upstream(const cJSON *u)
{
	const char	*state = str(u, "state", "unknown");
	const cJSON	*v;

	printf("upstream: %s", state);
	if (strcmp(state, "up") == 0 &&
	    cJSON_IsNumber(v = get(u, "answered_seconds_ago")))
		printf(" (answered %.1f s ago, HTTP %.0f)", v->valuedouble,
		    cJSON_IsNumber(get(u, "status")) ?
		    get(u, "status")->valuedouble : 0.0);
	else if (strcmp(state, "unknown") == 0)
		printf(" (not asked yet)");
	else if (cJSON_IsString(get(u, "error")) &&
	    cJSON_IsNumber(v = get(u, "error_seconds_ago")))
		printf(": %s (%.1f s ago)", str(u, "error", ""),
		    v->valuedouble);
	printf("\n");
}

static int
cmd_health(int argc, char **argv)
{
	cJSON		*d, *out, *upstream;
	const cJSON	*ep;
	int		 rc, usable, up = 0, total = 0;

	if ((rc = plain_args(argc, argv, 0)) != 0)
		return rc;
	if ((d = call(ADMIN_CMD_STATS, NULL)) == NULL)
		return 1;
	usable = cJSON_IsTrue(get(d, "usable"));
	cJSON_ArrayForEach(ep, get(d, "endpoints")) {
		total++;
		up += strcmp(str(ep, "state", ""), "up") == 0;
	}
	upstream = cJSON_DetachItemFromObjectCaseSensitive(d, "upstream");
	if (upstream == NULL)
		upstream = cJSON_CreateObject();
	cJSON_Delete(d);
	if (json_out) {
		out = cJSON_CreateObject();
		cJSON_AddBoolToObject(out, "usable", usable);
		cJSON_AddNumberToObject(out, "endpoints_up", up);
		cJSON_AddNumberToObject(out, "endpoints", total);
		cJSON_AddItemToObject(out, "upstream", upstream);
		rc = print_json(out);
		cJSON_Delete(out);
		if (rc != 0)
			return rc;
	} else {
		if (usable)
			printf("ttsaccel can serve: %d of %d endpoint%s up\n",
			    up, total, total == 1 ? "" : "s");
		/* Said either way; the exit status is speech's alone. */
		print_upstream(upstream);
		cJSON_Delete(upstream);
	}
	if (!usable)
		return fail("ttsaccel cannot serve: %d of %d endpoint%s up",
		    up, total, total == 1 ? "" : "s");
	return 0;
}

static int
cmd_cache_clear(int argc, char **argv)
{
	static const struct option	 lopts[] = {
		{ "shared", no_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 }
	};
	cJSON	*d, *args = NULL;
	char	 a[32], b[32];
	int	 ch, shared = 0, rc = 0;

	optind = 0;
	while ((ch = opt_next(argc, argv, "", lopts)) != -1) {
		if (ch != 'S')
			return USAGE;
		shared = 1;
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (shared) {
		args = cJSON_CreateObject();
		cJSON_AddTrueToObject(args, "shared");
	}
	if ((d = call(ADMIN_CMD_CACHE_CLEAR, args)) == NULL)
		return 1;
	if (json_out)
		rc = print_json(d);
	else {
		printf("removed %s cache entr%s", num(d, "removed", a,
		    sizeof a), strcmp(a, "1") == 0 ? "y" : "ies");
		if (get(d, "shared_removed") != NULL)
			printf(", and %s key%s from Redis", num(d,
			    "shared_removed", b, sizeof b), strcmp(b, "1") ==
			    0 ? "" : "s");
		printf("\n");
	}
	cJSON_Delete(d);
	return rc;
}

static int
cmd_cache_list(int argc, char **argv)
{
	struct table	 t = { 6, 0, NULL, "rrrlll" };
	const char	*errstr;
	cJSON		*d, *args;
	const cJSON	*e, *age;
	long long	 limit = LIST_DEFAULT;
	char		 a[32], h[32], sz[32], *text;
	int		 ch, rc = 0;

	optind = 0;
	while ((ch = opt_next(argc, argv, "n:", NULL)) != -1) {
		switch (ch) {
		case 'n':
			if (parse_ll(optarg, 1, 1000000, &limit, &errstr) != 0)
				return usage_error("-n %s: %s (1 to 1000000)",
				    optarg, errstr);
			break;
		default:
			return USAGE;
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	args = cJSON_CreateObject();
	cJSON_AddNumberToObject(args, "limit", (double)limit);
	if ((d = call(ADMIN_CMD_CACHE_LIST, args)) == NULL)
		return 1;
	if (json_out)
		rc = print_json(d);
	else if (!cJSON_IsArray(d))
		rc = fail("the daemon's cache list is not an array");
	else if (cJSON_GetArraySize(d) == 0)
		printf("the cache is empty\n");
	else {
		table_add(&t, "AGE", "HITS", "SIZE", "STATE", "KEY", "TEXT");
		cJSON_ArrayForEach(e, d) {
			age = get(e, "age_s");
			text = fmt_text(str(e, "text", ""), TEXT_COLS, 1);
			table_add(&t, cJSON_IsNumber(age) ? fmt_duration(
			    age->valuedouble, a, sizeof a) : "-",
			    num(e, "hits", h, sizeof h),
			    size_of(e, "bytes", sz, sizeof sz),
			    str(e, "state", "-"), str(e, "key", "-"), text);
			free(text);
		}
		table_print(&t);
	}
	cJSON_Delete(d);
	return rc;
}

static int
cmd_endpoints_list(int argc, char **argv)
{
	static const struct option	 lopts[] = {
		{ "names", no_argument, NULL, 'N' },
		{ NULL, 0, NULL, 0 }
	};
	const cJSON	*ep;
	cJSON		*d;
	int		 ch, names = 0, rc = 0;

	optind = 0;
	while ((ch = opt_next(argc, argv, "", lopts)) != -1) {
		if (ch != 'N')
			return USAGE;
		names = 1;
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if ((d = call(ADMIN_CMD_ENDPOINTS_LIST, NULL)) == NULL)
		return 1;
	if (!cJSON_IsArray(d))
		rc = fail("the daemon's endpoint list is not an array");
	else if (names) {
		cJSON_ArrayForEach(ep, d)
			if (cJSON_IsString(get(ep, "url")))
				printf("%s\n", str(ep, "url", ""));
	} else if (json_out)
		rc = print_json(d);
	else
		print_endpoints(d);
	cJSON_Delete(d);
	return rc;
}

static int
cmd_endpoints_add(int argc, char **argv)
{
	static const struct option	 lopts[] = {
		{ "max", required_argument, NULL, 'm' },
		{ "weight", required_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*errstr = NULL;
	long long	 max = 0;
	double		 weight = 0;
	cJSON		*d, *args;
	int		 ch, rc = 0;

	optind = 0;
	while ((ch = opt_next(argc, argv, "", lopts)) != -1) {
		switch (ch) {
		case 'm':
			if (parse_ll(optarg, 1, 1000000, &max, &errstr) != 0)
				return usage_error("--max %s: %s (1 to "
				    "1000000)", optarg, errstr);
			break;
		case 'w':
			if (parse_double(optarg, 0, 1e6, &weight, &errstr)
			    != 0 || weight <= 0)
				return usage_error("--weight %s: %s (more "
				    "than 0, at most 1000000)", optarg,
				    weight <= 0 && errstr == NULL ?
				    "is out of range" : errstr);
			break;
		default:
			return USAGE;
		}
	}
	if (argc - optind < 1)
		return usage_error("%s needs a URL", cur_typed);
	if (argc - optind > 1)
		return usage_error("unexpected argument '%s'",
		    argv[optind + 1]);
	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "url", argv[optind]);
	if (max != 0)
		cJSON_AddNumberToObject(args, "max", (double)max);
	if (weight != 0)
		cJSON_AddNumberToObject(args, "weight", weight);
	if ((d = call(ADMIN_CMD_ENDPOINTS_ADD, args)) == NULL)
		return 1;
	if (json_out)
		rc = print_json(d);
	else
		printf("added %s\n", str(d, "url", argv[optind]));
	cJSON_Delete(d);
	return rc;
}

/* endpoints drain and endpoints remove: one URL. */
static int
endpoints_one(int argc, char **argv, const char *cmd)
{
	const char	*state, *note, *url;
	cJSON		*d, *args;
	int		 rc;

	if ((rc = plain_args(argc, argv, 1)) != 0)
		return rc;
	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "url", argv[optind]);
	if ((d = call(cmd, args)) == NULL)
		return 1;
	if (json_out)
		rc = print_json(d);
	else {
		url = str(d, "url", argv[optind]);
		state = str(d, "state", "");
		note = str(d, "note", NULL);
		if (strcmp(state, "removed") == 0)
			printf("removed %s\n", url);
		else if (strcmp(state, "draining") == 0)
			printf("draining %s%s%s\n", url, note != NULL ?
			    ": " : " (it leaves when idle)", note != NULL ?
			    note : "");
		else
			printf("%s: %s\n", url, state);
	}
	cJSON_Delete(d);
	return rc;
}

static int
cmd_endpoints_drain(int argc, char **argv)
{
	return endpoints_one(argc, argv, ADMIN_CMD_ENDPOINTS_DRAIN);
}

static int
cmd_endpoints_remove(int argc, char **argv)
{
	return endpoints_one(argc, argv, ADMIN_CMD_ENDPOINTS_REMOVE);
}

static int
cmd_reload(int argc, char **argv)
{
	const cJSON	*eps;
	cJSON		*d;
	int		 rc;

	if ((rc = plain_args(argc, argv, 0)) != 0)
		return rc;
	if ((d = call(ADMIN_CMD_RELOAD, NULL)) == NULL)
		return 1;
	if (json_out)
		rc = print_json(d);
	else {
		printf("reloaded the configuration\n");
		if (cJSON_IsArray(eps = get(d, "endpoints"))) {
			printf("\n");
			print_endpoints(eps);
		}
	}
	cJSON_Delete(d);
	return rc;
}

static int
cmd_log_level(int argc, char **argv)
{
	cJSON	*d, *args;
	int	 rc;

	if ((rc = plain_args(argc, argv, 1)) != 0)
		return rc;
	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "level", argv[optind]);
	if ((d = call(ADMIN_CMD_LOG_LEVEL, args)) == NULL)
		return 1;
	if (json_out)
		rc = print_json(d);
	else
		printf("log level %s\n", str(d, "level", argv[optind]));
	cJSON_Delete(d);
	return rc;
}

static int
cmd_replies_cancel(int argc, char **argv)
{
	cJSON	*d, *args;
	int	 rc;

	if ((rc = plain_args(argc, argv, 1)) != 0)
		return rc;
	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "id", argv[optind]);
	if ((d = call(ADMIN_CMD_REPLIES_CANCEL, args)) == NULL)
		return 1;
	if (json_out)
		rc = print_json(d);
	else if (cJSON_IsTrue(get(d, "cancelled_now")))
		printf("cancelled %s\n", str(d, "id", argv[optind]));
	else if (cJSON_IsTrue(get(d, "cancelled")))
		printf("%s was cancelled already\n", str(d, "id",
		    argv[optind]));
	else
		printf("%s is %s: nothing to cancel\n", str(d, "id",
		    argv[optind]), str(d, "state", "complete"));
	cJSON_Delete(d);
	return rc;
}

/* Stop watching: poll, or the next one, sees the end of the connection
 * (a signal between the check of stop and poll is not lost). */
static void
watch_signal_cb(int sig)
{
	int	saved = errno;

	stop = 1;
	if (watch_fd != -1)
		shutdown(watch_fd, SHUT_RD);
	errno = saved;
}

/* One event as a line: time, type, and its data. */
static void
print_event(const cJSON *ev)
{
	const cJSON	*d = get(ev, "data"), *t = get(ev, "t");
	const char	*type = str(ev, "event", "?"), *reason;
	char		 when[32], a[32], b[32], *text, *rest;
	struct tm	 tm;
	time_t		 secs;
	double		 ms;

	if (cJSON_IsNumber(t)) {
		ms = t->valuedouble;
		secs = (time_t)(ms / 1000);
		localtime_r(&secs, &tm);
		strftime(when, sizeof when, "%H:%M:%S", &tm);
		snprintf(when + strlen(when), sizeof when - strlen(when),
		    ".%03d", (int)fmod(ms, 1000));
	} else
		snprintf(when, sizeof when, "--:--:--.---");
	text = fmt_text(str(d, "text", ""), TEXT_COLS, 1);
	printf("%s %-16s ", when, type);
	if (strcmp(type, "segment.queued") == 0)
		printf("reply %s #%s %s %s\n", str(d, "reply", "-"),
		    num(d, "index", a, sizeof a), str(d, "key", "-"), text);
	else if (strcmp(type, "segment.started") == 0)
		printf("%s on %s %s\n", str(d, "key", "-"),
		    str(d, "endpoint", "-"), text);
	else if (strcmp(type, "segment.done") == 0)
		printf("%s on %s in %s, %s %s\n", str(d, "key", "-"),
		    str(d, "endpoint", "-"), ms_of(d, "ms", a, sizeof a),
		    size_of(d, "bytes", b, sizeof b), text);
	else if (strcmp(type, "segment.failed") == 0)
		printf("%s on %s: %s %s\n", str(d, "key", "-"),
		    str(d, "endpoint", "-"), str(d, "error", "failed"), text);
	else if (strcmp(type, "endpoint.state") == 0) {
		reason = str(d, "reason", NULL);
		printf("%s %s -> %s%s%s%s\n", str(d, "url", "-"),
		    str(d, "from", "?"), str(d, "state", "?"),
		    reason != NULL ? " (" : "", reason != NULL ? reason : "",
		    reason != NULL ? ")" : "");
	} else {
		rest = d != NULL ? cJSON_PrintUnformatted(d) : NULL;
		printf("%s\n", rest != NULL ? rest : "");
		free(rest);
	}
	free(text);
}

static int
cmd_watch(int argc, char **argv)
{
	struct sigaction	 sa;
	struct admin		*a = NULL;
	cJSON			*line = NULL, *d;
	char			*cause = NULL;
	int			 rc, n;

	if ((rc = plain_args(argc, argv, 0)) != 0)
		return rc;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = watch_signal_cb;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;	/* no SA_RESTART: poll returns EINTR */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	rc = 1;
	if ((a = admin_open(sockpath, &cause)) == NULL)
		goto out;
	watch_fd = admin_fd(a);
	if (stop)
		goto out;
	if (admin_send(a, ADMIN_CMD_WATCH, NULL, &cause) != 0)
		goto out;
	n = admin_recv(a, ADMIN_TIMEOUT_MS, &line, &cause);
	if (n == 0)
		cause = xasprintf("the daemon at %s closed the connection "
		    "without replying", sockpath);
	if (n != 1)
		goto out;
	if ((d = admin_reply_data(a, line, &cause)) == NULL)
		goto out;
	cJSON_Delete(d);
	for (;;) {
		n = admin_recv(a, -1, &line, &cause);
		if (n == 0) {
			cause = xasprintf("the daemon at %s closed the "
			    "connection", sockpath);
			goto out;
		}
		if (n == -1)
			goto out;
		if (json_out)
			print_json(line);
		else
			print_event(line);
		cJSON_Delete(line);
		if (fflush(stdout) != 0 || ferror(stdout)) {
			cause = xasprintf("standard output: %s",
			    strerror(errno));
			goto out;
		}
		if (stop)
			break;
	}
out:
	watch_fd = -1;
	if (stop) {
		free(cause);
		cause = NULL;
		rc = 0;
	}
	if (cause != NULL)
		fail("%s", cause);
	free(cause);
	admin_close(a);
	return rc;
}

/* The command named by the first words of argv (or their earlier name):
 * *used is how many words it took; NULL after a usage message. */
static const struct cmd *
cmd_find(int argc, char **argv, int *used)
{
	const struct cmd	*c;
	const char		*sp, *word = argv[0];
	size_t			 i, len;
	int			 group = 0;
	char			 subs[256];

	for (i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
		if (strcmp(argv[0], aliases[i].old) == 0) {
			word = aliases[i].new;
			break;
		}
	subs[0] = '\0';
	for (c = cmds; c->name != NULL; c++) {
		/* A whole name: one word, or two an alias stands for. */
		if ((word != argv[0] || strchr(c->name, ' ') == NULL) &&
		    strcmp(word, c->name) == 0) {
			*used = 1;
			snprintf(cur_typed, sizeof cur_typed, "%s", argv[0]);
			return c;
		}
		if ((sp = strchr(c->name, ' ')) == NULL)
			continue;
		len = (size_t)(sp - c->name);
		if (strlen(word) != len || strncmp(word, c->name, len) != 0)
			continue;
		group = 1;
		if (argc > 1 && strcmp(argv[1], sp + 1) == 0) {
			*used = 2;
			snprintf(cur_typed, sizeof cur_typed, "%s %s", argv[0],
			    argv[1]);
			return c;
		}
		snprintf(subs + strlen(subs), sizeof subs - strlen(subs),
		    "%s%s", subs[0] != '\0' ? ", " : "", sp + 1);
	}
	if (!group)
		usage_error("unknown command '%s'", argv[0]);
	else if (argc > 1)
		usage_error("unknown %s command '%s' (one of: %s)", argv[0],
		    argv[1], subs);
	else
		usage_error("%s needs a command: one of %s", argv[0], subs);
	return NULL;
}

int
main(int argc, char **argv)
{
	static const struct option	 lopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ NULL, 0, NULL, 0 }
	};
	cJSON_Hooks	 hooks = { xmalloc, free };
	const char	*sopt = NULL;
	int		 ch, used, rc;

	cJSON_InitHooks(&hooks);
	if (argc < 2) {
		usage(stderr);
		return USAGE;
	}
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+:hVs:", lopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("ttsaccelctl %s\n", TTSACCEL_VERSION);
			return 0;
		case 's':
			if (*optarg == '\0')
				return usage_error("-s needs a path");
			sopt = optarg;
			break;
		case OPT_JSON:
			json_out = 1;
			break;
		case ':':
			return usage_error("option %s needs a value",
			    argv[optind - 1]);
		default:
			if (optopt != 0)
				return usage_error("unknown option -%c",
				    optopt);
			return usage_error("unknown option %s",
			    argv[optind - 1]);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0)
		return usage_error("no command");
	if ((cur = cmd_find(argc, argv, &used)) == NULL)
		return USAGE;
	sockpath = sopt != NULL ? xstrdup(sopt) : admin_default_path();
	rc = cur->fn(argc - used + 1, argv + used - 1);
	free(sockpath);
	if (fflush(stdout) != 0 && rc == 0)
		rc = fail("standard output: %s", strerror(errno));
	return rc;
}
