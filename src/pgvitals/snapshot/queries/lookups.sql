-- Small dictionaries the other queries refer to by oid: operator classes,
-- collations, and the keywords that force an identifier to be quoted.
SELECT 'opclass' AS kind, op.oid::int8 AS oid, op.opcname::text AS name,
       op.opcdefault AS is_default, op.opcintype::int8 AS input_type
  FROM pg_catalog.pg_opclass op
UNION ALL
SELECT 'collation', coll.oid::int8, coll.collname::text, NULL, NULL
  FROM pg_catalog.pg_collation coll
UNION ALL
SELECT 'keyword', 0, k.word, NULL, NULL
  FROM pg_catalog.pg_get_keywords() k
 WHERE k.catcode <> 'U'
UNION ALL
SELECT 'type', t.oid::int8, t.typname::text, NULL, NULL
  FROM pg_catalog.pg_type t
 WHERE t.typname IN ('text', 'varchar')
