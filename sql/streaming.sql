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
SELECT wait_event_type, wait_event FROM pg_stat_activity
  WHERE query = 'SELECT count(*) FROM slow_export';
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
DROP SERVER stream_api CASCADE;
