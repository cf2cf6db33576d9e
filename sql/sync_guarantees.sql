--
-- What a sync guarantees beyond the common case: changes that the type's
-- equality does not see, rows on the checkpoint's own value, and runs that
-- do not finish.
--
SET timezone = 'UTC';
CREATE SERVER guarantees_api FOREIGN DATA WRAPPER csv_export_fdw
  OPTIONS (base_url 'http://127.0.0.1:5001');

-- Change detection compares images: 1.0 -> 1.00, 0 -> -0 and 'abc' ->
-- 'ABC' under a case-insensitive collation are changes the export made,
-- and are written, in the one-pass sync and through staging alike.
CREATE COLLATION case_insensitive (provider = icu, locale = 'und-u-ks-level2',
                                   deterministic = false);
CREATE FOREIGN TABLE image_export (id text, amount numeric, ratio float8,
                                   label text COLLATE case_insensitive)
  SERVER guarantees_api OPTIONS (path '/fixtures/image_equality.csv');
CREATE TABLE image_target (id text PRIMARY KEY, amount numeric, ratio float8,
                           label text COLLATE case_insensitive);
CREATE PROCEDURE reset_image_target() LANGUAGE sql AS $$
  TRUNCATE image_target;
  INSERT INTO image_target VALUES ('k1', 1.0, 0, 'abc'), ('k2', 2.5, 1, 'same');
$$;
CALL reset_image_target();
SELECT 1.0 = 1.00::numeric AS numeric_equal, 0::float8 = '-0'::float8 AS zero_equal,
       'abc' = 'ABC' COLLATE case_insensitive AS label_equal;
CALL csv_export.sync('image_export', 'image_target');
SELECT id, amount::text, ratio::text, label FROM image_target ORDER BY id;
CALL reset_image_target();
CALL csv_export.sync('image_export', 'image_target', delete_missing => true);
SELECT id, amount::text, ratio::text, label FROM image_target ORDER BY id;
-- and once applied, nothing more
CALL csv_export.sync('image_export', 'image_target');

-- The same comparison where the target is read into its hash table, which
-- keeps a fingerprint of each row's values: an export row whose fingerprint
-- is its target row's is unchanged without that row being fetched, and
-- every change of image still tells.  Keys that do not ascend, and the
-- first row looked up in the index: then the target has had as many rows
-- as pages, and is read into the table.  Long values are compressed or
-- stored out of line in the target, never in the export row.  A caller
-- that checks the key of the row a ctid leads to (the fourth argument, as
-- the direct MERGE does) gets the same answers, without changed rows being
-- fetched to check their keys.
CREATE TABLE fingerprinted (id int PRIMARY KEY, amount numeric, ratio float8,
                            label text COLLATE case_insensitive, note text, big text);
INSERT INTO fingerprinted VALUES
  (1, 1, 1, 'first', NULL, NULL),
  (2, 1.0, 0, 'abc', 'n', NULL), (3, 1.0, 0, 'abc', 'n', NULL), (4, 1.0, 0, 'abc', 'n', NULL),
  (5, 1, 1, 'x', NULL, NULL), (6, 1, 1, 'x', '', NULL), (7, 1, 1, 'a', 'b', NULL),
  (8, 1, 1, 'x', NULL, repeat('x', 100000)),
  (9, 1, 1, 'x', NULL, (SELECT string_agg(md5(g::text), '') FROM generate_series(1, 3000) g)),
  (10, 1, 1, 'x', NULL, (SELECT string_agg(md5(g::text), '') FROM generate_series(1, 3000) g)),
  (11, 1.0, 0, 'abc', 'n', 'same');
SELECT pg_relation_size('fingerprinted') / 8192 AS pages,
       pg_column_compression(big) AS compressed, octet_length(big) > 2000 AS long
  FROM fingerprinted WHERE id IN (8, 9);
SELECT e.id, e.what, csv_export._sync_match('fingerprinted', r, false) AS found,
       csv_export._sync_match('fingerprinted', r, false, true) AS found_keys_unchecked
  FROM (VALUES
    (11, 1.0::numeric, 0::float8, 'abc', 'n', 'same', 'unchanged, looked up in the index'),
    (1, 1, 1, 'first', NULL::text, NULL::text, 'unchanged'),
    (2, 1.00, 0, 'abc', 'n', NULL, '1.0 became 1.00'),
    (3, 1.0, '-0', 'abc', 'n', NULL, '0 became -0'),
    (4, 1.0, 0, 'ABC', 'n', NULL, 'abc became ABC'),
    (5, 1, 1, 'x', '', NULL, 'NULL became empty'),
    (6, 1, 1, 'x', NULL, NULL, 'empty became NULL'),
    (7, 1, 1, 'b', 'a', NULL, 'two columns swapped their values'),
    (8, 1, 1, 'x', NULL, repeat('x', 100000), 'a compressed value, unchanged'),
    (9, 1, 1, 'x', NULL, (SELECT string_agg(md5(g::text), '') FROM generate_series(1, 3000) g),
     'a value out of line, unchanged'),
    (10, 1, 1, 'x', NULL, (SELECT string_agg(md5(g::text), '') || '.' FROM generate_series(1, 3000) g),
     'a value out of line, one character longer'),
    (12, 1, 1, 'x', NULL, NULL, 'new')) e(id, amount, ratio, label, note, big, what),
       LATERAL (SELECT e.id, e.amount, e.ratio, e.label, e.note, e.big) r;

