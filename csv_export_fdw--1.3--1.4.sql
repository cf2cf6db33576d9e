/* csv_export_fdw--1.3--1.4.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION csv_export_fdw UPDATE TO '1.4'" to load this file. \quit

/*
 * Schema drift and history, inside the sync's transaction (issue 19).
 *
 * csv_export.sync takes on_new_columns ('ignore', the default: a column the
 * export gains is not read; 'add': it is added to the foreign table and to
 * the target, typed as IMPORT FOREIGN SCHEMA would type it, and filled by
 * this run; 'fail'), on_missing_columns ('fail', the default: the scan's
 * error; 'null': a column the export lost reads as NULL, and the target's
 * values of it are left alone) and history (every version of a row kept,
 * with _valid_from, _valid_to and _current).  The DDL, the data and the
 * checkpoint commit together, or not at all.  Each change is recorded in
 * csv_export.schema_changes, given as a NOTICE and sent on channel
 * csv_export.
 */
CREATE TABLE csv_export.schema_changes (
  change_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  changed_at    timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
  target        regclass,        -- NULL for refresh_columns without a target
  foreign_table regclass NOT NULL,
  column_name   text NOT NULL,
  action        text NOT NULL CHECK (action IN ('added', 'widened', 'missing', 'returned')),
  column_type   text,
  run_id        bigint           -- NULL for refresh_columns
);
CREATE INDEX ON csv_export.schema_changes (foreign_table, column_name, change_id);
SELECT pg_catalog.pg_extension_config_dump('csv_export.schema_changes', '');
SELECT pg_catalog.pg_extension_config_dump('csv_export.schema_changes_change_id_seq', '');
-- as the rejects: the changes of the foreign tables the reader may read
ALTER TABLE csv_export.schema_changes ENABLE ROW LEVEL SECURITY;
CREATE POLICY changes_of_readable_tables ON csv_export.schema_changes FOR SELECT
  USING (pg_catalog.has_table_privilege(foreign_table, 'SELECT'));
GRANT SELECT ON csv_export.schema_changes TO PUBLIC;

CREATE FUNCTION csv_export._export_columns(source regclass,
  OUT header_name text, OUT column_name text, OUT column_type text)
RETURNS SETOF record AS 'MODULE_PATHNAME', 'csv_export_export_columns'
LANGUAGE C VOLATILE;
CREATE FUNCTION csv_export._allow_missing_columns(source regclass, header_names text[])
RETURNS void AS 'MODULE_PATHNAME', 'csv_export_allow_missing_columns'
LANGUAGE C VOLATILE;
CREATE FUNCTION csv_export._record_schema_change(run_id bigint, target regclass,
                                                 foreign_table regclass, column_name text,
                                                 action text, column_type text)
RETURNS void AS 'MODULE_PATHNAME', 'csv_export_record_schema_change'
LANGUAGE C VOLATILE;

/*
 * The export's columns against the foreign table's, by header name (the
 * column_name option, else the column's name; header_match says whether
 * case counts): 'new' ones the table lacks, 'missing' ones the header lacks.
 * An export without a header line has neither.
 */
CREATE FUNCTION csv_export._export_drift(source regclass,
  OUT kind text, OUT column_name text, OUT header_name text, OUT column_type text)
RETURNS SETOF record LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
  WITH fold AS (
    SELECT coalesce('header_match=case_insensitive' = ANY (f.ftoptions), false) AS on
      FROM pg_foreign_table f WHERE f.ftrelid = source),
  tbl AS (
    SELECT a.attnum AS pos, a.attname::text AS name,
           coalesce((SELECT substr(o, length('column_name=') + 1)
                       FROM unnest(a.attfdwoptions) o WHERE o LIKE 'column_name=%'),
                    a.attname::text) AS header
      FROM pg_attribute a
     WHERE a.attrelid = source AND a.attnum > 0 AND NOT a.attisdropped),
  csv AS (SELECT * FROM csv_export._export_columns(source)
                  WITH ORDINALITY c(header_name, column_name, column_type, pos)),
  pairs AS (
    SELECT tbl.name, csv.header_name
      FROM tbl, csv, fold
     WHERE CASE WHEN fold.on THEN lower(tbl.header) = lower(csv.header_name)
                ELSE tbl.header = csv.header_name END)
  SELECT d.kind, d.column_name, d.header_name, d.column_type FROM (
    SELECT 'new' AS kind, csv.column_name, csv.header_name, csv.column_type, csv.pos FROM csv
     WHERE csv.header_name NOT IN (SELECT p.header_name FROM pairs p)
    UNION ALL
    SELECT 'missing', tbl.name, tbl.header, NULL, tbl.pos FROM tbl
     WHERE tbl.name NOT IN (SELECT p.name FROM pairs p) AND EXISTS (SELECT 1 FROM csv)) d
   ORDER BY d.kind DESC, d.pos  -- new ones in header order, then missing ones
$$;

CREATE FUNCTION csv_export._check_drift_options(on_new_columns text, on_missing_columns text,
                                                history boolean)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF history IS NULL THEN
    PERFORM csv_export._raise('22004', 'history must not be null');
  END IF;
  IF on_new_columns IS NULL OR on_new_columns NOT IN ('ignore', 'add', 'fail') THEN
    PERFORM csv_export._raise('22023', format('invalid value for on_new_columns: %L', on_new_columns),
      hint => 'Valid values are ''ignore'', ''add'' and ''fail''.');
  END IF;
  IF on_missing_columns IS NULL OR on_missing_columns NOT IN ('fail', 'null') THEN
    PERFORM csv_export._raise('22023', format('invalid value for on_missing_columns: %L',
                                              on_missing_columns),
      hint => 'Valid values are ''fail'' and ''null''.');
  END IF;
