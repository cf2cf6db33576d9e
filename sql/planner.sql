--
-- Planning: LATERAL references, and which quals become since_param query
-- parameters (only those that mean what the API is told).
--
CREATE SERVER planner_api FOREIGN DATA WRAPPER csv_export_fdw
  OPTIONS (base_url 'http://127.0.0.1:5001');
CREATE COLLATION planner_ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
CREATE FOREIGN TABLE planner_user (
  id text OPTIONS (since_param 'id_after') COLLATE planner_ci,
  name text, email text, address text, company text, job text,
  "updatedAt" timestamptz OPTIONS (since_param 'updated_since'),
  "createdAt" timestamptz
) SERVER planner_api OPTIONS (path '/export/csv?rows=100');
CREATE TEMP TABLE local_user AS SELECT * FROM planner_user;

-- a foreign table under LATERAL is scanned once per outer row
CREATE FOREIGN TABLE small (id text) SERVER planner_api OPTIONS (path '/export/csv?rows=2');
SELECT * FROM (VALUES (1), (2)) v(x)
  LEFT JOIN LATERAL (SELECT v.x AS vx, f.id FROM small f) s ON true
 ORDER BY x, id;
SELECT x, (SELECT count(*) FROM small f WHERE f.id > v.x) AS later
  FROM (VALUES ('0'), ('8'), ('g')) v(x) ORDER BY x;

-- Under TimeZone Asia/Tokyo a timestamp constant is a local time.  A
-- timestamptz constant is pushed down as its UTC instant; a timestamp or
-- date constant is not pushed down, and every query counts what the same
-- query counts on a local copy.
SET timezone = 'Asia/Tokyo';
CREATE FUNCTION counts(qual text) RETURNS TABLE (remote bigint, local bigint)
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('SELECT (SELECT count(*) FROM planner_user WHERE %1$s),
                         (SELECT count(*) FROM local_user WHERE %1$s)', qual) INTO remote, local;
  RETURN NEXT;
END $$;
EXPLAIN (COSTS OFF)
SELECT id FROM planner_user WHERE "updatedAt" > '2024-12-02 10:00:00+09'::timestamptz;
SELECT * FROM counts($$"updatedAt" > '2024-12-02 10:00:00+09'::timestamptz$$);
EXPLAIN (COSTS OFF)
SELECT id FROM planner_user WHERE "updatedAt" > '2024-12-02 10:00:00'::timestamp;
SELECT * FROM counts($$"updatedAt" > '2024-12-02 10:00:00'::timestamp$$);
EXPLAIN (COSTS OFF)
SELECT id FROM planner_user WHERE '2024-12-02'::date <= "updatedAt";
SELECT * FROM counts($$'2024-12-02'::date <= "updatedAt"$$);
-- written the other way round, and through a prepared statement's parameter
EXPLAIN (COSTS OFF)
SELECT id FROM planner_user WHERE '2024-12-02 10:00:00+09'::timestamptz <= "updatedAt";
PREPARE since(timestamptz) AS SELECT count(*) FROM planner_user WHERE "updatedAt" >= $1;
EXPLAIN (COSTS OFF) EXECUTE since('2024-12-02 10:00:00+09');
EXECUTE since('2024-12-02 10:00:00+09');
-- = and <> are not "after"
EXPLAIN (COSTS OFF)
SELECT id FROM planner_user WHERE "updatedAt" <> '2024-12-02 10:00:00+09'::timestamptz;
-- text under a nondeterministic collation is not pushed down; under "C" it is
EXPLAIN (COSTS OFF) SELECT id FROM planner_user WHERE id > '8';
EXPLAIN (COSTS OFF) SELECT id FROM planner_user WHERE id > '8' COLLATE "C";
SELECT * FROM counts($$id > 'A'$$);
RESET timezone;

DROP FUNCTION counts(text);
DEALLOCATE since;
DROP SERVER planner_api CASCADE;
DROP TABLE local_user;
DROP COLLATION planner_ci;
