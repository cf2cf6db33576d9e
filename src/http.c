/*
 * http.c
 *		Streaming HTTP transfers with libcurl, inside a backend.
 *
 * A transfer is driven by the curl multi interface so that the backend never
 * blocks in libcurl: we run curl_multi_perform(), hand whatever body bytes
 * arrived to the caller, and wait for the socket in short slices in between,
 * checking for interrupts.  This module knows nothing about CSV.
 *
 * On top of one request it adds what real export APIs need: retries with
 * backoff (honouring Retry-After), redirects followed by us rather than by
 * libcurl, so that each hop is checked against the allowed schemes and
 * hosts and credentials never follow to another origin, and limits on time
 * and size.
 *
 * Transfers of one session share a curl multi handle, so that all of them
 * move on whichever one is being read: a paged export fetches the next
 * pages while the current one is parsed.
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

#include "common/pg_prng.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "csv_export_fdw.h"

/* How much body we hold before pausing the transfer. */
#define BODY_BUFFER_SIZE		(512 * 1024)
/* Socket read size asked of libcurl. */
#define CURL_READ_SIZE			(256 * 1024)
/* Longest wait before we look for interrupts again. */
#define WAIT_SLICE_MS			250
/* How much of an error response we show. */
#define ERROR_BODY_PREFIX		512
/* Longest wait between retries, whatever Retry-After says. */
#define MAX_RETRY_WAIT_MS		(10 * 60 * 1000)
/* Response headers kept, for Link and cursor headers. */
#define MAX_RESPONSE_HEADERS	(64 * 1024)

/* csv_export_fdw.allowed_hosts */
static char *allowed_hosts = NULL;

static char *trim_whitespace(char *text);

/*
 * Transfers that progress together: one curl multi handle drives them all,
 * so that a page can be in flight while another is read.
 */
struct HttpSession
{
	CURLM	   *multi;
	MemoryContextCallback release_callback;
};

struct HttpTransfer
{
	HttpSession *session;
	const HttpOptions *options;
	char	   *url;			/* current: after redirects */
	char	   *display_url;	/* the same, redacted, for messages */
	char	   *first_origin;	/* credentials go to this origin only */

	CURLM	   *multi;			/* the session's */
	CURL	   *easy;
	struct curl_slist *header_list;

	/*
	 * Body bytes received and not yet handed out, and the buffer handed out
	 * last, which the caller may still be reading; they swap at each hand
	 * out.  body_held: body is the buffer handed out the time before, so
	 * nothing may go into it until the next read.  malloc'd.
	 */
	char	   *body;
	size_t		body_len;
	size_t		body_cap;
	bool		body_held;
	char	   *handed_out;
	size_t		handed_out_cap;
	bool		paused;
	bool		out_of_memory;

	/* the current request */
	char	   *headers;		/* of the latest response, "Name: value\r\n"...; malloc'd */
	size_t		headers_len;
	bool		headers_complete;	/* of a final (non-1xx) response */
	bool		status_checked;
	bool		finished;
	CURLcode	result;
	bool		delivered;		/* some of its body went to the caller */
	uint64		bytes_received;
	char		error_text[CURL_ERROR_SIZE];

	/* an export job being polled (HTTP 202) */
	bool		post;			/* the next request is the POST that starts it */
	bool		polling;
	TimestampTz poll_started;

	/* over all requests */
	int			retries_done;
	int			redirects_done;
	int			requests;
	uint64		total_bytes;

	MemoryContextCallback release_callback;
};

void
http_global_init(void)
{
	if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("could not initialize libcurl")));

	DefineCustomStringVariable("csv_export_fdw.allowed_hosts",
							   "Hosts that csv_export_fdw may fetch from.",
							   "A comma-separated list of host names or host:port, "
							   "where *.example.com stands for any subdomain. "
							   "Empty means any host.",
							   &allowed_hosts,
							   "",
							   PGC_SUSET,
							   GUC_LIST_INPUT,
							   NULL, NULL, NULL);
}

