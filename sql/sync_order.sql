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
