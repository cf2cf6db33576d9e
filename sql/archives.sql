--
-- Exports delivered as archives: a zip or a tar (.tar.gz too) whose
-- members, picked by the table option archive_member (a glob), are read in
-- order as one table, as the archive arrives.
--
SET timezone = 'UTC';
-- explain_analyze(query): EXPLAIN ANALYZE without what varies between majors
\i sql/include/explain_analyze.sql
CREATE SERVER archive_api FOREIGN DATA WRAPPER csv_export_fdw
  OPTIONS (base_url 'http://127.0.0.1:5001');
CREATE FOREIGN TABLE whole_users (id text, name text, "updatedAt" timestamptz)
  SERVER archive_api OPTIONS (path '/export/csv?rows=8');
CREATE FOREIGN TABLE archived_users (id text, name text, "updatedAt" timestamptz,
                                     member text OPTIONS (source 'member'),
                                     line int OPTIONS (source 'line'))
  SERVER archive_api
  OPTIONS (path '/archive?kind=zip&rows=4&members=part1.csv,README.txt,dir/part2.csv',
           archive_member '*.csv');
CREATE FUNCTION archive_rows(query text) RETURNS TABLE (member text, rows bigint, differing bigint)
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('ALTER FOREIGN TABLE archived_users OPTIONS (SET path %L)', query);
  RETURN QUERY
    SELECT a.member, count(*),
           (SELECT count(*) FROM (SELECT id, name, "updatedAt" FROM archived_users
                                  EXCEPT SELECT id, name, "updatedAt" FROM whole_users) d)
      FROM archived_users a GROUP BY a.member ORDER BY a.member;
END $$;

-- two CSV members (the text member is not asked for): the two halves of the export
SELECT * FROM archive_rows('/archive?kind=zip&rows=4&members=part1.csv,README.txt,dir/part2.csv');
SELECT member, line FROM archived_users ORDER BY member, line;
SELECT explain_analyze('SELECT count(*) FROM archived_users');
-- members written as a stream (sizes and CRCs in data descriptors, after the data)
SELECT * FROM archive_rows('/archive?kind=zip_descriptor&rows=4&members=part1.csv,dir/part2.csv');
-- stored members, tar, tar.gz; and all of them a few bytes at a time
SELECT * FROM archive_rows('/archive?kind=zip_stored&rows=4&members=part1.csv,dir/part2.csv');
SELECT * FROM archive_rows('/archive?kind=tar&rows=4&members=part1.csv,README.txt,dir/part2.csv');
SELECT * FROM archive_rows('/archive?kind=tar.gz&rows=4&members=part1.csv,dir/part2.csv');
SELECT k.kind, r.*
  FROM unnest(ARRAY['zip', 'zip_descriptor', 'tar', 'tar.gz']) k(kind),
       LATERAL archive_rows('/archive?chunk=7&rows=4&members=part1.csv,dir/part2.csv&kind=' || k.kind) r
 ORDER BY 1, 2;

-- one member, by its name or a glob
ALTER FOREIGN TABLE archived_users OPTIONS (SET archive_member 'dir/*');
SELECT * FROM archive_rows('/archive?kind=zip&rows=4&members=part1.csv,dir/part2.csv');

-- errors: no member matches; a member with another header; a stored member
-- whose size comes only after it; an archive cut short; a body that is no
-- archive
ALTER FOREIGN TABLE archived_users OPTIONS (SET archive_member 'nothing*.csv');
SELECT count(*) FROM archived_users;
ALTER FOREIGN TABLE archived_users OPTIONS (SET archive_member '*.csv');
\set VERBOSITY default
ALTER FOREIGN TABLE archived_users
  OPTIONS (SET path '/archive?kind=zip&rows=2&members=a.csv,b.csv&other_header=1');
SELECT count(*) FROM archived_users;
ALTER FOREIGN TABLE archived_users
  OPTIONS (SET path '/archive?kind=zip_stored_descriptor&rows=2&members=a.csv');
SELECT count(*) FROM archived_users;
ALTER FOREIGN TABLE archived_users
  OPTIONS (SET path '/archive?kind=zip&rows=50&members=a.csv,b.csv&cut_half=1');
SELECT count(*) FROM archived_users;
ALTER FOREIGN TABLE archived_users
  OPTIONS (SET path '/archive?kind=tar&rows=50&members=a.csv,b.csv&cut_half=1');
SELECT count(*) FROM archived_users;
\set VERBOSITY terse
-- (the zip's central directory, cut short, is after every member: complete)
ALTER FOREIGN TABLE archived_users
  OPTIONS (SET path '/archive?kind=zip&rows=50&members=a.csv,b.csv&cut=40');
SELECT count(*) FROM archived_users;
-- max_bytes counts what the members inflate to (2 x 50 rows: about 21 kB)
ALTER FOREIGN TABLE archived_users
  OPTIONS (SET path '/archive?kind=zip&rows=50&members=a.csv,b.csv', ADD max_bytes '15000');
SELECT count(*) FROM archived_users;
ALTER FOREIGN TABLE archived_users OPTIONS (DROP max_bytes);
ALTER FOREIGN TABLE archived_users OPTIONS (SET path '/export/csv?rows=40');
SELECT count(*) FROM archived_users;
ALTER FOREIGN TABLE archived_users OPTIONS (SET archive_member '');

-- IMPORT samples the first member; source_columns can name the member
IMPORT FOREIGN SCHEMA ignored FROM SERVER archive_api INTO public
  OPTIONS (path '/archive?kind=tar.gz&rows=3&members=p1.csv,p2.csv', archive_member '*.csv',
           table_name 'imported_archive', source_columns 'member');
SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
 WHERE attrelid = 'imported_archive'::regclass AND attnum > 0 ORDER BY attnum;
SELECT _source_member, count(*) FROM imported_archive GROUP BY 1 ORDER BY 1;

DROP FUNCTION archive_rows(text);
DROP FUNCTION explain_analyze(text, text);
DROP SERVER archive_api CASCADE;
