/*
 * option.c
 *		Options of csv_export_fdw: which exist where, checking their values,
 *		and resolving them for a foreign table.
 *
 * Values are checked when an option is set (CREATE/ALTER), so a scan only
 * has to combine them.
 */
#include "postgres.h"

#include "access/reloptions.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_foreign_table.h"
#include "catalog/pg_user_mapping.h"
#include "commands/defrem.h"
#include "foreign/foreign.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/fmgrprotos.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/memutils.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/varlena.h"

#include "csv_export_fdw.h"
#include "option.h"
#include "pagination.h"
#include "url.h"

typedef struct CsvExportOption
{
	const char *name;
	Oid			context;		/* catalog the option belongs to */
} CsvExportOption;

static const CsvExportOption valid_options[] = {
	/* where the export is */
	{"base_url", ForeignServerRelationId},
	{"allowed_origins", ForeignServerRelationId},
	{"url", ForeignTableRelationId},
	{"path", ForeignTableRelationId},

	/* how to fetch it: on the server, or per table */
	{"headers", ForeignServerRelationId},
	{"headers", ForeignTableRelationId},
	{"connect_timeout_ms", ForeignServerRelationId},
	{"connect_timeout_ms", ForeignTableRelationId},
	{"timeout_ms", ForeignServerRelationId},
	{"timeout_ms", ForeignTableRelationId},
	{"stall_timeout_s", ForeignServerRelationId},
	{"stall_timeout_s", ForeignTableRelationId},
	{"retries", ForeignServerRelationId},
	{"retries", ForeignTableRelationId},
	{"retry_delay_ms", ForeignServerRelationId},
	{"retry_delay_ms", ForeignTableRelationId},
	{"max_redirects", ForeignServerRelationId},
	{"max_redirects", ForeignTableRelationId},
	{"max_bytes", ForeignServerRelationId},
	{"max_bytes", ForeignTableRelationId},
	{"user_agent", ForeignServerRelationId},
	{"user_agent", ForeignTableRelationId},
	{"ssl_verify", ForeignServerRelationId},
	{"ssl_verify", ForeignTableRelationId},
	{"ca_file", ForeignServerRelationId},
	{"ca_file", ForeignTableRelationId},
	{"proxy", ForeignServerRelationId},
	{"proxy", ForeignTableRelationId},
	{"poll_interval_ms", ForeignServerRelationId},
	{"poll_interval_ms", ForeignTableRelationId},
	{"poll_timeout_s", ForeignServerRelationId},
	{"poll_timeout_s", ForeignTableRelationId},

	/* starting an export job */
	{"method", ForeignTableRelationId},
	{"body", ForeignTableRelationId},

	/* credentials: only in user mappings */
	{"bearer_token", UserMappingRelationId},
	{"username", UserMappingRelationId},
	{"password", UserMappingRelationId},
	{"headers", UserMappingRelationId},

	/* paged exports */
	{"pagination", ForeignTableRelationId},
	{"page_param", ForeignTableRelationId},
	{"page_start", ForeignTableRelationId},
	{"page_size_param", ForeignTableRelationId},
	{"page_size", ForeignTableRelationId},
	{"offset_param", ForeignTableRelationId},
	{"limit_param", ForeignTableRelationId},
	{"cursor_header", ForeignTableRelationId},
	{"cursor_param", ForeignTableRelationId},
	{"max_pages", ForeignTableRelationId},
	{"prefetch_pages", ForeignTableRelationId},

	/* planner's row estimate when the table has not been analyzed */
	{"expected_rows", ForeignTableRelationId},

	/* bad rows */
	{"on_error", ForeignTableRelationId},
	{"reject_limit", ForeignTableRelationId},
	{"max_record_bytes", ForeignTableRelationId},

	/* CSV format */
	{"delimiter", ForeignTableRelationId},
	{"quote", ForeignTableRelationId},
	{"header", ForeignTableRelationId},
	{"header_match", ForeignTableRelationId},
	{"trim_spaces", ForeignTableRelationId},
	{"null", ForeignTableRelationId},
	/* names of columns a sync adds (on_new_columns 'add'), as IMPORT made them */
	{"normalize_names", ForeignTableRelationId},
	{"encoding", ForeignTableRelationId},
	/* the body's own compression: auto, none, gzip, zstd, bzip2, xz */
	{"compression", ForeignTableRelationId},
	/* the export is the files a JSON manifest lists: a JSON path to their URLs */
	{"manifest", ForeignTableRelationId},
	/* the body is a zip or tar archive: the members to read (a glob) */
	{"archive_member", ForeignTableRelationId},

	/* column mapping */
	{"column_name", AttributeRelationId},
	/* query parameter that receives the value of "col > value" quals */
	{"since_param", AttributeRelationId},
	/* a column filled from where the row came from, not from the CSV */
	{"source", AttributeRelationId},

	{NULL, InvalidOid}
};

