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
 * - Compressed bodies (Content-Encoding gzip or deflate) are decoded here
 *   with zlib, not by libcurl: at most one output buffer per read, so a
 *   body that compresses 1000:1 reads in bounded memory, max_bytes counts
 *   what it decodes to, and a stream that ends before its end marker is a
 *   broken transfer.  (libcurl's decoding takes a body cut before the gzip
 *   trailer for complete, and gives up at 64 MB of decoded bytes held while
 *   the transfer is paused.)
 */
#include "postgres.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <zlib.h>

#include "common/base64.h"
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
#include "decoder.h"
#include "http.h"
#include "option.h"
#include "url.h"

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
/* Response headers kept, for Link and cursor headers; more is an ERROR. */
#define MAX_RESPONSE_HEADERS	(64 * 1024)

/* csv_export_fdw.allowed_hosts */
static char *allowed_hosts = NULL;

/*
 * csv_export_fdw.blocked_networks: addresses no request may connect to,
 * whatever a URL's host resolves to; checked by libcurl's open-socket
 * callback, before any packet is sent.  The default is the link-local
 * ranges, where cloud metadata services answer, and the metadata addresses
 * outside them.
 */
#define DEFAULT_BLOCKED_NETWORKS \
	"169.254.0.0/16, fe80::/10, fd00:ec2::254/128, 100.100.100.200/32"
#define MAX_BLOCKED_NETWORKS 64

typedef struct Network
{
	int			family;			/* AF_INET or AF_INET6 */
	unsigned char address[16];
	int			prefix_bits;
} Network;

static char *blocked_networks_setting = NULL;
static Network blocked_networks[MAX_BLOCKED_NETWORKS];
static int	n_blocked_networks = 0;

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

/*
 * A layer of decoding of a response's body: Content-Encoding (the
 * transport's), then the body's own compression (a .csv.gz served as is).
 * Each takes the bytes of the layer below and hands out what they decode
 * to, in bounded memory; malloc'd (decoder.c).
 */
typedef struct BodyLayer
{
	Decoder    *decoder;		/* NULL: the bytes pass as they are */
	bool		decided;		/* whether (and how) this response is decoded */
	uint64		bytes_out;		/* over the response */
	char		name[32];		/* the encoding or compression, for messages */
} BodyLayer;

enum
{
	LAYER_CONTENT_ENCODING,
	LAYER_COMPRESSION,
	BODY_LAYERS
};

struct HttpTransfer
{
	char		blocked_address[INET6_ADDRSTRLEN];	/* refused by open_socket() */
	MemoryContext context;		/* the transfer's: URLs of later requests too */
	const HttpOptions *options;
	char	   *url;			/* current: after redirects */
	char	   *display_url;	/* the same, redacted, for messages */
	char	   *origin;			/* of url, for the checks of each request */
	bool		not_modified;	/* a 304 to a conditional request */
	bool		forbidden_returned; /* a 403 is the caller's (an expired file URL) */
	bool		forbidden;		/* this response is such a 403 */

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
	bool		headers_too_large;	/* more than MAX_RESPONSE_HEADERS */
	bool		headers_complete;	/* of a final (non-1xx) response */
	BodyLayer	layers[BODY_LAYERS];

	/*
	 * compression 'auto': the first bytes after Content-Encoding, kept to be
	 * told apart by their magic, then handed on, with the rest of the read
	 * they came in
	 */
	unsigned char sniffed[COMPRESSION_MAGIC_LENGTH];
	size_t		sniffed_len;
	const char *after_sniffed;
	size_t		after_sniffed_len;
	TimestampTz last_progress;	/* when a byte last arrived, for stall_timeout_s */
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
	uint64		total_decoded_bytes;	/* handed out, after every layer */
	uint64		decoded_received;	/* the same, of the current request */

	MemoryContextCallback release_callback;
};

