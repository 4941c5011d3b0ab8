-- Non-system schemas (optionally only the requested ones), with owner and comment.
SELECT n.oid::int8 AS oid,
       n.nspname AS name,
       pg_catalog.pg_get_userbyid(n.nspowner) AS owner,
       d.description AS comment,
       -- relations (tables, views, sequences, composite types ...), functions, types
       -- of their own (not a relation's row type nor an array type), operators and
       -- collations: what empty-schema must find none of. Counted once per catalog.
       coalesce(objects.count, 0) AS object_count
  FROM pg_catalog.pg_namespace n
  LEFT JOIN pg_catalog.pg_description d
         ON d.objoid = n.oid AND d.classoid = 'pg_catalog.pg_namespace'::regclass AND d.objsubid = 0
  LEFT JOIN (SELECT owner, count(*)::int8 AS count
               FROM (SELECT c.relnamespace FROM pg_catalog.pg_class c
                     UNION ALL SELECT f.pronamespace FROM pg_catalog.pg_proc f
                     UNION ALL SELECT t.typnamespace FROM pg_catalog.pg_type t
                                WHERE t.typrelid = 0 AND t.typelem = 0
                     UNION ALL SELECT o.oprnamespace FROM pg_catalog.pg_operator o
                     UNION ALL SELECT co.collnamespace FROM pg_catalog.pg_collation co
                    ) AS everything (owner)
              GROUP BY owner) objects ON objects.owner = n.oid
 WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
   AND (pg_catalog.cardinality(%(schemas)s::text[]) = 0 OR n.nspname = ANY (%(schemas)s::text[]))
   AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend e
                    WHERE e.classid = 'pg_catalog.pg_namespace'::regclass
                      AND e.objid = n.oid AND e.deptype = 'e')
 ORDER BY n.nspname
