/*
 * http.h
 *		HTTP transfers with libcurl: one export's bytes as they arrive.
 *		Knows nothing of CSV.
 */
#ifndef CSV_EXPORT_HTTP_H
#define CSV_EXPORT_HTTP_H

#include "option.h"

typedef struct HttpSession HttpSession;
typedef struct HttpTransfer HttpTransfer;

typedef enum HttpReadResult
{
	HTTP_READ_DATA,				/* bytes were returned */
	HTTP_READ_END,				/* the body is complete */
	HTTP_READ_RESTARTED,		/* the request was retried: forget what was read */
	HTTP_READ_FORBIDDEN			/* a 403, where http_transfer_return_forbidden() said */
} HttpReadResult;

extern void http_global_init(void);
extern HttpSession *http_session_create(void);
extern void http_session_advance(HttpSession *session);
extern HttpTransfer *http_transfer_start(HttpSession *session, const HttpOptions *options,
										 const char *url, const char *display_url);
extern bool http_transfer_headers_complete(const HttpTransfer *transfer);
extern bool http_transfer_not_modified(const HttpTransfer *transfer);
extern void http_transfer_return_forbidden(HttpTransfer *transfer);
extern void http_transfer_report_forbidden(HttpTransfer *transfer);
extern HttpReadResult http_transfer_read(HttpTransfer *transfer, bool restart_allowed,
										 const char **data, size_t *len);
extern uint64 http_transfer_bytes_received(const HttpTransfer *transfer);
extern uint64 http_transfer_bytes_decoded(const HttpTransfer *transfer);
extern const char *http_transfer_compression(const HttpTransfer *transfer);
extern int	http_transfer_requests(const HttpTransfer *transfer);
extern char *http_transfer_header(const HttpTransfer *transfer, const char *name);
extern char *http_transfer_validator(const HttpTransfer *transfer, const char *name);
extern const char *http_transfer_url(const HttpTransfer *transfer);

#endif							/* CSV_EXPORT_HTTP_H */
