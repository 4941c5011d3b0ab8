-- Indexes with their keys, usage counters and the constraint each one backs.
-- Lock-free: the deparsing functions lock the table, so expressions and the
-- predicate come as node trees (location fields removed, so equal expressions
-- compare equal); collect.py deparses them later in small batches.
SELECT i.indexrelid::int8 AS oid,
       n.nspname AS schema,
       c.relname AS table,
       c.oid::int8 AS table_oid,
       ic.relname AS name,
       am.amname AS method,
       i.indisunique AS is_unique,
       i.indisprimary AS is_primary,
       (i.indisvalid AND i.indisready) AS is_valid,
       i.indnkeyatts::int AS key_count,
       (SELECT pg_catalog.array_agg(a.attname ORDER BY k.ord)
          FROM pg_catalog.unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
          LEFT JOIN pg_catalog.pg_attribute a
                 ON a.attrelid = i.indrelid AND a.attnum = k.attnum) AS key_columns,
       (SELECT pg_catalog.array_agg(CASE WHEN k.attnum <> 0 THEN pg_catalog.quote_ident(a.attname) END
                                    ORDER BY k.ord)
          FROM pg_catalog.unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
          LEFT JOIN pg_catalog.pg_attribute a
                 ON a.attrelid = i.indrelid AND a.attnum = k.attnum) AS key_definitions,
       pg_catalog.regexp_replace(i.indexprs::text, ' :location -?[0-9]+', '', 'g') AS expressions,
       pg_catalog.regexp_replace(i.indpred::text, ' :location -?[0-9]+', '', 'g') AS predicate_tree,
       coalesce((SELECT pg_catalog.array_agg(op.opcname::text ORDER BY k.ord)
                   FROM pg_catalog.unnest(i.indclass) WITH ORDINALITY AS k(opclass, ord)
                   JOIN pg_catalog.pg_opclass op ON op.oid = k.opclass), '{}') AS opclasses,
       coalesce((SELECT pg_catalog.array_agg(coll.collname::text ORDER BY k.ord)
                   FROM pg_catalog.unnest(i.indcollation) WITH ORDINALITY AS k(collation_oid, ord)
                   LEFT JOIN pg_catalog.pg_collation coll ON coll.oid = k.collation_oid), '{}')
           AS collations,
       coalesce((SELECT pg_catalog.array_agg(k.option::int ORDER BY k.ord)
                   FROM pg_catalog.unnest(i.indoption) WITH ORDINALITY AS k(option, ord)), '{}')
           AS sort_options,
       NULL::text AS predicate,
       NULL::text AS definition,
       con.conname AS constraint_name,
       parent.inhparent::int8 AS parent_index_oid,
       ic.relpages::int8 * pg_catalog.current_setting('block_size')::int8 AS bytes,
       s.idx_scan, s.idx_tup_read, s.idx_tup_fetch,
       @@last_idx_scan@@ AS last_idx_scan,
       d.description AS comment
  FROM pg_catalog.pg_index i
  JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
  JOIN pg_catalog.pg_class c ON c.oid = i.indrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_catalog.pg_am am ON am.oid = ic.relam
  LEFT JOIN pg_catalog.pg_constraint con
         ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid
        AND con.contype IN ('p', 'u', 'x')
  LEFT JOIN pg_catalog.pg_inherits parent ON parent.inhrelid = i.indexrelid
  LEFT JOIN pg_catalog.pg_stat_user_indexes s ON s.indexrelid = i.indexrelid
  LEFT JOIN pg_catalog.pg_description d
         ON d.objoid = i.indexrelid AND d.classoid = 'pg_catalog.pg_class'::regclass
        AND d.objsubid = 0
 WHERE c.relkind IN ('r', 'p', 'm')
   AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
   AND (pg_catalog.cardinality(%(schemas)s::text[]) = 0 OR n.nspname = ANY (%(schemas)s::text[]))
   AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend e
                    WHERE e.classid = 'pg_catalog.pg_class'::regclass
                      AND e.objid = c.oid AND e.deptype = 'e')
 ORDER BY n.nspname, c.relname, ic.relname
