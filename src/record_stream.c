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
 */
#include "postgres.h"

#include "mb/pg_wchar.h"
#include "utils/memutils.h"

#include "csv_export_fdw.h"

struct RecordStream
{
	const CsvExportOptions *options;
	MemoryContext cxt;
	HttpTransfer *transfer;
	CsvReader  *reader;
	bool		input_done;
	uint64		line;			/* of the last record or CSV error; 0 if none */
};

static void
release_reader(void *arg)
{
	csv_reader_destroy((CsvReader *) arg);
}

/* A fresh reader, keeping every field; the old one goes with cxt. */
static void
start_reader(RecordStream *stream)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(stream->cxt);
	MemoryContextCallback *release = palloc0(sizeof(MemoryContextCallback));

	stream->reader = csv_reader_create(stream->options->delimiter,
									   stream->options->quote,
									   stream->options->encoding == PG_UTF8);
	if (stream->reader == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory while creating a CSV reader")));
	release->func = release_reader;
	release->arg = stream->reader;
	MemoryContextRegisterResetCallback(stream->cxt, release);
	csv_reader_limit_record(stream->reader, (size_t) stream->options->max_record_bytes,
							stream->options->on_error_skip);
	MemoryContextSwitchTo(oldcxt);
}

/* Start fetching url; the stream lives in a child of CurrentMemoryContext. */
RecordStream *
record_stream_open(const CsvExportOptions *options, const char *url)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext,
											  "csv_export_fdw stream",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext oldcxt = MemoryContextSwitchTo(cxt);
	RecordStream *stream = palloc0(sizeof(RecordStream));

	stream->options = options;
	stream->cxt = cxt;
	stream->transfer = http_transfer_start(&options->http, url);
	MemoryContextSwitchTo(oldcxt);
	start_reader(stream);
	return stream;
}

/* Abort the transfer, if it still runs, and free everything. */
void
record_stream_close(RecordStream *stream)
{
	MemoryContextDelete(stream->cxt);
}

/*
 * From now on copy only the fields whose keep[] entry is true.  A restart
 * (RECORD_STREAM_RESTARTED) begins again with every field kept.
 */
void
record_stream_keep_fields(RecordStream *stream, const bool *keep, int nkeep)
{
	if (!csv_reader_keep_fields(stream->reader, keep, nkeep))
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory while parsing CSV")));
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
	ereport(ERROR,
			(errcode(ERRCODE_BAD_COPY_FILE_FORMAT),
			 errmsg("malformed CSV: %s", csv_reader_status_message(status))));
}

/*
 * The next record.  restart_allowed says the caller has used no record yet
 * in a way it cannot take back, so a failed request may be retried even
 * after part of its body was read; the caller then gets
 * RECORD_STREAM_RESTARTED and must forget the records it had, the header
 * included.  Errors (HTTP, malformed CSV) are raised here.
 */
RecordStreamResult
record_stream_next(RecordStream *stream, bool restart_allowed, CsvRecord *record)
{
	for (;;)
	{
		const char *data;
		size_t		len;
		CsvReaderStatus status = CSV_READER_OK;

		if (csv_reader_next(stream->reader, record))
		{
			stream->line = record->line;
			return RECORD_STREAM_RECORD;
		}
		if (stream->input_done)
			return RECORD_STREAM_END;

		stream->line = 0;
		switch (http_transfer_read(stream->transfer, restart_allowed, &data, &len))
		{
			case HTTP_READ_DATA:
				status = csv_reader_feed(stream->reader, data, len);
				break;
			case HTTP_READ_END:
				status = csv_reader_finish(stream->reader);
				stream->input_done = true;
				break;
			case HTTP_READ_RESTARTED:
				start_reader(stream);
				return RECORD_STREAM_RESTARTED;
		}
		if (status != CSV_READER_OK)
			report_csv_error(stream, status);
	}
}

/* The line of the last record handed out, or of a CSV error; 0 if none. */
uint64
record_stream_line(const RecordStream *stream)
{
	return stream->line;
}

uint64
record_stream_bytes(const RecordStream *stream)
{
	return http_transfer_bytes_received(stream->transfer);
}

int
record_stream_requests(const RecordStream *stream)
{
	return http_transfer_requests(stream->transfer);
}
