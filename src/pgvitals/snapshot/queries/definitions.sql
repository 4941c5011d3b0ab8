-- Deparsed text that needs the table's column names: expression or partial index
-- definitions, CHECK/EXCLUDE constraints, generated columns and policy expressions
-- (USING in `definition`, WITH CHECK in `extra`; a sub-select in a policy also locks
-- the tables it reads). Each function
-- here takes an AccessShareLock on its table, so collect.py runs this for a batch
-- of tables per statement (few locks held at once) and under lock_timeout.
-- The batch arrives as arrays joined with unnest (a hash join, not = ANY per row).
SELECT 'index' AS kind, i.indexrelid::int8 AS oid, 0 AS position,
       pg_catalog.pg_get_indexdef(i.indexrelid) AS definition,
       pg_catalog.pg_get_expr(i.indpred, i.indrelid, true) AS extra,
       (SELECT pg_catalog.array_agg(pg_catalog.pg_get_indexdef(i.indexrelid, k.position, true)
                                    ORDER BY k.position)
          FROM pg_catalog.generate_series(1, i.indnatts) AS k(position)) AS parts
  FROM pg_catalog.unnest(%(indexes)s::oid[]) AS wanted(oid)
  JOIN pg_catalog.pg_index i ON i.indexrelid = wanted.oid
UNION ALL
SELECT 'default', ad.adrelid::int8, ad.adnum::int, pg_catalog.pg_get_expr(ad.adbin, ad.adrelid),
       NULL, NULL
  FROM pg_catalog.unnest(%(generated)s::oid[]) AS wanted(oid)
  JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = wanted.oid
  JOIN pg_catalog.pg_attribute a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum
 WHERE a.attgenerated <> ''
UNION ALL
SELECT 'constraint', con.oid::int8, 0, pg_catalog.pg_get_constraintdef(con.oid), NULL, NULL
  FROM pg_catalog.unnest(%(constraints)s::oid[]) AS wanted(oid)
  JOIN pg_catalog.pg_constraint con ON con.oid = wanted.oid
UNION ALL
SELECT 'policy', pol.oid::int8, 0, pg_catalog.pg_get_expr(pol.polqual, pol.polrelid),
       pg_catalog.pg_get_expr(pol.polwithcheck, pol.polrelid), NULL
  FROM pg_catalog.unnest(%(policies)s::oid[]) AS wanted(oid)
  JOIN pg_catalog.pg_policy pol ON pol.oid = wanted.oid