/* "a.b.c.d[/bits]" or "v6[/bits]" into *network; false if it is neither */
static bool
parse_network(const char *text, Network *network)
{
	char		address[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(text, '/');
	size_t		len = slash ? (size_t) (slash - text) : strlen(text);
	int			max_bits;
	char	   *end;

	if (len == 0 || len >= sizeof(address))
		return false;
	memcpy(address, text, len);
	address[len] = '\0';
	memset(network, 0, sizeof(Network));
	if (inet_pton(AF_INET, address, network->address) == 1)
		network->family = AF_INET;
	else if (inet_pton(AF_INET6, address, network->address) == 1)
		network->family = AF_INET6;
	else
		return false;
	max_bits = network->family == AF_INET ? 32 : 128;
	network->prefix_bits = max_bits;
	if (slash)
	{
		long		bits = strtol(slash + 1, &end, 10);

		if (end == slash + 1 || *end != '\0' || bits < 0 || bits > max_bits)
			return false;
		network->prefix_bits = (int) bits;
	}
	return true;
}

/* the setting's entries into networks[]; the number, or -1 at a bad one */
static int
parse_networks(const char *setting, Network *networks, char **bad_entry)
{
	char	   *copy = pstrdup(setting);
	char	   *entry;
	char	   *saveptr = NULL;
	int			n = 0;

	for (entry = strtok_r(copy, ", \t", &saveptr); entry; entry = strtok_r(NULL, ", \t", &saveptr))
	{
		if (n == MAX_BLOCKED_NETWORKS || !parse_network(entry, &networks[n]))
		{
			*bad_entry = entry;
			return -1;
		}
		n++;
	}
	return n;
}

static bool
check_blocked_networks(char **newval, void **extra, GucSource source)
{
	Network		networks[MAX_BLOCKED_NETWORKS];
	char	   *bad_entry = NULL;

	if (parse_networks(*newval, networks, &bad_entry) >= 0)
		return true;
	GUC_check_errdetail("\"%s\" is not an IPv4 or IPv6 address or network, or there are more than %d.",
						bad_entry, MAX_BLOCKED_NETWORKS);
	return false;
}

static void
assign_blocked_networks(const char *newval, void *extra)
{
	char	   *bad_entry = NULL;

	n_blocked_networks = Max(parse_networks(newval, blocked_networks, &bad_entry), 0);
}

/* whether address (of family) lies in one of blocked_networks[] */
static bool
address_blocked(int family, const unsigned char *address)
{
	int			i;

	for (i = 0; i < n_blocked_networks; i++)
	{
		const Network *network = &blocked_networks[i];
		int			full_bytes = network->prefix_bits / 8;
		int			rest_bits = network->prefix_bits % 8;

		if (network->family != family ||
			memcmp(network->address, address, full_bytes) != 0)
			continue;
		if (rest_bits == 0 ||
			((network->address[full_bytes] ^ address[full_bytes]) & (0xFF << (8 - rest_bits))) == 0)
			return true;
	}
	return false;
}

/*
 * Curl open-socket callback: every connection goes through here with the
 * address it is for, after name resolution and before a socket exists.
 * No ereport (see the top of the file): a refusal is noted for later.
 */
static curl_socket_t
open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *address)
{
	HttpTransfer *transfer = arg;
	const unsigned char *bytes = NULL;

	if (address->family == AF_INET)
		bytes = (const unsigned char *) &((struct sockaddr_in *) &address->addr)->sin_addr;
	else if (address->family == AF_INET6)
		bytes = (const unsigned char *) &((struct sockaddr_in6 *) &address->addr)->sin6_addr;
	if (bytes && address_blocked(address->family, bytes))
	{
		inet_ntop(address->family, bytes, transfer->blocked_address,
				  sizeof(transfer->blocked_address));
		return CURL_SOCKET_BAD;
	}
	return socket(address->family, address->socktype, address->protocol);
}

void
http_global_init(void)
{
	if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("could not initialize libcurl")));

	DefineCustomStringVariable("csv_export_fdw.blocked_networks",
							   "Networks csv_export_fdw never connects to.",
							   "A comma-separated list of addresses or CIDR networks, IPv4 or IPv6, "
							   "checked against every address a request would connect to.",
							   &blocked_networks_setting,
							   DEFAULT_BLOCKED_NETWORKS,
							   PGC_SUSET,
							   GUC_LIST_INPUT,
							   check_blocked_networks, assign_blocked_networks, NULL);
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
 * Every request (redirects, pages and polls included) goes only where the
 * server's owner decided: the origin of its base_url, or one of its
 * allowed_origins.  A role that may create tables on a server cannot point
 * them anywhere else.
 */
static void
check_origin_allowed(HttpTransfer *transfer)
{
	const HttpOptions *options = transfer->options;
	const char *origin = transfer->origin;
	ListCell   *lc;

	if (origin && options->home_origin && strcmp(origin, options->home_origin) == 0)
		return;
	foreach(lc, options->allowed_origins)
	{
		const char *allowed = lfirst(lc);

		if (strcmp(allowed, "*") == 0 || (origin && strcmp(allowed, origin) == 0))
			return;
	}
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("server \"%s\" does not allow requests to %s",
					options->server_name, origin ? origin : "this URL"),
			 errdetail("The URL is \"%s\".", transfer->display_url),
			 errhint("The server's owner decides where its tables fetch from: the origin of its base_url, and those in its option allowed_origins.")));
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
 * The form in which basic authentication sends the user name and password:
 * base64 of "user:password", which an echo of the Authorization header
 * shows as it is.  NULL without a user name.
 */