static bool
is_valid_option(const char *name, Oid context)
{
	const CsvExportOption *opt;

	for (opt = valid_options; opt->name; opt++)
		if (opt->context == context && strcmp(opt->name, name) == 0)
			return true;
	return false;
}

/* The valid option of this context nearest to name, if any is near. */
static const char *
closest_option(const char *name, Oid context)
{
	const CsvExportOption *opt;
	const char *best = NULL;
	int			best_distance = INT_MAX;
	int			name_len = strlen(name);

	for (opt = valid_options; opt->name; opt++)
	{
		int			distance;

		if (opt->context != context)
			continue;
		distance = varstr_levenshtein(name, name_len, opt->name,
									  strlen(opt->name), 1, 1, 1, true);
		if (distance < best_distance)
		{
			best_distance = distance;
			best = opt->name;
		}
	}
	/* a suggestion that needs half the name retyped is no help */
	return (best != NULL && best_distance <= Max(name_len / 2, 1)) ? best : NULL;
}

static void
report_invalid_option(const char *name, Oid context)
{
	const CsvExportOption *opt;
	const char *closest = closest_option(name, context);
	StringInfoData valid;

	if (closest)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("invalid option \"%s\"", name),
				 errhint("Perhaps you meant the option \"%s\".", closest)));

	initStringInfo(&valid);
	for (opt = valid_options; opt->name; opt++)
		if (opt->context == context)
			appendStringInfo(&valid, "%s%s", valid.len > 0 ? ", " : "", opt->name);
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
			 errmsg("invalid option \"%s\"", name),
			 valid.len > 0
			 ? errhint("Valid options in this context are: %s.", valid.data)
			 : errhint("There are no valid options in this context.")));
}

static void
check_url(const char *name, const char *value)
{
	const char *problem = url_check_http(value);

	if (problem)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for option \"%s\"", name),
				 errdetail("%s", problem)));
}

/* whether url is "scheme://host[:port]" with at most a "/" after it */
static bool
names_only_an_origin(const char *url)
{
	const char *rest = strstr(url, "://");

	rest = rest ? rest + 3 : url;
	rest += strcspn(rest, "/?#@");
	return *rest == '\0' || strcmp(rest, "/") == 0;
}

/*
 * allowed_origins: "*", or origins ("https://files.example.com",
 * "http://127.0.0.2:5001") separated by commas or spaces, normalized as
 * url_origin() makes them.  An entry with a path is refused: an origin is
 * all it names.
 */
static List *
parse_allowed_origins(const char *value)
{
	List	   *origins = NIL;
	char	   *copy = pstrdup(value);
	char	   *entry;
	char	   *saveptr = NULL;

	for (entry = strtok_r(copy, ", \t\n", &saveptr); entry;
		 entry = strtok_r(NULL, ", \t\n", &saveptr))
	{
		char	   *origin;

		if (strcmp(entry, "*") == 0)
		{
			origins = lappend(origins, entry);
			continue;
		}
		check_url("allowed_origins", entry);
		origin = url_origin(entry);
		if (origin == NULL || !names_only_an_origin(entry))
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
					 errmsg("invalid value for option \"allowed_origins\""),
					 errdetail("\"%s\" is not an origin (scheme, host and port, no path).", entry)));
		origins = lappend(origins, origin);
	}
	return origins;
}

static void
check_single_byte(const char *name, const char *value)
{
	if (strlen(value) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("%s must be a single one-byte character", name)));
	if (value[0] == '\r' || value[0] == '\n')
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("%s cannot be newline or carriage return", name)));
}

/* Integer options: name, smallest and largest value. */
typedef struct IntegerOption
{
	const char *name;
	int64		min;
	int64		max;
} IntegerOption;

