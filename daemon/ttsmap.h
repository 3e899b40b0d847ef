/* ttsmap: the TTS_MODEL_MAP / TTS_VOICE_MAP name maps (client=backend). */
#ifndef TTSACCEL_TTSMAP_H
#define TTSACCEL_TTSMAP_H

#include <stddef.h>

struct ttsmap;

/*
 * Parse "a=b,c=d": spaces around names and empty entries are ignored; a
 * pair without a name on each side of one '=' is an error, and so is a
 * name mapped twice to different names (a repeat of the same pair is
 * not).  NULL or "" is the empty map.  NULL with *cause (to free).
 */
struct ttsmap *ttsmap_parse(const char *, char **);
void	 ttsmap_free(struct ttsmap *);
/* The name a client name maps to, or the name itself: an exact,
 * case-sensitive match, one step (no chains).  A NULL map maps nothing. */
const char *ttsmap_lookup(const struct ttsmap *, const char *);
/* Does the map name this client name?  A NULL map names nothing. */
int	 ttsmap_has(const struct ttsmap *, const char *);
/* Pairs in the map. */
size_t	 ttsmap_count(const struct ttsmap *);
/* The map as "a=b,c=d" in the order given, "" if empty (to free). */
char	*ttsmap_string(const struct ttsmap *);

#endif
