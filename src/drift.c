/*
 * drift.c
 *		What a sync needs to follow an export whose columns change (schema
 *		drift): the export's columns as IMPORT FOREIGN SCHEMA would define
 *		them, and the record of each change in csv_export.schema_changes.
 *
 * csv_export._export_columns(source) reads the header and IMPORT's sample
 * of the source's export, as the caller (their user mapping), and returns
 * each column's header name, table column name and inferred type; the
 * comparison with the foreign table and the DDL are the sync's, in SQL, in
 * the run's transaction.  csv_export._record_schema_change() writes a row
 * of the log, as the extension's owner, for a caller who may write the
 * target and read the foreign table.
 */
#include "postgres.h"

#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "foreign/foreign.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "csv_export_fdw.h"
#include "import.h"
#include "option.h"
#include "privileged.h"

PG_FUNCTION_INFO_V1(csv_export_export_columns);
PG_FUNCTION_INFO_V1(csv_export_record_schema_change);

/* the handler of our foreign data wrapper (csv_export_fdw.c) */
extern Datum csv_export_fdw_handler(PG_FUNCTION_ARGS);

/* A foreign table whose wrapper's handler is ours, readable by the caller. */
static void
require_readable_export_table(Oid relid)
{
	FmgrInfo	handler;
	Oid			fdw_handler = InvalidOid;

	if (get_rel_relkind(relid) == RELKIND_FOREIGN_TABLE)
		fdw_handler = GetForeignDataWrapper(GetForeignServer(GetForeignTable(relid)->serverid)->fdwid)->fdwhandler;
	if (OidIsValid(fdw_handler))
		fmgr_info(fdw_handler, &handler);
	if (!OidIsValid(fdw_handler) || handler.fn_addr != csv_export_fdw_handler)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a foreign table of csv_export_fdw",
						get_rel_name(relid) ? get_rel_name(relid) : "?")));
	if (pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_FOREIGN_TABLE, get_rel_name(relid));
}

/*
 * _export_columns(source regclass) -> setof (header_name, column_name,
 * column_type): no rows for an export without a header line.
 */
Datum
csv_export_export_columns(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			relid;
	CsvExportOptions *options;
	ExportColumn *columns;
	int			ncolumns;
	int			i;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("csv_export._export_columns needs a source")));
	relid = PG_GETARG_OID(0);
	require_readable_export_table(relid);
	options = csv_export_get_options(relid, GetUserId());
	if (!options->header)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("foreign table \"%s\" has no CSV header to compare its columns with",
						get_rel_name(relid)),
				 errhint("on_new_columns and on_missing_columns need the table option header 'true'.")));
	columns = import_export_columns(options, options->normalize_names, &ncolumns);

	InitMaterializedSRF(fcinfo, 0);
	for (i = 0; i < ncolumns; i++)
	{
		Datum		values[3];
		bool		nulls[3] = {false, false, false};

		values[0] = CStringGetTextDatum(columns[i].header_name);
		values[1] = CStringGetTextDatum(columns[i].name);
		values[2] = CStringGetTextDatum(columns[i].type);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * _record_schema_change(run_id, target, foreign_table, column_name, action,
 * column_type): one row of csv_export.schema_changes.  target and run_id
 * may be NULL (refresh_columns without a target).
 */
Datum
csv_export_record_schema_change(PG_FUNCTION_ARGS)
{
	Oid			argtypes[6] = {INT8OID, REGCLASSOID, REGCLASSOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[6];
	char		nulls[6];
	OwnerSection section;
	bool		isnull;
	int			i;

	for (i = 2; i <= 4; i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("argument %d of an internal csv_export function must not be null",
							i + 1)));
	require_readable_export_table(PG_GETARG_OID(2));
	if (!PG_ARGISNULL(1) &&
		(pg_class_aclcheck(PG_GETARG_OID(1), GetUserId(), ACL_INSERT) != ACLCHECK_OK ||
		 pg_class_aclcheck(PG_GETARG_OID(1), GetUserId(), ACL_UPDATE) != ACLCHECK_OK))
		aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_TABLE, get_rel_name(PG_GETARG_OID(1)));
	for (i = 0; i < 6; i++)
	{
		values[i] = PG_ARGISNULL(i) ? (Datum) 0 : PG_GETARG_DATUM(i);
		nulls[i] = PG_ARGISNULL(i) ? 'n' : ' ';
	}

	owner_section_begin(&section);
	(void) owner_section_execute(
		"INSERT INTO csv_export.schema_changes"
		" (run_id, target, foreign_table, column_name, action, column_type)"
		" VALUES ($1, $2, $3, $4, $5, $6)",
		6, argtypes, values, nulls, &isnull);
	owner_section_end(&section);
	PG_RETURN_VOID();
}
