-- The statements of this database that pg_stat_statements ranks highest by total time,
-- mean time and calls (the top `fetch` of each), summed over the roles that ran them,
-- top-level or nested (`toplevel`: run top-level at least once). Only those that look
-- like SELECT/INSERT/UPDATE/DELETE/MERGE (the parser decides later) and are not
-- pgvitals' own. Markers: @@view@@ (the extension's schema is not always public) and the
-- time columns, renamed in version 1.8 (PostgreSQL 13): total_time -> total_exec_time,
-- ...; `toplevel` exists from 1.9 (PostgreSQL 14).
WITH here AS (
    SELECT s.queryid, s.query, s.userid, @@toplevel@@ AS toplevel, s.calls,
           @@total@@ AS total_ms, @@min@@ AS min_ms, @@max@@ AS max_ms, s.rows,
           s.shared_blks_hit, s.shared_blks_read, s.temp_blks_written
      FROM @@view@@ AS s
     WHERE s.dbid = (SELECT d.oid FROM pg_catalog.pg_database d
                      WHERE d.datname = pg_catalog.current_database())
       AND s.queryid IS NOT NULL
       AND s.query NOT LIKE '/* pgvitals */%%'
       -- leading blanks, comments and parentheses, then the statement's first word
       AND s.query ~* '^(\s|--[^\n]*|/\*[^*]*\*+([^/*][^*]*\*+)*/|\()*(select|with|insert|update|delete|merge|table)\M'
), statements AS (
    SELECT h.queryid, pg_catalog.bool_or(h.toplevel) AS toplevel,
           pg_catalog.min(h.query) AS query,
           pg_catalog.array_agg(DISTINCT pg_catalog.pg_get_userbyid(h.userid)::text) AS roles,
           pg_catalog.sum(h.calls)::int8 AS calls,
           pg_catalog.sum(h.total_ms)::float8 AS total_ms,
           pg_catalog.min(h.min_ms)::float8 AS min_ms,
           pg_catalog.max(h.max_ms)::float8 AS max_ms,
           pg_catalog.sum(h.rows)::int8 AS rows,
           pg_catalog.sum(h.shared_blks_hit)::int8 AS shared_blks_hit,
           pg_catalog.sum(h.shared_blks_read)::int8 AS shared_blks_read,
           pg_catalog.sum(h.temp_blks_written)::int8 AS temp_blks_written
      FROM here h
     GROUP BY h.queryid
), ranked AS (
    SELECT s.*,
           pg_catalog.rank() OVER (ORDER BY s.total_ms DESC) AS by_total,
           pg_catalog.rank() OVER (ORDER BY s.total_ms / GREATEST(s.calls, 1) DESC) AS by_mean,
           pg_catalog.rank() OVER (ORDER BY s.calls DESC) AS by_calls
      FROM statements s
)
SELECT r.queryid, r.toplevel, r.query, r.roles, r.calls, r.total_ms, r.min_ms, r.max_ms,
       r.rows, r.shared_blks_hit, r.shared_blks_read, r.temp_blks_written
  FROM ranked r
 WHERE r.by_total <= %(fetch)s OR r.by_mean <= %(fetch)s OR r.by_calls <= %(fetch)s
 ORDER BY r.total_ms DESC, r.queryid
