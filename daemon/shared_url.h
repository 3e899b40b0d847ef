/* shared_url: REDIS_URL taken apart (libcurl's URL parser; no Redis). */
#ifndef TTSACCEL_SHARED_URL_H
#define TTSACCEL_SHARED_URL_H

/* REDIS_URL taken apart. */
struct shared_url {
	char		*host;		/* NULL for a Unix socket */
	int		 port;
	char		*path;		/* Unix socket path */
	char		*user;		/* ACL user, or NULL */
	char		*password;	/* or NULL */
	int		 db;
};

/* Parse redis://[[user]:password@]host[:port][/db] or
 * unix:///path[?db=N][&password=P] into u; -1 with *cause (to free). */
int	 shared_url_parse(const char *url, struct shared_url *u,
	    char **cause);
/* Free what u holds; u is left zeroed. */
void	 shared_url_clear(struct shared_url *u);

#endif
