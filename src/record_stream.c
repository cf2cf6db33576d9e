/*
 * record_stream.c
 *		The CSV records of an export, as its bytes arrive.
 *
 * Couples one HTTP transfer to one CSV reader: body bytes are fed to the
 * reader as they come, and records are handed out one at a time.  Used by
 * the scan, by ANALYZE and by IMPORT FOREIGN SCHEMA, which differ only in
 * what they do with the records.
 *
 * Both the transfer and the reader live in a memory context of the stream's
 * own, whose reset callbacks free their malloc'd state, so closing the
 * stream, or an ERROR anywhere, releases everything.
 *
 * Once a page's header is in, chunks are parsed on a thread of the stream's
 * (parse_thread.c), one chunk ahead: while the records of one chunk are
 * used, the thread parses the next, and the one after that is received.
 *
 * The stream owns the export's header and its retries: the caller gets the
 * first page's header once (record_stream_header), says once which fields
 * it keeps, and gets data records only.  A request that fails after part of
 * its body is retried while no data record has been handed out, which no
 * caller can take back (a row returned, a reject recorded); the header of
 * the retried response must be the one handed out.
 */
#include "postgres.h"

#include <fnmatch.h>

#include "access/xact.h"
#include "common/cryptohash.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/memutils.h"

#include "csv_export_fdw.h"
#include "archive.h"
#include "fetch_check.h"
#include "http.h"
#include "manifest.h"
#include "option.h"
#include "pagination.h"
#include "parse_thread_backend.h"
#include "record_stream.h"
#include "url.h"

struct RecordStream
{
	const CsvExportOptions *options;
	MemoryContext cxt;			/* the stream's */
	MemoryContext page_cxt;		/* the current page's transfer and reader */
	HttpTransfer *transfer;
	CsvReader  *reader;
	bool		input_done;		/* of the current page */

	/* parsing */
	ParseThread *parser;		/* the backend's thread; NULL: parse in the backend */
	MemoryContextCallback give_back_parser;
	bool		pending;		/* a chunk was read and is still to be parsed */
	const char *pending_data;	/* NULL: the end of the page's data */
	size_t		pending_len;
	bool		unpublished;	/* records parsed, or being parsed, not yet published */
	CsvReaderStatus parse_status;	/* of a parse done in the backend */
	CsvReaderStatus failed;		/* raised once the records before it are out */
	uint64		line;			/* of the last record or CSV error; 0 if none */

	/* paged exports */
	char	   *first_url;
	char	   *first_origin;
	List	   *page_urls;		/* fetched so far, to notice a loop */
	int			page;			/* 1-based */
	char	   *page_display_url;
	bool		header_pending; /* the current page's header is still to come */
	uint64		page_records;	/* data records of the current page */
	uint64		records_out;	/* data records handed out */
	bool		header_taken;	/* the first page's header is in first_header */
	List	   *first_header;	/* of the first page, as strings */
	bool	   *keep;			/* fields to keep, for the pages to come */
	int			nkeep;
	bool		keep_set;

	/*
	 * An export listed by a manifest (table option manifest): its files are
	 * the pages, fetched with GET and without the table's body; read again
	 * once if a file's pre-signed URL has expired (403).
	 */
	List	   *manifest_urls;
	char	   *manifest_url;	/* where the manifest was, after redirects */
	HttpOptions file_http;
	bool		manifest_reread;

	/*
	 * An archive (table option archive_member): the members it names are
	 * read in order, each with a reader of its own (in member_cxt), as
	 * pages are.
	 */
	ArchiveReader *archive;		/* of the current page; NULL: no archive */
	MemoryContext member_cxt;
	char	   *member;			/* the last member seen, or NULL */
	bool		in_member;		/* its bytes are the CSV being read */
	bool		archive_done;	/* the current page's archive has ended */
	int			page_members;	/* members read of the current page */
	uint64		page_member_bytes;	/* what they inflated to, for max_bytes */
	int			members;		/* over all pages */

	/*
	 * A sync's check of an unpaged export (skip_unchanged): the first
	 * request carries its validators, and the body is hashed.
	 */
	FetchCheck *check;
	HttpOptions conditional_http;	/* the table's, and the validators */
	pg_cryptohash_ctx *body_hash;
	MemoryContextCallback free_body_hash;

	/* pages fetched ahead (prefetch_pages): FetchedPage, in page order */
	HttpSession *session;
	List	   *ahead;

	/* pages done */
	uint64		bytes_done;
	uint64		bytes_decoded_done;
	int			requests_done;
	char		compression[32];	/* of the last page read that told it */
};

/* A page whose request is in flight before its turn. */
typedef struct FetchedPage
{
	char	   *url;
	char	   *display_url;	/* redacted, once for the page and its transfer */
	MemoryContext cxt;			/* holds the transfer */
	HttpTransfer *transfer;
} FetchedPage;

