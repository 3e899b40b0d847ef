/* api: routing of HTTP requests and the small endpoints. */
#ifndef TTSACCEL_API_H
#define TTSACCEL_API_H

struct hreq;

/* Dispatch one request to its handler (which finishes it). */
void	 api_route(struct hreq *);

#endif