/*
 * Host allow-list
 */

/*
 * Whether host (lower-case, as libcurl gives it: "[::1]" for IPv6) and port
 * match one allowed_hosts entry: "host", "host:port", "[v6]" or "[v6]:port",
 * where a host "*.example.com" matches any subdomain of example.com.
 */
static bool
host_matches(const char *entry, const char *host, int port)
{
	const char *host_end = entry[0] == '[' ? strchr(entry, ']') : strchr(entry, ':');
	size_t		entry_host_len;

	if (entry[0] == '[' && host_end)
		host_end++;				/* keep the bracket, as libcurl does */
	if (host_end == NULL)
		host_end = entry + strlen(entry);
	else if (*host_end == ':' && atoi(host_end + 1) != port)
		return false;
	entry_host_len = host_end - entry;

	if (entry_host_len > 2 && entry[0] == '*' && entry[1] == '.')
	{
		size_t		suffix_len = entry_host_len - 1;	/* ".example.com" */
		size_t		host_len = strlen(host);

		return host_len > suffix_len &&
			pg_strncasecmp(host + host_len - suffix_len, entry + 1, suffix_len) == 0;
	}
	return strlen(host) == entry_host_len &&
		pg_strncasecmp(host, entry, entry_host_len) == 0;
}

/* ERROR unless csv_export_fdw.allowed_hosts lets us fetch url. */
static void
check_host_allowed(const char *url, const char *display_url)
{
	const char *entry;
	int			port;
	char	   *host;

	if (allowed_hosts == NULL || allowed_hosts[0] == '\0')
		return;
	host = url_host_port(url, &port);
	for (entry = allowed_hosts; host && *entry;)
	{
		size_t		len = strcspn(entry, ",");
		char	   *trimmed = trim_whitespace(pnstrdup(entry, len));

		if (trimmed[0] && host_matches(trimmed, host, port))
			return;
		entry += len;
		if (*entry == ',')
			entry++;
	}
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("host \"%s\" is not allowed", host ? host : "(none)"),
			 errdetail("The URL is \"%s\".", display_url),
			 errhint("The setting csv_export_fdw.allowed_hosts lists the hosts csv_export_fdw may fetch from.")));
}

/*
 * Secrets in messages
 */

static char *
trim_whitespace(char *text)
{
	char	   *end = text + strlen(text);

	while (isspace((unsigned char) *text))
		text++;
	while (end > text && isspace((unsigned char) end[-1]))
		*--end = '\0';
	return text;
}

/* text with every occurrence of secret replaced by "redacted" */
static char *
replace_secret(const char *text, const char *secret)
{
	StringInfoData out;
	const char *found;
	size_t		secret_len = strlen(secret);

	initStringInfo(&out);
	while ((found = strstr(text, secret)) != NULL)
	{
		appendBinaryStringInfo(&out, text, found - text);
		appendStringInfoString(&out, "redacted");
		text = found + secret_len;
	}
	appendStringInfoString(&out, text);
	return out.data;
}

/*
 * text with the secrets of options replaced, for messages that quote what a
 * server said: an API may echo a token back in an error page.
 */
static char *
scrub_secrets(const HttpOptions *options, const char *text)
{
	char	   *result = pstrdup(text);
	const char *secrets[3] = {options->bearer_token, options->password, NULL};
	ListCell   *lc;
	int			i;

	for (i = 0; i < 2; i++)
		if (secrets[i] && strlen(secrets[i]) >= 4)
			result = replace_secret(result, secrets[i]);
	foreach(lc, options->secret_headers)
	{
		const char *value = strchr((const char *) lfirst(lc), ':');

		while (value && (*value == ':' || *value == ' '))
			value++;
		if (value && strlen(value) >= 4)
			result = replace_secret(result, value);
	}
	return result;
}

/*
 * The request
 */

