/*
 * rejects.c
 *		Rows skipped by on_error 'skip', kept in csv_export.rejects.
 *
 * A rejected row is inserted in the scan's own transaction: a sync that
 * commits keeps its rejects, one that fails does not.  The insert runs as
 * the table's owner, so the role that reads a foreign table needs no
 * privilege on csv_export.rejects, and reading it can be granted alone.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"

#include "csv_export_fdw.h"
#include "privileged.h"
#include "rejects.h"

/* How much of a rejected record is kept. */
#define MAX_RAW_RECORD_BYTES	8192

/*
 * bytes as text that is valid in the database encoding: sequences that are
 * not (and NUL bytes) become \xNN escapes.
 */
static void
append_valid_text(StringInfo out, const char *bytes, size_t len)
{
	int			encoding = GetDatabaseEncoding();

	while (len > 0)
	{
		int			valid = pg_encoding_verifymbstr(encoding, bytes, (int) len);

		appendBinaryStringInfo(out, bytes, valid);
		bytes += valid;
		len -= valid;
		if (len > 0)
		{
			appendStringInfo(out, "\\x%02X", (unsigned char) *bytes);
			bytes++;
			len--;
		}
	}
}

/*
 * The record as a CSV line again (fields quoted where they must be), cut
 * to MAX_RAW_RECORD_BYTES.  Only its kept fields can be shown; with
 * on_error 'skip' every field is kept.
 */
char *
rejects_record_text(const CsvRecord *record, char delimiter, char quote)
{
	StringInfoData raw;
	StringInfoData text;
	int			i;

	initStringInfo(&raw);
	for (i = 0; i < record->nkept && raw.len < MAX_RAW_RECORD_BYTES; i++)
	{
		const CsvField *field = &record->fields[i];
		bool		quoted = !field->is_null &&
			(field->len == 0 || memchr(field->value, delimiter, field->len) ||
			 memchr(field->value, quote, field->len) ||
			 memchr(field->value, '\n', field->len) ||
			 memchr(field->value, '\r', field->len));
		size_t		j;

		if (i > 0)
			appendStringInfoChar(&raw, delimiter);
		if (quoted)
			appendStringInfoChar(&raw, quote);
		for (j = 0; j < field->len; j++)
		{
			if (field->value[j] == quote)
				appendStringInfoChar(&raw, quote);
			appendStringInfoChar(&raw, field->value[j]);
		}
		if (quoted)
			appendStringInfoChar(&raw, quote);
	}

	initStringInfo(&text);
	append_valid_text(&text, raw.data, Min(raw.len, MAX_RAW_RECORD_BYTES));
	return text.data;
}

void
rejects_insert(Oid foreign_table, const char *url, int page, uint64 line,
			   const char *column, const char *error, const char *raw_record)
{
	Oid			argtypes[7] = {OIDOID, TEXTOID, INT4OID, INT8OID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[7];
	char		nulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', ' '};
	OwnerSection section;
	bool		isnull;

	values[0] = ObjectIdGetDatum(foreign_table);
	values[1] = CStringGetTextDatum(url);
	values[2] = Int32GetDatum(page);
	nulls[2] = page > 0 ? ' ' : 'n';
	values[3] = Int64GetDatum((int64) line);
	values[4] = column ? CStringGetTextDatum(column) : (Datum) 0;
	nulls[4] = column ? ' ' : 'n';
	values[5] = CStringGetTextDatum(error);
	values[6] = raw_record ? CStringGetTextDatum(raw_record) : (Datum) 0;
	nulls[6] = raw_record ? ' ' : 'n';

	/*
	 * As the table's owner: a role that may only read the foreign table
	 * still gets its bad rows recorded (see privileged.c).
	 */
	owner_section_begin(&section);
	(void) owner_section_execute("INSERT INTO csv_export.rejects "
								 "(foreign_table, url, page, line, column_name, error, raw_record) "
								 "VALUES ($1, $2, $3, $4, $5, $6, $7)",
								 7, argtypes, values, nulls, &isnull);
	owner_section_end(&section);
}
