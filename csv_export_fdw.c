/*
 * csv_export_fdw.c
 *		Foreign data wrapper for CSV exports served over HTTP.
 *
 * A scan streams the export: body bytes from http.c are fed to the CSV
 * reader as they arrive, and each complete record becomes a tuple, so rows
 * come out while the transfer is still running and memory does not grow with
 * the size of the export.  This file wires the parts together and implements
 * the FDW callbacks; the parts themselves live in src/.
 */
#include "postgres.h"

#include "access/reloptions.h"
#include "access/table.h"
#include "commands/explain.h"
#include "foreign/fdwapi.h"
#include "executor/executor.h"
#include "foreign/foreign.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/planmain.h"
#include "optimizer/restrictinfo.h"
#include "nodes/nodeFuncs.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "src/csv_export_fdw.h"
#include "src/csv_reader.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/* Row estimate when nothing better is known. */
#define DEFAULT_ROW_ESTIMATE	1000.0
/* Startup cost of a scan: an HTTP round trip before the first row. */
#define STARTUP_COST			1000.0
/* Longest stretch of a bad value quoted in an error context. */
#define CONTEXT_VALUE_MAX		80

/* Slots of ForeignScan.fdw_private */
enum CsvExportScanPrivate
{
	/* IntList of the attribute numbers the query reads */
	CsvExportPrivateNeededAttnums,
	/* List of String: query parameter names of pushed-down quals */
	CsvExportPrivateSinceParams,
	/* List of String: "col > " as written, for EXPLAIN */
	CsvExportPrivateSinceQuals
};

/*
 * What planning found out about a foreign table, kept in
 * RelOptInfo.fdw_private between the planner callbacks.
 */
typedef struct CsvExportPlanInfo
{
	List	   *needed_attnums;
	List	   *since_params;	/* parallel lists: one entry per pushed qual */
	List	   *since_quals;
	List	   *since_values;	/* expressions, become ForeignScan.fdw_exprs */
} CsvExportPlanInfo;

typedef struct CsvExportScanState
{
	Relation	rel;
	CsvExportOptions *options;
	char	   *url;			/* with pushed-down query parameters */
	char	   *display_url;	/* the same, redacted */
	List	   *since_params;	/* "name=value" of pushed-down quals, for EXPLAIN */

	/* what the query needs, and where it comes from in the CSV */
	TupleDesc	tupdesc;
	bool	   *needed;			/* by attribute index */
	char	  **header_names;	/* by attribute index; NULL if dropped */
	int		   *field_to_att;	/* CSV field number -> attribute index or -1 */
	bool	   *fields_to_keep; /* by CSV field number */
	int			nmapped_fields;
	int			expected_fields;	/* fields per record */
	bool		header_pending;
	ValueConverter *converter;

	/* one pass over the export; reset by a rescan */
	MemoryContext scan_cxt;
	MemoryContext fetch_cxt;
	HttpTransfer *transfer;
	CsvReader  *reader;
	bool		input_done;
	uint64		rows_returned;	/* in this pass; none yet allows a retry */

	/* what an error context reports */
	uint64		current_line;	/* 0: not at a record */
	const char *current_column;
	const char *current_value;

	/* for EXPLAIN ANALYZE, over all passes */
	uint64		bytes_of_done_passes;
	int			requests_of_done_passes;
	uint64		records_parsed;
} CsvExportScanState;

PG_FUNCTION_INFO_V1(csv_export_fdw_handler);
PG_FUNCTION_INFO_V1(csv_export_fdw_validator);

static void csvGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel,
								 Oid foreigntableid);
static void csvGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel,
							   Oid foreigntableid);
static ForeignScan *csvGetForeignPlan(PlannerInfo *root, RelOptInfo *baserel,
									  Oid foreigntableid, ForeignPath *best_path,
									  List *tlist, List *scan_clauses,
									  Plan *outer_plan);
static void csvExplainForeignScan(ForeignScanState *node, ExplainState *es);
static void csvBeginForeignScan(ForeignScanState *node, int eflags);
static TupleTableSlot *csvIterateForeignScan(ForeignScanState *node);
static void csvReScanForeignScan(ForeignScanState *node);
static void csvEndForeignScan(ForeignScanState *node);
static void start_reader(CsvExportScanState *state);

