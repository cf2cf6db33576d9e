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


-- the conditions of the direct MERGE in one place, with _sync_match's own
CREATE OR REPLACE FUNCTION csv_export._direct_merge_possible(target regclass) RETURNS boolean
AS 'MODULE_PATHNAME', 'csv_export_direct_merge_possible'
LANGUAGE C STABLE STRICT SET search_path = pg_catalog, pg_temp;

/*
 * csv_export._sync_statements, in named steps: the shape of the sync (keys,
 * shared columns, the target's own columns), what a write sets, and the
 * statements made of them.  They pin search_path, as 1.1's did, and their
 * errors name tables schema-qualified; _apply_export, whose WARNING the
 * procedure used to give, runs on the caller's search_path like the
 * procedure, qualifying everything, so that its names read as before.
 */
CREATE FUNCTION csv_export._sync_shape(
  source regclass, target regclass, cursor_column text,
  OUT keys text[], OUT copied text[], OUT casts text[], OUT cursor_type text,
  OUT has_synced_at boolean, OUT has_deleted boolean)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
  missing text;
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
    INTO copied, casts
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

  IF cursor_column IS NOT NULL THEN
    SELECT s.type INTO cursor_type FROM csv_export._columns(source) s
     WHERE s.name OPERATOR(pg_catalog.=) cursor_column;
    IF cursor_type IS NULL THEN
      RAISE EXCEPTION 'cursor column "%" does not exist in source %', cursor_column, source
        USING ERRCODE = 'undefined_column';
    END IF;
  END IF;
END $$;

/*
 * What MERGE's UPDATE sets and INSERT writes (s is the export row, t the
 * target's), and when a target row counts as changed: by image, as
 * REFRESH MATERIALIZED VIEW CONCURRENTLY compares.  A row that comes back
 * after a soft delete is live again; _synced_at is $1.
 */
CREATE FUNCTION csv_export._sync_assignments(
  copied text[], keys text[], has_deleted boolean, has_synced_at boolean,
  OUT updates text[], OUT inserts text[], OUT insert_values text[], OUT changed text)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  SELECT array_agg(format('%1$I = s.%1$I', c)),
         CASE WHEN count(*) > 0 THEN
           format('NOT pg_catalog.record_image_eq(ROW(%s), ROW(%s))',
                  string_agg('t.' || quote_ident(c), ', '), string_agg('s.' || quote_ident(c), ', '))
         END
    INTO updates, changed
    FROM unnest(copied) c WHERE c <> ALL (keys);
  SELECT array_agg(quote_ident(c)), array_agg('s.' || quote_ident(c))
    INTO inserts, insert_values FROM unnest(copied) c;
  IF has_deleted THEN
    changed := concat_ws(' OR ', changed, 't._deleted IS NOT FALSE');
    updates := updates || '_deleted = false'::text;
    inserts := inserts || '_deleted'::text;
    insert_values := insert_values || 'false'::text;
  END IF;
  IF has_synced_at THEN
    updates := updates || '_synced_at = $1'::text;
    inserts := inserts || '_synced_at'::text;
    insert_values := insert_values || '$1'::text;
  END IF;
END $$;

/*
 * The statements of a sync: staging (fetch the export once, into a
 * temporary table, numbered in export order so that the last row of a
 * key wins), merge (from staging), delete_missing (hard or soft delete of
 * keys absent from staging), and direct_merge (staging and merge in one
 * pass, for a full sync: _sync_match passes on only new and changed rows,
 * the changed ones with the ctid of the target row to update).  An
 * incremental sync re-reads the checkpoint's own value (>=).
 */
CREATE OR REPLACE FUNCTION csv_export._sync_statements(
  source regclass, target regclass, cursor_column text, cursor_before text,
  OUT staging text, OUT merge text, OUT delete_missing text, OUT direct_merge text)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
  src_name  text := csv_export._qualified_name(source);
  tgt_name  text := csv_export._qualified_name(target);
  shape     record := csv_export._sync_shape(source, target, cursor_column);
  writes    record := csv_export._sync_assignments(shape.copied, shape.keys,
                                                   shape.has_deleted, shape.has_synced_at);
  casts     text[] := shape.casts;
  where_sql text := '';
  key_match text;
  key_list  text;
  on_write  text;
