/*
 * sync_state.c
 *		The state and log of syncs, written only on behalf of a caller who
 *		may write the sync's target.
 *
 * csv_export.sync records a run in three steps: _run_start (the run is on
 * record, as running, before it waits for the target), _run_claim (once it
 * holds the target: runs whose backend went away are marked interrupted,
 * the target's state row is locked and its checkpoint read) and _run_finish
 * (its outcome, with the data).  No role but the extension's owner may
 * write csv_export.sync_state or csv_export.sync_log: these functions check
 * the caller's privileges on the target before anything is written or
 * locked, and then write as the owner (privileged.c).
 *
 * A run is claimed and finished only by the backend that started it: the
 * log row names the backend (pid and start time), so a role cannot finish
 * another session's run, and a run it started is one it was allowed to.
 *
 * The log does not grow for ever: a run, when it finishes, trims its
 * target's log and its source's rejects (see trim_log), without a job of
 * its own to schedule.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include <limits.h>

#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "csv_export_fdw.h"
#include "privileged.h"
#include "sync_state.h"

PG_FUNCTION_INFO_V1(csv_export_run_start);
PG_FUNCTION_INFO_V1(csv_export_run_claim);
PG_FUNCTION_INFO_V1(csv_export_run_finish);
PG_FUNCTION_INFO_V1(csv_export_run_note_export);

/* what the log and the rejects keep; 0: no limit */
static int	log_retention_days = 30;
static int	log_retention_runs = 1000;

/*
 * Superuser settings: a role that may run syncs must not be able to erase
 * the history of a target by a setting of its session.
 */
void
sync_state_define_gucs(void)
{
	DefineCustomIntVariable("csv_export_fdw.log_retention_days",
							"Days that csv_export.sync_log and csv_export.rejects keep a sync's rows.",
							"A sync, when it finishes, deletes older runs of its target and "
							"older rejects of its source. 0 keeps them.",
							&log_retention_days, 30, 0, 36500, PGC_SUSET, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("csv_export_fdw.log_retention_runs",
							"Runs of each target that csv_export.sync_log keeps.",
							"A sync, when it finishes, deletes the runs of its target beyond "
							"this many of the newest. 0 keeps them all.",
							&log_retention_runs, 1000, 0, INT_MAX, PGC_SUSET, 0,
							NULL, NULL, NULL);
}

/* The caller may insert and update the target: a sync writes it so. */
static void
require_target_writable(Oid target)
{
	Oid			user = GetUserId();

	if (pg_class_aclcheck(target, user, ACL_INSERT) != ACLCHECK_OK ||
		pg_class_aclcheck(target, user, ACL_UPDATE) != ACLCHECK_OK)
	{
		char	   *name = get_rel_name(target);

		aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_TABLE, name ? name : "?");
	}
}

static void
require_arguments(FunctionCallInfo fcinfo, int nargs)
{
	int			i;

	for (i = 0; i < nargs; i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("argument %d of an internal csv_export function must not be null",
							i + 1)));
}

/* the function's first nargs arguments, as SPI takes a statement's */
static void
statement_arguments(FunctionCallInfo fcinfo, int nargs, Datum *values, char *nulls)
{
	int			i;

	for (i = 0; i < nargs; i++)
	{
		values[i] = PG_ARGISNULL(i) ? (Datum) 0 : PG_GETARG_DATUM(i);
		nulls[i] = PG_ARGISNULL(i) ? 'n' : ' ';
	}
}

/*
 * _run_start(source, target, cursor_column) -> run_id: the run, on record
 * as running in this backend.
 */
Datum
csv_export_run_start(PG_FUNCTION_ARGS)
{
	Oid			argtypes[4] = {REGCLASSOID, REGCLASSOID, TEXTOID, TIMESTAMPTZOID};
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	OwnerSection section;
	Datum		run_id;
	bool		isnull;

	require_arguments(fcinfo, 2);
	require_target_writable(PG_GETARG_OID(1));
	values[0] = PG_GETARG_DATUM(1);	/* target */
	values[1] = PG_GETARG_DATUM(0);	/* source */
	values[2] = PG_ARGISNULL(2) ? (Datum) 0 : PG_GETARG_DATUM(2);
	nulls[2] = PG_ARGISNULL(2) ? 'n' : ' ';
	values[3] = TimestampTzGetDatum(MyStartTimestamp);

	owner_section_begin(&section);
	run_id = owner_section_execute(
		"INSERT INTO csv_export.sync_log (target, source, started_at, status, cursor_column,"
		" backend_pid, backend_start)"
		" VALUES ($1, $2, pg_catalog.clock_timestamp(), 'running', $3,"
		" pg_catalog.pg_backend_pid(), $4) RETURNING run_id",
		4, argtypes, values, nulls, &isnull);
	owner_section_end(&section);
	PG_RETURN_DATUM(run_id);
}

