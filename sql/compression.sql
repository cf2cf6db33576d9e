--
-- Exports delivered as compressed files: a .csv.gz (or zstd, bzip2, xz)
-- served as application/octet-stream, told by its magic bytes
-- (compression 'auto') or named; decoded as it arrives, in bounded memory.
--
SET timezone = 'UTC';
-- explain_analyze(query): EXPLAIN ANALYZE without what varies between majors
\i sql/include/explain_analyze.sql
CREATE SERVER packed_api FOREIGN DATA WRAPPER csv_export_fdw
  OPTIONS (base_url 'http://127.0.0.1:5001');
CREATE FOREIGN TABLE plain_file (id bigint, name text, "Plan Tier" text, seats bigint,
                                 renewed date)
  SERVER packed_api OPTIONS (path '/fixtures/drift_2.csv');
CREATE FUNCTION packed_rows(pack text) RETURNS TABLE (id bigint, name text, tier text)
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('ALTER FOREIGN TABLE plain_file OPTIONS (SET path %L)',
                 '/fixtures/drift_2.csv' || pack);
  RETURN QUERY SELECT f.id, f.name, f."Plan Tier" FROM plain_file f ORDER BY f.id;
END $$;

-- every format, one stream or two after another, with and without the
-- bytes arriving a few at a time (the magic split across reads)
SELECT * FROM packed_rows('');
SELECT p.pack, count(*), string_agg(r.name, ' ' ORDER BY r.id) AS names
  FROM unnest(ARRAY['gzip', 'zstd', 'bzip2', 'xz', 'gzip2', 'zstd2', 'bzip2_2', 'xz2']) p(pack),
       LATERAL packed_rows('?pack=' || p.pack) r
 GROUP BY p.pack ORDER BY p.pack;
SELECT p.pack, count(*)
  FROM unnest(ARRAY['gzip', 'zstd', 'bzip2', 'xz']) p(pack),
       LATERAL packed_rows('?chunk=3&pack=' || p.pack) r
 GROUP BY p.pack ORDER BY p.pack;
-- a .csv.gz whose gzip the server declares as Content-Encoding
SELECT * FROM packed_rows('?pack=gzip&content_encoding=1');

-- the user export, 20,000 rows, the same as the plain one in every format
CREATE FOREIGN TABLE user_plain (id text, name text, email text, address text, company text,
                                 job text, "updatedAt" timestamptz, "createdAt" timestamptz)
  SERVER packed_api OPTIONS (path '/export/csv?rows=20000');
CREATE FOREIGN TABLE user_packed (id text, name text, email text, address text, company text,
                                  job text, "updatedAt" timestamptz, "createdAt" timestamptz)
  SERVER packed_api OPTIONS (path '/export/csv?rows=20000&pack=zstd');
CREATE TEMPORARY TABLE expected_users AS SELECT * FROM user_plain;
SELECT count(*) AS rows,
       (SELECT count(*) FROM (SELECT * FROM user_packed EXCEPT ALL
                              SELECT * FROM expected_users) d) AS differing
  FROM user_packed;
ALTER FOREIGN TABLE user_packed OPTIONS (SET path '/export/csv?rows=20000&pack=xz');
SELECT count(*) FROM (SELECT * FROM user_packed EXCEPT ALL SELECT * FROM expected_users) d;
ALTER FOREIGN TABLE user_packed OPTIONS (SET path '/export/csv?rows=20000&pack=bzip2_2');
SELECT count(*) FROM (SELECT * FROM user_packed EXCEPT ALL SELECT * FROM expected_users) d;

-- EXPLAIN ANALYZE: what came and what it decoded to
ALTER FOREIGN TABLE plain_file OPTIONS (SET path '/fixtures/drift_2.csv?pack=zstd');
SELECT explain_analyze('SELECT * FROM plain_file');
ALTER FOREIGN TABLE plain_file OPTIONS (SET path '/fixtures/drift_2.csv?pack=gzip&content_encoding=1');
SELECT explain_analyze('SELECT * FROM plain_file');

