--
-- Exports listed by a manifest: a JSON document (an export job's result)
-- whose URLs, found by a JSON path, are the files of one table; here on a
-- second origin (127.0.0.2), pre-signed, one of them expiring once.
--
SET timezone = 'UTC';
-- explain_analyze(query): EXPLAIN ANALYZE without what varies between majors
\i sql/include/explain_analyze.sql
CREATE SERVER manifest_api FOREIGN DATA WRAPPER csv_export_fdw
  OPTIONS (base_url 'http://127.0.0.1:5001', allowed_origins 'http://127.0.0.2:5001');
-- credentials for the API; the files' host answers 400 to any it is sent
CREATE USER MAPPING FOR CURRENT_USER SERVER manifest_api
  OPTIONS (bearer_token 'manifest-s3cret');

CREATE FOREIGN TABLE files_export (
  id text, name text, "updatedAt" timestamptz,
  file int OPTIONS (source 'page'), file_url text OPTIONS (source 'url'))
  SERVER manifest_api
  OPTIONS (path '/manifest?files=3&rows=4&host=127.0.0.2&case=plain',
           manifest '$.files[*].url');
SELECT file, file_url, count(*), count(DISTINCT id)
  FROM files_export GROUP BY 1, 2 ORDER BY 1;
SELECT explain_analyze('SELECT count(*) FROM files_export');
-- the three files are the three parts of the export
CREATE FOREIGN TABLE whole_export (id text, name text, "updatedAt" timestamptz)
  SERVER manifest_api OPTIONS (path '/export/csv?rows=12');
SELECT count(*) AS differing
  FROM (SELECT id, name, "updatedAt" FROM files_export
        EXCEPT SELECT id, name, "updatedAt" FROM whole_export) d;

-- file 2's URL has expired by the time it is fetched (403): the manifest
-- is read again, once, and file 2 and 3 come from its new URLs
ALTER FOREIGN TABLE files_export
  OPTIONS (SET path '/manifest?files=3&rows=4&host=127.0.0.2&case=expiring&expire=2');
SELECT file, substring(file_url FROM 'read=\d+') AS manifest_read, count(*)
  FROM files_export GROUP BY 1, 2 ORDER BY 1;

-- an export job (POST, 202 while it runs, 303 to its result) whose result
-- is the manifest; read again, the manifest is fetched where the job
-- left it (GET), not by starting another job
ALTER FOREIGN TABLE files_export
  OPTIONS (SET path '/jobs?polls=1&manifest=3&host=127.0.0.2&expire=2',
           ADD method 'POST', ADD body '{"rows": 3}', ADD poll_interval_ms '50');
SELECT file, substring(file_url FROM 'read=\d+') AS manifest_read, count(*)
  FROM files_export GROUP BY 1, 2 ORDER BY 1;
ALTER FOREIGN TABLE files_export OPTIONS (DROP method, DROP body, DROP poll_interval_ms);

-- the files of exports are often compressed (.csv.gz): each is decoded
ALTER FOREIGN TABLE files_export
  OPTIONS (SET path '/manifest?files=3&rows=4&host=127.0.0.2&case=packed&pack=gzip');
SELECT count(*) AS differing
  FROM (SELECT id, name, "updatedAt" FROM files_export
        EXCEPT SELECT id, name, "updatedAt" FROM whole_export) d;
SELECT line FROM explain_analyze('SELECT count(*) FROM files_export') line
 WHERE line ~ 'Files|Compression';

-- a file that fails once (503) is fetched again, as any request
ALTER FOREIGN TABLE files_export
  OPTIONS (SET path '/manifest?files=3&rows=4&host=127.0.0.2&case=flaky&flaky=2');
SELECT file, count(*) FROM files_export GROUP BY 1 ORDER BY 1;
SELECT line FROM explain_analyze('SELECT count(*) FROM files_export') line
 WHERE line ~ 'Files|Requests';

-- a sync of the files
CREATE TABLE files_target (id text PRIMARY KEY, name text, file int);
ALTER FOREIGN TABLE files_export
  OPTIONS (SET path '/manifest?files=3&rows=4&host=127.0.0.2&case=sync');
CALL csv_export.sync('files_export', 'files_target');
SELECT file, count(*) FROM files_target GROUP BY file ORDER BY file;

-- URLs relative to the manifest's: on its own origin (no credentials here)
CREATE SERVER manifest_home FOREIGN DATA WRAPPER csv_export_fdw
  OPTIONS (base_url 'http://127.0.0.1:5001');
CREATE FOREIGN TABLE relative_export (id text, file_url text OPTIONS (source 'url'))
  SERVER manifest_home
  OPTIONS (path '/manifest?files=2&rows=2&relative=1&case=relative', manifest '$.files[*].url');
SELECT file_url, count(*) FROM relative_export GROUP BY 1 ORDER BY 1;

-- errors: files on an origin the server does not allow; a path that finds
-- nothing, or finds objects; a body that is no JSON; a file URL that
-- expires twice; options that do not go together
ALTER FOREIGN TABLE relative_export
  OPTIONS (SET path '/manifest?files=2&rows=2&host=127.0.0.2&case=elsewhere');
SELECT count(*) FROM relative_export;
ALTER FOREIGN TABLE relative_export
  OPTIONS (SET path '/manifest?files=2&case=nothing', SET manifest '$.parts[*].url');
SELECT count(*) FROM relative_export;
ALTER FOREIGN TABLE relative_export OPTIONS (SET manifest '$.files[*]');
SELECT count(*) FROM relative_export;
ALTER FOREIGN TABLE relative_export
  OPTIONS (SET path '/fixtures/drift_1.csv', SET manifest '$.files[*].url');
SELECT count(*) FROM relative_export;
ALTER FOREIGN TABLE relative_export OPTIONS (SET manifest '$.files[*');
CREATE FOREIGN TABLE both_export (id text) SERVER manifest_home
  OPTIONS (path '/x', manifest '$.files[*].url', pagination 'link');
CREATE FOREIGN TABLE expired_export (id text) SERVER manifest_home
  OPTIONS (path '/manifest?files=2&case=twice&expire=1&expire_reads=2',
           manifest '$.files[*].url');
SELECT count(*) FROM expired_export;

DELETE FROM csv_export.sync_log WHERE target = 'files_target'::regclass;
DELETE FROM csv_export.sync_state WHERE target = 'files_target'::regclass;
DROP TABLE files_target;
DROP FUNCTION explain_analyze(text, text);
DROP SERVER manifest_api, manifest_home CASCADE;
