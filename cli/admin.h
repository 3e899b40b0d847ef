/* admin: the client side of ttsaccel's admin socket, one JSON object per
 * line each way (ttsaccel.md section 6). */
#ifndef TTSACCELCTL_ADMIN_H
#define TTSACCELCTL_ADMIN_H

#include <cjson/cJSON.h>

#include "admin_proto.h"	/* the version, command names, default path */

#define ADMIN_TIMEOUT_MS	10000	/* for a reply, except watch's events */

struct admin;

/* The socket the daemon uses when none is given: $TTSACCEL_SOCKET, else
 * admin_proto_socket_path() of this environment.  Allocated. */
char		*admin_default_path(void);
/* Connect to the daemon at path; NULL with *cause on failure. */
struct admin	*admin_open(const char *path, char **cause);
/* The connection's socket (to shut it down from a signal handler). */
int		 admin_fd(struct admin *);
/* Close the connection; NULL is a no-op. */
void		 admin_close(struct admin *);
/* Send {"cmd":cmd,"v":1,...args}; takes ownership of args (an object or
 * NULL).  0, or -1 with *cause. */
int		 admin_send(struct admin *, const char *cmd, cJSON *args,
		    char **cause);
/* Read one line and parse it into *out: 1, 0 at end of file, or -1 with
 * *cause (errno EINTR if a signal interrupted the wait).  timeout_ms < 0
 * waits for ever. */
int		 admin_recv(struct admin *, int timeout_ms, cJSON **out,
		    char **cause);
/* Check a reply: its "data" (detached, the caller frees it; JSON null when
 * it has none) if "ok" is true, else NULL with the daemon's error in
 * *cause.  Frees the reply. */
cJSON		*admin_reply_data(struct admin *, cJSON *reply, char **cause);
/* Connect, send one request, read its reply within ADMIN_TIMEOUT_MS and
 * close: the reply's data, or NULL with *cause.  Takes ownership of args. */
cJSON		*admin_call(const char *path, const char *cmd, cJSON *args,
		    char **cause);

#endif
