/* admin_proto: what the daemon and ttsaccelctl share of the admin socket's
 * protocol; ttsaccelctl links this and util.c, nothing else of the
 * daemon. */
#include <sys/types.h>

#include "admin_proto.h"
#include "util.h"

char *
admin_proto_socket_path(const char *runtime_dir, const char *tmpdir,
    uid_t uid, char **private_dir)
{
	char	*dir, *path;

	*private_dir = NULL;
	if (runtime_dir != NULL && *runtime_dir == '/')
		return xasprintf("%s/ttsaccel.sock", runtime_dir);
	if (uid == 0)
		return xstrdup("/run/ttsaccel/ttsaccel.sock");
	if (tmpdir == NULL || *tmpdir != '/')
		tmpdir = "/tmp";
	dir = xasprintf("%s/ttsaccel-%u", tmpdir, (unsigned)uid);
	path = xasprintf("%s/ttsaccel.sock", dir);
	*private_dir = dir;
	return path;
}