static const IntegerOption integer_options[] = {
	{"connect_timeout_ms", 1, INT_MAX},
	{"timeout_ms", 0, INT_MAX},
	{"stall_timeout_s", 0, INT_MAX / 1000},
	{"retries", 0, 100},
	{"retry_delay_ms", 0, 10 * 60 * 1000},
	{"max_redirects", 0, 50},
	{"max_bytes", 0, PG_INT64_MAX},
	{"expected_rows", 0, PG_INT64_MAX},
	{"page_start", 0, PG_INT64_MAX},
	{"poll_interval_ms", 0, 10 * 60 * 1000},
	{"poll_timeout_s", 1, 7 * 24 * 3600},
	{"page_size", 1, PG_INT64_MAX},
	{"max_pages", 1, INT_MAX},
	{"prefetch_pages", 0, 16},
	{"reject_limit", 0, PG_INT64_MAX},
	{"max_record_bytes", 1, MaxAllocSize},
	{"sample_rows", 1, 1000000},
	{NULL, 0, 0}
};

static const IntegerOption *
find_integer_option(const char *name)
{
	const IntegerOption *opt;

	for (opt = integer_options; opt->name; opt++)
		if (strcmp(opt->name, name) == 0)
			return opt;
	return NULL;
}

static int64
parse_integer_option(const IntegerOption *opt, const char *value)
{
	char	   *end;
	long long	parsed;

	errno = 0;
	parsed = strtoll(value, &end, 10);
	if (errno != 0 || end == value || *end != '\0' ||
		parsed < opt->min || parsed > opt->max)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"", opt->name, value),
				 errdetail("It must be a whole number from " INT64_FORMAT " to " INT64_FORMAT ".",
						   opt->min, opt->max)));
	return (int64) parsed;
}

/* value must be one of the nvalid names in valid, spelled exactly so */
static void
check_one_of(const char *name, const char *value, const char *const *valid, int nvalid)
{
	int			i;

	for (i = 0; i < nvalid; i++)
		if (strcmp(value, valid[i]) == 0)
			return;
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
			 errmsg("invalid value for option \"%s\": \"%s\"", name, value),
			 errhint("Valid values are %s.", quoted_list(valid, nvalid))));
}

/* value must be first or second, spelled exactly so */
static void
check_either(const char *name, const char *value, const char *first, const char *second)
{
	const char *const valid[] = {first, second};

	check_one_of(name, value, valid, 2);
}

static void
check_no_newlines(const char *name, const char *value)
{
	if (strpbrk(value, "\r\n") != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("option \"%s\" cannot contain line breaks", name)));
}

/*
 * A path must make a URL on any server: checked now, joined to a stand-in
 * base, rather than found "unparsable" at the first scan.
 */
static void
check_path(const char *value)
{
	check_no_newlines("path", value);
	check_url("path", url_join("http://localhost", value));
}

/*
 * Headers that decide where or how a request goes rather than what it
 * asks: Host steers a name-based proxy or virtual host past the URL's
 * checks, and the framing headers can smuggle a second request.
 */
static bool
is_routing_header(const char *name, size_t len)
{
	static const char *const routing[] = {
		"Host", "Content-Length", "Transfer-Encoding", "Connection", "Upgrade",
		"TE", "Trailer", "Keep-Alive", "Expect", "Proxy-Authorization",
		"Proxy-Connection", "Forwarded", "X-Forwarded-Host", "X-Forwarded-For",
		"X-Forwarded-Proto", NULL
	};
	int			i;

	for (i = 0; routing[i]; i++)
		if (strlen(routing[i]) == len && pg_strncasecmp(name, routing[i], len) == 0)
			return true;
	return false;
}

/*
 * "Name: value" lines, one header each.  A bad line is named by its number
 * only: in a user mapping it may well hold a secret.
 */
static void
check_headers(const char *value)
{
	const char *line = value;
	int			lineno = 1;

	for (; *line; lineno++)
	{
		size_t		len = strcspn(line, "\n");
		size_t		name_len = strspn(line, "!#$%&'*+-.^_`|~0123456789"
									  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");

		if (len > 0 && (name_len == 0 || name_len >= len || line[name_len] != ':' ||
						memchr(line, '\r', len) != NULL))
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
					 errmsg("invalid header in line %d of option \"headers\"", lineno),
					 errhint("Give one header per line, as \"Name: value\".")));
		if (len > 0 && is_routing_header(line, name_len) && !superuser())
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("only superusers can set header \"%.*s\"", (int) name_len, line),
					 errdetail("It changes where or how the request goes, past the checks on its URL.")));
		line += len;
		if (*line == '\n')
			line++;
	}
}

