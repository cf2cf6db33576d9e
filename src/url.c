/*
 * url.c
 *		Checking, joining and redacting export URLs.
 *
 * Parsing is left to libcurl's URL API so that what we check is exactly
 * what the transfer will use.
 */
#include "postgres.h"

#include <ctype.h>
#include <curl/curl.h>

#include "lib/stringinfo.h"

#include "csv_export_fdw.h"
#include "url.h"

/* Query parameter names containing one of these are treated as secrets. */
static const char *const secret_param_words[] = {
	"token", "key", "secret", "sig", "pass", "pwd", "auth", "credential",
	"session", NULL
};

/*
 * Returns NULL if url is an absolute http or https URL with a host, else a
 * sentence saying what is wrong with it.
 */
const char *
url_check_http(const char *url)
{
	CURLU	   *handle = curl_url();
	char	   *scheme = NULL;
	char	   *host = NULL;
	const char *problem = NULL;

	if (handle == NULL)
		return "Out of memory while parsing the URL.";
	if (curl_url_set(handle, CURLUPART_URL, url, 0) != CURLUE_OK)
		problem = "It is not an absolute URL.";
	else if (curl_url_get(handle, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
			 (pg_strcasecmp(scheme, "http") != 0 && pg_strcasecmp(scheme, "https") != 0))
		problem = "Only http and https URLs are supported.";
	else if (curl_url_get(handle, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
			 host[0] == '\0')
		problem = "The URL has no host.";

	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(handle);
	return problem;
}

/* base_url and path joined by exactly one slash. */
char *
url_join(const char *base_url, const char *path)
{
	size_t		base_len = strlen(base_url);

	while (base_len > 0 && base_url[base_len - 1] == '/')
		base_len--;
	while (*path == '/')
		path++;
	return psprintf("%.*s/%s", (int) base_len, base_url, path);
}

static bool
is_secret_param(const char *name, size_t len)
{
	char	   *lowered = pnstrdup(name, len);
	bool		secret = false;
	int			i;

	for (i = 0; lowered[i]; i++)
		lowered[i] = pg_ascii_tolower((unsigned char) lowered[i]);
	for (i = 0; secret_param_words[i] != NULL && !secret; i++)
		secret = (strstr(lowered, secret_param_words[i]) != NULL);
	pfree(lowered);
	return secret;
}

/*
 * The query string with the values of secret-looking parameters replaced.
 * Parameters are separated by '&' or, as some servers take them, ';'; each
 * separator is kept as it was.
 */
static char *
redact_query(const char *query)
{
	StringInfoData out;
	const char *param = query;

	initStringInfo(&out);
	while (*param)
	{
		size_t		param_len = strcspn(param, "&;");
		size_t		name_len = strcspn(param, "=&;");

		if (name_len < param_len && is_secret_param(param, name_len))
			appendStringInfo(&out, "%.*s=redacted", (int) name_len, param);
		else
			appendBinaryStringInfo(&out, param, param_len);
		param += param_len;
		if (*param == '&' || *param == ';')
			appendStringInfoChar(&out, *param++);
	}
	return out.data;
}

/*
 * Percent-escapes in upper case, as RFC 3986 recommends: libcurl's URL
 * parser writes them in lower case in some versions and upper in others,
 * and a URL in a message should read the same whichever is installed.
 */
static char *
uppercase_escapes(char *url)
{
	char	   *c;

	for (c = url; *c; c++)
		if (c[0] == '%' && isxdigit((unsigned char) c[1]) && isxdigit((unsigned char) c[2]))
		{
			c[1] = pg_toupper((unsigned char) c[1]);
			c[2] = pg_toupper((unsigned char) c[2]);
			c += 2;
		}
	return url;
}

/*
 * A form of url that is safe to show in EXPLAIN, errors and logs: no user
 * name or password, no fragment, and no values of query parameters that
 * look like credentials.
 */
char *
url_redact(const char *url)
{
	CURLU	   *handle = curl_url();
	char	   *query = NULL;
	char	   *redacted_query = NULL;
	char	   *full = NULL;
	char	   *result = NULL;

	if (handle == NULL || curl_url_set(handle, CURLUPART_URL, url, 0) != CURLUE_OK)
	{
		curl_url_cleanup(handle);
		return pstrdup("(unparsable URL)");
	}

	PG_TRY();
	{
		curl_url_set(handle, CURLUPART_USER, NULL, 0);
		curl_url_set(handle, CURLUPART_PASSWORD, NULL, 0);
		curl_url_set(handle, CURLUPART_FRAGMENT, NULL, 0);
		if (curl_url_get(handle, CURLUPART_QUERY, &query, 0) == CURLUE_OK)
		{
			redacted_query = redact_query(query);
			curl_url_set(handle, CURLUPART_QUERY, redacted_query, 0);
		}
		if (curl_url_get(handle, CURLUPART_URL, &full, 0) == CURLUE_OK)
			result = pstrdup(full);
		else
			result = pstrdup("(unparsable URL)");
	}
	PG_FINALLY();
	{
		curl_free(query);
		curl_free(full);
		curl_url_cleanup(handle);
	}
	PG_END_TRY();

	if (redacted_query)
		pfree(redacted_query);
	return uppercase_escapes(result);
}

/* Percent-encode everything but RFC 3986's unreserved characters. */
static void
append_url_encoded(StringInfo out, const char *text)
{
	const unsigned char *c;

	for (c = (const unsigned char *) text; *c; c++)
	{
		if (isalnum(*c) || *c == '-' || *c == '.' || *c == '_' || *c == '~')
			appendStringInfoChar(out, (char) *c);
		else
			appendStringInfo(out, "%%%02X", *c);
	}
}

/* url with "name=value" added to its query string, both encoded. */
char *
url_add_query_param(const char *url, const char *name, const char *value)
{
	StringInfoData out;
	const char *fragment = strchr(url, '#');
	int			base_len = fragment ? (int) (fragment - url) : (int) strlen(url);

	initStringInfo(&out);
	appendBinaryStringInfo(&out, url, base_len);
	appendStringInfoChar(&out, memchr(url, '?', base_len) ? '&' : '?');
	append_url_encoded(&out, name);
	appendStringInfoChar(&out, '=');
	append_url_encoded(&out, value);
	if (fragment)
		appendStringInfoString(&out, fragment);
	return out.data;
}

/*
 * A part of url (resolved against base, if given) from libcurl's parser, as
 * a palloc'd string; NULL if it does not parse or lacks the part.  flags go
 * to curl_url_get().
 */
static char *
url_part(const char *base, const char *url, CURLUPart part, unsigned int flags)
{
	CURLU	   *handle = curl_url();
	char	   *value = NULL;
	char	   *result = NULL;

	if (handle != NULL &&
		(base == NULL || curl_url_set(handle, CURLUPART_URL, base, 0) == CURLUE_OK) &&
		curl_url_set(handle, CURLUPART_URL, url, 0) == CURLUE_OK &&
		curl_url_get(handle, part, &value, flags) == CURLUE_OK)
	{
		/* copy before anything can throw, so the curl strings are freed */
		result = strdup(value);
	}
	curl_free(value);
	curl_url_cleanup(handle);
	if (result == NULL)
		return NULL;
	value = pstrdup(result);
	free(result);
	return value;
}

/* Lower-cased host of url, and its port (the scheme's default if none). */
char *
url_host_port(const char *url, int *port)
{
	char	   *host = url_part(NULL, url, CURLUPART_HOST, 0);
	char	   *port_text = url_part(NULL, url, CURLUPART_PORT, CURLU_DEFAULT_PORT);
	char	   *c;

	*port = port_text ? atoi(port_text) : 0;
	if (host)
		for (c = host; *c; c++)
			*c = pg_ascii_tolower((unsigned char) *c);
	return host;
}

/* "scheme://host:port" of url, to tell whether two URLs share an origin. */
char *
url_origin(const char *url)
{
	char	   *scheme = url_part(NULL, url, CURLUPART_SCHEME, 0);
	int			port;
	char	   *host = url_host_port(url, &port);

	if (scheme == NULL || host == NULL)
		return NULL;
	return psprintf("%s://%s:%d", scheme, host, port);
}

/* ref (absolute, or relative as in a Link header) resolved against base. */
char *
url_resolve(const char *base, const char *ref)
{
	return url_part(base, ref, CURLUPART_URL, 0);
}

/* url with query parameter name set to value: replaced if present, else added. */
char *
url_with_param(const char *url, const char *name, const char *value)
{
	const char *query = strchr(url, '?');
	const char *fragment = strchr(url, '#');
	size_t		name_len = strlen(name);
	StringInfoData kept;
	const char *param;

	if (query == NULL || (fragment && fragment < query))
		return url_add_query_param(url, name, value);

	initStringInfo(&kept);
	appendBinaryStringInfo(&kept, url, query - url);
	for (param = query + 1; *param && *param != '#';)
	{
		size_t		len = strcspn(param, "&#");

		if (!(len >= name_len && strncmp(param, name, name_len) == 0 &&
			  (len == name_len || param[name_len] == '=')))
			appendStringInfo(&kept, "%c%.*s", strchr(kept.data, '?') ? '&' : '?',
							 (int) len, param);
		param += len;
		if (*param == '&')
			param++;
	}
	if (fragment)
		appendStringInfoString(&kept, fragment);
	return url_add_query_param(kept.data, name, value);
}