static void
release_request(HttpTransfer *transfer)
{
	if (transfer->multi && transfer->easy)
		curl_multi_remove_handle(transfer->multi, transfer->easy);
	if (transfer->easy)
		curl_easy_cleanup(transfer->easy);
	if (transfer->header_list)
		curl_slist_free_all(transfer->header_list);
	transfer->easy = NULL;
	transfer->header_list = NULL;
}

static void
release_transfer(void *arg)
{
	HttpTransfer *transfer = arg;

	release_request(transfer);
	free(transfer->body);
	free(transfer->handed_out);
	free(transfer->headers);
	transfer->body = NULL;
	transfer->handed_out = NULL;
	transfer->headers = NULL;
}

static void
release_session(void *arg)
{
	HttpSession *session = arg;

	if (session->multi)
		curl_multi_cleanup(session->multi);
	session->multi = NULL;
}

/*
 * A session lives as long as CurrentMemoryContext; its transfers must live
 * in that context or in children of it (they are released first).
 */
HttpSession *
http_session_create(void)
{
	HttpSession *session = palloc0(sizeof(HttpSession));

	session->release_callback.func = release_session;
	session->release_callback.arg = session;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, &session->release_callback);
	session->multi = curl_multi_init();
	if (session->multi == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory while starting an HTTP session")));
	return session;
}

/*
 * Curl write callback: copy, or pause when the buffer is full.  While the
 * caller may still read the buffer, bytes stay with curl until the next
 * http_transfer_read() (the session is driven between reads, for the pages
 * fetched ahead).
 */
static size_t
receive_body(char *data, size_t size, size_t nmemb, void *arg)
{
	HttpTransfer *transfer = arg;
	size_t		len = size * nmemb;

	if (transfer->body_held)
	{
		transfer->paused = true;
		return CURL_WRITEFUNC_PAUSE;
	}
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
	transfer->total_bytes += len;
	return len;
}

/*
 * Curl header callback: notes when the headers of the final response are
 * complete, which is when its status decides what happens next (follow a
 * redirect, retry, fail, or read the body).
 */
static size_t
receive_header(char *data, size_t size, size_t nmemb, void *arg)
{
	HttpTransfer *transfer = arg;
	size_t		len = size * nmemb;
	long		status = 0;

	if (len <= 2 && (data[0] == '\r' || data[0] == '\n'))
	{
		curl_easy_getinfo(transfer->easy, CURLINFO_RESPONSE_CODE, &status);
		if (status >= 200)
			transfer->headers_complete = true;
		return len;
	}
	/* a status line starts a response: keep only the latest one's headers */
	if (len > 5 && strncmp(data, "HTTP/", 5) == 0)
		transfer->headers_len = 0;
	else if (transfer->headers_len + len <= MAX_RESPONSE_HEADERS)
	{
		char	   *grown = realloc(transfer->headers, transfer->headers_len + len + 1);

		if (grown == NULL)
		{
			transfer->out_of_memory = true;
			return 0;
		}
		transfer->headers = grown;
		memcpy(transfer->headers + transfer->headers_len, data, len);
		transfer->headers_len += len;
		transfer->headers[transfer->headers_len] = '\0';
	}
	return len;
}

static bool
add_header(HttpTransfer *transfer, const char *header)
{
	struct curl_slist *list = curl_slist_append(transfer->header_list, header);

	if (list == NULL)
		return false;
	transfer->header_list = list;
	return true;
}

