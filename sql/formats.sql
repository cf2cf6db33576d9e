--
-- CSV dialects and corner cases, from fixture files served by the mock API.
-- Each is also read with ?chunk=1, which makes the mock send a byte or so at
-- a time: records, quoted newlines, multibyte characters and the byte-order
-- mark then arrive split across network reads and must come out the same.
--
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
\pset null '<null>'

CREATE SERVER fixtures FOREIGN DATA WRAPPER csv_export_fdw
  OPTIONS (base_url 'http://127.0.0.1:5001/fixtures');

-- RFC 4180: CRLF records, quoted delimiters, "" escapes, line breaks inside
-- quotes (kept byte for byte), spaces kept, last record without a newline
CREATE FOREIGN TABLE rfc (id int, label text, note text)
  SERVER fixtures OPTIONS (path 'rfc4180.csv');
CREATE FOREIGN TABLE rfc_split (id int, label text, note text)
  SERVER fixtures OPTIONS (path 'rfc4180.csv?chunk=1');
SELECT id, label, note, length(label) AS label_len, note LIKE E'%\r\n%' AS has_crlf
  FROM rfc ORDER BY id;
SELECT count(*) FROM (TABLE rfc EXCEPT ALL TABLE rfc_split) d;
SELECT count(*) FROM (TABLE rfc_split EXCEPT ALL TABLE rfc) d;

-- unquoted empty is NULL, quoted empty is the empty string
SELECT id, label IS NULL AS is_null, label = '' AS is_empty FROM rfc WHERE id IN (4, 5);

-- header names in any order; CSV columns the table lacks are ignored
CREATE FOREIGN TABLE reordered (id int, label text, note text)
  SERVER fixtures OPTIONS (path 'reordered.csv');
SELECT * FROM reordered;

-- types go through their input functions
CREATE FOREIGN TABLE typed (i int, n numeric, d date, b boolean, j jsonb, ts timestamptz, t text)
  SERVER fixtures OPTIONS (path 'types.csv');
SELECT * FROM typed;
SELECT j -> 'a' -> 1 AS j_a_1, pg_typeof(n) FROM typed WHERE i = 1;

-- a null marker: it replaces the empty field as NULL (libcsv does not tell
-- whether a non-empty field was quoted, so "NULL" matches too)
CREATE FOREIGN TABLE null_marker (id int, val text)
  SERVER fixtures OPTIONS (path 'null_marker.csv', null 'NULL');
SELECT id, val, val IS NULL AS is_null FROM null_marker;

