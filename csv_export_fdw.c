/*
 * csv_export_fdw.c
 *		Foreign data wrapper for CSV exports served over HTTP: the handler,
 *		the validator and the FDW callbacks.
 *
 * A scan streams the export: body bytes from the HTTP transfer (src/http.c)
 * are fed to the CSV reader (src/csv_reader.c) as they arrive
 * (src/record_stream.c), and each complete record becomes a row
 * (src/export_scan.c), so rows come out while the transfer is still running
 * and memory does not grow with the size of the export.  Here: planning
 * (estimates, which columns to convert, since_param pushdown), the scan
 * node, ANALYZE and IMPORT FOREIGN SCHEMA.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/nbtree.h"
#include "access/reloptions.h"
#include "catalog/pg_am.h"
#include "commands/defrem.h"
#include "commands/explain.h"
#include "commands/vacuum.h"
#include "executor/executor.h"
#include "foreign/fdwapi.h"
#include "foreign/foreign.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/planmain.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/restrictinfo.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/sampling.h"

#include "src/csv_export_fdw.h"
#include "src/convert.h"
#include "src/export_scan.h"
#include "src/http.h"
#include "src/import.h"
#include "src/option.h"
#include "src/pagination.h"
#include "src/parse_thread_backend.h"
#include "src/sync_state.h"
#include "src/url.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/* Row estimate when nothing better is known. */
#define DEFAULT_ROW_ESTIMATE	1000.0
/* Startup cost of a scan: an HTTP round trip before the first row. */
#define STARTUP_COST			1000.0
/* Fetching and parsing a row costs this many times cpu_tuple_cost. */
#define PARSE_COST_FACTOR		10.0

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