/* Credentials, only for the origin of the first URL. */
static bool
set_credentials(HttpTransfer *transfer)
{
	const HttpOptions *options = transfer->options;
	CURL	   *easy = transfer->easy;
	char	   *origin = url_origin(transfer->url);
	bool		ok = true;
	ListCell   *lc;

	if (origin == NULL || strcmp(origin, transfer->first_origin) != 0)
		return true;
	foreach(lc, options->secret_headers)
		ok &= add_header(transfer, lfirst(lc));
	if (options->bearer_token)
	{
		ok &= curl_easy_setopt(easy, CURLOPT_HTTPAUTH, CURLAUTH_BEARER) == CURLE_OK;
		ok &= curl_easy_setopt(easy, CURLOPT_XOAUTH2_BEARER, options->bearer_token) == CURLE_OK;
	}
	else if (options->username)
	{
		ok &= curl_easy_setopt(easy, CURLOPT_HTTPAUTH, CURLAUTH_BASIC) == CURLE_OK;
		ok &= curl_easy_setopt(easy, CURLOPT_USERNAME, options->username) == CURLE_OK;
		ok &= curl_easy_setopt(easy, CURLOPT_PASSWORD,
							   options->password ? options->password : "") == CURLE_OK;
	}
	return ok;
}

static bool
set_transfer_options(HttpTransfer *transfer)
{
	const HttpOptions *options = transfer->options;
	CURL	   *easy = transfer->easy;
	bool		ok = true;
	ListCell   *lc;

	/* curl's SIGALRM-based DNS timeout would fight statement_timeout */
	ok &= curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L) == CURLE_OK;
	ok &= curl_easy_setopt(easy, CURLOPT_URL, transfer->url) == CURLE_OK;
	ok &= curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK;
	/* we follow redirects ourselves, see follow_redirect() */
	ok &= curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK;
	ok &= curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "") == CURLE_OK;
	ok &= curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, (long) options->connect_timeout_ms) == CURLE_OK;
	ok &= curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long) options->timeout_ms) == CURLE_OK;
	if (options->stall_timeout_s > 0)
	{
		ok &= curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, 1L) == CURLE_OK;
		ok &= curl_easy_setopt(easy, CURLOPT_LOW_SPEED_TIME, (long) options->stall_timeout_s) == CURLE_OK;
	}
	ok &= curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, options->ssl_verify ? 1L : 0L) == CURLE_OK;
	ok &= curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, options->ssl_verify ? 2L : 0L) == CURLE_OK;
	if (options->ca_file)
		ok &= curl_easy_setopt(easy, CURLOPT_CAINFO, options->ca_file) == CURLE_OK;
	if (options->proxy)
		ok &= curl_easy_setopt(easy, CURLOPT_PROXY, options->proxy) == CURLE_OK;
	ok &= curl_easy_setopt(easy, CURLOPT_USERAGENT, options->user_agent) == CURLE_OK;
	if (transfer->post)
		ok &= curl_easy_setopt(easy, CURLOPT_POSTFIELDS,
							   options->body ? options->body : "") == CURLE_OK;
	ok &= curl_easy_setopt(easy, CURLOPT_BUFFERSIZE, (long) CURL_READ_SIZE) == CURLE_OK;
	ok &= curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, receive_body) == CURLE_OK;
	ok &= curl_easy_setopt(easy, CURLOPT_WRITEDATA, transfer) == CURLE_OK;
	ok &= curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, receive_header) == CURLE_OK;
	ok &= curl_easy_setopt(easy, CURLOPT_HEADERDATA, transfer) == CURLE_OK;
	ok &= curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, transfer->error_text) == CURLE_OK;
	ok &= curl_easy_setopt(easy, CURLOPT_PRIVATE, transfer) == CURLE_OK;

	foreach(lc, options->headers)
		ok &= add_header(transfer, lfirst(lc));
	ok &= set_credentials(transfer);
	ok &= curl_easy_setopt(easy, CURLOPT_HTTPHEADER, transfer->header_list) == CURLE_OK;
	return ok;
}

/*
 * Send a request for transfer->url, replacing any earlier one.  The body an
 * earlier one got (a redirect's, a 202's, a failed try's) does not count.
 */
