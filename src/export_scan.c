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

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_collation.h"
#include "mb/pg_wchar.h"
#include "utils/formatting.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/resowner.h"

#include "csv_export_fdw.h"
#include "convert.h"
#include "export_scan.h"
#include "fetch_check.h"
#include "option.h"
#include "record_stream.h"
#include "rejects.h"
#include "url.h"

/* Longest stretch of a bad value quoted in an error context. */
#define CONTEXT_VALUE_MAX		80

struct ExportScan
{
	Relation	rel;
	const CsvExportOptions *options;
	char	   *url;

	/* what the caller needs, and where it comes from in the CSV */
	TupleDesc	tupdesc;
	bool	   *needed;			/* by attribute index */
	char	  **header_names;	/* by attribute index; NULL if dropped or sourced */
	RowSource  *sources;		/* by attribute index */
	bool		any_source;
	char	  **csv_names;		/* the header's spelling where it differs; or NULL */
	int		   *field_to_att;	/* CSV field number -> attribute index or -1 */
	bool	   *fields_to_keep; /* by CSV field number */
	int			expected_fields;	/* fields per record, and entries of field_to_att */
	ValueConverter *converter;
	bool		soft_errors;	/* on_error 'skip' tries rows without a subtransaction */
	uint64		soft_tries;
	uint64		soft_misses;	/* tried rows that needed the subtransaction */

	/* one pass over the export; a rescan starts another */
	MemoryContext cxt;
	RecordStream *stream;

	/* what an error context reports */
	int			current_att;	/* attribute index of current_column */
	const char *current_column;
	const char *current_csv_name;	/* the CSV's name for it, where it differs */
	const char *current_value;

	/* over all passes, for EXPLAIN ANALYZE */
	ExportStats done_passes;
	uint64		records_parsed;
	uint64		rows_rejected;	/* on_error 'skip' */
	bool		rejects_unrecorded; /* read-only: reported, not recorded */
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
	const char *url;
	char	   *where;
	int			page;

	/* before the first record there is no line to point at */
	if (line == 0)
	{
		errcontext("foreign table \"%s\"", relname);
		return;
	}
	page = record_stream_page(scan->stream, &url);
	/* a paged export says which page the line is on, an archive which member */
	where = page > 1 ? psprintf("page %d, line %llu of %s", page, (unsigned long long) line, url)
		: psprintf("line %llu of %s", (unsigned long long) line, url);
	if (record_stream_member(scan->stream))
		where = psprintf("%s, member \"%s\"", where, record_stream_member(scan->stream));
	if (scan->current_column == NULL)
	{
		errcontext("foreign table \"%s\", %s", relname, where);
		return;
	}

	/*
	 * The column a value did not fit, as fields of the error: a sync that
	 * added the column (on_new_columns 'add') widens it to text on that.
	 */
	err_generic_string(PG_DIAG_TABLE_NAME, relname);
	err_generic_string(PG_DIAG_COLUMN_NAME,
					   NameStr(TupleDescAttr(scan->tupdesc, scan->current_att)->attname));
	if (scan->current_csv_name != NULL)
		errcontext("foreign table \"%s\", %s, column \"%s\" (CSV field \"%s\"): \"%s\"",
				   relname, where, scan->current_column, scan->current_csv_name,
				   printable_value(scan->current_value));
	else
		errcontext("foreign table \"%s\", %s, column \"%s\": \"%s\"",
				   relname, where, scan->current_column,
				   printable_value(scan->current_value));
}

/*
 * Mapping columns to fields
 */

/* a header shown in a DETAIL is cut after this many bytes */
#define MAX_HEADER_DESCRIPTION 1000

/* The header's names, quoted (so that " id " shows its spaces), cut short. */
static char *
describe_header(const CsvRecord *header, ValueConverter *converter)
{
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	for (i = 0; i < header->nkept; i++)
	{
		if (buf.len > MAX_HEADER_DESCRIPTION)
		{
			appendStringInfo(&buf, ", ... (%d fields in all)", header->nfields);
			break;
		}
		appendStringInfo(&buf, "%s\"%s\"", i > 0 ? ", " : "",
						 value_converter_to_server(converter, header->fields[i].value,
												   header->fields[i].len));
	}
	return buf.data;
}