static char *
basic_credentials(const HttpOptions *options)
{
	char	   *plain;
	char	   *encoded;
	int			len;

	if (options->username == NULL)
		return NULL;
	plain = psprintf("%s:%s", options->username, options->password ? options->password : "");
	encoded = palloc(pg_b64_enc_len(strlen(plain)) + 1);
	len = compat_b64_encode(plain, strlen(plain), encoded, pg_b64_enc_len(strlen(plain)));
	encoded[Max(len, 0)] = '\0';
	return encoded;
}

/*
 * text with the secrets of options replaced, in every form in which they
 * are sent, for messages that quote what a server said: an API may echo a
 * token or an Authorization header back in an error page.
 */
static char *
scrub_secrets(const HttpOptions *options, const char *text)
{
	char	   *result = pstrdup(text);
	const char *secrets[3] = {options->bearer_token, options->password,
	basic_credentials(options)};
	ListCell   *lc;
	size_t		i;

	for (i = 0; i < lengthof(secrets); i++)
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

/* a new response: its layers are decided anew */
static void
release_decoders(HttpTransfer *transfer)
{
	int			i;

	for (i = 0; i < BODY_LAYERS; i++)
	{
		decoder_destroy(transfer->layers[i].decoder);
		memset(&transfer->layers[i], 0, sizeof(BodyLayer));
	}
	transfer->sniffed_len = 0;
	transfer->after_sniffed_len = 0;
}

static void
release_transfer(void *arg)
{
	HttpTransfer *transfer = arg;

	release_request(transfer);
	release_decoders(transfer);
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
	transfer->last_progress = GetCurrentTimestamp();
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

	transfer->last_progress = GetCurrentTimestamp();
	if (len <= 2 && (data[0] == '\r' || data[0] == '\n'))
	{
		curl_easy_getinfo(transfer->easy, CURLINFO_RESPONSE_CODE, &status);
		if (status >= 200)
			transfer->headers_complete = true;
		return len;
	}
	/*
	 * A status line starts a response: keep only the latest one's headers.
	 * Dropping the lines past the cap would silently lose a Link or cursor
	 * header, and with it the rest of a paged export: stop instead.
	 */
	if (len > 5 && strncmp(data, "HTTP/", 5) == 0)
		transfer->headers_len = 0;
	else if (transfer->headers_len + len > MAX_RESPONSE_HEADERS)
	{
		transfer->headers_too_large = true;
		return 0;
	}
	else
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

/*
 * Credentials, only for the origin of the server's base_url: the server's
 * owner decides where they go, never whoever made the table or its URL.
 */
static bool
set_credentials(HttpTransfer *transfer)
{
	const HttpOptions *options = transfer->options;
	CURL	   *easy = transfer->easy;
	const char *origin = transfer->origin;
	bool		ok = true;
	ListCell   *lc;

	if (origin == NULL || options->home_origin == NULL ||
		strcmp(origin, options->home_origin) != 0)
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

/* whether headers ("Name: value" strings) has one named name */
static bool
has_header(List *headers, const char *name)
{
	size_t		name_len = strlen(name);
	ListCell   *lc;

	foreach(lc, headers)
	{
		const char *header = lfirst(lc);

		if (pg_strncasecmp(header, name, name_len) == 0 && header[name_len] == ':')
			return true;
	}
	return false;
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
	ok &= curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, (long) options->connect_timeout_ms) == CURLE_OK;
	ok &= curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long) options->timeout_ms) == CURLE_OK;
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
	ok &= curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, open_socket) == CURLE_OK;
	ok &= curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, transfer) == CURLE_OK;

	foreach(lc, options->headers)
		ok &= add_header(transfer, lfirst(lc));
	/* compressed bodies are decoded here, see http_transfer_read() */
	if (!has_header(options->headers, "Accept-Encoding"))
		ok &= add_header(transfer, "Accept-Encoding: gzip, deflate");
	ok &= set_credentials(transfer);
	ok &= curl_easy_setopt(easy, CURLOPT_HTTPHEADER, transfer->header_list) == CURLE_OK;
	return ok;
}

/* the origin of transfer->url (NULL if none), kept as long as the transfer */
static void
set_origin(HttpTransfer *transfer)
{
	MemoryContext old_context = MemoryContextSwitchTo(transfer->context);

	transfer->origin = url_origin(transfer->url);
	MemoryContextSwitchTo(old_context);
}

/*
 * Send a request for transfer->url, replacing any earlier one.  The body an
 * earlier one got (a redirect's, a 202's, a failed try's) does not count.
 */
