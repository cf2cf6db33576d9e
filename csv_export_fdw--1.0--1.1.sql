/* csv_export_fdw--1.0--1.1.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION csv_export_fdw UPDATE TO '1.1'" to load this file. \quit

/*
 * Version 1.1 is 1.0 with this script applied, for a new installation too
 * (CREATE EXTENSION runs both): one definition of every object, and the
 * update path is what every test installs.
 */

--
-- Internal functions are not for PUBLIC.  Roles that run syncs get what
-- they need from csv_export.grant_sync (see README, "Security model").
--
ALTER FUNCTION csv_export._sync_match(regclass, record) STRICT;

-- NULL sqlstate or message is refused in C; the rest may be NULL
REVOKE ALL ON FUNCTION csv_export._transaction_control_allowed(),
                       csv_export._report(text),
                       csv_export._raise(text, text, text, text, text, text),
                       csv_export._sync_match(regclass, record),
                       csv_export._sync_match_rows(),
                       csv_export._qualified_name(regclass),
                       csv_export._columns(regclass),
                       csv_export._direct_merge_possible(regclass),
                       csv_export._check_sync_arguments(text, boolean),
                       csv_export._sync_statements(regclass, regclass, text, text),
                       csv_export._require_pg_cron()
  FROM PUBLIC;
REVOKE ALL ON PROCEDURE csv_export.sync(regclass, regclass, text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION csv_export.schedule(text, text, regclass, regclass, text, boolean),
                       csv_export.unschedule(text)
  FROM PUBLIC;

-- A role that may read csv_export.rejects sees the rejects of the foreign
-- tables it may read, and no others.  Scans write rejects as the owner of
-- this table, whom the policy does not restrict.
ALTER TABLE csv_export.rejects ENABLE ROW LEVEL SECURITY;
CREATE POLICY rejects_of_readable_tables ON csv_export.rejects FOR SELECT
  USING (pg_catalog.has_table_privilege(foreign_table, 'SELECT'));
GRANT SELECT ON csv_export.rejects TO PUBLIC;

-- what a role needs to run, schedule and unschedule syncs of the tables it
-- may read and write
CREATE FUNCTION csv_export._sync_routines() RETURNS regprocedure[]
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
               'csv_export._require_pg_cron()',
               'csv_export._run_start(regclass,regclass,text)',
               'csv_export._run_claim(bigint)',
               'csv_export._run_finish(bigint,text,text,text,text,text,timestamptz,bigint,bigint,bigint,bigint)'
              ]::regprocedure[]
$$;
REVOKE ALL ON FUNCTION csv_export._sync_routines() FROM PUBLIC;

CREATE FUNCTION csv_export.grant_sync(runner regrole) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  routine regprocedure;
BEGIN
  IF runner IS NULL THEN
    RAISE EXCEPTION 'role must not be null' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  EXECUTE format('GRANT USAGE ON SCHEMA csv_export TO %s', runner);
  FOREACH routine IN ARRAY csv_export._sync_routines() LOOP
    EXECUTE format('GRANT EXECUTE ON ROUTINE %s TO %s', routine, runner);
  END LOOP;
END $$;

CREATE FUNCTION csv_export.revoke_sync(runner regrole) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  routine regprocedure;
BEGIN
  IF runner IS NULL THEN
    RAISE EXCEPTION 'role must not be null' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  FOREACH routine IN ARRAY csv_export._sync_routines() LOOP
    EXECUTE format('REVOKE EXECUTE ON ROUTINE %s FROM %s', routine, runner);
  END LOOP;
END $$;
REVOKE ALL ON FUNCTION csv_export.grant_sync(regrole), csv_export.revoke_sync(regrole) FROM PUBLIC;

--
-- Runs are on record from their start: a run whose backend goes away before
-- it ends is shown as interrupted, and a cancelled run is recorded too.
--
ALTER TABLE csv_export.sync_log
  ALTER COLUMN finished_at DROP NOT NULL,
  ADD COLUMN backend_pid integer,
  ADD COLUMN backend_start timestamptz,
  DROP CONSTRAINT sync_log_status_check,
  ADD CONSTRAINT sync_log_status_check
    CHECK (status IN ('running', 'succeeded', 'failed', 'interrupted'));
ALTER TABLE csv_export.sync_state
  DROP CONSTRAINT sync_state_last_status_check,
  ADD CONSTRAINT sync_state_last_status_check
    CHECK (last_status IN ('succeeded', 'failed', 'interrupted'));

