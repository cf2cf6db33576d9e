/*
 * import.c
 *		IMPORT FOREIGN SCHEMA: a foreign table definition from an export.
 *
 * Reads the header and a sample of the first rows, then stops the transfer.
 * Each column gets the narrowest type that every non-empty sampled value
 * fits; the result is an ordinary CREATE FOREIGN TABLE statement, so
 * pg_dump of the imported table is ordinary too.
 *
 * Types are recognised by their text form, not by calling input functions:
 * catching an input function's ERROR needs a subtransaction per value, and
 * the forms an export uses are few.
 */
#include "postgres.h"

#include <ctype.h>

#include "catalog/pg_foreign_table.h"
#include "commands/defrem.h"
#include "common/jsonapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "nodes/makefuncs.h"
#include "utils/datetime.h"
#include "utils/varlena.h"

#include "csv_export_fdw.h"
#include "convert.h"
#include "import.h"
#include "option.h"
#include "record_stream.h"
#include "url.h"

#define DEFAULT_SAMPLE_ROWS		1000

/* Candidate types, narrowest first; a column gets the first its values fit. */
typedef enum InferredType
{
	TYPE_BOOLEAN = 1 << 0,
	TYPE_BIGINT = 1 << 1,
	TYPE_NUMERIC = 1 << 2,
	TYPE_DATE = 1 << 3,
	TYPE_TIMESTAMPTZ = 1 << 4,
	TYPE_TIMESTAMP = 1 << 5,
	TYPE_JSONB = 1 << 6,
	TYPE_UUID = 1 << 7
} InferredType;

#define ALL_TYPES	((TYPE_UUID << 1) - 1)

static const struct
{
	InferredType type;
	const char *name;
}			type_names[] = {
	{TYPE_BOOLEAN, "boolean"},
	{TYPE_BIGINT, "bigint"},
	{TYPE_NUMERIC, "numeric"},
	{TYPE_DATE, "date"},
	{TYPE_TIMESTAMPTZ, "timestamp with time zone"},
	{TYPE_TIMESTAMP, "timestamp without time zone"},
	{TYPE_JSONB, "jsonb"},
	{TYPE_UUID, "uuid"},
};

/* What IMPORT found: one entry per CSV column. */
typedef struct ImportedColumn
{
	char	   *header_name;	/* as in the export, in the database encoding */
	char	   *name;			/* of the table column */
	int			types;			/* InferredType bits every sampled value fits */
} ImportedColumn;

/*
 * Recognising values
 */

/* "YYYY-MM-DD", a real calendar date; returns its length or 0 */
static int
date_length(const char *s, size_t len)
{
	int			year,
				month,
				day;

	return parse_iso_date(s, len, &year, &month, &day) ? 10 : 0;
}

/* "HH:MM[:SS[.fraction]]"; returns its length or 0 */
static int
time_length(const char *s, size_t len)
{
	size_t		n = 5;

	if (len < 5 || s[2] != ':' || parse_digits(s, 2) < 0 || parse_digits(s, 2) > 23 ||
		parse_digits(s + 3, 2) < 0 || parse_digits(s + 3, 2) > 59)
		return 0;
	if (len >= 8 && s[5] == ':')
	{
		if (parse_digits(s + 6, 2) < 0 || parse_digits(s + 6, 2) > 60)
			return 0;
		n = 8;
		if (len > 9 && s[8] == '.' && isdigit((unsigned char) s[9]))
			for (n = 9; n < len && isdigit((unsigned char) s[n]); n++)
				;
	}
	return n;
}

/* "Z", "+HH", "+HH:MM" or "+HHMM", exactly the rest of the value */
static bool
is_zone(const char *s, size_t len)
{
	if (len == 1 && (s[0] == 'Z' || s[0] == 'z'))
		return true;
	if (len < 3 || (s[0] != '+' && s[0] != '-') || parse_digits(s + 1, 2) < 0)
		return false;
	return len == 3 ||
		(len == 5 && parse_digits(s + 3, 2) >= 0) ||
		(len == 6 && s[3] == ':' && parse_digits(s + 4, 2) >= 0);
}

