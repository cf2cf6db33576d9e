/* csv_export_fdw--1.2--1.3.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION csv_export_fdw UPDATE TO '1.3'" to load this file. \quit

/*
 * The direct MERGE of a full sync remembers only the keys it finds in the
 * target, to catch one the export repeats; a repeated new key fails the
 * primary key's unique check, and _apply_export then stages the export,
 * as it does for cardinality_violation.  A first sync into an empty table
 * keeps no set of the export's keys (at 1M keys, 16 MB that outgrew the
 * CPU's caches).  _sync_match's third argument says that its caller
 * catches the unique check's error; the library still takes the two
 * arguments of 1.2's statements, for a server whose extension has not yet
 * been updated.
 */
CREATE FUNCTION csv_export._sync_match(target regclass, export_row record,
                                       remember_new_keys boolean) RETURNS tid
AS 'MODULE_PATHNAME', 'csv_export_sync_match'
LANGUAGE C VOLATILE STRICT;
DROP FUNCTION csv_export._sync_match(regclass, record);

-- the name of the target's primary key constraint, to tell its violation
CREATE FUNCTION csv_export._primary_key_name(target regclass) RETURNS text
LANGUAGE sql STABLE STRICT SET search_path = pg_catalog, pg_temp AS $$
  SELECT conname::text FROM pg_catalog.pg_constraint
   WHERE conrelid = target AND contype = 'p'
$$;

REVOKE ALL ON FUNCTION csv_export._sync_match(regclass, record, boolean),
                       csv_export._primary_key_name(regclass)
  FROM PUBLIC;

-- as in 1.2, the direct MERGE calling _sync_match with its third argument
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
    'MERGE INTO %s t USING (SELECT * FROM (SELECT r.*, csv_export._sync_match(%s::pg_catalog.regclass, r, false) AS _csv_export_tid '
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
 * Scheduled syncs that run themselves (issue 18): csv_export.sync takes
 * if_running ('wait', or 'skip': a run that finds another sync of its
 * target running is logged as skipped and touches nothing), timeout (the
 * run is stopped after that long and recorded as interrupted),
 * max_delete_ratio (with delete_missing: a run that would delete more than
 * that fraction of the target's rows fails before writing), dry_run (what
 * the run would insert, update and delete, reported, nothing written),
 * lookback (an incremental run re-reads that long below its checkpoint,
 * and counts the late rows it finds) and skip_unchanged (the last export's
 * validators are sent, and a 304 or the same body ends the run as
 * unchanged).  A failure, and the first success after failures, is
 * announced with pg_notify on channel csv_export; csv_export.status shows
 * every target at a glance; the log is trimmed by each run (sync_state.c).
 * New parameters change the procedure's signature: it is dropped and made
 * again, and the roles that could run syncs (those granted _run_claim by
 * grant_sync) keep that right.
 */
ALTER TABLE csv_export.sync_log
  DROP CONSTRAINT sync_log_status_check,
  ADD CONSTRAINT sync_log_status_check
    CHECK (status IN ('running', 'succeeded', 'failed', 'interrupted', 'skipped', 'unchanged')),
  ADD COLUMN rows_late bigint;

-- skip_unchanged: what the target's last export was, to send and compare
ALTER TABLE csv_export.sync_state
  DROP CONSTRAINT sync_state_last_status_check,
  ADD CONSTRAINT sync_state_last_status_check
    CHECK (last_status IN ('succeeded', 'failed', 'interrupted', 'unchanged')),
  ADD COLUMN export_etag text,
  ADD COLUMN export_last_modified text,
  ADD COLUMN export_sha256 bytea;

CREATE FUNCTION csv_export._expect_export(source regclass, etag text, last_modified text)
RETURNS void AS 'MODULE_PATHNAME', 'csv_export_expect_export' LANGUAGE C VOLATILE;
CREATE FUNCTION csv_export._export_fetched(source regclass,
  OUT not_modified boolean, OUT etag text, OUT last_modified text, OUT body_sha256 bytea)
AS 'MODULE_PATHNAME', 'csv_export_export_fetched' LANGUAGE C VOLATILE;
CREATE FUNCTION csv_export._run_note_export(run_id bigint, etag text, last_modified text,
                                            body_sha256 bytea) RETURNS void
AS 'MODULE_PATHNAME', 'csv_export_run_note_export' LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION csv_export._expect_export(regclass, text, text),
                       csv_export._export_fetched(regclass),
                       csv_export._run_note_export(bigint, text, text, bytea) FROM PUBLIC;

-- rows_late: with lookback, the rows below the checkpoint that were new or changed
CREATE OR REPLACE VIEW csv_export.runs WITH (security_invoker = true) AS
  SELECT l.run_id, l.target, l.source, l.started_at, l.finished_at,
         CASE WHEN l.status = 'running'
                   AND NOT csv_export._backend_alive(l.backend_pid, l.backend_start)
              THEN 'interrupted' ELSE l.status END AS status,
         l.error, l.error_sqlstate, l.cursor_column, l.cursor_before, l.cursor_after,
         l.rows_fetched, l.rows_upserted, l.rows_deleted, l.rows_rejected, l.backend_pid,
         l.rows_late
    FROM csv_export.sync_log l;

