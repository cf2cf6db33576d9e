/* csv_export_fdw--1.1--1.2.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION csv_export_fdw UPDATE TO '1.2'" to load this file. \quit

/*
 * The direct MERGE of a full sync finds each export row's target row by
 * ctid (csv_export._sync_match), so a TID scan is the only join that keeps
 * the sync linear.  Under 1.1 the planner, told by statistics that the
 * target was empty (an empty table after VACUUM or ANALYZE), scanned the
 * whole target for every export row instead: the rows this MERGE had
 * inserted, again and again.  The planner settings are now attributes of
 * the function that runs the MERGE, restored when it returns or fails.
 */
CREATE FUNCTION csv_export._merge_directly(statement text, synced_at timestamptz)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
AS $$
DECLARE
  merged bigint;
BEGIN
  EXECUTE statement USING synced_at;
  GET DIAGNOSTICS merged = ROW_COUNT;
  RETURN merged;
END $$;
REVOKE ALL ON FUNCTION csv_export._merge_directly(text, timestamptz) FROM PUBLIC;

CREATE OR REPLACE FUNCTION csv_export._sync_routines() RETURNS regprocedure[]
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT ARRAY['csv_export.sync(regclass,regclass,text,boolean)',
               'csv_export.schedule(text,text,regclass,regclass,text,boolean)',
               'csv_export.unschedule(text)',
               'csv_export._transaction_control_allowed()',
               'csv_export._report(text)',
               'csv_export._raise(text,text,text,text,text,text)',
               'csv_export._sync_match(regclass,record)',
               'csv_export._sync_match_rows()',
               'csv_export._qualified_name(regclass)',
               'csv_export._columns(regclass)',
               'csv_export._direct_merge_possible(regclass)',
               'csv_export._check_sync_arguments(text,boolean)',
               'csv_export._sync_statements(regclass,regclass,text,text)',
               'csv_export._merge_directly(text,timestamptz)',
               'csv_export._require_pg_cron()',
               'csv_export._run_start(regclass,regclass,text)',
               'csv_export._run_claim(bigint)',
               'csv_export._run_finish(bigint,text,text,text,text,text,timestamptz,bigint,bigint,bigint,bigint)'
              ]::regprocedure[]
$$;

-- roles that could run syncs under 1.1 can still run them
DO $$
DECLARE
  runner regrole;
BEGIN
  FOR runner IN
    SELECT a.grantee::regrole
      FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a
     WHERE p.oid = 'csv_export.sync(regclass,regclass,text,boolean)'::pg_catalog.regprocedure
       AND a.privilege_type = 'EXECUTE' AND a.grantee <> 0 AND a.grantee <> p.proowner
  LOOP
    EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION csv_export._merge_directly(text, timestamptz) TO %s',
                              runner);
  END LOOP;
END $$;

/*
 * A procedure that commits cannot pin its search_path with SET: every
 * function, operator and table in it is schema-qualified instead.
 */
CREATE OR REPLACE PROCEDURE csv_export.sync(source regclass, target regclass,
                                            cursor_column text DEFAULT NULL,
                                            delete_missing boolean DEFAULT false)
LANGUAGE plpgsql AS $$
#variable_conflict use_variable
DECLARE
  can_commit    boolean := csv_export._transaction_control_allowed();
  this_run      bigint;
  started_at    timestamptz;
  statements    record;
  cursor_before text;
  cursor_after  text;
  fetched       bigint;
  upserted      bigint := 0;
  deleted       bigint := 0;
  rejected      bigint := 0;
  run_status    text;
  err_sqlstate  text;
  err_message   text;
  err_detail    text;
  err_hint      text;
  err_context   text;
  staged        boolean;
