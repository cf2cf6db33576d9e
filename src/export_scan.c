/*
 * export_scan.c
 *		Rows of a foreign table from the records of its export.
 *
 * Matches the table's columns to the CSV header (or takes them in order),
 * and turns each record into column values with the types' input functions,
 * converting only the columns the caller needs.  It needs a relation, not an
 * executor node, so that the scan and ANALYZE share it.
 */
#include "postgres.h"

#include "mb/pg_wchar.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "csv_export_fdw.h"

/* Longest stretch of a bad value quoted in an error context. */
#define CONTEXT_VALUE_MAX		80

struct ExportScan
{
	Relation	rel;
	const CsvExportOptions *options;
	char	   *url;
	char	   *display_url;	/* redacted */

	/* what the caller needs, and where it comes from in the CSV */
	TupleDesc	tupdesc;
	bool	   *needed;			/* by attribute index */
	char	  **header_names;	/* by attribute index; NULL if dropped */
	int		   *field_to_att;	/* CSV field number -> attribute index or -1 */
	bool	   *fields_to_keep; /* by CSV field number */
	int			nmapped_fields;
	int			expected_fields;	/* fields per record */
	bool		header_pending;
	ValueConverter *converter;

	/* one pass over the export; a rescan starts another */
	MemoryContext cxt;
	RecordStream *stream;
	uint64		rows_returned;	/* in this pass; none yet allows a retry */

	/* what an error context reports */
	const char *current_column;
	const char *current_value;

	/* over all passes, for EXPLAIN ANALYZE */
	uint64		bytes_of_done_passes;
	int			requests_of_done_passes;
	uint64		records_parsed;
};

/*
 * Error context: which table, where in the export, which value.
 */

/* value, cut short and only as far as it is valid text, for a message */
static char *
printable_value(const char *value)
{
	int			len = strlen(value);
	int			valid = pg_encoding_verifymbstr(GetDatabaseEncoding(), value, len);
	int			shown = pg_mbcliplen(value, valid, CONTEXT_VALUE_MAX);

	if (shown < len)
		return psprintf("%.*s...", shown, value);
	return pstrdup(value);
}

static void
scan_error_context(void *arg)
{
	ExportScan *scan = arg;
	const char *relname = RelationGetRelationName(scan->rel);
	uint64		line = scan->stream ? record_stream_line(scan->stream) : 0;

	if (line == 0)
		errcontext("foreign table \"%s\"", relname);
	else if (scan->current_column == NULL)
		errcontext("foreign table \"%s\", line %llu of %s", relname,
				   (unsigned long long) line, scan->display_url);
	else
		errcontext("foreign table \"%s\", line %llu of %s, column \"%s\": \"%s\"",
				   relname, (unsigned long long) line, scan->display_url,
				   scan->current_column, printable_value(scan->current_value));
}

/*
 * Mapping columns to fields
 */

static char *
describe_header(const CsvRecord *header, ValueConverter *converter)
{
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	for (i = 0; i < header->nkept; i++)
		appendStringInfo(&buf, "%s%s", i > 0 ? ", " : "",
						 value_converter_to_server(converter, header->fields[i].value,
												   header->fields[i].len));
	return buf.data;
}

/* Index of the header field called name, or -1; ambiguity is an error. */
static int
find_header_field(ExportScan *scan, const CsvRecord *header, const char *name)
{
	int			found = -1;
	int			i;

	for (i = 0; i < header->nkept; i++)
	{
		const char *field = value_converter_to_server(scan->converter,
													  header->fields[i].value,
													  header->fields[i].len);

		if (strcmp(field, name) != 0)
			continue;
		if (found >= 0)
			ereport(ERROR,
					(errcode(ERRCODE_BAD_COPY_FILE_FORMAT),
					 errmsg("column \"%s\" appears more than once in the CSV header", name),
					 errdetail("The header is: %s.", describe_header(header, scan->converter))));
		found = header->fields[i].number;
	}
	return found;
}