static void
begin_request(HttpTransfer *transfer)
{
	release_request(transfer);
	transfer->total_bytes -= transfer->bytes_received;
	check_host_allowed(transfer->url, transfer->display_url);

	transfer->body_len = 0;
	transfer->paused = false;
	transfer->headers_complete = false;
	transfer->status_checked = false;
	transfer->finished = false;
	transfer->result = CURLE_OK;
	transfer->delivered = false;
	transfer->bytes_received = 0;
	transfer->headers_len = 0;
	transfer->error_text[0] = '\0';
	transfer->requests++;

	transfer->easy = curl_easy_init();
	if (transfer->easy == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory while starting an HTTP request")));
	if (!set_transfer_options(transfer))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("could not configure the HTTP request for \"%s\"",
						transfer->display_url)));
	if (curl_multi_add_handle(transfer->multi, transfer->easy) != CURLM_OK)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("could not start the HTTP request for \"%s\"",
						transfer->display_url)));
}

/*
 * Start fetching url.  The transfer lives as long as CurrentMemoryContext;
 * resetting or deleting that context aborts it and frees everything.
 */
HttpTransfer *
http_transfer_start(HttpSession *session, const HttpOptions *options, const char *url)
{
	HttpTransfer *transfer = palloc0(sizeof(HttpTransfer));

	transfer->session = session;
	transfer->multi = session->multi;
	transfer->options = options;
	transfer->post = options->post;
	transfer->url = pstrdup(url);
	transfer->display_url = url_redact(url);
	transfer->first_origin = url_origin(url);
	if (transfer->first_origin == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid URL \"%s\"", transfer->display_url)));

	transfer->release_callback.func = release_transfer;
	transfer->release_callback.arg = transfer;
	MemoryContextRegisterResetCallback(CurrentMemoryContext,
									   &transfer->release_callback);
	transfer->body = malloc(BODY_BUFFER_SIZE);
	if (transfer->body == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory while starting an HTTP transfer")));
	transfer->body_cap = BODY_BUFFER_SIZE;

	begin_request(transfer);
	return transfer;
}

/*
 * Responses
 */

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
	return scrub_secrets(transfer->options, text);
}

static void
report_http_status(HttpTransfer *transfer, long status)
{
	char	   *body = error_body_prefix(transfer);

	if (status == 401 || status == 403)
	{
		const char *mapping = transfer->options->user_mapping;

		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("authentication failed for \"%s\" (HTTP status %ld)",
						transfer->display_url, status),
				 errdetail("%s%s%s",
						   mapping ? psprintf("Credentials came from %s.", mapping)
						   : "No user mapping with credentials applies, so none were sent.",
						   body[0] ? " The response began: " : "", body),
				 errhint("Check the credentials in the user mapping (bearer_token, username and password, or headers).")));
	}
	ereport(ERROR,
			(errcode(ERRCODE_FDW_ERROR),
			 errmsg("HTTP request for \"%s\" failed with status %ld",
					transfer->display_url, status),
			 body[0] ? errdetail("The response began: %s", body) : 0));
}

static void
report_transfer_failure(HttpTransfer *transfer)
{
	char	   *reason;

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

	/* as above, curl's texts for timeouts carry varying numbers */
	if (transfer->result == CURLE_OPERATION_TIMEDOUT)
		reason = strncmp(transfer->error_text, "Operation too slow", 18) == 0
			? psprintf("No data arrived for %d seconds (stall_timeout_s).",
					   transfer->options->stall_timeout_s)
			: psprintf("The request took longer than %d ms (timeout_ms).",
					   transfer->options->timeout_ms);
	else
		reason = scrub_secrets(transfer->options,
							   transfer->error_text[0] ? transfer->error_text
							   : curl_easy_strerror(transfer->result));
	ereport(ERROR,
			(errcode(ERRCODE_CONNECTION_FAILURE),
			 errmsg("transfer of \"%s\" failed after %llu bytes",
					transfer->display_url,
					(unsigned long long) transfer->bytes_received),
			 errdetail("%s", reason)));
}

static bool
is_retryable_status(long status)
{
	return status == 429 || status == 500 || status == 502 ||
		status == 503 || status == 504;
}

