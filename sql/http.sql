--
-- The HTTP client: credentials from user mappings, headers, compression,
-- retries, redirects, timeouts, limits, the host allow-list, and secrets
-- kept out of everything a user or the log sees.
--
-- explain_analyze(query): EXPLAIN ANALYZE without what varies between majors
\i sql/include/explain_analyze.sql
SET timezone = 'UTC';

-- returns the SQLSTATE and message of an error, to search it for secrets
CREATE FUNCTION error_of(query text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  msg text; detail text; hint text; context text;
BEGIN
  EXECUTE query;
  RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL,
                          hint = PG_EXCEPTION_HINT, context = PG_EXCEPTION_CONTEXT;
  RETURN concat_ws(E'\n', SQLSTATE, msg, detail, hint, context);
END $$;
CREATE FUNCTION explain_of(query text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  line text; result text := '';
BEGIN
  FOR line IN EXECUTE 'EXPLAIN (VERBOSE, COSTS OFF) ' || query LOOP
    result := result || line || E'\n';
  END LOOP;
  RETURN result;
END $$;

--
-- Credentials live in user mappings
--
CREATE SERVER auth_api FOREIGN DATA WRAPPER csv_export_fdw
  OPTIONS (base_url 'http://127.0.0.1:5001', retry_delay_ms '0',
           allowed_origins 'http://localhost:5001');
CREATE FOREIGN TABLE bearer_export (id text, name text) SERVER auth_api
  OPTIONS (path '/auth/bearer?rows=3');
CREATE FOREIGN TABLE basic_export (id text, name text) SERVER auth_api
  OPTIONS (path '/auth/basic?rows=3');
CREATE FOREIGN TABLE apikey_export (id text, name text) SERVER auth_api
  OPTIONS (path '/auth/apikey?rows=3');

-- no user mapping: nothing is sent, and the error says so
SELECT * FROM bearer_export;

-- a wrong token: the error names the mapping, never the token (the API
-- echoes what it got; that is redacted too)
CREATE USER MAPPING FOR CURRENT_USER SERVER auth_api
  OPTIONS (bearer_token 'wrong-s3cret-token');
SELECT * FROM bearer_export;
SELECT split_part(error_of('SELECT * FROM bearer_export'), E'\n', 1) AS sqlstate,
       position('wrong-s3cret' IN error_of('SELECT * FROM bearer_export')) AS secret_at;

-- bearer, basic and API-key credentials
ALTER USER MAPPING FOR CURRENT_USER SERVER auth_api OPTIONS (SET bearer_token 's3cret-token');
SELECT * FROM bearer_export;
ALTER USER MAPPING FOR CURRENT_USER SERVER auth_api
  OPTIONS (DROP bearer_token, ADD username 'alice', ADD password 'wonderland');
SELECT * FROM basic_export;
ALTER USER MAPPING FOR CURRENT_USER SERVER auth_api
  OPTIONS (DROP username, DROP password, ADD headers 'X-Api-Key: k3y-123');
SELECT * FROM apikey_export;
SELECT * FROM basic_export;

-- user mapping options are checked
ALTER USER MAPPING FOR CURRENT_USER SERVER auth_api OPTIONS (ADD password 'x');
ALTER USER MAPPING FOR CURRENT_USER SERVER auth_api OPTIONS (ADD tokne 'x');
ALTER USER MAPPING FOR CURRENT_USER SERVER auth_api OPTIONS (SET headers 'no colon here');
CREATE USER MAPPING FOR PUBLIC SERVER auth_api OPTIONS (bearer_token 't', username 'u');
CREATE FOREIGN TABLE secret_table (id text) SERVER auth_api
  OPTIONS (path '/x', bearer_token 'not here');

-- the PUBLIC mapping applies to roles without their own; their own wins
CREATE ROLE csv_reader;
GRANT USAGE ON FOREIGN SERVER auth_api TO csv_reader;
GRANT SELECT ON bearer_export, apikey_export TO csv_reader;
CREATE USER MAPPING FOR PUBLIC SERVER auth_api OPTIONS (bearer_token 's3cret-token');
SET ROLE csv_reader;
SELECT count(*) FROM bearer_export;
SELECT * FROM apikey_export;
RESET ROLE;
CREATE USER MAPPING FOR csv_reader SERVER auth_api OPTIONS (bearer_token 'readers-own-token');
SET ROLE csv_reader;
SELECT * FROM bearer_export;
-- a role sees no one else's secrets
SELECT srvname, usename, umoptions FROM pg_user_mappings WHERE srvname = 'auth_api'
  ORDER BY usename;
RESET ROLE;

-- no secret in EXPLAIN, whatever the options
SELECT position('s3cret' IN explain_of('SELECT * FROM bearer_export')) AS secret_at,
       position('k3y-123' IN explain_of('SELECT * FROM apikey_export')) AS key_at;

--
-- Request headers: server headers, table headers instead of them, and the
-- default User-Agent
--
CREATE SERVER header_api FOREIGN DATA WRAPPER csv_export_fdw
  OPTIONS (base_url 'http://127.0.0.1:5001', headers E'Accept: text/csv\nX-Team: data',
           allowed_origins 'http://localhost:5001');
CREATE FOREIGN TABLE sent_headers (name text, value text) SERVER header_api
  OPTIONS (path '/headers');
CREATE FOREIGN TABLE sent_headers_table (name text, value text) SERVER header_api
  OPTIONS (path '/headers', headers 'X-Team: table', user_agent 'our-sync/2.0');
SELECT * FROM sent_headers WHERE name IN ('accept', 'x-team', 'user-agent', 'authorization')
  ORDER BY name;
SELECT * FROM sent_headers_table WHERE name IN ('accept', 'x-team', 'user-agent') ORDER BY name;

--
-- Redirects: followed up to max_redirects, http and https only;
-- credentials go to the first URL's origin and nowhere else
--
CREATE USER MAPPING FOR CURRENT_USER SERVER header_api
  OPTIONS (bearer_token 's3cret-token', headers 'X-Api-Key: k3y-123');
CREATE FOREIGN TABLE same_origin (name text, value text) SERVER header_api
  OPTIONS (path '/redirect?to=/headers');
CREATE FOREIGN TABLE other_origin (name text, value text) SERVER header_api
  OPTIONS (path '/redirect?to=http://localhost:5001/headers');
SELECT name, value <> '' AS sent FROM same_origin
  WHERE name IN ('authorization', 'x-api-key', 'x-team') ORDER BY name;
SELECT name, value <> '' AS sent FROM other_origin
  WHERE name IN ('authorization', 'x-api-key', 'x-team') ORDER BY name;
CREATE FOREIGN TABLE to_file (id text) SERVER auth_api
  OPTIONS (path '/redirect?to=file:///etc/passwd');
CREATE FOREIGN TABLE to_ftp (id text) SERVER auth_api
  OPTIONS (path '/redirect?to=ftp://127.0.0.1/export.csv');
SELECT * FROM to_file;
SELECT * FROM to_ftp;
CREATE FOREIGN TABLE two_hops (id text) SERVER auth_api
  OPTIONS (path '/redirect?to=/redirect%3Fto%3D/export/csv%253Frows%253D2&status=307');
SELECT * FROM two_hops;
ALTER FOREIGN TABLE two_hops OPTIONS (ADD max_redirects '1');
SELECT * FROM two_hops;

--
-- Compression: gzip and deflate are asked for and decoded (the mock
-- refuses to compress for a client that does not accept it)
--
CREATE FOREIGN TABLE plain_export (id text, name text, "updatedAt" timestamptz)
  SERVER auth_api OPTIONS (path '/export/csv?rows=500');
CREATE FOREIGN TABLE gzip_export (id text, name text, "updatedAt" timestamptz)
  SERVER auth_api OPTIONS (path '/export/csv?rows=500&compress=gzip');
CREATE FOREIGN TABLE deflate_export (id text, name text, "updatedAt" timestamptz)
  SERVER auth_api OPTIONS (path '/export/csv?rows=500&compress=deflate');
SELECT count(*) FROM gzip_export;
SELECT count(*) FROM (TABLE gzip_export EXCEPT ALL TABLE plain_export) d;
SELECT count(*) FROM (TABLE deflate_export EXCEPT ALL TABLE plain_export) d;

--
-- Retries: 429 and 503 honour Retry-After; 500, 502, 504 and connection
-- failures back off; each retry is logged (without secrets)
--
CREATE SERVER flaky_api FOREIGN DATA WRAPPER csv_export_fdw
  OPTIONS (base_url 'http://127.0.0.1:5001', retry_delay_ms '0',
           allowed_origins 'http://127.0.0.1:5002');
CREATE FOREIGN TABLE rate_limited (id text) SERVER flaky_api
  OPTIONS (path '/flaky?case=a&failures=1&status=429&retry_after=1&rows=3&token=t0ken');
CREATE FOREIGN TABLE unavailable (id text) SERVER flaky_api
  OPTIONS (path '/flaky?case=b&failures=2&status=503&rows=3');
CREATE FOREIGN TABLE broken_server (id text) SERVER flaky_api
  OPTIONS (path '/flaky?case=c&failures=99&status=500');
CREATE FOREIGN TABLE dropped (id text) SERVER flaky_api
  OPTIONS (path '/flaky?case=d&failures=1&status=0&rows=3');
CREATE FOREIGN TABLE cut_short (id text, name text) SERVER flaky_api
  OPTIONS (path '/flaky?case=e&failures=1&status=-1&rows=3');
CREATE FOREIGN TABLE not_retried (id text) SERVER flaky_api
  OPTIONS (path '/flaky?case=f&failures=1&status=503&rows=3', retries '0');
CREATE FOREIGN TABLE retry_date (id text) SERVER flaky_api
  OPTIONS (path '/flaky?case=g&failures=1&status=503&retry_after=date:2&rows=3');
SET client_min_messages = log;
SELECT clock_timestamp() AS started \gset
SELECT * FROM rate_limited;
SELECT clock_timestamp() - :'started' >= interval '1 second' AS waited;
SELECT * FROM unavailable;
SELECT * FROM broken_server;
SELECT * FROM dropped;
-- a body that breaks off before the first row: retried, read afresh
SELECT * FROM cut_short;
SELECT * FROM not_retried;
RESET client_min_messages;
SELECT clock_timestamp() AS started \gset
SELECT * FROM retry_date;
SELECT clock_timestamp() - :'started' >= interval '1 second' AS waited;
-- a body that breaks off after a row was rejected (on_error 'skip') is not
-- retried: the reject was recorded, of a response a retry would throw away
CREATE FOREIGN TABLE cut_after_reject (id text, name text, email text, address text,
  company text, job text, "updatedAt" timestamptz, "createdAt" timestamptz)
  SERVER flaky_api OPTIONS (path '/flaky?case=i&failures=1&status=-2&rows=3',
                            on_error 'skip');
SELECT count(*) FROM cut_after_reject;
SELECT count(*) AS rejects_recorded FROM csv_export.rejects
 WHERE foreign_table = 'cut_after_reject'::regclass;
-- a retried request must answer with the header the scan has mapped
CREATE FOREIGN TABLE header_changed (id text, name text) SERVER flaky_api
  OPTIONS (path '/flaky?case=j&failures=1&status=-3&rows=3');
SELECT * FROM header_changed;
CREATE FOREIGN TABLE flaky_explain (id text) SERVER flaky_api
  OPTIONS (path '/flaky?case=h&failures=2&status=502&rows=3');
SELECT explain_analyze($$SELECT * FROM flaky_explain$$);

--
-- Timeouts, stalls and size limits
--
CREATE FOREIGN TABLE blackhole (id text) SERVER flaky_api
  OPTIONS (url 'http://127.0.0.1:5002/export.csv', connect_timeout_ms '300', retries '0');
CREATE FOREIGN TABLE stalled (id text) SERVER flaky_api
  OPTIONS (path '/slow?rows=5&delay=30', stall_timeout_s '1', retries '0');
CREATE FOREIGN TABLE too_slow (id text) SERVER flaky_api
  OPTIONS (path '/slow?rows=5&delay=3', timeout_ms '1000', retries '0');
CREATE FOREIGN TABLE too_big (id text) SERVER flaky_api
  OPTIONS (path '/export/csv', max_bytes '10000');
SELECT clock_timestamp() AS started \gset
SELECT * FROM blackhole;
SELECT * FROM stalled;
SELECT count(*) FROM too_slow;
SELECT clock_timestamp() - :'started' < interval '10 seconds' AS all_stopped_promptly;
SELECT count(*) FROM too_big;
ALTER FOREIGN TABLE too_big OPTIONS (SET max_bytes '100000');
SELECT count(*) FROM too_big;

--
-- The host allow-list (superuser only), checked for every request and
-- every redirect
--
SET csv_export_fdw.allowed_hosts = 'localhost:5001, *.example.com';
SELECT count(*) FROM plain_export;
CREATE FOREIGN TABLE via_localhost (id text) SERVER auth_api
  OPTIONS (url 'http://localhost:5001/export/csv?rows=4');
SELECT count(*) FROM via_localhost;
CREATE FOREIGN TABLE redirect_out (id text) SERVER auth_api
  OPTIONS (url 'http://localhost:5001/redirect?to=http://127.0.0.1:5001/export/csv');
SELECT count(*) FROM redirect_out;
SET csv_export_fdw.allowed_hosts = '127.0.0.1';
SELECT count(*) FROM plain_export;
SET csv_export_fdw.allowed_hosts = '127.0.0.1:5002';
SELECT count(*) FROM plain_export;
RESET csv_export_fdw.allowed_hosts;
SET ROLE csv_reader;
SET csv_export_fdw.allowed_hosts = '';
RESET ROLE;

--
-- TLS: certificates and host names are verified; a CA file (superuser
-- only) can be trusted, or verification turned off (superuser only)
--
\getenv tls_ca_file TLS_CA_FILE
CREATE SERVER tls_api FOREIGN DATA WRAPPER csv_export_fdw
  OPTIONS (base_url 'https://127.0.0.1:5003', retries '0',
           allowed_origins 'https://localhost:5003');
CREATE FOREIGN TABLE tls_export (id text) SERVER tls_api OPTIONS (path '/export/csv?rows=3');
CREATE FOREIGN TABLE tls_wrong_host (id text) SERVER tls_api
  OPTIONS (url 'https://localhost:5003/export/csv?rows=3');
SELECT * FROM tls_export;
ALTER SERVER tls_api OPTIONS (ADD ca_file :'tls_ca_file');
SELECT * FROM tls_export;
SELECT * FROM tls_wrong_host;
ALTER SERVER tls_api OPTIONS (DROP ca_file, ADD ssl_verify 'false');
SELECT count(*) FROM tls_wrong_host;
DROP SERVER tls_api CASCADE;

--
-- What a role that is not superuser may set
--
GRANT USAGE ON FOREIGN DATA WRAPPER csv_export_fdw TO csv_reader;
GRANT CREATE ON SCHEMA public TO csv_reader;
SET ROLE csv_reader;
CREATE FOREIGN TABLE mine (id text) SERVER auth_api OPTIONS (path '/export/csv', timeout_ms '5000');
ALTER FOREIGN TABLE mine OPTIONS (ADD ssl_verify 'false');
ALTER FOREIGN TABLE mine OPTIONS (ADD ssl_verify 'true');
ALTER FOREIGN TABLE mine OPTIONS (ADD ca_file '/etc/ssl/certs/ca-certificates.crt');
ALTER FOREIGN TABLE mine OPTIONS (ADD proxy 'http://127.0.0.1:3128');
CREATE SERVER readers_server FOREIGN DATA WRAPPER csv_export_fdw
  OPTIONS (base_url 'https://127.0.0.1:5001', ssl_verify 'off');
RESET ROLE;
ALTER SERVER auth_api OPTIONS (ADD ssl_verify 'false', ADD proxy 'socks5h://127.0.0.1:1080');
ALTER SERVER auth_api OPTIONS (DROP ssl_verify, DROP proxy);
ALTER SERVER auth_api OPTIONS (ADD proxy 'ftp://127.0.0.1');
ALTER SERVER auth_api OPTIONS (ADD retries 'many');
ALTER SERVER auth_api OPTIONS (ADD retries '101');
ALTER SERVER auth_api OPTIONS (ADD user_agent E'bad\nagent');

DROP FOREIGN TABLE mine;
REVOKE CREATE ON SCHEMA public FROM csv_reader;
REVOKE USAGE ON FOREIGN DATA WRAPPER csv_export_fdw FROM csv_reader;
DROP SERVER auth_api, header_api, flaky_api CASCADE;
DROP ROLE csv_reader;
DROP FUNCTION error_of(text), explain_of(text);
DROP FUNCTION explain_analyze(text, text);
