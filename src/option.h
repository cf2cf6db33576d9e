/*
 * option.h
 *		Options of servers, foreign tables, columns and user mappings: what
 *		they mean once resolved, and how they are checked and read.
 */
#ifndef CSV_EXPORT_OPTION_H
#define CSV_EXPORT_OPTION_H

#include "catalog/pg_attribute.h"
#include "foreign/foreign.h"
#include "nodes/pg_list.h"

#include "decoder.h"

/* the User-Agent of requests unless a table says otherwise */
#define CSV_EXPORT_FDW_VERSION "1.7"

/*
 * How to make HTTP requests: the resolved transfer options of a foreign
 * table (table over server) and the credentials of the user mapping.
 */
typedef struct HttpOptions
{
	/*
	 * Where requests may go, as the server's owner decided: the origin of
	 * its base_url (the only one credentials go to), and allowed_origins
	 * ("*" among them: anywhere).
	 */
	char	   *home_origin;	/* NULL if the server has no base_url */
	List	   *allowed_origins;	/* normalized origins, or "*" */
	char	   *server_name;	/* for messages */

	List	   *headers;		/* "Name: value" strings, not secret */
	List	   *secret_headers; /* "Name: value" strings from the user mapping */
	char	   *bearer_token;
	char	   *username;
	char	   *password;
	char	   *user_mapping;	/* which mapping gave the credentials, or NULL */

	int			connect_timeout_ms;
	int			timeout_ms;		/* 0: none */
	int			stall_timeout_s;	/* 0: none */
	int			retries;
	int			retry_delay_ms;
	int			max_redirects;
	bool		ssl_verify;
	char	   *ca_file;
	char	   *proxy;
	char	   *user_agent;
	int64		max_bytes;		/* 0: no limit; of the body as it decodes */

	/* the body's own compression (a .csv.gz); auto: told by its magic bytes */
	bool		compression_auto;
	Compression compression;

	/* If-None-Match or If-Modified-Since are sent: a 304 is no error */
	bool		conditional;

	/* asynchronous exports: the first request may be a POST; 202 polls */
	bool		post;
	char	   *body;
	int			poll_interval_ms;
	int			poll_timeout_s;
} HttpOptions;

typedef enum PaginationMode
{
	PAGINATION_NONE,
	PAGINATION_LINK,
	PAGINATION_PAGE,
	PAGINATION_OFFSET,
	PAGINATION_CURSOR
} PaginationMode;

/* How a paged export is walked (see pagination.c). */
typedef struct PaginationOptions
{
	PaginationMode mode;
	char	   *page_param;
	int64		page_start;
	char	   *page_size_param;
	int64		page_size;
	char	   *offset_param;
	char	   *limit_param;
	char	   *cursor_header;
	char	   *cursor_param;
	int64		max_pages;
	int			prefetch_pages; /* requests in flight ahead of the page read */
} PaginationOptions;

/* Everything a scan needs to know about a foreign table, options resolved. */
typedef struct CsvExportOptions
{
	HttpOptions http;
	PaginationOptions pagination;
	char	   *manifest;		/* JSON path to the URLs of the export's files, or NULL */
	char	   *archive_member; /* the body is an archive: which members (a glob) */
	char	   *url;			/* absolute URL of the export, may hold secrets */
	char		delimiter;
	char		quote;
	bool		header;
	bool		header_case_insensitive;	/* header_match 'case_insensitive' */
	bool		trim_spaces;	/* spaces around fields are no part of them */
	bool		normalize_names;	/* IMPORT normalized the names (on_new_columns) */
	char	   *null_string;	/* NULL: an unquoted empty field is NULL */
	int			encoding;		/* encoding of the export */
	int64		expected_rows;	/* -1: not set */
	bool		on_error_skip;	/* skip bad rows (into csv_export.rejects) */
	int64		reject_limit;	/* -1: none */
	int64		max_record_bytes;
} CsvExportOptions;

#define DEFAULT_MAX_RECORD_BYTES	(64 * 1024 * 1024)

/*
 * A column's source option: it holds where the row came from rather than
 * a field of the CSV.
 */
typedef enum RowSource
{
	ROW_SOURCE_NONE,			/* a field of the CSV */
	ROW_SOURCE_URL,				/* the page's URL, redacted */
	ROW_SOURCE_LINE,			/* the physical line the record starts on */
	ROW_SOURCE_PAGE,			/* the page's number */
	ROW_SOURCE_MEMBER,			/* the archive member's name */
} RowSource;

#define FIRST_ROW_SOURCE	ROW_SOURCE_URL
#define NUM_ROW_SOURCES		(ROW_SOURCE_MEMBER + 1)

/* by RowSource: how the source option spells it (NULL for none) */
extern const char *const row_source_names[NUM_ROW_SOURCES];

extern void csv_export_validate_options(List *options, Oid catalog);
extern CsvExportOptions *csv_export_get_options(Oid foreigntableid, Oid userid);
extern CsvExportOptions *csv_export_resolve_options(ForeignServer *server, List *table_options,
													Oid userid, const char *table_name);
extern int64 csv_export_integer_option(List *options, const char *name, int64 default_value);
extern char *csv_export_column_header_name(Oid foreigntableid, Form_pg_attribute attr);
extern char *csv_export_column_since_param(Oid foreigntableid, AttrNumber attnum);
extern RowSource csv_export_column_source(Oid foreigntableid, AttrNumber attnum);
extern RowSource row_source_by_name(const char *name);
extern char *quoted_list(const char *const *names, int count);

#endif							/* CSV_EXPORT_OPTION_H */
