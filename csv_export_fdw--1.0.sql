/* csv_export_fdw--1.0.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION csv_export_fdw" to load this file. \quit

CREATE FUNCTION csv_export_fdw_handler()
RETURNS fdw_handler
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT;

CREATE FUNCTION csv_export_fdw_validator(text[], oid)
RETURNS void
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT;

CREATE FOREIGN DATA WRAPPER csv_export_fdw
  HANDLER csv_export_fdw_handler
  VALIDATOR csv_export_fdw_validator;

--
-- Rows skipped by on_error 'skip'
--
CREATE TABLE csv_export.rejects (
  reject_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  foreign_table  regclass NOT NULL,
  url            text NOT NULL,          -- redacted
  page           integer,                -- of a paged export; NULL if not paged
  line           bigint NOT NULL,        -- physical line the record starts on
  column_name    text,                   -- when one column was to blame
  error          text NOT NULL,
  raw_record     text,                   -- as CSV, at most 8 kB; NULL if too long
  rejected_at    timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
  transaction_id xid8 NOT NULL DEFAULT pg_catalog.pg_current_xact_id()
);
CREATE INDEX ON csv_export.rejects (foreign_table, rejected_at);
SELECT pg_catalog.pg_extension_config_dump('csv_export.rejects', '');

--
-- Sync: apply a foreign table's rows to a real table, with a checkpoint
--

-- One row per target table: where its syncs got to.
CREATE TABLE csv_export.sync_state (
  target             regclass PRIMARY KEY,
  source             regclass NOT NULL,
  cursor_column      text,
  cursor_value       text,
  last_started_at    timestamptz,
  last_finished_at   timestamptz,
  last_status        text CHECK (last_status IN ('succeeded', 'failed')),
  last_error         text,
  last_rows_upserted bigint,
  last_rows_deleted  bigint,
  last_rows_rejected bigint,
  runs               bigint NOT NULL DEFAULT 0
);

-- One row per run.
CREATE TABLE csv_export.sync_log (
  run_id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  target         regclass NOT NULL,
  source         regclass NOT NULL,
  started_at     timestamptz NOT NULL,
  finished_at    timestamptz NOT NULL,
  status         text NOT NULL CHECK (status IN ('succeeded', 'failed')),
  error          text,
  error_sqlstate text,
  cursor_column  text,
  cursor_before  text,
  cursor_after   text,
  rows_fetched   bigint,
  rows_upserted  bigint,
  rows_deleted   bigint,
  rows_rejected  bigint
);
CREATE INDEX ON csv_export.sync_log (target, run_id);

SELECT pg_catalog.pg_extension_config_dump('csv_export.sync_state', '');
SELECT pg_catalog.pg_extension_config_dump('csv_export.sync_log', '');

CREATE FUNCTION csv_export._transaction_control_allowed() RETURNS boolean
AS 'MODULE_PATHNAME', 'csv_export_transaction_control_allowed'
LANGUAGE C STRICT;

CREATE FUNCTION csv_export._report(message text) RETURNS void
AS 'MODULE_PATHNAME', 'csv_export_report'
LANGUAGE C STRICT;

-- raise an error with exactly these parts, without PL/pgSQL's call stack
CREATE FUNCTION csv_export._raise(sqlstate text, message text, detail text DEFAULT NULL,
                                  hint text DEFAULT NULL, context text DEFAULT NULL,
                                  sync_name text DEFAULT NULL) RETURNS void
AS 'MODULE_PATHNAME', 'csv_export_raise'
LANGUAGE C;

-- where an export row stands against the target of a full sync: NULL (key
-- not there), the target row's ctid (some column differs) or '(0,0)'
-- (unchanged); see src/sync_match.c
CREATE FUNCTION csv_export._sync_match(target regclass, export_row record) RETURNS tid
AS 'MODULE_PATHNAME', 'csv_export_sync_match'
LANGUAGE C VOLATILE;

-- rows the last _sync_match looked at; reading starts a new count
CREATE FUNCTION csv_export._sync_match_rows() RETURNS bigint
AS 'MODULE_PATHNAME', 'csv_export_sync_match_rows'
LANGUAGE C VOLATILE;

-- schema-qualified, quoted name of a relation, for generated SQL
CREATE FUNCTION csv_export._qualified_name(rel regclass) RETURNS text
LANGUAGE sql STABLE STRICT AS $$
  SELECT pg_catalog.format('%I.%I', n.nspname, c.relname)
    FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
   WHERE c.oid = rel
$$;

-- user columns of a relation: name, type as written, and whether it is
-- part of the primary key
CREATE FUNCTION csv_export._columns(rel regclass)
RETURNS TABLE (name text, type text, in_key boolean)
LANGUAGE sql STABLE STRICT AS $$
  SELECT a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod),
         EXISTS (SELECT 1 FROM pg_catalog.pg_index i
                  WHERE i.indrelid = a.attrelid AND i.indisprimary
                    AND a.attnum = ANY (i.indkey))
    FROM pg_catalog.pg_attribute a
   WHERE a.attrelid = rel AND a.attnum > 0 AND NOT a.attisdropped
     AND a.attgenerated = ''
   ORDER BY a.attnum
$$;

-- _sync_match reads the target's heap and primary key directly: a plain
-- table, and no row-level security to bypass
CREATE FUNCTION csv_export._direct_merge_possible(target regclass) RETURNS boolean
LANGUAGE sql STABLE STRICT AS $$
  SELECT c.relkind = 'r' AND NOT pg_catalog.row_security_active(c.oid)
    FROM pg_catalog.pg_class c WHERE c.oid = target
$$;

CREATE FUNCTION csv_export._check_sync_arguments(cursor_column text, delete_missing boolean)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF cursor_column IS NOT NULL AND delete_missing THEN
    PERFORM csv_export._raise('22023', 'delete_missing cannot be combined with cursor_column',
      detail => 'An incremental export holds only the rows that changed, so a row missing from it was not deleted.');
  END IF;
END $$;

/*
 * The SQL statements of one sync, generated from the two tables' columns:
 * staging (fetch the export once, into a temporary table), merge (insert new
 * keys, update changed rows, leave unchanged rows untouched) and
 * delete_missing (hard or soft delete of keys absent from the export); and
 * direct_merge, which does what staging and merge do in one pass over the
 * export, for a full sync whose export has no repeated keys.
 */