/* a header field's name in the database encoding */
static const char *
header_field_name(ExportScan *scan, const CsvRecord *header, int i)
{
	return value_converter_to_server(scan->converter, header->fields[i].value,
									 header->fields[i].len);
}

/* whether a header field's name is the column's, as header_match says */
static bool
names_match(const char *field_name, const char *name, bool case_insensitive)
{
	if (!case_insensitive)
		return strcmp(field_name, name) == 0;
	return strcmp(str_tolower(field_name, strlen(field_name), DEFAULT_COLLATION_OID),
				  str_tolower(name, strlen(name), DEFAULT_COLLATION_OID)) == 0;
}

/*
 * Index (in the header's kept fields) of the field called name, or -1;
 * ambiguity is an error.
 */
static int
find_header_field(ExportScan *scan, const CsvRecord *header, const char *name,
				  bool case_insensitive)
{
	int			found = -1;
	int			i;

	for (i = 0; i < header->nkept; i++)
	{
		if (!names_match(header_field_name(scan, header, i), name, case_insensitive))
			continue;
		if (found >= 0)
			ereport(ERROR,
					(errcode(ERRCODE_BAD_COPY_FILE_FORMAT),
					 case_insensitive ?
					 errmsg("column \"%s\" matches more than one field of the CSV header", name) :
					 errmsg("column \"%s\" appears more than once in the CSV header", name),
					 errdetail("The header is: %s.", describe_header(header, scan->converter))));
		found = i;
	}
	return found;
}

/* the hint for columns missing from the header: another case would match */
static int
missing_columns_hint(ExportScan *scan, const CsvRecord *header, const char *first_missing)
{
	int			i;

	if (!scan->options->header_case_insensitive)
		for (i = 0; i < header->nkept; i++)
			if (names_match(header_field_name(scan, header, i), first_missing, true))
				return errhint("The header has \"%s\"; the table option header_match 'case_insensitive' would match it.",
							   header_field_name(scan, header, i));
	return errhint("Use the column option \"column_name\" to read a column from a differently named CSV field.");
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
	const char *first_missing = NULL;
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
		int			kept;
		int			field;
		const char *csv_name;

		scan->csv_names[i] = NULL;
		if (scan->header_names[i] == NULL)
			continue;
		kept = find_header_field(scan, header, scan->header_names[i],
								 scan->options->header_case_insensitive);
		/* a sync may read a vanished column as NULL (on_missing_columns) */
		if (kept < 0 && fetch_check_missing_allowed(RelationGetRelid(scan->rel),
													 scan->header_names[i]))
			continue;
		if (kept < 0)
		{
			if (first_missing == NULL)
				first_missing = scan->header_names[i];
			appendStringInfo(&missing, "%s\"%s\"", missing.len > 0 ? ", " : "",
							 scan->header_names[i]);
			continue;
		}
		field = header->fields[kept].number;
		csv_name = header_field_name(scan, header, kept);
		/* an error's CONTEXT names the CSV's field too where it differs */
		if (strcmp(csv_name, scan->header_names[i]) != 0)
			scan->csv_names[i] = pstrdup(csv_name);
		if (scan->needed[i])
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
				 missing_columns_hint(scan, header, first_missing)));

	scan->expected_fields = header->nfields;
	/* a rejected row is shown whole, so skipping keeps every field */
	if (!scan->options->on_error_skip)
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
	scan->expected_fields = field;
}

/*
 * Reading
 */

/*
 * A pass over the export: its header mapped to the table's columns, and
 * the stream told which fields the rows need.
 */
static void
start_pass(ExportScan *scan)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(scan->cxt);
	CsvRecord	header;

	scan->stream = record_stream_open(scan->options, scan->url,
									  fetch_check_for(RelationGetRelid(scan->rel)));
	MemoryContextSwitchTo(oldcxt);
	if (scan->options->header)
	{
		/* an empty export has no header, and no rows to map */
		if (record_stream_header(scan->stream, &header))
			map_header(scan, &header);
	}
	else if (!scan->options->on_error_skip)
		record_stream_keep_fields(scan->stream, scan->fields_to_keep,
								  scan->expected_fields);
}