/*
 * Options that let a table reach past the usual checks: turning off TLS
 * verification, trusting another CA file on the server's disk, or sending
 * requests through a proxy (which the host allow-list cannot see past).
 */
static void
check_superuser_option(DefElem *def)
{
	const char *name = def->defname;

	if (strcmp(name, "ssl_verify") == 0 && defGetBoolean(def))
		return;
	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("only superusers can set option \"%s\"%s", name,
						strcmp(name, "ssl_verify") == 0 ? " to false" : "")));
}

static void
check_proxy(const char *value)
{
	static const char *const schemes[] = {"http://", "https://", "socks4://", "socks4a://",
	"socks5://", "socks5h://", NULL};
	int			i;

	for (i = 0; schemes[i]; i++)
		if (pg_strncasecmp(value, schemes[i], strlen(schemes[i])) == 0)
			return;
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
			 errmsg("invalid value for option \"proxy\""),
			 errdetail("A proxy URL starts with http://, https://, socks4://, socks4a://, socks5:// or socks5h://.")));
}

static PaginationMode
pagination_mode(const char *value)
{
	static const PaginationMode modes[] = {PAGINATION_NONE, PAGINATION_LINK, PAGINATION_PAGE,
	PAGINATION_OFFSET, PAGINATION_CURSOR};
	int			i;

	for (i = 0; i < (int) lengthof(modes); i++)
		if (strcmp(value, pagination_mode_name(modes[i])) == 0)
			return modes[i];
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
			 errmsg("invalid value for option \"pagination\": \"%s\"", value),
			 errhint("Valid values are \"none\", \"link\", \"page\", \"offset\" and \"cursor\".")));
	return PAGINATION_NONE;		/* keep compiler quiet */
}

/*
 * The compression option's value; *is_auto (if given) says whether it is
 * 'auto' (COMPRESSION_NONE is returned then: the body's magic decides).
 */
static Compression
compression_option(const char *value, bool *is_auto)
{
	static const char *const valid[] = {"auto", "none", "gzip", "zstd", "bzip2", "xz"};
	Compression compression;

	check_one_of("compression", value, valid, lengthof(valid));
	if (is_auto)
		*is_auto = strcmp(value, "auto") == 0;
	/* the names are decoder.c's */
	for (compression = COMPRESSION_GZIP; compression <= COMPRESSION_XZ; compression++)
		if (strcmp(value, compression_name(compression)) == 0)
			return compression;
	return COMPRESSION_NONE;
}

static void
check_option_value(DefElem *def)
{
	const char *name = def->defname;
	const char *value = defGetString(def);
	const IntegerOption *integer_option = find_integer_option(name);

	if (integer_option)
		(void) parse_integer_option(integer_option, value);
	else if (strcmp(name, "ssl_verify") == 0 || strcmp(name, "ca_file") == 0 ||
			 strcmp(name, "proxy") == 0)
	{
		if (strcmp(name, "ssl_verify") == 0)
			(void) defGetBoolean(def);
		check_superuser_option(def);
		if (strcmp(name, "proxy") == 0)
			check_proxy(value);
		if (strcmp(name, "ca_file") == 0 && !is_absolute_path(value))
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
					 errmsg("option \"ca_file\" must be an absolute path")));
	}
	else if (strcmp(name, "headers") == 0)
		check_headers(value);
	else if (strcmp(name, "method") == 0)
		check_either(name, value, "GET", "POST");
	else if (strcmp(name, "pagination") == 0)
		(void) pagination_mode(value);
	else if (strcmp(name, "page_param") == 0 || strcmp(name, "page_size_param") == 0 ||
			 strcmp(name, "offset_param") == 0 || strcmp(name, "limit_param") == 0 ||
			 strcmp(name, "cursor_header") == 0 || strcmp(name, "cursor_param") == 0)
	{
		if (value[0] == '\0')
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
					 errmsg("option \"%s\" cannot be empty", name)));
	}
	else if (strcmp(name, "on_error") == 0)
		check_either(name, value, "stop", "skip");
	else if (strcmp(name, "compression") == 0)
		(void) compression_option(value, NULL);
	else if (strcmp(name, "manifest") == 0)
		(void) DirectFunctionCall1(jsonpath_in, CStringGetDatum(value));	/* a JSON path */
	else if (strcmp(name, "source") == 0)
		check_one_of(name, value, &row_source_names[FIRST_ROW_SOURCE],
					 NUM_ROW_SOURCES - FIRST_ROW_SOURCE);
	else if (strcmp(name, "header_match") == 0)
		check_either(name, value, "exact", "case_insensitive");
	else if (strcmp(name, "bearer_token") == 0 || strcmp(name, "username") == 0 ||
			 strcmp(name, "password") == 0 || strcmp(name, "user_agent") == 0)
		check_no_newlines(name, value);
	else if (strcmp(name, "base_url") == 0 || strcmp(name, "url") == 0)
		check_url(name, value);
	else if (strcmp(name, "allowed_origins") == 0)
		(void) parse_allowed_origins(value);
	else if (strcmp(name, "delimiter") == 0 || strcmp(name, "quote") == 0)
		check_single_byte(name, value);
	else if (strcmp(name, "header") == 0 || strcmp(name, "trim_spaces") == 0 ||
			 strcmp(name, "normalize_names") == 0)
		(void) defGetBoolean(def);
	else if (strcmp(name, "encoding") == 0)
	{
		if (pg_char_to_encoding(value) < 0)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
					 errmsg("\"%s\" is not a valid encoding name", value)));
	}
	/* column_name may be empty: a CSV header can have an empty name */
	else if (strcmp(name, "path") == 0 || strcmp(name, "since_param") == 0 ||
			 strcmp(name, "archive_member") == 0)
	{
		if (value[0] == '\0')
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
					 errmsg("option \"%s\" cannot be empty", name)));
		if (strcmp(name, "path") == 0)
			check_path(value);
	}
}