/* A reader, to be freed with the memory context it was created in. */
typedef struct ReaderRelease
{
	MemoryContextCallback callback;
	RecordStream *stream;
	CsvReader  *reader;
} ReaderRelease;

/*
 * The parsing thread may still have a chunk of this reader, its bytes in
 * the page's transfer: wait for it.  A page's context frees the reader
 * before the transfer (its callback was registered later) and before the
 * stream's context, which holds the thread.
 */
static void start_archive(RecordStream *stream);

static void
release_reader(void *arg)
{
	ReaderRelease *release = arg;

	if (release->stream->parser)
		parse_thread_settle(release->stream->parser);
	csv_reader_destroy(release->reader);
}

/* The thread is done with the reader, and what it found is kept for later. */
static void
wait_for_parse(RecordStream *stream)
{
	if (stream->parser && parse_thread_busy(stream->parser))
		stream->parse_status = parse_thread_finish(stream->parser);
}

static void
apply_keep(RecordStream *stream)
{
	wait_for_parse(stream);
	if (!csv_reader_keep_fields(stream->reader, stream->keep, stream->nkeep))
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory while parsing CSV")));
}

/*
 * A fresh reader for the current page (or archive member); the old one
 * goes with page_cxt (or member_cxt).
 */
static void
start_reader(RecordStream *stream)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(stream->member_cxt ? stream->member_cxt
												 : stream->page_cxt);
	ReaderRelease *release = palloc0(sizeof(ReaderRelease));

	wait_for_parse(stream);
	stream->reader = csv_reader_create(stream->options->delimiter,
									   stream->options->quote,
									   stream->options->encoding == PG_UTF8);
	if (stream->reader == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory while creating a CSV reader")));
	release->stream = stream;
	release->reader = stream->reader;
	release->callback.func = release_reader;
	release->callback.arg = release;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, &release->callback);
	csv_reader_limit_record(stream->reader, (size_t) stream->options->max_record_bytes,
							stream->options->on_error_skip);
	csv_reader_skip_malformed(stream->reader, stream->options->on_error_skip);
	csv_reader_trim_spaces(stream->reader, stream->options->trim_spaces);
	stream->header_pending = stream->options->header;
	stream->page_records = 0;
	stream->input_done = false;
	stream->pending = false;
	stream->unpublished = false;
	stream->parse_status = CSV_READER_OK;
	stream->failed = CSV_READER_OK;
	/* with a header, which fields to keep applies after it (take_header) */
	if (stream->keep_set && !stream->options->header)
		apply_keep(stream);
	MemoryContextSwitchTo(oldcxt);
}

/* Whether url is a page read already, or (with ahead) one being fetched ahead. */
static bool
url_seen(RecordStream *stream, const char *url, bool ahead)
{
	ListCell   *lc;

	foreach(lc, stream->page_urls)
		if (strcmp((char *) lfirst(lc), url) == 0)
			return true;
	if (ahead)
		foreach(lc, stream->ahead)
			if (strcmp(((FetchedPage *) lfirst(lc))->url, url) == 0)
				return true;
	return false;
}

/* A request for url, in a memory context of its own under the stream's. */
static FetchedPage *
fetch_page(RecordStream *stream, const char *url)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(stream->cxt);
	FetchedPage *page = palloc0(sizeof(FetchedPage));

	page->url = pstrdup(url);
	page->display_url = url_redact(url);
	page->cxt = AllocSetContextCreate(stream->cxt, "csv_export_fdw page",
									  ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(page->cxt);
	page->transfer = http_transfer_start(stream->session,
										 stream->check ? &stream->conditional_http
										 : stream->manifest_urls ? &stream->file_http
										 : &stream->options->http,
										 url, page->display_url);
	if (stream->manifest_urls)
		http_transfer_return_forbidden(page->transfer);
	MemoryContextSwitchTo(oldcxt);
	return page;
}

/*
 * Count what a page's transfer did, and free it.  Bytes count for pages
 * that were read; requests for every page, fetched ahead in vain or not.
 */
static void
drop_page(RecordStream *stream, MemoryContext cxt, HttpTransfer *transfer, bool read)
{
	if (read)
	{
		stream->bytes_done += http_transfer_bytes_received(transfer);
		stream->bytes_decoded_done += http_transfer_bytes_decoded(transfer);
		if (http_transfer_compression(transfer))
			strlcpy(stream->compression, http_transfer_compression(transfer),
					sizeof(stream->compression));
	}
	stream->requests_done += http_transfer_requests(transfer);
	MemoryContextDelete(cxt);
}

/* The pages fetched ahead are not needed after all. */
static void
drop_pages_ahead(RecordStream *stream)
{
	ListCell   *lc;

	foreach(lc, stream->ahead)
	{
		FetchedPage *page = lfirst(lc);

		drop_page(stream, page->cxt, page->transfer, false);
	}
	list_free(stream->ahead);
	stream->ahead = NIL;
}

