--
-- Where a row came from: columns with the option source ('url', 'line',
-- 'page') are filled from the export's metadata, not from the CSV.
--
CREATE SERVER sources_api FOREIGN DATA WRAPPER csv_export_fdw
  OPTIONS (base_url 'http://127.0.0.1:5001');

-- physical lines: a record with line breaks in its quotes takes several
CREATE FOREIGN TABLE sourced_lines (
  id int, label text,
  line bigint OPTIONS (source 'line'),
  from_url text OPTIONS (source 'url'),
  page int OPTIONS (source 'page'))
  SERVER sources_api OPTIONS (path '/fixtures/rfc4180.csv');
SELECT id, replace(label, E'\n', '\n') AS label, line, from_url, page FROM sourced_lines;
-- without an archive, the member is NULL
ALTER FOREIGN TABLE sourced_lines ADD COLUMN member text OPTIONS (source 'member');
SELECT count(*), count(member) FROM sourced_lines;
-- a query that reads none of them, or only them
SELECT count(*) FROM sourced_lines;
SELECT line FROM sourced_lines WHERE id > 5;

-- pages: each row names its page and the page's URL
CREATE FOREIGN TABLE sourced_pages (
  id text, page int OPTIONS (source 'page'), url text OPTIONS (source 'url'),
  line int OPTIONS (source 'line'))
  SERVER sources_api OPTIONS (path '/paged?mode=page&rows=5', pagination 'page',
                              page_param 'page', page_size_param 'per_page', page_size '2');
SELECT page, url, line, count(*) FROM sourced_pages GROUP BY page, url, line ORDER BY page, line;

-- IMPORT adds them on request
IMPORT FOREIGN SCHEMA ignored FROM SERVER sources_api INTO public
  OPTIONS (path '/fixtures/drift_1.csv', table_name 'imported_sources',
           source_columns 'line, url');
SELECT attname, format_type(atttypid, atttypmod), attfdwoptions FROM pg_attribute
 WHERE attrelid = 'imported_sources'::regclass AND attnum > 0 ORDER BY attnum;
SELECT * FROM imported_sources;

-- wrong use
CREATE FOREIGN TABLE bad_source (id int, x text OPTIONS (source 'file'))
  SERVER sources_api OPTIONS (path '/fixtures/drift_1.csv');
CREATE FOREIGN TABLE wrong_type (id int, name text, at int OPTIONS (source 'url'))
  SERVER sources_api OPTIONS (path '/fixtures/drift_1.csv');
SELECT * FROM wrong_type;
IMPORT FOREIGN SCHEMA ignored FROM SERVER sources_api INTO public
  OPTIONS (path '/fixtures/drift_1.csv', table_name 'bad_import', source_columns 'line, row');
DROP SERVER sources_api CASCADE;
