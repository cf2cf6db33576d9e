-- Included by the tests that wait for another session (\i from the
-- directory pg_regress runs in): CALL wait_for('condition') polls the
-- condition for up to 10 s, with fresh statistics each time.
CREATE PROCEDURE wait_for(condition text) LANGUAGE plpgsql AS $$
DECLARE
  done boolean;
BEGIN
  FOR i IN 1 .. 200 LOOP
    EXECUTE 'SELECT ' || condition INTO done;
    EXIT WHEN done;
    PERFORM pg_sleep(0.05);
    PERFORM pg_stat_clear_snapshot();
  END LOOP;
  IF NOT done THEN
    RAISE EXCEPTION 'gave up waiting for %', condition;
  END IF;
END $$;