END $$;

-- a schema change: on record, as a NOTICE, and on channel csv_export
CREATE FUNCTION csv_export._announce_schema_change(run_id bigint, source regclass,
                                                   target regclass, column_name text,
                                                   action text, column_type text,
                                                   message text)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM csv_export._record_schema_change(run_id, target, source, column_name, action,
                                           column_type);
  IF run_id IS NOT NULL THEN
    PERFORM csv_export._report(message);
  ELSE
    RAISE NOTICE '%', message;  -- refresh_columns
  END IF;
  PERFORM pg_notify('csv_export', json_build_object(
    'run_id', run_id, 'target', target::text, 'source', source::text,
    'status', 'schema_changed', 'column', column_name, 'action', action,
    'type', column_type)::text);
END $$;

-- a column the export gained, added to the foreign table and (if it lacks one of that name) the target
CREATE FUNCTION csv_export._add_drift_column(run_id bigint, source regclass, target regclass,
                                             column_name text, header_name text,
                                             column_type text, unfit_type text)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
  also_target boolean := target IS NOT NULL AND NOT EXISTS (
    SELECT 1 FROM pg_attribute a
     WHERE a.attrelid = target AND a.attname = column_name AND NOT a.attisdropped);
BEGIN
  EXECUTE format('ALTER FOREIGN TABLE %s ADD COLUMN %I %s%s', csv_export._qualified_name(source),
                 column_name, column_type,
                 CASE WHEN header_name <> column_name
                      THEN format(' OPTIONS (column_name %L)', header_name) END);
  IF also_target THEN
    EXECUTE format('ALTER TABLE %s ADD COLUMN %I %s', csv_export._qualified_name(target),
                   column_name, column_type);
  END IF;
  PERFORM csv_export._announce_schema_change(run_id, source, target, column_name, 'added',
    column_type, format('export of %s has a new column %I: added as %s to %s%s%s',
                        source, column_name, column_type, source,
                        CASE WHEN also_target THEN format(' and %s', target)
                             WHEN target IS NOT NULL
                             THEN format(' (%s already has it)', target) END,
                        CASE WHEN unfit_type IS NOT NULL
                             THEN format(' (its values do not all fit %s)', unfit_type) END));
END $$;

/*
 * A column a sync added whose values no longer fit its type: text, on the
 * foreign table and in the target, so that no row is lost.
 */
CREATE FUNCTION csv_export._widen_drift_column(run_id bigint, source regclass, target regclass,
                                               column_name text)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
  was text := format_type((SELECT a.atttypid FROM pg_attribute a
                            WHERE a.attrelid = source AND a.attname = column_name), NULL);
BEGIN
  EXECUTE format('ALTER FOREIGN TABLE %s ALTER COLUMN %I TYPE text',
                 csv_export._qualified_name(source), column_name);
  IF EXISTS (SELECT 1 FROM pg_attribute a
              WHERE a.attrelid = target AND a.attname = column_name AND NOT a.attisdropped
                AND a.atttypid <> 'text'::regtype) THEN
    EXECUTE format('ALTER TABLE %s ALTER COLUMN %2$I TYPE text USING %2$I::text',
                   csv_export._qualified_name(target), column_name);
  END IF;
  PERFORM csv_export._announce_schema_change(run_id, source, target, column_name, 'widened',
    'text', format('values of column %I of %s do not all fit %s: widened to text', column_name,
                   source, was));
END $$;

/*
 * The drift policy of a run (or of refresh_columns: run_id NULL), in the
 * caller's transaction: new columns added, or the run failed; columns
 * missing from the header allowed to read as NULL.  widened: columns
 * whose values did not fit the type they were (or are to be) added with.
 * added: what this call added; left_alone: the columns read as NULL, that
 * the sync must not write.  dry_run only reports.
 */
CREATE FUNCTION csv_export._apply_drift(run_id bigint, source regclass, target regclass,
                                        on_new_columns text, on_missing_columns text,
                                        widened text[], dry_run boolean,
                                        OUT added text[], OUT left_alone text[])
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
  found   jsonb;
  drift   record;
  missing text[] := '{}';
  names   text;
BEGIN
  added := '{}';
  left_alone := '{}';
  IF on_new_columns = 'ignore' AND on_missing_columns = 'fail' THEN
    RETURN;  -- nothing to compare: no request for the header
  END IF;
  FOREACH names IN ARRAY widened LOOP
    IF EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = source AND a.attname = names
                  AND NOT a.attisdropped AND a.atttypid <> 'text'::regtype) THEN
      PERFORM csv_export._widen_drift_column(run_id, source, target, names);
    END IF;
  END LOOP;

  -- one request for the export's header and sample, used twice below
  SELECT coalesce(jsonb_agg(d), '[]') INTO found FROM csv_export._export_drift(source) d;
  SELECT string_agg(quote_ident(d.column_name), ', ') INTO names
    FROM jsonb_to_recordset(found) d(kind text, column_name text) WHERE d.kind = 'new';
  IF names IS NOT NULL AND on_new_columns = 'fail' THEN
    PERFORM csv_export._raise('55000', format('export of %s has new columns: %s', source, names),
      detail => 'on_new_columns is ''fail''.',
      hint => 'Sync with on_new_columns => ''add'' to add them to the foreign table and the target, or ''ignore''.');
  END IF;
  FOR drift IN SELECT * FROM jsonb_to_recordset(found)
                 d(kind text, column_name text, header_name text, column_type text) LOOP
    IF drift.kind = 'new' AND on_new_columns = 'add' THEN
      IF dry_run THEN
        PERFORM csv_export._report(format('dry run: column %I (%s) would be added',
                                          drift.column_name, drift.column_type));
      ELSE
        PERFORM csv_export._add_drift_column(run_id, source, target, drift.column_name,
          drift.header_name,
          CASE WHEN drift.column_name = ANY (widened) THEN 'text' ELSE drift.column_type END,
          CASE WHEN drift.column_name = ANY (widened) THEN drift.column_type END);
        added := added || drift.column_name;
      END IF;
    ELSIF drift.kind = 'missing' AND on_missing_columns = 'null' THEN
      missing := missing || drift.header_name;
      left_alone := left_alone || drift.column_name;
    END IF;
  END LOOP;
  IF cardinality(missing) > 0 THEN
    PERFORM csv_export._allow_missing_columns(source, missing);
    PERFORM csv_export._note_missing_columns(run_id, source, target, left_alone, dry_run);
  END IF;
  IF NOT dry_run AND run_id IS NOT NULL THEN
    PERFORM csv_export._note_returned_columns(run_id, source, target, left_alone);
  END IF;