-- the identity sequences go into dumps with their tables' rows, so that a
-- restored database goes on numbering after the restored rows
SELECT pg_catalog.pg_extension_config_dump('csv_export.rejects_reject_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('csv_export.sync_log_run_id_seq', '');

-- whether the backend that recorded a run as running is still there (its
-- start time is compared where the caller may see it); harmless, and
-- needed by whoever reads csv_export.runs
CREATE FUNCTION csv_export._backend_alive(pid integer, started timestamptz) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_stat_activity a
                  WHERE a.pid = $1 AND (a.backend_start IS NULL OR a.backend_start = $2))
$$;

-- one row per run, a run whose backend went away shown as interrupted; the
-- reader's own rights apply, so that it shows the runs of the targets the
-- reader may read
CREATE VIEW csv_export.runs WITH (security_invoker = true) AS
  SELECT l.run_id, l.target, l.source, l.started_at, l.finished_at,
         CASE WHEN l.status = 'running'
                   AND NOT csv_export._backend_alive(l.backend_pid, l.backend_start)
              THEN 'interrupted' ELSE l.status END AS status,
         l.error, l.error_sqlstate, l.cursor_column, l.cursor_before, l.cursor_after,
         l.rows_fetched, l.rows_upserted, l.rows_deleted, l.rows_rejected, l.backend_pid
    FROM csv_export.sync_log l;

/*
 * Change detection compares images, as REFRESH MATERIALIZED VIEW
 * CONCURRENTLY does: 1.0 and 1.00, 0 and -0, 'a' and 'A' under a
 * case-insensitive collation are changes.  An incremental sync re-reads the
 * checkpoint's own value (>=): rows that share it with the last run's
 * newest row may come in a later export, and unchanged ones cost nothing.
 */
CREATE OR REPLACE FUNCTION csv_export._sync_statements(
  source regclass, target regclass, cursor_column text, cursor_before text,
  OUT staging text, OUT merge text, OUT delete_missing text, OUT direct_merge text)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
  src_name   text := csv_export._qualified_name(source);
  tgt_name   text := csv_export._qualified_name(target);
  keys       text[];
  key_list   text;
  copied     text[];
  copied_sql text[];
  cursor_type text;
  missing    text;
  has_synced_at boolean;
  has_deleted   boolean;
  key_match  text;
  updates    text[];
  inserts    text[];
  insert_values text[];
  changed    text;
  where_sql  text := '';
  export_row text;