static void
begin_request(HttpTransfer *transfer)
{
	release_request(transfer);
	release_decoders(transfer);
	transfer->total_bytes -= transfer->bytes_received;
	transfer->total_decoded_bytes -= transfer->decoded_received;
	transfer->decoded_received = 0;
	set_origin(transfer);
	check_origin_allowed(transfer);
	check_host_allowed(transfer->url, transfer->display_url);
	transfer->blocked_address[0] = '\0';

	transfer->body_len = 0;
	transfer->paused = false;
	transfer->headers_too_large = false;
	transfer->headers_complete = false;
	transfer->last_progress = GetCurrentTimestamp();
	transfer->status_checked = false;
	transfer->not_modified = false;
	transfer->forbidden = false;
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
 * Start fetching url (display_url: the same, redacted by the caller, for
 * messages).  The transfer lives as long as CurrentMemoryContext; resetting
 * or deleting that context aborts it and frees everything.
 */
HttpTransfer *
http_transfer_start(HttpSession *session, const HttpOptions *options, const char *url,
					const char *display_url)
{
	HttpTransfer *transfer = palloc0(sizeof(HttpTransfer));

	transfer->context = CurrentMemoryContext;
	transfer->multi = session->multi;
	transfer->options = options;
	transfer->post = options->post;
	transfer->url = pstrdup(url);
	transfer->display_url = pstrdup(display_url);
	if (url_origin(url) == NULL)
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

/* whether a Content-Encoding is one decoded here (with zlib) */
static bool
is_decoded_encoding(const char *encoding)
{
	return pg_strcasecmp(encoding, "gzip") == 0 || pg_strcasecmp(encoding, "x-gzip") == 0 ||
		pg_strcasecmp(encoding, "deflate") == 0;
}

/* Printable start of an error response body, for DETAIL; decoded if need be. */
static char *
error_body_prefix(HttpTransfer *transfer)
{
	char		decoded[ERROR_BODY_PREFIX];
	const char *body = transfer->body;
	int			len = Min(transfer->body_len, ERROR_BODY_PREFIX);
	char	   *encoding = http_transfer_header(transfer, "Content-Encoding");
	char	   *text;
	int			i;

	if (encoding && is_decoded_encoding(encoding))
	{
		z_stream	stream;

		memset(&stream, 0, sizeof(stream));
		len = 0;
		if (inflateInit2(&stream, 15 + 32) == Z_OK)
		{
			stream.next_in = (Bytef *) transfer->body;
			stream.avail_in = (uInt) transfer->body_len;
			stream.next_out = (Bytef *) decoded;
			stream.avail_out = sizeof(decoded);
			(void) inflate(&stream, Z_SYNC_FLUSH);
			len = sizeof(decoded) - stream.avail_out;
			inflateEnd(&stream);
		}
		body = decoded;
	}
	len = pg_encoding_verifymbstr(GetDatabaseEncoding(), body, len);
	text = pnstrdup(body, len);
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

/*
 * Whether the request was sent, so that the server may have acted on it:
 * libcurl counts the bytes of the request it sent (its timings are no
 * guide: some versions set them for a connection that failed).
 */
static bool
request_sent(HttpTransfer *transfer)
{
	long		request_size = 0;

	return curl_easy_getinfo(transfer->easy, CURLINFO_REQUEST_SIZE, &request_size) == CURLE_OK &&
		request_size > 0;
}

/*
 * What a failure means, in our words for the common ones: libcurl's texts
 * differ from version to version ("Couldn't connect to server" became
 * "Could not connect to server"), and some carry varying numbers.  NULL
 * for the others.
 */
static const char *
failure_text(CURLcode result)
{
	switch (result)
	{
		case CURLE_COULDNT_RESOLVE_HOST:
			return _("The host name could not be resolved.");
		case CURLE_COULDNT_CONNECT:
			return _("No connection to the server could be made.");
		case CURLE_PEER_FAILED_VERIFICATION:
			return _("The server's TLS certificate could not be verified.");
		case CURLE_SSL_CONNECT_ERROR:
			return _("The TLS handshake with the server failed.");
		case CURLE_GOT_NOTHING:
			return _("The server closed the connection without a response.");
		case CURLE_PARTIAL_FILE:
			return _("The connection closed before the whole body arrived.");
		case CURLE_RECV_ERROR:
			return _("The connection failed while receiving.");
		case CURLE_SEND_ERROR:
			return _("The connection failed while sending.");
		default:
			return NULL;
	}
}

/* libcurl 7 says "out of memory" for a header line past its limit, 8 "too large" */
static bool
is_header_line_too_long(HttpTransfer *transfer)
{
	if (transfer->headers_complete)
		return false;
#if LIBCURL_VERSION_NUM >= 0x080600	/* CURLE_TOO_LARGE, an enum value */
	if (transfer->result == CURLE_TOO_LARGE)
		return true;
#endif
	return transfer->result == CURLE_OUT_OF_MEMORY;
}

static void
report_transfer_failure(HttpTransfer *transfer)
{
	const char *known = failure_text(transfer->result);

	char	   *reason;

	if (transfer->out_of_memory)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory while receiving \"%s\"", transfer->display_url)));
	if (transfer->blocked_address[0])
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("address %s of \"%s\" is blocked",
						transfer->blocked_address, transfer->display_url),
				 errhint("The setting csv_export_fdw.blocked_networks lists the networks csv_export_fdw never connects to.")));
	if (transfer->headers_too_large)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("response headers from \"%s\" exceed %d kB",
						transfer->display_url, MAX_RESPONSE_HEADERS / 1024)));
	/* libcurl's own limit on one header line, which it reports so */
	if (is_header_line_too_long(transfer))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("a response header from \"%s\" is too long",
						transfer->display_url),
				 errdetail("libcurl accepts header lines of up to %d bytes.",
						   CURL_MAX_HTTP_HEADER)));

	/*
	 * curl's own text for a failed connection carries a varying time ("after
	 * 3 ms"); its error code's text says the same, steadily.
	 */
	if (response_status(transfer) == 0 && !request_sent(transfer))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
				 errmsg("could not fetch \"%s\"", transfer->display_url),
				 known ? errdetail("%s", known) :
				 errdetail("%s.", curl_easy_strerror(transfer->result))));

	/* as above, curl's texts for timeouts carry varying numbers */
	if (transfer->result == CURLE_OPERATION_TIMEDOUT)
		reason = transfer->headers_complete
			? psprintf("The request took longer than %d ms (timeout_ms).",
					   transfer->options->timeout_ms)
			: psprintf("The response headers were not complete within %d ms (timeout_ms).",
					   transfer->options->timeout_ms);
	else if (known)
		reason = pstrdup(known);
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