END $$;

-- columns read as NULL: said every run, recorded when they go missing
CREATE FUNCTION csv_export._note_missing_columns(run_id bigint, source regclass,
                                                 target regclass, left_alone text[],
                                                 dry_run boolean)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
  name text;
BEGIN
  FOREACH name IN ARRAY left_alone LOOP
    IF dry_run OR csv_export._last_column_change(source, name) = 'missing' THEN
      PERFORM csv_export._report(format(
        'column %I of %s is missing from the export: it reads as NULL, and the values of %s are left alone',
        name, source, target));
    ELSE
      PERFORM csv_export._announce_schema_change(run_id, source, target, name, 'missing', NULL,
        format('column %I of %s is missing from the export: it reads as NULL, and the values of %s are left alone',
               name, source, target));
    END IF;
  END LOOP;
END $$;

-- columns recorded missing that the export has again
CREATE FUNCTION csv_export._note_returned_columns(run_id bigint, source regclass,
                                                  target regclass, still_missing text[])
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
  name text;
BEGIN
  FOR name IN
    SELECT DISTINCT c.column_name FROM csv_export.schema_changes c
     WHERE c.foreign_table = source AND c.action = 'missing'
       AND c.column_name <> ALL (still_missing)
       AND csv_export._last_column_change(source, c.column_name) = 'missing'
  LOOP
    PERFORM csv_export._announce_schema_change(run_id, source, target, name, 'returned', NULL,
      format('column %I of %s is in the export again', name, source));
  END LOOP;
END $$;

CREATE FUNCTION csv_export._last_column_change(source regclass, column_name text) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT c.action FROM csv_export.schema_changes c
   WHERE c.foreign_table = source AND c.column_name = $2
   ORDER BY c.change_id DESC LIMIT 1
$$;

/*
 * After a run's data is applied: a column this run or an earlier one
 * added (on_new_columns 'add') to which the scan's on_error 'skip'
 * rejected a value, raised as the scan raises a value that does not fit,
 * so that the run widens it and applies the export again.
 */
CREATE FUNCTION csv_export._check_drift_rejects(source regclass, started_at timestamptz,
                                                added text[])
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
  misfit record;
BEGIN
  SELECT a.attname::text AS name, r.error INTO misfit
    FROM csv_export.rejects r
    JOIN pg_attribute a ON a.attrelid = source AND NOT a.attisdropped
     AND r.column_name = coalesce((SELECT substr(o, length('column_name=') + 1)
                                     FROM unnest(a.attfdwoptions) o
                                    WHERE o LIKE 'column_name=%'), a.attname::text)
   WHERE r.foreign_table = source AND r.rejected_at >= started_at
     AND r.transaction_id = pg_current_xact_id()
     AND csv_export._drift_added(source, a.attname::text, added)
   LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION '%', misfit.error
      USING ERRCODE = 'invalid_text_representation', COLUMN = misfit.name,
            TABLE = (SELECT c.relname FROM pg_class c WHERE c.oid = source);
  END IF;
END $$;

-- whether a sync added the column (this run, or on record) with a type other than text
CREATE FUNCTION csv_export._drift_added(source regclass, column_name text, added text[])
RETURNS boolean LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT EXISTS (SELECT 1 FROM pg_attribute a
                  WHERE a.attrelid = source AND a.attname = column_name
                    AND NOT a.attisdropped AND a.atttypid <> 'text'::regtype)
     AND (column_name = ANY (added)
          OR EXISTS (SELECT 1 FROM csv_export.schema_changes c
                      WHERE c.foreign_table = source AND c.column_name = $2
                        AND c.action = 'added'))
$$;

/*
 * refresh_columns: a sync's on_new_columns 'add' (or 'fail') on demand,
 * without a sync: the export's new columns added to the foreign table and
 * to target, if given; typed over IMPORT's sample of the export.  Columns
 * missing from the export are reported, not changed.
 */
CREATE FUNCTION csv_export.refresh_columns(foreign_table regclass, target regclass DEFAULT NULL)
RETURNS SETOF csv_export.schema_changes
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
  first_change bigint := (SELECT coalesce(max(c.change_id), 0) FROM csv_export.schema_changes c);
  missing      text;