DROP FUNCTION csv_export._run_finish(bigint, text, text, text, text, text, timestamptz,
                                     bigint, bigint, bigint, bigint);
CREATE FUNCTION csv_export._run_finish(run_id bigint, status text, error text, sqlstate text,
                                       cursor_before text, cursor_after text,
                                       started_at timestamptz, fetched bigint,
                                       upserted bigint, deleted bigint, rejected bigint,
                                       late bigint) RETURNS void
AS 'MODULE_PATHNAME', 'csv_export_run_finish'
LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION csv_export._run_finish(bigint, text, text, text, text, text, timestamptz,
                                              bigint, bigint, bigint, bigint, bigint) FROM PUBLIC;

CREATE FUNCTION csv_export._arm_run_timeout(timeout interval) RETURNS void
AS 'MODULE_PATHNAME', 'csv_export_arm_run_timeout'
LANGUAGE C VOLATILE;
CREATE FUNCTION csv_export._disarm_run_timeout() RETURNS void
AS 'MODULE_PATHNAME', 'csv_export_disarm_run_timeout'
LANGUAGE C VOLATILE;
CREATE FUNCTION csv_export._run_timed_out() RETURNS boolean
AS 'MODULE_PATHNAME', 'csv_export_run_timed_out'
LANGUAGE C VOLATILE;

CREATE FUNCTION csv_export._check_run_options(if_running text, timeout interval,
                                              max_delete_ratio double precision,
                                              delete_missing boolean, lookback interval,
                                              cursor_column text)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF lookback IS NOT NULL AND cursor_column IS NULL THEN
    PERFORM csv_export._raise('22023', 'lookback needs cursor_column',
      detail => 'A sync without a cursor reads the whole export every time.');
  END IF;
  IF lookback < interval '0' THEN
    PERFORM csv_export._raise('22023', 'lookback must not be negative');
  END IF;
  IF if_running IS NULL OR if_running NOT IN ('wait', 'skip') THEN
    PERFORM csv_export._raise('22023', format('invalid value for if_running: %L', if_running),
      hint => 'Valid values are ''wait'' and ''skip''.');
  END IF;
  IF timeout <= interval '0' THEN
    PERFORM csv_export._raise('22023', 'timeout must be positive');
  END IF;
  IF max_delete_ratio IS NOT NULL AND NOT delete_missing THEN
    PERFORM csv_export._raise('22023', 'max_delete_ratio needs delete_missing',
      detail => 'Only a sync with delete_missing deletes rows.');
  END IF;
  IF NOT max_delete_ratio BETWEEN 0 AND 1 THEN
    PERFORM csv_export._raise('22023', 'max_delete_ratio must be between 0 and 1');
  END IF;
END $$;

/*
 * The direct MERGE of a full sync, as in 1.2; a MERGE that fails the
 * primary key's unique check (a repeated new key) is followed by the
 * staged one too.  fetched is NULL when the export must be staged.
 */
CREATE FUNCTION csv_export._try_direct_merge(statement text, target regclass,
                                             started_at timestamptz,
                                             OUT fetched bigint, OUT upserted bigint)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  repeated text;
  violated text;
BEGIN
  PERFORM csv_export._sync_match_rows();
  upserted := csv_export._merge_directly(statement, started_at);
  fetched := csv_export._sync_match_rows();
EXCEPTION
  WHEN cardinality_violation THEN  -- from _sync_match alone
    GET STACKED DIAGNOSTICS repeated = MESSAGE_TEXT;
    PERFORM csv_export._report(format(
      '%s: staging it, so that the last row of each key wins', repeated));
  WHEN unique_violation THEN
    -- a new key the export repeats, or one another session has just
    -- inserted: the staged MERGE takes the last row of each key, and sees
    -- the other session's row.  Another unique constraint's violation is
    -- the export's to report.
    GET STACKED DIAGNOSTICS violated = CONSTRAINT_NAME;
    IF violated <> csv_export._primary_key_name(target) THEN
      RAISE;
    END IF;
    PERFORM csv_export._report(
      'export has more than one row with the same key: staging it, so that the last row of each key wins');
END $$;

/*
 * The export fetched once into a temporary table (_sync_statements'
 * staging); with a cursor, its largest value (as text) for the checkpoint.
 */
CREATE FUNCTION csv_export._stage_export(staging text, cursor_column text,
                                         cursor_before text,
                                         OUT fetched bigint, OUT cursor_max text)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF to_regclass('pg_temp.csv_export_sync_staging') IS NOT NULL THEN
    DROP TABLE pg_temp.csv_export_sync_staging;  -- an earlier sync in this transaction
  END IF;
  EXECUTE staging;
  GET DIAGNOSTICS fetched = ROW_COUNT;
  -- rows re-read below the checkpoint (lookback) do not move it back
  IF cursor_column IS NOT NULL THEN
    EXECUTE format('SELECT pg_catalog.to_jsonb(pg_catalog.max(_csv_export_cursor)) '
                   'OPERATOR(pg_catalog.#>>) ''{}'' FROM pg_temp.csv_export_sync_staging%s',
                   CASE WHEN cursor_before IS NOT NULL
                        THEN format(' WHERE _csv_export_cursor OPERATOR(pg_catalog.>=) %L',
                                    cursor_before) END)
      INTO cursor_max;
  END IF;