void
_PG_init(void)
{
	http_global_init();
}

Datum
csv_export_fdw_handler(PG_FUNCTION_ARGS)
{
	FdwRoutine *routine = makeNode(FdwRoutine);

	routine->GetForeignRelSize = csvGetForeignRelSize;
	routine->GetForeignPaths = csvGetForeignPaths;
	routine->GetForeignPlan = csvGetForeignPlan;
	routine->ExplainForeignScan = csvExplainForeignScan;
	routine->BeginForeignScan = csvBeginForeignScan;
	routine->IterateForeignScan = csvIterateForeignScan;
	routine->ReScanForeignScan = csvReScanForeignScan;
	routine->EndForeignScan = csvEndForeignScan;
	PG_RETURN_POINTER(routine);
}

Datum
csv_export_fdw_validator(PG_FUNCTION_ARGS)
{
	List	   *options = untransformRelOptions(PG_GETARG_DATUM(0));
	Oid			catalog = PG_GETARG_OID(1);

	csv_export_validate_options(options, catalog);
	PG_RETURN_VOID();
}

/*
 * Planning
 */

/*
 * The attribute numbers the query reads: in its output or in its quals.  A
 * whole-row reference needs them all.
 */
static List *
needed_attnums(RelOptInfo *baserel, Oid foreigntableid)
{
	Bitmapset  *attrs = NULL;
	List	   *attnums = NIL;
	ListCell   *lc;
	int			whole_row = 0 - FirstLowInvalidHeapAttributeNumber;
	int			member = -1;

	pull_varattnos((Node *) baserel->reltarget->exprs, baserel->relid, &attrs);
	foreach(lc, baserel->baserestrictinfo)
	{
		RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);

		pull_varattnos((Node *) rinfo->clause, baserel->relid, &attrs);
	}

	if (bms_is_member(whole_row, attrs))
	{
		Relation	rel = table_open(foreigntableid, AccessShareLock);
		int			natts = RelationGetNumberOfAttributes(rel);
		AttrNumber	attnum;

		table_close(rel, AccessShareLock);
		for (attnum = 1; attnum <= natts; attnum++)
			attnums = lappend_int(attnums, attnum);
		return attnums;
	}

	while ((member = bms_next_member(attrs, member)) >= 0)
	{
		AttrNumber	attnum = member + FirstLowInvalidHeapAttributeNumber;

		/* system columns such as tableoid are filled in by the executor */
		if (attnum > 0)
			attnums = lappend_int(attnums, attnum);
	}
	return attnums;
}

/*
 * If clause compares a column that has a since_param option with a value
 * known when the scan starts ("col > value", "col >= value", or the same
 * written the other way round), return that column's attribute number and
 * set *value to the value's expression.  The API is then asked for rows
 * after that value only; PostgreSQL still checks the clause on every row.
 */
static AttrNumber
since_qual_column(Expr *clause, Index relid, Expr **value, const char **opname)
{
	OpExpr	   *op;
	Node	   *left;
	Node	   *right;
	char	   *name;

	if (!IsA(clause, OpExpr) || list_length(((OpExpr *) clause)->args) != 2)
		return InvalidAttrNumber;
	op = (OpExpr *) clause;
	left = linitial(op->args);
	right = lsecond(op->args);
	name = get_opname(op->opno);
	if (name == NULL)
		return InvalidAttrNumber;

	if (strcmp(name, "<") == 0 || strcmp(name, "<=") == 0)
	{
		Node	   *swap = left;

		left = right;
		right = swap;
		name = (name[1] == '=') ? ">=" : ">";
	}
	else if (strcmp(name, ">") != 0 && strcmp(name, ">=") != 0)
		return InvalidAttrNumber;

	if (!IsA(left, Var) || ((Var *) left)->varno != (int) relid ||
		((Var *) left)->varlevelsup != 0 || ((Var *) left)->varattno <= 0)
		return InvalidAttrNumber;
	if (!(IsA(right, Const) && !((Const *) right)->constisnull) &&
		!(IsA(right, Param) && ((Param *) right)->paramkind == PARAM_EXTERN))
		return InvalidAttrNumber;

	*value = (Expr *) right;
	*opname = name;
	return ((Var *) left)->varattno;
}

