--
-- What a hostile or broken API sends: compressed streams cut short or
-- inflating 400:1, headers past what is kept, a redirect followed by a
-- broken body, a job that must not be started twice, Retry-After longer
-- than the poll may wait, and bytes that come slowly.
--
CREATE SERVER hostile_api FOREIGN DATA WRAPPER csv_export_fdw
  OPTIONS (base_url 'http://127.0.0.1:5001', retry_delay_ms '10');
-- the SQLSTATE, message and detail of a query's error
CREATE FUNCTION error_of(query text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  detail text;
BEGIN
  EXECUTE query;
  RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
  RETURN SQLSTATE || ': ' || SQLERRM || coalesce(E'\n' || nullif(detail, ''), '');
END $$;
CREATE FOREIGN TABLE gz (id text, name text) SERVER hostile_api
  OPTIONS (path '/export/csv?rows=2000&compress=gzip');

-- complete compressed bodies read completely
SELECT count(*), count(DISTINCT id), max(id) FROM gz;
ALTER FOREIGN TABLE gz OPTIONS (SET path '/export/csv?rows=2000&compress=deflate');
SELECT count(*), count(DISTINCT id), max(id) FROM gz;
-- cut before the gzip trailer, or in the middle of the stream, with a
-- Content-Length that says the body is complete or chunked: a broken
-- transfer, never a short result
ALTER FOREIGN TABLE gz OPTIONS (SET path '/export/csv?rows=2000&compress=gzip&cut=8');
SELECT error_of('SELECT count(*) FROM gz');
ALTER FOREIGN TABLE gz OPTIONS (SET path '/export/csv?rows=2000&compress=gzip&cut=8&chunked=1');
SELECT error_of('SELECT count(*) FROM gz');
ALTER FOREIGN TABLE gz OPTIONS (SET path '/export/csv?rows=2000&compress=gzip&cut=20000');
SELECT error_of('SELECT count(*) FROM gz');
ALTER FOREIGN TABLE gz OPTIONS (SET path '/export/csv?rows=2000&compress=deflate&cut=3');
SELECT count(*) FROM gz;

-- 102 MB that gzip made 431 times smaller read completely, and the
-- backend's peak memory grows by far less than the body
CREATE FOREIGN TABLE repetitive (id integer, payload text) SERVER hostile_api
  OPTIONS (path '/repetitive?rows=34000&width=3000');
CREATE FUNCTION peak_kb() RETURNS bigint LANGUAGE sql AS $$
  SELECT substring(pg_read_file('/proc/self/status') FROM 'VmHWM:\s*(\d+) kB')::bigint
$$;
SELECT peak_kb() AS peak_before \gset
SELECT count(*), sum(length(payload)), max(id) FROM repetitive;
SELECT peak_kb() - :peak_before < 40 * 1024 AS memory_bounded;
-- max_bytes counts what it decodes to: a bomb stops with its own error
ALTER FOREIGN TABLE repetitive OPTIONS (ADD max_bytes '10000000');
SELECT error_of('SELECT count(*) FROM repetitive');

-- response headers past the 64 kB kept are an error, not a Link header
-- silently dropped; a 1 MB Location has its own message
CREATE FOREIGN TABLE padded (id text) SERVER hostile_api
  OPTIONS (path '/big_headers?size=30000');
SELECT count(*) FROM padded;
ALTER FOREIGN TABLE padded OPTIONS (SET path '/big_headers?size=70000');
SELECT error_of('SELECT count(*) FROM padded');
ALTER FOREIGN TABLE padded OPTIONS (SET path '/long_location?size=1000000');
SELECT error_of('SELECT count(*) FROM padded');

-- a redirect, then a body broken off mid-stream: the error names the URL
-- the body came from (it used to show bytes of the export)
CREATE FOREIGN TABLE redirected (id text) SERVER hostile_api
  OPTIONS (path '/redirect?to=/export/csv%3Frows%3D20000%26fail_after%3D15000', retries '0');
SELECT error_of('SELECT count(*) FROM redirected');

-- a POST that starts an export job is sent once, however many retries a
-- 500 would get a GET; a 503 with Retry-After says it was not processed
CREATE FOREIGN TABLE post_job (id text) SERVER hostile_api
  OPTIONS (path '/flaky?case=post500&failures=5&status=500', method 'POST', retries '3');
SELECT error_of('SELECT count(*) FROM post_job');
CREATE FOREIGN TABLE request_count (requests integer) SERVER hostile_api
  OPTIONS (path '/flaky_count?case=post500');
SELECT * FROM request_count;
ALTER FOREIGN TABLE post_job
  OPTIONS (SET path '/flaky?case=post503&failures=1&status=503&retry_after=1');
SELECT count(*) FROM post_job;
ALTER FOREIGN TABLE request_count OPTIONS (SET path '/flaky_count?case=post503');
SELECT * FROM request_count;

-- Retry-After: 60 on a job that never ends: the poll gives up after
-- poll_timeout_s, not after a minute (statement_timeout only guards)
CREATE FOREIGN TABLE endless_job (id text) SERVER hostile_api
  OPTIONS (path '/jobs?never=1&retry_after=60&name=endless', method 'POST', body '{"rows": 3}',
           poll_timeout_s '2');
SET statement_timeout = '30s';
SELECT error_of('SELECT count(*) FROM endless_job');
RESET statement_timeout;

-- stall_timeout_s is "no byte for that long": a byte every 1.2 s passes a
-- stall_timeout_s of 2
CREATE FOREIGN TABLE drip (a text) SERVER hostile_api
  OPTIONS (path '/drip?delay=1.2', stall_timeout_s '2');
SELECT * FROM drip;
-- headers that trickle in: connected, and the timeout that ended it named
CREATE FOREIGN TABLE trickle (a text) SERVER hostile_api
  OPTIONS (path '/trickle_headers?delay=0.3', timeout_ms '1500', retries '0');
SELECT error_of('SELECT * FROM trickle');

-- a header of 100,000 names without the table's column: the DETAIL shows
-- the first names, quoted, and says how many there are
CREATE FOREIGN TABLE wide (id text) SERVER hostile_api OPTIONS (path '/wide?columns=100000');
SELECT error_of('SELECT * FROM wide');

-- IMPORT FOREIGN SCHEMA on a value of 200,000 '[': text, not a stack overflow
CREATE SCHEMA deep;
IMPORT FOREIGN SCHEMA export FROM SERVER hostile_api INTO deep
  OPTIONS (path '/deep_json?depth=200000', table_name 'doc');
SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
 WHERE attrelid = 'deep.doc'::regclass AND attnum > 0 ORDER BY attnum;
DROP SCHEMA deep CASCADE;

-- secrets after ';' are redacted too; a path that cannot make a URL is
-- refused when it is set
CREATE FOREIGN TABLE semicolons (id text) SERVER hostile_api
  OPTIONS (path '/export/csv?rows=1;token=s3cret;x=1&api_key=k3y');
EXPLAIN (COSTS OFF) SELECT * FROM semicolons;
CREATE FOREIGN TABLE crlf (id text) SERVER hostile_api
  OPTIONS (path E'/export/csv\r\nHost: elsewhere');
CREATE FOREIGN TABLE spaced (id text) SERVER hostile_api OPTIONS (path '/export/csv');
ALTER FOREIGN TABLE spaced OPTIONS (SET path E'/a b\tc');

DROP FUNCTION error_of(text), peak_kb();
DROP SERVER hostile_api CASCADE;
