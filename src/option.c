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
#include "utils/lsyscache.h"
#include "utils/varlena.h"

#include "csv_export_fdw.h"

typedef struct CsvExportOption
{
	const char *name;
	Oid			context;		/* catalog the option belongs to */
} CsvExportOption;

static const CsvExportOption valid_options[] = {
	/* where the export is */
	{"base_url", ForeignServerRelationId},
	{"url", ForeignTableRelationId},
	{"path", ForeignTableRelationId},

	/* CSV format */
	{"delimiter", ForeignTableRelationId},
	{"quote", ForeignTableRelationId},
	{"header", ForeignTableRelationId},
	{"null", ForeignTableRelationId},
	{"encoding", ForeignTableRelationId},

	/* column mapping */
	{"column_name", AttributeRelationId},
	/* query parameter that receives the value of "col > value" quals */
	{"since_param", AttributeRelationId},

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

static void
check_option_value(DefElem *def)
{
	const char *name = def->defname;
	const char *value = defGetString(def);

	if (strcmp(name, "base_url") == 0 || strcmp(name, "url") == 0)
		check_url(name, value);
	else if (strcmp(name, "delimiter") == 0 || strcmp(name, "quote") == 0)
		check_single_byte(name, value);
	else if (strcmp(name, "header") == 0)
		(void) defGetBoolean(def);
	else if (strcmp(name, "encoding") == 0)
	{
		if (pg_char_to_encoding(value) < 0)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
					 errmsg("\"%s\" is not a valid encoding name", value)));
	}
	else if (strcmp(name, "path") == 0 || strcmp(name, "column_name") == 0 ||
			 strcmp(name, "since_param") == 0)
	{
		if (value[0] == '\0')
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
					 errmsg("option \"%s\" cannot be empty", name)));
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

/* Rules that involve more than one option of a foreign table. */
static void
check_table_options(List *options)
{
	DefElem    *url = find_option(options, "url");
	DefElem    *path = find_option(options, "path");
	DefElem    *delimiter = find_option(options, "delimiter");
	DefElem    *quote = find_option(options, "quote");

	if (url && path)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("options \"url\" and \"path\" cannot both be set"),
				 errhint("Use \"url\" for an absolute URL, or \"path\" for one relative to the server's \"base_url\".")));
	if (!url && !path)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("either \"url\" or \"path\" is required for a csv_export_fdw foreign table")));
	if (strcmp(delimiter ? defGetString(delimiter) : ",",
			   quote ? defGetString(quote) : "\"") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("delimiter and quote must be different")));
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
}

static char *
export_url(ForeignTable *table, ForeignServer *server)
{
	DefElem    *url = find_option(table->options, "url");
	DefElem    *path = find_option(table->options, "path");
	DefElem    *base_url = find_option(server->options, "base_url");

	if (url)
		return defGetString(url);
	if (path && base_url)
		return url_join(defGetString(base_url), defGetString(path));
	if (path)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("foreign table \"%s\" has a \"path\" but server \"%s\" has no \"base_url\"",
						get_rel_name(table->relid), server->servername),
				 errhint("Set \"base_url\" on the server, or give the table a \"url\".")));
	ereport(ERROR,
			(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
			 errmsg("foreign table \"%s\" has neither \"url\" nor \"path\"",
					get_rel_name(table->relid))));
	return NULL;				/* keep compiler quiet */
}

CsvExportOptions *
csv_export_get_options(Oid foreigntableid)
{
	ForeignTable *table = GetForeignTable(foreigntableid);
	ForeignServer *server = GetForeignServer(table->serverid);
	CsvExportOptions *opts = palloc0(sizeof(CsvExportOptions));
	DefElem    *def;

	opts->url = export_url(table, server);
	opts->delimiter = ',';
	opts->quote = '"';
	opts->header = true;
	opts->null_string = NULL;
	opts->encoding = PG_UTF8;

	if ((def = find_option(table->options, "delimiter")) != NULL)
		opts->delimiter = defGetString(def)[0];
	if ((def = find_option(table->options, "quote")) != NULL)
		opts->quote = defGetString(def)[0];
	if ((def = find_option(table->options, "header")) != NULL)
		opts->header = defGetBoolean(def);
	if ((def = find_option(table->options, "null")) != NULL)
		opts->null_string = defGetString(def);
	if ((def = find_option(table->options, "encoding")) != NULL)
		opts->encoding = pg_char_to_encoding(defGetString(def));
	return opts;
}

/* The CSV header name a column reads: its column_name option, or its name. */
char *
csv_export_column_header_name(Oid foreigntableid, Form_pg_attribute attr)
{
	DefElem    *def = find_option(GetForeignColumnOptions(foreigntableid, attr->attnum),
								  "column_name");

	return def ? defGetString(def) : NameStr(attr->attname);
}

/* The since_param option of a column, or NULL. */
char *
csv_export_column_since_param(Oid foreigntableid, AttrNumber attnum)
{
	DefElem    *def = find_option(GetForeignColumnOptions(foreigntableid, attnum),
								  "since_param");

	return def ? defGetString(def) : NULL;
}
