/*
 * fetch_check.c
 *		csv_export._expect_export(source, etag, last_modified) and
 *		csv_export._export_fetched(source): a sync with skip_unchanged tells
 *		the next scan of its source, in this transaction, the validators of
 *		the export's last version, and reads afterwards what the scan found
 *		(a 304 Not Modified, the new validators, a SHA-256 of the body).
 *
 * One check at a time, in the transaction's memory: a sync scans one
 * source, and a check never outlives the transaction that set it.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "fetch_check.h"

PG_FUNCTION_INFO_V1(csv_export_expect_export);
PG_FUNCTION_INFO_V1(csv_export_export_fetched);

static FetchCheck *current_check = NULL;

static void
forget_check(XactEvent event, void *arg)
{
	current_check = NULL;		/* its memory goes with the transaction */
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
	static bool callback_registered = false;
	FetchCheck *check;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("csv_export._expect_export needs a source")));
	if (!callback_registered)
	{
		RegisterXactCallback(forget_check, NULL);
		callback_registered = true;
	}
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
