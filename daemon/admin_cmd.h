/* admin_cmd: the admin socket's command table and its commands; admin.c
 * is the transport that reads requests and runs them. */
#ifndef TTSACCEL_ADMIN_CMD_H
#define TTSACCEL_ADMIN_CMD_H

#include <cjson/cJSON.h>

struct aclient;
struct server;

/*
 * A command runs for one client's request REQ: 0 with *data (the answer,
 * or NULL for null), -1 with *error (to free; the text the client is
 * sent), or 1 when it answers later through admin_client_answer() after
 * calling admin_client_wait().
 */
struct admin_cmd {
	const char	*name;
	int		(*fn)(struct aclient *c, const cJSON *req,
			    cJSON **data, char **error);
	int		 quiet;	/* its error text may hold a secret: not logged */
};

/* The command called NAME, or NULL. */
const struct admin_cmd *admin_cmd_find(const char *name);

/* What the transport (admin.c) offers the commands. */
/* The daemon the client speaks to. */
struct server	*admin_client_server(struct aclient *);
/* The client's number in the log. */
unsigned	 admin_client_id(struct aclient *);
/* Re-read the configuration: 0, or -1 with *cause. */
int		 admin_client_reload(struct aclient *, char **cause);
/* Send the client the daemon's events from now on. */
void		 admin_client_watch(struct aclient *);
/* The answer comes later: hold the client's next lines until then;
 * cancel(arg) is called if the client goes first. */
void		 admin_client_wait(struct aclient *, void (*cancel)(void *),
		    void *arg);
/* The answer that was waited for: data if error is NULL (ownership
 * taken), else error; then the lines that came meanwhile are read. */
void		 admin_client_answer(struct aclient *, cJSON *data,
		    const char *error);

#endif
