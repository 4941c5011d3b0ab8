-- Granted privileges (aclexplode) on the collected tables, views, materialized and
-- foreign tables, their columns, the collected schemas and functions, one row per
-- object and grantee. The owner's own rights are left out (implicit, and all there
-- is on an object never granted); a function never granted has the default EXECUTE
-- for PUBLIC, which acldefault supplies.
SELECT g.kind, g.object_oid, g.schema, g.name, g.column,
       CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.pg_get_userbyid(g.grantee) END
           AS grantee,
       pg_catalog.array_agg(g.privilege ORDER BY g.privilege) AS privileges
  FROM (SELECT 'table' AS kind, c.oid::int8 AS object_oid, n.nspname AS schema,
               c.relname::text AS name, NULL::text AS column, a.grantee, a.privilege_type AS privilege
          FROM pg_catalog.pg_class c
          JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         CROSS JOIN LATERAL pg_catalog.aclexplode(c.relacl) a
         WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND c.relacl IS NOT NULL
           AND a.grantee <> c.relowner
           AND @@user_relation@@  -- c in schema n: requested, not a system's, not an extension's
        UNION ALL
        SELECT 'column', c.oid::int8, n.nspname, c.relname::text, att.attname::text, a.grantee,
               a.privilege_type
          FROM pg_catalog.pg_attribute att
          JOIN pg_catalog.pg_class c ON c.oid = att.attrelid
          JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         CROSS JOIN LATERAL pg_catalog.aclexplode(att.attacl) a
         WHERE att.attacl IS NOT NULL AND att.attnum > 0 AND NOT att.attisdropped
           AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND a.grantee <> c.relowner
           AND @@user_relation@@
        UNION ALL
        SELECT 'schema', n.oid::int8, n.nspname, n.nspname::text, NULL, a.grantee, a.privilege_type
          FROM pg_catalog.pg_namespace n
         CROSS JOIN LATERAL pg_catalog.aclexplode(n.nspacl) a
         WHERE n.nspacl IS NOT NULL AND a.grantee <> n.nspowner
           AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
           AND (pg_catalog.cardinality(%(schemas)s::text[]) = 0
                OR n.nspname = ANY (%(schemas)s::text[]))
        UNION ALL
        SELECT 'function', p.oid::int8, n.nspname,
               p.proname || '(' || pg_catalog.pg_get_function_identity_arguments(p.oid) || ')',
               NULL, a.grantee, a.privilege_type
          FROM pg_catalog.pg_proc p
          JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
         CROSS JOIN LATERAL pg_catalog.aclexplode(coalesce(p.proacl, pg_catalog.acldefault('f', p.proowner))) a
         WHERE p.prokind IN ('f', 'p') AND a.grantee <> p.proowner
           AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
           AND (pg_catalog.cardinality(%(schemas)s::text[]) = 0
                OR n.nspname = ANY (%(schemas)s::text[]))
           AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend e
                            WHERE e.classid = 'pg_catalog.pg_proc'::regclass
                              AND e.objid = p.oid AND e.deptype = 'e')) AS g
 GROUP BY g.kind, g.object_oid, g.schema, g.name, g.column, g.grantee
 ORDER BY g.schema, g.name, g.kind, g.column NULLS FIRST, 6