/* The URL of the manifest's file after file number page (1-based), or NULL. */
static char *
file_after(RecordStream *stream, int page)
{
	return page < list_length(stream->manifest_urls)
		? list_nth(stream->manifest_urls, page) : NULL;
}

/*
 * The files the manifest lists (the request is counted): at first the
 * table's request (a POST that starts a job, maybe); read again, a GET of
 * where the manifest was found (a job's result, after its redirects).
 */
static List *
read_manifest(RecordStream *stream)
{
	MemoryContext cxt = AllocSetContextCreate(stream->cxt, "csv_export_fdw manifest",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext oldcxt = MemoryContextSwitchTo(cxt);
	const char *url = stream->manifest_url ? stream->manifest_url : stream->first_url;
	char	   *display_url = url_redact(url);
	HttpTransfer *transfer = http_transfer_start(stream->session,
												 stream->manifest_url ? &stream->file_http
												 : &stream->options->http,
												 url, display_url);
	List	   *found = manifest_file_urls(transfer, display_url, stream->options->manifest);
	List	   *urls = NIL;
	ListCell   *lc;

	MemoryContextSwitchTo(stream->cxt);
	foreach(lc, found)
		urls = lappend(urls, pstrdup(lfirst(lc)));
	stream->manifest_url = pstrdup(http_transfer_url(transfer));
	stream->requests_done += http_transfer_requests(transfer);
	MemoryContextSwitchTo(oldcxt);
	MemoryContextDelete(cxt);
	return urls;
}

/* page becomes the one being read: its archive reader and CSV reader start */
static void
use_page(RecordStream *stream, FetchedPage *page)
{
	stream->page_cxt = page->cxt;
	stream->transfer = page->transfer;
	stream->page_display_url = page->display_url;
	start_archive(stream);
	start_reader(stream);
}

/*
 * The current file's URL was refused (403) before any of its body came: a
 * pre-signed URL that expired after the manifest was read.  The manifest is
 * read again, once per scan, and the file fetched from its new URL.
 */
static void
renew_file_url(RecordStream *stream)
{
	FetchedPage *page;

	if (stream->manifest_reread)
		http_transfer_report_forbidden(stream->transfer);
	stream->manifest_reread = true;
	drop_pages_ahead(stream);
	stream->manifest_urls = read_manifest(stream);
	if (stream->page > list_length(stream->manifest_urls))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("manifest at \"%s\" read again lists %d files, fewer than before",
						url_redact(stream->first_url), list_length(stream->manifest_urls)),
				 errdetail("File %d was refused (HTTP status 403), and the manifest was read again for a new URL.",
						   stream->page)));
	page = fetch_page(stream, list_nth(stream->manifest_urls, stream->page - 1));
	drop_page(stream, stream->page_cxt, stream->transfer, false);
	use_page(stream, page);
}

/* Read url as the next page: the one fetched ahead for it, or a new request. */
static void
start_page(RecordStream *stream, char *url)
{
	MemoryContext oldcxt;
	FetchedPage *page = NULL;

	if (stream->transfer)
		drop_page(stream, stream->page_cxt, stream->transfer, true);
	if (stream->ahead != NIL &&
		strcmp(((FetchedPage *) linitial(stream->ahead))->url, url) == 0)
	{
		page = linitial(stream->ahead);
		stream->ahead = list_delete_first(stream->ahead);
	}
	else
	{
		drop_pages_ahead(stream);
		page = fetch_page(stream, url);
	}
	stream->page++;
	oldcxt = MemoryContextSwitchTo(stream->cxt);
	stream->page_urls = lappend(stream->page_urls, pstrdup(url));
	MemoryContextSwitchTo(oldcxt);
	use_page(stream, page);
}

/*
 * Keep up to prefetch_pages requests in flight for the pages after the one
 * being read, so that parsing and network waits overlap.  With 'link' and
 * 'cursor' a page's successor is known once its headers are in; with
 * 'page' and 'offset' it is guessed that the page is full, and the guess is
 * dropped if it was not.  A next page that the checks of next_page() would
 * refuse is not fetched ahead; next_page() refuses it in its turn.
 */
