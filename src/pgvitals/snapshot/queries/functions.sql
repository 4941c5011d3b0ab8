-- Functions and procedures of the collected schemas (not an extension's), plus any
-- function a policy or a view calls, wherever it lives (current_setting, auth.uid()):
-- what a policy costs per row depends on the volatility of what it calls.
-- Not the functions PostgreSQL makes itself with a range type (its and its multirange's
-- constructors, internal to the type: they come and go with it), unless called.
-- No function here takes a lock on a table.
WITH called AS (
    SELECT DISTINCT m.funcid[1]::oid AS oid
      FROM pg_catalog.pg_policy pol
     CROSS JOIN LATERAL pg_catalog.regexp_matches(
               coalesce(pol.polqual::text, '') || ' ' || coalesce(pol.polwithcheck::text, ''),
               ':funcid ([0-9]+)', 'g') AS m(funcid)
    UNION
    -- and what views call (auth.uid() in a view's WHERE)
    SELECT m.funcid[1]::oid
      FROM pg_catalog.pg_rewrite rw
      JOIN pg_catalog.pg_class v ON v.oid = rw.ev_class AND v.relkind IN ('v', 'm')
     CROSS JOIN LATERAL pg_catalog.regexp_matches(rw.ev_action::text, ':funcid ([0-9]+)', 'g')
           AS m(funcid)
     WHERE v.relnamespace <> 'pg_catalog'::regnamespace
       AND v.relnamespace <> 'information_schema'::regnamespace
)
SELECT p.oid::int8 AS oid,
       n.nspname AS schema,
       p.proname AS name,
       pg_catalog.pg_get_function_identity_arguments(p.oid) AS arguments,
       p.prokind::text AS kind,
       l.lanname AS language,
       p.provolatile::text AS volatility,
       p.prosecdef AS security_definer,
       coalesce(p.proconfig, '{}') AS config,
       pg_catalog.pg_get_userbyid(p.proowner) AS owner,
       CASE WHEN l.lanname IN ('sql', 'plpgsql') THEN p.prosrc END AS source,
       x.extname AS extension,
       (n.nspname !~ '^pg_' AND n.nspname <> 'information_schema' AND x.oid IS NULL
        AND i.objid IS NULL
        AND (pg_catalog.cardinality(%(schemas)s::text[]) = 0
             OR n.nspname = ANY (%(schemas)s::text[]))) AS user_defined,
       d.description AS comment,
       pg_catalog.format_type(p.prorettype, NULL) AS result_type,
       -- these deparse only argument defaults (no sub-selects there): no lock either
       pg_catalog.pg_get_function_arguments(p.oid) AS declared_arguments,
       pg_catalog.pg_get_function_result(p.oid) AS declared_result,
       p.proisstrict AS strict,
       p.proleakproof AS leakproof,
       p.proparallel::text AS parallel,
       p.procost::float8 AS cost,
       p.prorows::float8 AS rows,
       @@standard_body@@ AS standard_body
  FROM pg_catalog.pg_proc p
  JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
  JOIN pg_catalog.pg_language l ON l.oid = p.prolang
  LEFT JOIN pg_catalog.pg_depend e
         ON e.classid = 'pg_catalog.pg_proc'::regclass AND e.objid = p.oid AND e.deptype = 'e'
  LEFT JOIN pg_catalog.pg_extension x ON x.oid = e.refobjid
  -- the dependencies of functions only (an index range of pg_depend, whatever the
  -- number of tables), hashed once
  LEFT JOIN (SELECT DISTINCT i.objid FROM pg_catalog.pg_depend i
              WHERE i.classid = 'pg_catalog.pg_proc'::regclass AND i.deptype = 'i') i
         ON i.objid = p.oid
  LEFT JOIN pg_catalog.pg_description d
         ON d.objoid = p.oid AND d.classoid = 'pg_catalog.pg_proc'::regclass AND d.objsubid = 0
 WHERE p.prokind IN ('f', 'p')
   AND ((n.nspname !~ '^pg_' AND n.nspname <> 'information_schema' AND x.oid IS NULL
         AND i.objid IS NULL
         AND (pg_catalog.cardinality(%(schemas)s::text[]) = 0
              OR n.nspname = ANY (%(schemas)s::text[])))
        OR p.oid IN (SELECT oid FROM called))
 ORDER BY n.nspname, p.proname, p.oid