/* The date and time types an ISO 8601 value fits. */
static int
datetime_types(const char *s, size_t len)
{
	int			n = date_length(s, len);
	int			t;

	if (n == 0)
		return 0;
	/* a date is also a valid timestamp (midnight) */
	if ((size_t) n == len)
		return TYPE_DATE | TYPE_TIMESTAMP | TYPE_TIMESTAMPTZ;
	if (s[n] != 'T' && s[n] != 't' && s[n] != ' ')
		return 0;
	n++;
	t = time_length(s + n, len - n);
	if (t == 0)
		return 0;
	n += t;
	if ((size_t) n == len)
		return TYPE_TIMESTAMP;
	return is_zone(s + n, len - n) ? TYPE_TIMESTAMPTZ : 0;
}

static int
number_types(const char *s, size_t len)
{
	size_t		i = (s[0] == '+' || s[0] == '-') ? 1 : 0;
	size_t		int_digits = 0;
	size_t		frac_digits = 0;
	bool		fraction = false;

	for (; i < len && isdigit((unsigned char) s[i]); i++)
		int_digits++;
	if (i < len && s[i] == '.')
	{
		fraction = true;
		for (i++; i < len && isdigit((unsigned char) s[i]); i++)
			frac_digits++;
	}
	if (int_digits + frac_digits == 0)
		return 0;
	if (i < len && (s[i] == 'e' || s[i] == 'E'))
	{
		size_t		exp_start;

		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		exp_start = i;
		for (; i < len && isdigit((unsigned char) s[i]); i++)
			;
		if (i == exp_start)
			return 0;
		fraction = true;
	}
	if (i != len)
		return 0;
	if (!fraction)
	{
		char	   *end;

		errno = 0;
		(void) strtoll(s, &end, 10);
		if (errno == 0)
			return TYPE_BIGINT | TYPE_NUMERIC;
	}
	return TYPE_NUMERIC;
}

static bool
is_uuid(const char *s, size_t len)
{
	size_t		i;

	if (len != 36)
		return false;
	for (i = 0; i < len; i++)
	{
		bool		dash = (i == 8 || i == 13 || i == 18 || i == 23);

		if (dash ? s[i] != '-' : !isxdigit((unsigned char) s[i]))
			return false;
	}
	return true;
}

/*
 * Deeper than this, a value is not taken for JSON: the JSON parser recurses
 * once per level, and a sampled value of 200,000 '[' would exhaust the
 * stack, where type inference must never fail.
 */
#define MAX_INFERRED_JSON_DEPTH 64

/* How deep arrays and objects nest in s, outside strings; stops past limit. */
static int
json_nesting_depth(const char *s, size_t len, int limit)
{
	int			depth = 0;
	int			deepest = 0;
	bool		in_string = false;
	size_t		i;

	for (i = 0; i < len && deepest <= limit; i++)
	{
		if (in_string)
		{
			if (s[i] == '\\')
				i++;
			else if (s[i] == '"')
				in_string = false;
		}
		else if (s[i] == '"')
			in_string = true;
		else if (s[i] == '[' || s[i] == '{')
			deepest = Max(deepest, ++depth);
		else if (s[i] == ']' || s[i] == '}')
			depth--;
	}
	return deepest;
}

/* A JSON object or array, checked by the JSON parser (which does not throw). */
static bool
is_json_document(const char *s, size_t len)
{
	JsonLexContext *lex;
	JsonSemAction sem = {0};

	if (s[0] != '{' && s[0] != '[')
		return false;
	if (json_nesting_depth(s, len, MAX_INFERRED_JSON_DEPTH) > MAX_INFERRED_JSON_DEPTH)
		return false;
	lex = compat_json_lex_context(unconstify(char *, s), len, GetDatabaseEncoding());
	return pg_parse_json(lex, &sem) == JSON_SUCCESS;
}

/* The candidate types a non-empty value (database encoding) fits. */
static int
value_types(const char *s, size_t len)
{
	if (pg_strcasecmp(s, "true") == 0 || pg_strcasecmp(s, "false") == 0 ||
		pg_strcasecmp(s, "t") == 0 || pg_strcasecmp(s, "f") == 0)
		return TYPE_BOOLEAN;
	if (isdigit((unsigned char) s[0]) || s[0] == '+' || s[0] == '-' || s[0] == '.')
	{
		int			types = number_types(s, len) | datetime_types(s, len);

		if (types)
			return types | (is_uuid(s, len) ? TYPE_UUID : 0);
	}
	if (is_json_document(s, len))
		return TYPE_JSONB;
	return is_uuid(s, len) ? TYPE_UUID : 0;
}