static void
fetch_pages_ahead(RecordStream *stream)
{
	const PaginationOptions *p = &stream->options->pagination;
	MemoryContext oldcxt;
	FetchedPage *page;

	while ((p->mode != PAGINATION_NONE || stream->manifest_urls) &&
		   list_length(stream->ahead) < p->prefetch_pages)
	{
		HttpTransfer *last = stream->ahead != NIL
			? ((FetchedPage *) llast(stream->ahead))->transfer : stream->transfer;
		int			last_page = stream->page + list_length(stream->ahead);
		char	   *url;
		char	   *origin;

		if ((p->mode == PAGINATION_LINK || p->mode == PAGINATION_CURSOR) &&
			!http_transfer_headers_complete(last))
			break;
		if (stream->manifest_urls)
		{
			/* a manifest's files may be anywhere http's checks allow */
			url = file_after(stream, last_page);
			if (url == NULL || last_page >= p->max_pages)
				break;
		}
		else if ((url = pagination_next_url(stream->options, last_page, stream->first_url,
											last, PG_UINT64_MAX)) == NULL ||
				 last_page >= p->max_pages ||
				 (origin = url_origin(url)) == NULL ||
				 strcmp(origin, stream->first_origin) != 0 ||
				 url_seen(stream, url, true))
			break;
		page = fetch_page(stream, url);
		/* the list outlives the per-row memory the scan may call us in */
		oldcxt = MemoryContextSwitchTo(stream->cxt);
		stream->ahead = lappend(stream->ahead, page);
		MemoryContextSwitchTo(oldcxt);
	}
	if (stream->ahead != NIL)
		http_session_advance(stream->session);
}

/* Start fetching url; the stream lives in a child of CurrentMemoryContext. */
/* the stream's context goes: the thread is free for the next stream */
static void
give_back_parse_thread(void *arg)
{
	parse_thread_give_back((ParseThread *) arg);
}

/* Parse on the backend's thread where it is free (see parse_thread_backend.c). */
static void
borrow_parse_thread(RecordStream *stream)
{
	stream->parser = parse_thread_borrow();
	if (stream->parser == NULL)
		return;
	stream->give_back_parser.func = give_back_parse_thread;
	stream->give_back_parser.arg = stream->parser;
	MemoryContextRegisterResetCallback(stream->cxt, &stream->give_back_parser);
}

/*
 * The stream's context goes: so does its hash.  In an aborting
 * (sub)transaction the resource owner the hash was made under has freed it
 * already.
 */
static void
free_body_hash(void *arg)
{
	if (IsTransactionState())
		pg_cryptohash_free((pg_cryptohash_ctx *) arg);
}

/* what is sent with a check: If-None-Match, If-Modified-Since */
static void
set_up_check(RecordStream *stream, FetchCheck *check)
{
	HttpOptions *http = &stream->conditional_http;

	if (check == NULL || stream->options->pagination.mode != PAGINATION_NONE)
		return;
	stream->check = check;
	check->done = false;		/* what this stream finds */
	*http = stream->options->http;
	http->headers = list_copy(http->headers);
	if (check->if_none_match)
		http->headers = lappend(http->headers,
								psprintf("If-None-Match: %s", check->if_none_match));
	if (check->if_modified_since)
		http->headers = lappend(http->headers,
								psprintf("If-Modified-Since: %s", check->if_modified_since));
	http->conditional = check->if_none_match || check->if_modified_since;
	stream->body_hash = pg_cryptohash_create(PG_SHA256);
	if (stream->body_hash == NULL || pg_cryptohash_init(stream->body_hash) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not start hashing the export")));
	stream->free_body_hash.func = free_body_hash;
	stream->free_body_hash.arg = stream->body_hash;
	MemoryContextRegisterResetCallback(stream->cxt, &stream->free_body_hash);
}

/*
 * Start fetching url.  check (NULL for none) is a sync's: see set_up_check
 * and finish_check.
 */
RecordStream *
record_stream_open(const CsvExportOptions *options, const char *url, FetchCheck *check)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext,
											  "csv_export_fdw stream",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext oldcxt = MemoryContextSwitchTo(cxt);
	RecordStream *stream = palloc0(sizeof(RecordStream));

	stream->options = options;
	stream->cxt = cxt;
	stream->session = http_session_create();
	stream->first_url = pagination_first_url(options, url);
	stream->first_origin = url_origin(stream->first_url);
	borrow_parse_thread(stream);
	if (options->manifest)
	{
		/* the table's request (a POST that starts a job, maybe) is the manifest's */
		stream->file_http = options->http;
		stream->file_http.post = false;
		stream->file_http.body = NULL;
		stream->manifest_urls = read_manifest(stream);
	}
	else
		set_up_check(stream, check);
	MemoryContextSwitchTo(oldcxt);
	start_page(stream, stream->manifest_urls ? linitial(stream->manifest_urls)
			   : stream->first_url);
	return stream;
}

/* Abort the transfer, if it still runs, and free everything. */
void
record_stream_close(RecordStream *stream)
{
	MemoryContextDelete(stream->cxt);
}

/*
 * From now on copy only the fields whose keep[] entry is true (of every
 * page, and of page 1 again if its request is retried); said once, after
 * the header, if there is one.
 */
