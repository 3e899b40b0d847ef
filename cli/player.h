/* player: an audio player process fed on its stdin through a buffer. */
#ifndef TTSACCEL_PLAYER_H
#define TTSACCEL_PLAYER_H

#include <signal.h>
#include <stddef.h>

struct player;

/* The command to play audio with: cmd if not NULL, else $TTSACCEL_PLAYER,
 * else the first of paplay, aplay, ffplay, mpv found on PATH; NULL if none.
 * The result is a /bin/sh command line, to free. */
char	*player_find(const char *cmd);
/* Start "/bin/sh -c cmd" in its own process group, reading our pipe; NULL
 * with *cause set on failure. */
struct player *player_start(const char *cmd, char **cause);
/* Queue bytes for the player and write what the pipe takes now. */
void	 player_write(struct player *, const void *, size_t);
/* Write what the pipe takes now; closes the pipe once player_close was
 * called and nothing is left.  0, or -1 once the player is gone. */
int	 player_flush(struct player *);
/* No more input: the pipe is closed once the queue is written. */
void	 player_close(struct player *);
/* The pipe's fd while bytes wait for it, else -1 (poll it for POLLOUT). */
int	 player_pollfd(const struct player *);
/* Has the player exited?  Reaps it without blocking. */
int	 player_exited(struct player *);
/* Write the rest and wait for the player to exit; -1 if *stop was set
 * meanwhile (the player is then killed).  Else its exit status (0..255, or
 * 128+signal). */
int	 player_wait(struct player *, volatile sig_atomic_t *stop);
/* Kill the player's process group and reap it. */
void	 player_kill(struct player *);
/* Kill the player if it still runs and free everything. */
void	 player_free(struct player *);

#endif
