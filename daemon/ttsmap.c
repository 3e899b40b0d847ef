/* ttsmap: the TTS_MODEL_MAP / TTS_VOICE_MAP name maps (client=backend).
 *
 * Pure: no event or network headers.  Maps hold a handful of names, so a
 * lookup is a linear scan.
 */
#include <stdlib.h>
#include <string.h>

#include "ttsmap.h"
#include "util.h"

struct ttspair {
	char	*from;		/* the name clients send */
	char	*to;		/* the name the backends know */
};

struct ttsmap {
	struct ttspair	*v;
	size_t		 n;
};

static struct ttspair *
find(const struct ttsmap *m, const char *name)
{
	size_t	i;

	for (i = 0; m != NULL && i < m->n; i++)
		if (strcmp(m->v[i].from, name) == 0)
			return &m->v[i];
	return NULL;
}

/* Add one trimmed, non-empty entry; -1 with *cause. */
static int
add(struct ttsmap *m, char *entry, char **cause)
{
	struct ttspair	*dup;
	char		*eq, *from, *to;

	if ((eq = strchr(entry, '=')) == NULL) {
		*cause = xasprintf("'%s' is not a client=backend pair", entry);
		return -1;
	}
	if (strchr(eq + 1, '=') != NULL) {
		*cause = xasprintf("'%s' has more than one '='", entry);
		return -1;
	}
	*eq = '\0';
	from = strtrim(entry);
	to = strtrim(eq + 1);
	if (*from == '\0' || *to == '\0') {
		*cause = xasprintf("'%s=%s' lacks the %s name", from, to,
		    *from == '\0' ? "client" : "backend");
		return -1;
	}
	if ((dup = find(m, from)) != NULL) {
		if (strcmp(dup->to, to) == 0)
			return 0;
		*cause = xasprintf("'%s' is mapped twice, to '%s' and to '%s'",
		    from, dup->to, to);
		return -1;
	}
	m->v = xreallocarray(m->v, m->n + 1, sizeof *m->v);
	m->v[m->n].from = xstrdup(from);
	m->v[m->n].to = xstrdup(to);
	m->n++;
	return 0;
}

struct ttsmap *
ttsmap_parse(const char *spec, char **cause)
{
	struct ttsmap	*m;
	char		*copy, *p, *comma, *entry;

	m = xcalloc(1, sizeof *m);
	if (spec == NULL)
		return m;
	copy = xstrdup(spec);
	for (p = copy; p != NULL; p = comma) {
		if ((comma = strchr(p, ',')) != NULL)
			*comma++ = '\0';
		entry = strtrim(p);
		if (*entry == '\0')
			continue;
		if (add(m, entry, cause) != 0) {
			free(copy);
			ttsmap_free(m);
			return NULL;
		}
	}
	free(copy);
	return m;
}

void
ttsmap_free(struct ttsmap *m)
{
	size_t	i;

	if (m == NULL)
		return;
	for (i = 0; i < m->n; i++) {
		free(m->v[i].from);
		free(m->v[i].to);
	}
	free(m->v);
	free(m);
}

const char *
ttsmap_lookup(const struct ttsmap *m, const char *name)
{
	const struct ttspair	*p;

	if (name == NULL || (p = find(m, name)) == NULL)
		return name;
	return p->to;
}

int
ttsmap_has(const struct ttsmap *m, const char *name)
{
	return name != NULL && find(m, name) != NULL;
}

size_t
ttsmap_count(const struct ttsmap *m)
{
	return m != NULL ? m->n : 0;
}

char *
ttsmap_string(const struct ttsmap *m)
{
	char	*s, *t;
	size_t	 i;

	s = xstrdup("");
	for (i = 0; i < ttsmap_count(m); i++) {
		t = xasprintf("%s%s%s=%s", s, i > 0 ? "," : "", m->v[i].from,
		    m->v[i].to);
		free(s);
		s = t;
	}
	return s;
}