CREATE FUNCTION csv_export._sync_statements(
  source regclass, target regclass, cursor_column text, cursor_before text,
  OUT staging text, OUT merge text, OUT delete_missing text, OUT direct_merge text)
LANGUAGE plpgsql STABLE AS $$
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
  SELECT array_agg(t.name ORDER BY t.name) FILTER (WHERE t.in_key)
    INTO keys FROM csv_export._columns(target) t;
  IF keys IS NULL THEN
    RAISE EXCEPTION 'target table % has no primary key', target
      USING ERRCODE = 'invalid_table_definition',
            HINT = 'csv_export.sync upserts by primary key; add one to the target table.';
  END IF;

  SELECT string_agg(pg_catalog.quote_ident(k), ', ') INTO missing
    FROM unnest(keys) k
   WHERE NOT EXISTS (SELECT 1 FROM csv_export._columns(source) s WHERE s.name = k);
  IF missing IS NOT NULL THEN
    RAISE EXCEPTION 'source % lacks key column(s) % of target %', source, missing, target
      USING ERRCODE = 'undefined_column';
  END IF;

  -- columns present in both, by name; _synced_at and _deleted are ours
  SELECT array_agg(t.name ORDER BY t.name),
         array_agg(pg_catalog.format('CAST(%I AS %s) AS %I', t.name, t.type, t.name) ORDER BY t.name)
    INTO copied, copied_sql
    FROM csv_export._columns(target) t JOIN csv_export._columns(source) s USING (name)
   WHERE t.name NOT IN ('_synced_at', '_deleted');
  SELECT EXISTS (SELECT 1 FROM csv_export._columns(target)
                  WHERE name = '_synced_at' AND type = 'timestamp with time zone'),
         EXISTS (SELECT 1 FROM csv_export._columns(target)
                  WHERE name = '_deleted' AND type = 'boolean')
    INTO has_synced_at, has_deleted;

  -- the export row as the target has it; _deleted false, so that a row
  -- soft-deleted in the target counts as changed
  export_row := pg_catalog.format('SELECT %s%s FROM %s', array_to_string(copied_sql, ', '),
                                  CASE WHEN has_deleted THEN ', false AS _deleted' ELSE '' END,
                                  src_name);

  IF cursor_column IS NOT NULL THEN
    SELECT s.type INTO cursor_type FROM csv_export._columns(source) s WHERE s.name = cursor_column;
    IF cursor_type IS NULL THEN
      RAISE EXCEPTION 'cursor column "%" does not exist in source %', cursor_column, source
        USING ERRCODE = 'undefined_column';
    END IF;
    copied_sql := copied_sql || pg_catalog.format('%I AS _csv_export_cursor', cursor_column);
    IF cursor_before IS NOT NULL THEN
      where_sql := pg_catalog.format(' WHERE %I > CAST(%L AS %s)', cursor_column, cursor_before, cursor_type);
    END IF;
  END IF;

  -- row_number() over the scan keeps the export's order, so that of two
  -- rows with the same key the later one wins
  staging := pg_catalog.format(
    'CREATE TEMPORARY TABLE csv_export_sync_staging ON COMMIT DROP AS '
    'SELECT pg_catalog.row_number() OVER () AS _csv_export_ord, %s FROM %s%s',
    array_to_string(copied_sql, ', '), src_name, where_sql);

  SELECT string_agg(pg_catalog.format('t.%1$I = s.%1$I', k), ' AND '),
         string_agg(pg_catalog.quote_ident(k), ', ')
    INTO key_match, key_list FROM unnest(keys) k;
  SELECT array_agg(pg_catalog.format('%1$I = s.%1$I', c)), 
         pg_catalog.format('ROW(%s) IS DISTINCT FROM ROW(%s)',
                string_agg('t.' || pg_catalog.quote_ident(c), ', '),
                string_agg('s.' || pg_catalog.quote_ident(c), ', '))
    INTO updates, changed
    FROM unnest(copied) c WHERE c <> ALL (keys);
  SELECT array_agg(pg_catalog.quote_ident(c)), array_agg('s.' || pg_catalog.quote_ident(c))
    INTO inserts, insert_values FROM unnest(copied) c;

  IF has_deleted THEN
    -- a row that comes back after a soft delete is live again
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

  merge := pg_catalog.format(
    'MERGE INTO %s t USING (SELECT DISTINCT ON (%s) * FROM pg_temp.csv_export_sync_staging '
    'ORDER BY %s, _csv_export_ord DESC) s ON %s',
    tgt_name, key_list, key_list, key_match);
  IF changed IS NOT NULL THEN
    merge := merge || pg_catalog.format(' WHEN MATCHED AND (%s) THEN UPDATE SET %s',
                                        changed, array_to_string(updates, ', '));
  END IF;
  merge := merge || pg_catalog.format(' WHEN NOT MATCHED THEN INSERT (%s) VALUES (%s)',
                                      array_to_string(inserts, ', '),
                                      array_to_string(insert_values, ', '));

  -- _sync_match passes on only new and changed rows, the changed ones with
  -- the ctid of the target row to update
  direct_merge := pg_catalog.format(
    'MERGE INTO %s t USING (SELECT * FROM (SELECT r.*, csv_export._sync_match(%s::regclass, r) AS _csv_export_tid '
    'FROM (%s) r) m WHERE _csv_export_tid IS DISTINCT FROM ''(0,0)'') s ON t.ctid = s._csv_export_tid',
    tgt_name, target::oid, export_row);
  IF updates IS NOT NULL THEN
    direct_merge := direct_merge || pg_catalog.format(' WHEN MATCHED THEN UPDATE SET %s',
                                                      array_to_string(updates, ', '));
  END IF;
  direct_merge := direct_merge || pg_catalog.format(' WHEN NOT MATCHED THEN INSERT (%s) VALUES (%s)',
                                                    array_to_string(inserts, ', '),
                                                    array_to_string(insert_values, ', '));

  delete_missing := pg_catalog.format(
    'NOT EXISTS (SELECT 1 FROM pg_temp.csv_export_sync_staging s WHERE %s)', key_match);
  IF has_deleted THEN
    delete_missing := pg_catalog.format('UPDATE %s t SET _deleted = true%s WHERE t._deleted IS NOT TRUE AND %s',
                                        tgt_name, CASE WHEN has_synced_at THEN ', _synced_at = $1' ELSE '' END,
                                        delete_missing);
  ELSE
    delete_missing := pg_catalog.format('DELETE FROM %s t WHERE %s', tgt_name, delete_missing);
  END IF;
