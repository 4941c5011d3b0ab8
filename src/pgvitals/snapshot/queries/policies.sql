-- Row-level security policies of the collected tables. The USING and WITH CHECK
-- expressions come as node trees (location fields removed), which cost no lock: their
-- text (pg_get_expr) locks the table and every table a sub-select in them reads, so
-- it is read afterwards, in the lock_timeout-bounded definitions stage (collect.py).
SELECT pol.oid::int8 AS oid,
       n.nspname AS schema,
       c.relname AS table,
       c.oid::int8 AS table_oid,
       pol.polname AS name,
       CASE pol.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE'
                       WHEN 'd' THEN 'DELETE' ELSE 'ALL' END AS command,
       pol.polpermissive AS permissive,
       ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'public' ELSE pg_catalog.pg_get_userbyid(r.oid) END
               FROM pg_catalog.unnest(pol.polroles) AS r(oid)
              ORDER BY 1) AS roles,
       pg_catalog.regexp_replace(pol.polqual::text, ' :location -?[0-9]+', '', 'g') AS using_tree,
       pg_catalog.regexp_replace(pol.polwithcheck::text, ' :location -?[0-9]+', '', 'g')
           AS with_check_tree,
       NULL::text AS using,
       NULL::text AS with_check,
       d.description AS comment
  FROM pg_catalog.pg_policy pol
  JOIN pg_catalog.pg_class c ON c.oid = pol.polrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_catalog.pg_description d
         ON d.objoid = pol.oid AND d.classoid = 'pg_catalog.pg_policy'::regclass AND d.objsubid = 0
 WHERE @@user_relation@@  -- c in schema n: requested, not a system's, not an extension's
 ORDER BY n.nspname, c.relname, pol.polname