/*
 * stall_timeout_s: no byte at all for that long, while we are waiting for
 * one (a transfer paused because its reader is busy is not stalled).
 */
static void
check_stall(HttpTransfer *transfer)
{
	int			stall_s = transfer->options->stall_timeout_s;

	if (stall_s <= 0 || transfer->paused)
		return;
	if (TimestampDifferenceExceeds(transfer->last_progress, GetCurrentTimestamp(),
								   stall_s * 1000))
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("transfer of \"%s\" stalled after %llu bytes",
						transfer->display_url,
						(unsigned long long) transfer->bytes_received),
				 errdetail_plural("No data arrived for %d second (stall_timeout_s).",
								  "No data arrived for %d seconds (stall_timeout_s).",
								  stall_s, stall_s)));
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
 * A POST that starts an export job is not idempotent: sent twice, it may
 * start two jobs.  It is sent again only when it cannot have been
 * processed: the request was never sent, or the API answered 429 or
 * 503 with a Retry-After, which says "not now, come back".
 */
static bool
post_safe_to_repeat(HttpTransfer *transfer, long status)
{
	curl_off_t	retry_after = 0;

	if (status == 0)
		return !request_sent(transfer);
	return (status == 429 || status == 503) &&
		curl_easy_getinfo(transfer->easy, CURLINFO_RETRY_AFTER, &retry_after) == CURLE_OK &&
		retry_after > 0;
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

/*
 * What pg_stat_activity shows while a backend waits on the network
 * ("CsvExportFdwHttp") or before a retry or poll ("CsvExportFdwRetry"):
 * named wait events from 17 on, the generic "Extension" before.
 */
static uint32
wait_event(bool retry)
{
#if PG_VERSION_NUM >= 170000
	static uint32 http_event = 0;
	static uint32 retry_event = 0;

	if (http_event == 0)
	{
		http_event = WaitEventExtensionNew("CsvExportFdwHttp");
		retry_event = WaitEventExtensionNew("CsvExportFdwRetry");
	}
	return retry ? retry_event : http_event;
#else
	return PG_WAIT_EXTENSION;
#endif
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
						 left, wait_event(true));
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
	const char *known;

	if (transfer->retries_done >= transfer->options->retries ||
		(transfer->delivered && !restart_allowed))
		return false;
	if (status != 0 ? !is_retryable_status(status)
		: !is_retryable_failure(transfer->result))
		return false;
	if (transfer->post && !post_safe_to_repeat(transfer, status))
		return false;

	transfer->retries_done++;
	wait_ms = retry_wait_ms(transfer, status, transfer->retries_done);
	if (status != 0)
		reason = psprintf("HTTP status %ld", status);
	else if ((known = failure_text(transfer->result)) != NULL)
		reason = pstrdup(known);
	else
		reason = scrub_secrets(transfer->options, curl_easy_strerror(transfer->result));
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
	MemoryContext old_context;

	if (status != 301 && status != 302 && status != 303 &&
		status != 307 && status != 308)
		return false;
	if (curl_easy_getinfo(transfer->easy, CURLINFO_REDIRECT_URL, &location) != CURLE_OK ||
		location == NULL)
		return false;

	/* the new URL lives as long as the transfer, not the current row */
	old_context = MemoryContextSwitchTo(transfer->context);
	target = pstrdup(location);
	display_target = url_redact(target);
	MemoryContextSwitchTo(old_context);
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
	long		left_ms;

	if (!transfer->polling)
	{
		transfer->polling = true;
		transfer->poll_started = GetCurrentTimestamp();
	}
	left_ms = options->poll_timeout_s * 1000L -
		(long) ((GetCurrentTimestamp() - transfer->poll_started) / 1000);
	if (left_ms <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("export job at \"%s\" did not finish within poll_timeout_s (%d s)",
						transfer->display_url, options->poll_timeout_s)));
	if (curl_easy_getinfo(transfer->easy, CURLINFO_RETRY_AFTER, &retry_after) == CURLE_OK &&
		retry_after > 0)
		wait_ms = Min((long) retry_after * 1000, MAX_RETRY_WAIT_MS);
	/* never past poll_timeout_s, whatever Retry-After asks for */
	wait_ms = Min(wait_ms, left_ms);
	if (location)
	{
		MemoryContext old_context = MemoryContextSwitchTo(transfer->context);
		char	   *target = url_resolve(transfer->url, location);

		if (target == NULL || url_check_http(target) != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("export job at \"%s\" gave an invalid Location", transfer->display_url)));
		transfer->url = target;
		transfer->display_url = url_redact(target);
		MemoryContextSwitchTo(old_context);
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
	pgstat_report_wait_start(wait_event(false));
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
	/* a pre-signed URL that expired: the caller gets a new one */
	if (status == 403 && transfer->forbidden_returned)
	{
		transfer->status_checked = true;
		transfer->forbidden = true;
		return false;
	}
	/* asked with validators: the export has not changed, and has no body */
	if (status == 304 && transfer->options->conditional)
	{
		transfer->status_checked = true;
		transfer->not_modified = true;
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

/* http_transfer_read() before decoding: the body's bytes as sent */
static HttpReadResult
read_raw(HttpTransfer *transfer, bool restart_allowed, const char **data, size_t *len)
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
		transfer->last_progress = GetCurrentTimestamp();
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
			if (transfer->forbidden)
				return HTTP_READ_FORBIDDEN;
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
		check_stall(transfer);
	}
}