static DefElem *
find_option(List *options, const char *name)
{
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *def = lfirst_node(DefElem, lc);

		if (strcmp(def->defname, name) == 0)
			return def;
	}
	return NULL;
}

/*
 * Reading options that passed validation: find_option() and a reader per
 * type, each with the option's default.  Options that a table may set over
 * its server's are read from the table's list followed by the server's
 * (see resolve_http_options), so that the table's win.
 */
static char *
option_string(List *options, const char *name, char *default_value)
{
	DefElem    *def = find_option(options, name);

	return def ? defGetString(def) : default_value;
}

static bool
option_bool(List *options, const char *name, bool default_value)
{
	DefElem    *def = find_option(options, name);

	return def ? defGetBoolean(def) : default_value;
}

/* whether a keyword option is set to value */
static bool
option_is(List *options, const char *name, const char *value)
{
	char	   *set = option_string(options, name, NULL);

	return set != NULL && strcmp(set, value) == 0;
}

static void
require_for_mode(List *options, const char *mode, const char *const *required)
{
	for (; *required; required++)
		if (!find_option(options, *required))
			ereport(ERROR,
					(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
					 errmsg("pagination '%s' needs option \"%s\"", mode, *required)));
}

/* Each pagination mode needs its own options. */
static void
check_pagination_options(List *options)
{
	static const char *const page[] = {"page_param", NULL};
	static const char *const offset[] = {"offset_param", "limit_param", "page_size", NULL};
	static const char *const cursor[] = {"cursor_header", "cursor_param", NULL};
	DefElem    *def = find_option(options, "pagination");
	PaginationMode mode = def ? pagination_mode(defGetString(def)) : PAGINATION_NONE;

	if (mode == PAGINATION_PAGE)
		require_for_mode(options, "page", page);
	else if (mode == PAGINATION_OFFSET)
		require_for_mode(options, "offset", offset);
	else if (mode == PAGINATION_CURSOR)
		require_for_mode(options, "cursor", cursor);
	if (find_option(options, "body") && !option_is(options, "method", "POST"))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("option \"body\" needs method 'POST'")));
	if (find_option(options, "page_size_param") && !find_option(options, "page_size"))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("option \"page_size_param\" needs option \"page_size\"")));
}

/* Rules that involve more than one option of a foreign table. */
static void check_delimiters_fit_encoding(DefElem *encoding_option, char delimiter, char quote);