void
record_stream_keep_fields(RecordStream *stream, const bool *keep, int nkeep)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(stream->cxt);

	stream->keep = palloc(sizeof(bool) * Max(nkeep, 1));
	memcpy(stream->keep, keep, sizeof(bool) * nkeep);
	stream->nkeep = nkeep;
	stream->keep_set = true;
	MemoryContextSwitchTo(oldcxt);
	apply_keep(stream);
}

static void
report_csv_error(RecordStream *stream, CsvReaderStatus status)
{
	stream->line = csv_reader_current_line(stream->reader);
	if (status == CSV_READER_OUT_OF_MEMORY)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory while parsing CSV")));
	if (status == CSV_READER_RECORD_TOO_LONG)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("CSV record is longer than max_record_bytes (%lld bytes)",
						(long long) stream->options->max_record_bytes),
				 errhint("Raise the table option max_record_bytes, or skip such rows with on_error 'skip'.")));
	if (status == CSV_READER_UTF16)
		ereport(ERROR,
				(errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
				 errmsg("export is encoded in UTF-16"),
				 errdetail("It starts with a UTF-16 byte-order mark; PostgreSQL has no UTF-16 encoding."),
				 errhint("Ask the API for UTF-8 (or another encoding PostgreSQL has, named in the table option encoding).")));
	ereport(ERROR,
			(errcode(ERRCODE_BAD_COPY_FILE_FORMAT),
			 errmsg("malformed CSV: %s", csv_reader_status_message(status)),
			 status == CSV_READER_SPACE_BEFORE_QUOTE ?
			 errhint("RFC 4180 allows no space between a delimiter and a quoted field; the table option trim_spaces 'true' reads such exports.") : 0));
}

static List *
header_strings(const CsvRecord *record)
{
	List	   *fields = NIL;
	int			i;

	for (i = 0; i < record->nkept; i++)
		fields = lappend(fields, pnstrdup(record->fields[i].value, record->fields[i].len));
	return fields;
}

static char *
join_header(List *fields)
{
	StringInfoData out;
	ListCell   *lc;

	initStringInfo(&out);
	foreach(lc, fields)
		appendStringInfo(&out, "%s%s", out.len > 0 ? ", " : "", (char *) lfirst(lc));
	return out.data;
}

/*
 * A header that is not the first one's: of a later page, of a later archive
 * member, or of page 1 fetched again.
 */
static void
report_other_header(RecordStream *stream, List *fields)
{
	const char *first = join_header(stream->first_header);

	if (stream->archive && stream->members > 1)
		ereport(ERROR,
				(errcode(ERRCODE_BAD_COPY_FILE_FORMAT),
				 errmsg("member \"%s\" of the archive has another CSV header than the first member",
						stream->member),
				 errdetail("First member: %s. \"%s\": %s.", first, stream->member,
						   join_header(fields))));
	if (stream->page > 1)
		ereport(ERROR,
				(errcode(ERRCODE_BAD_COPY_FILE_FORMAT),
				 errmsg("page %d of the export has another CSV header than page 1", stream->page),
				 errdetail("Page 1: %s. Page %d: %s.", first, stream->page, join_header(fields))));
	ereport(ERROR,
			(errcode(ERRCODE_BAD_COPY_FILE_FORMAT),
			 errmsg("the CSV header of the export changed when its request was retried"),
			 errdetail("Before: %s. After: %s.", first, join_header(fields))));
}

/*
 * A page's header.  The first page's is kept, and handed on for the caller
 * to map; every later one (and page 1's again, when its request is retried)
 * must be the same, and is dropped.  Returns whether to hand the record on.
 */
static bool
take_header(RecordStream *stream, const CsvRecord *record)
{
	List	   *fields;
	MemoryContext oldcxt;

	stream->header_pending = false;
	/* skipping a record is for rows: without its header no row can be read */
	if (record->malformed != CSV_READER_OK)
		ereport(ERROR,
				(errcode(ERRCODE_BAD_COPY_FILE_FORMAT),
				 errmsg("malformed CSV in the header of page %d: %s",
						stream->page, csv_reader_status_message(record->malformed))));
	if (record->too_long)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the CSV header of page %d is longer than max_record_bytes (%lld bytes)",
						stream->page, (long long) stream->options->max_record_bytes),
				 errdetail("Each field counts %d bytes besides its own.",
						   CSV_READER_FIELD_OVERHEAD)));
	if (!stream->header_taken)
	{
		oldcxt = MemoryContextSwitchTo(stream->cxt);
		stream->first_header = header_strings(record);
		MemoryContextSwitchTo(oldcxt);
		stream->header_taken = true;
		return true;
	}
	fields = header_strings(record);
	if (list_length(fields) != list_length(stream->first_header) ||
		strcmp(join_header(fields), join_header(stream->first_header)) != 0)
		report_other_header(stream, fields);
	if (stream->keep_set)
		apply_keep(stream);
	return false;
}


