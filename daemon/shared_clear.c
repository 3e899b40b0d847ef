/*
 * shared_clear: every key under REDIS_PREFIX removed (SCAN MATCH, then
 * UNLINK of each batch), for `ttsaccelctl cache clear --shared`.
 */
#include <hiredis/hiredis.h>

#include <stdlib.h>
#include <string.h>

#include "shared.h"
#include "shared_int.h"
#include "util.h"

struct shared_clear {
	struct sref		 ref;		/* first */
	struct shared		*sh;
	void			(*cb)(void *, long long, const char *);
	void			*arg;
	char			*pattern;
	long long		 removed;
	int			 unlinks;	/* UNLINKs not yet answered */
	int			 scanned;	/* SCAN came back to cursor 0 */
};

static void
clear_free(struct sref *r)
{
	struct shared_clear	*c = (struct shared_clear *)r;

	free(c->pattern);
	free(c);
}

static void
clear_final(struct shared_clear *c, const char *err)
{
	c->ref.dead = 1;
	c->cb(c->arg, c->removed, err);
	sh_unref(&c->ref);
}

static void	clear_scan(struct shared_clear *, const char *);

static void
unlink_cb(struct shared *sh, struct sref *r, redisReply *rep)
{
	struct shared_clear	*c = (struct shared_clear *)r;

	c->unlinks--;
	if (rep == NULL || rep->type != REDIS_REPLY_INTEGER) {
		clear_final(c, rep == NULL ? "Redis went away" : rep->type ==
		    REDIS_REPLY_ERROR ? rep->str : "UNLINK not understood");
		return;
	}
	c->removed += rep->integer;
	if (c->scanned && c->unlinks == 0)
		clear_final(c, NULL);
}

static void
scan_cb(struct shared *sh, struct sref *r, redisReply *rep)
{
	struct shared_clear	*c = (struct shared_clear *)r;
	const redisReply	*keys;
	const char		**argv;
	size_t			*lens, i;

	if (rep == NULL || rep->type != REDIS_REPLY_ARRAY ||
	    rep->elements != 2 || rep->element[0]->type != REDIS_REPLY_STRING ||
	    rep->element[1]->type != REDIS_REPLY_ARRAY) {
		clear_final(c, rep == NULL ? "Redis went away" : rep->type ==
		    REDIS_REPLY_ERROR ? rep->str : "SCAN not understood");
		return;
	}
	keys = rep->element[1];
	if (keys->elements > 0) {
		argv = xcalloc(keys->elements + 1, sizeof *argv);
		lens = xcalloc(keys->elements + 1, sizeof *lens);
		argv[0] = "UNLINK";
		lens[0] = 6;
		for (i = 0; i < keys->elements; i++) {
			argv[i + 1] = keys->element[i]->str;
			lens[i + 1] = keys->element[i]->len;
		}
		if (sh_send(&sh->cmd, &c->ref, unlink_cb,
		    (int)keys->elements + 1, argv, lens) == 0)
			c->unlinks++;
		free(argv);
		free(lens);
	}
	if (strcmp(rep->element[0]->str, "0") != 0) {
		clear_scan(c, rep->element[0]->str);
		return;
	}
	c->scanned = 1;
	if (c->unlinks == 0)
		clear_final(c, NULL);
}

static void
clear_scan(struct shared_clear *c, const char *cursor)
{
	const char	*argv[6] = { "SCAN", cursor, "MATCH", c->pattern,
			    "COUNT", "1000" };

	if (sh_sendv(&c->sh->cmd, &c->ref, scan_cb, 6, argv) != 0)
		clear_final(c, "Redis is down");
}

struct shared_clear *
shared_clear(struct shared *sh, void (*cb)(void *, long long, const char *),
    void *arg, char **cause)
{
	struct shared_clear	*c;
	const char		*p;
	char			*o;

	if (sh == NULL || sh->state != SH_UP) {
		*cause = xasprintf("the shared tier is %s", sh == NULL ?
		    "not configured (no REDIS_URL)" : "down");
		return NULL;
	}
	c = xcalloc(1, sizeof *c);
	c->ref.refs = 1;
	c->ref.free = clear_free;
	c->sh = sh;
	c->cb = cb;
	c->arg = arg;
	/* The prefix as a glob: its own *?[]\ escaped. */
	c->pattern = o = xmalloc(2 * strlen(sh->prefix) + 2);
	for (p = sh->prefix; *p != '\0'; p++) {
		if (strchr("*?[]\\", *p) != NULL)
			*o++ = '\\';
		*o++ = *p;
	}
	*o++ = '*';
	*o = '\0';
	c->ref.refs++;		/* the first SCAN may fail at once */
	clear_scan(c, "0");
	if (c->ref.dead) {
		sh_unref(&c->ref);
		*cause = xstrdup("Redis is down");
		return NULL;
	}
	sh_unref(&c->ref);
	return c;
}

void
shared_clear_cancel(struct shared_clear *c)
{
	if (c != NULL && !c->ref.dead) {
		c->ref.dead = 1;
		sh_unref(&c->ref);
	}
}
