-- Installed extensions (database-wide), where they put their objects, and how many
-- objects belong to each (they are left out of every other query), and the names of
-- its functions, types, relations and text search objects: a function body that names
-- one schema-qualified ('public.unaccent') breaks when the extension moves.
SELECT e.oid::int8 AS oid,
       e.extname AS name,
       n.nspname AS schema,
       e.extversion AS version,
       e.extrelocatable AS relocatable,
       pg_catalog.pg_get_userbyid(e.extowner) AS owner,
       (SELECT pg_catalog.count(*)::int FROM pg_catalog.pg_depend dep
         WHERE dep.refclassid = 'pg_catalog.pg_extension'::regclass AND dep.refobjid = e.oid
           AND dep.deptype = 'e') AS members,
       d.description AS comment,
       ARRAY(SELECT DISTINCT m.name
               FROM pg_catalog.pg_depend dep
              CROSS JOIN LATERAL (
                    SELECT proname::text FROM pg_catalog.pg_proc
                     WHERE dep.classid = 'pg_catalog.pg_proc'::regclass AND oid = dep.objid
                    UNION ALL
                    SELECT typname::text FROM pg_catalog.pg_type
                     WHERE dep.classid = 'pg_catalog.pg_type'::regclass AND oid = dep.objid
                    UNION ALL
                    SELECT relname::text FROM pg_catalog.pg_class
                     WHERE dep.classid = 'pg_catalog.pg_class'::regclass AND oid = dep.objid
                    UNION ALL
                    SELECT dictname::text FROM pg_catalog.pg_ts_dict
                     WHERE dep.classid = 'pg_catalog.pg_ts_dict'::regclass AND oid = dep.objid
                    UNION ALL
                    SELECT cfgname::text FROM pg_catalog.pg_ts_config
                     WHERE dep.classid = 'pg_catalog.pg_ts_config'::regclass AND oid = dep.objid
                   ) AS m(name)
              WHERE dep.refclassid = 'pg_catalog.pg_extension'::regclass
                AND dep.refobjid = e.oid AND dep.deptype = 'e'
              ORDER BY m.name) AS member_names
  FROM pg_catalog.pg_extension e
  JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
  LEFT JOIN pg_catalog.pg_description d
         ON d.objoid = e.oid AND d.classoid = 'pg_catalog.pg_extension'::regclass
        AND d.objsubid = 0
 ORDER BY e.extname
