/*
 * fetch_check.c
 *		csv_export._expect_export(source, etag, last_modified) and
 *		csv_export._export_fetched(source): a sync with skip_unchanged tells
 *		the next scan of its source, in this transaction, the validators of
 *		the export's last version, and reads afterwards what the scan found
 *		(a 304 Not Modified, the new validators, a SHA-256 of the body).
 *
 * And csv_export._allow_missing_columns(source, header_names): a sync with
 * on_missing_columns 'null' tells the scans of its source, in this
 * transaction, which columns may be missing from the export's header (they
 * read as NULL); any other missing column still fails the scan.
 *
 * One check at a time, in the transaction's memory: a sync scans one
 * source, and a check never outlives the transaction that set it.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "fetch_check.h"

PG_FUNCTION_INFO_V1(csv_export_expect_export);
PG_FUNCTION_INFO_V1(csv_export_export_fetched);
PG_FUNCTION_INFO_V1(csv_export_allow_missing_columns);

static FetchCheck *current_check = NULL;

/* on_missing_columns 'null': the source, and header names it may lack */
static Oid	missing_allowed_relid = InvalidOid;
static List *missing_allowed = NIL;

static void
forget_check(XactEvent event, void *arg)
{
	/* their memory goes with the transaction */
	current_check = NULL;
	missing_allowed_relid = InvalidOid;
	missing_allowed = NIL;
}

static void
forget_at_transaction_end(void)
{
	static bool callback_registered = false;

	if (!callback_registered)
	{
		RegisterXactCallback(forget_check, NULL);
		callback_registered = true;
	}
}

/* The check for a scan of relid, or NULL if no sync set one. */
FetchCheck *
fetch_check_for(Oid relid)
{
	if (current_check != NULL && current_check->relid == relid)
		return current_check;
	return NULL;
}

static char *
optional_text(FunctionCallInfo fcinfo, int argno)
{
	return PG_ARGISNULL(argno) ? NULL
		: MemoryContextStrdup(TopTransactionContext,
							  text_to_cstring(PG_GETARG_TEXT_PP(argno)));
}

/* _expect_export(source regclass, etag text, last_modified text) */
Datum
csv_export_expect_export(PG_FUNCTION_ARGS)
{
	FetchCheck *check;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("csv_export._expect_export needs a source")));
	forget_at_transaction_end();
	check = MemoryContextAllocZero(TopTransactionContext, sizeof(FetchCheck));
	check->relid = PG_GETARG_OID(0);
	check->if_none_match = optional_text(fcinfo, 1);
	check->if_modified_since = optional_text(fcinfo, 2);
	current_check = check;
	PG_RETURN_VOID();
}

/*
 * _export_fetched(source regclass) -> (not_modified, etag, last_modified,
 * body_sha256): what the last scan of source found; all NULL if no check
 * was set for it or the scan did not read to the end.
 */
Datum
csv_export_export_fetched(PG_FUNCTION_ARGS)
{
	FetchCheck *check = PG_ARGISNULL(0) ? NULL : fetch_check_for(PG_GETARG_OID(0));
	TupleDesc	desc;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};
	bytea	   *hash;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	if (check == NULL || !check->done)
	{
		memset(nulls, true, sizeof(nulls));
		PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
	}
	values[0] = BoolGetDatum(check->not_modified);
	nulls[1] = check->etag == NULL;
	values[1] = nulls[1] ? (Datum) 0 : CStringGetTextDatum(check->etag);
	nulls[2] = check->last_modified == NULL;
	values[2] = nulls[2] ? (Datum) 0 : CStringGetTextDatum(check->last_modified);
	hash = palloc(VARHDRSZ + FETCH_CHECK_HASH_LENGTH);
	SET_VARSIZE(hash, VARHDRSZ + FETCH_CHECK_HASH_LENGTH);
	memcpy(VARDATA(hash), check->body_hash, FETCH_CHECK_HASH_LENGTH);
	values[3] = PointerGetDatum(hash);
	nulls[3] = check->not_modified;
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}

/* Whether a scan of relid may find no header field for header_name. */
bool
fetch_check_missing_allowed(Oid relid, const char *header_name)
{
	ListCell   *lc;

	if (relid != missing_allowed_relid)
		return false;
	foreach(lc, missing_allowed)
		if (strcmp(lfirst(lc), header_name) == 0)
			return true;
	return false;
}

/* _allow_missing_columns(source regclass, header_names text[]) */
Datum
csv_export_allow_missing_columns(PG_FUNCTION_ARGS)
{
	Datum	   *names;
	bool	   *nulls;
	int			count;
	int			i;
	MemoryContext oldcxt;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("csv_export._allow_missing_columns needs a source and column names")));
	forget_at_transaction_end();
	deconstruct_array(PG_GETARG_ARRAYTYPE_P(1), TEXTOID, -1, false, TYPALIGN_INT,
					  &names, &nulls, &count);
	oldcxt = MemoryContextSwitchTo(TopTransactionContext);
	missing_allowed = NIL;
	for (i = 0; i < count; i++)
		if (!nulls[i])
			missing_allowed = lappend(missing_allowed, TextDatumGetCString(names[i]));
	MemoryContextSwitchTo(oldcxt);
	missing_allowed_relid = PG_GETARG_OID(0);
	PG_RETURN_VOID();
}