/* The quals that become since_param query parameters: one per column. */
static void
find_since_quals(RelOptInfo *baserel, Oid foreigntableid, CsvExportPlanInfo *info)
{
	Bitmapset  *pushed = NULL;
	ListCell   *lc;

	foreach(lc, baserel->baserestrictinfo)
	{
		RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);
		Expr	   *value;
		const char *opname;
		AttrNumber	attnum = since_qual_column(rinfo->clause, baserel->relid,
											   &value, &opname);
		char	   *param;

		if (attnum == InvalidAttrNumber || bms_is_member(attnum, pushed))
			continue;
		param = csv_export_column_since_param(foreigntableid, attnum);
		if (param == NULL)
			continue;
		pushed = bms_add_member(pushed, attnum);
		info->since_params = lappend(info->since_params, makeString(param));
		info->since_quals = lappend(info->since_quals,
									makeString(psprintf("%s %s",
														quote_identifier(get_attname(foreigntableid, attnum, false)),
														opname)));
		info->since_values = lappend(info->since_values, value);
	}
}

static void
csvGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	CsvExportPlanInfo *info = palloc0(sizeof(CsvExportPlanInfo));
	double		selectivity;

	/* fail at plan time, not scan time, if the table cannot name a URL */
	(void) csv_export_get_options(foreigntableid, GetUserId());

	selectivity = clauselist_selectivity(root, baserel->baserestrictinfo,
										 0, JOIN_INNER, NULL);
	baserel->rows = clamp_row_est(DEFAULT_ROW_ESTIMATE * selectivity);

	info->needed_attnums = needed_attnums(baserel, foreigntableid);
	find_since_quals(baserel, foreigntableid, info);
	baserel->fdw_private = info;
}

static void
csvGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	Cost		total_cost = STARTUP_COST +
		(cpu_tuple_cost + cpu_operator_cost) * DEFAULT_ROW_ESTIMATE;

	add_path(baserel, (Path *)
			 create_foreignscan_path(root, baserel, NULL, baserel->rows,
									 STARTUP_COST, total_cost,
									 NIL, NULL, NULL, NIL));
}

static ForeignScan *
csvGetForeignPlan(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid,
				  ForeignPath *best_path, List *tlist, List *scan_clauses,
				  Plan *outer_plan)
{
	CsvExportPlanInfo *info = baserel->fdw_private;
	List	   *fdw_private = list_make3(info->needed_attnums,
										 info->since_params,
										 info->since_quals);

	/*
	 * Every qual is checked locally, by the executor, pushed down or not: the
	 * API's idea of "after" need not be exactly ours.
	 */
	scan_clauses = extract_actual_clauses(scan_clauses, false);
	return make_foreignscan(tlist, scan_clauses, baserel->relid,
							info->since_values, fdw_private, NIL, NIL,
							outer_plan);
}

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
	CsvExportScanState *state = arg;
	const char *relname = RelationGetRelationName(state->rel);

	if (state->current_line == 0)
		errcontext("foreign table \"%s\"", relname);
	else if (state->current_column == NULL)
		errcontext("foreign table \"%s\", line %llu of %s", relname,
				   (unsigned long long) state->current_line, state->display_url);
	else
		errcontext("foreign table \"%s\", line %llu of %s, column \"%s\": \"%s\"",
				   relname, (unsigned long long) state->current_line,
				   state->display_url, state->current_column,
				   printable_value(state->current_value));
}

/*
 * Execution
 */

static void
release_reader(void *arg)
{
	csv_reader_destroy((CsvReader *) arg);
}

/* Start a pass over the export: a new transfer and a new reader. */
static void
start_fetch(CsvExportScanState *state)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(state->fetch_cxt);

	state->transfer = http_transfer_start(&state->options->http, state->url);
	MemoryContextSwitchTo(oldcxt);
	start_reader(state);
}

/*
 * A new CSV reader for the body: at the start of a pass, and again when a
 * request had to be retried after part of its body was read.  The old one
 * is freed with the pass (fetch_cxt).
 */
