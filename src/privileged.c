/*
 * privileged.c
 *		Statements run as the owner of the extension's tables, on behalf of
 *		roles that may not write those tables themselves.
 *
 * The state of syncs and the rejects of scans belong to the extension.
 * Other roles write them only through functions that first check what the
 * caller may do (sync_state.c, rejects.c), and then run fixed statements
 * here: as the owner of the extension's schema, in a security-restricted
 * operation, with search_path pinned to pg_catalog, so that nothing the
 * caller created (a function, an operator, a temporary object) runs with
 * the owner's rights.
 *
 * An ERROR inside a section needs no cleanup here: aborting the
 * (sub)transaction restores the user, the security context, the settings
 * and SPI, as it does for the statements of referential integrity triggers.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_namespace.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/guc.h"
#include "utils/syscache.h"

#include "csv_export_fdw.h"
#include "privileged.h"

/* Owner of the extension's schema, who owns its tables. */
static Oid
extension_owner(void)
{
	Oid			schema = get_namespace_oid("csv_export", false);
	HeapTuple	tuple = SearchSysCache1(NAMESPACEOID, ObjectIdGetDatum(schema));
	Oid			owner;

	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for schema %u", schema);
	owner = ((Form_pg_namespace) GETSTRUCT(tuple))->nspowner;
	ReleaseSysCache(tuple);
	return owner;
}

void
owner_section_begin(OwnerSection *section)
{
	GetUserIdAndSecContext(&section->saved_user, &section->saved_context);
	SetUserIdAndSecContext(extension_owner(),
						   section->saved_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	section->guc_nest_level = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
}

/*
 * Run one statement of the section.  Returns the first column of its first
 * row, copied out of SPI's memory (*isnull if there is none), for a
 * statement that returns rows.
 */
Datum
owner_section_execute(const char *sql, int nargs, Oid *argtypes, Datum *values,
					  const char *nulls, bool *isnull)
{
	int			result = SPI_execute_with_args(sql, nargs, argtypes, values, nulls, false, 0);
	Datum		first;

	if (result < 0)
		elog(ERROR, "SPI_execute_with_args failed: %s", SPI_result_code_string(result));
	*isnull = true;
	if (SPI_tuptable == NULL || SPI_processed == 0)
		return (Datum) 0;
	first = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, isnull);
	if (*isnull)
		return (Datum) 0;
	return SPI_datumTransfer(first,
							 TupleDescAttr(SPI_tuptable->tupdesc, 0)->attbyval,
							 TupleDescAttr(SPI_tuptable->tupdesc, 0)->attlen);
}

void
owner_section_end(OwnerSection *section)
{
	SPI_finish();
	AtEOXact_GUC(false, section->guc_nest_level);
	SetUserIdAndSecContext(section->saved_user, section->saved_context);
}
