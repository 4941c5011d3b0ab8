-- Columns that views, materialized views and rules use: ALTER COLUMN ... TYPE refuses
-- to change them ("cannot alter type of a column used by a view or rule"), so a fix
-- that changes a type must name the views to recreate instead.
SELECT DISTINCT d.refobjid::int8 AS table_oid,
       a.attname AS column,
       vn.nspname AS view_schema,
       v.relname AS view
  FROM pg_catalog.pg_depend d
  JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid
  JOIN pg_catalog.pg_class v ON v.oid = r.ev_class
  JOIN pg_catalog.pg_namespace vn ON vn.oid = v.relnamespace
  JOIN pg_catalog.pg_class c ON c.oid = d.refobjid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
 WHERE d.classid = 'pg_catalog.pg_rewrite'::regclass
   AND d.refclassid = 'pg_catalog.pg_class'::regclass
   AND d.refobjsubid > 0
   AND v.oid <> c.oid
   AND @@user_relation@@  -- c in schema n: requested, not a system's, not an extension's
 ORDER BY 1, 2, 3, 4
