--
-- Streaming: rows come out while the transfer runs, waits can be cancelled,
-- and memory does not grow with the size of the export.
--
SET timezone = 'UTC';

CREATE SERVER stream_api FOREIGN DATA WRAPPER csv_export_fdw
  OPTIONS (base_url 'http://127.0.0.1:5001');

-- /slow sends one row per second for 100 seconds: the first rows are
-- returned long before the transfer ends, and a LIMIT stops it
CREATE FOREIGN TABLE slow_export (id text, name text) SERVER stream_api
  OPTIONS (path '/slow?rows=100&delay=1');
SET statement_timeout = '20s';
SELECT id FROM slow_export LIMIT 2;

-- statement_timeout stops a slow transfer promptly
SELECT clock_timestamp() AS started \gset
SET statement_timeout = '1s';
SELECT count(*) FROM slow_export;
RESET statement_timeout;
SELECT clock_timestamp() - :'started' < interval '5 seconds' AS stopped_promptly;

-- so does a query cancel from another session; while it waits on the
-- network, the scan shows a wait event
CREATE EXTENSION dblink;
SELECT dblink_connect('scanner',
  format('host=%s port=%s dbname=%s', current_setting('unix_socket_directories'),
         current_setting('port'), current_database())) AS connected;
SELECT dblink_send_query('scanner', 'SELECT count(*) FROM slow_export') AS sent;
SELECT pg_sleep(1.5);
-- (a named event from 17 on, the generic "Extension" before)
SELECT wait_event_type,
       wait_event = CASE WHEN current_setting('server_version_num')::int >= 170000
                         THEN 'CsvExportFdwHttp' ELSE 'Extension' END AS named_as_expected
  FROM pg_stat_activity WHERE query = 'SELECT count(*) FROM slow_export';
SELECT clock_timestamp() AS started \gset
SELECT pg_cancel_backend(pid) FROM pg_stat_activity
  WHERE query = 'SELECT count(*) FROM slow_export';
SELECT * FROM dblink_get_result('scanner') AS t(n bigint);
SELECT clock_timestamp() - :'started' < interval '5 seconds' AS stopped_promptly;
SELECT dblink_disconnect('scanner');
DROP EXTENSION dblink;

-- bounded memory: a 200,000-row export (about 32 MB) raises the backend's
-- peak memory no more than a 2,000-row one did, give or take a few MB
CREATE FOREIGN TABLE user_small (
  id text, name text, email text, address text, company text, job text,
  "updatedAt" timestamptz, "createdAt" timestamptz
) SERVER stream_api OPTIONS (path '/export/csv?rows=2000');
CREATE FOREIGN TABLE user_large (
  id text, name text, email text, address text, company text, job text,
  "updatedAt" timestamptz, "createdAt" timestamptz
) SERVER stream_api OPTIONS (path '/export/csv?rows=200000');
CREATE FUNCTION peak_rss_kb() RETURNS int LANGUAGE sql AS $$
  SELECT substring(pg_read_file('/proc/self/status') FROM 'VmHWM:\s*(\d+) kB')::int
$$;
SELECT count(*), max("updatedAt"), sum(length(address)) > 0 AS has_addresses FROM user_small;
SELECT peak_rss_kb() AS peak_before \gset
SELECT count(*), max("updatedAt"), sum(length(address)) > 0 AS has_addresses FROM user_large;
SELECT peak_rss_kb() - :peak_before < 8 * 1024 AS memory_bounded;

DROP FUNCTION peak_rss_kb();

-- past its header, an export is parsed on a thread of the scan's, a chunk
-- ahead of the rows being returned (csv_export_fdw.parse_thread): the same
-- rows as parsed in the backend, and the same errors, on the same lines,
-- when they come many chunks in (every 7th row has two line breaks in its
-- address, so lines and rows part ways)
CREATE FOREIGN TABLE user_long (
  id text, name text, email text, address text, company text, job text,
  "updatedAt" timestamptz, "createdAt" timestamptz
) SERVER stream_api OPTIONS (path '/export/csv?rows=30000');
CREATE TEMP TABLE parsed_on_thread AS SELECT * FROM user_long;
SET csv_export_fdw.parse_thread = off;
CREATE TEMP TABLE parsed_in_backend AS SELECT * FROM user_long;
RESET csv_export_fdw.parse_thread;
SELECT (SELECT count(*) FROM parsed_on_thread) AS on_thread,
       (SELECT count(*) FROM parsed_in_backend) AS in_backend,
       (SELECT count(*) FROM (TABLE parsed_on_thread EXCEPT ALL TABLE parsed_in_backend) d) AS differing;
SELECT id FROM user_long LIMIT 2;
CREATE FOREIGN TABLE user_bad_late (id text, "updatedAt" timestamptz) SERVER stream_api
  OPTIONS (path '/export/csv?rows=30000&bad_value_at=25000');
SELECT max("updatedAt") FROM user_bad_late;
SET csv_export_fdw.parse_thread = off;
SELECT max("updatedAt") FROM user_bad_late;
RESET csv_export_fdw.parse_thread;
CREATE FOREIGN TABLE user_stray_quote_late (id text) SERVER stream_api
  OPTIONS (path '/export/csv?rows=30000&stray_quote_at=25000');
SELECT count(*) FROM user_stray_quote_late;
SET csv_export_fdw.parse_thread = off;
SELECT count(*) FROM user_stray_quote_late;
RESET csv_export_fdw.parse_thread;
-- skipped, the bad row is recorded with its line and the scan goes on;
-- the errors above, raised while the thread had a chunk, left nothing behind
ALTER FOREIGN TABLE user_bad_late OPTIONS (ADD on_error 'skip');
SELECT count(*), max("updatedAt") FROM user_bad_late;
SELECT line, left(error, 40) AS error FROM csv_export.rejects
  WHERE foreign_table = 'user_bad_late'::regclass;
SELECT count(*) FROM user_long;

-- the backend has one parsing thread, started by its first scan and
-- reused by every scan after (scans that failed included); two scans
-- open at once (both sides of a join) share it: one parses on it, the
-- other in the backend, and the rows are right
SELECT count(*) AS backend_threads FROM pg_ls_dir('/proc/self/task');
SELECT count(*) FROM user_long;
SELECT count(*) FROM user_long;
SELECT count(*) AS backend_threads FROM pg_ls_dir('/proc/self/task');
SELECT count(*) FROM user_small a JOIN user_long b ON a.id = b.id AND a.email = b.email;
SELECT count(*) AS backend_threads FROM pg_ls_dir('/proc/self/task');

DROP SERVER stream_api CASCADE;
