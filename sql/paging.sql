--
-- Paged exports: one scan reads every page, whatever the paging style
--
-- explain_analyze(query): EXPLAIN ANALYZE without what varies between majors
\i sql/include/explain_analyze.sql
SET timezone = 'UTC';

CREATE SERVER paged_api FOREIGN DATA WRAPPER csv_export_fdw
  OPTIONS (base_url 'http://127.0.0.1:5001', retries '0');
CREATE FOREIGN TABLE user_whole (id text, name text, "updatedAt" timestamptz) SERVER paged_api
  OPTIONS (path '/export/csv?rows=10');

-- Link: rel="next" (relative URLs), until there is none
CREATE FOREIGN TABLE paged_link (id text, name text, "updatedAt" timestamptz) SERVER paged_api
  OPTIONS (path '/paged?mode=link&rows=10&per_page=3', pagination 'link');
SELECT count(*) FROM (TABLE paged_link EXCEPT ALL TABLE user_whole) d;
SELECT count(*) FROM paged_link;
SELECT explain_analyze($$SELECT * FROM paged_link$$);

-- a page number, up to the first page with no rows (here: page 4)
CREATE FOREIGN TABLE paged_page (id text, name text, "updatedAt" timestamptz) SERVER paged_api
  OPTIONS (path '/paged?mode=page&rows=9', pagination 'page', page_param 'page',
           page_size_param 'per_page', page_size '3');
SELECT count(*) FROM paged_page;
SELECT count(*) FROM (TABLE paged_page EXCEPT ALL TABLE user_whole) d;
SELECT explain_analyze($$SELECT * FROM paged_page$$);

-- an offset and a limit, up to a short page
CREATE FOREIGN TABLE paged_offset (id text, name text, "updatedAt" timestamptz) SERVER paged_api
  OPTIONS (path '/paged?mode=offset&rows=10', pagination 'offset', offset_param 'offset',
           limit_param 'limit', page_size '4');
SELECT count(*) FROM paged_offset;
SELECT count(*) FROM (TABLE paged_offset EXCEPT ALL TABLE user_whole) d;
SELECT explain_analyze($$SELECT * FROM paged_offset$$);

-- a cursor from a response header, sent back as a parameter
CREATE FOREIGN TABLE paged_cursor (id text, name text, "updatedAt" timestamptz) SERVER paged_api
  OPTIONS (path '/paged?mode=cursor&rows=10&per_page=3', pagination 'cursor',
           cursor_header 'X-Next-Cursor', cursor_param 'cursor');
SELECT count(*) FROM (TABLE paged_cursor EXCEPT ALL TABLE user_whole) d;
SELECT id FROM paged_cursor ORDER BY id DESC LIMIT 2;

-- pages fetched ahead (prefetch_pages, default 2) give exactly the same
-- rows; with 'page' the two pages guessed beyond the empty last page cost
-- two requests more
CREATE FOREIGN TABLE paged_ahead (id text, name text) SERVER paged_api
  OPTIONS (path '/paged?mode=page&rows=20&per_page=4&latency=0.05', pagination 'page',
           page_param 'page', page_size_param 'per_page', page_size '4');
CREATE TEMP TABLE read_ahead AS SELECT * FROM paged_ahead;
ALTER FOREIGN TABLE paged_ahead OPTIONS (ADD prefetch_pages '0');
CREATE TEMP TABLE read_in_turn AS SELECT * FROM paged_ahead;
SELECT (SELECT count(*) FROM read_ahead) AS ahead, (SELECT count(*) FROM read_in_turn) AS in_turn,
       (SELECT count(*) FROM (TABLE read_ahead EXCEPT ALL TABLE read_in_turn) d) AS differing;
SELECT explain_analyze($$SELECT * FROM paged_ahead$$);
ALTER FOREIGN TABLE paged_ahead OPTIONS (SET prefetch_pages '2');
SELECT explain_analyze($$SELECT * FROM paged_ahead$$);
ALTER FOREIGN TABLE paged_cursor OPTIONS (ADD prefetch_pages '4');
SELECT count(*) FROM paged_cursor;
SELECT count(*) FROM (TABLE paged_cursor EXCEPT ALL TABLE user_whole) d;

