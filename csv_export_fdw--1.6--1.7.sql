/* csv_export_fdw--1.6--1.7.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION csv_export_fdw UPDATE TO '1.7'" to load this file. \quit

/*
 * _sync_match's fourth argument says that the caller checks the key of the
 * row a returned ctid leads to: the direct MERGE joins on ctid and key.
 * Where the target is read into _sync_match's hash table, a row found
 * there whose values' fingerprint differs from its export row's is then
 * passed on without being fetched, from a random page of the heap, to
 * check that its key is the export row's and not another with the same
 * 64-bit hash; the MERGE fetches it anyway.  Should the two keys differ
 * after all, the export row is not matched: it is inserted, or, its key
 * being elsewhere in the target, fails the primary key's unique check and
 * the export is staged, as for a repeated key.  The default, false, is
 * 1.6's behaviour, for other callers.
 */
CREATE FUNCTION csv_export._sync_match(target regclass, export_row record,
                                       remember_new_keys boolean,
                                       caller_checks_keys boolean DEFAULT false) RETURNS tid
AS 'MODULE_PATHNAME', 'csv_export_sync_match'
LANGUAGE C VOLATILE STRICT;
DROP FUNCTION csv_export._sync_match(regclass, record, boolean);
REVOKE ALL ON FUNCTION csv_export._sync_match(regclass, record, boolean, boolean) FROM PUBLIC;

-- the MERGE's join on ctid and key must stay a TID scan: with the key in
-- the join, a lookup of each changed row in the primary key is a plan too
ALTER FUNCTION csv_export._merge_directly(text, timestamptz)
  SET enable_indexscan = off SET enable_bitmapscan = off;

/*
 * The routines a sync runs, which grant_sync gives a role, by name: 1.1 to
 * 1.6 listed their signatures, so that each new signature meant the whole
 * list again.  Only the extension's own routines of these names.
 */
CREATE OR REPLACE FUNCTION csv_export._sync_routines() RETURNS regprocedure[]
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT pg_catalog.array_agg(p.oid::pg_catalog.regprocedure ORDER BY p.proname, p.oid)
    FROM pg_catalog.pg_proc p
    JOIN pg_catalog.pg_depend d
      ON d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
     AND d.objid OPERATOR(pg_catalog.=) p.oid
     AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass
     AND d.deptype OPERATOR(pg_catalog.=) 'e'
    JOIN pg_catalog.pg_extension e
      ON e.oid OPERATOR(pg_catalog.=) d.refobjid
     AND e.extname OPERATOR(pg_catalog.=) 'csv_export_fdw'
   WHERE p.proname OPERATOR(pg_catalog.=) ANY (ARRAY[
                         'sync', 'schedule', 'unschedule', 'refresh_columns',
                         '_transaction_control_allowed', '_report', '_raise', '_sync_match',
                         '_primary_key_name', '_sync_match_rows', '_qualified_name',
                         '_columns', '_direct_merge_possible', '_check_sync_arguments',
                         '_sync_statements', '_merge_directly', '_sync_shape',
                         '_check_history_target', '_sync_assignments', '_apply_export',
                         '_apply_staged', '_apply_run', '_expect_export', '_export_fetched',
                         '_run_note_export', '_arm_run_timeout', '_disarm_run_timeout',
                         '_run_timed_out', '_check_run_options', '_check_drift_options',
                         '_lookback_from', '_try_direct_merge', '_stage_export',
                         '_sync_counts', '_check_delete_ratio', '_dry_run', '_lock_target',
                         '_notify', '_run_skip', '_run_apply', '_run_fail', '_export_columns',
                         '_allow_missing_columns', '_record_schema_change', '_export_drift',
                         '_announce_schema_change', '_add_drift_column', '_widen_drift_column',
                         '_apply_drift', '_note_missing_columns', '_note_returned_columns',
                         '_last_column_change', '_check_drift_rejects', '_drift_added',
                         '_require_pg_cron', '_run_start', '_run_claim', '_run_finish'
         ]::pg_catalog.name[])
$$;

-- roles that could run syncs under 1.6 can still run them, with 1.7's _sync_match
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

/*
 * The statements of a sync, as in 1.6, except that the direct MERGE calls
 * _sync_match with its fourth argument and checks the key of the row each
 * ctid leads to, under the key column's own collation (the index's
 * equality), as its sort does.
 */
CREATE OR REPLACE FUNCTION csv_export._sync_statements(
  source regclass, target regclass, cursor_column text, cursor_before text,
  left_alone text[], history boolean,
  OUT staging text, OUT merge text, OUT delete_missing text, OUT direct_merge text,
  OUT close_changed text)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
  src_name  text := csv_export._qualified_name(source);
  tgt_name  text := csv_export._qualified_name(target);
  shape     record := csv_export._sync_shape(source, target, cursor_column, left_alone, history);
  writes    record := csv_export._sync_assignments(shape.copied, shape.keys,
                                                   shape.has_deleted, shape.has_synced_at);
  casts     text[] := shape.casts;
  where_sql text := '';
  key_match text;
  key_list  text;
  key_order text;
  key_check text;
  last_rows text;
  on_write  text;
  -- see the comment above
  write_in_key_order boolean :=
    pg_catalog.current_setting('temp_file_limit') OPERATOR(pg_catalog.=) '-1';