static const char *
column_type(const ImportedColumn *column, bool infer_types)
{
	size_t		i;

	if (infer_types && column->types != ALL_TYPES)
		for (i = 0; i < lengthof(type_names); i++)
			if (column->types & type_names[i].type)
				return type_names[i].name;
	/* nothing fits every value, or no value was seen */
	return "text";
}

/*
 * Column names
 */

/* "updatedAt" -> "updated_at", "First Name" -> "first_name" */
static char *
snake_case(const char *name)
{
	StringInfoData out;
	const unsigned char *c;
	bool		pending_underscore = false;

	initStringInfo(&out);
	for (c = (const unsigned char *) name; *c; c++)
	{
		if (isalnum(*c) || *c >= 0x80)
		{
			/* a word starts at an upper-case letter after a lower-case one */
			if (isupper(*c) && c > (const unsigned char *) name &&
				(islower(c[-1]) || isdigit(c[-1])))
				pending_underscore = true;
			if (pending_underscore && out.len > 0)
				appendStringInfoChar(&out, '_');
			pending_underscore = false;
			appendStringInfoChar(&out, (char) pg_ascii_tolower(*c));
		}
		else
			pending_underscore = true;
	}
	return out.data;
}

static bool
name_taken(ImportedColumn *columns, int upto, const char *name)
{
	int			i;

	for (i = 0; i < upto; i++)
		if (strcmp(columns[i].name, name) == 0)
			return true;
	return false;
}

/*
 * Table column names from the header: as they are, or normalized (unique,
 * never empty).  Without normalization, an empty or repeated name is an
 * error.  A name is cut to NAMEDATALEN - 1 bytes as PostgreSQL would.
 */
static void
name_columns(ImportedColumn *columns, int ncolumns, bool normalize)
{
	int			i;

	for (i = 0; i < ncolumns; i++)
	{
		char	   *name = normalize ? snake_case(columns[i].header_name)
			: pstrdup(columns[i].header_name);
		int			suffix = 2;

		if (name[0] == '\0' && !normalize)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_COLUMN_REFERENCE),
					 errmsg("column %d of the CSV header has no name", i + 1),
					 errhint("Use IMPORT option normalize_names 'true' to name it.")));
		if (name[0] == '\0')
			name = psprintf("column_%d", i + 1);
		name = pnstrdup(name, pg_mbcliplen(name, strlen(name), NAMEDATALEN - 1));
		if (name_taken(columns, i, name))
		{
			char	   *base = name;

			if (!normalize)
				ereport(ERROR,
						(errcode(ERRCODE_DUPLICATE_COLUMN),
						 errmsg("column \"%s\" appears more than once in the CSV header", name),
						 errhint("Use IMPORT option normalize_names 'true' to make the names unique.")));
			do
				name = psprintf("%s_%d", base, suffix++);
			while (name_taken(columns, i, name));
		}
		columns[i].name = name;
	}
}

/*
 * Reading the sample
 */

static ImportedColumn *
columns_from_header(const CsvRecord *header, ValueConverter *converter, bool has_header)
{
	ImportedColumn *columns = palloc0(sizeof(ImportedColumn) * header->nfields);
	int			i;

	for (i = 0; i < header->nfields; i++)
	{
		columns[i].types = ALL_TYPES;
		columns[i].header_name = has_header
			? pstrdup(value_converter_to_server(converter, header->fields[i].value,
												header->fields[i].len))
			: psprintf("column_%d", i + 1);
	}
	return columns;
}

static void
narrow_types(ImportedColumn *columns, int ncolumns, const CsvRecord *record,
			 ValueConverter *converter)
{
	int			i;

	for (i = 0; i < record->nkept && record->fields[i].number < ncolumns; i++)
	{
		const CsvField *field = &record->fields[i];
		const char *value;

		if (field->is_null || field->len == 0)
			continue;
		value = value_converter_to_server(converter, field->value, field->len);
		columns[field->number].types &= value_types(value, strlen(value));
	}
}

/*
 * Read the header and up to sample_rows records; return the columns and
 * set *ncolumns.  Stops the transfer once the sample is complete.
 */