END $$;

/*
 * With lookback, where an incremental sync starts reading: that long
 * before the checkpoint (kept, as the checkpoint is, as JSON text); NULL
 * before there is a checkpoint.
 */
CREATE FUNCTION csv_export._lookback_from(source regclass, cursor_column text,
                                          cursor_before text, lookback interval)
RETURNS text LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  cursor_type text;
  reread_from text;
BEGIN
  SELECT s.type INTO cursor_type FROM csv_export._columns(source) s WHERE s.name = cursor_column;
  IF cursor_type !~ '^(date|timestamp(\(\d\))? with(out)? time zone)$' THEN
    PERFORM csv_export._raise('42804',
      format('lookback needs a cursor column of a date or time type, not %s', cursor_type));
  END IF;
  IF cursor_before IS NULL THEN
    RETURN NULL;
  END IF;
  EXECUTE format('SELECT pg_catalog.to_jsonb(CAST(%L AS %s) OPERATOR(pg_catalog.-) '
                 'CAST(%L AS pg_catalog.interval)) OPERATOR(pg_catalog.#>>) ''{}''',
                 cursor_before, cursor_type, lookback)
    INTO reread_from;
  RETURN reread_from;
END $$;

/*
 * Statements that count what a sync of the staged export would do, for
 * dry_run and max_delete_ratio: changes (the rows it would insert, and
 * update) and missing (the target's live rows whose key the export lacks,
 * and all its live rows).
 */
CREATE FUNCTION csv_export._sync_counts(source regclass, target regclass, cursor_column text,
                                        OUT changes text, OUT missing text, OUT late text)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  tgt_name  text := csv_export._qualified_name(target);
  shape     record := csv_export._sync_shape(source, target, cursor_column);
  writes    record := csv_export._sync_assignments(shape.copied, shape.keys,
                                                   shape.has_deleted, shape.has_synced_at);
  key_match text;
  key_list  text;
BEGIN
  SELECT string_agg(format('t.%1$I OPERATOR(pg_catalog.=) s.%1$I', k), ' AND '),
         string_agg(quote_ident(k), ', ')
    INTO key_match, key_list FROM unnest(shape.keys) k;
  changes := format(
    'SELECT pg_catalog.count(*) FILTER (WHERE t.ctid IS NULL), '
    'pg_catalog.count(*) FILTER (WHERE t.ctid IS NOT NULL AND (%s)) '
    'FROM (SELECT DISTINCT ON (%s) * FROM pg_temp.csv_export_sync_staging '
    'ORDER BY %s, _csv_export_ord DESC) s LEFT JOIN %s t ON %s',
    coalesce(writes.changed, 'false'), key_list, key_list, tgt_name, key_match);
  missing := format(
    'SELECT pg_catalog.count(*) FILTER (WHERE NOT EXISTS '
    '(SELECT 1 FROM pg_temp.csv_export_sync_staging s WHERE %s)), pg_catalog.count(*) '
    'FROM %s t%s',
    key_match, tgt_name, CASE WHEN shape.has_deleted THEN ' WHERE t._deleted IS NOT TRUE' END);
  -- the rows below the checkpoint ($1) that the run inserts or changes
  IF cursor_column IS NOT NULL THEN
    late := format(
      'SELECT pg_catalog.count(*) FROM (SELECT DISTINCT ON (%s) * FROM pg_temp.csv_export_sync_staging '
      'ORDER BY %s, _csv_export_ord DESC) s LEFT JOIN %s t ON %s '
      'WHERE s._csv_export_cursor OPERATOR(pg_catalog.<) CAST($1 AS %s) AND (t.ctid IS NULL OR (%s))',
      key_list, key_list, tgt_name, key_match, shape.cursor_type, coalesce(writes.changed, 'false'));
  END IF;
END $$;

-- before anything is written: an export that lacks too many of the target's rows
CREATE FUNCTION csv_export._check_delete_ratio(source regclass, target regclass,
                                               max_delete_ratio double precision)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  missing bigint;
  live    bigint;
BEGIN
  EXECUTE (csv_export._sync_counts(source, target, NULL)).missing INTO missing, live;
  IF missing > max_delete_ratio * live THEN
    PERFORM csv_export._raise('55000',
      format('sync would delete %s of the %s rows of %s', missing, live, target),
      detail => format('max_delete_ratio is %s. An export that lacks that many rows is more likely partial than a sign that they were deleted.',
                       max_delete_ratio),
      hint => 'If the rows are gone at the source, run the sync once with a higher max_delete_ratio, or without it.');
  END IF;
END $$;

/*
 * One run's work on the data, in the caller's transaction: merge the export
 * (in one pass where it can, else staged), count the rows the scan
 * rejected, and delete what the export lacks.  A cursor needs the export's
 * largest value and delete_missing its keys: those syncs, and an export
 * with repeated keys, go through staging.  With max_delete_ratio the
 * staged export is checked before anything is written.
 */
/*
 * The staged path: the export fetched into a temporary table, checked
 * (skip_unchanged, max_delete_ratio, lookback's late rows), then merged
 * unless it came back unchanged.
 */