/* rejects reported as WARNINGs, where they cannot be recorded, per scan */
#define MAX_REJECT_WARNINGS 10

/*
 * Skip a bad row (on_error 'skip'): record it in csv_export.rejects, and
 * stop when there are more than reject_limit.  A read-only transaction (a
 * standby's too) cannot write the table: there the first rejects are
 * WARNINGs, and the count comes at the end.
 */
static void
reject_row(ExportScan *scan, const CsvRecord *record, const char *column,
		   const char *error)
{
	const char *url;
	int			page = record_stream_page(scan->stream, &url);

	if (XactReadOnly || RecoveryInProgress())
	{
		scan->rejects_unrecorded = true;
		if (scan->rows_rejected < MAX_REJECT_WARNINGS)
			ereport(WARNING,
					(errmsg("skipped line %llu of foreign table \"%s\": %s",
							(unsigned long long) record->line,
							RelationGetRelationName(scan->rel), error),
					 column ? errcontext("column \"%s\"", column) : 0));
	}
	else
		/* a page number only where there are pages */
		rejects_insert(RelationGetRelid(scan->rel), url,
					   scan->options->pagination.mode != PAGINATION_NONE ? page : 0,
					   record->line, column, error,
					   (record->too_long || record->malformed != CSV_READER_OK) ? NULL
					   : rejects_record_text(record, scan->options->delimiter,
											 scan->options->quote));
	scan->rows_rejected++;
	if (scan->options->reject_limit >= 0 &&
		scan->rows_rejected > (uint64) scan->options->reject_limit)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg_plural("more than reject_limit (%lld) row of foreign table \"%s\" was rejected",
							   "more than reject_limit (%lld) rows of foreign table \"%s\" were rejected",
							   scan->options->reject_limit,
							   (long long) scan->options->reject_limit,
							   RelationGetRelationName(scan->rel)),
				 errdetail("The last one: %s", error)));
}

static void
report_rejects(ExportScan *scan)
{
	unsigned long long rejected = scan->rows_rejected;

	if (rejected > 0)
		ereport(scan->rejects_unrecorded ? WARNING : NOTICE,
				(errmsg_plural("%llu row of foreign table \"%s\" was skipped",
							   "%llu rows of foreign table \"%s\" were skipped",
							   rejected, rejected, RelationGetRelationName(scan->rel)),
				 scan->rejects_unrecorded ?
				 errdetail("The transaction is read-only, so skipped rows are not recorded in csv_export.rejects; the first %d are in WARNINGs above.",
						   MAX_REJECT_WARNINGS) :
				 errdetail_plural("It is recorded in csv_export.rejects.",
								  "They are recorded in csv_export.rejects.",
								  rejected)));
}

/*
 * What is wrong with a record's shape, translated, or NULL if nothing: the
 * message of its ERROR, and the error of its reject.
 */
static char *
record_shape_problem(ExportScan *scan, const CsvRecord *record)
{
	if (record->too_long)
		return psprintf(_("record is longer than max_record_bytes (%lld bytes)"),
						(long long) scan->options->max_record_bytes);
	if (record->malformed != CSV_READER_OK)
		return psprintf(_("malformed CSV: %s"), csv_reader_status_message(record->malformed));
	if (record->nfields == scan->expected_fields)
		return NULL;
	if (scan->options->header)
		return psprintf(ngettext("record has %d field, but the header has %d",
								 "record has %d fields, but the header has %d",
								 record->nfields),
						record->nfields, scan->expected_fields);
	return psprintf(ngettext("record has %d field, but the foreign table has %d",
							 "record has %d fields, but the foreign table has %d",
							 record->nfields),
					record->nfields, scan->expected_fields);
}

/*
 * Whether a record has the shape of a row; if not, ERROR, or with
 * on_error 'skip' reject it and return false.
 */
static bool
check_record_shape(ExportScan *scan, const CsvRecord *record)
{
	char	   *problem = record_shape_problem(scan, record);

	if (problem == NULL)
		return true;
	if (!scan->options->on_error_skip)
		ereport(ERROR,
				(errcode(ERRCODE_BAD_COPY_FILE_FORMAT),
		/* translated above, where the reject's text is made too */
				 errmsg_internal("%s", problem)));
	reject_row(scan, record, NULL, problem);
	return false;
}