BEGIN
  IF foreign_table IS NULL THEN
    PERFORM csv_export._raise('22004', 'foreign_table must not be null');
  END IF;
  PERFORM csv_export._apply_drift(NULL, foreign_table, target, 'add', 'fail', '{}', false);
  SELECT string_agg(quote_ident(d.column_name), ', ') INTO missing
    FROM csv_export._export_drift(foreign_table) d WHERE d.kind = 'missing';
  IF missing IS NOT NULL THEN
    PERFORM csv_export._report(format(
      'columns of %s missing from the export: %s (a sync fails unless on_missing_columns => ''null'')',
      foreign_table, missing));
  END IF;
  RETURN QUERY SELECT * FROM csv_export.schema_changes c
                WHERE c.change_id > first_change AND c.foreign_table = foreign_table
                  AND c.run_id IS NULL
                ORDER BY c.change_id;
END $$;

REVOKE ALL ON FUNCTION csv_export._export_columns(regclass),
                       csv_export._allow_missing_columns(regclass, text[]),
                       csv_export._record_schema_change(bigint, regclass, regclass, text, text, text),
                       csv_export._export_drift(regclass),
                       csv_export._check_drift_options(text, text, boolean),
                       csv_export._announce_schema_change(bigint, regclass, regclass, text, text,
                                                          text, text),
                       csv_export._add_drift_column(bigint, regclass, regclass, text, text, text, text),
                       csv_export._widen_drift_column(bigint, regclass, regclass, text),
                       csv_export._apply_drift(bigint, regclass, regclass, text, text, text[],
                                               boolean),
                       csv_export._note_missing_columns(bigint, regclass, regclass, text[], boolean),
                       csv_export._note_returned_columns(bigint, regclass, regclass, text[]),
                       csv_export._last_column_change(regclass, text),
                       csv_export._check_drift_rejects(regclass, timestamptz, text[]),
                       csv_export._drift_added(regclass, text, text[]),
                       csv_export.refresh_columns(regclass, regclass)
  FROM PUBLIC;

/*
 * The shape of a sync, as in 1.2, with the columns to leave alone (read as
 * NULL: on_missing_columns 'null') and history: the target's key is the
 * export's key and _valid_from; _valid_to and _current are the sync's.
 */
DROP FUNCTION csv_export._sync_statements(regclass, regclass, text, text);
DROP FUNCTION csv_export._sync_counts(regclass, regclass, text);
DROP FUNCTION csv_export._sync_shape(regclass, regclass, text);
CREATE FUNCTION csv_export._sync_shape(
  source regclass, target regclass, cursor_column text, left_alone text[], history boolean,
  OUT keys text[], OUT copied text[], OUT casts text[], OUT cursor_type text,
  OUT has_synced_at boolean, OUT has_deleted boolean)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
  ours    text[] := CASE WHEN history
                          THEN ARRAY['_synced_at', '_deleted', '_valid_from', '_valid_to', '_current']
                          ELSE ARRAY['_synced_at', '_deleted'] END;
  missing text;
BEGIN
  SELECT pg_catalog.array_agg(t.name ORDER BY t.name) FILTER (WHERE t.in_key)
    INTO keys FROM csv_export._columns(target) t;
  IF keys IS NULL THEN
    RAISE EXCEPTION 'target table % has no primary key', target
      USING ERRCODE = 'invalid_table_definition',
            HINT = 'csv_export.sync upserts by primary key; add one to the target table.';
  END IF;
  IF history THEN
    PERFORM csv_export._check_history_target(target, keys);
    keys := pg_catalog.array_remove(keys, '_valid_from');
  ELSIF '_valid_from' = ANY (keys) THEN
    RAISE EXCEPTION 'target table % keeps history (_valid_from is part of its key)', target
      USING ERRCODE = 'invalid_table_definition',
            HINT = 'Sync it with history => true.';
  END IF;
  SELECT pg_catalog.string_agg(pg_catalog.quote_ident(k), ', ') INTO missing
    FROM pg_catalog.unnest(keys) k
   WHERE NOT EXISTS (SELECT 1 FROM csv_export._columns(source) s
                      WHERE s.name OPERATOR(pg_catalog.=) k);
  IF missing IS NOT NULL THEN
    RAISE EXCEPTION 'source % lacks key column(s) % of target %', source, missing, target
      USING ERRCODE = 'undefined_column';
  END IF;
  IF keys && left_alone THEN
    RAISE EXCEPTION 'key column(s) of target % missing from the export of %',
                    target, source
      USING ERRCODE = 'fdw_column_name_not_found',
            DETAIL = 'on_missing_columns ''null'' reads a vanished column as NULL, which a key cannot be.';
  END IF;

  -- columns present in both, by name; _synced_at, _deleted and history's are ours
  SELECT pg_catalog.array_agg(t.name ORDER BY t.name),
         pg_catalog.array_agg(pg_catalog.format('CAST(%I AS %s) AS %I', t.name, t.type, t.name)
                              ORDER BY t.name)
    INTO copied, casts
    FROM csv_export._columns(target) t JOIN csv_export._columns(source) s
           ON s.name OPERATOR(pg_catalog.=) t.name
   WHERE t.name OPERATOR(pg_catalog.<>) ALL (ours)
     AND t.name OPERATOR(pg_catalog.<>) ALL (left_alone);
  SELECT EXISTS (SELECT 1 FROM csv_export._columns(target) c
                  WHERE c.name OPERATOR(pg_catalog.=) '_synced_at'
                    AND c.type OPERATOR(pg_catalog.=) 'timestamp with time zone'),
         EXISTS (SELECT 1 FROM csv_export._columns(target) c
                  WHERE c.name OPERATOR(pg_catalog.=) '_deleted'
                    AND c.type OPERATOR(pg_catalog.=) 'boolean')
    INTO has_synced_at, has_deleted;
  IF history AND has_deleted THEN
    RAISE EXCEPTION 'a history target has no _deleted column: % has one', target
      USING ERRCODE = 'invalid_table_definition',
            DETAIL = 'With history, a row gone from the export is closed (_valid_to set, _current false).';
  END IF;

  IF cursor_column IS NOT NULL THEN
    SELECT s.type INTO cursor_type FROM csv_export._columns(source) s
     WHERE s.name OPERATOR(pg_catalog.=) cursor_column;
    IF cursor_type IS NULL THEN
      RAISE EXCEPTION 'cursor column "%" does not exist in source %', cursor_column, source
        USING ERRCODE = 'undefined_column';
    END IF;
  END IF;
