/* chat: the say and chat commands, over the daemon's HTTP API. */
#ifndef TTSACCELCTL_CHAT_H
#define TTSACCELCTL_CHAT_H

/* say [-v VOICE] [-o FILE] TEXT: speak TEXT; argv[0] is "say". */
int	cmd_say(int argc, char **argv);
/* chat [...] [PROMPT]: one answer, or a readline session; argv[0] "chat". */
int	cmd_chat(int argc, char **argv);

#endif