/* The next record of the export with the shape of a row, false at its end. */
static bool
next_record(ExportScan *scan, CsvRecord *record)
{
	while (record_stream_next(scan->stream, record))
	{
		scan->records_parsed++;
		if (check_record_shape(scan, record))
			return true;
	}
	return false;
}

/*
 * Columns with a source option: where the record came from (the page's
 * URL, redacted, its page number, the physical line it starts on), as the
 * column's type reads that text.
 */
static void
fill_sourced_columns(ExportScan *scan, Datum *values, bool *isnull)
{
	const char *url;
	int			page = record_stream_page(scan->stream, &url);
	int			i;

	for (i = 0; i < scan->tupdesc->natts; i++)
	{
		const char *text;

		if (!scan->needed[i])
			continue;
		switch (scan->sources[i])
		{
			case ROW_SOURCE_NONE:
				continue;
			case ROW_SOURCE_URL:
				text = url;
				break;
			case ROW_SOURCE_LINE:
				text = psprintf(UINT64_FORMAT, record_stream_line(scan->stream));
				break;
			case ROW_SOURCE_PAGE:
				text = psprintf("%d", page);
				break;
			case ROW_SOURCE_MEMBER:
				text = record_stream_member(scan->stream);
				if (text == NULL)
					continue;	/* no archive: NULL */
				break;
			default:
				elog(ERROR, "unrecognized row source: %d", (int) scan->sources[i]);
		}
		/* a type that cannot read it is named in the error's context */
		scan->current_att = i;
		scan->current_column = NameStr(TupleDescAttr(scan->tupdesc, i)->attname);
		scan->current_csv_name = NULL;
		scan->current_value = text;
		values[i] = value_converter_datum(scan->converter, i, text, strlen(text), false,
										  &isnull[i]);
	}
	scan->current_column = NULL;
}

/*
 * The record's values.  A bad value raises an ERROR, or with softly makes
 * it return false, as does a value it cannot judge without the risk of an
 * ERROR (value_converter_try_datum).
 */
static bool
convert_fields(ExportScan *scan, const CsvRecord *record, Datum *values, bool *isnull,
			   bool softly)
{
	int			i;

	memset(isnull, true, sizeof(bool) * scan->tupdesc->natts);
	for (i = 0; i < record->nkept; i++)
	{
		const CsvField *field = &record->fields[i];
		int			att = field->number < scan->expected_fields
			? scan->field_to_att[field->number] : -1;

		if (att < 0)
		{
			/* skipping checks every field: a bad byte anywhere rejects the row */
			if (!scan->options->on_error_skip)
				continue;
			if (!softly)
				(void) value_converter_to_server(scan->converter, field->value, field->len);
			else if (!value_converter_check_encoding(scan->converter, field->value, field->len))
				return false;
			continue;
		}
		scan->current_att = att;
		scan->current_column = scan->header_names[att];
		scan->current_csv_name = scan->csv_names[att];
		scan->current_value = field->value;
		if (!softly)
			values[att] = value_converter_datum(scan->converter, att, field->value,
												field->len, field->is_null, &isnull[att]);
		else if (!value_converter_try_datum(scan->converter, att, field->value, field->len,
											field->is_null, &values[att], &isnull[att]))
			return false;
	}
	scan->current_column = NULL;
	if (scan->any_source)
		fill_sourced_columns(scan, values, isnull);
	return true;
}

static void
convert_record(ExportScan *scan, const CsvRecord *record, Datum *values, bool *isnull)
{
	(void) convert_fields(scan, record, values, isnull, false);
}

/*
 * on_error 'skip' converts a row first without a subtransaction where every
 * needed column can usually be converted without raising an ERROR (see
 * value_converter_try_datum); a row that cannot be, a bad one above all, is
 * converted again in a subtransaction, for the ERROR that a reject records.
 */
static bool
all_columns_convert_softly(ExportScan *scan)
{
	int			i;

	for (i = 0; i < scan->tupdesc->natts; i++)
		if (scan->needed[i] && !value_converter_converts_softly(scan->converter, i))
			return false;
	return true;
}

