--
-- Bad input gets an ERROR with an errcode, a short message and a context
-- naming the foreign table, the CSV line, the column and the value; never a
-- silently short or wrong result.
--
SET timezone = 'UTC';
\set VERBOSITY default

CREATE SERVER err_api FOREIGN DATA WRAPPER csv_export_fdw
  OPTIONS (base_url 'http://127.0.0.1:5001', retry_delay_ms '0',
           allowed_origins 'http://127.0.0.1:1');

-- show the SQLSTATE of an error as well as its text
CREATE FUNCTION sqlstate_of(query text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE query;
  RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE;
END $$;

-- HTTP errors: status and URL in the message, the start of the body in DETAIL
CREATE FOREIGN TABLE not_found (id text) SERVER err_api OPTIONS (path '/status/404');
CREATE FOREIGN TABLE server_error (id text) SERVER err_api OPTIONS (path '/status/500');
SELECT * FROM not_found;
SELECT * FROM server_error;
SELECT sqlstate_of('SELECT * FROM server_error');

-- nothing listening
CREATE FOREIGN TABLE refused (id text) SERVER err_api OPTIONS (url 'http://127.0.0.1:1/export.csv');
SELECT * FROM refused;
SELECT sqlstate_of('SELECT * FROM refused');

-- a transfer that fails mid-stream is an ERROR even after rows were returned
CREATE FOREIGN TABLE truncated (id text) SERVER err_api OPTIONS (path '/truncated?rows=5');
CREATE FOREIGN TABLE reset (id text) SERVER err_api OPTIONS (path '/reset?rows=5');
SELECT count(*) FROM truncated;
SELECT count(*) FROM reset;
SELECT sqlstate_of('SELECT count(*) FROM reset');
CREATE FOREIGN TABLE truncated_late (id text) SERVER err_api
  OPTIONS (path '/truncated?rows=500&delay=1');
BEGIN;
DECLARE c CURSOR FOR SELECT id FROM truncated_late;
FETCH 2 FROM c;
FETCH ALL FROM c;
ROLLBACK;

CREATE SERVER err_fixtures FOREIGN DATA WRAPPER csv_export_fdw
  OPTIONS (base_url 'http://127.0.0.1:5001/fixtures');

-- a value its type does not accept
CREATE FOREIGN TABLE bad_timestamp (id int, ts timestamptz)
  SERVER err_fixtures OPTIONS (path 'bad_timestamp.csv');
SELECT * FROM bad_timestamp;
SELECT sqlstate_of('SELECT * FROM bad_timestamp');
-- ... is not converted, and so no error, when the query does not read it
SELECT id FROM bad_timestamp;

-- line numbers are physical lines: quoted line breaks and blank lines count
CREATE FOREIGN TABLE line_numbers (id int, label text)
  SERVER err_fixtures OPTIONS (path 'line_numbers.csv');
SELECT * FROM line_numbers;

-- field counts must match the header (or the table, without a header)
CREATE FOREIGN TABLE bad_count (id int, label text) SERVER err_fixtures OPTIONS (path 'bad_count.csv');
CREATE FOREIGN TABLE short_count (id int, label text) SERVER err_fixtures OPTIONS (path 'short_count.csv');
CREATE FOREIGN TABLE no_header_count (id int) SERVER err_fixtures
  OPTIONS (path 'no_header.csv', header 'false');
SELECT * FROM bad_count;
SELECT count(*) FROM short_count;
SELECT * FROM no_header_count;
SELECT sqlstate_of('SELECT count(*) FROM short_count');

-- malformed CSV
CREATE FOREIGN TABLE unterminated (id int, label text) SERVER err_fixtures OPTIONS (path 'unterminated.csv');
CREATE FOREIGN TABLE stray_quote (id int, label text) SERVER err_fixtures OPTIONS (path 'stray_quote.csv');
CREATE FOREIGN TABLE after_quote (id int, label text) SERVER err_fixtures OPTIONS (path 'after_quote.csv');
SELECT * FROM unterminated;
SELECT count(*) FROM unterminated;
SELECT * FROM stray_quote;
SELECT * FROM after_quote;
SELECT sqlstate_of('SELECT * FROM after_quote');

-- errors come in the export's order, and the records before a malformed
-- one come out first, wherever the chunks end: a field count on line 2
-- before a quote on line 3 (in the same chunk); a LIMIT met before the
-- fault, a cursor's first rows, and IMPORT's sample never see it
CREATE FOREIGN TABLE errors_in_order (a int, b int) SERVER err_fixtures
  OPTIONS (path 'errors_in_order.csv');
SELECT * FROM errors_in_order;
CREATE FOREIGN TABLE late_fault (id int, label text) SERVER err_fixtures
  OPTIONS (path 'late_fault.csv');
SELECT * FROM late_fault LIMIT 2;
SELECT * FROM late_fault;
BEGIN;
DECLARE early CURSOR FOR SELECT * FROM late_fault;
FETCH 2 FROM early;
FETCH 1 FROM early;
ROLLBACK;
CREATE SCHEMA sampled;
IMPORT FOREIGN SCHEMA export FROM SERVER err_fixtures INTO sampled
  OPTIONS (path 'late_fault.csv', table_name 'late_fault', sample_rows '2');
SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
 WHERE attrelid = 'sampled.late_fault'::regclass AND attnum > 0 ORDER BY attnum;
DROP SCHEMA sampled CASCADE;

-- a space between a delimiter and a quoted field is named as such, and a
-- UTF-16 export is refused as UTF-16
CREATE FOREIGN TABLE space_before_quote (id int, label text) SERVER err_fixtures
  OPTIONS (path 'space_before_quote.csv');
SELECT * FROM space_before_quote;
-- as its hint says, trim_spaces reads it
ALTER FOREIGN TABLE space_before_quote OPTIONS (ADD trim_spaces 'true');
SELECT * FROM space_before_quote;
CREATE FOREIGN TABLE utf16 (id int, label text) SERVER err_fixtures OPTIONS (path 'utf16.csv');
SELECT * FROM utf16;
SELECT sqlstate_of('SELECT * FROM utf16');

-- bytes invalid in the export's encoding, and NUL bytes

CREATE FOREIGN TABLE bad_utf8 (id int, label text) SERVER err_fixtures OPTIONS (path 'bad_utf8.csv');
CREATE FOREIGN TABLE nul_byte (id int, label text) SERVER err_fixtures OPTIONS (path 'nul_byte.csv');
SELECT * FROM bad_utf8;
SELECT * FROM nul_byte;
SELECT sqlstate_of('SELECT * FROM bad_utf8');

-- columns missing from the header: all named, before any row
CREATE FOREIGN TABLE missing_cols (id int, label text, nope text, "Also Missing" int)
  SERVER err_fixtures OPTIONS (path 'rfc4180.csv');
SELECT count(*) FROM missing_cols;
SELECT sqlstate_of('SELECT count(*) FROM missing_cols');
CREATE FOREIGN TABLE dup_header (id int, label text) SERVER err_fixtures OPTIONS (path 'dup_header.csv');
SELECT * FROM dup_header;
-- header names match exactly: case matters
CREATE FOREIGN TABLE wrong_case (id int, "Label" text) SERVER err_fixtures OPTIONS (path 'rfc4180.csv');
SELECT * FROM wrong_case;

-- nothing leaks when scans fail: no file descriptors (curl sockets) and no
-- memory contexts are left behind by failed scans.  A first round warms the
-- backend's own caches, which keep catalog files open.
CREATE FUNCTION fail_scans() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1..5 LOOP
    BEGIN PERFORM count(*) FROM reset; EXCEPTION WHEN OTHERS THEN NULL; END;
    BEGIN PERFORM * FROM bad_timestamp; EXCEPTION WHEN OTHERS THEN NULL; END;
    BEGIN PERFORM * FROM not_found; EXCEPTION WHEN OTHERS THEN NULL; END;
    BEGIN PERFORM * FROM unterminated; EXCEPTION WHEN OTHERS THEN NULL; END;
  END LOOP;
END $$;
SELECT fail_scans();
SELECT count(*) AS fds_before FROM pg_ls_dir('/proc/self/fd') \gset
SELECT fail_scans();
-- (fewer is fine: the backend may close catalog files when an invalidation
-- from another session, autovacuum's say, comes in between)
SELECT count(*) - :fds_before <= 0 AS no_leaked_fds FROM pg_ls_dir('/proc/self/fd');
SELECT count(*) AS leftover_contexts FROM pg_backend_memory_contexts
  WHERE name LIKE 'csv_export_fdw%';

DROP FUNCTION sqlstate_of(text);
DROP FUNCTION fail_scans();
DROP SERVER err_api CASCADE;
DROP SERVER err_fixtures CASCADE;