BEGIN
  SELECT pg_catalog.array_agg(t.name ORDER BY t.name) FILTER (WHERE t.in_key)
    INTO keys FROM csv_export._columns(target) t;
  IF keys IS NULL THEN
    RAISE EXCEPTION 'target table % has no primary key', target
      USING ERRCODE = 'invalid_table_definition',
            HINT = 'csv_export.sync upserts by primary key; add one to the target table.';
  END IF;

  SELECT pg_catalog.string_agg(pg_catalog.quote_ident(k), ', ') INTO missing
    FROM pg_catalog.unnest(keys) k
   WHERE NOT EXISTS (SELECT 1 FROM csv_export._columns(source) s
                      WHERE s.name OPERATOR(pg_catalog.=) k);
  IF missing IS NOT NULL THEN
    RAISE EXCEPTION 'source % lacks key column(s) % of target %', source, missing, target
      USING ERRCODE = 'undefined_column';
  END IF;

  -- columns present in both, by name; _synced_at and _deleted are ours
  SELECT pg_catalog.array_agg(t.name ORDER BY t.name),
         pg_catalog.array_agg(pg_catalog.format('CAST(%I AS %s) AS %I', t.name, t.type, t.name)
                              ORDER BY t.name)
    INTO copied, copied_sql
    FROM csv_export._columns(target) t JOIN csv_export._columns(source) s
           ON s.name OPERATOR(pg_catalog.=) t.name
   WHERE t.name OPERATOR(pg_catalog.<>) ALL (ARRAY['_synced_at', '_deleted']);
  SELECT EXISTS (SELECT 1 FROM csv_export._columns(target) c
                  WHERE c.name OPERATOR(pg_catalog.=) '_synced_at'
                    AND c.type OPERATOR(pg_catalog.=) 'timestamp with time zone'),
         EXISTS (SELECT 1 FROM csv_export._columns(target) c
                  WHERE c.name OPERATOR(pg_catalog.=) '_deleted'
                    AND c.type OPERATOR(pg_catalog.=) 'boolean')
    INTO has_synced_at, has_deleted;

  -- the export row as the target has it; _deleted false, so that a row
  -- soft-deleted in the target counts as changed
  export_row := pg_catalog.format('SELECT %s%s FROM %s', pg_catalog.array_to_string(copied_sql, ', '),
                                  CASE WHEN has_deleted THEN ', false AS _deleted' ELSE '' END,
                                  src_name);

  IF cursor_column IS NOT NULL THEN
    SELECT s.type INTO cursor_type FROM csv_export._columns(source) s
     WHERE s.name OPERATOR(pg_catalog.=) cursor_column;
    IF cursor_type IS NULL THEN
      RAISE EXCEPTION 'cursor column "%" does not exist in source %', cursor_column, source
        USING ERRCODE = 'undefined_column';
    END IF;
    copied_sql := copied_sql OPERATOR(pg_catalog.||)
                  pg_catalog.format('%I AS _csv_export_cursor', cursor_column);
    IF cursor_before IS NOT NULL THEN
      where_sql := pg_catalog.format(' WHERE %I OPERATOR(pg_catalog.>=) CAST(%L AS %s)',
                                     cursor_column, cursor_before, cursor_type);
    END IF;
  END IF;

  -- row_number() over the scan keeps the export's order, so that of two
  -- rows with the same key the later one wins
  staging := pg_catalog.format(
    'CREATE TEMPORARY TABLE csv_export_sync_staging ON COMMIT DROP AS '
    'SELECT pg_catalog.row_number() OVER () AS _csv_export_ord, %s FROM %s%s',
    pg_catalog.array_to_string(copied_sql, ', '), src_name, where_sql);

  SELECT pg_catalog.string_agg(pg_catalog.format('t.%1$I OPERATOR(pg_catalog.=) s.%1$I', k), ' AND '),
         pg_catalog.string_agg(pg_catalog.quote_ident(k), ', ')
    INTO key_match, key_list FROM pg_catalog.unnest(keys) k;
  SELECT pg_catalog.array_agg(pg_catalog.format('%1$I = s.%1$I', c)),
         CASE WHEN pg_catalog.count(*) OPERATOR(pg_catalog.>) 0 THEN
           pg_catalog.format('NOT pg_catalog.record_image_eq(ROW(%s), ROW(%s))',
                             pg_catalog.string_agg('t.' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(c), ', '),
                             pg_catalog.string_agg('s.' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(c), ', '))
         END
    INTO updates, changed
    FROM pg_catalog.unnest(copied) c WHERE c OPERATOR(pg_catalog.<>) ALL (keys);
  SELECT pg_catalog.array_agg(pg_catalog.quote_ident(c)),
         pg_catalog.array_agg('s.' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(c))
    INTO inserts, insert_values FROM pg_catalog.unnest(copied) c;

  IF has_deleted THEN
    -- a row that comes back after a soft delete is live again
    changed := pg_catalog.concat_ws(' OR ', changed, 't._deleted IS NOT FALSE');
    updates := updates OPERATOR(pg_catalog.||) '_deleted = false'::text;
    inserts := inserts OPERATOR(pg_catalog.||) '_deleted'::text;
    insert_values := insert_values OPERATOR(pg_catalog.||) 'false'::text;
  END IF;
  IF has_synced_at THEN
    updates := updates OPERATOR(pg_catalog.||) '_synced_at = $1'::text;
    inserts := inserts OPERATOR(pg_catalog.||) '_synced_at'::text;
    insert_values := insert_values OPERATOR(pg_catalog.||) '$1'::text;
  END IF;

  merge := pg_catalog.format(
    'MERGE INTO %s t USING (SELECT DISTINCT ON (%s) * FROM pg_temp.csv_export_sync_staging '
    'ORDER BY %s, _csv_export_ord DESC) s ON %s',
    tgt_name, key_list, key_list, key_match);
  IF changed IS NOT NULL THEN
    merge := merge OPERATOR(pg_catalog.||) pg_catalog.format(
      ' WHEN MATCHED AND (%s) THEN UPDATE SET %s', changed, pg_catalog.array_to_string(updates, ', '));
  END IF;
  merge := merge OPERATOR(pg_catalog.||) pg_catalog.format(
    ' WHEN NOT MATCHED THEN INSERT (%s) VALUES (%s)',
    pg_catalog.array_to_string(inserts, ', '), pg_catalog.array_to_string(insert_values, ', '));

  -- _sync_match passes on only new and changed rows, the changed ones with
  -- the ctid of the target row to update
  direct_merge := pg_catalog.format(
    'MERGE INTO %s t USING (SELECT * FROM (SELECT r.*, csv_export._sync_match(%s::pg_catalog.regclass, r) AS _csv_export_tid '
    'FROM (%s) r) m WHERE _csv_export_tid IS NULL '
    'OR _csv_export_tid OPERATOR(pg_catalog.<>) ''(0,0)''::pg_catalog.tid) s '
    'ON t.ctid OPERATOR(pg_catalog.=) s._csv_export_tid',
    tgt_name, target::oid, export_row);
  IF updates IS NOT NULL THEN
    direct_merge := direct_merge OPERATOR(pg_catalog.||) pg_catalog.format(
      ' WHEN MATCHED THEN UPDATE SET %s', pg_catalog.array_to_string(updates, ', '));
  END IF;
  direct_merge := direct_merge OPERATOR(pg_catalog.||) pg_catalog.format(
    ' WHEN NOT MATCHED THEN INSERT (%s) VALUES (%s)',
    pg_catalog.array_to_string(inserts, ', '), pg_catalog.array_to_string(insert_values, ', '));

  delete_missing := pg_catalog.format(
    'NOT EXISTS (SELECT 1 FROM pg_temp.csv_export_sync_staging s WHERE %s)', key_match);
  IF has_deleted THEN
    delete_missing := pg_catalog.format(
      'UPDATE %s t SET _deleted = true%s WHERE t._deleted IS NOT TRUE AND %s',
      tgt_name, CASE WHEN has_synced_at THEN ', _synced_at = $1' ELSE '' END, delete_missing);
  ELSE
    delete_missing := pg_catalog.format('DELETE FROM %s t WHERE %s', tgt_name, delete_missing);
  END IF;
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
  hashjoin_setting  text := pg_catalog.current_setting('enable_hashjoin');
  mergejoin_setting text := pg_catalog.current_setting('enable_mergejoin');
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
        -- each row's target is known by ctid: TID lookups are the best join
        -- whatever the export's estimated size
        PERFORM pg_catalog.set_config('enable_hashjoin', 'off', true),
                pg_catalog.set_config('enable_mergejoin', 'off', true);
        EXECUTE statements.direct_merge USING started_at;
        GET DIAGNOSTICS upserted = ROW_COUNT;
        fetched := csv_export._sync_match_rows();
        PERFORM pg_catalog.set_config('enable_hashjoin', hashjoin_setting, true),
                pg_catalog.set_config('enable_mergejoin', mergejoin_setting, true);
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


