--
-- Option validation: every check happens when an option is set.
--
SET client_min_messages = warning;

-- the extension brings the wrapper and its schema
SELECT fdwname, fdwhandler::regproc, fdwvalidator::regproc
  FROM pg_foreign_data_wrapper WHERE fdwname = 'csv_export_fdw';
SELECT nspname FROM pg_namespace WHERE nspname = 'csv_export';

-- server options
CREATE SERVER bad_server FOREIGN DATA WRAPPER csv_export_fdw
  OPTIONS (base_ulr 'http://127.0.0.1:5001');
CREATE SERVER bad_server FOREIGN DATA WRAPPER csv_export_fdw
  OPTIONS (path '/export/csv');
CREATE SERVER bad_server FOREIGN DATA WRAPPER csv_export_fdw
  OPTIONS (base_url 'file:///etc/passwd');
CREATE SERVER bad_server FOREIGN DATA WRAPPER csv_export_fdw
  OPTIONS (base_url 'ftp://127.0.0.1/export.csv');
CREATE SERVER bad_server FOREIGN DATA WRAPPER csv_export_fdw
  OPTIONS (base_url 'not a url');
CREATE SERVER opts_api FOREIGN DATA WRAPPER csv_export_fdw
  OPTIONS (base_url 'http://127.0.0.1:5001');
CREATE SERVER opts_no_base FOREIGN DATA WRAPPER csv_export_fdw;

-- the wrapper itself takes no options
ALTER FOREIGN DATA WRAPPER csv_export_fdw OPTIONS (base_url 'http://x');

-- table options: exactly one of url and path
CREATE FOREIGN TABLE t_none (id int) SERVER opts_api;
CREATE FOREIGN TABLE t_both (id int) SERVER opts_api
  OPTIONS (url 'http://127.0.0.1:5001/export/csv', path '/export/csv');
CREATE FOREIGN TABLE t_bad_url (id int) SERVER opts_api OPTIONS (url 'file:///etc/passwd');
CREATE FOREIGN TABLE t_empty_path (id int) SERVER opts_api OPTIONS (path '');
CREATE FOREIGN TABLE t_typo (id int) SERVER opts_api OPTIONS (path '/x', delimeter ';');
CREATE FOREIGN TABLE t_far (id int) SERVER opts_api OPTIONS (path '/x', frobnicate 'yes');

-- CSV format options
CREATE FOREIGN TABLE t_delim (id int) SERVER opts_api OPTIONS (path '/x', delimiter ';;');
CREATE FOREIGN TABLE t_delim (id int) SERVER opts_api OPTIONS (path '/x', delimiter '');
CREATE FOREIGN TABLE t_delim (id int) SERVER opts_api OPTIONS (path '/x', delimiter E'\n');
CREATE FOREIGN TABLE t_delim (id int) SERVER opts_api OPTIONS (path '/x', delimiter 'é');
CREATE FOREIGN TABLE t_quote (id int) SERVER opts_api OPTIONS (path '/x', quote '""');
CREATE FOREIGN TABLE t_same (id int) SERVER opts_api OPTIONS (path '/x', delimiter '"');
CREATE FOREIGN TABLE t_same (id int) SERVER opts_api OPTIONS (path '/x', delimiter '|', quote '|');
CREATE FOREIGN TABLE t_header (id int) SERVER opts_api OPTIONS (path '/x', header 'maybe');
CREATE FOREIGN TABLE t_enc (id int) SERVER opts_api OPTIONS (path '/x', encoding 'klingon');
CREATE FOREIGN TABLE t_match (id int) SERVER opts_api OPTIONS (path '/x', header_match 'loose');
-- in encodings whose characters can hold ASCII bytes from '0' on, such a
-- delimiter or quote would split characters: refused at CREATE and ALTER
CREATE FOREIGN TABLE t_sjis (id int) SERVER opts_api OPTIONS (path '/x', encoding 'SJIS', delimiter '|');
CREATE FOREIGN TABLE t_sjis (id int) SERVER opts_api OPTIONS (path '/x', encoding 'BIG5', quote '\');
CREATE FOREIGN TABLE t_sjis (id int) SERVER opts_api OPTIONS (path '/x', encoding 'SJIS', delimiter E'\t');
ALTER FOREIGN TABLE t_sjis OPTIONS (SET delimiter ';');
ALTER FOREIGN TABLE t_sjis OPTIONS (SET encoding 'LATIN1');
ALTER FOREIGN TABLE t_sjis OPTIONS (SET delimiter ';');
DROP FOREIGN TABLE t_sjis;

-- column options
CREATE FOREIGN TABLE t_col (id int OPTIONS (column_nam 'ID')) SERVER opts_api OPTIONS (path '/x');
CREATE FOREIGN TABLE t_col (id int OPTIONS (since_param '')) SERVER opts_api OPTIONS (path '/x');
CREATE FOREIGN TABLE t_col (id int OPTIONS (delimiter ',')) SERVER opts_api OPTIONS (path '/x');

-- user mappings take credentials, and nothing else
CREATE USER MAPPING FOR CURRENT_USER SERVER opts_api OPTIONS (token 'x');

-- a valid table with every option
CREATE FOREIGN TABLE t_ok (id int OPTIONS (column_name 'ID'), label text)
  SERVER opts_api
  OPTIONS (path '/export/csv', delimiter ';', quote '''', header 'false',
           null 'NULL', encoding 'latin1');
SELECT ftoptions FROM pg_foreign_table WHERE ftrelid = 't_ok'::regclass;
SELECT attname, attfdwoptions FROM pg_attribute
  WHERE attrelid = 't_ok'::regclass AND attnum > 0 ORDER BY attnum;

-- ALTER is validated too, against the options the table ends up with
ALTER FOREIGN TABLE t_ok OPTIONS (SET delimiter 'tab');
ALTER FOREIGN TABLE t_ok OPTIONS (ADD url 'http://127.0.0.1:5001/export/csv');
ALTER FOREIGN TABLE t_ok OPTIONS (DROP path);
ALTER FOREIGN TABLE t_ok OPTIONS (ADD url 'http://127.0.0.1:5001/export/csv', DROP path);
ALTER FOREIGN TABLE t_ok ALTER COLUMN id OPTIONS (SET column_name 'identifier');
ALTER SERVER opts_api OPTIONS (SET base_url 'gopher://127.0.0.1');

-- path on a server without base_url fails when the table is used
CREATE FOREIGN TABLE t_no_base (id int) SERVER opts_no_base OPTIONS (path '/export/csv');
SELECT * FROM t_no_base;

DROP SERVER opts_api CASCADE;
DROP SERVER opts_no_base CASCADE;