static ImportedColumn *
sample_export(const CsvExportOptions *options, int sample_rows, int *ncolumns)
{
	RecordStream *stream = record_stream_open(options, options->url, NULL);
	ValueConverter *converter = value_converter_create(NULL, options->encoding, NULL);
	ImportedColumn *columns = NULL;
	CsvRecord	record;
	int			sampled = 0;

	*ncolumns = 0;
	if (options->header && record_stream_header(stream, &record))
	{
		columns = columns_from_header(&record, converter, true);
		*ncolumns = record.nfields;
	}
	while (sampled < sample_rows && record_stream_next(stream, &record))
	{
		/* without a header, the first record says how many columns */
		if (columns == NULL)
		{
			columns = columns_from_header(&record, converter, false);
			*ncolumns = record.nfields;
		}
		narrow_types(columns, *ncolumns, &record, converter);
		sampled++;
	}
	record_stream_close(stream);
	return columns;
}

/*
 * The columns of the export at options->url, named and typed as IMPORT
 * FOREIGN SCHEMA would name and type them (over IMPORT's default sample);
 * NULL, with *ncolumns 0, for an export without even a header line.
 */
ExportColumn *
import_export_columns(const CsvExportOptions *options, bool normalize_names, int *ncolumns)
{
	ImportedColumn *sampled = sample_export(options, DEFAULT_SAMPLE_ROWS, ncolumns);
	ExportColumn *columns;
	int			i;

	if (sampled == NULL)
		return NULL;
	name_columns(sampled, *ncolumns, normalize_names);
	columns = palloc(sizeof(ExportColumn) * *ncolumns);
	for (i = 0; i < *ncolumns; i++)
	{
		columns[i].header_name = sampled[i].header_name;
		columns[i].name = sampled[i].name;
		columns[i].type = column_type(&sampled[i], true);
	}
	return columns;
}

/*
 * The statement
 */

static bool
is_import_option(const char *name)
{
	return strcmp(name, "sample_rows") == 0 || strcmp(name, "infer_types") == 0 ||
		strcmp(name, "normalize_names") == 0 || strcmp(name, "table_name") == 0 ||
		strcmp(name, "source_columns") == 0;
}

/* The name of the table to create: LIMIT TO (one name) or table_name. */
static char *
import_table_name(ImportForeignSchemaStmt *stmt, DefElem *table_name)
{
	char	   *name = table_name ? defGetString(table_name) : NULL;

	if (stmt->list_type == FDW_IMPORT_SCHEMA_EXCEPT)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("IMPORT FOREIGN SCHEMA ... EXCEPT is not supported by csv_export_fdw"),
				 errhint("An export holds one table: name it with LIMIT TO or option table_name.")));
	if (stmt->list_type == FDW_IMPORT_SCHEMA_LIMIT_TO)
	{
		char	   *limit_name;

		if (list_length(stmt->table_list) != 1)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("LIMIT TO must name exactly one table"),
					 errdetail("An export holds one table; import each export with its own path or url.")));
		limit_name = linitial_node(RangeVar, stmt->table_list)->relname;
		if (name && strcmp(name, limit_name) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("option table_name \"%s\" differs from LIMIT TO (\"%s\")",
							name, limit_name)));
		return limit_name;
	}
	if (name == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("IMPORT FOREIGN SCHEMA needs the name of the table to create"),
				 errhint("Use LIMIT TO (name) or option table_name.")));
	return name;
}

/*
 * IMPORT option source_columns ('url, line, page', any of them): columns
 * _source_url, _source_line, _source_page that say where each row came
 * from.  A name the export's columns took already is an error.
 */
static void
append_source_columns(StringInfo sql, const char *list, ImportedColumn *columns, int ncolumns)
{
	/* by RowSource: the column IMPORT makes for it */
	static const struct
	{
		const char *column;
		const char *type;
	}			kinds[NUM_ROW_SOURCES] = {
		[ROW_SOURCE_URL] = {"_source_url", "text"},
		[ROW_SOURCE_LINE] = {"_source_line", "bigint"},
		[ROW_SOURCE_PAGE] = {"_source_page", "integer"},
		[ROW_SOURCE_MEMBER] = {"_source_member", "text"},
	};
	List	   *names = NIL;
	ListCell   *lc;

	if (!SplitIdentifierString(pstrdup(list), ',', &names))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("invalid value for IMPORT option \"source_columns\": \"%s\"", list)));
	foreach(lc, names)
	{
		const char *name = lfirst(lc);
		RowSource	source = row_source_by_name(name);

		if (source == ROW_SOURCE_NONE)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("invalid source in IMPORT option \"source_columns\": \"%s\"", name),
					 errhint("Valid sources are %s.",
							 quoted_list(&row_source_names[FIRST_ROW_SOURCE],
										 NUM_ROW_SOURCES - FIRST_ROW_SOURCE))));
		if (name_taken(columns, ncolumns, kinds[source].column))
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_COLUMN),
					 errmsg("the export has a column \"%s\" already", kinds[source].column)));
		appendStringInfo(sql, ",\n  %s %s OPTIONS (source %s)", kinds[source].column,
						 kinds[source].type, quote_literal_cstr(name));
	}
}

