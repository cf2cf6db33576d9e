/*
 * csv_export_fdw.h
 *		Declarations shared by the parts of csv_export_fdw.
 *
 * The CSV reader has a header of its own (csv_reader.h) because it is built
 * without PostgreSQL for fuzzing.
 */
#ifndef CSV_EXPORT_FDW_H
#define CSV_EXPORT_FDW_H

#include "access/tupdesc.h"
#include "fmgr.h"
#include "foreign/foreign.h"
#include "nodes/parsenodes.h"
#include "nodes/pg_list.h"
#include "utils/relcache.h"

#include "compat.h"
#include "csv_reader.h"

#define CSV_EXPORT_FDW_VERSION "1.0"

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
	int64		max_bytes;		/* 0: no limit */

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
	char	   *url;			/* absolute URL of the export, may hold secrets */
	char		delimiter;
	char		quote;
	bool		header;
	bool		header_case_insensitive;	/* header_match 'case_insensitive' */
	char	   *null_string;	/* NULL: an unquoted empty field is NULL */
	int			encoding;		/* encoding of the export */
	int64		expected_rows;	/* -1: not set */
	bool		on_error_skip;	/* skip bad rows (into csv_export.rejects) */
	int64		reject_limit;	/* -1: none */
	int64		max_record_bytes;
} CsvExportOptions;

#define DEFAULT_MAX_RECORD_BYTES	(64 * 1024 * 1024)

/* in option.c */
extern void csv_export_validate_options(List *options, Oid catalog);
extern CsvExportOptions *csv_export_get_options(Oid foreigntableid, Oid userid);
extern CsvExportOptions *csv_export_resolve_options(ForeignServer *server, List *table_options,
													Oid userid, const char *table_name);
extern int64 csv_export_integer_option(List *options, const char *name, int64 default_value);
extern char *csv_export_column_header_name(Oid foreigntableid, Form_pg_attribute attr);
extern char *csv_export_column_since_param(Oid foreigntableid, AttrNumber attnum);

/* in url.c */
extern const char *url_check_http(const char *url);
extern char *url_join(const char *base_url, const char *path);
extern char *url_redact(const char *url);
extern char *url_add_query_param(const char *url, const char *name, const char *value);
extern char *url_origin(const char *url);
extern char *url_host_port(const char *url, int *port);
extern char *url_resolve(const char *base, const char *ref);
extern char *url_with_param(const char *url, const char *name, const char *value);

/* in http.c */
typedef struct HttpSession HttpSession;
typedef struct HttpTransfer HttpTransfer;

typedef enum HttpReadResult
{
	HTTP_READ_DATA,				/* bytes were returned */
	HTTP_READ_END,				/* the body is complete */
	HTTP_READ_RESTARTED			/* the request was retried: forget what was read */
} HttpReadResult;

extern void http_global_init(void);
extern HttpSession *http_session_create(void);
extern void http_session_advance(HttpSession *session);
extern HttpTransfer *http_transfer_start(HttpSession *session, const HttpOptions *options,
										 const char *url);
extern bool http_transfer_headers_complete(const HttpTransfer *transfer);
extern HttpReadResult http_transfer_read(HttpTransfer *transfer, bool restart_allowed,
										 const char **data, size_t *len);
extern uint64 http_transfer_bytes_received(const HttpTransfer *transfer);
extern int	http_transfer_requests(const HttpTransfer *transfer);
extern char *http_transfer_header(const HttpTransfer *transfer, const char *name);
extern const char *http_transfer_url(const HttpTransfer *transfer);

/* in pagination.c */
extern char *pagination_first_url(const CsvExportOptions *options, const char *url);
extern char *pagination_next_url(const CsvExportOptions *options, int page,
								 const char *first_url, const HttpTransfer *transfer,
								 uint64 records);
extern const char *pagination_mode_name(PaginationMode mode);

/* in parse_worker.c */
typedef struct ParseWorker ParseWorker;

