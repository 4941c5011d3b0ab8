-- Installed extensions (database-wide), where they put their objects, and how many
-- objects belong to each (they are left out of every other query).
SELECT e.oid::int8 AS oid,
       e.extname AS name,
       n.nspname AS schema,
       e.extversion AS version,
       e.extrelocatable AS relocatable,
       pg_catalog.pg_get_userbyid(e.extowner) AS owner,
       (SELECT pg_catalog.count(*)::int FROM pg_catalog.pg_depend dep
         WHERE dep.refclassid = 'pg_catalog.pg_extension'::regclass AND dep.refobjid = e.oid
           AND dep.deptype = 'e') AS members,
       d.description AS comment
  FROM pg_catalog.pg_extension e
  JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
  LEFT JOIN pg_catalog.pg_description d
         ON d.objoid = e.oid AND d.classoid = 'pg_catalog.pg_extension'::regclass
        AND d.objsubid = 0
 ORDER BY e.extname