static void
check_table_options(List *options)
{
	DefElem    *url = find_option(options, "url");
	DefElem    *path = find_option(options, "path");
	DefElem    *delimiter = find_option(options, "delimiter");
	DefElem    *quote = find_option(options, "quote");

	check_pagination_options(options);
	if (find_option(options, "manifest") && find_option(options, "pagination"))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("options \"manifest\" and \"pagination\" cannot both be set"),
				 errdetail("The files of a manifest are the pages of its export.")));

	if (url && path)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("options \"url\" and \"path\" cannot both be set"),
				 errhint("Use \"url\" for an absolute URL, or \"path\" for one relative to the server's \"base_url\".")));
	if (!url && !path)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("either \"url\" or \"path\" is required for a csv_export_fdw foreign table")));
	if (find_option(options, "reject_limit") && !option_is(options, "on_error", "skip"))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("option \"reject_limit\" needs on_error 'skip'")));
	if (strcmp(delimiter ? defGetString(delimiter) : ",",
			   quote ? defGetString(quote) : "\"") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("delimiter and quote must be different")));
	check_delimiters_fit_encoding(find_option(options, "encoding"),
								  delimiter ? *defGetString(delimiter) : ',',
								  quote ? *defGetString(quote) : '"');
}

/*
 * The reader splits fields on bytes before it converts them.  In the
 * encodings PostgreSQL has for clients only (SJIS, BIG5, GBK, UHC,
 * GB18030, JOHAB), a byte after the first of a character can be an ASCII
 * byte from 0x30 on ('|', ';', '\\', digits, letters): such a delimiter or
 * quote would split characters.  No such byte is below 0x30 (',', tab,
 * either quote).
 */
static void
check_delimiters_fit_encoding(DefElem *encoding_option, char delimiter, char quote)
{
	int			encoding;
	char		byte;

	if (encoding_option == NULL)
		return;
	encoding = pg_char_to_encoding(defGetString(encoding_option));
	if (encoding < 0 || PG_VALID_BE_ENCODING(encoding))
		return;
	byte = ((unsigned char) delimiter >= 0x30) ? delimiter : quote;
	if ((unsigned char) byte < 0x30)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
			 errmsg("%s \"%c\" cannot be used with encoding %s",
					byte == delimiter ? "delimiter" : "quote", byte,
					pg_encoding_to_char(encoding)),
			 errdetail("In %s that byte can be part of a multibyte character.",
					   pg_encoding_to_char(encoding)),
			 errhint("Use a delimiter and quote below '0' in ASCII, such as ',', a tab and '\"'.")));
}

static void
check_user_mapping_options(List *options)
{
	if (find_option(options, "password") && !find_option(options, "username"))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("option \"password\" needs option \"username\"")));
	if (find_option(options, "bearer_token") && find_option(options, "username"))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("options \"bearer_token\" and \"username\" cannot both be set"),
				 errhint("A request carries one Authorization header: bearer or basic.")));
}

/* The body of the validator function. */
void
csv_export_validate_options(List *options, Oid catalog)
{
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *def = lfirst_node(DefElem, lc);

		if (!is_valid_option(def->defname, catalog))
			report_invalid_option(def->defname, catalog);
		check_option_value(def);
	}
	if (catalog == ForeignTableRelationId)
		check_table_options(options);
	if (catalog == UserMappingRelationId)
		check_user_mapping_options(options);
}

static char *
export_url(List *table_options, ForeignServer *server, const char *table_name)
{
	DefElem    *url = find_option(table_options, "url");
	DefElem    *path = find_option(table_options, "path");
	DefElem    *base_url = find_option(server->options, "base_url");

	if (url)
		return defGetString(url);
	if (path && base_url)
		return url_join(defGetString(base_url), defGetString(path));
	if (path)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("foreign table \"%s\" has a \"path\" but server \"%s\" has no \"base_url\"",
						table_name, server->servername),
				 errhint("Set \"base_url\" on the server, or give the table a \"url\".")));
	ereport(ERROR,
			(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
			 errmsg("foreign table \"%s\" has neither \"url\" nor \"path\"", table_name)));
	return NULL;				/* keep compiler quiet */
}

static List *
header_lines(const char *value)
{
	List	   *lines = NIL;
	char	   *copy = pstrdup(value);
	char	   *line;
	char	   *saveptr = NULL;

	for (line = strtok_r(copy, "\n", &saveptr); line; line = strtok_r(NULL, "\n", &saveptr))
		if (line[0] != '\0')
			lines = lappend(lines, line);
	return lines;
}

/*
 * The user mapping of userid for server, or failing that the PUBLIC one;
 * NIL options if there is neither (credentials are optional here, unlike
 * for GetUserMapping()).  *description says which mapping it was.
 */