extern void parse_worker_define_guc(void);
extern ParseWorker *parse_worker_start(void);
extern void parse_worker_begin(ParseWorker *worker, CsvReader *reader,
							   const char *data, size_t len);
extern CsvReaderStatus parse_worker_wait(ParseWorker *worker);
extern bool parse_worker_busy(const ParseWorker *worker);

/* in record_stream.c */
typedef struct RecordStream RecordStream;

typedef enum RecordStreamResult
{
	RECORD_STREAM_RECORD,
	RECORD_STREAM_END,
	RECORD_STREAM_RESTARTED		/* retried from the start: forget the records */
} RecordStreamResult;

extern RecordStream *record_stream_open(const CsvExportOptions *options, const char *url);
extern RecordStreamResult record_stream_next(RecordStream *stream, bool restart_allowed,
											 CsvRecord *record);
extern void record_stream_keep_fields(RecordStream *stream, const bool *keep, int nkeep);
extern uint64 record_stream_line(const RecordStream *stream);
extern uint64 record_stream_bytes(const RecordStream *stream);
extern int	record_stream_requests(const RecordStream *stream);
extern int	record_stream_page(const RecordStream *stream, const char **display_url);
extern void record_stream_close(RecordStream *stream);

/* in export_scan.c */
typedef struct ExportScan ExportScan;

extern ExportScan *export_scan_begin(Relation rel, const CsvExportOptions *options,
									 const char *url, const bool *needed);
extern bool export_scan_next(ExportScan *scan, Datum *values, bool *isnull);
extern void export_scan_rescan(ExportScan *scan);
extern void export_scan_end(ExportScan *scan);
extern void export_scan_stats(const ExportScan *scan, int *pages, int *requests,
							  uint64 *bytes, uint64 *records);

/* in privileged.c */
typedef struct OwnerSection
{
	Oid			saved_user;
	int			saved_context;
	int			guc_nest_level;
} OwnerSection;

extern void owner_section_begin(OwnerSection *section);
extern Datum owner_section_execute(const char *sql, int nargs, Oid *argtypes, Datum *values,
								   const char *nulls, bool *isnull);
extern void owner_section_end(OwnerSection *section);

/* in rejects.c */
extern char *rejects_record_text(const CsvRecord *record, char delimiter, char quote);
extern void rejects_insert(Oid foreign_table, const char *url, int page, uint64 line,
						   const char *column, const char *error, const char *raw_record);

/* in import.c */
extern List *csv_export_import_schema(ImportForeignSchemaStmt *stmt, ForeignServer *server);

/* in convert.c */
typedef struct ValueConverter ValueConverter;

extern ValueConverter *value_converter_create(TupleDesc tupdesc, int source_encoding,
											  const char *null_string);
extern Datum value_converter_datum(ValueConverter *converter, int attindex,
								   const char *value, size_t len, bool unquoted_empty,
								   bool *isnull);
extern char *value_to_query_text(Datum value, Oid type);
extern bool value_converter_try_datum(ValueConverter *converter, int attindex,
									  const char *value, size_t len, bool unquoted_empty,
									  Datum *result, bool *isnull);
extern bool value_converter_converts_softly(ValueConverter *converter, int attindex);
extern const char *value_converter_to_server(ValueConverter *converter,
											 const char *value, size_t len);
extern bool value_converter_check_encoding(ValueConverter *converter,
										   const char *value, size_t len);

/*
 * The number written by the n decimal digits at s, or -1 if they are not
 * digits.  Inline: the timestamp fast path calls it six times per value.
 */
static inline int
parse_digits(const char *s, int n)
{
	int			value = 0;
	int			i;

	for (i = 0; i < n; i++)
	{
		if (s[i] < '0' || s[i] > '9')
			return -1;
		value = value * 10 + (s[i] - '0');
	}
	return value;
}

#endif							/* CSV_EXPORT_FDW_H */