-- another delimiter and quote
CREATE FOREIGN TABLE semicolon (id int, label text)
  SERVER fixtures OPTIONS (path 'semicolon.csv', delimiter ';', quote '''');
SELECT * FROM semicolon;

-- a UTF-8 byte-order mark is dropped, also when split
CREATE FOREIGN TABLE bom (id int, label text) SERVER fixtures OPTIONS (path 'bom.csv');
CREATE FOREIGN TABLE bom_split (id int, label text) SERVER fixtures OPTIONS (path 'bom.csv?chunk=1');
SELECT * FROM bom;
SELECT * FROM bom_split;

-- empty body, header only: no rows, no error
CREATE FOREIGN TABLE empty (id int, label text) SERVER fixtures OPTIONS (path 'empty.csv');
CREATE FOREIGN TABLE header_only (id int, label text, note text)
  SERVER fixtures OPTIONS (path 'header_only.csv');
SELECT count(*) FROM empty;
SELECT * FROM header_only;

-- without a header, fields map to columns by position
CREATE FOREIGN TABLE no_header (id int, label text, note text)
  SERVER fixtures OPTIONS (path 'no_header.csv', header 'false');
SELECT * FROM no_header;
SELECT note FROM no_header;

-- dropped columns are skipped when mapping by position and by name
ALTER FOREIGN TABLE no_header DROP COLUMN label;
ALTER FOREIGN TABLE no_header ADD COLUMN label text;
SELECT * FROM no_header;
ALTER FOREIGN TABLE reordered DROP COLUMN note;
SELECT * FROM reordered;

-- header names match exactly (the hint names a field that differs only
-- in case), or with header_match 'case_insensitive' in any case; an error
-- names the CSV's field where it is spelled differently; two fields that
-- match one column are an error
CREATE FOREIGN TABLE upper_header (id int, name text, email text)
  SERVER fixtures OPTIONS (path 'upper_header.csv');
SELECT * FROM upper_header;
ALTER FOREIGN TABLE upper_header OPTIONS (ADD header_match 'case_insensitive');
SELECT * FROM upper_header;
ALTER FOREIGN TABLE upper_header ALTER COLUMN name TYPE int;
SELECT * FROM upper_header;
CREATE FOREIGN TABLE case_twins (id int)
  SERVER fixtures OPTIONS (path 'case_twins.csv', header_match 'case_insensitive');
SELECT * FROM case_twins;
ALTER FOREIGN TABLE case_twins OPTIONS (SET header_match 'exact');
SELECT * FROM case_twins;

-- the export's encoding is converted to the database's
CREATE FOREIGN TABLE latin1 (id int, label text)
  SERVER fixtures OPTIONS (path 'latin1.csv', encoding 'LATIN1');
SELECT id, label, octet_length(label) FROM latin1;
CREATE FOREIGN TABLE multibyte (id int, label text) SERVER fixtures OPTIONS (path 'multibyte.csv');
CREATE FOREIGN TABLE multibyte_split (id int, label text)
  SERVER fixtures OPTIONS (path 'multibyte.csv?chunk=1');
SELECT * FROM multibyte;
SELECT count(*) FROM (TABLE multibyte EXCEPT ALL TABLE multibyte_split) d;

-- blank lines are skipped; LF, CRLF and CR line ends all work
CREATE FOREIGN TABLE blank_lines (id int, label text) SERVER fixtures OPTIONS (path 'blank_lines.csv');
SELECT * FROM blank_lines;
CREATE FOREIGN TABLE cr_only (id int, label text) SERVER fixtures OPTIONS (path 'cr_only.csv');
SELECT * FROM cr_only;

-- timestamptz values in the common ISO 8601 UTC form take a fast path; it
-- must give exactly what timestamptz_in gives, in any TimeZone and
-- DateStyle, and leave every other form to timestamptz_in
CREATE FOREIGN TABLE timestamps (raw text, ts timestamptz)
  SERVER fixtures OPTIONS (path 'timestamps.csv');
SET timezone = 'America/New_York';
SET datestyle = 'Postgres, DMY';
SELECT raw, ts, ts = raw::timestamptz AS same FROM timestamps;
RESET datestyle;
SET timezone = 'UTC';
SELECT count(*) FILTER (WHERE ts = raw::timestamptz) AS same, count(*) FROM timestamps;
CREATE FOREIGN TABLE timestamps_typmod (raw text, ts timestamptz(0))
  SERVER fixtures OPTIONS (path 'timestamps.csv');
SELECT count(*) FILTER (WHERE ts = raw::timestamptz(0)) AS same, count(*) FROM timestamps_typmod;

-- on_error 'skip' tries each row without a subtransaction first; a value
-- that only the input function can judge (a form the fast path leaves to
-- timestamptz_in) is converted again the usual way, never rejected for
-- that: skipping returns every row stopping does; a bad value is rejected
-- with timestamptz_in's own error
CREATE FOREIGN TABLE timestamps_skip (raw text, ts timestamptz)
  SERVER fixtures OPTIONS (path 'timestamps.csv', on_error 'skip');
SELECT count(*) FILTER (WHERE ts = raw::timestamptz) AS same, count(*) FROM timestamps_skip;
CREATE FOREIGN TABLE bad_timestamp_skip (id int, ts timestamptz)
  SERVER fixtures OPTIONS (path 'bad_timestamp.csv', on_error 'skip');
SELECT * FROM bad_timestamp_skip;
SELECT line, column_name, error FROM csv_export.rejects
 WHERE foreign_table = 'bad_timestamp_skip'::regclass;
DELETE FROM csv_export.rejects;

-- trim_spaces: spaces around a field are no part of it (of the header's
-- too), a space may stand between a delimiter and a quoted field, quoted
-- spaces stay, and a field of spaces alone is NULL; without the option the
-- header's " label " is not the column label
CREATE FOREIGN TABLE padded (id int, label text, note text)
  SERVER fixtures OPTIONS (path 'padded.csv', trim_spaces 'true');
CREATE FOREIGN TABLE padded_split (id int, label text, note text)
  SERVER fixtures OPTIONS (path 'padded.csv?chunk=1', trim_spaces 'true');
SELECT id, label, note, length(note) AS note_len FROM padded ORDER BY id;
SELECT count(*) AS same_split FROM (TABLE padded INTERSECT TABLE padded_split) s;
ALTER FOREIGN TABLE padded OPTIONS (SET trim_spaces 'false');
SELECT * FROM padded;
ALTER FOREIGN TABLE padded OPTIONS (SET trim_spaces 'maybe');

DROP SERVER fixtures CASCADE;