static bool
is_retryable_failure(CURLcode result)
{
	switch (result)
	{
		case CURLE_COULDNT_RESOLVE_HOST:
		case CURLE_COULDNT_CONNECT:
		case CURLE_OPERATION_TIMEDOUT:
		case CURLE_GOT_NOTHING:
		case CURLE_SEND_ERROR:
		case CURLE_RECV_ERROR:
		case CURLE_PARTIAL_FILE:
		case CURLE_SSL_CONNECT_ERROR:
			return true;
		default:
			return false;
	}
}

/*
 * How long to wait before retry number n (1-based): Retry-After if the
 * server gave one on a 429 or 503, else exponential backoff from
 * retry_delay_ms with "full jitter" between half and all of it, so that
 * many clients do not come back in step.
 */
static long
retry_wait_ms(HttpTransfer *transfer, long status, int n)
{
	curl_off_t	retry_after = 0;
	double		backoff;

	if ((status == 429 || status == 503) &&
		curl_easy_getinfo(transfer->easy, CURLINFO_RETRY_AFTER, &retry_after) == CURLE_OK &&
		retry_after > 0)
		return Min((long) retry_after * 1000, MAX_RETRY_WAIT_MS);

	backoff = (double) transfer->options->retry_delay_ms * (double) (1L << Min(n - 1, 20));
	backoff *= 0.5 + 0.5 * pg_prng_double(&pg_global_prng_state);
	return (long) Min(backoff, (double) MAX_RETRY_WAIT_MS);
}

static void
interruptible_sleep(long ms)
{
	TimestampTz end = GetCurrentTimestamp() + ms * 1000;

	for (;;)
	{
		long		left = (end - GetCurrentTimestamp()) / 1000;

		CHECK_FOR_INTERRUPTS();
		if (left <= 0)
			return;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 left, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/*
 * If the request may be tried again, log why, wait, and send it again;
 * return false if it may not.
 */
static bool
retry_request(HttpTransfer *transfer, bool restart_allowed, long status)
{
	long		wait_ms;
	char	   *reason;

	if (transfer->retries_done >= transfer->options->retries ||
		(transfer->delivered && !restart_allowed))
		return false;
	if (status != 0 ? !is_retryable_status(status)
		: !is_retryable_failure(transfer->result))
		return false;

	transfer->retries_done++;
	wait_ms = retry_wait_ms(transfer, status, transfer->retries_done);
	reason = status != 0 ? psprintf("HTTP status %ld", status)
		: scrub_secrets(transfer->options, curl_easy_strerror(transfer->result));
	ereport(LOG,
			(errmsg("csv_export_fdw: retrying \"%s\" in %ld ms (retry %d of %d): %s",
					transfer->display_url, wait_ms, transfer->retries_done,
					transfer->options->retries, reason)));
	release_request(transfer);
	interruptible_sleep(wait_ms);
	begin_request(transfer);
	return true;
}

/*
 * Follow a redirect response, if it is one: each hop must be http or https
 * and an allowed host, there are at most max_redirects of them, and
 * credentials are only sent to the first URL's origin.
 */
static bool
follow_redirect(HttpTransfer *transfer, long status)
{
	char	   *location = NULL;
	char	   *target;
	char	   *display_target;
	const char *problem;

	if (status != 301 && status != 302 && status != 303 &&
		status != 307 && status != 308)
		return false;
	if (curl_easy_getinfo(transfer->easy, CURLINFO_REDIRECT_URL, &location) != CURLE_OK ||
		location == NULL)
		return false;

	target = pstrdup(location);
	display_target = url_redact(target);
	if ((problem = url_check_http(target)) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("redirect from \"%s\" to \"%s\" refused",
						transfer->display_url, display_target),
				 errdetail("%s", problem)));
	if (transfer->redirects_done >= transfer->options->max_redirects)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("too many redirects fetching \"%s\"", transfer->display_url),
				 errdetail("The limit is %d (option max_redirects).",
						   transfer->options->max_redirects)));

	transfer->redirects_done++;
	transfer->url = target;
	transfer->display_url = display_target;
	/* 307 and 308 repeat the request as it was; the others fetch with GET */
	transfer->post = transfer->post && (status == 307 || status == 308);
	begin_request(transfer);
	return true;
}

