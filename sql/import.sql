--
-- IMPORT FOREIGN SCHEMA, ANALYZE and the planner's estimates
--
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';

CREATE SERVER import_api FOREIGN DATA WRAPPER csv_export_fdw
  OPTIONS (base_url 'http://127.0.0.1:5001');
CREATE SCHEMA imported;

-- the columns of a table, with their types and options
CREATE FUNCTION columns_of(rel regclass) RETURNS TABLE (name name, type text, options text[])
LANGUAGE sql AS $$
  SELECT attname, format_type(atttypid, atttypmod), attfdwoptions FROM pg_attribute
   WHERE attrelid = rel AND attnum > 0 AND NOT attisdropped ORDER BY attnum
$$;
-- the planner's row estimate of a query
CREATE FUNCTION plan_rows(query text) RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE
  plan json;
BEGIN
  EXECUTE 'EXPLAIN (FORMAT JSON) ' || query INTO plan;
  RETURN (plan -> 0 -> 'Plan' ->> 'Plan Rows')::numeric;
END $$;

-- the user export: ids are not UUIDs, so text; the times are timestamptz;
-- the table options given are carried over
IMPORT FOREIGN SCHEMA export LIMIT TO ("user") FROM SERVER import_api INTO imported
  OPTIONS (path '/export/csv?rows=2000', stall_timeout_s '30');
SELECT * FROM columns_of('imported."user"');
SELECT ftoptions FROM pg_foreign_table WHERE ftrelid = 'imported."user"'::regclass;
SELECT count(*), max("updatedAt") FROM imported."user";

-- every inferable type; a column nothing fits is text, and so is one
-- whose sample is all empty
IMPORT FOREIGN SCHEMA export LIMIT TO (inferable) FROM SERVER import_api INTO imported
  OPTIONS (path '/fixtures/inferable.csv');
SELECT * FROM columns_of('imported.inferable');
SELECT * FROM imported.inferable;
IMPORT FOREIGN SCHEMA export FROM SERVER import_api INTO imported
  OPTIONS (path '/fixtures/inferable.csv', table_name 'all_text', infer_types 'false');
SELECT count(*) FILTER (WHERE type = 'text') AS text_columns, count(*) FROM columns_of('imported.all_text');

-- only the sample is read: the transfer stops after sample_rows rows (this
-- export sends a row a second for 100 seconds)
SET statement_timeout = '20s';
IMPORT FOREIGN SCHEMA export FROM SERVER import_api INTO imported
  OPTIONS (path '/slow?rows=100&delay=1', table_name 'sampled', sample_rows '2');
RESET statement_timeout;
SELECT * FROM columns_of('imported.sampled');
SELECT ftoptions FROM pg_foreign_table WHERE ftrelid = 'imported.sampled'::regclass;

-- awkward header names: kept as they are (quoted), or normalized to
-- snake_case with column_name pointing at the header
IMPORT FOREIGN SCHEMA export FROM SERVER import_api INTO imported
  OPTIONS (path '/fixtures/awkward_names.csv', table_name 'awkward');
IMPORT FOREIGN SCHEMA export FROM SERVER import_api INTO imported
  OPTIONS (path '/fixtures/dup_header.csv', table_name 'dup');
IMPORT FOREIGN SCHEMA export FROM SERVER import_api INTO imported
  OPTIONS (path '/fixtures/awkward_names.csv', table_name 'awkward', normalize_names 'true');
SELECT * FROM columns_of('imported.awkward');
SELECT * FROM imported.awkward;
IMPORT FOREIGN SCHEMA export FROM SERVER import_api INTO imported
  OPTIONS (path '/fixtures/reordered.csv', table_name 'quoted_names');
SELECT * FROM columns_of('imported.quoted_names');

-- header only: every column text; no header: column_1, column_2, ...
IMPORT FOREIGN SCHEMA export FROM SERVER import_api INTO imported
  OPTIONS (path '/fixtures/header_only.csv', table_name 'header_only');