/*
 * Once most rows have needed the subtransaction after all (timestamps that
 * the fast path does not read, before PostgreSQL 16), the first try is only
 * a cost: rows go straight to the subtransaction.
 */
#define SOFT_TRIES_BEFORE_JUDGING 1024

static bool
converted_softly(ExportScan *scan, const CsvRecord *record, Datum *values, bool *isnull)
{
	if (!scan->soft_errors)
		return false;
	scan->soft_tries++;
	if (convert_fields(scan, record, values, isnull, true))
		return true;
	scan->soft_misses++;
	if (scan->soft_tries >= SOFT_TRIES_BEFORE_JUDGING && scan->soft_misses * 2 > scan->soft_tries)
		scan->soft_errors = false;
	return false;
}

/*
 * Errors a bad value can raise, which on_error 'skip' turns into a rejected
 * row: data exceptions (class 22: syntax, range, encoding) and integrity
 * violations (class 23: a domain's CHECK).  Anything else, a cancel above
 * all, still ends the scan.
 */
static bool
is_bad_value_error(int sqlerrcode)
{
	int			class = ERRCODE_TO_CATEGORY(sqlerrcode);

	return class == ERRCODE_DATA_EXCEPTION ||
		class == ERRCODE_INTEGRITY_CONSTRAINT_VIOLATION;
}

/*
 * convert_record() for on_error 'skip': each row in a subtransaction of its
 * own, as an input function's ERROR may leave anything behind.  Returns
 * false if the row was rejected.
 */
static bool
convert_or_reject(ExportScan *scan, const CsvRecord *record, Datum *values, bool *isnull)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	ErrorData  *volatile error = NULL;
	const char *column;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		convert_record(scan, record, values, isnull);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		error = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		if (!is_bad_value_error(error->sqlerrcode))
			ReThrowError(error);
	}
	PG_END_TRY();
	if (error == NULL)
		return true;

	column = scan->current_column;
	scan->current_column = NULL;
	reject_row(scan, record, column, error->message);
	return false;
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
		start_pass(scan);

	for (;;)
	{
		found = next_record(scan, &record);
		if (!found)
		{
			report_rejects(scan);
			break;
		}
		if (!scan->options->on_error_skip)
			convert_record(scan, &record, values, isnull);
		else if (converted_softly(scan, &record, values, isnull))
			;
		else if (!convert_or_reject(scan, &record, values, isnull))
			continue;
		break;
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
	scan->tupdesc = RelationGetDescr(rel);
	natts = scan->tupdesc->natts;

	scan->needed = palloc(sizeof(bool) * natts);
	scan->header_names = palloc0(sizeof(char *) * natts);
	scan->csv_names = palloc0(sizeof(char *) * natts);
	scan->sources = palloc0(sizeof(RowSource) * natts);	/* ROW_SOURCE_NONE */
	for (i = 0; i < natts; i++)
	{
		Form_pg_attribute attr = TupleDescAttr(scan->tupdesc, i);

		/*
		 * Skipping converts every column, so that which rows are rejected
		 * does not depend on what a query reads.
		 */
		scan->needed[i] = (needed && !options->on_error_skip) ? needed[i]
			: !attr->attisdropped;
		if (attr->attisdropped)
			continue;
		/* a column with a source is no field of the CSV */
		scan->sources[i] = csv_export_column_source(relid, attr->attnum);
		scan->any_source |= scan->sources[i] != ROW_SOURCE_NONE;
		if (scan->sources[i] == ROW_SOURCE_NONE)
			scan->header_names[i] = csv_export_column_header_name(relid, attr);
	}
	if (!options->header)
		map_by_position(scan);

	scan->converter = value_converter_create(scan->tupdesc, options->encoding,
											 options->null_string);
	scan->soft_errors = options->on_error_skip && all_columns_convert_softly(scan);
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

	record_stream_add_stats(scan->stream, &scan->done_passes);
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
export_scan_stats(const ExportScan *scan, ExportStats *stats, uint64 *records)
{
	*stats = scan->done_passes;
	if (scan->stream)
		record_stream_add_stats(scan->stream, stats);
	*records = scan->records_parsed;
}
