/* proxy: chat completions and pass-through of other /v1 paths upstream. */
#ifndef TTSACCEL_PROXY_H
#define TTSACCEL_PROXY_H

struct hreq;

/* POST /v1/chat/completions. */
void	 proxy_chat(struct hreq *);
/* POST /v1/responses: passed through like a chat, its output text
 * spoken. */
void	 proxy_responses(struct hreq *);
/* Any other /v1/... path, forwarded as it is; auth = check the key. */
void	 proxy_pass(struct hreq *, int);

#endif
