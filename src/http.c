/*
 * http.c
 *		Streaming HTTP transfers with libcurl, inside a backend.
 *
 * A transfer is driven by the curl multi interface so that the backend never
 * blocks in libcurl: we run curl_multi_perform(), hand whatever body bytes
 * arrived to the caller, and wait for the socket in short slices in between,
 * checking for interrupts.  This module knows nothing about CSV.
 *
 * Rules for living with libcurl here:
 * - Curl callbacks never ereport (a longjmp through libcurl corrupts it);
 *   they only copy bytes and set flags.  Errors are raised afterwards.
 * - Body bytes go into one malloc'd buffer; when it is full the transfer is
 *   paused, so memory stays bounded however large the export is.
 * - Curl handles are released by a reset callback on the memory context the
 *   transfer was started in, so an ERROR anywhere frees them.
 */
#include "postgres.h"

#include <ctype.h>
#include <curl/curl.h>

#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/memutils.h"

#include "csv_export_fdw.h"

/* How much body we hold before pausing the transfer. */
#define BODY_BUFFER_SIZE		(512 * 1024)
/* Socket read size asked of libcurl. */
#define CURL_READ_SIZE			(256 * 1024)
/* Longest wait before we look for interrupts again. */
#define WAIT_SLICE_MS			250
/* How much of an error response we show. */
#define ERROR_BODY_PREFIX		512

#define DEFAULT_CONNECT_TIMEOUT_MS	10000
#define DEFAULT_STALL_TIMEOUT_S		60
#define DEFAULT_MAX_REDIRECTS		5

struct HttpTransfer
{
	CURLM	   *multi;
	CURL	   *easy;
	char	   *display_url;	/* redacted, for messages */

	/* body bytes received and not yet handed out; malloc'd */
	char	   *body;
	size_t		body_len;
	size_t		body_cap;
	bool		paused;
	bool		out_of_memory;

	bool		status_checked;
	bool		finished;
	CURLcode	result;
	uint64		bytes_received;
	char		error_text[CURL_ERROR_SIZE];

	MemoryContextCallback release_callback;
};

void
http_global_init(void)
{
	if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("could not initialize libcurl")));
}

static void
release_transfer(void *arg)
{
	HttpTransfer *transfer = arg;

	if (transfer->multi && transfer->easy)
		curl_multi_remove_handle(transfer->multi, transfer->easy);
	if (transfer->easy)
		curl_easy_cleanup(transfer->easy);
	if (transfer->multi)
		curl_multi_cleanup(transfer->multi);
	free(transfer->body);
	transfer->easy = NULL;
	transfer->multi = NULL;
	transfer->body = NULL;
}

/* Curl write callback: copy, or pause when the buffer is full. */
static size_t
receive_body(char *data, size_t size, size_t nmemb, void *arg)
{
	HttpTransfer *transfer = arg;
	size_t		len = size * nmemb;

	if (transfer->body_len + len > transfer->body_cap)
	{
		char	   *grown;

		if (transfer->body_len > 0)
		{
			transfer->paused = true;
			return CURL_WRITEFUNC_PAUSE;
		}
		/* a single delivery larger than the whole buffer */
		grown = realloc(transfer->body, len);
		if (grown == NULL)
		{
			transfer->out_of_memory = true;
			return 0;
		}
		transfer->body = grown;
		transfer->body_cap = len;
	}
	memcpy(transfer->body + transfer->body_len, data, len);
	transfer->body_len += len;
	transfer->bytes_received += len;
	return len;
}

static void
configure_handle(HttpTransfer *transfer, const char *url)
{
	CURL	   *easy = transfer->easy;
	bool		ok = true;

	/* curl's SIGALRM-based DNS timeout would fight statement_timeout */
	ok &= curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L) == CURLE_OK;
	ok &= curl_easy_setopt(easy, CURLOPT_URL, url) == CURLE_OK;
	ok &= curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK;
	ok &= curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") == CURLE_OK;
	ok &= curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 1L) == CURLE_OK;
	ok &= curl_easy_setopt(easy, CURLOPT_MAXREDIRS, (long) DEFAULT_MAX_REDIRECTS) == CURLE_OK;
	ok &= curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, (long) DEFAULT_CONNECT_TIMEOUT_MS) == CURLE_OK;
	ok &= curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, 1L) == CURLE_OK;
	ok &= curl_easy_setopt(easy, CURLOPT_LOW_SPEED_TIME, (long) DEFAULT_STALL_TIMEOUT_S) == CURLE_OK;
	ok &= curl_easy_setopt(easy, CURLOPT_BUFFERSIZE, (long) CURL_READ_SIZE) == CURLE_OK;
	ok &= curl_easy_setopt(easy, CURLOPT_USERAGENT, "csv_export_fdw/" CSV_EXPORT_FDW_VERSION) == CURLE_OK;
	ok &= curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, receive_body) == CURLE_OK;
	ok &= curl_easy_setopt(easy, CURLOPT_WRITEDATA, transfer) == CURLE_OK;
	ok &= curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, transfer->error_text) == CURLE_OK;
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("could not configure the HTTP request for \"%s\"",
						transfer->display_url)));
}

/*
 * Start fetching url.  The transfer lives as long as CurrentMemoryContext;
 * resetting or deleting that context aborts it and frees everything.
 */