static List *
user_mapping_options(Oid userid, ForeignServer *server, char **description)
{
	Oid			roles[2] = {userid, InvalidOid};
	int			i;

	for (i = 0; i < 2; i++)
	{
		HeapTuple	tuple = SearchSysCache2(USERMAPPINGUSERSERVER,
											ObjectIdGetDatum(roles[i]),
											ObjectIdGetDatum(server->serverid));
		Datum		datum;
		bool		isnull;
		List	   *options = NIL;

		if (!HeapTupleIsValid(tuple))
			continue;
		datum = SysCacheGetAttr(USERMAPPINGUSERSERVER, tuple,
								Anum_pg_user_mapping_umoptions, &isnull);
		if (!isnull)
			options = untransformRelOptions(datum);
		ReleaseSysCache(tuple);
		*description = OidIsValid(roles[i])
			? psprintf("the user mapping for role \"%s\" on server \"%s\"",
					   GetUserNameFromId(roles[i], false), server->servername)
			: psprintf("the PUBLIC user mapping on server \"%s\"", server->servername);
		return options;
	}
	*description = NULL;
	return NIL;
}

static void
resolve_credentials(HttpOptions *http, Oid userid, ForeignServer *server)
{
	char	   *description;
	List	   *options = user_mapping_options(userid, server, &description);

	http->bearer_token = option_string(options, "bearer_token", NULL);
	http->username = option_string(options, "username", NULL);
	http->password = option_string(options, "password", NULL);
	http->secret_headers = header_lines(option_string(options, "headers", ""));
	if (http->bearer_token || http->username || http->secret_headers)
		http->user_mapping = description;
}

static void
resolve_http_options(HttpOptions *http, List *table, ForeignServer *server,
					 Oid userid)
{
	List	   *transfer = list_concat_copy(table, server->options);
	char	   *base_url = option_string(server->options, "base_url", NULL);

	http->connect_timeout_ms = csv_export_integer_option(transfer, "connect_timeout_ms", 10000);
	http->timeout_ms = csv_export_integer_option(transfer, "timeout_ms", 0);
	http->stall_timeout_s = csv_export_integer_option(transfer, "stall_timeout_s", 60);
	http->retries = csv_export_integer_option(transfer, "retries", 3);
	http->retry_delay_ms = csv_export_integer_option(transfer, "retry_delay_ms", 1000);
	http->max_redirects = csv_export_integer_option(transfer, "max_redirects", 5);
	http->max_bytes = csv_export_integer_option(transfer, "max_bytes", 0);
	http->ssl_verify = option_bool(transfer, "ssl_verify", true);
	http->ca_file = option_string(transfer, "ca_file", NULL);
	http->proxy = option_string(transfer, "proxy", NULL);
	http->user_agent = option_string(transfer, "user_agent",
									 "csv_export_fdw/" CSV_EXPORT_FDW_VERSION);
	http->headers = header_lines(option_string(transfer, "headers", ""));
	http->poll_interval_ms = csv_export_integer_option(transfer, "poll_interval_ms", 1000);
	http->poll_timeout_s = csv_export_integer_option(transfer, "poll_timeout_s", 600);

	http->home_origin = base_url ? url_origin(base_url) : NULL;
	http->allowed_origins = parse_allowed_origins(option_string(server->options,
																"allowed_origins", ""));
	http->server_name = server->servername;
	http->post = option_is(table, "method", "POST");
	http->body = option_string(table, "body", NULL);
	http->compression = compression_option(option_string(table, "compression", "auto"),
										   &http->compression_auto);

	resolve_credentials(http, userid, server);
}

static void
resolve_pagination(PaginationOptions *p, List *options)
{
	char	   *mode = option_string(options, "pagination", NULL);

	p->mode = mode ? pagination_mode(mode) : PAGINATION_NONE;
	p->page_param = option_string(options, "page_param", NULL);
	p->page_start = csv_export_integer_option(options, "page_start", 1);
	p->page_size_param = option_string(options, "page_size_param", NULL);
	p->page_size = csv_export_integer_option(options, "page_size", 0);
	p->offset_param = option_string(options, "offset_param", NULL);
	p->limit_param = option_string(options, "limit_param", NULL);
	p->cursor_header = option_string(options, "cursor_header", NULL);
	p->cursor_param = option_string(options, "cursor_param", NULL);
	p->max_pages = csv_export_integer_option(options, "max_pages", 10000);
	p->prefetch_pages = csv_export_integer_option(options, "prefetch_pages", 2);
}

/*
 * Options resolved for reading an export as userid: table_options over the
 * server's, credentials from the user's mapping.  table_name is for errors.
 */
