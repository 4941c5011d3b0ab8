-- Aggregates of the collected schemas (not an extension's), with what CREATE AGGREGATE
-- takes: its arguments (an ordered-set one's direct arguments, ORDER BY, the aggregated
-- ones), its functions as regproc prints them (the name, qualified where it is not on
-- the search_path or is overloaded), its state types as format_type does, its sort
-- operator qualified; the moving-aggregate mode's where it has one; whether GRANT or
-- REVOKE changed who may call it (its privileges are not held). No lock is taken.
SELECT p.oid::int8 AS oid,
       n.nspname AS schema,
       p.proname AS name,
       pg_catalog.pg_get_function_identity_arguments(p.oid) AS arguments,
       a.aggkind::text AS kind,
       a.aggtransfn::text AS transition,
       pg_catalog.format_type(a.aggtranstype, NULL) AS state_type,
       a.aggtransspace AS state_space,
       CASE WHEN a.aggfinalfn <> 0 THEN a.aggfinalfn::text END AS final_function,
       a.aggfinalextra AS final_extra,
       a.aggfinalmodify::text AS final_modify,
       CASE WHEN a.aggcombinefn <> 0 THEN a.aggcombinefn::text END AS combine_function,
       CASE WHEN a.aggserialfn <> 0 THEN a.aggserialfn::text END AS serial_function,
       CASE WHEN a.aggdeserialfn <> 0 THEN a.aggdeserialfn::text END AS deserial_function,
       a.agginitval AS initial_condition,
       (SELECT pg_catalog.quote_ident(on_.nspname) || '.' || o.oprname
          FROM pg_catalog.pg_operator o
          JOIN pg_catalog.pg_namespace on_ ON on_.oid = o.oprnamespace
         WHERE o.oid = a.aggsortop) AS sort_operator,
       CASE WHEN a.aggmtransfn <> 0 THEN a.aggmtransfn::text END AS moving_transition,
       CASE WHEN a.aggminvtransfn <> 0 THEN a.aggminvtransfn::text END AS moving_inverse,
       CASE WHEN a.aggmtranstype <> 0
            THEN pg_catalog.format_type(a.aggmtranstype, NULL) END AS moving_state_type,
       a.aggmtransspace AS moving_state_space,
       CASE WHEN a.aggmfinalfn <> 0 THEN a.aggmfinalfn::text END AS moving_final_function,
       a.aggmfinalextra AS moving_final_extra,
       a.aggmfinalmodify::text AS moving_final_modify,
       a.aggminitval AS moving_initial_condition,
       p.proparallel::text AS parallel,
       p.proacl IS NOT NULL AS privileges_changed,
       pg_catalog.pg_get_userbyid(p.proowner) AS owner,
       d.description AS comment
  FROM pg_catalog.pg_proc p
  JOIN pg_catalog.pg_aggregate a ON a.aggfnoid = p.oid
  JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
  LEFT JOIN pg_catalog.pg_description d
         ON d.objoid = p.oid AND d.classoid = 'pg_catalog.pg_proc'::regclass AND d.objsubid = 0
 WHERE p.prokind = 'a'
   AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
   AND (pg_catalog.cardinality(%(schemas)s::text[]) = 0 OR n.nspname = ANY (%(schemas)s::text[]))
   AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend e
                    WHERE e.classid = 'pg_catalog.pg_proc'::regclass
                      AND e.objid = p.oid AND e.deptype = 'e'
                      AND e.refclassid = 'pg_catalog.pg_extension'::regclass)
 ORDER BY n.nspname, p.proname, p.oid