/*
 * The target of a running run of this backend, whose target the caller may
 * write; an ERROR for any other run.
 */
static Oid
own_run_target(int64 run_id)
{
	Oid			argtypes[2] = {INT8OID, TIMESTAMPTZOID};
	Datum		values[2] = {Int64GetDatum(run_id), TimestampTzGetDatum(MyStartTimestamp)};
	OwnerSection section;
	Datum		target;
	bool		isnull;

	owner_section_begin(&section);
	target = owner_section_execute(
		"SELECT target FROM csv_export.sync_log"
		" WHERE run_id OPERATOR(pg_catalog.=) $1 AND status OPERATOR(pg_catalog.=) 'running'"
		" AND backend_pid OPERATOR(pg_catalog.=) pg_catalog.pg_backend_pid()"
		" AND backend_start OPERATOR(pg_catalog.=) $2",
		2, argtypes, values, NULL, &isnull);
	owner_section_end(&section);
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("run " INT64_FORMAT " is not a running sync of this session", run_id)));
	require_target_writable(DatumGetObjectId(target));
	return DatumGetObjectId(target);
}

/* the state row of the run's target, if it has none yet; in an owner section */
static void
make_state_row(Datum run_id)
{
	Oid			argtype = INT8OID;
	bool		isnull;

	(void) owner_section_execute(
		"INSERT INTO csv_export.sync_state (target, source)"
		" SELECT target, source FROM csv_export.sync_log WHERE run_id OPERATOR(pg_catalog.=) $1"
		" ON CONFLICT DO NOTHING",
		1, &argtype, &run_id, NULL, &isnull);
}

/*
 * _run_claim(run_id) -> cursor_before, once the run holds the target's
 * lock: earlier runs of the target whose backend went away are marked
 * interrupted, the target's state row is made and locked until the run
 * commits, and the checkpoint is returned if it belongs to the run's cursor
 * column.
 */
Datum
csv_export_run_claim(PG_FUNCTION_ARGS)
{
	Oid			argtypes[2] = {INT8OID, REGCLASSOID};
	Datum		values[2];
	OwnerSection section;
	Datum		cursor;
	bool		isnull;

	require_arguments(fcinfo, 1);
	values[0] = PG_GETARG_DATUM(0);
	values[1] = ObjectIdGetDatum(own_run_target(PG_GETARG_INT64(0)));

	owner_section_begin(&section);
	(void) owner_section_execute(
		"UPDATE csv_export.sync_log l SET status = 'interrupted',"
		" finished_at = pg_catalog.clock_timestamp(),"
		" error = 'the backend running the sync ended before the run did'"
		" WHERE l.target OPERATOR(pg_catalog.=) $2 AND l.status OPERATOR(pg_catalog.=) 'running'"
		" AND l.run_id OPERATOR(pg_catalog.<>) $1"
		" AND NOT csv_export._backend_alive(l.backend_pid, l.backend_start)",
		2, argtypes, values, NULL, &isnull);
	make_state_row(values[0]);
	cursor = owner_section_execute(
		"SELECT CASE WHEN s.cursor_column OPERATOR(pg_catalog.=) l.cursor_column"
		" THEN s.cursor_value END"
		" FROM csv_export.sync_state s, csv_export.sync_log l"
		" WHERE l.run_id OPERATOR(pg_catalog.=) $1 AND s.target OPERATOR(pg_catalog.=) l.target"
		" FOR UPDATE OF s",
		1, argtypes, values, NULL, &isnull);
	owner_section_end(&section);
	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(cursor);
}

/*
 * A finished run's target keeps the runs of the last log_retention_days
 * and, of those, the newest log_retention_runs; its source keeps the
 * rejects of the last log_retention_days.  Runs still going are kept.
 */
static void
trim_log(Datum run_id)
{
	Oid			argtypes[3] = {INT8OID, INT4OID, INT4OID};
	Datum		values[3] = {run_id, Int32GetDatum(log_retention_days),
	Int32GetDatum(log_retention_runs)};
	bool		isnull;

	(void) owner_section_execute(
		"WITH run AS (SELECT target, source, pg_catalog.clock_timestamp()"
		"               OPERATOR(pg_catalog.-) pg_catalog.make_interval(days => $2) AS horizon"
		"               FROM csv_export.sync_log WHERE run_id OPERATOR(pg_catalog.=) $1),"
		" old_runs AS ("
		"  DELETE FROM csv_export.sync_log l USING run"
		"   WHERE l.target OPERATOR(pg_catalog.=) run.target"
		"     AND l.status OPERATOR(pg_catalog.<>) 'running'"
		"     AND l.run_id OPERATOR(pg_catalog.<>) $1"
		"     AND (($2 OPERATOR(pg_catalog.>) 0 AND l.finished_at OPERATOR(pg_catalog.<) run.horizon)"
		"          OR ($3 OPERATOR(pg_catalog.>) 0 AND l.run_id OPERATOR(pg_catalog.<=)"
		"              (SELECT o.run_id FROM csv_export.sync_log o"
		"                WHERE o.target OPERATOR(pg_catalog.=) run.target"
		"                ORDER BY o.run_id DESC OFFSET $3 LIMIT 1))))"
		" DELETE FROM csv_export.rejects r USING run"
		"  WHERE $2 OPERATOR(pg_catalog.>) 0 AND r.foreign_table OPERATOR(pg_catalog.=) run.source"
		"    AND r.rejected_at OPERATOR(pg_catalog.<) run.horizon",
		3, argtypes, values, NULL, &isnull);
}

