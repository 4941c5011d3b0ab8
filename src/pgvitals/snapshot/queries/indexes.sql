-- Indexes as the catalog stores them: key attribute numbers, operator classes,
-- collations and sort options as oid/number arrays (collect.py names them), and
-- expressions and predicates as node trees with location fields removed, so that
-- equal expressions compare equal. No function here locks the table.
-- Set-based: the tables are chosen and ranked in name order once, every other
-- catalog is joined by hash, and rows sort by that rank and the index name.
WITH rel AS (
  SELECT c.oid, n.nspname, c.relname, c.relkind, c.reltuples,
         pg_catalog.row_number() OVER (ORDER BY n.nspname, c.relname) AS rank
    FROM pg_catalog.pg_class c
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind IN ('r', 'p', 'm')
     AND @@user_relation@@  -- c in schema n: requested, not a system's, not an extension's
), with_options AS (
  -- indexes with a per-column option (opclass parameters): one pass over pg_attribute
  SELECT DISTINCT ia.attrelid FROM pg_catalog.pg_attribute ia WHERE ia.attoptions IS NOT NULL
)
SELECT i.indexrelid::int8 AS oid,
       c.nspname::text AS schema,
       c.relname::text AS table,
       c.oid::int8 AS table_oid,
       ic.relname::text AS name,
       am.amname::text AS method,
       i.indisunique AS is_unique,
       i.indisprimary AS is_primary,
       (i.indisvalid AND i.indisready) AS is_valid,
       i.indnkeyatts::int AS key_count,
       i.indkey::int2[] AS key_attnums,
       i.indclass::oid[]::int8[] AS opclass_oids,
       i.indcollation::oid[]::int8[] AS collation_oids,
       i.indoption::int2[] AS sort_options,
       pg_catalog.regexp_replace(i.indexprs::text, ' :location -?[0-9]+', '', 'g') AS expressions,
       pg_catalog.regexp_replace(i.indpred::text, ' :location -?[0-9]+', '', 'g') AS predicate_tree,
       ic.relkind = 'I' AS on_partitioned_table,
       -- what a rebuilt definition could not show: storage options, opclass options,
       -- NULLS NOT DISTINCT (PostgreSQL 15+)
       (ic.reloptions IS NOT NULL OR @@nulls_not_distinct@@ OR o.attrelid IS NOT NULL)
           AS has_options,
       con.conname::text AS constraint_name,
       parent.inhparent::int8 AS parent_index_oid,
       -- unknown while the table was never vacuumed or analyzed (see tables.sql)
       CASE WHEN c.reltuples >= 0 OR c.relkind = 'p'
            THEN ic.relpages::int8 * pg_catalog.current_setting('block_size')::int8 END AS bytes,
       pg_catalog.pg_stat_get_numscans(i.indexrelid) AS idx_scan,
       pg_catalog.pg_stat_get_tuples_returned(i.indexrelid) AS idx_tup_read,
       pg_catalog.pg_stat_get_tuples_fetched(i.indexrelid) AS idx_tup_fetch,
       @@last_idx_scan@@ AS last_idx_scan,
       i.indisreplident AS is_replica_identity,
       ic.reltuples::float8 AS rows_estimate,  -- entries in the index; -1: never counted
       coalesce(ic.reloptions, '{}') AS reloptions,
       d.description AS comment
  FROM rel c
  JOIN pg_catalog.pg_index i ON i.indrelid = c.oid
  JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
  JOIN pg_catalog.pg_am am ON am.oid = ic.relam
  LEFT JOIN with_options o ON o.attrelid = i.indexrelid
  LEFT JOIN pg_catalog.pg_constraint con
         ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid
        AND con.contype IN ('p', 'u', 'x')
  LEFT JOIN pg_catalog.pg_inherits parent ON parent.inhrelid = i.indexrelid
  LEFT JOIN pg_catalog.pg_description d
         ON d.objoid = i.indexrelid AND d.classoid = 'pg_catalog.pg_class'::regclass
        AND d.objsubid = 0
 ORDER BY c.rank, ic.relname
