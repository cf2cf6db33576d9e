--
-- csv_export.sync gives the same table whatever order the export's keys
-- come in: random UUIDs, shuffled, descending, in sorted runs, with
-- repeated keys, into an empty target and onto an earlier version.
--
SET timezone = 'UTC';
SET client_min_messages = warning;

CREATE SERVER order_api FOREIGN DATA WRAPPER csv_export_fdw
  OPTIONS (base_url 'http://127.0.0.1:5001');

-- export_<order>: the user export with UUID keys in that order; the
-- version and repeat options are set per step below
CREATE PROCEDURE make_exports(query text) LANGUAGE plpgsql AS $$
DECLARE
  o text;
BEGIN
  FOREACH o IN ARRAY ARRAY['sorted', 'shuffled', 'descending', 'runs'] LOOP
    EXECUTE format('DROP FOREIGN TABLE IF EXISTS %I', 'export_' || o);
    EXECUTE format('CREATE FOREIGN TABLE %I (id text, name text, email text, address text,
                      company text, job text, "updatedAt" timestamptz, "createdAt" timestamptz)
                    SERVER order_api OPTIONS (path %L)',
                   'export_' || o, '/export/csv?order=' || o || '&' || query);
  END LOOP;
END $$;

CREATE TABLE target_sorted (id text PRIMARY KEY, name text, email text, address text,
                            company text, job text, "updatedAt" timestamptz, "createdAt" timestamptz);
CREATE TABLE target_shuffled (LIKE target_sorted INCLUDING ALL);
CREATE TABLE target_descending (LIKE target_sorted INCLUDING ALL);
CREATE TABLE target_runs (LIKE target_sorted INCLUDING ALL);
-- a two-column key is looked up by equality, never walked
CREATE TABLE target_two_keys (LIKE target_sorted, PRIMARY KEY (email, id));

CREATE PROCEDURE sync_all() LANGUAGE plpgsql AS $$
DECLARE
  o text;
BEGIN
  FOREACH o IN ARRAY ARRAY['sorted', 'shuffled', 'descending', 'runs'] LOOP
    CALL csv_export.sync(('export_' || o)::regclass, ('target_' || o)::regclass);
  END LOOP;
  CALL csv_export.sync('export_shuffled', 'target_two_keys');
END $$;

