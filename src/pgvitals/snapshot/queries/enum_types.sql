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
   AND @@user_type@@  -- t in schema n: requested, not a system's, not an extension's
 ORDER BY n.nspname, t.typname
