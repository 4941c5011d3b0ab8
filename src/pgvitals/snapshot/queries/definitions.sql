-- Deparsed text of a batch of tables' expressions. Every function here takes an
-- AccessShareLock on the table, so collect.py runs this per batch in its own
-- transaction (few locks held at once) and under lock_timeout.
SELECT 'index' AS kind, i.indexrelid::int8 AS oid, 0 AS position,
       pg_catalog.pg_get_indexdef(i.indexrelid) AS definition,
       pg_catalog.pg_get_expr(i.indpred, i.indrelid, true) AS extra,
       (SELECT pg_catalog.array_agg(pg_catalog.pg_get_indexdef(i.indexrelid, k.position, true)
                                    ORDER BY k.position)
          FROM pg_catalog.generate_series(1, i.indnatts) AS k(position)) AS parts
  FROM pg_catalog.pg_index i
 WHERE i.indrelid = ANY (%(tables)s::oid[])
UNION ALL
SELECT 'default', ad.adrelid::int8, ad.adnum::int, pg_catalog.pg_get_expr(ad.adbin, ad.adrelid),
       NULL, NULL
  FROM pg_catalog.pg_attrdef ad
 WHERE ad.adrelid = ANY (%(tables)s::oid[])
UNION ALL
SELECT 'constraint', con.oid::int8, 0, pg_catalog.pg_get_constraintdef(con.oid), NULL, NULL
  FROM pg_catalog.pg_constraint con
 WHERE con.conrelid = ANY (%(tables)s::oid[]) AND con.contype IN ('c', 'x')
UNION ALL
SELECT 'partition', c.oid::int8, 0, pg_catalog.pg_get_expr(c.relpartbound, c.oid), NULL, NULL
  FROM pg_catalog.pg_class c
 WHERE c.oid = ANY (%(tables)s::oid[]) AND c.relispartition
