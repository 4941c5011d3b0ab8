-- Views and materialized views, with their options (security_invoker on 15+,
-- security_barrier), the relations their query reads, from the dependencies of
-- their rewrite rule, their columns' names and type categories, and their query's node
-- tree: no view definition is deparsed, so no lock is taken.
SELECT c.oid::int8 AS oid,
       n.nspname AS schema,
       c.relname AS name,
       c.relkind::text AS kind,
       pg_catalog.pg_get_userbyid(c.relowner) AS owner,
       coalesce(c.reloptions, '{}') AS reloptions,
       ARRAY(SELECT DISTINCT dep.refobjid::int8
               FROM pg_catalog.pg_rewrite rw
               JOIN pg_catalog.pg_depend dep
                 ON dep.classid = 'pg_catalog.pg_rewrite'::regclass AND dep.objid = rw.oid
                AND dep.refclassid = 'pg_catalog.pg_class'::regclass
                AND dep.refobjid <> c.oid AND dep.deptype = 'n'
              WHERE rw.ev_class = c.oid
              ORDER BY 1) AS reads,
       ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute a
              WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
              ORDER BY a.attnum) AS columns,
       ARRAY(SELECT t.typcategory::text
               FROM pg_catalog.pg_attribute a
               JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
              WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
              ORDER BY a.attnum) AS column_categories,
       d.description AS comment,
       (SELECT rw.ev_action::text FROM pg_catalog.pg_rewrite rw
         WHERE rw.ev_class = c.oid AND rw.rulename = '_RETURN') AS query_tree
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_catalog.pg_description d
         ON d.objoid = c.oid AND d.classoid = 'pg_catalog.pg_class'::regclass AND d.objsubid = 0
 WHERE c.relkind IN ('v', 'm')
   AND @@user_relation@@  -- c in schema n: requested, not a system's, not an extension's
 ORDER BY n.nspname, c.relname
