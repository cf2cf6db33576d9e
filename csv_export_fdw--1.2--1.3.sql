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
 * As in 1.2, and a direct MERGE that fails the primary key's unique check
 * (a repeated new key) is followed by the staged one.
 */
CREATE OR REPLACE FUNCTION csv_export._apply_export(
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
  violated   text;
BEGIN
  deleted := 0;
  IF NOT staged THEN
    BEGIN
      PERFORM csv_export._sync_match_rows();
      upserted := csv_export._merge_directly(statements.direct_merge, started_at);
      fetched := csv_export._sync_match_rows();
    EXCEPTION
      WHEN cardinality_violation THEN  -- from _sync_match alone
        GET STACKED DIAGNOSTICS repeated = MESSAGE_TEXT;
      WHEN unique_violation THEN
        -- a new key the export repeats, or one another session has just
        -- inserted: the staged MERGE takes the last row of each key, and
        -- sees the other session's row.  Another unique constraint's
        -- violation is the export's to report.
        GET STACKED DIAGNOSTICS violated = CONSTRAINT_NAME;
        IF violated OPERATOR(pg_catalog.<>) csv_export._primary_key_name(target) THEN
          RAISE;
        END IF;
        repeated := 'export has more than one row with the same key';
    END;
    IF repeated IS NOT NULL THEN
      PERFORM csv_export._report(pg_catalog.format(
        '%s: staging it, so that the last row of each key wins', repeated));
      staged := true;
    END IF;
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

CREATE OR REPLACE FUNCTION csv_export._sync_routines() RETURNS regprocedure[]
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT ARRAY['csv_export.sync(regclass,regclass,text,boolean)',
               'csv_export.schedule(text,text,regclass,regclass,text,boolean)',
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
               'csv_export._merge_staged(text,text,text,timestamptz)',
               'csv_export._apply_export(regclass,regclass,text,text,boolean,timestamptz)',
               'csv_export._require_pg_cron()',
               'csv_export._run_start(regclass,regclass,text)',
               'csv_export._run_claim(bigint)',
               'csv_export._run_finish(bigint,text,text,text,text,text,timestamptz,bigint,bigint,bigint,bigint)'
              ]::regprocedure[]
$$;

-- roles that could run syncs under 1.2 can still run them
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