/* The export read to its end: what a sync's check found. */
static void
finish_check(RecordStream *stream)
{
	FetchCheck *check = stream->check;
	MemoryContext oldcxt;

	/* (a caller may ask for records again after the end) */
	if (check == NULL || check->done)
		return;
	oldcxt = MemoryContextSwitchTo(TopTransactionContext);
	check->not_modified = http_transfer_not_modified(stream->transfer);
	check->etag = http_transfer_validator(stream->transfer, "ETag");
	check->last_modified = http_transfer_validator(stream->transfer, "Last-Modified");
	MemoryContextSwitchTo(oldcxt);
	if (pg_cryptohash_final(stream->body_hash, check->body_hash, FETCH_CHECK_HASH_LENGTH) < 0)
		elog(ERROR, "could not hash the export");
	check->done = true;
}

/*
 * After a page: start the next one, if the pagination mode finds one.
 * Returns false at the end of the export.
 */
static bool
next_page(RecordStream *stream)
{
	char	   *url = stream->manifest_urls ? file_after(stream, stream->page)
		: pagination_next_url(stream->options, stream->page, stream->first_url,
							  stream->transfer, stream->page_records);
	char	   *origin;

	if (url == NULL)
	{
		drop_pages_ahead(stream);
		finish_check(stream);
		return false;
	}
	if (stream->page >= stream->options->pagination.max_pages)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the export at \"%s\" has more than max_pages (%lld) pages",
						url_redact(stream->first_url),
						(long long) stream->options->pagination.max_pages)));
	/* a manifest's files go where http's checks allow, credentials only home */
	if (stream->manifest_urls)
	{
		start_page(stream, url);
		return true;
	}
	origin = url_origin(url);
	/* credentials go along to every page: only to the first page's origin */
	if (origin == NULL || strcmp(origin, stream->first_origin) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("next page \"%s\" is on another origin than the export", url_redact(url)),
				 errdetail("Pages must come from %s.", stream->first_origin)));
	if (url_seen(stream, url, false))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("page %d of the export links back to \"%s\"",
						stream->page, url_redact(url)),
				 errdetail("The pages form a loop.")));
	start_page(stream, url);
	return true;
}

/*
 * The current page's next bytes, hashed for a sync's check.  A request that
 * starts over (HTTP_READ_RESTARTED), or a file whose URL is renewed
 * (HTTP_READ_FORBIDDEN), gets a fresh reader (and archive reader): its
 * bytes come again from the start.
 */
static HttpReadResult
read_transfer(RecordStream *stream, const char **data, size_t *len)
{
	bool		restart_allowed = (stream->page == 1 && stream->records_out == 0);
	HttpReadResult result = http_transfer_read(stream->transfer, restart_allowed, data, len);

	switch (result)
	{
		case HTTP_READ_DATA:
			if (stream->body_hash &&
				pg_cryptohash_update(stream->body_hash, (const uint8 *) *data, *len) < 0)
				elog(ERROR, "could not hash the export");
			break;
		case HTTP_READ_END:
			break;
		case HTTP_READ_RESTARTED:
			/* the body comes again from its start */
			if (stream->body_hash && pg_cryptohash_init(stream->body_hash) < 0)
				elog(ERROR, "could not hash the export");
			start_archive(stream);
			start_reader(stream);
			break;
		case HTTP_READ_FORBIDDEN:
			renew_file_url(stream);
			break;
	}
	return result;
}

/*
 * Archives
 */

static void
destroy_archive_reader(void *arg)
{
	archive_reader_destroy((ArchiveReader *) arg);
}

/* With archive_member, the page's body is an archive: a reader for it. */
static void
start_archive(RecordStream *stream)
{
	MemoryContextCallback *release;

	stream->archive = NULL;
	stream->member_cxt = NULL;
	stream->in_member = false;
	stream->archive_done = false;
	stream->page_members = 0;
	stream->page_member_bytes = 0;
	if (stream->options->archive_member == NULL)
		return;
	stream->archive = archive_reader_create(512 * 1024);
	if (stream->archive == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory while starting to read an archive")));
	release = MemoryContextAlloc(stream->page_cxt, sizeof(MemoryContextCallback));
	release->func = destroy_archive_reader;
	release->arg = stream->archive;
	MemoryContextRegisterResetCallback(stream->page_cxt, release);
}

/* A member starts: read if archive_member matches its name (macOS's forks never). */
static void
take_member(RecordStream *stream, const char *name)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(stream->cxt);

	if (stream->member)
		pfree(stream->member);
	stream->member = pstrdup(name);
	MemoryContextSwitchTo(oldcxt);
	stream->in_member = fnmatch(stream->options->archive_member, name, 0) == 0 &&
		strncmp(name, "__MACOSX/", 9) != 0;
	if (stream->in_member)
	{
		stream->page_members++;
		stream->members++;
	}
}