END $$;

-- history's columns and key, as README shows them
CREATE FUNCTION csv_export._check_history_target(target regclass, keys text[])
RETURNS void LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  lacking text;
BEGIN
  SELECT string_agg(format('%I %s', n, t), ', ' ORDER BY pos) INTO lacking
    FROM (VALUES (1, '_valid_from', 'timestamp with time zone'),
                 (2, '_valid_to', 'timestamp with time zone'),
                 (3, '_current', 'boolean')) want(pos, n, t)
   WHERE NOT EXISTS (SELECT 1 FROM csv_export._columns(target) c
                      WHERE c.name = want.n AND c.type = want.t);
  IF lacking IS NOT NULL THEN
    RAISE EXCEPTION 'history target % lacks column(s) %', target, lacking
      USING ERRCODE = 'invalid_table_definition',
            HINT = 'A history target has _valid_from timestamptz, _valid_to timestamptz, _current boolean, and a primary key of the export''s key and _valid_from.';
  END IF;
  IF NOT '_valid_from' = ANY (keys) OR cardinality(keys) < 2 THEN
    RAISE EXCEPTION 'the primary key of history target % is not the export''s key and _valid_from',
                    target
      USING ERRCODE = 'invalid_table_definition',
            HINT = 'Make the primary key (id, _valid_from), with the export''s key in place of id.';
  END IF;
END $$;

/*
 * The statements of a sync, as in 1.3.  With history, merge inserts a new
 * version of each new or changed row, close_changed first closes the
 * current version of each changed row, and delete_missing closes the
 * current version of each row the export lacks; there is no direct MERGE.
 */