/*
 * Decoding the body
 */

static void
start_layer(HttpTransfer *transfer, int layer, Compression compression, const char *name)
{
	BodyLayer  *body_layer = &transfer->layers[layer];
	BodyLayer  *encoding = &transfer->layers[LAYER_CONTENT_ENCODING];

	body_layer->decided = true;
	strlcpy(body_layer->name, name, sizeof(body_layer->name));
	/* for EXPLAIN: what the body was decoded from */
	if (layer == LAYER_COMPRESSION && compression == COMPRESSION_NONE && encoding->decoder)
		snprintf(body_layer->name, sizeof(body_layer->name), "%s (Content-Encoding)",
				 encoding->name);
	if (compression == COMPRESSION_NONE)
		return;
	body_layer->decoder = decoder_create(compression, BODY_BUFFER_SIZE);
	if (body_layer->decoder == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory while starting to decode \"%s\"", transfer->display_url)));
}

/* Once the headers are in: decode the body if Content-Encoding says so. */
static void
decide_content_encoding(HttpTransfer *transfer)
{
	char	   *encoding = http_transfer_header(transfer, "Content-Encoding");

	if (encoding == NULL || encoding[0] == '\0' || pg_strcasecmp(encoding, "identity") == 0)
		start_layer(transfer, LAYER_CONTENT_ENCODING, COMPRESSION_NONE, "identity");
	else if (is_decoded_encoding(encoding))
		start_layer(transfer, LAYER_CONTENT_ENCODING, COMPRESSION_GZIP, encoding);
	else
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("response from \"%s\" has unsupported Content-Encoding \"%s\"",
						transfer->display_url, encoding),
				 errhint("csv_export_fdw decodes gzip and deflate, and asks for nothing else.")));
}