/* State of a foreign scan node. */
typedef struct CsvExportScanState
{
	char	   *display_url;	/* with pushed-down parameters, redacted */
	char	   *format;			/* the CSV options, for EXPLAIN VERBOSE */
	bool		paged;
	char	   *pagination;		/* mode and limit, for EXPLAIN */
	char	   *manifest;		/* the JSON path to a manifest's files, or NULL */
	char	   *archive_member; /* which members of an archive, or NULL */
	List	   *since_params;	/* "name=value (from col >)", for EXPLAIN */
	ExportScan *scan;			/* NULL under EXPLAIN without ANALYZE */
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
static bool csvAnalyzeForeignTable(Relation relation, AcquireSampleRowsFunc *func,
								   BlockNumber *totalpages);
static List *csvImportForeignSchema(ImportForeignSchemaStmt *stmt, Oid serverOid);

void
_PG_init(void)
{
	http_global_init();
	parse_thread_define_guc();
	sync_state_define_gucs();
	MarkGUCPrefixReserved("csv_export_fdw");
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
	routine->AnalyzeForeignTable = csvAnalyzeForeignTable;
	routine->ImportForeignSchema = csvImportForeignSchema;
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
needed_attnums(RelOptInfo *baserel)
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
		AttrNumber	attnum;

		for (attnum = 1; attnum <= baserel->max_attr; attnum++)
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
 *
 * Only a comparison that means what the API is told is pushed down: an
 * operator of the column type's own default btree family, between two
 * values of that type (a timestamptz column against a timestamp or date
 * constant means a local time, which the API would take for another
 * instant), and, for a collatable type, under a deterministic collation.
 */
static AttrNumber
since_qual_column(Expr *clause, Index relid, Expr **value, const char **opname)
{
	OpExpr	   *op;
	Var		   *column;
	Expr	   *other;
	Oid			lefttype;
	Oid			righttype;
	Oid			opclass;
	int			strategy;

	if (!IsA(clause, OpExpr) || list_length(((OpExpr *) clause)->args) != 2)
		return InvalidAttrNumber;
	op = (OpExpr *) clause;
	column = (Var *) linitial(op->args);
	other = (Expr *) lsecond(op->args);
	if (!IsA(column, Var))
	{
		column = (Var *) lsecond(op->args);
		other = (Expr *) linitial(op->args);
	}
	if (!IsA(column, Var) || column->varno != (int) relid ||
		column->varlevelsup != 0 || column->varattno <= 0)
		return InvalidAttrNumber;
	if (!(IsA(other, Const) && !((Const *) other)->constisnull) &&
		!(IsA(other, Param) && ((Param *) other)->paramkind == PARAM_EXTERN))
		return InvalidAttrNumber;

	op_input_types(op->opno, &lefttype, &righttype);
	if (lefttype != column->vartype || righttype != column->vartype ||
		exprType((Node *) other) != column->vartype)
		return InvalidAttrNumber;
	opclass = GetDefaultOpClass(column->vartype, BTREE_AM_OID);
	if (!OidIsValid(opclass))
		return InvalidAttrNumber;
	strategy = get_op_opfamily_strategy(op->opno, get_opclass_family(opclass));
	if (type_is_collatable(column->vartype) &&
		(!OidIsValid(op->inputcollid) || !get_collation_isdeterministic(op->inputcollid)))
		return InvalidAttrNumber;

	/* "value < col" is "col > value" */
	if ((Expr *) column != linitial(op->args))
		strategy = (strategy == BTLessStrategyNumber) ? BTGreaterStrategyNumber :
			(strategy == BTLessEqualStrategyNumber) ? BTGreaterEqualStrategyNumber :
			InvalidStrategy;
	if (strategy == BTGreaterStrategyNumber)
		*opname = ">";
	else if (strategy == BTGreaterEqualStrategyNumber)
		*opname = ">=";
	else
		return InvalidAttrNumber;
	*value = other;
	return column->varattno;
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

/*
 * Rows in the export: the expected_rows option, else what the last ANALYZE
 * counted, else a default.
 */
static double
export_row_estimate(RelOptInfo *baserel, const CsvExportOptions *options)
{
	if (options->expected_rows >= 0)
		return (double) options->expected_rows;
	if (baserel->pages > 0 && baserel->tuples >= 0)
		return baserel->tuples;
	return DEFAULT_ROW_ESTIMATE;
}

static void
csvGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	CsvExportPlanInfo *info = palloc0(sizeof(CsvExportPlanInfo));
	CsvExportOptions *options;
	double		selectivity;

	/* fails at plan time, not scan time, if the table cannot name a URL */
	options = csv_export_get_options(foreigntableid, GetUserId());

	baserel->tuples = export_row_estimate(baserel, options);
	selectivity = clauselist_selectivity(root, baserel->baserestrictinfo,
										 0, JOIN_INNER, NULL);
	baserel->rows = clamp_row_est(baserel->tuples * selectivity);

	info->needed_attnums = needed_attnums(baserel);
	find_since_quals(baserel, foreigntableid, info);
	baserel->fdw_private = info;
}

/*
 * Every row of the export is fetched, parsed and checked against the quals,
 * whatever the query keeps: the cost is per row of the export.
 */
static void
csvGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	Cost		per_row = cpu_tuple_cost * PARSE_COST_FACTOR +
		baserel->baserestrictcost.per_tuple;
	Cost		total_cost = STARTUP_COST + baserel->baserestrictcost.startup +
		per_row * baserel->tuples;

	add_path(baserel, (Path *)
			 compat_create_foreignscan_path(root, baserel, baserel->rows,
											STARTUP_COST, total_cost,
											baserel->lateral_relids));
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
 * Execution
 */

/*
 * The export's URL with the values of pushed-down quals added as query
 * parameters.  The values are constants or external parameters, so they are
 * known now and do not change on rescan.
 */
static char *
url_with_since_params(CsvExportScanState *state, const char *url,
					  ForeignScanState *node, ForeignScan *plan)
{
	List	   *params = (List *) list_nth(plan->fdw_private, CsvExportPrivateSinceParams);
	List	   *quals = (List *) list_nth(plan->fdw_private, CsvExportPrivateSinceQuals);
	ExprContext *econtext = node->ss.ps.ps_ExprContext;
	ListCell   *param_cell;
	ListCell   *qual_cell;
	ListCell   *expr_cell;

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
		url = url_add_query_param(url, strVal(lfirst(param_cell)), text);
		state->since_params = lappend(state->since_params,
									  psprintf("%s=%s (from %s)",
											   strVal(lfirst(param_cell)), text,
											   strVal(lfirst(qual_cell))));
	}
	return (char *) url;
}

/*
 * The role whose user mapping applies: the view owner's when the table is
 * read through a view, else the current user's.
 */
static Oid
scan_user(ForeignScanState *node)
{
	ForeignScan *plan = (ForeignScan *) node->ss.ps.plan;
	Oid			check_as_user;

	/* 16 moved it from the range table entry to the plan */
#if PG_VERSION_NUM >= 160000
	check_as_user = plan->checkAsUser;
#else
	check_as_user = exec_rt_fetch(plan->scan.scanrelid, node->ss.ps.state)->checkAsUser;
#endif
	return OidIsValid(check_as_user) ? check_as_user : GetUserId();
}

static void
csvBeginForeignScan(ForeignScanState *node, int eflags)
{
	ForeignScan *plan = (ForeignScan *) node->ss.ps.plan;
	CsvExportScanState *state = palloc0(sizeof(CsvExportScanState));
	Relation	rel = node->ss.ss_currentRelation;
	CsvExportOptions *options;
	char	   *url;
	bool	   *needed;
	ListCell   *lc;

	node->fdw_state = state;
	options = csv_export_get_options(RelationGetRelid(rel), scan_user(node));
	url = url_with_since_params(state, options->url, node, plan);
	state->display_url = url_redact(url);
	state->format = psprintf("delimiter %s, quote %s, header %s, null %s, encoding %s",
							 quote_literal_cstr(psprintf("%c", options->delimiter)),
							 quote_literal_cstr(psprintf("%c", options->quote)),
							 options->header ? "true" : "false",
							 options->null_string ? quote_literal_cstr(options->null_string)
							 : "(unquoted empty)",
							 pg_encoding_to_char(options->encoding));
	state->paged = options->pagination.mode != PAGINATION_NONE;
	state->manifest = options->manifest;
	state->archive_member = options->archive_member;
	state->pagination = psprintf("%s, at most %lld pages",
								 pagination_mode_name(options->pagination.mode),
								 (long long) options->pagination.max_pages);
	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
		return;

	needed = palloc0(sizeof(bool) * RelationGetNumberOfAttributes(rel));
	foreach(lc, (List *) list_nth(plan->fdw_private, CsvExportPrivateNeededAttnums))
		needed[lfirst_int(lc) - 1] = true;
	state->scan = export_scan_begin(rel, options, url, needed);
}

static TupleTableSlot *
csvIterateForeignScan(ForeignScanState *node)
{
	CsvExportScanState *state = node->fdw_state;
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;

	ExecClearTuple(slot);
	if (export_scan_next(state->scan, slot->tts_values, slot->tts_isnull))
		ExecStoreVirtualTuple(slot);
	return slot;
}

static void
csvReScanForeignScan(ForeignScanState *node)
{
	CsvExportScanState *state = node->fdw_state;

	export_scan_rescan(state->scan);
}

static void
csvEndForeignScan(ForeignScanState *node)
{
	CsvExportScanState *state = node->fdw_state;

	if (state->scan)
		export_scan_end(state->scan);
}

/*
 * ANALYZE: stream the whole export once and keep a uniform random sample of
 * targrows rows (reservoir sampling, Vitter's algorithm as in
 * acquire_sample_rows), so memory is bounded by the sample.
 */
static int
csv_acquire_sample_rows(Relation rel, int elevel, HeapTuple *rows, int targrows,
						double *totalrows, double *totaldeadrows)
{
	TupleDesc	tupdesc = RelationGetDescr(rel);

	/*
	 * As postgres_fdw does: ANALYZE (run by the owner, a superuser, or
	 * autovacuum's worker) reads the export with the table owner's user
	 * mapping, not that of whoever happens to run it.
	 */
	CsvExportOptions *options = csv_export_get_options(RelationGetRelid(rel),
													   rel->rd_rel->relowner);
	Datum	   *values = palloc(sizeof(Datum) * tupdesc->natts);
	bool	   *nulls = palloc(sizeof(bool) * tupdesc->natts);
	MemoryContext row_cxt = AllocSetContextCreate(CurrentMemoryContext,
												  "csv_export_fdw analyze row",
												  ALLOCSET_DEFAULT_SIZES);
	ExportScan *scan = export_scan_begin(rel, options, options->url, NULL);
	ReservoirStateData reservoir;
	double		seen = 0;
	double		rows_to_skip = -1;
	int			numrows = 0;

	reservoir_init_selection_state(&reservoir, targrows);
	for (;;)
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(row_cxt);
		bool		found;

		MemoryContextReset(row_cxt);
		found = export_scan_next(scan, values, nulls);
		MemoryContextSwitchTo(oldcxt);
		if (!found)
			break;
		compat_analyze_delay_point();

		if (numrows < targrows)
			rows[numrows++] = heap_form_tuple(tupdesc, values, nulls);
		else
		{
			if (rows_to_skip < 0)
				rows_to_skip = reservoir_get_next_S(&reservoir, seen, targrows);
			if (rows_to_skip <= 0)
			{
				int			k = (int) (targrows * sampler_random_fract(&reservoir.randstate));

				heap_freetuple(rows[k]);
				rows[k] = heap_form_tuple(tupdesc, values, nulls);
			}
			rows_to_skip -= 1;
		}
		seen += 1;
	}
	export_scan_end(scan);
	MemoryContextDelete(row_cxt);

	*totalrows = seen;
	*totaldeadrows = 0;
	ereport(elevel,
			(errmsg("\"%s\": the export has %.0f rows; %d rows in sample",
					RelationGetRelationName(rel), seen, numrows)));
	return numrows;
}

