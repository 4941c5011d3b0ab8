-- pgvitals' own whole-table row counts in pg_stat_statements, with their calls: each
-- call read one table with a sequential scan, which pg_stat_user_tables counts as
-- anyone's (seq-scan-heavy-table leaves them out). Only the row scan without
-- TABLESAMPLE (a sample scan is not counted as a sequential scan); the table is named
-- by the text after FROM ONLY (snapshot/profile.py writes it). Markers as statements.sql.
SELECT s.query, pg_catalog.sum(s.calls)::int8 AS calls
  FROM @@view@@ AS s
 WHERE s.dbid = (SELECT d.oid FROM pg_catalog.pg_database d
                  WHERE d.datname = pg_catalog.current_database())
   AND s.query LIKE '/* pgvitals */ SELECT count(*)::int8 AS row_count,%%'
   AND s.query NOT LIKE '%%TABLESAMPLE%%'
 GROUP BY s.query
 ORDER BY s.query