/*
 * Match the table's columns to the header's fields by name.  Every column
 * must be there, whether or not the caller reads it, so a table either works
 * with an export or fails on its first row.
 */
static void
map_header(ExportScan *scan, const CsvRecord *header)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(scan->cxt);
	StringInfoData missing;
	bool	   *keep = palloc0(sizeof(bool) * header->nfields);
	int			i;

	initStringInfo(&missing);
	if (scan->field_to_att)
		pfree(scan->field_to_att);	/* of an earlier pass */
	scan->field_to_att = palloc(sizeof(int) * header->nfields);
	for (i = 0; i < header->nfields; i++)
		scan->field_to_att[i] = -1;

	for (i = 0; i < scan->tupdesc->natts; i++)
	{
		int			field;

		if (scan->header_names[i] == NULL)
			continue;
		field = find_header_field(scan, header, scan->header_names[i]);
		if (field < 0)
			appendStringInfo(&missing, "%s\"%s\"", missing.len > 0 ? ", " : "",
							 scan->header_names[i]);
		else if (scan->needed[i])
		{
			scan->field_to_att[field] = i;
			keep[field] = true;
		}
	}
	if (missing.len > 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_COLUMN_NAME_NOT_FOUND),
				 errmsg("columns of foreign table \"%s\" missing from the CSV header: %s",
						RelationGetRelationName(scan->rel), missing.data),
				 errdetail("The header is: %s.", describe_header(header, scan->converter)),
				 errhint("Use the column option \"column_name\" to read a column from a differently named CSV field.")));

	scan->nmapped_fields = header->nfields;
	scan->expected_fields = header->nfields;
	record_stream_keep_fields(scan->stream, keep, header->nfields);
	pfree(keep);
	pfree(missing.data);
	MemoryContextSwitchTo(oldcxt);
}

/* Without a header, CSV fields map to the table's columns in order. */
static void
map_by_position(ExportScan *scan)
{
	int			i;
	int			field = 0;

	scan->field_to_att = palloc(sizeof(int) * scan->tupdesc->natts);
	scan->fields_to_keep = palloc(sizeof(bool) * scan->tupdesc->natts);
	for (i = 0; i < scan->tupdesc->natts; i++)
	{
		if (scan->header_names[i] == NULL)
			continue;
		scan->field_to_att[field] = scan->needed[i] ? i : -1;
		scan->fields_to_keep[field] = scan->needed[i];
		field++;
	}
	scan->nmapped_fields = field;
	scan->expected_fields = field;
}

/*
 * Reading
 */

/* Begin reading the export afresh: at the start, or after a restart. */
static void
expect_header(ExportScan *scan)
{
	scan->header_pending = scan->options->header;
	if (!scan->options->header)
		record_stream_keep_fields(scan->stream, scan->fields_to_keep,
								  scan->nmapped_fields);
}

/* The next data record of the export, false at its end. */
static bool
next_record(ExportScan *scan, CsvRecord *record)
{
	for (;;)
	{
		switch (record_stream_next(scan->stream, scan->rows_returned == 0, record))
		{
			case RECORD_STREAM_END:
				return false;
			case RECORD_STREAM_RESTARTED:
				expect_header(scan);
				continue;
			case RECORD_STREAM_RECORD:
				break;
		}
		if (scan->header_pending)
		{
			map_header(scan, record);
			scan->header_pending = false;
			continue;
		}
		scan->records_parsed++;
		if (record->nfields != scan->expected_fields)
			ereport(ERROR,
					(errcode(ERRCODE_BAD_COPY_FILE_FORMAT),
					 errmsg("record has %d fields but %s %d",
							record->nfields,
							scan->options->header ? "the header has" : "the foreign table has",
							scan->expected_fields)));
		return true;
	}
}