static void
start_reader(CsvExportScanState *state)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(state->fetch_cxt);
	MemoryContextCallback *release = palloc0(sizeof(MemoryContextCallback));
	CsvExportOptions *opts = state->options;

	state->reader = csv_reader_create(opts->delimiter, opts->quote,
									  opts->encoding == PG_UTF8);
	if (state->reader == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory while creating a CSV reader")));
	release->func = release_reader;
	release->arg = state->reader;
	MemoryContextRegisterResetCallback(state->fetch_cxt, release);

	if (!opts->header &&
		!csv_reader_keep_fields(state->reader, state->fields_to_keep,
								state->nmapped_fields))
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory while creating a CSV reader")));

	state->header_pending = opts->header;
	state->input_done = false;
	state->rows_returned = 0;
	MemoryContextSwitchTo(oldcxt);
}

static void
report_csv_error(CsvExportScanState *state, CsvReaderStatus status)
{
	state->current_line = csv_reader_current_line(state->reader);
	state->current_column = NULL;
	if (status == CSV_READER_OUT_OF_MEMORY)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory while parsing CSV")));
	ereport(ERROR,
			(errcode(ERRCODE_BAD_COPY_FILE_FORMAT),
			 errmsg("malformed CSV: %s", csv_reader_status_message(status))));
}

/* Feed the reader the next chunk of the body, or the end of it. */
static void
pull_input(CsvExportScanState *state)
{
	const char *data;
	size_t		len;
	CsvReaderStatus status = CSV_READER_OK;

	state->current_line = 0;
	switch (http_transfer_read(state->transfer, state->rows_returned == 0, &data, &len))
	{
		case HTTP_READ_DATA:
			status = csv_reader_feed(state->reader, data, len);
			break;
		case HTTP_READ_END:
			status = csv_reader_finish(state->reader);
			state->input_done = true;
			break;
		case HTTP_READ_RESTARTED:
			/* no row came of the failed request: read the new one afresh */
			start_reader(state);
			return;
	}
	if (status != CSV_READER_OK)
		report_csv_error(state, status);
}

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
find_header_field(CsvExportScanState *state, const CsvRecord *header,
				  const char *name)
{
	int			found = -1;
	int			i;

	for (i = 0; i < header->nkept; i++)
	{
		const char *field = value_converter_to_server(state->converter,
													  header->fields[i].value,
													  header->fields[i].len);

		if (strcmp(field, name) != 0)
			continue;
		if (found >= 0)
			ereport(ERROR,
					(errcode(ERRCODE_BAD_COPY_FILE_FORMAT),
					 errmsg("column \"%s\" appears more than once in the CSV header", name),
					 errdetail("The header is: %s.", describe_header(header, state->converter))));
		found = header->fields[i].number;
	}
	return found;
}

/*
 * Match the table's columns to the header's fields by name.  Every column
 * must be there, whether or not this query reads it, so a table either works
 * with an export or fails on its first row.
 */
static void
map_header(CsvExportScanState *state, const CsvRecord *header)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(state->scan_cxt);
	StringInfoData missing;
	bool	   *keep = palloc0(sizeof(bool) * header->nfields);
	int			i;

	initStringInfo(&missing);
	state->field_to_att = palloc(sizeof(int) * header->nfields);
	for (i = 0; i < header->nfields; i++)
		state->field_to_att[i] = -1;

	for (i = 0; i < state->tupdesc->natts; i++)
	{
		int			field;

		if (state->header_names[i] == NULL)
			continue;
		field = find_header_field(state, header, state->header_names[i]);
		if (field < 0)
			appendStringInfo(&missing, "%s\"%s\"", missing.len > 0 ? ", " : "",
							 state->header_names[i]);
		else if (state->needed[i])
		{
			state->field_to_att[field] = i;
			keep[field] = true;
		}
	}
	if (missing.len > 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_COLUMN_NAME_NOT_FOUND),
				 errmsg("columns of foreign table \"%s\" missing from the CSV header: %s",
						RelationGetRelationName(state->rel), missing.data),
				 errdetail("The header is: %s.", describe_header(header, state->converter)),
				 errhint("Use the column option \"column_name\" to read a column from a differently named CSV field.")));

	state->nmapped_fields = header->nfields;
	state->expected_fields = header->nfields;
	if (!csv_reader_keep_fields(state->reader, keep, header->nfields))
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory while parsing CSV")));
	MemoryContextSwitchTo(oldcxt);
}