BEGIN
  SELECT pg_catalog.string_agg(pg_catalog.format('t.%1$I OPERATOR(pg_catalog.=) s.%1$I', k), ' AND '),
         pg_catalog.string_agg(pg_catalog.quote_ident(k), ', ')
    INTO key_match, key_list FROM pg_catalog.unnest(shape.keys) k;
  -- the index's order and equality are its columns' collations, which the
  -- export's casts need not have (NULL for a type without collations)
  SELECT pg_catalog.string_agg(pg_catalog.concat(pg_catalog.quote_ident(k.name), x.collate_clause),
                               ', ' ORDER BY k.position),
         pg_catalog.string_agg(pg_catalog.format('t.%1$I OPERATOR(pg_catalog.=) s.%1$I', k.name)
                               OPERATOR(pg_catalog.||) pg_catalog.concat(x.collate_clause),
                               ' AND ' ORDER BY k.position)
    INTO key_order, key_check
    FROM pg_catalog.unnest(shape.keys) WITH ORDINALITY k(name, position)
    JOIN pg_catalog.pg_attribute a
      ON a.attrelid OPERATOR(pg_catalog.=) target AND a.attname OPERATOR(pg_catalog.=) k.name
    LEFT JOIN pg_catalog.pg_collation c ON c.oid OPERATOR(pg_catalog.=) a.attcollation
    LEFT JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.collnamespace
    CROSS JOIN LATERAL (SELECT ' COLLATE ' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(n.nspname)
                               OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||)
                               pg_catalog.quote_ident(c.collname)) x(collate_clause);
  on_write := pg_catalog.format(' WHEN NOT MATCHED THEN INSERT (%s) VALUES (%s)',
                                pg_catalog.array_to_string(writes.inserts, ', '),
                                pg_catalog.array_to_string(writes.insert_values, ', '));

  -- _deleted false in the export row, so that a soft-deleted row counts as
  -- changed; the key is checked where the ctid leads, so that _sync_match
  -- need not fetch a changed row to check it (its fourth argument)
  direct_merge := pg_catalog.concat(pg_catalog.format(
    'MERGE INTO %s t USING (SELECT * FROM (SELECT r.*, csv_export._sync_match(%s::pg_catalog.regclass, r, false, true) AS _csv_export_tid '
    'FROM (SELECT %s%s FROM %s) r) m WHERE _csv_export_tid IS NULL '
    'OR _csv_export_tid OPERATOR(pg_catalog.<>) ''(0,0)''::pg_catalog.tid%s) s '
    'ON t.ctid OPERATOR(pg_catalog.=) s._csv_export_tid AND %s',
    tgt_name, target::oid, pg_catalog.array_to_string(casts, ', '),
    CASE WHEN shape.has_deleted THEN ', false AS _deleted' ELSE '' END, src_name,
    CASE WHEN write_in_key_order THEN ' ORDER BY ' OPERATOR(pg_catalog.||) key_order END,
    key_check),
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
  last_rows := pg_catalog.format(
    '(SELECT DISTINCT ON (%s) * FROM pg_temp.csv_export_sync_staging '
    'ORDER BY %s, _csv_export_ord DESC) s', key_list, key_list);
  merge := pg_catalog.concat(pg_catalog.format(
    'MERGE INTO %s t USING %s ON %s', tgt_name, last_rows, key_match),
    CASE WHEN writes.changed IS NOT NULL
         THEN pg_catalog.format(' WHEN MATCHED AND (%s) THEN UPDATE SET %s',
                                writes.changed, pg_catalog.array_to_string(writes.updates, ', '))
    END,
    on_write);

  delete_missing := pg_catalog.format(
    'NOT EXISTS (SELECT 1 FROM pg_temp.csv_export_sync_staging s WHERE %s)', key_match);
  IF history THEN
    direct_merge := NULL;
    close_changed := pg_catalog.format(
      'UPDATE %s t SET _valid_to = $1, _current = false FROM %s '
      'WHERE t._current AND %s AND (%s)',
      tgt_name, last_rows, key_match, coalesce(writes.changed, 'false'));
    merge := pg_catalog.format(
      'INSERT INTO %s (%s, _valid_from, _valid_to, _current) SELECT %s, $1, NULL, true FROM %s '
      'WHERE NOT EXISTS (SELECT 1 FROM %s t WHERE t._current AND %s)',
      tgt_name, pg_catalog.array_to_string(writes.inserts, ', '),
      pg_catalog.array_to_string(writes.insert_values, ', '), last_rows, tgt_name, key_match);
    delete_missing := pg_catalog.format(
      'UPDATE %s t SET _valid_to = $1, _current = false WHERE t._current AND %s',
      tgt_name, delete_missing);
  ELSIF shape.has_deleted THEN
    delete_missing := pg_catalog.format(
      'UPDATE %s t SET _deleted = true%s WHERE t._deleted IS NOT TRUE AND %s',
      tgt_name, CASE WHEN shape.has_synced_at THEN ', _synced_at = $1' ELSE '' END, delete_missing);
  ELSE
    delete_missing := pg_catalog.format('DELETE FROM %s t WHERE %s', tgt_name, delete_missing);
  END IF;
END $$;