CREATE FUNCTION csv_export._sync_statements(
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
  last_rows text;
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

/*
 * Counting statements, as in 1.3; with history, against the current
 * versions only.
 */
CREATE FUNCTION csv_export._sync_counts(source regclass, target regclass, cursor_column text,
                                        left_alone text[], history boolean,
                                        OUT changes text, OUT missing text, OUT late text)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  tgt_rows  text := CASE WHEN history
                         THEN format('(SELECT * FROM %s WHERE _current) t',
                                     csv_export._qualified_name(target))
                         ELSE format('%s t', csv_export._qualified_name(target)) END;
  shape     record := csv_export._sync_shape(source, target, cursor_column, left_alone, history);
  writes    record := csv_export._sync_assignments(shape.copied, shape.keys,
                                                   shape.has_deleted, shape.has_synced_at);
  found     text := format('t.%I IS NOT NULL', shape.keys[1]);
  key_match text;
  last_rows text;
BEGIN
  SELECT string_agg(format('t.%1$I OPERATOR(pg_catalog.=) s.%1$I', k), ' AND '),
         format('(SELECT DISTINCT ON (%1$s) * FROM pg_temp.csv_export_sync_staging '
                'ORDER BY %1$s, _csv_export_ord DESC) s', string_agg(quote_ident(k), ', '))
    INTO key_match, last_rows FROM unnest(shape.keys) k;
  changes := format(
    'SELECT pg_catalog.count(*) FILTER (WHERE NOT %1$s), '
    'pg_catalog.count(*) FILTER (WHERE %1$s AND (%2$s)) FROM %3$s LEFT JOIN %4$s ON %5$s',
    found, coalesce(writes.changed, 'false'), last_rows, tgt_rows, key_match);
  missing := format(
    'SELECT pg_catalog.count(*) FILTER (WHERE NOT EXISTS '
    '(SELECT 1 FROM pg_temp.csv_export_sync_staging s WHERE %s)), pg_catalog.count(*) '
    'FROM %s%s',
    key_match, tgt_rows, CASE WHEN shape.has_deleted THEN ' WHERE t._deleted IS NOT TRUE' END);
  -- the rows below the checkpoint ($1) that the run inserts or changes
  IF cursor_column IS NOT NULL THEN
    late := format(
      'SELECT pg_catalog.count(*) FROM %s LEFT JOIN %s ON %s '
      'WHERE s._csv_export_cursor OPERATOR(pg_catalog.<) CAST($1 AS %s) AND (NOT %s OR (%s))',
      last_rows, tgt_rows, key_match, shape.cursor_type, found, coalesce(writes.changed, 'false'));
  END IF;
END $$;

DROP FUNCTION csv_export._check_delete_ratio(regclass, regclass, double precision);
CREATE FUNCTION csv_export._check_delete_ratio(source regclass, target regclass,
                                               max_delete_ratio double precision,
                                               left_alone text[], history boolean)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  missing bigint;
  live    bigint;
BEGIN
  EXECUTE (csv_export._sync_counts(source, target, NULL, left_alone, history)).missing
    INTO missing, live;
  IF missing > max_delete_ratio * live THEN
    PERFORM csv_export._raise('55000',
      format('sync would delete %s of the %s rows of %s', missing, live, target),
      detail => format('max_delete_ratio is %s. An export that lacks that many rows is more likely partial than a sign that they were deleted.',
                       max_delete_ratio),
      hint => 'If the rows are gone at the source, run the sync once with a higher max_delete_ratio, or without it.');
  END IF;
END $$;

/*
 * The staged path, as in 1.3; with history, the changed rows' current
 * versions are closed before the new versions are inserted.
 */
DROP FUNCTION csv_export._apply_staged(regclass, regclass, text, text, text, text, text,
                                       timestamptz, double precision, boolean);
CREATE FUNCTION csv_export._apply_staged(
  source regclass, target regclass, staging text, merge text, close_changed text,
  cursor_column text, cursor_before text, reread_from text, started_at timestamptz,
  max_delete_ratio double precision, skip_unchanged boolean, left_alone text[],
  history boolean,
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
    PERFORM csv_export._check_delete_ratio(source, target, max_delete_ratio, left_alone, history);
  END IF;
  IF reread_from <> cursor_before THEN
    EXECUTE (csv_export._sync_counts(source, target, cursor_column, left_alone, history)).late
      INTO late USING cursor_before;
    PERFORM csv_export._report(format(
      're-read from %s (lookback): %s rows below the checkpoint were new or changed',
      reread_from, late));
  END IF;
  IF close_changed IS NOT NULL THEN
    EXECUTE close_changed USING started_at;
  END IF;
  EXECUTE merge USING started_at;
  GET DIAGNOSTICS upserted = ROW_COUNT;
END $$;

/*
 * One run's work on the data, as in 1.3, leaving alone the columns read as
 * NULL; a history sync is always staged.
 */
DROP FUNCTION csv_export._apply_export(regclass, regclass, text, text, boolean, timestamptz,
                                       double precision, interval, boolean);
CREATE FUNCTION csv_export._apply_export(
  source regclass, target regclass, cursor_column text, cursor_before text,
  delete_missing boolean, started_at timestamptz, max_delete_ratio double precision,
  lookback interval, skip_unchanged boolean, left_alone text[], history boolean,
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
  statements record := csv_export._sync_statements(source, target, cursor_column, reread_from,
                                                   left_alone, history);
  direct     record;
  staged     record;
BEGIN
  deleted := 0;
  unchanged := false;
  IF NOT skip_unchanged AND NOT history AND cursor_column IS NULL AND NOT delete_missing
     AND csv_export._direct_merge_possible(target) THEN
    direct := csv_export._try_direct_merge(statements.direct_merge, target, started_at);
    fetched := direct.fetched;
    upserted := direct.upserted;
  END IF;
  IF fetched IS NULL THEN
    staged := csv_export._apply_staged(source, target, statements.staging, statements.merge,
                                       statements.close_changed, cursor_column, cursor_before,
                                       reread_from, started_at, max_delete_ratio, skip_unchanged,
                                       left_alone, history);
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
  PERFORM csv_export._report(pg_catalog.format('%s rows fetched, %s %s%s', fetched, upserted,
    CASE WHEN history THEN 'new versions' ELSE 'upserted' END,
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
    PERFORM csv_export._report(pg_catalog.format('%s rows %s', deleted,
      CASE WHEN history THEN 'closed' ELSE 'deleted' END));
  END IF;
END $$;

/*
 * dry_run, as in 1.3, with the drift policy reported (nothing added) and
 * history's counts against the current versions.
 */
DROP FUNCTION csv_export._dry_run(regclass, regclass, text, boolean, interval);
CREATE FUNCTION csv_export._dry_run(source regclass, target regclass, cursor_column text,
                                    delete_missing boolean, lookback interval,
                                    on_new_columns text, on_missing_columns text,
                                    history boolean)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
  left_alone    text[] := (csv_export._apply_drift(NULL, source, target, on_new_columns,
                                                   on_missing_columns, '{}', true)).left_alone;
  cursor_before text;
  reread_from   text;
  counts        record := csv_export._sync_counts(source, target, cursor_column, left_alone,
                                                  history);
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
    (csv_export._sync_statements(source, target, cursor_column, reread_from, left_alone,
                                 history)).staging,
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

REVOKE ALL ON FUNCTION csv_export._sync_shape(regclass, regclass, text, text[], boolean),
                       csv_export._check_history_target(regclass, text[]),
                       csv_export._sync_statements(regclass, regclass, text, text, text[], boolean),
                       csv_export._sync_counts(regclass, regclass, text, text[], boolean),
                       csv_export._check_delete_ratio(regclass, regclass, double precision,
                                                      text[], boolean),
                       csv_export._apply_staged(regclass, regclass, text, text, text, text, text,
                                                text, timestamptz, double precision, boolean,
                                                text[], boolean),
                       csv_export._apply_export(regclass, regclass, text, text, boolean,
                                                timestamptz, double precision, interval, boolean,
                                                text[], boolean),
                       csv_export._dry_run(regclass, regclass, text, boolean, interval, text,
                                           text, boolean)
  FROM PUBLIC;

/*
 * The drift policy and the data of a run, together: a value that does not
 * fit a column a sync added (on_new_columns 'add') undoes both, and they
 * are applied again with that column as text.  Each column is widened at
 * most once, so the export is read at most once more per such column.
 */
CREATE FUNCTION csv_export._apply_run(
  run_id bigint, source regclass, target regclass, cursor_column text, cursor_before text,
  started_at timestamptz, delete_missing boolean, max_delete_ratio double precision,
  lookback interval, skip_unchanged boolean, on_new_columns text, on_missing_columns text,
  history boolean,
  OUT fetched bigint, OUT upserted bigint, OUT deleted bigint, OUT rejected bigint,
  OUT cursor_after text, OUT late bigint, OUT unchanged boolean, OUT export_etag text,
  OUT export_last_modified text, OUT export_sha256 bytea)
LANGUAGE plpgsql AS $$
#variable_conflict use_variable
DECLARE
  widened    text[] := '{}';
  added      text[] := '{}';
  left_alone text[];
  misfit     text;
  in_table   text;
BEGIN
  LOOP
    BEGIN
      SELECT d.added, d.left_alone INTO added, left_alone
        FROM csv_export._apply_drift(run_id, source, target, on_new_columns,
                                     on_missing_columns, widened, false) d;
      SELECT * INTO fetched, upserted, deleted, rejected, cursor_after, late, unchanged,
                    export_etag, export_last_modified, export_sha256
        FROM csv_export._apply_export(source, target, cursor_column, cursor_before,
                                      delete_missing, started_at, max_delete_ratio, lookback,
                                      skip_unchanged, left_alone, history);
      IF on_new_columns OPERATOR(pg_catalog.=) 'add' THEN
        PERFORM csv_export._check_drift_rejects(source, started_at, added);
      END IF;
      RETURN;
    EXCEPTION WHEN data_exception THEN
      -- (this block's DDL is undone: a column it added is in added alone)
      GET STACKED DIAGNOSTICS misfit = COLUMN_NAME, in_table = TABLE_NAME;
      IF on_new_columns OPERATOR(pg_catalog.<>) 'add'
         OR in_table IS DISTINCT FROM (SELECT c.relname::text FROM pg_catalog.pg_class c
                                        WHERE c.oid OPERATOR(pg_catalog.=) source)
         OR misfit OPERATOR(pg_catalog.=) ANY (widened)
         OR NOT (misfit OPERATOR(pg_catalog.=) ANY (added)
                 OR csv_export._drift_added(source, misfit, '{}')) THEN
        RAISE;
      END IF;
      widened := pg_catalog.array_append(widened, misfit);
    END;
  END LOOP;
END $$;

/*
 * A run that holds its target, as in 1.3, with the drift policy and
 * history.
 */
DROP FUNCTION csv_export._run_apply(bigint, regclass, regclass, text, text, timestamptz, boolean,
                                    double precision, interval, boolean);
CREATE FUNCTION csv_export._run_apply(
  run_id bigint, source regclass, target regclass, cursor_column text, cursor_before text,
  started_at timestamptz, delete_missing boolean, max_delete_ratio double precision,
  lookback interval, skip_unchanged boolean, on_new_columns text, on_missing_columns text,
  history boolean)
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
  applied := csv_export._apply_run(run_id, source, target, cursor_column, cursor_before,
                                   started_at, delete_missing, max_delete_ratio, lookback,
                                   skip_unchanged, on_new_columns, on_missing_columns, history);
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
REVOKE ALL ON FUNCTION csv_export._apply_run(bigint, regclass, regclass, text, text, timestamptz,
                                             boolean, double precision, interval, boolean, text,
                                             text, boolean),
                       csv_export._run_apply(bigint, regclass, regclass, text, text, timestamptz,
                                             boolean, double precision, interval, boolean, text,
                                             text, boolean)
  FROM PUBLIC;

/*
 * The procedure, as in 1.3, with on_new_columns, on_missing_columns and
 * history; a new signature, so dropped and made again (grant_sync below
 * gives it back to the roles that could run syncs).
 */
DROP PROCEDURE csv_export.sync(regclass, regclass, text, boolean, text, interval,
                               double precision, boolean, interval, boolean);
CREATE PROCEDURE csv_export.sync(source regclass, target regclass,
                                 cursor_column text DEFAULT NULL,
                                 delete_missing boolean DEFAULT false,
                                 if_running text DEFAULT 'wait',
                                 timeout interval DEFAULT NULL,
                                 max_delete_ratio double precision DEFAULT NULL,
                                 dry_run boolean DEFAULT false,
                                 lookback interval DEFAULT NULL,
                                 skip_unchanged boolean DEFAULT false,
                                 on_new_columns text DEFAULT 'ignore',
                                 on_missing_columns text DEFAULT 'fail',
                                 history boolean DEFAULT false)
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
  PERFORM csv_export._check_drift_options(on_new_columns, on_missing_columns, history);
  IF dry_run THEN
    PERFORM csv_export._dry_run(source, target, cursor_column, delete_missing, lookback,
                                on_new_columns, on_missing_columns, history);
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
                                  skip_unchanged, on_new_columns, on_missing_columns, history);
  EXCEPTION WHEN OTHERS OR query_canceled THEN
    -- everything the block did is undone (the drift's DDL too); keep the
    -- error to record it.  A cancel or statement_timeout is caught too.
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
                                        double precision, boolean, interval, boolean, text, text,
                                        boolean) FROM PUBLIC;

-- schedule, as in 1.3, passing on the drift policy and history
DROP FUNCTION csv_export.schedule(text, text, regclass, regclass, text, boolean, interval,
                                  double precision, interval, boolean);
CREATE FUNCTION csv_export.schedule(job_name text, schedule text,
                                    source regclass, target regclass,
                                    cursor_column text DEFAULT NULL,
                                    delete_missing boolean DEFAULT false,
                                    timeout interval DEFAULT NULL,
                                    max_delete_ratio double precision DEFAULT NULL,
                                    lookback interval DEFAULT NULL,
                                    skip_unchanged boolean DEFAULT false,
                                    on_new_columns text DEFAULT 'ignore',
                                    on_missing_columns text DEFAULT 'fail',
                                    history boolean DEFAULT false)
RETURNS bigint LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  job_id bigint;
BEGIN
  PERFORM csv_export._require_pg_cron();
  PERFORM csv_export._check_sync_arguments(cursor_column, delete_missing);
  PERFORM csv_export._check_run_options('skip', timeout, max_delete_ratio, delete_missing,
                                        lookback, cursor_column);
  PERFORM csv_export._check_drift_options(on_new_columns, on_missing_columns, history);
  EXECUTE 'SELECT cron.schedule($1, $2, $3)' INTO job_id
    USING job_name, schedule,
          format('CALL csv_export.sync(%L, %L, cursor_column => %L, delete_missing => %s, '
                 'if_running => ''skip''%s%s%s%s%s)',
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
                 CASE WHEN skip_unchanged THEN ', skip_unchanged => true' END,
                 concat(CASE WHEN on_new_columns <> 'ignore'
                             THEN format(', on_new_columns => %L', on_new_columns) END,
                        CASE WHEN on_missing_columns <> 'fail'
                             THEN format(', on_missing_columns => %L', on_missing_columns) END,
                        CASE WHEN history THEN ', history => true' END));
  RETURN job_id;
END $$;
REVOKE ALL ON FUNCTION csv_export.schedule(text, text, regclass, regclass, text, boolean,
                                           interval, double precision, interval, boolean, text,
                                           text, boolean)
  FROM PUBLIC;

CREATE OR REPLACE FUNCTION csv_export._sync_routines() RETURNS regprocedure[]
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT ARRAY['csv_export.sync(regclass,regclass,text,boolean,text,interval,double precision,boolean,interval,boolean,text,text,boolean)',
               'csv_export.schedule(text,text,regclass,regclass,text,boolean,interval,double precision,interval,boolean,text,text,boolean)',
               'csv_export.unschedule(text)',
               'csv_export.refresh_columns(regclass,regclass)',
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
               'csv_export._sync_statements(regclass,regclass,text,text,text[],boolean)',
               'csv_export._merge_directly(text,timestamptz)',
               'csv_export._sync_shape(regclass,regclass,text,text[],boolean)',
               'csv_export._check_history_target(regclass,text[])',
               'csv_export._sync_assignments(text[],text[],boolean,boolean)',
               'csv_export._apply_export(regclass,regclass,text,text,boolean,timestamptz,double precision,interval,boolean,text[],boolean)',
               'csv_export._apply_staged(regclass,regclass,text,text,text,text,text,text,timestamptz,double precision,boolean,text[],boolean)',
               'csv_export._apply_run(bigint,regclass,regclass,text,text,timestamptz,boolean,double precision,interval,boolean,text,text,boolean)',
               'csv_export._expect_export(regclass,text,text)',
               'csv_export._export_fetched(regclass)',
               'csv_export._run_note_export(bigint,text,text,bytea)',
               'csv_export._arm_run_timeout(interval)',
               'csv_export._disarm_run_timeout()',
               'csv_export._run_timed_out()',
               'csv_export._check_run_options(text,interval,double precision,boolean,interval,text)',
               'csv_export._check_drift_options(text,text,boolean)',
               'csv_export._lookback_from(regclass,text,text,interval)',
               'csv_export._try_direct_merge(text,regclass,timestamptz)',
               'csv_export._stage_export(text,text,text)',
               'csv_export._sync_counts(regclass,regclass,text,text[],boolean)',
               'csv_export._check_delete_ratio(regclass,regclass,double precision,text[],boolean)',
               'csv_export._dry_run(regclass,regclass,text,boolean,interval,text,text,boolean)',
               'csv_export._lock_target(regclass,text)',
               'csv_export._notify(bigint,regclass,regclass,text,text,text)',
               'csv_export._run_skip(bigint,regclass)',
               'csv_export._run_apply(bigint,regclass,regclass,text,text,timestamptz,boolean,double precision,interval,boolean,text,text,boolean)',
               'csv_export._run_fail(bigint,regclass,regclass,interval,text,timestamptz,text,text,text,text,text)',
               'csv_export._export_columns(regclass)',
               'csv_export._allow_missing_columns(regclass,text[])',
               'csv_export._record_schema_change(bigint,regclass,regclass,text,text,text)',
               'csv_export._export_drift(regclass)',
               'csv_export._announce_schema_change(bigint,regclass,regclass,text,text,text,text)',
               'csv_export._add_drift_column(bigint,regclass,regclass,text,text,text,text)',
               'csv_export._widen_drift_column(bigint,regclass,regclass,text)',
               'csv_export._apply_drift(bigint,regclass,regclass,text,text,text[],boolean)',
               'csv_export._note_missing_columns(bigint,regclass,regclass,text[],boolean)',
               'csv_export._note_returned_columns(bigint,regclass,regclass,text[])',
               'csv_export._last_column_change(regclass,text)',
               'csv_export._check_drift_rejects(regclass,timestamptz,text[])',
               'csv_export._drift_added(regclass,text,text[])',
               'csv_export._require_pg_cron()',
               'csv_export._run_start(regclass,regclass,text)',
               'csv_export._run_claim(bigint)',
               'csv_export._run_finish(bigint,text,text,text,text,text,timestamptz,bigint,bigint,bigint,bigint,bigint)'
              ]::regprocedure[]
$$;

-- roles that could run syncs under 1.3 can still run them, with 1.4's routines
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