/* max_bytes counts what the members inflate to, as it counts the body's */
static void
count_member_bytes(RecordStream *stream, size_t len)
{
	int64		limit = stream->options->http.max_bytes;

	stream->page_member_bytes += len;
	if (limit > 0 && stream->page_member_bytes > (uint64) limit)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the members of the %s archive at \"%s\" hold more than max_bytes (%lld bytes)",
						archive_reader_format(stream->archive), stream->page_display_url,
						(long long) limit)));
}

/* The archive's body has ended: complete, and with a member read. */
static void
end_archive(RecordStream *stream)
{
	bool		empty = archive_reader_untouched(stream->archive);

	if (!empty && !archive_reader_at_end(stream->archive))
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("transfer of \"%s\" failed", stream->page_display_url),
				 errdetail("The %s archive ended before its end marker%s.",
						   archive_reader_format(stream->archive),
						   stream->in_member ? psprintf(", in member \"%s\"", stream->member)
						   : "")));
	if (!empty && stream->page_members == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("no member of the %s archive at \"%s\" matches archive_member '%s'",
						archive_reader_format(stream->archive), stream->page_display_url,
						stream->options->archive_member),
				 stream->member ? errdetail("Its last member is \"%s\".", stream->member) : 0));
	stream->archive_done = true;
	stream->pending_data = NULL;
	stream->input_done = true;
	stream->pending = true;
}

/*
 * The next chunk of the CSV of the member being read, from the archive
 * reader fed from the transfer; a member's end is the end of its reader's
 * input, and next_member() starts the next.
 */
static void
fetch_member_chunk(RecordStream *stream)
{
	for (;;)
	{
		const char *data;
		size_t		len;
		ArchiveEvent event = archive_reader_next(stream->archive, &data, &len);

		if (event == ARCHIVE_NEED_INPUT)
		{
			HttpReadResult result = read_transfer(stream, &data, &len);

			if (result == HTTP_READ_DATA)
			{
				archive_reader_feed(stream->archive, data, len);
				continue;
			}
			if (result == HTTP_READ_END)
				end_archive(stream);
			return;				/* or started over: nothing pending */
		}
		if (event == ARCHIVE_ERROR)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 strcmp(archive_reader_format(stream->archive), "archive") == 0
					 ? errmsg("response from \"%s\" is not a zip or tar archive",
							  stream->page_display_url)
					 : errmsg("%s archive at \"%s\" is not valid",
							  archive_reader_format(stream->archive), stream->page_display_url),
					 errdetail("%s", archive_reader_error(stream->archive))));
		if (event == ARCHIVE_MEMBER)
			take_member(stream, data);
		else if (!stream->in_member)
			continue;			/* a member not asked for */
		else if (event == ARCHIVE_DATA)
		{
			count_member_bytes(stream, len);
			stream->pending_data = data;
			stream->pending_len = len;
			stream->pending = true;
			return;
		}
		else if (event == ARCHIVE_MEMBER_END)
		{
			stream->in_member = false;
			stream->pending_data = NULL;
			stream->input_done = true;
			stream->pending = true;
			return;
		}
	}
}

/* After a member: a reader for the next one, whose header is checked. */
static void
next_member(RecordStream *stream)
{
	wait_for_parse(stream);
	if (stream->member_cxt)
		MemoryContextDelete(stream->member_cxt);
	stream->member_cxt = AllocSetContextCreate(stream->page_cxt, "csv_export_fdw member",
											   ALLOCSET_DEFAULT_SIZES);
	start_reader(stream);
}

/*
 * Read the next chunk of the current page, to be parsed by parse_pending().
 * A request that fails after part of its body may start over while no data
 * record has been handed out (a page after the first cannot: rows came of
 * the earlier pages); the page's reader then starts over too, and nothing
 * is pending.
 */
static void
fetch_chunk(RecordStream *stream)
{
	const char *data;
	size_t		len;

	stream->line = 0;
	fetch_pages_ahead(stream);
	if (stream->archive)
	{
		fetch_member_chunk(stream);
		return;
	}
	switch (read_transfer(stream, &data, &len))
	{
		case HTTP_READ_DATA:
			stream->pending_data = data;
			stream->pending_len = len;
			break;
		case HTTP_READ_END:
			stream->pending_data = NULL;
			stream->input_done = true;
			break;
		default:
			return;				/* started over: nothing pending */
	}
	stream->pending = true;
}

/*
 * Parse the chunk read last: on the thread once the page's header is in
 * (which fields to keep is settled then), otherwise here.  Its records are
 * published by publish_parsed().
 */