/* The next data record of the export, false at its end. */
static bool
next_record(CsvExportScanState *state, CsvRecord *record)
{
	for (;;)
	{
		if (csv_reader_next(state->reader, record))
		{
			state->current_line = record->line;
			if (state->header_pending)
			{
				map_header(state, record);
				state->header_pending = false;
				continue;
			}
			state->records_parsed++;
			if (record->nfields != state->expected_fields)
				ereport(ERROR,
						(errcode(ERRCODE_BAD_COPY_FILE_FORMAT),
						 errmsg("record has %d fields but %s %d",
								record->nfields,
								state->options->header ? "the header has" : "the foreign table has",
								state->expected_fields)));
			return true;
		}
		if (state->input_done)
			return false;
		pull_input(state);
	}
}

static void
store_record(CsvExportScanState *state, const CsvRecord *record, TupleTableSlot *slot)
{
	int			i;

	memset(slot->tts_isnull, true, sizeof(bool) * state->tupdesc->natts);
	for (i = 0; i < record->nkept; i++)
	{
		const CsvField *field = &record->fields[i];
		int			att = field->number < state->nmapped_fields
			? state->field_to_att[field->number] : -1;

		if (att < 0)
			continue;
		state->current_column = state->header_names[att];
		state->current_value = field->value;
		slot->tts_values[att] = value_converter_datum(state->converter, att,
													  field->value, field->len,
													  field->is_null,
													  &slot->tts_isnull[att]);
	}
	state->current_column = NULL;
	ExecStoreVirtualTuple(slot);
}

/* Without a header, CSV fields map to the table's columns in order. */
static void
map_by_position(CsvExportScanState *state)
{
	int			i;
	int			field = 0;

	state->field_to_att = palloc(sizeof(int) * state->tupdesc->natts);
	state->fields_to_keep = palloc(sizeof(bool) * state->tupdesc->natts);
	for (i = 0; i < state->tupdesc->natts; i++)
	{
		if (state->header_names[i] == NULL)
			continue;
		state->field_to_att[field] = state->needed[i] ? i : -1;
		state->fields_to_keep[field] = state->needed[i];
		field++;
	}
	state->nmapped_fields = field;
	state->expected_fields = field;
}

/*
 * Evaluate the values of pushed-down quals and add them to the URL as query
 * parameters.  They are constants or external parameters, so their values
 * are known now and do not change on rescan.
 */
static void
add_since_params(CsvExportScanState *state, ForeignScanState *node, ForeignScan *plan)
{
	List	   *params = (List *) list_nth(plan->fdw_private, CsvExportPrivateSinceParams);
	List	   *quals = (List *) list_nth(plan->fdw_private, CsvExportPrivateSinceQuals);
	ExprContext *econtext = node->ss.ps.ps_ExprContext;
	ListCell   *param_cell;
	ListCell   *qual_cell;
	ListCell   *expr_cell;

	state->url = state->options->url;
	forthree(param_cell, params, qual_cell, quals, expr_cell, plan->fdw_exprs)
	{
		Expr	   *expr = (Expr *) lfirst(expr_cell);
		ExprState  *expr_state = ExecInitExpr(expr, (PlanState *) node);
		bool		isnull;
		Datum		value = ExecEvalExpr(expr_state, econtext, &isnull);
		char	   *text;

		/* "col > NULL" matches nothing: the recheck will drop every row */
		if (isnull || (text = value_to_query_text(value, exprType((Node *) expr))) == NULL)
			continue;
		state->url = url_add_query_param(state->url, strVal(lfirst(param_cell)), text);
		state->since_params = lappend(state->since_params,
									  psprintf("%s=%s (from %s)",
											   strVal(lfirst(param_cell)), text,
											   strVal(lfirst(qual_cell))));
	}
}

/*
 * The role whose user mapping applies: the view owner's when the table is
 * read through a view, else the current user's.
 */
static Oid
scan_user(ForeignScanState *node)
{
	ForeignScan *plan = (ForeignScan *) node->ss.ps.plan;
	RangeTblEntry *rte = exec_rt_fetch(plan->scan.scanrelid, node->ss.ps.state);

	return OidIsValid(rte->checkAsUser) ? rte->checkAsUser : GetUserId();
}