HttpTransfer *
http_transfer_start(const char *url, const char *display_url)
{
	HttpTransfer *transfer = palloc0(sizeof(HttpTransfer));

	transfer->display_url = pstrdup(display_url);
	transfer->release_callback.func = release_transfer;
	transfer->release_callback.arg = transfer;
	MemoryContextRegisterResetCallback(CurrentMemoryContext,
									   &transfer->release_callback);

	transfer->body = malloc(BODY_BUFFER_SIZE);
	transfer->multi = curl_multi_init();
	transfer->easy = curl_easy_init();
	if (transfer->body == NULL || transfer->multi == NULL || transfer->easy == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory while starting an HTTP transfer")));
	transfer->body_cap = BODY_BUFFER_SIZE;

	configure_handle(transfer, url);
	if (curl_multi_add_handle(transfer->multi, transfer->easy) != CURLM_OK)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("could not start the HTTP request for \"%s\"", display_url)));
	return transfer;
}

static long
response_status(HttpTransfer *transfer)
{
	long		status = 0;

	curl_easy_getinfo(transfer->easy, CURLINFO_RESPONSE_CODE, &status);
	return status;
}

/* Printable start of an error response body, for DETAIL. */
static char *
error_body_prefix(HttpTransfer *transfer)
{
	int			len = Min(transfer->body_len, ERROR_BODY_PREFIX);
	char	   *text;
	int			i;

	len = pg_encoding_verifymbstr(GetDatabaseEncoding(), transfer->body, len);
	text = pnstrdup(transfer->body, len);
	for (i = 0; text[i]; i++)
		if ((unsigned char) text[i] < 0x20 && text[i] != '\n')
			text[i] = ' ';
	while (len > 0 && isspace((unsigned char) text[len - 1]))
		text[--len] = '\0';
	return text;
}

static void
report_http_status(HttpTransfer *transfer, long status)
{
	char	   *body = error_body_prefix(transfer);

	ereport(ERROR,
			(errcode(ERRCODE_FDW_ERROR),
			 errmsg("HTTP request for \"%s\" failed with status %ld",
					transfer->display_url, status),
			 body[0] ? errdetail("The response began: %s", body) : 0));
}

static void
report_transfer_failure(HttpTransfer *transfer)
{
	const char *reason = transfer->error_text[0] ? transfer->error_text
		: curl_easy_strerror(transfer->result);

	if (transfer->out_of_memory)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory while receiving \"%s\"", transfer->display_url)));
	/*
	 * curl's own text for a failed connection carries a varying time ("after
	 * 3 ms"); its error code's text says the same, steadily.
	 */
	if (response_status(transfer) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
				 errmsg("could not fetch \"%s\"", transfer->display_url),
				 errdetail("%s.", curl_easy_strerror(transfer->result))));
	ereport(ERROR,
			(errcode(ERRCODE_CONNECTION_FAILURE),
			 errmsg("transfer of \"%s\" failed after %llu bytes",
					transfer->display_url,
					(unsigned long long) transfer->bytes_received),
			 errdetail("%s", reason)));
}

static void
collect_finished(HttpTransfer *transfer)
{
	CURLMsg    *msg;
	int			queued;

	while ((msg = curl_multi_info_read(transfer->multi, &queued)) != NULL)
	{
		if (msg->msg == CURLMSG_DONE && msg->easy_handle == transfer->easy)
		{
			transfer->finished = true;
			transfer->result = msg->data.result;
		}
	}
}

static void
wait_for_socket(HttpTransfer *transfer)
{
	int			ready;
	CURLMcode	rc;

	/*
	 * A signal (cancel, statement_timeout) interrupts the poll inside
	 * curl_multi_wait, so interrupts are noticed at once; the slice only
	 * bounds the delay when a signal lands just before the poll.
	 */
	pgstat_report_wait_start(PG_WAIT_EXTENSION);
	rc = curl_multi_wait(transfer->multi, NULL, 0, WAIT_SLICE_MS, &ready);
	pgstat_report_wait_end();
	if (rc != CURLM_OK)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("waiting for \"%s\" failed: %s",
						transfer->display_url, curl_multi_strerror(rc))));
}

/*
 * Advance the transfer until body bytes are available or it ends.  Returns
 * false at the end of a successful transfer; raises an ERROR for a failed
 * one (network error, truncated body, HTTP error status).
 *
 * The bytes returned stay valid until the next call.
 */
bool
http_transfer_read(HttpTransfer *transfer, const char **data, size_t *len)
{
	transfer->body_len = 0;
	if (transfer->paused)
	{
		transfer->paused = false;
		curl_easy_pause(transfer->easy, CURLPAUSE_CONT);
	}

	for (;;)
	{
		int			running;
		CURLMcode	rc;

		CHECK_FOR_INTERRUPTS();
		rc = curl_multi_perform(transfer->multi, &running);
		if (rc != CURLM_OK)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("HTTP transfer of \"%s\" failed: %s",
							transfer->display_url, curl_multi_strerror(rc))));
		collect_finished(transfer);

		if (transfer->finished && transfer->result != CURLE_OK)
			report_transfer_failure(transfer);

		if (!transfer->status_checked && (transfer->body_len > 0 || transfer->finished))
		{
			long		status = response_status(transfer);

			/* wait for some of an error body, to show it */
			if ((status < 200 || status > 299) &&
				(transfer->finished || transfer->paused ||
				 transfer->body_len >= ERROR_BODY_PREFIX))
				report_http_status(transfer, status);
			if (status >= 200 && status <= 299)
				transfer->status_checked = true;
		}

		if (transfer->status_checked && transfer->body_len > 0)
		{
			*data = transfer->body;
			*len = transfer->body_len;
			return true;
		}
		if (transfer->finished)
			return false;
		wait_for_socket(transfer);
	}
}

uint64
http_transfer_bytes_received(const HttpTransfer *transfer)
{
	return transfer->bytes_received;
}
