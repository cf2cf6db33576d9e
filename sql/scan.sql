--
-- Scanning the user export of the mock API: the reference case.
--
-- explain_analyze(query): EXPLAIN ANALYZE without what varies between majors
\i sql/include/explain_analyze.sql
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';

CREATE SERVER export_api FOREIGN DATA WRAPPER csv_export_fdw
  OPTIONS (base_url 'http://127.0.0.1:5001');
CREATE FOREIGN TABLE "user" (
  id text, name text, email text, address text, company text, job text,
  "updatedAt" timestamptz, "createdAt" timestamptz
) SERVER export_api OPTIONS (path '/export/csv');

SELECT * FROM "user" ORDER BY id LIMIT 5;
SELECT count(*) FROM "user";

-- the same export read by COPY is the reference: every row, every value
CREATE TEMP TABLE user_copy (LIKE "user");
COPY user_copy FROM PROGRAM 'curl -sS http://127.0.0.1:5001/export/csv' (FORMAT csv, HEADER);
SELECT count(*) AS only_in_fdw FROM (TABLE "user" EXCEPT ALL TABLE user_copy) d;
SELECT count(*) AS only_in_copy FROM (TABLE user_copy EXCEPT ALL TABLE "user") d;

-- a larger export, streamed in many chunks, still matches
CREATE FOREIGN TABLE user_5k (
  id text, name text, email text, address text, company text, job text,
  "updatedAt" timestamptz, "createdAt" timestamptz
) SERVER export_api OPTIONS (path '/export/csv?rows=5000');
TRUNCATE user_copy;
COPY user_copy FROM PROGRAM 'curl -sS http://127.0.0.1:5001/export/csv?rows=5000' (FORMAT csv, HEADER);
SELECT count(*) AS only_in_fdw FROM (TABLE user_5k EXCEPT ALL TABLE user_copy) d;
SELECT count(*) AS only_in_copy FROM (TABLE user_copy EXCEPT ALL TABLE user_5k) d;

-- columns are matched by header name: any order, any subset, renamed
CREATE FOREIGN TABLE user_subset (
  "createdAt" timestamptz,
  mail text OPTIONS (column_name 'email'),
  id text
) SERVER export_api OPTIONS (path '/export/csv');
SELECT * FROM user_subset ORDER BY id LIMIT 3;

-- whole-row references need every column
SELECT row_to_json(u) FROM user_subset u ORDER BY id LIMIT 2;

-- quals are applied (by the executor) and may use columns not in the output
SELECT id FROM "user" WHERE "updatedAt" BETWEEN '2024-12-01 11:00Z' AND '2024-12-01 13:00Z'
  ORDER BY id;
SELECT company, count(*) FROM "user" GROUP BY company ORDER BY company;

-- rescan: the foreign table on the inner side of a nested loop is fetched
-- again for each outer row
CREATE TEMP TABLE wanted (id text);
INSERT INTO wanted SELECT id FROM "user" WHERE name IN ('Radia Ritchie', 'Alan Hopper')
  ORDER BY id LIMIT 2;
INSERT INTO wanted VALUES ('nobody');
SET enable_hashjoin = off;
SET enable_mergejoin = off;
SET enable_material = off;
EXPLAIN (COSTS OFF)
SELECT w.id, u.name FROM wanted w LEFT JOIN "user" u ON u.id = w.id;
SELECT w.id, u.name FROM wanted w LEFT JOIN "user" u ON u.id = w.id ORDER BY w.id;
SELECT explain_analyze($$SELECT w.id, u.name FROM wanted w LEFT JOIN "user" u ON u.id = w.id$$);
RESET enable_hashjoin;
RESET enable_mergejoin;
RESET enable_material;

-- a scan stopped early (LIMIT) and a cursor left open mid-export
SELECT id FROM "user" LIMIT 2;
BEGIN;
DECLARE c CURSOR FOR SELECT id FROM user_5k;
FETCH 2 FROM c;
FETCH 1 FROM c;
CLOSE c;
COMMIT;

-- EXPLAIN shows the URL; ANALYZE adds bytes and records
EXPLAIN (COSTS OFF) SELECT * FROM "user";
EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM "user";
SELECT explain_analyze($$SELECT count(*) FROM "user"$$);
SELECT explain_analyze($$SELECT count(*) FROM "user"$$, ', FORMAT JSON');

-- credentials in a URL never show
CREATE FOREIGN TABLE user_secret_url (id text) SERVER export_api
  OPTIONS (url 'http://alice:s3cret@127.0.0.1:5001/export/csv?rows=3&api_key=k3y&format=csv#frag');
EXPLAIN (COSTS OFF) SELECT * FROM user_secret_url;
SELECT count(*) FROM user_secret_url;

DROP SERVER export_api CASCADE;
DROP FUNCTION explain_analyze(text, text);