-- a compressed file cut short is a broken transfer, in every format
\set VERBOSITY default
ALTER FOREIGN TABLE plain_file OPTIONS (SET path '/fixtures/drift_2.csv?pack=gzip&cut=4');
SELECT count(*) FROM plain_file;
\set VERBOSITY terse
DO $$
DECLARE
  pack text;
  state text;
  message text;
BEGIN
  FOREACH pack IN ARRAY ARRAY['zstd', 'bzip2', 'xz', 'gzip2'] LOOP
    EXECUTE format('ALTER FOREIGN TABLE user_packed OPTIONS (SET path %L)',
                   '/export/csv?rows=2000&cut=6&pack=' || pack);
    BEGIN
      PERFORM count(*) FROM user_packed;
    EXCEPTION WHEN OTHERS THEN
      GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = PG_EXCEPTION_DETAIL;
      RAISE NOTICE '%: % %', pack, state, message;
    END;
  END LOOP;
END $$;

-- named compressions: the body must be that; 'none' reads the bytes as they are
ALTER FOREIGN TABLE plain_file OPTIONS (SET path '/fixtures/drift_2.csv?pack=gzip',
                                        ADD compression 'zstd');
SELECT count(*) FROM plain_file;
ALTER FOREIGN TABLE plain_file OPTIONS (SET compression 'gzip');
SELECT count(*) FROM plain_file;
ALTER FOREIGN TABLE plain_file OPTIONS (SET compression 'none');
SELECT count(*) FROM plain_file;
ALTER FOREIGN TABLE plain_file OPTIONS (SET path '/fixtures/drift_2.csv', SET compression 'xz');
SELECT count(*) FROM plain_file;
ALTER FOREIGN TABLE plain_file OPTIONS (SET compression 'lz4');
ALTER FOREIGN TABLE plain_file OPTIONS (DROP compression);

-- max_bytes counts what the body decodes to (about 3.9 MB from 1.6 MB of xz)
ALTER FOREIGN TABLE user_packed OPTIONS (SET path '/export/csv?rows=20000&pack=xz',
                                         ADD max_bytes '3000000');
SELECT count(*) FROM user_packed;
ALTER FOREIGN TABLE user_packed OPTIONS (DROP max_bytes);

-- memory stays flat: 200,000 rows of zstd peak where 2,000 do
CREATE FUNCTION peak_rss_kb() RETURNS int LANGUAGE sql AS $$
  SELECT substring(pg_read_file('/proc/self/status') FROM 'VmHWM:\s*(\d+) kB')::int
$$;
ALTER FOREIGN TABLE user_packed OPTIONS (SET path '/export/csv?rows=2000&pack=zstd');
SELECT count(*) FROM user_packed;
SELECT peak_rss_kb() AS peak_before \gset
ALTER FOREIGN TABLE user_packed OPTIONS (SET path '/export/csv?rows=200000&pack=zstd');
SELECT count(*) FROM user_packed;
SELECT peak_rss_kb() - :peak_before < 8 * 1024 AS memory_bounded;

-- IMPORT and a sync read compressed exports as any other
IMPORT FOREIGN SCHEMA ignored FROM SERVER packed_api INTO public
  OPTIONS (path '/fixtures/drift_2.csv?pack=bzip2', table_name 'imported_packed');
SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
 WHERE attrelid = 'imported_packed'::regclass AND attnum > 0 ORDER BY attnum;
CREATE TABLE packed_target (id bigint PRIMARY KEY, name text);
CALL csv_export.sync('imported_packed', 'packed_target');
SELECT * FROM packed_target ORDER BY id;

DROP FUNCTION peak_rss_kb();
DROP FUNCTION explain_analyze(text, text);
DELETE FROM csv_export.sync_log WHERE target = 'packed_target'::regclass;
DELETE FROM csv_export.sync_state WHERE target = 'packed_target'::regclass;
DROP TABLE packed_target;
DROP FUNCTION packed_rows(text);
DROP SERVER packed_api CASCADE;