BEGIN
  SELECT pg_catalog.string_agg(pg_catalog.format('t.%1$I OPERATOR(pg_catalog.=) s.%1$I', k), ' AND '),
         pg_catalog.string_agg(pg_catalog.quote_ident(k), ', ')
    INTO key_match, key_list FROM pg_catalog.unnest(shape.keys) k;
  on_write := pg_catalog.format(' WHEN NOT MATCHED THEN INSERT (%s) VALUES (%s)',
                                pg_catalog.array_to_string(writes.inserts, ', '),
                                pg_catalog.array_to_string(writes.insert_values, ', '));

  -- _deleted false in the export row, so that a soft-deleted row counts as changed
  direct_merge := pg_catalog.concat(pg_catalog.format(
    'MERGE INTO %s t USING (SELECT * FROM (SELECT r.*, csv_export._sync_match(%s::pg_catalog.regclass, r) AS _csv_export_tid '
    'FROM (SELECT %s%s FROM %s) r) m WHERE _csv_export_tid IS NULL '
    'OR _csv_export_tid OPERATOR(pg_catalog.<>) ''(0,0)''::pg_catalog.tid) s '
    'ON t.ctid OPERATOR(pg_catalog.=) s._csv_export_tid',
    tgt_name, target::oid, pg_catalog.array_to_string(casts, ', '),
    CASE WHEN shape.has_deleted THEN ', false AS _deleted' ELSE '' END, src_name),
    CASE WHEN writes.updates IS NOT NULL
         THEN pg_catalog.format(' WHEN MATCHED THEN UPDATE SET %s',
                                pg_catalog.array_to_string(writes.updates, ', '))
    END,
    on_write);

  IF cursor_column IS NOT NULL THEN
    casts := pg_catalog.array_append(casts, pg_catalog.format('%I AS _csv_export_cursor', cursor_column));
    IF cursor_before IS NOT NULL THEN
      where_sql := pg_catalog.format(' WHERE %I OPERATOR(pg_catalog.>=) CAST(%L AS %s)',
                                     cursor_column, cursor_before, shape.cursor_type);
    END IF;
  END IF;
  staging := pg_catalog.format(
    'CREATE TEMPORARY TABLE csv_export_sync_staging ON COMMIT DROP AS '
    'SELECT pg_catalog.row_number() OVER () AS _csv_export_ord, %s FROM %s%s',
    pg_catalog.array_to_string(casts, ', '), src_name, where_sql);
  merge := pg_catalog.concat(pg_catalog.format(
    'MERGE INTO %s t USING (SELECT DISTINCT ON (%s) * FROM pg_temp.csv_export_sync_staging '
    'ORDER BY %s, _csv_export_ord DESC) s ON %s',
    tgt_name, key_list, key_list, key_match),
    CASE WHEN writes.changed IS NOT NULL
         THEN pg_catalog.format(' WHEN MATCHED AND (%s) THEN UPDATE SET %s',
                                writes.changed, pg_catalog.array_to_string(writes.updates, ', '))
    END,
    on_write);

  delete_missing := pg_catalog.format(
    'NOT EXISTS (SELECT 1 FROM pg_temp.csv_export_sync_staging s WHERE %s)', key_match);
  IF shape.has_deleted THEN
    delete_missing := pg_catalog.format(
      'UPDATE %s t SET _deleted = true%s WHERE t._deleted IS NOT TRUE AND %s',
      tgt_name, CASE WHEN shape.has_synced_at THEN ', _synced_at = $1' ELSE '' END, delete_missing);
  ELSE
    delete_missing := pg_catalog.format('DELETE FROM %s t WHERE %s', tgt_name, delete_missing);
  END IF;
END $$;

/*
 * A sync through staging: the export fetched once into a temporary table,
 * then merged; with a cursor, its largest value (as text) for the
 * checkpoint.
 */
CREATE FUNCTION csv_export._merge_staged(
  staging text, merge text, cursor_column text, synced_at timestamptz,
  OUT fetched bigint, OUT upserted bigint, OUT cursor_max text)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF to_regclass('pg_temp.csv_export_sync_staging') IS NOT NULL THEN
    DROP TABLE pg_temp.csv_export_sync_staging;  -- an earlier sync in this transaction
  END IF;
  EXECUTE staging;
  GET DIAGNOSTICS fetched = ROW_COUNT;
  IF cursor_column IS NOT NULL THEN
    EXECUTE 'SELECT pg_catalog.to_jsonb(pg_catalog.max(_csv_export_cursor)) '
            'OPERATOR(pg_catalog.#>>) ''{}'' FROM pg_temp.csv_export_sync_staging'
      INTO cursor_max;
  END IF;
  EXECUTE merge USING synced_at;
  GET DIAGNOSTICS upserted = ROW_COUNT;
END $$;

/*
 * One run's work on the data, in the caller's transaction: merge the export
 * (in one pass where it can, else staged), count the rows the scan
 * rejected, and delete what the export lacks.  A cursor needs the export's
 * largest value and delete_missing its keys: those syncs, and an export
 * with repeated keys, go through staging.
 */