CREATE FUNCTION csv_export._apply_staged(
  source regclass, target regclass, staging text, merge text, cursor_column text,
  cursor_before text, reread_from text, started_at timestamptz,
  max_delete_ratio double precision, skip_unchanged boolean,
  OUT fetched bigint, OUT upserted bigint, OUT cursor_after text, OUT late bigint,
  OUT unchanged boolean, OUT export_etag text, OUT export_last_modified text,
  OUT export_sha256 bytea)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
  known  record;
  got    record;
  staged record;
BEGIN
  upserted := 0;
  unchanged := false;
  IF skip_unchanged THEN
    SELECT s.export_etag, s.export_last_modified, s.export_sha256 INTO known
      FROM csv_export.sync_state s WHERE s.target = target;
    PERFORM csv_export._expect_export(source, known.export_etag, known.export_last_modified);
  END IF;
  staged := csv_export._stage_export(staging, cursor_column, cursor_before);
  fetched := staged.fetched;
  cursor_after := staged.cursor_max;
  IF skip_unchanged THEN
    got := csv_export._export_fetched(source);
    unchanged := coalesce(got.not_modified OR got.body_sha256 = known.export_sha256, false);
    export_etag := coalesce(got.etag, known.export_etag);
    export_last_modified := coalesce(got.last_modified, known.export_last_modified);
    export_sha256 := coalesce(got.body_sha256, known.export_sha256);
    IF unchanged THEN
      PERFORM csv_export._report(format('export unchanged since the last run (%s): nothing applied',
        CASE WHEN got.not_modified THEN '304 Not Modified' ELSE 'the same body' END));
      RETURN;
    END IF;
  END IF;
  IF max_delete_ratio IS NOT NULL AND fetched > 0 THEN
    PERFORM csv_export._check_delete_ratio(source, target, max_delete_ratio);
  END IF;
  IF reread_from <> cursor_before THEN
    EXECUTE (csv_export._sync_counts(source, target, cursor_column)).late
      INTO late USING cursor_before;
    PERFORM csv_export._report(format(
      're-read from %s (lookback): %s rows below the checkpoint were new or changed',
      reread_from, late));
  END IF;
  EXECUTE merge USING started_at;
  GET DIAGNOSTICS upserted = ROW_COUNT;
END $$;

DROP FUNCTION csv_export._apply_export(regclass, regclass, text, text, boolean, timestamptz);
DROP FUNCTION csv_export._merge_staged(text, text, text, timestamptz);
CREATE FUNCTION csv_export._apply_export(
  source regclass, target regclass, cursor_column text, cursor_before text,
  delete_missing boolean, started_at timestamptz, max_delete_ratio double precision,
  lookback interval, skip_unchanged boolean,
  OUT fetched bigint, OUT upserted bigint, OUT deleted bigint, OUT rejected bigint,
  OUT cursor_after text, OUT late bigint, OUT unchanged boolean, OUT export_etag text,
  OUT export_last_modified text, OUT export_sha256 bytea)
LANGUAGE plpgsql AS $$
#variable_conflict use_variable
DECLARE
  reread_from text := CASE WHEN lookback IS NOT NULL
                           THEN csv_export._lookback_from(source, cursor_column, cursor_before,
                                                          lookback)
                           ELSE cursor_before END;
  statements record := csv_export._sync_statements(source, target, cursor_column, reread_from);
  direct     record;
  staged     record;
BEGIN
  deleted := 0;
  unchanged := false;
  IF NOT skip_unchanged AND cursor_column IS NULL AND NOT delete_missing
     AND csv_export._direct_merge_possible(target) THEN
    direct := csv_export._try_direct_merge(statements.direct_merge, target, started_at);
    fetched := direct.fetched;
    upserted := direct.upserted;
  END IF;
  IF fetched IS NULL THEN
    staged := csv_export._apply_staged(source, target, statements.staging, statements.merge,
                                       cursor_column, cursor_before, reread_from, started_at,
                                       max_delete_ratio, skip_unchanged);
    fetched := staged.fetched;
    upserted := staged.upserted;
    cursor_after := staged.cursor_after;
    late := staged.late;
    unchanged := staged.unchanged;
    export_etag := staged.export_etag;
    export_last_modified := staged.export_last_modified;
    export_sha256 := staged.export_sha256;
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

  IF unchanged OR NOT delete_missing THEN
    RETURN;
  ELSIF fetched OPERATOR(pg_catalog.=) 0 THEN
    RAISE WARNING 'export % has no rows; nothing was deleted from %', source, target
      USING DETAIL = 'An empty export is more likely an API hiccup than every row deleted.';
  ELSE
    EXECUTE statements.delete_missing USING started_at;
    GET DIAGNOSTICS deleted = ROW_COUNT;
    PERFORM csv_export._report(pg_catalog.format('%s rows deleted', deleted));
  END IF;
END $$;

/*
 * dry_run: the export staged, and what a sync would insert, update and
 * delete reported; nothing is written, no run recorded, no lock taken.
 */