-- pages longer than one read of the body, with pages fetched ahead: the
-- page being read gets no bytes while the ones ahead are driven
CREATE FOREIGN TABLE paged_long (id text, name text) SERVER paged_api
  OPTIONS (path '/paged?mode=page&rows=30000&per_page=10000', pagination 'page',
           page_param 'page', page_size_param 'per_page', page_size '10000');
SELECT count(*), count(DISTINCT id), min(id), max(id) FROM paged_long;

-- since_param stays on every page
ALTER FOREIGN TABLE paged_link ALTER COLUMN "updatedAt" OPTIONS (ADD since_param 'updated_since');
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM paged_link WHERE "updatedAt" > '2024-12-01 12:00:00+00';

-- a bad value names its page and line (and the page's URL)
CREATE FOREIGN TABLE paged_typed (id text, "updatedAt" timestamptz) SERVER paged_api
  OPTIONS (path '/paged?mode=link&rows=10&per_page=3&bad_value=2', pagination 'link');
SELECT count(*) FROM paged_typed;
SELECT * FROM paged_typed;

-- skipped, it is recorded with its page
ALTER FOREIGN TABLE paged_typed OPTIONS (ADD on_error 'skip');
SELECT count(*) FROM paged_typed;
SELECT url, page, line, column_name, error FROM csv_export.rejects;
DELETE FROM csv_export.rejects;

-- every page must have the first page's header
CREATE FOREIGN TABLE paged_bad_header (id text) SERVER paged_api
  OPTIONS (path '/paged?mode=link&rows=10&per_page=3&bad_header=3', pagination 'link');
SELECT count(*) FROM paged_bad_header;

-- safety: max_pages, a next page on another origin, a loop
ALTER FOREIGN TABLE paged_link OPTIONS (ADD max_pages '2');
SELECT count(*) FROM paged_link;
CREATE FOREIGN TABLE paged_foreign (id text) SERVER paged_api
  OPTIONS (path '/paged?mode=link&rows=10&per_page=3&foreign=1', pagination 'link');
SELECT count(*) FROM paged_foreign;
CREATE FOREIGN TABLE paged_loop (id text) SERVER paged_api
  OPTIONS (path '/paged?mode=link&rows=10&per_page=3&loop=1', pagination 'link');
SELECT count(*) FROM paged_loop;

-- options
CREATE FOREIGN TABLE bad_paging (id text) SERVER paged_api
  OPTIONS (path '/x', pagination 'pages');
CREATE FOREIGN TABLE bad_paging (id text) SERVER paged_api
  OPTIONS (path '/x', pagination 'page');
CREATE FOREIGN TABLE bad_paging (id text) SERVER paged_api
  OPTIONS (path '/x', pagination 'offset', offset_param 'o', limit_param 'l');
CREATE FOREIGN TABLE bad_paging (id text) SERVER paged_api
  OPTIONS (path '/x', pagination 'cursor', cursor_param 'c');
CREATE FOREIGN TABLE bad_paging (id text) SERVER paged_api
  OPTIONS (path '/x', pagination 'link', max_pages '0');

-- a sync over a paged export
CREATE TABLE paged_target (id text PRIMARY KEY, name text, "updatedAt" timestamptz);
CALL csv_export.sync('paged_cursor', 'paged_target');
SELECT count(*) FROM paged_target;

-- IMPORT reads across pages too
IMPORT FOREIGN SCHEMA export FROM SERVER paged_api INTO public
  OPTIONS (path '/paged?mode=link&rows=10&per_page=3', pagination 'link',
           table_name 'imported_pages');
SELECT count(*) FROM imported_pages;

DROP TABLE paged_target;
DELETE FROM csv_export.sync_state;
DELETE FROM csv_export.sync_log;
DROP SERVER paged_api CASCADE;
DROP FUNCTION explain_analyze(text, text);
