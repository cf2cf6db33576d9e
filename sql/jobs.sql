--
-- Asynchronous exports: a POST starts a job, 202 Accepted with a Location
-- is polled until the export is ready (200, or a redirect to the file)
--
-- explain_analyze(query): EXPLAIN ANALYZE without what varies between majors
\i sql/include/explain_analyze.sql
SET timezone = 'UTC';

CREATE SERVER jobs_api FOREIGN DATA WRAPPER csv_export_fdw
  OPTIONS (base_url 'http://127.0.0.1:5001', poll_interval_ms '100', retries '0');

-- 202 twice, then a 303 to the file; the POST body says how many rows
CREATE FOREIGN TABLE job_export (id text, name text) SERVER jobs_api
  OPTIONS (path '/jobs?polls=2', method 'POST', body '{"rows": 4}',
           headers 'Content-Type: application/json');
SELECT * FROM job_export;
-- every request counts: the POST, two polls that answered 202, the poll
-- that redirected, and the download
SELECT explain_analyze($$SELECT * FROM job_export$$);

-- a job that never finishes ends at poll_timeout_s
CREATE FOREIGN TABLE endless_job (id text) SERVER jobs_api
  OPTIONS (path '/jobs?never=1', method 'POST', body '{}', poll_timeout_s '1');
SELECT clock_timestamp() AS started \gset
SELECT * FROM endless_job;
SELECT clock_timestamp() - :'started' < interval '10 seconds' AS stopped_in_time;

-- the job's requests follow the host rules (each poll and redirect is checked)
SET csv_export_fdw.allowed_hosts = 'localhost';
SELECT * FROM job_export;
RESET csv_export_fdw.allowed_hosts;

-- options
CREATE FOREIGN TABLE bad_job (id text) SERVER jobs_api OPTIONS (path '/jobs', method 'PUT');
CREATE FOREIGN TABLE bad_job (id text) SERVER jobs_api OPTIONS (path '/jobs', body '{}');
CREATE FOREIGN TABLE bad_job (id text) SERVER jobs_api
  OPTIONS (path '/jobs', method 'POST', poll_timeout_s '0');

-- a sync over an export job
CREATE TABLE job_target (id text PRIMARY KEY, name text);
CALL csv_export.sync('job_export', 'job_target');
SELECT count(*) FROM job_target;

DROP TABLE job_target;
DELETE FROM csv_export.sync_state;
DELETE FROM csv_export.sync_log;
DROP SERVER jobs_api CASCADE;
DROP FUNCTION explain_analyze(text, text);