-- rows of an export (the last row of a repeated key) missing from its
-- target, and rows that differ from the target synced from the sorted export
CREATE FUNCTION count_rows(query text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  n bigint;
BEGIN
  EXECUTE format('SELECT count(*) FROM (%s) q', query) INTO n;
  RETURN n;
END $$;
CREATE FUNCTION last_row_of_each_key(export text) RETURNS text LANGUAGE sql AS $$
  SELECT format('SELECT id, name, email, address, company, job, "updatedAt", "createdAt"
                   FROM (SELECT DISTINCT ON (id) * FROM (SELECT *, row_number() OVER () AS n FROM %I) e
                          ORDER BY id, n DESC) l', export)
$$;

CREATE VIEW comparison AS
  SELECT t AS target,
         count_rows(format('%s EXCEPT TABLE %I', last_row_of_each_key(e), t)) AS missing,
         count_rows(format('(TABLE target_sorted EXCEPT TABLE %1$I) UNION ALL
                            (TABLE %1$I EXCEPT TABLE target_sorted)', t)) AS differing_from_sorted,
         (SELECT array_agg(l.rows_fetched || '/' || l.rows_upserted ORDER BY l.run_id)
            FROM csv_export.sync_log l WHERE l.target = t::regclass) AS "fetched/upserted"
    FROM (VALUES ('target_sorted', 'export_sorted'), ('target_shuffled', 'export_shuffled'),
                 ('target_descending', 'export_descending'), ('target_runs', 'export_runs'),
                 ('target_two_keys', 'export_shuffled')) v(t, e);

-- 3,000 rows into empty targets
CALL make_exports('rows=3000');
SELECT id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-4' AS uuid_key FROM export_shuffled LIMIT 1;
SELECT count(*) FILTER (WHERE id > lag) AS ascending, count(*) FILTER (WHERE id < lag) AS descending
  FROM (SELECT id, lag(id) OVER () FROM export_shuffled) s;
CALL sync_all();
SELECT * FROM comparison;
SELECT count(*) FROM target_sorted;

-- the next version: 300 rows change, 60 go, 15 come
CALL make_exports('rows=3000&version=2');
CALL sync_all();
SELECT * FROM comparison;
SELECT count(*), count(*) FILTER (WHERE name LIKE '%(v2)') AS changed FROM target_sorted;

-- unchanged: nothing written, whatever the order
CALL sync_all();
SELECT * FROM comparison;

-- every 7th key repeated 3 rows later with another name: staged, and the
-- last row of each key wins, in every order (shuffled, the last row of a
-- key may be its first copy, so that target differs from the sorted one)
CALL make_exports('rows=3000&version=2&repeat=7');
CALL sync_all();
SELECT * FROM comparison;
SELECT count(*) FILTER (WHERE name LIKE '%(again)') AS last_rows_won FROM target_descending;

-- keys of the export far apart in the target (20 other keys between two of
-- them): walking along the index gives up and descends, and every row of
-- the export is found unchanged
CALL make_exports('rows=3000&version=2');
CREATE TABLE target_sparse (LIKE target_sorted INCLUDING ALL);
INSERT INTO target_sparse SELECT * FROM export_sorted;
INSERT INTO target_sparse (id, name)
  SELECT id || '-' || g, 'not in the export' FROM export_sorted, generate_series(1, 20) g;
CALL csv_export.sync('export_sorted', 'target_sparse');
SELECT rows_fetched, rows_upserted FROM csv_export.sync_log
 WHERE target = 'target_sparse'::regclass;
SELECT count(*) FROM target_sparse;
SELECT count_rows(format('%s EXCEPT TABLE target_sparse', last_row_of_each_key('export_sorted'))) AS missing;

-- the work is linear in the export: looking up a key never walks over the
-- index entries of the rows this sync has inserted (invisible to it), so
-- filling an empty target reads about one heap page per row; a walk over
-- them read about a quarter of the export's rows per row
CREATE TABLE target_fresh (LIKE target_sorted INCLUDING ALL);
CALL make_exports('rows=6000');
CALL csv_export.sync('export_shuffled', 'target_fresh');
SELECT pg_stat_force_next_flush();
SELECT count(*) AS rows, heap_blks_read + heap_blks_hit < 3 * count(*) AS heap_pages_linear
  FROM target_fresh, pg_statio_user_tables WHERE relid = 'target_fresh'::regclass
 GROUP BY heap_blks_read, heap_blks_hit;

-- the same into a target whose statistics say it is empty (VACUUM and
-- ANALYZE of an empty table): the planner must not scan the target once
-- per export row, which read every row the sync had inserted so far
CREATE TABLE target_analyzed (LIKE target_sorted INCLUDING ALL);
VACUUM ANALYZE target_analyzed;
CALL csv_export.sync('export_shuffled', 'target_analyzed');
SELECT pg_stat_force_next_flush();
SELECT count(*) AS rows, heap_blks_read + heap_blks_hit < 3 * count(*) AS heap_pages_linear
  FROM target_analyzed, pg_statio_user_tables WHERE relid = 'target_analyzed'::regclass
 GROUP BY heap_blks_read, heap_blks_hit;
SELECT count_rows('TABLE target_fresh EXCEPT TABLE target_analyzed') AS different;

-- an empty target takes the export in the order of its primary key, so
-- that each row goes into the index at its right end (a descent into an
-- index that outgrows the CPU's caches made the first sync superlinear);
-- a session with a temp_file_limit, which the sort could pass, keeps
-- export order.  The same rows either way.  (In key order, a row follows
-- a smaller key on the heap, except for the few that PostgreSQL puts into
-- room left on an earlier page; in export order, half the rows do not.)
CREATE TABLE target_limited (LIKE target_sorted INCLUDING ALL);
SET temp_file_limit = '1GB';
CALL csv_export.sync('export_shuffled', 'target_limited');
RESET temp_file_limit;
SELECT t AS target, count_rows(format(
         'SELECT 1 FROM (SELECT id, lag(id) OVER (ORDER BY ctid) AS previous FROM %I) s
           WHERE id < previous', t)) < 6000 / 100 AS in_key_order
  FROM unnest(ARRAY['target_fresh', 'target_analyzed', 'target_limited']) t;
SELECT count_rows('TABLE target_fresh EXCEPT TABLE target_limited') AS different;

-- onto a target with rows, too, the MERGE writes in key order: the new
-- versions of the rows that changed (every tenth, export version 2,
-- shuffled) are appended to the heap in key order, so that a target a
-- first sync laid out in key order stays so, and each new index entry goes
-- where the one before it went.  A temp_file_limit keeps export order.
CALL make_exports('rows=6000&version=2');
CALL csv_export.sync('export_shuffled', 'target_fresh');
SET temp_file_limit = '1GB';
CALL csv_export.sync('export_shuffled', 'target_limited');
RESET temp_file_limit;
SELECT t AS target, count_rows(format(
         'SELECT 1 FROM (SELECT id, lag(id) OVER (ORDER BY ctid) AS previous FROM %I
                          WHERE name LIKE ''%%(v2)'') s
           WHERE id < previous', t)) < 600 / 100 AS changed_in_key_order,
       count_rows(format('SELECT 1 FROM %I WHERE name LIKE ''%%(v2)''', t)) AS changed
  FROM unnest(ARRAY['target_fresh', 'target_limited']) t;
SELECT count_rows('TABLE target_fresh EXCEPT TABLE target_limited') AS different,
       count_rows(format('%s EXCEPT TABLE target_fresh',
                         last_row_of_each_key('export_shuffled'))) AS missing;

-- the order is the primary key's own, under its collation, not the
-- export column's: a key declared COLLATE "und-x-icu" (a before B) on a
-- database whose default is C (B before a) gets its rows in the ICU
-- order, on the first run and onto the rows it has
CREATE FOREIGN TABLE export_mixed_case (id text, name text)
  SERVER order_api OPTIONS (path '/fixtures/mixed_case_keys.csv');
CREATE TABLE target_icu_key (id text COLLATE "und-x-icu" PRIMARY KEY, name text);
CALL csv_export.sync('export_mixed_case', 'target_icu_key');
SELECT string_agg(id, ' ' ORDER BY ctid) AS heap_order FROM target_icu_key;
ALTER FOREIGN TABLE export_mixed_case OPTIONS (SET path '/fixtures/mixed_case_keys_2.csv');
CALL csv_export.sync('export_mixed_case', 'target_icu_key');
SELECT string_agg(id, ' ' ORDER BY ctid) AS heap_order FROM target_icu_key WHERE name LIKE '%(v2)';

-- the direct MERGE reaches each changed row through its ctid, not through
-- a second lookup in the index, and checks the row's key there under the
-- key's own collation (_sync_match may pass on a row found by the hash of
-- its key alone)
CREATE FUNCTION plan_of_direct_merge(source regclass, target regclass) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
  line text;
BEGIN
  -- the planner settings the MERGE runs with
  PERFORM set_config(split_part(setting, '=', 1), split_part(setting, '=', 2), true)
     FROM pg_proc, unnest(proconfig) setting
    WHERE oid = 'csv_export._merge_directly(text,timestamptz)'::regprocedure
      AND setting LIKE 'enable%';
  FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || (SELECT direct_merge
      FROM csv_export._sync_statements(source, target, NULL, NULL, '{}', false)) LOOP
    IF line ~ 'Scan|Cond|Filter' THEN
      RETURN NEXT btrim(line, ' ->');
    END IF;
  END LOOP;
END $$;
SELECT plan_of_direct_merge('export_mixed_case', 'target_icu_key');
SELECT substring(direct_merge FROM ' ON (.*) WHEN MATCHED') AS join_condition
  FROM csv_export._sync_statements('export_mixed_case', 'target_icu_key', NULL, NULL, '{}', false);

-- onto a target of 40,000 rows, keys in random order: after as many
-- descents of the primary key as the target has pages, the target is read
-- into a hash table and the other keys are not looked up in the index;
-- where that table would not fit in maintenance_work_mem every key is
-- looked up in the index instead.  The same rows either way.
CALL make_exports('rows=40000');
CREATE TABLE target_mapped (LIKE target_sorted INCLUDING ALL);
INSERT INTO target_mapped SELECT * FROM export_sorted;
UPDATE target_mapped SET name = name || ' (old)' WHERE id < '4';
CREATE TABLE target_descended (LIKE target_sorted INCLUDING ALL);
INSERT INTO target_descended SELECT * FROM target_mapped;
VACUUM ANALYZE target_mapped, target_descended;
CALL csv_export.sync('export_shuffled', 'target_mapped');
SET maintenance_work_mem = '1MB';
CALL csv_export.sync('export_shuffled', 'target_descended');
RESET maintenance_work_mem;
SELECT pg_stat_force_next_flush();
SELECT c.relname, l.rows_fetched, l.rows_upserted,
       s.idx_scan < pg_relation_size(c.oid) / 8192 * 2 AS few_descents,
       s.idx_scan > 35000 AS descended_for_most_rows
  FROM pg_class c
  JOIN csv_export.sync_log l ON l.target = c.oid
  JOIN pg_stat_user_indexes s ON s.relid = c.oid
 WHERE c.relname IN ('target_mapped', 'target_descended') ORDER BY c.relname;
SELECT count_rows('TABLE export_sorted EXCEPT TABLE target_mapped') AS mapped_differs,
       count_rows('TABLE export_sorted EXCEPT TABLE target_descended') AS descended_differs,
       (SELECT count(*) FROM target_mapped) AS rows;

-- the same export again, nothing changed, onto the target in key order:
-- each export row is compared with a fingerprint of its target row's
-- values, kept in the hash table, not with the row itself, which would be
-- a random page of the heap for each row.  The heap is read about twice
-- (the lookups before the table is read, then the read), not once a row.
-- Where maintenance_work_mem has room for the table but not for the
-- fingerprints, the table gives them up, and each row found
-- is fetched and compared; the rows changed since (the keys below '2')
-- are written either way.
CREATE TEMP TABLE reads (n serial, run text, heap bigint, descents bigint,
                         rows_fetched bigint, rows_upserted bigint);
CREATE PROCEDURE note_reads(run text) LANGUAGE sql AS $$
  INSERT INTO reads (run, heap, descents, rows_fetched, rows_upserted)
    SELECT run, h.heap_blks_read + h.heap_blks_hit, s.idx_scan, l.rows_fetched, l.rows_upserted
      FROM pg_statio_user_tables h JOIN pg_stat_user_tables s USING (relid)
      LEFT JOIN LATERAL (SELECT rows_fetched, rows_upserted FROM csv_export.sync_log
                          WHERE target = s.relid ORDER BY run_id DESC LIMIT 1) l ON true
     WHERE relid = 'target_mapped'::regclass
$$;
SELECT pg_stat_force_next_flush();
CALL note_reads('before');
CALL csv_export.sync('export_shuffled', 'target_mapped');
SELECT pg_stat_force_next_flush();
CALL note_reads('unchanged');
UPDATE target_mapped SET name = name || ' (old)' WHERE id < '2';
SET maintenance_work_mem = '2500kB';
CALL csv_export.sync('export_shuffled', 'target_mapped');
RESET maintenance_work_mem;
SELECT pg_stat_force_next_flush();
CALL note_reads('no room for fingerprints');
SELECT run, rows_fetched, rows_upserted,
       heap - lag(heap) OVER w < 4 * pg_relation_size('target_mapped') / 8192
         AS heap_read_page_by_page,
       descents - lag(descents) OVER w < pg_relation_size('target_mapped') / 8192 * 2
         AS few_descents
  FROM reads WINDOW w AS (ORDER BY n) ORDER BY n OFFSET 1;
SELECT count_rows('TABLE export_sorted EXCEPT TABLE target_mapped') AS mapped_differs;

-- keys the target does not have are not remembered: a repeat of one fails
-- the primary key's unique check, and the export is then staged.  So a
-- first sync of 70,000 random keys, with maintenance_work_mem (1MB) room
-- for 65,536 remembered keys, goes in one pass; the same export with
-- repeated keys is staged, and the last row of each key wins
SET maintenance_work_mem = '1MB';
SET client_min_messages = notice;
CALL make_exports('rows=70000');
CREATE TABLE target_first (LIKE target_sorted INCLUDING ALL);
CALL csv_export.sync('export_shuffled', 'target_first');
CALL make_exports('rows=3000&repeat=7');
CREATE TABLE target_first_repeats (LIKE target_sorted INCLUDING ALL);
CALL csv_export.sync('export_shuffled', 'target_first_repeats');
RESET client_min_messages;
SET client_min_messages = warning;
RESET maintenance_work_mem;
SELECT count(*) AS rows,
       count_rows(format('%s EXCEPT TABLE target_first_repeats',
                         last_row_of_each_key('export_shuffled'))) AS missing
  FROM target_first_repeats;

-- a primary key checked only at commit (DEFERRABLE INITIALLY DEFERRED)
-- would let a repeated new key through the direct MERGE, and PostgreSQL
-- names no deferrable key the table's primary key: such a target is
-- staged (it failed with "has no primary key")
CREATE TABLE target_deferred (LIKE target_sorted,
                              PRIMARY KEY (id) DEFERRABLE INITIALLY DEFERRED);
SET client_min_messages = notice;
CALL csv_export.sync('export_shuffled', 'target_deferred');
SET client_min_messages = warning;
SELECT count(*) AS rows,
       count_rows(format('%s EXCEPT TABLE target_deferred',
                         last_row_of_each_key('export_shuffled'))) AS missing
  FROM target_deferred;

-- a key found in the target twice must be caught: were its later row
-- unchanged, MERGE would pass it over and apply the earlier one.  Each
-- export is synced twice; the second time, the earlier row of its repeated
-- key differs from the target and the later one does not.  UUID keys in
-- export order: the first row again at the end (found before the target is
-- read into its hash table, which happens after as many rows as the target
-- has pages, and found after) and the 30,000th row again at the end (found
-- in the hash table twice)
CREATE FOREIGN TABLE export_repeats_early (id text, name text, email text, address text,
  company text, job text, "updatedAt" timestamptz, "createdAt" timestamptz)
  SERVER order_api OPTIONS (path '/export/csv?rows=40000&dup=1');
CREATE FOREIGN TABLE export_repeats_late (id text, name text, email text, address text,
  company text, job text, "updatedAt" timestamptz, "createdAt" timestamptz)
  SERVER order_api OPTIONS (path '/export/csv?rows=40000&repeat=30000');
SELECT pg_relation_size('target_mapped') / 8192 AS target_pages;
SET client_min_messages = notice;
CALL csv_export.sync('export_repeats_early', 'target_mapped');
CALL csv_export.sync('export_repeats_early', 'target_mapped');
CALL csv_export.sync('export_repeats_late', 'target_descended');
CALL csv_export.sync('export_repeats_late', 'target_descended');
SET client_min_messages = warning;
SELECT count_rows(format('%s EXCEPT TABLE target_mapped',
                         last_row_of_each_key('export_repeats_early'))) AS early_missing,
       count_rows(format('%s EXCEPT TABLE target_descended',
                         last_row_of_each_key('export_repeats_late'))) AS late_missing;
