-- Non-system schemas (optionally only the requested ones), with owner and comment.
SELECT n.oid::int8 AS oid,
       n.nspname AS name,
       pg_catalog.pg_get_userbyid(n.nspowner) AS owner,
       d.description AS comment
  FROM pg_catalog.pg_namespace n
  LEFT JOIN pg_catalog.pg_description d
         ON d.objoid = n.oid AND d.classoid = 'pg_catalog.pg_namespace'::regclass AND d.objsubid = 0
 WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
   AND (pg_catalog.cardinality(%(schemas)s::text[]) = 0 OR n.nspname = ANY (%(schemas)s::text[]))
   AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend e
                    WHERE e.classid = 'pg_catalog.pg_namespace'::regclass
                      AND e.objid = n.oid AND e.deptype = 'e')
 ORDER BY n.nspname