static void
report_corrupt_body(HttpTransfer *transfer, BodyLayer *body_layer)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("%s response from \"%s\" is not valid",
					body_layer->name, transfer->display_url),
			 errdetail("%s", decoder_error(body_layer->decoder))));
}

/* max_bytes counts what a body decodes to */
static void
count_decoded(HttpTransfer *transfer, BodyLayer *body_layer, size_t len)
{
	int64		limit = transfer->options->max_bytes;

	body_layer->bytes_out += len;
	if (limit > 0 && body_layer->bytes_out > (uint64) limit)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s response from \"%s\" decodes to more than max_bytes (%lld bytes)",
						body_layer->name, transfer->display_url, (long long) limit)));
}

static HttpReadResult read_layer(HttpTransfer *transfer, int layer, bool restart_allowed,
								 const char **data, size_t *len);

/*
 * The bytes a layer takes in: from the layer below, but for the bytes that
 * compression 'auto' read to tell the compression, which come first.
 */
static HttpReadResult
read_below(HttpTransfer *transfer, int layer, bool restart_allowed,
		   const char **data, size_t *len)
{
	if (layer == LAYER_COMPRESSION && transfer->sniffed_len > 0)
	{
		/* not written again in this response: valid as long as needed */
		*data = (const char *) transfer->sniffed;
		*len = transfer->sniffed_len;
		transfer->sniffed_len = 0;
		return HTTP_READ_DATA;
	}
	if (layer == LAYER_COMPRESSION && transfer->after_sniffed_len > 0)
	{
		*data = transfer->after_sniffed;
		*len = transfer->after_sniffed_len;
		transfer->after_sniffed_len = 0;
		return HTTP_READ_DATA;
	}
	if (layer == LAYER_CONTENT_ENCODING)
		return read_raw(transfer, restart_allowed, data, len);
	return read_layer(transfer, layer - 1, restart_allowed, data, len);
}

/*
 * A decoding layer's next bytes, decoded from what the layer below gives;
 * a body that ends inside a compressed stream is a broken transfer.
 */
static HttpReadResult
read_decoded(HttpTransfer *transfer, int layer, bool restart_allowed,
			 const char **data, size_t *len)
{
	BodyLayer  *body_layer = &transfer->layers[layer];

	for (;;)
	{
		HttpReadResult result;
		const char *in;
		size_t		in_len;

		if (decoder_has_input(body_layer->decoder))
		{
			DecoderResult decoded = decoder_decode(body_layer->decoder, data, len);

			if (decoded == DECODER_OUTPUT)
			{
				count_decoded(transfer, body_layer, *len);
				return HTTP_READ_DATA;
			}
			if (decoded == DECODER_ERROR)
				report_corrupt_body(transfer, body_layer);
		}
		result = read_below(transfer, layer, restart_allowed, &in, &in_len);
		if (result == HTTP_READ_DATA)
		{
			decoder_feed(body_layer->decoder, in, in_len);
			continue;
		}
		if (result == HTTP_READ_END && !decoder_at_end(body_layer->decoder))
			ereport(ERROR,
					(errcode(ERRCODE_CONNECTION_FAILURE),
					 errmsg("transfer of \"%s\" failed after %llu bytes",
							transfer->display_url,
							(unsigned long long) transfer->bytes_received),
					 errdetail("The %s stream ended before its end-of-stream marker.",
							   body_layer->name)));
		return result;			/* the end, or a restarted request */
	}
}

/*
 * compression 'auto': what the body is compressed with, by the magic bytes
 * it starts with (after Content-Encoding); they are kept for read_below.
 */
static HttpReadResult
sniff_compression(HttpTransfer *transfer, bool restart_allowed)
{
	Compression compression;

	while (transfer->sniffed_len < COMPRESSION_MAGIC_LENGTH)
	{
		const char *in;
		size_t		in_len;
		size_t		take;
		HttpReadResult result = read_layer(transfer, LAYER_COMPRESSION - 1, restart_allowed,
										   &in, &in_len);

		if (result == HTTP_READ_END)
			break;
		if (result != HTTP_READ_DATA)
			return result;
		take = Min(in_len, COMPRESSION_MAGIC_LENGTH - transfer->sniffed_len);
		memcpy(transfer->sniffed + transfer->sniffed_len, in, take);
		transfer->sniffed_len += take;
		transfer->after_sniffed = in + take;
		transfer->after_sniffed_len = in_len - take;
	}
	compression = compression_by_magic(transfer->sniffed, transfer->sniffed_len);
	start_layer(transfer, LAYER_COMPRESSION, compression, compression_name(compression));
	return HTTP_READ_DATA;
}

