-- Enum types of the collected schemas (not an extension's), with their labels in their
-- sort order: what `diff` compares (a value added, or the order an upgrade left).
SELECT t.oid::int8 AS oid,
       n.nspname AS schema,
       t.typname AS name,
       ARRAY(SELECT e.enumlabel::text
               FROM pg_catalog.pg_enum e
              WHERE e.enumtypid = t.oid
              ORDER BY e.enumsortorder) AS labels,
       pg_catalog.obj_description(t.oid, 'pg_type') AS comment
  FROM pg_catalog.pg_type t
  JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
 WHERE t.typtype = 'e'
   AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
   AND (pg_catalog.cardinality(%(schemas)s::text[]) = 0 OR n.nspname = ANY (%(schemas)s::text[]))
   AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend e
                    WHERE e.classid = 'pg_catalog.pg_type'::regclass
                      AND e.objid = t.oid AND e.deptype = 'e'
                      AND e.refclassid = 'pg_catalog.pg_extension'::regclass)
 ORDER BY n.nspname, t.typname