static char *
create_table_statement(const char *table, ImportedColumn *columns, int ncolumns,
					   bool infer_types, const char *server, List *table_options,
					   const char *source_columns)
{
	StringInfoData sql;
	ListCell   *lc;
	int			i;

	initStringInfo(&sql);
	appendStringInfo(&sql, "CREATE FOREIGN TABLE %s (", quote_identifier(table));
	for (i = 0; i < ncolumns; i++)
	{
		appendStringInfo(&sql, "%s\n  %s %s", i > 0 ? "," : "",
						 quote_identifier(columns[i].name),
						 column_type(&columns[i], infer_types));
		if (strcmp(columns[i].name, columns[i].header_name) != 0)
			appendStringInfo(&sql, " OPTIONS (column_name %s)",
							 quote_literal_cstr(columns[i].header_name));
	}
	if (source_columns)
		append_source_columns(&sql, source_columns, columns, ncolumns);
	appendStringInfo(&sql, "\n) SERVER %s", quote_identifier(server));
	foreach(lc, table_options)
	{
		DefElem    *def = lfirst_node(DefElem, lc);

		appendStringInfo(&sql, "%s%s %s", foreach_current_index(lc) == 0 ? " OPTIONS (" : ", ",
						 quote_identifier(def->defname),
						 quote_literal_cstr(defGetString(def)));
	}
	if (table_options != NIL)
		appendStringInfoChar(&sql, ')');
	return sql.data;
}

/*
 * The ImportForeignSchema callback: one CREATE FOREIGN TABLE statement.  The
 * remote schema name means nothing to an export and is ignored.
 */
List *
csv_export_import_schema(ImportForeignSchemaStmt *stmt, ForeignServer *server)
{
	List	   *table_options = NIL;
	List	   *import_options = NIL;
	ListCell   *lc;
	DefElem    *def;
	char	   *table;
	CsvExportOptions *options;
	ImportedColumn *columns;
	int			ncolumns;
	bool		infer_types = true;
	bool		normalize = false;
	const char *source_columns = NULL;

	foreach(lc, stmt->options)
	{
		def = lfirst_node(DefElem, lc);
		if (is_import_option(def->defname))
			import_options = lappend(import_options, def);
		else
			table_options = lappend(table_options, def);
	}
	/* the table options are checked as CREATE FOREIGN TABLE would */
	csv_export_validate_options(table_options, ForeignTableRelationId);
	foreach(lc, import_options)
	{
		def = lfirst_node(DefElem, lc);
		if (strcmp(def->defname, "infer_types") == 0)
			infer_types = defGetBoolean(def);
		else if (strcmp(def->defname, "normalize_names") == 0)
			normalize = defGetBoolean(def);
		else if (strcmp(def->defname, "source_columns") == 0)
			source_columns = defGetString(def);
	}

	def = NULL;
	foreach(lc, import_options)
		if (strcmp(lfirst_node(DefElem, lc)->defname, "table_name") == 0)
			def = lfirst_node(DefElem, lc);
	table = import_table_name(stmt, def);

	options = csv_export_resolve_options(server, table_options, GetUserId(), table);
	columns = sample_export(options,
							csv_export_integer_option(import_options, "sample_rows",
													  DEFAULT_SAMPLE_ROWS),
							&ncolumns);
	if (columns == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_TABLE_NOT_FOUND),
				 errmsg("the export at \"%s\" is empty", url_redact(options->url)),
				 errdetail("IMPORT FOREIGN SCHEMA needs at least a header line.")));
	name_columns(columns, ncolumns, normalize);
	/* a column a sync adds later is named the same way (on_new_columns 'add') */
	if (normalize)
		table_options = lappend(table_options,
								makeDefElem("normalize_names", (Node *) makeString("true"), -1));
	return list_make1(create_table_statement(table, columns, ncolumns, infer_types,
											 server->servername, table_options,
											 source_columns));
}