/*
 * The state and log of syncs: written only by their owner, on behalf of a
 * caller who may write the target (src/sync_state.c), and readable by
 * anyone (with USAGE on the schema) for the targets they may read.
 */
CREATE FUNCTION csv_export._run_start(source regclass, target regclass, cursor_column text)
RETURNS bigint AS 'MODULE_PATHNAME', 'csv_export_run_start' LANGUAGE C VOLATILE;
CREATE FUNCTION csv_export._run_claim(run_id bigint)
RETURNS text AS 'MODULE_PATHNAME', 'csv_export_run_claim' LANGUAGE C VOLATILE;
CREATE FUNCTION csv_export._run_finish(run_id bigint, status text, error text, sqlstate text,
                                       cursor_before text, cursor_after text,
                                       started_at timestamptz, fetched bigint, upserted bigint,
                                       deleted bigint, rejected bigint)
RETURNS void AS 'MODULE_PATHNAME', 'csv_export_run_finish' LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION csv_export._run_start(regclass, regclass, text),
                       csv_export._run_claim(bigint),
                       csv_export._run_finish(bigint, text, text, text, text, text, timestamptz,
                                              bigint, bigint, bigint, bigint)
  FROM PUBLIC;

ALTER TABLE csv_export.sync_state ENABLE ROW LEVEL SECURITY;
ALTER TABLE csv_export.sync_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY state_of_readable_targets ON csv_export.sync_state FOR SELECT
  USING (pg_catalog.has_table_privilege(target, 'SELECT'));
CREATE POLICY runs_of_readable_targets ON csv_export.sync_log FOR SELECT
  USING (pg_catalog.has_table_privilege(target, 'SELECT'));
GRANT SELECT ON csv_export.sync_state, csv_export.sync_log, csv_export.runs TO PUBLIC;

-- every function pins its search_path (the procedure, which commits,
-- cannot: it qualifies everything instead)
ALTER FUNCTION csv_export._qualified_name(regclass) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION csv_export._columns(regclass) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION csv_export._direct_merge_possible(regclass) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION csv_export._check_sync_arguments(text, boolean) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION csv_export._require_pg_cron() SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION csv_export.schedule(text, text, regclass, regclass, text, boolean)
  SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION csv_export.unschedule(text) SET search_path = pg_catalog, pg_temp;