static void
csvBeginForeignScan(ForeignScanState *node, int eflags)
{
	ForeignScan *plan = (ForeignScan *) node->ss.ps.plan;
	CsvExportScanState *state = palloc0(sizeof(CsvExportScanState));
	Oid			relid;
	List	   *attnums;
	ListCell   *lc;
	int			i;

	node->fdw_state = state;
	state->rel = node->ss.ss_currentRelation;
	relid = RelationGetRelid(state->rel);
	state->options = csv_export_get_options(relid, scan_user(node));
	add_since_params(state, node, plan);
	state->display_url = url_redact(state->url);
	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
		return;

	state->tupdesc = RelationGetDescr(state->rel);
	state->needed = palloc0(sizeof(bool) * state->tupdesc->natts);
	attnums = (List *) list_nth(plan->fdw_private, CsvExportPrivateNeededAttnums);
	foreach(lc, attnums)
		state->needed[lfirst_int(lc) - 1] = true;

	state->header_names = palloc0(sizeof(char *) * state->tupdesc->natts);
	for (i = 0; i < state->tupdesc->natts; i++)
	{
		Form_pg_attribute attr = TupleDescAttr(state->tupdesc, i);

		if (!attr->attisdropped)
			state->header_names[i] = csv_export_column_header_name(relid, attr);
	}
	if (!state->options->header)
		map_by_position(state);

	state->converter = value_converter_create(state->tupdesc, state->options->encoding,
											  state->options->null_string);
	state->scan_cxt = AllocSetContextCreate(node->ss.ps.state->es_query_cxt,
											"csv_export_fdw scan",
											ALLOCSET_DEFAULT_SIZES);
	state->fetch_cxt = AllocSetContextCreate(state->scan_cxt,
											 "csv_export_fdw fetch",
											 ALLOCSET_DEFAULT_SIZES);
}

static TupleTableSlot *
csvIterateForeignScan(ForeignScanState *node)
{
	CsvExportScanState *state = node->fdw_state;
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;
	ErrorContextCallback errcallback;
	CsvRecord	record;

	errcallback.callback = scan_error_context;
	errcallback.arg = state;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;

	if (state->transfer == NULL)
		start_fetch(state);

	ExecClearTuple(slot);
	if (next_record(state, &record))
	{
		store_record(state, &record, slot);
		state->rows_returned++;
	}

	error_context_stack = errcallback.previous;
	return slot;
}

/* Drop the current pass; the next iteration fetches the export again. */
static void
end_fetch(CsvExportScanState *state)
{
	if (state->transfer)
	{
		state->bytes_of_done_passes += http_transfer_bytes_received(state->transfer);
		state->requests_of_done_passes += http_transfer_requests(state->transfer);
	}
	MemoryContextReset(state->fetch_cxt);
	state->transfer = NULL;
	state->reader = NULL;
}

static void
csvReScanForeignScan(ForeignScanState *node)
{
	end_fetch(node->fdw_state);
}

static void
csvEndForeignScan(ForeignScanState *node)
{
	CsvExportScanState *state = node->fdw_state;

	/* with EXEC_FLAG_EXPLAIN_ONLY nothing was set up */
	if (state->scan_cxt)
		MemoryContextDelete(state->scan_cxt);
}

static void
csvExplainForeignScan(ForeignScanState *node, ExplainState *es)
{
	CsvExportScanState *state = node->fdw_state;

	ExplainPropertyText("URL", state->display_url, es);
	if (state->since_params != NIL)
		ExplainPropertyList("Since Parameters", state->since_params, es);
	if (es->analyze)
	{
		uint64		bytes = state->bytes_of_done_passes;
		int			requests = state->requests_of_done_passes;

		if (state->transfer)
		{
			bytes += http_transfer_bytes_received(state->transfer);
			requests += http_transfer_requests(state->transfer);
		}
		ExplainPropertyInteger("HTTP Requests", NULL, requests, es);
		ExplainPropertyUInteger("Bytes Received", NULL, bytes, es);
		ExplainPropertyUInteger("Records Parsed", NULL, state->records_parsed, es);
	}
}