CsvExportOptions *
csv_export_resolve_options(ForeignServer *server, List *table_options, Oid userid,
						   const char *table_name)
{
	CsvExportOptions *opts = palloc0(sizeof(CsvExportOptions));
	DefElem    *encoding = find_option(table_options, "encoding");

	resolve_http_options(&opts->http, table_options, server, userid);
	opts->url = export_url(table_options, server, table_name);
	opts->delimiter = option_string(table_options, "delimiter", ",")[0];
	opts->quote = option_string(table_options, "quote", "\"")[0];
	opts->header = option_bool(table_options, "header", true);
	opts->header_case_insensitive = option_is(table_options, "header_match", "case_insensitive");
	opts->trim_spaces = option_bool(table_options, "trim_spaces", false);
	opts->normalize_names = option_bool(table_options, "normalize_names", false);
	opts->null_string = option_string(table_options, "null", NULL);
	opts->encoding = encoding ? pg_char_to_encoding(defGetString(encoding)) : PG_UTF8;
	/* a table made before this was checked at CREATE */
	check_delimiters_fit_encoding(encoding, opts->delimiter, opts->quote);
	resolve_pagination(&opts->pagination, table_options);
	opts->expected_rows = csv_export_integer_option(table_options, "expected_rows", -1);
	opts->on_error_skip = option_is(table_options, "on_error", "skip");
	opts->reject_limit = csv_export_integer_option(table_options, "reject_limit", -1);
	opts->manifest = option_string(table_options, "manifest", NULL);
	opts->archive_member = option_string(table_options, "archive_member", NULL);
	opts->max_record_bytes = csv_export_integer_option(table_options, "max_record_bytes",
													   DEFAULT_MAX_RECORD_BYTES);
	return opts;
}

/* All options of a foreign table, resolved for a scan by userid. */
CsvExportOptions *
csv_export_get_options(Oid foreigntableid, Oid userid)
{
	ForeignTable *table = GetForeignTable(foreigntableid);

	return csv_export_resolve_options(GetForeignServer(table->serverid), table->options,
									  userid, get_rel_name(foreigntableid));
}

/* An integer option of a list (for IMPORT's own options), or default_value. */
int64
csv_export_integer_option(List *options, const char *name, int64 default_value)
{
	DefElem    *def = find_option(options, name);

	return def ? parse_integer_option(find_integer_option(name), defGetString(def))
		: default_value;
}

/* The CSV header name a column reads: its column_name option, or its name. */
char *
csv_export_column_header_name(Oid foreigntableid, Form_pg_attribute attr)
{
	return option_string(GetForeignColumnOptions(foreigntableid, attr->attnum),
						 "column_name", NameStr(attr->attname));
}

const char *const row_source_names[NUM_ROW_SOURCES] = {
	[ROW_SOURCE_NONE] = NULL,
	[ROW_SOURCE_URL] = "url",
	[ROW_SOURCE_LINE] = "line",
	[ROW_SOURCE_PAGE] = "page",
	[ROW_SOURCE_MEMBER] = "member",
};

/* The RowSource a source option names; ROW_SOURCE_NONE if none. */
RowSource
row_source_by_name(const char *name)
{
	RowSource	source;

	for (source = FIRST_ROW_SOURCE; source < NUM_ROW_SOURCES; source++)
		if (strcmp(name, row_source_names[source]) == 0)
			return source;
	return ROW_SOURCE_NONE;
}

/* The source option of a column (checked when it was set), or none. */
RowSource
csv_export_column_source(Oid foreigntableid, AttrNumber attnum)
{
	char	   *name = option_string(GetForeignColumnOptions(foreigntableid, attnum),
									 "source", NULL);

	return name ? row_source_by_name(name) : ROW_SOURCE_NONE;
}

/* Names for a hint: "a", "b" and "c". */
char *
quoted_list(const char *const *names, int count)
{
	StringInfoData list;
	int			i;

	initStringInfo(&list);
	for (i = 0; i < count; i++)
		appendStringInfo(&list, "%s\"%s\"", i == 0 ? "" : i == count - 1 ? " and " : ", ",
						 names[i]);
	return list.data;
}

/* The since_param option of a column, or NULL. */
char *
csv_export_column_since_param(Oid foreigntableid, AttrNumber attnum)
{
	return option_string(GetForeignColumnOptions(foreigntableid, attnum), "since_param", NULL);
}