static void
convert_record(ExportScan *scan, const CsvRecord *record, Datum *values, bool *isnull)
{
	int			i;

	memset(isnull, true, sizeof(bool) * scan->tupdesc->natts);
	for (i = 0; i < record->nkept; i++)
	{
		const CsvField *field = &record->fields[i];
		int			att = field->number < scan->nmapped_fields
			? scan->field_to_att[field->number] : -1;

		if (att < 0)
			continue;
		scan->current_column = scan->header_names[att];
		scan->current_value = field->value;
		values[att] = value_converter_datum(scan->converter, att, field->value,
											field->len, field->is_null, &isnull[att]);
	}
	scan->current_column = NULL;
}

/*
 * The next row: values and isnull (of the relation's width) are filled in
 * for the needed columns, the others are NULL.  False at the end.  Values
 * are allocated in CurrentMemoryContext.
 */
bool
export_scan_next(ExportScan *scan, Datum *values, bool *isnull)
{
	ErrorContextCallback errcallback;
	CsvRecord	record;
	bool		found;

	errcallback.callback = scan_error_context;
	errcallback.arg = scan;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;

	if (scan->stream == NULL)
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(scan->cxt);

		scan->stream = record_stream_open(scan->options, scan->url);
		MemoryContextSwitchTo(oldcxt);
		scan->rows_returned = 0;
		expect_header(scan);
	}

	found = next_record(scan, &record);
	if (found)
	{
		convert_record(scan, &record, values, isnull);
		scan->rows_returned++;
	}

	error_context_stack = errcallback.previous;
	return found;
}

/*
 * Set up reading rel's export from url.  needed says which attributes (by
 * index) to convert; NULL means all.  Nothing is fetched until the first
 * export_scan_next().
 */
ExportScan *
export_scan_begin(Relation rel, const CsvExportOptions *options, const char *url,
				  const bool *needed)
{
	ExportScan *scan = palloc0(sizeof(ExportScan));
	Oid			relid = RelationGetRelid(rel);
	int			natts;
	int			i;

	scan->rel = rel;
	scan->options = options;
	scan->url = pstrdup(url);
	scan->display_url = url_redact(url);
	scan->tupdesc = RelationGetDescr(rel);
	natts = scan->tupdesc->natts;

	scan->needed = palloc(sizeof(bool) * natts);
	scan->header_names = palloc0(sizeof(char *) * natts);
	for (i = 0; i < natts; i++)
	{
		Form_pg_attribute attr = TupleDescAttr(scan->tupdesc, i);

		scan->needed[i] = needed ? needed[i] : !attr->attisdropped;
		if (!attr->attisdropped)
			scan->header_names[i] = csv_export_column_header_name(relid, attr);
	}
	if (!options->header)
		map_by_position(scan);

	scan->converter = value_converter_create(scan->tupdesc, options->encoding,
											 options->null_string);
	scan->cxt = AllocSetContextCreate(CurrentMemoryContext, "csv_export_fdw scan",
									  ALLOCSET_DEFAULT_SIZES);
	return scan;
}

/* Drop the current pass; the next row fetches the export again. */
void
export_scan_rescan(ExportScan *scan)
{
	if (scan->stream == NULL)
		return;
	scan->bytes_of_done_passes += record_stream_bytes(scan->stream);
	scan->requests_of_done_passes += record_stream_requests(scan->stream);
	record_stream_close(scan->stream);
	scan->stream = NULL;
}

void
export_scan_end(ExportScan *scan)
{
	MemoryContextDelete(scan->cxt);
	scan->stream = NULL;
}

/* Totals over all passes so far. */
void
export_scan_stats(const ExportScan *scan, int *requests, uint64 *bytes, uint64 *records)
{
	*requests = scan->requests_of_done_passes;
	*bytes = scan->bytes_of_done_passes;
	if (scan->stream)
	{
		*requests += record_stream_requests(scan->stream);
		*bytes += record_stream_bytes(scan->stream);
	}
	*records = scan->records_parsed;
}