CREATE FUNCTION csv_export._dry_run(source regclass, target regclass, cursor_column text,
                                    delete_missing boolean, lookback interval)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
  cursor_before text;
  reread_from   text;
  counts        record := csv_export._sync_counts(source, target, cursor_column);
  staged        record;
  would_insert  bigint;
  would_update  bigint;
  would_delete  bigint := 0;
  live          bigint;
BEGIN
  SELECT CASE WHEN s.cursor_column = cursor_column THEN s.cursor_value END INTO cursor_before
    FROM csv_export.sync_state s WHERE s.target = target;
  reread_from := CASE WHEN lookback IS NOT NULL
                      THEN csv_export._lookback_from(source, cursor_column, cursor_before, lookback)
                      ELSE cursor_before END;
  staged := csv_export._stage_export(
    (csv_export._sync_statements(source, target, cursor_column, reread_from)).staging,
    cursor_column, cursor_before);
  EXECUTE counts.changes INTO would_insert, would_update;
  IF delete_missing AND staged.fetched > 0 THEN
    EXECUTE counts.missing INTO would_delete, live;
  END IF;
  DROP TABLE pg_temp.csv_export_sync_staging;
  PERFORM csv_export._report(format(
    'dry run: %s rows fetched; %s would be inserted, %s updated, %s deleted; nothing was written',
    staged.fetched, would_insert, would_update, would_delete));
END $$;

-- the target's lock, held until the run's transaction ends; false if
-- if_running is 'skip' and another sync of the target holds it
CREATE FUNCTION csv_export._lock_target(target regclass, if_running text) RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF if_running = 'skip' THEN
    RETURN pg_try_advisory_xact_lock(1668511862, target::oid::integer);
  END IF;
  PERFORM pg_advisory_xact_lock(1668511862, target::oid::integer);
  RETURN true;
END $$;

-- a run's outcome on channel csv_export, for a listener to alert on
CREATE FUNCTION csv_export._notify(run_id bigint, source regclass, target regclass,
                                   status text, error text, sqlstate text)
RETURNS void LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
  SELECT pg_notify('csv_export', json_build_object(
    'run_id', run_id, 'target', target::text, 'source', source::text, 'status', status,
    'error', left(error, 1000), 'sqlstate', sqlstate)::text)
$$;

REVOKE ALL ON FUNCTION csv_export._arm_run_timeout(interval),
                       csv_export._disarm_run_timeout(),
                       csv_export._run_timed_out(),
                       csv_export._check_run_options(text, interval, double precision, boolean,
                                                     interval, text),
                       csv_export._lookback_from(regclass, text, text, interval),
                       csv_export._try_direct_merge(text, regclass, timestamptz),
                       csv_export._stage_export(text, text, text),
                       csv_export._sync_counts(regclass, regclass, text),
                       csv_export._check_delete_ratio(regclass, regclass, double precision),
                       csv_export._apply_export(regclass, regclass, text, text, boolean,
                                                timestamptz, double precision, interval, boolean),
                       csv_export._apply_staged(regclass, regclass, text, text, text, text, text,
                                                timestamptz, double precision, boolean),
                       csv_export._dry_run(regclass, regclass, text, boolean, interval),
                       csv_export._lock_target(regclass, text),
                       csv_export._notify(bigint, regclass, regclass, text, text, text)
  FROM PUBLIC;

/*
 * The steps of a run, for csv_export.sync.  Like _apply_export they run on
 * the caller's search_path, qualifying everything, so that the tables they
 * name in messages read as the caller wrote them.
 */