/*
 * An export job answered 202 Accepted: ask again later, at its Location (or
 * where we asked, if it gives none), after Retry-After or poll_interval_ms,
 * with GET, until it answers with the export (200) or a redirect to it;
 * for at most poll_timeout_s.
 */
static void
poll_export_job(HttpTransfer *transfer)
{
	const HttpOptions *options = transfer->options;
	char	   *location = http_transfer_header(transfer, "Location");
	curl_off_t	retry_after = 0;
	long		wait_ms = options->poll_interval_ms;

	if (!transfer->polling)
	{
		transfer->polling = true;
		transfer->poll_started = GetCurrentTimestamp();
	}
	if (TimestampDifferenceExceeds(transfer->poll_started, GetCurrentTimestamp(),
								   options->poll_timeout_s * 1000))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("export job at \"%s\" did not finish within poll_timeout_s (%d s)",
						transfer->display_url, options->poll_timeout_s)));
	if (curl_easy_getinfo(transfer->easy, CURLINFO_RETRY_AFTER, &retry_after) == CURLE_OK &&
		retry_after > 0)
		wait_ms = Min((long) retry_after * 1000, MAX_RETRY_WAIT_MS);
	if (location)
	{
		char	   *target = url_resolve(transfer->url, location);

		if (target == NULL || url_check_http(target) != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("export job at \"%s\" gave an invalid Location", transfer->display_url)));
		transfer->url = target;
		transfer->display_url = url_redact(target);
	}
	transfer->post = false;
	release_request(transfer);
	interruptible_sleep(wait_ms);
	begin_request(transfer);
}

static void
check_size_limit(HttpTransfer *transfer)
{
	int64		limit = transfer->options->max_bytes;

	if (limit > 0 && transfer->bytes_received > (uint64) limit)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("response from \"%s\" exceeds max_bytes (%lld bytes)",
						transfer->display_url, (long long) limit)));
}

static void
collect_finished(HttpTransfer *transfer)
{
	CURLMsg    *msg;
	int			queued;

	/* the session's other transfers may have finished too */
	while ((msg = curl_multi_info_read(transfer->multi, &queued)) != NULL)
	{
		HttpTransfer *done = NULL;

		if (msg->msg != CURLMSG_DONE ||
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &done) != CURLE_OK ||
			done == NULL)
			continue;
		done->finished = true;
		done->result = msg->data.result;
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

static void
perform(HttpTransfer *transfer)
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
}

/*
 * Decide what a final response's status means, once its headers are in.
 * Returns true if a new request was sent (redirect or retry).
 */
static bool
handle_status(HttpTransfer *transfer, bool restart_allowed)
{
	long		status = response_status(transfer);

	if (status == 202)
	{
		poll_export_job(transfer);
		return true;
	}
	if (status >= 200 && status <= 299)
	{
		transfer->status_checked = true;
		return false;
	}
	if (follow_redirect(transfer, status) ||
		retry_request(transfer, restart_allowed, status))
		return true;
	/* wait for some of the error body, to show it */
	if (transfer->finished || transfer->paused ||
		transfer->body_len >= ERROR_BODY_PREFIX)
		report_http_status(transfer, status);
	return false;
}

/*
 * The body buffer goes to the caller; the one handed out before (or a new
 * one, the first time) takes its place, held until the next read.
 */
