-- Tables, partitioned tables, materialized views and foreign tables with their
-- pg_stat_user_tables counters. Lock-free: sizes are relpages-based, because the
-- exact size functions lock every relation.
SELECT c.oid::int8 AS oid,
       n.nspname AS schema,
       c.relname AS name,
       c.relkind::text AS kind,
       c.relpersistence::text AS persistence,
       pg_catalog.pg_get_userbyid(c.relowner) AS owner,
       inh.inhparent::int8 AS parent_oid,
       CASE pt.partstrat WHEN 'r' THEN 'range' WHEN 'l' THEN 'list' WHEN 'h' THEN 'hash' END
           AS partition_strategy,
       -- relid 0: a bound has no column references, and so no lock is taken
       CASE WHEN c.relispartition THEN pg_catalog.pg_get_expr(c.relpartbound, 0) END
           AS partition_bound,
       coalesce(c.reloptions, '{}') AS reloptions,
       c.reltuples::float8 AS rows_estimate,
       -- relpages is set by VACUUM, ANALYZE and CREATE INDEX: on a table never
       -- vacuumed or analyzed (reltuples -1, PostgreSQL 14+) it says nothing yet
       CASE WHEN c.reltuples >= 0 OR c.relkind = 'p' THEN c.relpages::int8 END AS pages,
       CASE WHEN c.reltuples >= 0 OR c.relkind = 'p'
            THEN c.relpages::int8 * pg_catalog.current_setting('block_size')::int8 END
           AS table_bytes,
       CASE WHEN c.reltuples >= 0 OR c.relkind = 'p'
            THEN (c.relpages::int8 + coalesce(toast.relpages, 0) + coalesce(idx.pages, 0))
                 * pg_catalog.current_setting('block_size')::int8 END AS total_bytes,
       c.relrowsecurity AS rls_enabled,
       c.relforcerowsecurity AS rls_forced,
       CASE WHEN c.relkind IN ('r', 'm') THEN pg_catalog.age(c.relfrozenxid)::int8 END
           AS frozen_xid_age,
       d.description AS comment,
       s.seq_scan, s.seq_tup_read, s.idx_scan, s.idx_tup_fetch,
       s.n_tup_ins, s.n_tup_upd, s.n_tup_del, s.n_tup_hot_upd,
       s.n_live_tup, s.n_dead_tup, s.n_mod_since_analyze, s.n_ins_since_vacuum,
       pg_catalog.to_char(s.last_vacuum AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS last_vacuum,
       pg_catalog.to_char(s.last_autovacuum AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS last_autovacuum,
       pg_catalog.to_char(s.last_analyze AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS last_analyze,
       pg_catalog.to_char(s.last_autoanalyze AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS last_autoanalyze,
       s.vacuum_count, s.autovacuum_count, s.analyze_count, s.autoanalyze_count,
       CASE WHEN c.relkind IN ('r', 'm') THEN pg_catalog.mxid_age(c.relminmxid)::int8 END
           AS frozen_mxid_age,
       coalesce(toast.reloptions, '{}') AS toast_reloptions,
       -- the partition key's columns in order; empty when a part of it is an expression
       -- (attnum 0), or the table is not partitioned (then the subquery is not run)
       coalesce(CASE WHEN pt.partrelid IS NOT NULL THEN
                (SELECT CASE WHEN pg_catalog.bool_and(k.attnum <> 0)
                             THEN pg_catalog.array_agg(a.attname::text ORDER BY k.position) END
                   FROM pg_catalog.unnest(pt.partattrs::pg_catalog.int2[])
                        WITH ORDINALITY AS k(attnum, position)
                   LEFT JOIN pg_catalog.pg_attribute a
                          ON a.attrelid = c.oid AND a.attnum = k.attnum) END, '{}') AS partition_key,
       -- the tables that inherit from it, not as partitions (INHERITS): an identity
       -- column cannot be added to it, and its keys do not cover their rows
       coalesce((SELECT pg_catalog.array_agg(cn.nspname || '.' || cc.relname
                                             ORDER BY cn.nspname, cc.relname)
                   FROM pg_catalog.pg_inherits ci
                   JOIN pg_catalog.pg_class cc ON cc.oid = ci.inhrelid
                   JOIN pg_catalog.pg_namespace cn ON cn.oid = cc.relnamespace
                  WHERE ci.inhparent = c.oid AND NOT cc.relispartition), '{}')
           AS inheritance_children
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_catalog.pg_inherits inh ON inh.inhrelid = c.oid AND c.relispartition
  LEFT JOIN pg_catalog.pg_partitioned_table pt ON pt.partrelid = c.oid
  LEFT JOIN pg_catalog.pg_class toast ON toast.oid = c.reltoastrelid
  LEFT JOIN (SELECT i.indrelid, sum(ic.relpages)::int8 AS pages,
                    sum(pg_catalog.pg_stat_get_numscans(i.indexrelid))::int8 AS scans,
                    sum(pg_catalog.pg_stat_get_tuples_fetched(i.indexrelid))::int8 AS fetched
               FROM pg_catalog.pg_index i
               JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
              GROUP BY i.indrelid) idx ON idx.indrelid = c.oid
  LEFT JOIN pg_catalog.pg_description d
         ON d.objoid = c.oid AND d.classoid = 'pg_catalog.pg_class'::regclass AND d.objsubid = 0
  -- pg_stat_user_tables' counters, as that view computes them, from the functions it
  -- calls: the view groups every relation's indexes a second time (a tenth of this
  -- query's time). It has no row for a foreign table.
  LEFT JOIN LATERAL (
    SELECT pg_catalog.pg_stat_get_numscans(c.oid) AS seq_scan,
           pg_catalog.pg_stat_get_tuples_returned(c.oid) AS seq_tup_read,
           idx.scans AS idx_scan,
           idx.fetched + pg_catalog.pg_stat_get_tuples_fetched(c.oid) AS idx_tup_fetch,
           pg_catalog.pg_stat_get_tuples_inserted(c.oid) AS n_tup_ins,
           pg_catalog.pg_stat_get_tuples_updated(c.oid) AS n_tup_upd,
           pg_catalog.pg_stat_get_tuples_deleted(c.oid) AS n_tup_del,
           pg_catalog.pg_stat_get_tuples_hot_updated(c.oid) AS n_tup_hot_upd,
           pg_catalog.pg_stat_get_live_tuples(c.oid) AS n_live_tup,
           pg_catalog.pg_stat_get_dead_tuples(c.oid) AS n_dead_tup,
           pg_catalog.pg_stat_get_mod_since_analyze(c.oid) AS n_mod_since_analyze,
           @@n_ins_since_vacuum@@ AS n_ins_since_vacuum,
           pg_catalog.pg_stat_get_last_vacuum_time(c.oid) AS last_vacuum,
           pg_catalog.pg_stat_get_last_autovacuum_time(c.oid) AS last_autovacuum,
           pg_catalog.pg_stat_get_last_analyze_time(c.oid) AS last_analyze,
           pg_catalog.pg_stat_get_last_autoanalyze_time(c.oid) AS last_autoanalyze,
           pg_catalog.pg_stat_get_vacuum_count(c.oid) AS vacuum_count,
           pg_catalog.pg_stat_get_autovacuum_count(c.oid) AS autovacuum_count,
           pg_catalog.pg_stat_get_analyze_count(c.oid) AS analyze_count,
           pg_catalog.pg_stat_get_autoanalyze_count(c.oid) AS autoanalyze_count
  ) s ON c.relkind <> 'f'
 WHERE c.relkind IN ('r', 'p', 'm', 'f')
   AND @@user_relation@@  -- c in schema n: requested, not a system's, not an extension's
 ORDER BY n.nspname, c.relname
