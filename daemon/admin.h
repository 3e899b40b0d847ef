/* admin: the admin socket — one JSON object per line each way (spec §6). */
#ifndef TTSACCEL_ADMIN_H
#define TTSACCEL_ADMIN_H

struct admin;
struct server;

/* The protocol version this daemon speaks. */
#define ADMIN_VERSION	1

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