static void
hand_out_body(HttpTransfer *transfer)
{
	char	   *previous = transfer->handed_out;
	size_t		previous_cap = transfer->handed_out_cap;

	if (previous == NULL)
	{
		previous = malloc(BODY_BUFFER_SIZE);
		if (previous == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory while reading an HTTP response")));
		previous_cap = BODY_BUFFER_SIZE;
		transfer->body_held = false;
	}
	else
		transfer->body_held = true;
	transfer->handed_out = transfer->body;
	transfer->handed_out_cap = transfer->body_cap;
	transfer->body = previous;
	transfer->body_cap = previous_cap;
	transfer->body_len = 0;
}

/*
 * Advance the transfer until body bytes are available or it ends.  Retries
 * and redirects happen in here.  A request whose body was partly handed out
 * is only retried if the caller says that is fine (restart_allowed, i.e. no
 * row came of it yet); the caller then gets HTTP_READ_RESTARTED and must
 * forget those bytes.  A failure that is not retried is an ERROR (network
 * error, truncated body, HTTP error status, limits).
 *
 * The bytes returned stay valid until the call after next, so that the
 * caller can parse them while the next ones are read.
 */
HttpReadResult
http_transfer_read(HttpTransfer *transfer, bool restart_allowed,
				   const char **data, size_t *len)
{
	bool		delivered_before = transfer->delivered;

	/*
	 * What was handed out the time before last is done with; what arrived
	 * since (a page fetched ahead fills its buffer before its turn) is kept.
	 */
	if (transfer->body_held)
	{
		transfer->body_len = 0;
		transfer->body_held = false;
	}
	if (transfer->paused)
	{
		transfer->paused = false;
		curl_easy_pause(transfer->easy, CURLPAUSE_CONT);
	}

	for (;;)
	{
		perform(transfer);

		if (transfer->finished && transfer->result != CURLE_OK &&
			!transfer->headers_complete)
		{
			if (!retry_request(transfer, restart_allowed, 0))
				report_transfer_failure(transfer);
			continue;
		}
		if (transfer->headers_complete && !transfer->status_checked &&
			handle_status(transfer, restart_allowed))
			continue;

		if (transfer->status_checked)
		{
			check_size_limit(transfer);
			if (transfer->finished && transfer->result != CURLE_OK)
			{
				if (!retry_request(transfer, restart_allowed, 0))
					report_transfer_failure(transfer);
				if (delivered_before)
					return HTTP_READ_RESTARTED;
				continue;
			}
			if (transfer->body_len > 0)
			{
				*data = transfer->body;
				*len = transfer->body_len;
				transfer->delivered = true;
				hand_out_body(transfer);
				return HTTP_READ_DATA;
			}
			if (transfer->finished)
				return HTTP_READ_END;
		}
		wait_for_socket(transfer);
	}
}

uint64
http_transfer_bytes_received(const HttpTransfer *transfer)
{
	return transfer->total_bytes;
}

int
http_transfer_requests(const HttpTransfer *transfer)
{
	return transfer->requests;
}

/*
 * The value of response header name (case-insensitive; the last one if it
 * repeats), trimmed, or NULL.  Valid once the body has begun.
 */
char *
http_transfer_header(const HttpTransfer *transfer, const char *name)
{
	size_t		name_len = strlen(name);
	const char *line = transfer->headers;
	char	   *value = NULL;

	while (line && *line)
	{
		size_t		len = strcspn(line, "\r\n");

		if (len > name_len && line[name_len] == ':' &&
			pg_strncasecmp(line, name, name_len) == 0)
			value = trim_whitespace(pnstrdup(line + name_len + 1, len - name_len - 1));
		line += len;
		line += strspn(line, "\r\n");
	}
	return value;
}

/* The URL the current response came from, after redirects. */
const char *
http_transfer_url(const HttpTransfer *transfer)
{
	return transfer->url;
}

/*
 * Let the session's transfers move on without waiting: what arrives for
 * transfers nobody is reading is kept (up to their buffers) for later.
 */
void
http_session_advance(HttpSession *session)
{
	int			running;

	(void) curl_multi_perform(session->multi, &running);
}

/* Whether the response's headers are in, so http_transfer_header() works. */
bool
http_transfer_headers_complete(const HttpTransfer *transfer)
{
	return transfer->headers_complete;
}