-- a run that found another sync of its target running (if_running 'skip')
CREATE FUNCTION csv_export._run_skip(run_id bigint, target regclass) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM csv_export._disarm_run_timeout();
  PERFORM csv_export._run_finish(run_id, 'skipped', 'another sync of the target was running',
                                 NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
  PERFORM csv_export._report(pg_catalog.format(
    'another sync of %s is running: this one is skipped', target));
END $$;

/*
 * A run that holds its target: the export applied, the run's outcome and
 * checkpoint recorded with the data, a recovery announced.
 */
CREATE FUNCTION csv_export._run_apply(
  run_id bigint, source regclass, target regclass, cursor_column text, cursor_before text,
  started_at timestamptz, delete_missing boolean, max_delete_ratio double precision,
  lookback interval, skip_unchanged boolean)
RETURNS void LANGUAGE plpgsql AS $$
#variable_conflict use_variable
DECLARE
  previous text;
  applied  record;
  outcome  text;
BEGIN
  SELECT s.last_status INTO previous FROM csv_export.sync_state s
   WHERE s.target OPERATOR(pg_catalog.=) target;
  PERFORM csv_export._report(pg_catalog.format('fetching %s into %s%s', source, target,
    CASE WHEN cursor_before IS NOT NULL
         THEN pg_catalog.format(' (rows with %I >= %s)', cursor_column, cursor_before)
         WHEN cursor_column IS NOT NULL THEN ' (all rows: no cursor yet)' ELSE '' END));
  applied := csv_export._apply_export(source, target, cursor_column, cursor_before,
                                      delete_missing, started_at, max_delete_ratio, lookback,
                                      skip_unchanged);
  outcome := CASE WHEN applied.unchanged THEN 'unchanged' ELSE 'succeeded' END;
  IF skip_unchanged THEN
    PERFORM csv_export._run_note_export(run_id, applied.export_etag,
                                        applied.export_last_modified, applied.export_sha256);
  END IF;
  -- the checkpoint commits together with the data
  PERFORM csv_export._run_finish(run_id, outcome, NULL, NULL, cursor_before,
                                 applied.cursor_after, started_at, applied.fetched,
                                 applied.upserted, applied.deleted, applied.rejected,
                                 applied.late);
  IF previous OPERATOR(pg_catalog.=) ANY (ARRAY['failed', 'interrupted']) THEN
    PERFORM csv_export._notify(run_id, source, target, outcome, NULL, NULL);
  END IF;
  PERFORM csv_export._report(pg_catalog.format('checkpoint saved%s',
    CASE WHEN cursor_column IS NOT NULL
         THEN pg_catalog.format(' (cursor %s)', coalesce(applied.cursor_after, 'unset'))
         ELSE '' END));
END $$;

/*
 * A run that failed: its record (interrupted by a cancel or its timeout,
 * else failed) and its notification; and the error to raise, in the
 * timeout's words where that stopped it.
 */
CREATE FUNCTION csv_export._run_fail(
  run_id bigint, source regclass, target regclass, timeout interval, cursor_before text,
  started_at timestamptz, sqlstate text,
  INOUT message text, INOUT detail text, INOUT hint text, INOUT context text)
LANGUAGE plpgsql AS $$
#variable_conflict use_variable
DECLARE
  outcome text := CASE WHEN sqlstate OPERATOR(pg_catalog.=) '57014'
                       THEN 'interrupted' ELSE 'failed' END;
BEGIN
  IF outcome OPERATOR(pg_catalog.=) 'interrupted' AND csv_export._run_timed_out() THEN
    message := pg_catalog.format('sync ran longer than its timeout (%s s)',
                                 pg_catalog.trim_scale(pg_catalog.date_part('epoch', timeout)::pg_catalog.numeric));
    detail := '';
    hint := 'Raise timeout, or find out why the export is slow to arrive.';
    context := '';
  END IF;
  PERFORM csv_export._run_finish(run_id, outcome, message, sqlstate, cursor_before,
                                 cursor_before, started_at, NULL, 0, 0, NULL, NULL);
  PERFORM csv_export._notify(run_id, source, target, outcome, message, sqlstate);
END $$;

REVOKE ALL ON FUNCTION csv_export._run_skip(bigint, regclass),
                       csv_export._run_apply(bigint, regclass, regclass, text, text, timestamptz,
                                             boolean, double precision, interval, boolean),
                       csv_export._run_fail(bigint, regclass, regclass, interval, text,
                                            timestamptz, text, text, text, text, text)
  FROM PUBLIC;

/*
 * A procedure that commits cannot pin its search_path with SET: every
 * function, operator and table in it is schema-qualified instead.  It keeps
 * the run's record: on record before the run starts, one sync per target
 * at a time (or none, with if_running 'skip'), the checkpoint committed
 * with the data, a failure recorded for good, announced, and then raised.
 */
DROP PROCEDURE csv_export.sync(regclass, regclass, text, boolean);
CREATE PROCEDURE csv_export.sync(source regclass, target regclass,
                                 cursor_column text DEFAULT NULL,
                                 delete_missing boolean DEFAULT false,
                                 if_running text DEFAULT 'wait',
                                 timeout interval DEFAULT NULL,
                                 max_delete_ratio double precision DEFAULT NULL,
                                 dry_run boolean DEFAULT false,
                                 lookback interval DEFAULT NULL,
                                 skip_unchanged boolean DEFAULT false)
LANGUAGE plpgsql AS $$
#variable_conflict use_variable
DECLARE
  can_commit    boolean := csv_export._transaction_control_allowed();
  this_run      bigint;
  started_at    timestamptz;
  cursor_before text;
  failure       record;
  err_sqlstate  text;
  err_message   text;
  err_detail    text;
  err_hint      text;
  err_context   text;
BEGIN
  PERFORM csv_export._check_sync_arguments(cursor_column, delete_missing);
  PERFORM csv_export._check_run_options(if_running, timeout, max_delete_ratio, delete_missing,
                                        lookback, cursor_column);
  IF dry_run THEN
    PERFORM csv_export._dry_run(source, target, cursor_column, delete_missing, lookback);
    RETURN;
  END IF;

  -- on record before it starts (and only for a caller who may write the
  -- target): a run whose backend goes away stays 'running', and
  -- csv_export.runs shows it as interrupted
  this_run := csv_export._run_start(source, target, cursor_column);
  IF can_commit THEN
    COMMIT;
  END IF;

  -- the time limit covers the wait for the target too, and ends with this
  -- transaction at the latest
  PERFORM csv_export._arm_run_timeout(timeout);
  BEGIN
    -- one sync per target at a time: held until this run's data and
    -- checkpoint commit, or its failure is recorded
    IF NOT csv_export._lock_target(target, if_running) THEN
      PERFORM csv_export._run_skip(this_run, target);
      RETURN;
    END IF;
    started_at := pg_catalog.clock_timestamp();
    cursor_before := csv_export._run_claim(this_run);
    PERFORM csv_export._run_apply(this_run, source, target, cursor_column, cursor_before,
                                  started_at, delete_missing, max_delete_ratio, lookback,
                                  skip_unchanged);
  EXCEPTION WHEN OTHERS OR query_canceled THEN
    -- everything the block did is undone; keep the error to record it.
    -- A cancel or statement_timeout is caught too, to be recorded.
    GET STACKED DIAGNOSTICS err_sqlstate = RETURNED_SQLSTATE, err_message = MESSAGE_TEXT,
                            err_detail = PG_EXCEPTION_DETAIL, err_hint = PG_EXCEPTION_HINT,
                            err_context = PG_EXCEPTION_CONTEXT;
  END;
  PERFORM csv_export._disarm_run_timeout();
  IF err_sqlstate IS NULL THEN
    RETURN;
  END IF;

  failure := csv_export._run_fail(this_run, source, target, timeout, cursor_before, started_at,
                                  err_sqlstate, err_message, err_detail, err_hint, err_context);
  -- record the failure for good, then fail the CALL, so that a scheduler
  -- sees the run fail; inside a transaction block the record goes with it
  IF can_commit THEN
    COMMIT;
  END IF;
  -- (PL/pgSQL gives an empty string for a missing part)
  PERFORM csv_export._raise(err_sqlstate, failure.message,
                            CASE WHEN failure.detail OPERATOR(pg_catalog.<>) '' THEN failure.detail END,
                            CASE WHEN failure.hint OPERATOR(pg_catalog.<>) '' THEN failure.hint END,
                            CASE WHEN failure.context OPERATOR(pg_catalog.<>) '' THEN failure.context END,
                            pg_catalog.format('csv_export.sync of %s into %s', source, target));
END $$;
REVOKE ALL ON PROCEDURE csv_export.sync(regclass, regclass, text, boolean, text, interval,
                                        double precision, boolean, interval, boolean) FROM PUBLIC;

/*
 * What schedule creates runs with if_running 'skip' (a run that finds the
 * last one still going is logged as skipped, instead of queueing behind
 * it) and, if given, a timeout.
 */
DROP FUNCTION csv_export.schedule(text, text, regclass, regclass, text, boolean);
CREATE FUNCTION csv_export.schedule(job_name text, schedule text,
                                    source regclass, target regclass,
                                    cursor_column text DEFAULT NULL,
                                    delete_missing boolean DEFAULT false,
                                    timeout interval DEFAULT NULL,
                                    max_delete_ratio double precision DEFAULT NULL,
                                    lookback interval DEFAULT NULL,
                                    skip_unchanged boolean DEFAULT false)
RETURNS bigint LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  job_id bigint;
BEGIN
  PERFORM csv_export._require_pg_cron();
  PERFORM csv_export._check_sync_arguments(cursor_column, delete_missing);
  PERFORM csv_export._check_run_options('skip', timeout, max_delete_ratio, delete_missing,
                                        lookback, cursor_column);
  EXECUTE 'SELECT cron.schedule($1, $2, $3)' INTO job_id
    USING job_name, schedule,
          format('CALL csv_export.sync(%L, %L, cursor_column => %L, delete_missing => %s, '
                 'if_running => ''skip''%s%s%s%s)',
                 csv_export._qualified_name(source), csv_export._qualified_name(target),
                 cursor_column, CASE WHEN delete_missing THEN 'true' ELSE 'false' END,
                 CASE WHEN timeout IS NOT NULL
                      THEN format(', timeout => ''%s seconds''',
                                  trim_scale(date_part('epoch', timeout)::numeric)) END,
                 CASE WHEN max_delete_ratio IS NOT NULL
                      THEN format(', max_delete_ratio => %s', max_delete_ratio) END,
                 CASE WHEN lookback IS NOT NULL
                      THEN format(', lookback => ''%s seconds''',
                                  trim_scale(date_part('epoch', lookback)::numeric)) END,
                 CASE WHEN skip_unchanged THEN ', skip_unchanged => true' END);
  RETURN job_id;
END $$;
REVOKE ALL ON FUNCTION csv_export.schedule(text, text, regclass, regclass, text, boolean,
                                           interval, double precision, interval, boolean)
  FROM PUBLIC;

/*
 * csv_export.status: one row per target, for monitoring.  Its pg_cron job
 * is found by the target its command syncs (what schedule wrote), among
 * the jobs the reader may see.
 */
CREATE FUNCTION csv_export._scheduled_target(command text) RETURNS regclass
LANGUAGE sql STABLE STRICT SET search_path = pg_catalog, pg_temp AS $$
  SELECT to_regclass(replace(m[1], '''''', ''''))
    FROM regexp_match(command,
                      '^CALL csv_export\.sync\(''(?:[^'']|'''')*'', ''((?:[^'']|'''')*)''') m
$$;

CREATE FUNCTION csv_export._cron_jobs()
RETURNS TABLE (jobid bigint, jobname text, schedule text, command text)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF to_regclass('cron.job') IS NOT NULL AND has_table_privilege('cron.job', 'SELECT') THEN
    RETURN QUERY EXECUTE 'SELECT jobid, jobname::text, schedule::text, command::text FROM cron.job';
  END IF;
END $$;
GRANT EXECUTE ON FUNCTION csv_export._scheduled_target(text), csv_export._cron_jobs() TO PUBLIC;

CREATE VIEW csv_export.status WITH (security_invoker = true) AS
  SELECT s.target, s.source, j.jobname AS job_name, j.schedule,
         last.status AS last_status, last.started_at AS last_started_at,
         last.finished_at AS last_finished_at, last.error AS last_error,
         ok.finished_at AS last_success,
         (SELECT pg_catalog.count(*) FROM csv_export.runs f
           WHERE f.target = s.target AND f.status IN ('failed', 'interrupted')
             AND f.run_id > coalesce(ok.run_id, 0)) AS consecutive_failures,
         ok.rows_fetched, ok.rows_upserted, ok.rows_deleted, ok.rows_rejected, ok.rows_late,
         s.cursor_column, s.cursor_value,
         pg_catalog.now() - ok.finished_at AS staleness
    FROM csv_export.sync_state s
    LEFT JOIN LATERAL (SELECT * FROM csv_export.runs r
                        WHERE r.target = s.target AND r.status <> 'skipped'
                        ORDER BY r.run_id DESC LIMIT 1) last ON true
    LEFT JOIN LATERAL (SELECT * FROM csv_export.runs r
                        WHERE r.target = s.target AND r.status IN ('succeeded', 'unchanged')
                        ORDER BY r.run_id DESC LIMIT 1) ok ON true
    LEFT JOIN LATERAL (SELECT * FROM csv_export._cron_jobs() c
                        WHERE csv_export._scheduled_target(c.command) = s.target
                        ORDER BY c.jobid LIMIT 1) j ON true;
GRANT SELECT ON csv_export.status TO PUBLIC;

CREATE OR REPLACE FUNCTION csv_export._sync_routines() RETURNS regprocedure[]
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT ARRAY['csv_export.sync(regclass,regclass,text,boolean,text,interval,double precision,boolean,interval,boolean)',
               'csv_export.schedule(text,text,regclass,regclass,text,boolean,interval,double precision,interval,boolean)',
               'csv_export.unschedule(text)',
               'csv_export._transaction_control_allowed()',
               'csv_export._report(text)',
               'csv_export._raise(text,text,text,text,text,text)',
               'csv_export._sync_match(regclass,record,boolean)',
               'csv_export._primary_key_name(regclass)',
               'csv_export._sync_match_rows()',
               'csv_export._qualified_name(regclass)',
               'csv_export._columns(regclass)',
               'csv_export._direct_merge_possible(regclass)',
               'csv_export._check_sync_arguments(text,boolean)',
               'csv_export._sync_statements(regclass,regclass,text,text)',
               'csv_export._merge_directly(text,timestamptz)',
               'csv_export._sync_shape(regclass,regclass,text)',
               'csv_export._sync_assignments(text[],text[],boolean,boolean)',
               'csv_export._apply_export(regclass,regclass,text,text,boolean,timestamptz,double precision,interval,boolean)',
               'csv_export._apply_staged(regclass,regclass,text,text,text,text,text,timestamptz,double precision,boolean)',
               'csv_export._expect_export(regclass,text,text)',
               'csv_export._export_fetched(regclass)',
               'csv_export._run_note_export(bigint,text,text,bytea)',
               'csv_export._arm_run_timeout(interval)',
               'csv_export._disarm_run_timeout()',
               'csv_export._run_timed_out()',
               'csv_export._check_run_options(text,interval,double precision,boolean,interval,text)',
               'csv_export._lookback_from(regclass,text,text,interval)',
               'csv_export._try_direct_merge(text,regclass,timestamptz)',
               'csv_export._stage_export(text,text,text)',
               'csv_export._sync_counts(regclass,regclass,text)',
               'csv_export._check_delete_ratio(regclass,regclass,double precision)',
               'csv_export._dry_run(regclass,regclass,text,boolean,interval)',
               'csv_export._lock_target(regclass,text)',
               'csv_export._notify(bigint,regclass,regclass,text,text,text)',
               'csv_export._run_skip(bigint,regclass)',
               'csv_export._run_apply(bigint,regclass,regclass,text,text,timestamptz,boolean,double precision,interval,boolean)',
               'csv_export._run_fail(bigint,regclass,regclass,interval,text,timestamptz,text,text,text,text,text)',
               'csv_export._require_pg_cron()',
               'csv_export._run_start(regclass,regclass,text)',
               'csv_export._run_claim(bigint)',
               'csv_export._run_finish(bigint,text,text,text,text,text,timestamptz,bigint,bigint,bigint,bigint,bigint)'
              ]::regprocedure[]
$$;

-- roles that could run syncs under 1.2 (grant_sync gave them _run_claim,
-- which stays) can still run them: grant_sync again, with 1.3's routines
DO $$
DECLARE
  runner regrole;
BEGIN
  FOR runner IN
    SELECT a.grantee::regrole
      FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a
     WHERE p.oid = 'csv_export._run_claim(bigint)'::pg_catalog.regprocedure
       AND a.privilege_type = 'EXECUTE' AND a.grantee <> 0 AND a.grantee <> p.proowner
  LOOP
    PERFORM csv_export.grant_sync(runner);
  END LOOP;
END $$;