/* The next bytes of the body after layer (and the layers below it). */
static HttpReadResult
read_layer(HttpTransfer *transfer, int layer, bool restart_allowed,
		   const char **data, size_t *len)
{
	BodyLayer  *body_layer = &transfer->layers[layer];
	HttpReadResult result;

	if (!body_layer->decided && layer == LAYER_CONTENT_ENCODING)
	{
		/* the first read brings the headers */
		result = read_raw(transfer, restart_allowed, data, len);
		if (result != HTTP_READ_DATA && result != HTTP_READ_END)
			return result;
		decide_content_encoding(transfer);
		if (body_layer->decoder == NULL || result == HTTP_READ_END)
			return result;
		decoder_feed(body_layer->decoder, *data, *len);
		return read_decoded(transfer, layer, restart_allowed, data, len);
	}
	if (!body_layer->decided && transfer->options->compression_auto)
	{
		result = sniff_compression(transfer, restart_allowed);
		if (result != HTTP_READ_DATA)
			return result;
	}
	else if (!body_layer->decided)
		start_layer(transfer, layer, transfer->options->compression,
					compression_name(transfer->options->compression));
	if (body_layer->decoder == NULL)
		return read_below(transfer, layer, restart_allowed, data, len);
	return read_decoded(transfer, layer, restart_allowed, data, len);
}

/*
 * The next bytes of the export: as the server sent them, decoded from its
 * Content-Encoding, and decompressed if the body itself is compressed.
 * Retries and redirects happen in here.  A request whose body was partly
 * handed out is only retried if the caller says that is fine
 * (restart_allowed, i.e. no row came of it yet); the caller then gets
 * HTTP_READ_RESTARTED and must forget those bytes.  A failure that is not
 * retried is an ERROR (network error, truncated body, HTTP error status,
 * limits, data that does not decode).
 *
 * The bytes returned stay valid until the call after next, so that the
 * caller can parse them while the next ones are read.
 */
HttpReadResult
http_transfer_read(HttpTransfer *transfer, bool restart_allowed,
				   const char **data, size_t *len)
{
	HttpReadResult result = read_layer(transfer, BODY_LAYERS - 1, restart_allowed, data, len);

	if (result == HTTP_READ_DATA)
	{
		transfer->decoded_received += *len;
		transfer->total_decoded_bytes += *len;
	}
	return result;
}

/* Bytes handed out, after decoding, over all requests that counted. */
uint64
http_transfer_bytes_decoded(const HttpTransfer *transfer)
{
	return transfer->total_decoded_bytes;
}

/*
 * What the body was decoded from, once its first bytes told it: its own
 * compression, else its Content-Encoding ("gzip (Content-Encoding)"), else
 * "none"; NULL before.  Valid as long as the transfer.
 */
const char *
http_transfer_compression(const HttpTransfer *transfer)
{
	const BodyLayer *compression = &transfer->layers[LAYER_COMPRESSION];

	return compression->decided ? compression->name : NULL;
}

/*
 * A 403 is returned to the caller (HTTP_READ_FORBIDDEN) instead of raised:
 * a file of a manifest whose pre-signed URL has expired, which a new
 * manifest replaces.
 */
void
http_transfer_return_forbidden(HttpTransfer *transfer)
{
	transfer->forbidden_returned = true;
}

/* The 403 that http_transfer_read() returned, raised after all. */
void
http_transfer_report_forbidden(HttpTransfer *transfer)
{
	report_http_status(transfer, 403);
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

/*
 * A validator of the response (ETag, Last-Modified) that may be kept and
 * sent back: printable ASCII, at most VALIDATOR_MAX bytes, and holding
 * none of the request's secrets (an API may echo a token anywhere); NULL
 * otherwise, or if the response has none.
 */
#define VALIDATOR_MAX 512

char *
http_transfer_validator(const HttpTransfer *transfer, const char *name)
{
	char	   *value = http_transfer_header(transfer, name);
	const char *c;

	if (value == NULL || strlen(value) > VALIDATOR_MAX)
		return NULL;
	for (c = value; *c; c++)
		if (*c < 0x20 || *c > 0x7e)
			return NULL;
	if (strcmp(scrub_secrets(transfer->options, value), value) != 0)
		return NULL;
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

/* Whether the answer was 304 Not Modified (to a conditional request). */
bool
http_transfer_not_modified(const HttpTransfer *transfer)
{
	return transfer->not_modified;
}

/* Whether the response's headers are in, so http_transfer_header() works. */
bool
http_transfer_headers_complete(const HttpTransfer *transfer)
{
	return transfer->headers_complete;
}