SELECT * FROM columns_of('imported.header_only');
IMPORT FOREIGN SCHEMA export FROM SERVER import_api INTO imported
  OPTIONS (path '/fixtures/no_header.csv', table_name 'no_header', header 'false');
SELECT * FROM columns_of('imported.no_header');
SELECT * FROM imported.no_header;

-- wrong use
IMPORT FOREIGN SCHEMA export FROM SERVER import_api INTO imported OPTIONS (path '/export/csv');
IMPORT FOREIGN SCHEMA export LIMIT TO (a, b) FROM SERVER import_api INTO imported
  OPTIONS (path '/export/csv');
IMPORT FOREIGN SCHEMA export EXCEPT (a) FROM SERVER import_api INTO imported
  OPTIONS (path '/export/csv');
IMPORT FOREIGN SCHEMA export LIMIT TO (a) FROM SERVER import_api INTO imported
  OPTIONS (path '/export/csv', table_name 'b');
IMPORT FOREIGN SCHEMA export LIMIT TO (a) FROM SERVER import_api INTO imported
  OPTIONS (path '/export/csv', delimeter ';');
IMPORT FOREIGN SCHEMA export LIMIT TO (a) FROM SERVER import_api INTO imported
  OPTIONS (path '/fixtures/empty.csv');
IMPORT FOREIGN SCHEMA export LIMIT TO (a) FROM SERVER import_api INTO imported
  OPTIONS (path '/status/404', retries '0');

--
-- ANALYZE streams the export and samples it: real statistics and reltuples
--
SELECT plan_rows('SELECT * FROM imported."user"') AS rows_before_analyze;
ANALYZE imported."user";
SELECT relpages, reltuples FROM pg_class WHERE oid = 'imported."user"'::regclass;
SELECT attname, null_frac, n_distinct, most_common_vals::text
  FROM pg_stats WHERE schemaname = 'imported' AND tablename = 'user'
   AND attname IN ('id', 'company', 'job') ORDER BY attname;
SELECT plan_rows('SELECT * FROM imported."user"') AS rows_after_analyze,
       plan_rows($$SELECT * FROM imported."user" WHERE company = 'Hooli'$$) AS hooli_estimate,
       (SELECT count(*) FROM imported."user" WHERE company = 'Hooli') AS hooli_actual;

-- a join with a local table: the estimate follows the export's statistics
CREATE TABLE accounts (company text PRIMARY KEY, tier text);
INSERT INTO accounts VALUES ('Hooli', 'gold'), ('Globex', 'gold'), ('Initech', 'silver');
ANALYZE accounts;
SELECT plan_rows($$SELECT * FROM imported."user" u JOIN accounts a USING (company)
                  WHERE a.tier = 'gold'$$) AS join_estimate,
       (SELECT count(*) FROM imported."user" u JOIN accounts a USING (company)
         WHERE a.tier = 'gold') AS join_actual;
EXPLAIN (COSTS OFF)
SELECT * FROM imported."user" u JOIN accounts a USING (company) WHERE a.tier = 'gold';

-- without ANALYZE: expected_rows, else a default of 1000; a scan starts
-- with the cost of a round trip
SELECT plan_rows('SELECT * FROM imported.inferable') AS default_estimate;
ALTER FOREIGN TABLE imported.inferable OPTIONS (ADD expected_rows '5000000');
SELECT plan_rows('SELECT * FROM imported.inferable') AS expected_rows_estimate;
ALTER FOREIGN TABLE imported.inferable OPTIONS (SET expected_rows 'lots');
EXPLAIN SELECT * FROM imported.header_only;
EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM imported."user" WHERE "updatedAt" > '2024-12-01';

-- ANALYZE of a failing export fails cleanly, and leaves the statistics
ALTER FOREIGN TABLE imported."user" OPTIONS (SET path '/status/500', ADD retries '0');
ANALYZE imported."user";
SELECT reltuples FROM pg_class WHERE oid = 'imported."user"'::regclass;

DROP TABLE accounts;
DROP SCHEMA imported CASCADE;
DROP SERVER import_api CASCADE;
DROP FUNCTION columns_of(regclass), plan_rows(text);