BEGIN
  PERFORM csv_export._check_sync_arguments(cursor_column, delete_missing);

  -- on record before it starts (and only for a caller who may write the
  -- target): a run whose backend goes away stays 'running', and
  -- csv_export.runs shows it as interrupted
  this_run := csv_export._run_start(source, target, cursor_column);
  IF can_commit THEN
    COMMIT;
  END IF;

  -- one sync per target at a time: held until this run's data and
  -- checkpoint commit, or its failure is recorded
  PERFORM pg_catalog.pg_advisory_xact_lock(1668511862, target::oid::integer);
  started_at := pg_catalog.clock_timestamp();
  cursor_before := csv_export._run_claim(this_run);

  BEGIN
    PERFORM csv_export._report(pg_catalog.format('fetching %s into %s%s', source, target,
      CASE WHEN cursor_before IS NOT NULL
           THEN pg_catalog.format(' (rows with %I >= %s)', cursor_column, cursor_before)
           WHEN cursor_column IS NOT NULL THEN ' (all rows: no cursor yet)' ELSE '' END));
    statements := csv_export._sync_statements(source, target, cursor_column, cursor_before);
    -- a cursor needs the export's largest value and delete_missing its keys:
    -- those syncs, and an export with repeated keys, go through staging
    staged := cursor_column IS NOT NULL OR delete_missing
              OR NOT csv_export._direct_merge_possible(target);
    IF NOT staged THEN
      BEGIN
        PERFORM csv_export._sync_match_rows();
        upserted := csv_export._merge_directly(statements.direct_merge, started_at);
        fetched := csv_export._sync_match_rows();
      EXCEPTION WHEN cardinality_violation THEN  -- from _sync_match alone
        GET STACKED DIAGNOSTICS err_message = MESSAGE_TEXT;
        PERFORM csv_export._report(pg_catalog.format(
          '%s: staging it, so that the last row of each key wins', err_message));
        err_message := NULL;
        staged := true;
      END;
    END IF;

    IF staged THEN
      IF pg_catalog.to_regclass('pg_temp.csv_export_sync_staging') IS NOT NULL THEN
        DROP TABLE pg_temp.csv_export_sync_staging;  -- an earlier sync in this transaction
      END IF;
      EXECUTE statements.staging;
      GET DIAGNOSTICS fetched = ROW_COUNT;
      IF cursor_column IS NOT NULL THEN
        EXECUTE 'SELECT pg_catalog.to_jsonb(pg_catalog.max(_csv_export_cursor)) '
                'OPERATOR(pg_catalog.#>>) ''{}'' FROM pg_temp.csv_export_sync_staging'
          INTO cursor_after;
      END IF;
      EXECUTE statements.merge USING started_at;
      GET DIAGNOSTICS upserted = ROW_COUNT;
    END IF;
    cursor_after := coalesce(cursor_after, cursor_before);
    -- rows the scan skipped (on_error 'skip') in this run
    SELECT pg_catalog.count(*) INTO rejected FROM csv_export.rejects r
     WHERE r.foreign_table OPERATOR(pg_catalog.=) sync.source
       AND r.rejected_at OPERATOR(pg_catalog.>=) started_at
       AND r.transaction_id OPERATOR(pg_catalog.=) pg_catalog.pg_current_xact_id();
    PERFORM csv_export._report(pg_catalog.format('%s rows fetched, %s upserted%s', fetched, upserted,
      CASE WHEN rejected OPERATOR(pg_catalog.>) 0
           THEN pg_catalog.format(', %s rejected', rejected) ELSE '' END));

    IF delete_missing AND fetched OPERATOR(pg_catalog.=) 0 THEN
      RAISE WARNING 'export % has no rows; nothing was deleted from %', source, target
        USING DETAIL = 'An empty export is more likely an API hiccup than every row deleted.';
    ELSIF delete_missing THEN
      EXECUTE statements.delete_missing USING started_at;
      GET DIAGNOSTICS deleted = ROW_COUNT;
      PERFORM csv_export._report(pg_catalog.format('%s rows deleted', deleted));
    END IF;

    -- the checkpoint commits together with the data
    PERFORM csv_export._run_finish(this_run, 'succeeded', NULL, NULL, cursor_before,
                                   cursor_after, started_at, fetched, upserted, deleted,
                                   rejected);
    PERFORM csv_export._report(pg_catalog.format('checkpoint saved%s',
      CASE WHEN cursor_column IS NOT NULL
           THEN pg_catalog.format(' (cursor %s)', coalesce(cursor_after, 'unset'))
           ELSE '' END));
  EXCEPTION WHEN OTHERS OR query_canceled THEN
    -- everything the block did is undone; keep the error to record it.
    -- A cancel or statement_timeout is caught too, to be recorded.
    GET STACKED DIAGNOSTICS err_sqlstate = RETURNED_SQLSTATE, err_message = MESSAGE_TEXT,
                            err_detail = PG_EXCEPTION_DETAIL, err_hint = PG_EXCEPTION_HINT,
                            err_context = PG_EXCEPTION_CONTEXT;
  END;

  IF err_sqlstate IS NULL THEN
    RETURN;
  END IF;

  run_status := CASE WHEN err_sqlstate OPERATOR(pg_catalog.=) '57014' THEN 'interrupted'
                     ELSE 'failed' END;
  PERFORM csv_export._run_finish(this_run, run_status, err_message, err_sqlstate, cursor_before,
                                 cursor_before, started_at, NULL, 0, 0, NULL);
  -- record the failure for good, then fail the CALL, so that a scheduler
  -- sees the run fail; inside a transaction block the record goes with it
  IF can_commit THEN
    COMMIT;
  END IF;
  -- (PL/pgSQL gives an empty string for a missing part)
  PERFORM csv_export._raise(err_sqlstate, err_message,
                            CASE WHEN err_detail OPERATOR(pg_catalog.<>) '' THEN err_detail END,
                            CASE WHEN err_hint OPERATOR(pg_catalog.<>) '' THEN err_hint END,
                            CASE WHEN err_context OPERATOR(pg_catalog.<>) '' THEN err_context END,
                            pg_catalog.format('csv_export.sync of %s into %s', source, target));
END $$;
