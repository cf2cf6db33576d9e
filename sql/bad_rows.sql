--
-- Bad rows: stop (the default), or skip them into csv_export.rejects,
-- bounded by reject_limit; records longer than max_record_bytes.
--
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';

CREATE SERVER bad_api FOREIGN DATA WRAPPER csv_export_fdw
  OPTIONS (base_url 'http://127.0.0.1:5001/fixtures');
-- what was rejected, without the times
CREATE VIEW rejected AS
  SELECT foreign_table, url, line, column_name, error, raw_record
    FROM csv_export.rejects ORDER BY reject_id;

-- stop: the first bad row ends the scan
CREATE FOREIGN TABLE strict_rows (id int, name text, ts timestamptz) SERVER bad_api
  OPTIONS (path 'bad_rows.csv');
SELECT * FROM strict_rows;

-- skip: the good rows, a NOTICE, and every bad row recorded: a value its
-- type rejects (with the column), a wrong field count, a byte invalid in
-- the encoding (in any column)
CREATE FOREIGN TABLE lenient_rows (id int, name text, ts timestamptz) SERVER bad_api
  OPTIONS (path 'bad_rows.csv', on_error 'skip');
SELECT id, left(name, 20) AS name, ts FROM lenient_rows;
SELECT * FROM rejected;
-- the same rows, whatever the query reads
SELECT count(*) FROM lenient_rows;
SELECT count(*) FROM csv_export.rejects;
DELETE FROM csv_export.rejects;

-- rejects belong to the scan's transaction
BEGIN;
SELECT count(*) FROM lenient_rows;
ROLLBACK;
SELECT count(*) FROM csv_export.rejects;

-- in a read-only transaction (as on a standby) skipping still works: the
-- rejects come as WARNINGs, and csv_export.rejects is not written
BEGIN READ ONLY;
SELECT id FROM lenient_rows;
COMMIT;
SELECT count(*) FROM csv_export.rejects;

-- reject_limit: more skipped rows than that is an ERROR (and the rejects
-- go with it)
ALTER FOREIGN TABLE lenient_rows OPTIONS (ADD reject_limit '3');
SELECT count(*) FROM lenient_rows;
SELECT count(*) FROM csv_export.rejects;
ALTER FOREIGN TABLE lenient_rows OPTIONS (SET reject_limit '5');
SELECT count(*) FROM lenient_rows;
DELETE FROM csv_export.rejects;
ALTER FOREIGN TABLE strict_rows OPTIONS (ADD reject_limit '3');

-- records longer than max_record_bytes: an ERROR, or skipped; the parser
-- never holds more than that of one record (392: 200 bytes of data in
-- three fields of 64 bytes each besides).  Errors come in the export's
-- order: stopping, the field count of line 4 comes before line 8's length
ALTER FOREIGN TABLE strict_rows OPTIONS (ADD max_record_bytes '392');
SELECT id FROM strict_rows WHERE id < 2;
SELECT count(*) FROM strict_rows;
ALTER FOREIGN TABLE lenient_rows OPTIONS (DROP reject_limit, ADD max_record_bytes '392');
SELECT id FROM lenient_rows;
SELECT line, error, raw_record IS NULL AS raw_dropped FROM rejected
  WHERE error LIKE 'record is longer%';
DELETE FROM csv_export.rejects;
ALTER FOREIGN TABLE lenient_rows OPTIONS (SET max_record_bytes '0');
ALTER FOREIGN TABLE lenient_rows OPTIONS (SET on_error 'ignore');

-- Each field counts 64 bytes toward max_record_bytes besides its own, so
-- a line made only of delimiters (10 MiB of commas, no field bytes) ends
-- the scan at max_record_bytes, in a header or in the data, or is skipped;
-- each case in a backend of its own stays under 100 MB peak memory
CREATE FUNCTION peak_mb() RETURNS bigint LANGUAGE sql AS $$
  SELECT substring(pg_read_file('/proc/self/status') FROM 'VmHWM:\s*(\d+) kB')::bigint / 1024
$$;
CREATE FOREIGN TABLE commas (a int, b int) SERVER bad_api
  OPTIONS (url 'http://127.0.0.1:5001/delimiters?bytes=10485760&at=header');