static void
parse_pending(RecordStream *stream)
{
	if (stream->pending_data == NULL)
		stream->parse_status = csv_reader_parse_end(stream->reader);
	else if (stream->parser && !stream->header_pending)
		parse_thread_begin(stream->parser, stream->reader,
						   stream->pending_data, stream->pending_len);
	else
		stream->parse_status = csv_reader_parse(stream->reader, stream->pending_data,
												stream->pending_len);
	stream->pending = false;
	stream->unpublished = true;
}

/*
 * Hand the parsed records to csv_reader_next().  A CSV error the parse met
 * is kept in stream->failed and raised once the records before it are
 * handed out: errors come in the export's order, and a LIMIT satisfied
 * before the error never sees it, wherever the chunks happen to end.
 */
static void
publish_parsed(RecordStream *stream)
{
	CsvReaderStatus status;
	CsvReaderStatus published;

	wait_for_parse(stream);
	status = stream->parse_status;
	stream->parse_status = CSV_READER_OK;
	stream->unpublished = false;
	published = csv_reader_publish(stream->reader);
	stream->failed = (status != CSV_READER_OK) ? status : published;
}

/*
 * With the thread: while the records just published are used, have it parse
 * the next chunk, and read the one after.  (http_transfer_read() leaves a
 * chunk alone until the call after next.)  A transfer that starts over
 * leaves nothing pending: the records come again from its new reader.
 */
static void
parse_ahead(RecordStream *stream)
{
	if (stream->parser == NULL || stream->header_pending)
		return;
	if (!stream->pending && !stream->input_done)
	{
		fetch_chunk(stream);
		if (!stream->pending)
			return;
	}
	if (stream->pending)
		parse_pending(stream);
	if (!stream->input_done)
		fetch_chunk(stream);
}

/*
 * The next record, the first page's header included (*is_header); false at
 * the end of the export.  Errors (HTTP, malformed CSV) are raised here.
 */
static bool
read_record(RecordStream *stream, CsvRecord *record, bool *is_header)
{
	for (;;)
	{
		if (csv_reader_next(stream->reader, record))
		{
			stream->line = record->line;
			*is_header = stream->header_pending;
			if (*is_header && !take_header(stream, record))
				continue;
			if (!*is_header)
				stream->page_records++;
			return true;
		}
		if (stream->failed != CSV_READER_OK)
			report_csv_error(stream, stream->failed);
		if (stream->unpublished)
		{
			publish_parsed(stream);
			/* after an error, nothing more is parsed */
			if (stream->failed == CSV_READER_OK)
				parse_ahead(stream);
		}
		else if (stream->pending)
			parse_pending(stream);
		else if (!stream->input_done)
			fetch_chunk(stream);
		else if (stream->archive && !stream->archive_done)
			next_member(stream);
		else if (!next_page(stream))
			return false;
	}
}

/*
 * The first page's header, before any data record (with the table option
 * header); false if the export is empty.  Valid until the next call.
 */
bool
record_stream_header(RecordStream *stream, CsvRecord *header)
{
	bool		is_header;

	Assert(stream->options->header && !stream->header_taken);
	if (!read_record(stream, header, &is_header))
		return false;
	Assert(is_header);
	return true;
}

/* The next data record; false at the end of the export. */
bool
record_stream_next(RecordStream *stream, CsvRecord *record)
{
	bool		is_header;

	do
	{
		if (!read_record(stream, record, &is_header))
			return false;
	} while (is_header);
	stream->records_out++;
	return true;
}

/* The line of the last record handed out, or of a CSV error; 0 if none. */
uint64
record_stream_line(const RecordStream *stream)
{
	return stream->line;
}

/*
 * Add what the stream fetched to stats: the bytes of the pages read so far
 * (pages fetched ahead count once they are read), every request.
 */
void
record_stream_add_stats(const RecordStream *stream, ExportStats *stats)
{
	ListCell   *lc;

	stats->pages += stream->page;
	stats->members += stream->members;
	stats->requests += stream->requests_done + http_transfer_requests(stream->transfer);
	foreach(lc, stream->ahead)
		stats->requests += http_transfer_requests(((FetchedPage *) lfirst(lc))->transfer);
	stats->bytes += stream->bytes_done + http_transfer_bytes_received(stream->transfer);
	stats->bytes_decoded += stream->bytes_decoded_done +
		http_transfer_bytes_decoded(stream->transfer);
	if (http_transfer_compression(stream->transfer))
		strlcpy(stats->compression, http_transfer_compression(stream->transfer),
				sizeof(stats->compression));
	else if (stream->compression[0])
		strlcpy(stats->compression, stream->compression, sizeof(stats->compression));
}

/* The archive member being read, or NULL. */
const char *
record_stream_member(const RecordStream *stream)
{
	return stream->archive ? stream->member : NULL;
}

/* The page being read (1-based), and its URL, redacted. */
int
record_stream_page(const RecordStream *stream, const char **display_url)
{
	*display_url = stream->page_display_url;
	return stream->page;
}
