-- Included by the tests that show EXPLAIN ANALYZE (\i from the directory
-- pg_regress runs in): one definition of the filter they share.
--
-- EXPLAIN ANALYZE without what varies between majors (18 shows "rows=3.00",
-- buffer counts, and "Disabled" in JSON)
CREATE FUNCTION explain_analyze(query text, options text DEFAULT '') RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
  line text;
BEGIN
  FOR line IN EXECUTE format('EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF, BUFFERS OFF%s) %s',
                             options, query) LOOP
    line := regexp_replace(line, '(rows=|"Actual Rows": |"Actual Loops": )([0-9]+)\.00', '\1\2', 'g');
    RETURN NEXT regexp_replace(line, '\n *"Disabled": false,', '', 'g');  -- 18, in JSON
  END LOOP;
END $$;
