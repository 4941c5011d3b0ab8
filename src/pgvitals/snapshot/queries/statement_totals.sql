-- This database's totals in pg_stat_statements: statements, those of other roles this
-- role may not see, and the time and calls of the top-level statements (a nested
-- statement's time is already in the statement that ran it). Markers as statements.sql.
SELECT pg_catalog.count(*)::int8 AS statements,
       (pg_catalog.count(*) FILTER (WHERE s.queryid IS NULL))::int8 AS hidden,
       coalesce(pg_catalog.sum(@@total@@) FILTER (WHERE @@toplevel@@ IS NOT false), 0)::float8
           AS total_ms,
       coalesce(pg_catalog.sum(s.calls) FILTER (WHERE @@toplevel@@ IS NOT false), 0)::int8
           AS total_calls
  FROM @@view@@ AS s
 WHERE s.dbid = (SELECT d.oid FROM pg_catalog.pg_database d
                  WHERE d.datname = pg_catalog.current_database())