\c
SELECT * FROM commas;
SELECT peak_mb() < 100 AS memory_bounded;
ALTER FOREIGN TABLE commas OPTIONS (ADD max_record_bytes '1000');
SELECT * FROM commas;
ALTER FOREIGN TABLE commas OPTIONS (SET url 'http://127.0.0.1:5001/delimiters?bytes=10485760', DROP max_record_bytes);
\c
SELECT * FROM commas;
SELECT peak_mb() < 100 AS memory_bounded;
ALTER FOREIGN TABLE commas OPTIONS (ADD on_error 'skip');
\c
SELECT * FROM commas;
SELECT peak_mb() < 100 AS memory_bounded;
SELECT line, error FROM rejected;
DELETE FROM csv_export.rejects;
-- a header is never skipped
ALTER FOREIGN TABLE commas OPTIONS (SET url 'http://127.0.0.1:5001/delimiters?bytes=10485760&at=header');
SELECT * FROM commas;
DROP FUNCTION peak_mb();
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';

-- an unterminated quote at the end stays an ERROR: the rest cannot be trusted
CREATE FOREIGN TABLE unterminated_rows (id int, label text) SERVER bad_api
  OPTIONS (path 'unterminated.csv', on_error 'skip');
SELECT * FROM unterminated_rows;
-- malformed CSV (a stray quote, text after a closing quote) is skipped up
-- to the end of its line and reading goes on at the next; a quoted field
-- the broken line opens makes the next line malformed too
CREATE FOREIGN TABLE stray_quote_rows (id int, label text) SERVER bad_api
  OPTIONS (path 'stray_quote.csv', on_error 'skip');
SELECT * FROM stray_quote_rows;
CREATE FOREIGN TABLE malformed_rows (id int, label text) SERVER bad_api
  OPTIONS (path 'malformed_middle.csv', on_error 'skip');
SELECT * FROM malformed_rows;
SELECT foreign_table, line, column_name, error, raw_record FROM rejected
 WHERE foreign_table IN ('stray_quote_rows'::regclass, 'malformed_rows'::regclass);
DELETE FROM csv_export.rejects;
-- stopping, the first of them ends the scan after the rows before it
ALTER FOREIGN TABLE malformed_rows OPTIONS (SET on_error 'stop');
SELECT * FROM malformed_rows;

-- a role that may only read the foreign table still gets its rows
-- skipped and recorded, and sees those rejects; the rejects of a table it
-- may not read stay hidden from it (row-level security)
CREATE ROLE rejects_reader;
GRANT SELECT ON lenient_rows TO rejects_reader;
GRANT USAGE ON SCHEMA csv_export TO rejects_reader;
SET ROLE rejects_reader;
SELECT count(*) FROM lenient_rows;
SELECT count(*) FROM csv_export.rejects;
RESET ROLE;
CREATE FOREIGN TABLE hidden_rows (id int, name text, ts timestamptz) SERVER bad_api
  OPTIONS (path 'bad_rows.csv', on_error 'skip');
SELECT count(*) FROM hidden_rows;
SELECT foreign_table, count(*) FROM csv_export.rejects GROUP BY 1 ORDER BY 1;
SET ROLE rejects_reader;
SELECT foreign_table, count(*) FROM csv_export.rejects GROUP BY 1 ORDER BY 1;
INSERT INTO csv_export.rejects (foreign_table, url, line, error) VALUES ('lenient_rows', 'x', 1, 'forged');
DELETE FROM csv_export.rejects;
RESET ROLE;
DELETE FROM csv_export.rejects;

-- a sync over a skipping table: its state counts the rejected rows, and
-- the rejects stay with a sync that commits
CREATE TABLE good_rows (id int PRIMARY KEY, name text, ts timestamptz);
CALL csv_export.sync('lenient_rows', 'good_rows');
SELECT id FROM good_rows ORDER BY id;
SELECT last_status, last_rows_upserted, last_rows_rejected FROM csv_export.sync_state
  WHERE target = 'good_rows'::regclass;
SELECT rows_fetched, rows_upserted, rows_rejected FROM csv_export.sync_log
  WHERE target = 'good_rows'::regclass;
SELECT count(*) FROM csv_export.rejects;
-- ... and go with one that fails
ALTER FOREIGN TABLE lenient_rows OPTIONS (ADD reject_limit '1');
CALL csv_export.sync('lenient_rows', 'good_rows');
SELECT last_status, last_error, last_rows_rejected FROM csv_export.sync_state
  WHERE target = 'good_rows'::regclass;
SELECT count(*) FROM csv_export.rejects;

DROP TABLE good_rows;
DELETE FROM csv_export.sync_state;
DELETE FROM csv_export.sync_log;
DELETE FROM csv_export.rejects;
DROP VIEW rejected;
REVOKE USAGE ON SCHEMA csv_export FROM rejects_reader;
DROP SERVER bad_api CASCADE;
DROP ROLE rejects_reader;