static bool
csvAnalyzeForeignTable(Relation relation, AcquireSampleRowsFunc *func,
					   BlockNumber *totalpages)
{
	*func = csv_acquire_sample_rows;
	/* an export has no pages; one marks the table as analyzed for the planner */
	*totalpages = 1;
	return true;
}

static void
csvExplainForeignScan(ForeignScanState *node, ExplainState *es)
{
	CsvExportScanState *state = node->fdw_state;

	ExplainPropertyText("URL", state->display_url, es);
	if (state->since_params != NIL)
		ExplainPropertyList("Since Parameters", state->since_params, es);
	if (es->verbose)
		ExplainPropertyText("CSV Format", state->format, es);
	if (state->paged)
		ExplainPropertyText("Pagination", state->pagination, es);
	if (state->manifest)
		ExplainPropertyText("Manifest", state->manifest, es);
	if (state->archive_member)
		ExplainPropertyText("Archive Member", state->archive_member, es);
	if (es->analyze && state->scan)
	{
		ExportStats stats;
		uint64		records;

		export_scan_stats(state->scan, &stats, &records);
		if (state->paged)
			ExplainPropertyInteger("Pages", NULL, stats.pages, es);
		if (state->manifest)
			ExplainPropertyInteger("Files", NULL, stats.pages, es);
		if (state->archive_member)
			ExplainPropertyInteger("Archive Members", NULL, stats.members, es);
		ExplainPropertyInteger("HTTP Requests", NULL, stats.requests, es);
		ExplainPropertyUInteger("Bytes Received", NULL, stats.bytes, es);
		/* what a compressed body (or a Content-Encoding) decoded to */
		if (stats.compression[0] && strcmp(stats.compression, "none") != 0)
		{
			ExplainPropertyText("Compression", stats.compression, es);
			ExplainPropertyUInteger("Bytes Decompressed", NULL, stats.bytes_decoded, es);
		}
		ExplainPropertyUInteger("Records Parsed", NULL, records, es);
	}
}

static List *
csvImportForeignSchema(ImportForeignSchemaStmt *stmt, Oid serverOid)
{
	return csv_export_import_schema(stmt, GetForeignServer(serverOid));
}
