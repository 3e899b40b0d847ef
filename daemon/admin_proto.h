/* admin_proto: what the daemon and ttsaccelctl share of the admin socket's
 * protocol (spec §6): its version, the command names and the default
 * socket path.  Pure: no event or network headers. */
#ifndef TTSACCEL_ADMIN_PROTO_H
#define TTSACCEL_ADMIN_PROTO_H

#include <sys/types.h>

/* The protocol version: a request's "v", when it has one. */
#define ADMIN_VERSION		1

/* The commands.  ttsaccelctl names each by its words: "cache list" is
 * cache.list. */
#define ADMIN_CMD_STATS			"stats"
#define ADMIN_CMD_CACHE_CLEAR		"cache.clear"
#define ADMIN_CMD_CACHE_LIST		"cache.list"
#define ADMIN_CMD_ENDPOINTS_LIST	"endpoints.list"
#define ADMIN_CMD_ENDPOINTS_ADD		"endpoints.add"
#define ADMIN_CMD_ENDPOINTS_DRAIN	"endpoints.drain"
#define ADMIN_CMD_ENDPOINTS_REMOVE	"endpoints.remove"
#define ADMIN_CMD_RELOAD		"reload"
#define ADMIN_CMD_LOG_LEVEL		"log.level"
#define ADMIN_CMD_WATCH			"watch"
#define ADMIN_CMD_REPLIES_CANCEL	"replies.cancel"

/* The variable that names the socket, before the default below. */
#define ADMIN_SOCKET_ENV	"TTSACCEL_SOCKET"

/*
 * The socket's default path: RUNTIME_DIR/ttsaccel.sock ($XDG_RUNTIME_DIR,
 * if absolute), else /run/ttsaccel/ttsaccel.sock for root, else
 * ttsaccel.sock in the private directory TMPDIR/ttsaccel-UID (TMPDIR:
 * /tmp unless absolute).  *private_dir gets that directory (to check with
 * config_private_dir), or NULL.  Both allocated.
 */
char	*admin_proto_socket_path(const char *runtime_dir, const char *tmpdir,
	    uid_t uid, char **private_dir);

#endif