/*
 * _run_finish(run_id, status, error, sqlstate, cursor_before, cursor_after,
 * started_at, fetched, upserted, deleted, rejected[, late]): the run's outcome in
 * its log row and in the target's state; the checkpoint moves only with a
 * run that succeeded, and a skipped run leaves the state alone.
 */
Datum
csv_export_run_finish(PG_FUNCTION_ARGS)
{
	Oid			argtypes[12] = {INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
	TIMESTAMPTZOID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID};
	Datum		values[12];
	char		nulls[12];
	/* 1.2's scripts pass no rows_late, and their sync_log has no such column */
	int			nargs = Min(PG_NARGS(), 12);
	OwnerSection section;
	bool		isnull;

	require_arguments(fcinfo, 2);
	(void) own_run_target(PG_GETARG_INT64(0));
	statement_arguments(fcinfo, nargs, values, nulls);

	owner_section_begin(&section);
	/* a run can fail before it claimed the target (while it waited for it) */
	if (strcmp(TextDatumGetCString(values[1]), "skipped") != 0)
		make_state_row(values[0]);
	(void) owner_section_execute(psprintf(
		"WITH run AS ("
		"  UPDATE csv_export.sync_log l"
		"     SET started_at = coalesce($7, l.started_at),"
		"         finished_at = pg_catalog.clock_timestamp(), status = $2, error = $3,"
		"         error_sqlstate = $4, cursor_before = $5, cursor_after = $6,"
		"         rows_fetched = $8, rows_upserted = $9, rows_deleted = $10, rows_rejected = $11%s"
		"   WHERE l.run_id OPERATOR(pg_catalog.=) $1"
		"  RETURNING l.*)"
		" UPDATE csv_export.sync_state s"
		"    SET source = run.source,"
		"        cursor_column = CASE WHEN run.status OPERATOR(pg_catalog.=) 'succeeded'"
		"                             THEN coalesce(run.cursor_column, s.cursor_column)"
		"                             ELSE s.cursor_column END,"
		"        cursor_value = CASE WHEN run.status OPERATOR(pg_catalog.=) 'succeeded'"
		"                             AND run.cursor_column IS NOT NULL"
		"                            THEN run.cursor_after ELSE s.cursor_value END,"
		"        last_started_at = run.started_at, last_finished_at = run.finished_at,"
		"        last_status = run.status, last_error = run.error,"
		"        last_rows_upserted = coalesce(run.rows_upserted, 0),"
		"        last_rows_deleted = coalesce(run.rows_deleted, 0),"
		"        last_rows_rejected = coalesce(run.rows_rejected, 0),"
		"        runs = s.runs OPERATOR(pg_catalog.+) 1"
		"   FROM run WHERE s.target OPERATOR(pg_catalog.=) run.target"
		"    AND run.status OPERATOR(pg_catalog.<>) 'skipped'",
		nargs > 11 ? ", rows_late = $12" : ""),
		nargs, argtypes, values, nulls, &isnull);
	trim_log(values[0]);
	owner_section_end(&section);
	PG_RETURN_VOID();
}

/*
 * _run_note_export(run_id, etag, last_modified, body_sha256): what the
 * run's export was (skip_unchanged), in its target's state, for the next
 * run to send and compare.  In the run's transaction: it goes if the run
 * fails.
 */
Datum
csv_export_run_note_export(PG_FUNCTION_ARGS)
{
	Oid			argtypes[4] = {INT8OID, TEXTOID, TEXTOID, BYTEAOID};
	Datum		values[4];
	char		nulls[4];
	OwnerSection section;
	bool		isnull;

	require_arguments(fcinfo, 1);
	(void) own_run_target(PG_GETARG_INT64(0));
	statement_arguments(fcinfo, 4, values, nulls);
	owner_section_begin(&section);
	(void) owner_section_execute(
		"UPDATE csv_export.sync_state s"
		"   SET export_etag = $2, export_last_modified = $3, export_sha256 = $4"
		"  FROM csv_export.sync_log l"
		" WHERE l.run_id OPERATOR(pg_catalog.=) $1 AND s.target OPERATOR(pg_catalog.=) l.target",
		4, argtypes, values, nulls, &isnull);
	owner_section_end(&section);
	PG_RETURN_VOID();
}