-- An incremental sync reads the checkpoint's own value again: k3 shares
-- updatedAt with k2, the newest row of the first run, but comes in a later
-- export.  k2, unchanged, is not written again.
CREATE FOREIGN TABLE boundary_export (id text, name text, "updatedAt" timestamptz)
  SERVER guarantees_api OPTIONS (path '/fixtures/cursor_boundary_1.csv');
CREATE TABLE boundary_target (id text PRIMARY KEY, name text, "updatedAt" timestamptz);
CALL csv_export.sync('boundary_export', 'boundary_target', cursor_column => 'updatedAt');
ALTER FOREIGN TABLE boundary_export OPTIONS (SET path '/fixtures/cursor_boundary_2.csv');
CALL csv_export.sync('boundary_export', 'boundary_target', cursor_column => 'updatedAt');
SELECT id, name, "updatedAt", xmin = (SELECT xmin FROM boundary_target WHERE id = 'k1') AS first_run
  FROM boundary_target ORDER BY id;

-- A run stopped by statement_timeout is recorded as interrupted, in the
-- log and the state, and its CALL fails with the timeout's error.
CREATE FOREIGN TABLE slow_export (id text, name text)
  SERVER guarantees_api OPTIONS (path '/slow?rows=10&delay=0.5');
CREATE TABLE slow_target (id text PRIMARY KEY, name text);
SET statement_timeout = '1500ms';
CALL csv_export.sync('slow_export', 'slow_target');
RESET statement_timeout;
SELECT status, error, error_sqlstate, finished_at IS NOT NULL AS finished
  FROM csv_export.runs WHERE target = 'slow_target'::regclass;
SELECT last_status, last_error FROM csv_export.sync_state WHERE target = 'slow_target'::regclass;
SELECT count(*) FROM slow_target;

-- A run whose backend is terminated stays 'running' in the log, and
-- csv_export.runs shows it as interrupted; the next run of the target
-- records it so.
CREATE EXTENSION dblink;
SELECT dblink_connect('doomed', format('host=%s port=%s dbname=%s',
                      current_setting('unix_socket_directories'), current_setting('port'),
                      current_database()));
SELECT dblink_send_query('doomed', $$CALL csv_export.sync('slow_export', 'slow_target')$$);
\i sql/include/wait_for.sql
CALL wait_for($$EXISTS (SELECT 1 FROM csv_export.runs
                        WHERE target = 'slow_target'::regclass AND status = 'running')$$);
SELECT backend_pid AS doomed_pid FROM csv_export.runs
 WHERE target = 'slow_target'::regclass AND status = 'running' \gset
SELECT pg_terminate_backend(:doomed_pid, 5000);
SELECT dblink_disconnect('doomed');
CALL wait_for($$NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $$ || :doomed_pid || $$)$$);
SELECT status FROM csv_export.runs WHERE backend_pid = :doomed_pid;
SELECT status FROM csv_export.sync_log WHERE backend_pid = :doomed_pid;
ALTER FOREIGN TABLE slow_export OPTIONS (SET path '/slow?rows=2&delay=0');
CALL csv_export.sync('slow_export', 'slow_target');
SELECT status, error FROM csv_export.sync_log WHERE backend_pid = :doomed_pid;
SELECT status, count(*) FROM csv_export.runs WHERE target = 'slow_target'::regclass
 GROUP BY status ORDER BY status;
DROP EXTENSION dblink;

-- A failed sync raises its error again with the data's context lines and
-- none of the procedure's own, whatever language lc_messages speaks
CREATE FOREIGN TABLE bad_ts (id int, ts timestamptz)
  SERVER guarantees_api OPTIONS (path '/fixtures/bad_timestamp.csv');
CREATE TABLE bad_ts_target (id int PRIMARY KEY, ts timestamptz);
CALL csv_export.sync('bad_ts', 'bad_ts_target');
SET lc_messages = 'de_DE.UTF-8';
CALL csv_export.sync('bad_ts', 'bad_ts_target');
RESET lc_messages;

DROP TABLE image_target, fingerprinted, boundary_target, slow_target, bad_ts_target;
DROP PROCEDURE reset_image_target(), wait_for(text);
DELETE FROM csv_export.sync_state;
DELETE FROM csv_export.sync_log;
DROP SERVER guarantees_api CASCADE;
DROP COLLATION case_insensitive;
