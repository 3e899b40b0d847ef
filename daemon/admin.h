/* admin: the admin socket — one JSON object per line each way (spec §6). */
#ifndef TTSACCEL_ADMIN_H
#define TTSACCEL_ADMIN_H

struct admin;
struct server;

#include <stddef.h>

#include <cjson/cJSON.h>

/*
 * Parse one request line (pure): LINE is NUL-terminated at LEN, without
 * its newline; trailing blanks are cut in place.  ADMIN_PARSE_BLANK for a
 * blank line; ADMIN_PARSE_OK with *req (to cJSON_Delete) and *cmd (its
 * "cmd", borrowed from *req); ADMIN_PARSE_BAD with *error (static), the
 * error the client is sent.
 */
#define ADMIN_PARSE_BLANK	0
#define ADMIN_PARSE_OK		1
#define ADMIN_PARSE_BAD		2
int	 admin_parse(char *, size_t, cJSON **, const char **, const char **);

/*
 * Create the socket at srv->cf->socket_path (mode 0600, its directory made
 * 0700 if missing, a stale socket replaced) and serve it on srv->base;
 * reload(srv, &cause) re-reads the configuration for the `reload` command.
 * NULL with *cause, also when a live daemon answers on that path.
 */
struct admin *admin_new(struct server *, int (*)(struct server *, char **),
	    char **);
/* Close every client and the socket, and remove the socket file. */
void	 admin_free(struct admin *);

#endif