END $$;

CREATE PROCEDURE csv_export.sync(source regclass, target regclass,
                                 cursor_column text DEFAULT NULL,
                                 delete_missing boolean DEFAULT false)
LANGUAGE plpgsql AS $$
#variable_conflict use_variable
DECLARE
  started_at    timestamptz;
  stored        csv_export.sync_state;
  statements    record;
  cursor_before text;
  cursor_after  text;
  fetched       bigint;
  upserted      bigint := 0;
  deleted       bigint := 0;
  rejected      bigint := 0;
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

  -- one sync per target at a time: held until this run's data and
  -- checkpoint commit, or its failure is recorded
  PERFORM pg_catalog.pg_advisory_xact_lock(1668511862, target::oid::integer);
  started_at := pg_catalog.clock_timestamp();

  INSERT INTO csv_export.sync_state (target, source) VALUES (target, source)
    ON CONFLICT DO NOTHING;
  SELECT * INTO stored FROM csv_export.sync_state s WHERE s.target = sync.target FOR UPDATE;
  IF cursor_column IS NOT NULL AND stored.cursor_column IS NOT DISTINCT FROM cursor_column THEN
    cursor_before := stored.cursor_value;
  END IF;

  BEGIN
    PERFORM csv_export._report(pg_catalog.format('fetching %s into %s%s', source, target,
      CASE WHEN cursor_before IS NOT NULL
           THEN pg_catalog.format(' (rows with %I > %s)', cursor_column, cursor_before)
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
        EXECUTE 'SELECT pg_catalog.to_jsonb(max(_csv_export_cursor)) #>> ''{}'' FROM pg_temp.csv_export_sync_staging'
          INTO cursor_after;
      END IF;
      EXECUTE statements.merge USING started_at;
      GET DIAGNOSTICS upserted = ROW_COUNT;
    END IF;
    cursor_after := coalesce(cursor_after, cursor_before);
    -- rows the scan skipped (on_error 'skip') in this run
    SELECT count(*) INTO rejected FROM csv_export.rejects r
     WHERE r.foreign_table = sync.source AND r.rejected_at >= started_at
       AND r.transaction_id = pg_catalog.pg_current_xact_id();
    PERFORM csv_export._report(pg_catalog.format('%s rows fetched, %s upserted%s', fetched, upserted,
      CASE WHEN rejected > 0 THEN pg_catalog.format(', %s rejected', rejected) ELSE '' END));

    IF delete_missing AND fetched = 0 THEN
      RAISE WARNING 'export % has no rows; nothing was deleted from %', source, target
        USING DETAIL = 'An empty export is more likely an API hiccup than every row deleted.';
    ELSIF delete_missing THEN
      EXECUTE statements.delete_missing USING started_at;
      GET DIAGNOSTICS deleted = ROW_COUNT;
      PERFORM csv_export._report(pg_catalog.format('%s rows deleted', deleted));
    END IF;

    -- the checkpoint commits together with the data
    UPDATE csv_export.sync_state s
       SET source = sync.source,
           cursor_column = coalesce(sync.cursor_column, s.cursor_column),
           cursor_value = CASE WHEN sync.cursor_column IS NULL THEN s.cursor_value ELSE cursor_after END,
           last_started_at = started_at, last_finished_at = pg_catalog.clock_timestamp(),
           last_status = 'succeeded', last_error = NULL,
           last_rows_upserted = upserted, last_rows_deleted = deleted,
           last_rows_rejected = rejected, runs = s.runs + 1
     WHERE s.target = sync.target;
    INSERT INTO csv_export.sync_log (target, source, started_at, finished_at, status,
                                     cursor_column, cursor_before, cursor_after,
                                     rows_fetched, rows_upserted, rows_deleted, rows_rejected)
    VALUES (target, source, started_at, pg_catalog.clock_timestamp(), 'succeeded',
            cursor_column, cursor_before, cursor_after, fetched, upserted, deleted, rejected);
    PERFORM csv_export._report(pg_catalog.format('checkpoint saved%s',
      CASE WHEN cursor_column IS NOT NULL
           THEN pg_catalog.format(' (cursor %s)', coalesce(cursor_after, 'unset')) ELSE '' END));
  EXCEPTION WHEN OTHERS THEN
    -- everything the block did is undone; keep the error to record it
    GET STACKED DIAGNOSTICS err_sqlstate = RETURNED_SQLSTATE, err_message = MESSAGE_TEXT,
                            err_detail = PG_EXCEPTION_DETAIL, err_hint = PG_EXCEPTION_HINT,
                            err_context = PG_EXCEPTION_CONTEXT;
  END;

  IF err_sqlstate IS NULL THEN
    RETURN;
  END IF;

  UPDATE csv_export.sync_state s
     SET last_started_at = started_at, last_finished_at = pg_catalog.clock_timestamp(),
         last_status = 'failed', last_error = err_message,
         last_rows_upserted = 0, last_rows_deleted = 0, last_rows_rejected = 0,
         runs = s.runs + 1
   WHERE s.target = sync.target;
  INSERT INTO csv_export.sync_log (target, source, started_at, finished_at, status, error,
                                   error_sqlstate, cursor_column, cursor_before, cursor_after,
                                   rows_upserted, rows_deleted)
  VALUES (target, source, started_at, pg_catalog.clock_timestamp(), 'failed', err_message,
          err_sqlstate, cursor_column, cursor_before, cursor_before, 0, 0);
  -- record the failure for good, then fail the CALL, so that a scheduler
  -- sees the run fail; inside a transaction block the record goes with it
  IF csv_export._transaction_control_allowed() THEN
    COMMIT;
  END IF;
  PERFORM csv_export._raise(err_sqlstate, err_message, NULLIF(err_detail, ''),
                              NULLIF(err_hint, ''), NULLIF(err_context, ''),
                              pg_catalog.format('csv_export.sync of %s into %s', source, target));
END $$;

--
-- Scheduling with pg_cron
--

CREATE FUNCTION csv_export._require_pg_cron() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'pg_cron') THEN
    PERFORM csv_export._raise('42704', 'pg_cron is not installed in this database',
      hint => 'Add pg_cron to shared_preload_libraries, restart the server, and run CREATE EXTENSION pg_cron in the database named by cron.database_name.');
  END IF;
END $$;

CREATE FUNCTION csv_export.schedule(job_name text, schedule text,
                                    source regclass, target regclass,
                                    cursor_column text DEFAULT NULL,
                                    delete_missing boolean DEFAULT false)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  job_id bigint;
BEGIN
  PERFORM csv_export._require_pg_cron();
  PERFORM csv_export._check_sync_arguments(cursor_column, delete_missing);
  EXECUTE 'SELECT cron.schedule($1, $2, $3)' INTO job_id
    USING job_name, schedule,
          pg_catalog.format('CALL csv_export.sync(%L, %L, cursor_column => %L, delete_missing => %s)',
                            csv_export._qualified_name(source), csv_export._qualified_name(target),
                            cursor_column, CASE WHEN delete_missing THEN 'true' ELSE 'false' END);
  RETURN job_id;
END $$;

CREATE FUNCTION csv_export.unschedule(job_name text) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
  removed boolean;
BEGIN
  PERFORM csv_export._require_pg_cron();
  EXECUTE 'SELECT EXISTS (SELECT 1 FROM cron.job WHERE jobname = $1 AND username = current_user)'
    INTO removed USING job_name;
  IF removed THEN
    EXECUTE 'SELECT cron.unschedule($1)' INTO removed USING job_name;
  END IF;
  RETURN removed;
END $$;