CREATE FUNCTION csv_export._apply_export(
  source regclass, target regclass, cursor_column text, cursor_before text,
  delete_missing boolean, started_at timestamptz,
  OUT fetched bigint, OUT upserted bigint, OUT deleted bigint, OUT rejected bigint,
  OUT cursor_after text)
LANGUAGE plpgsql AS $$
#variable_conflict use_variable
DECLARE
  statements record := csv_export._sync_statements(source, target, cursor_column, cursor_before);
  staged     boolean := cursor_column IS NOT NULL OR delete_missing
                        OR NOT csv_export._direct_merge_possible(target);
  merged     record;
  repeated   text;
BEGIN
  deleted := 0;
  IF NOT staged THEN
    BEGIN
      PERFORM csv_export._sync_match_rows();
      upserted := csv_export._merge_directly(statements.direct_merge, started_at);
      fetched := csv_export._sync_match_rows();
    EXCEPTION WHEN cardinality_violation THEN  -- from _sync_match alone
      GET STACKED DIAGNOSTICS repeated = MESSAGE_TEXT;
      PERFORM csv_export._report(pg_catalog.format(
        '%s: staging it, so that the last row of each key wins', repeated));
      staged := true;
    END;
  END IF;
  IF staged THEN
    merged := csv_export._merge_staged(statements.staging, statements.merge, cursor_column,
                                       started_at);
    fetched := merged.fetched;
    upserted := merged.upserted;
    cursor_after := merged.cursor_max;
  END IF;
  cursor_after := coalesce(cursor_after, cursor_before);

  -- rows the scan skipped (on_error 'skip') in this run
  SELECT pg_catalog.count(*) INTO rejected FROM csv_export.rejects r
   WHERE r.foreign_table OPERATOR(pg_catalog.=) source
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
END $$;

REVOKE ALL ON FUNCTION csv_export._sync_shape(regclass, regclass, text),
                       csv_export._sync_assignments(text[], text[], boolean, boolean),
                       csv_export._merge_staged(text, text, text, timestamptz),
                       csv_export._apply_export(regclass, regclass, text, text, boolean, timestamptz)
  FROM PUBLIC;

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
               'csv_export._sync_shape(regclass,regclass,text)',
               'csv_export._sync_assignments(text[],text[],boolean,boolean)',
               'csv_export._merge_staged(text,text,text,timestamptz)',
               'csv_export._apply_export(regclass,regclass,text,text,boolean,timestamptz)',
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
  routine regprocedure;
BEGIN
  FOR runner IN
    SELECT a.grantee::regrole
      FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a
     WHERE p.oid = 'csv_export.sync(regclass,regclass,text,boolean)'::pg_catalog.regprocedure
       AND a.privilege_type = 'EXECUTE' AND a.grantee <> 0 AND a.grantee <> p.proowner
  LOOP
    FOREACH routine IN ARRAY csv_export._sync_routines() LOOP
      EXECUTE pg_catalog.format('GRANT EXECUTE ON ROUTINE %s TO %s', routine, runner);
    END LOOP;
  END LOOP;
END $$;

/*
 * A procedure that commits cannot pin its search_path with SET: every
 * function, operator and table in it is schema-qualified instead.  It keeps
 * the run's record: on record before the run starts, one sync per target
 * at a time, the checkpoint committed with the data, a failure recorded
 * for good and then raised.
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
  cursor_before text;
  applied       record;
  err_sqlstate  text;
  err_message   text;
  err_detail    text;
  err_hint      text;
  err_context   text;
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
    applied := csv_export._apply_export(source, target, cursor_column, cursor_before,
                                        delete_missing, started_at);
    -- the checkpoint commits together with the data
    PERFORM csv_export._run_finish(this_run, 'succeeded', NULL, NULL, cursor_before,
                                   applied.cursor_after, started_at, applied.fetched,
                                   applied.upserted, applied.deleted, applied.rejected);
    PERFORM csv_export._report(pg_catalog.format('checkpoint saved%s',
      CASE WHEN cursor_column IS NOT NULL
           THEN pg_catalog.format(' (cursor %s)', coalesce(applied.cursor_after, 'unset'))
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
  PERFORM csv_export._run_finish(this_run,
                                 CASE WHEN err_sqlstate OPERATOR(pg_catalog.=) '57014'
                                      THEN 'interrupted' ELSE 'failed' END,
                                 err_message, err_sqlstate, cursor_before, cursor_before,
                                 started_at, NULL, 0, 0, NULL);
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
