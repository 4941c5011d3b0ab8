-- Domains of the collected schemas (not an extension's): what CREATE DOMAIN said, so that
-- a rebuilt column of one keeps its type and its checks (review/rebuild.py). The base
-- type as format_type prints it (typmod included), its OID (an array's element type's:
-- what must exist first), the collation where it is not the base type's, the default
-- and the CHECK constraints deparsed: none of these functions locks a table.
SELECT t.oid::int8 AS oid,
       n.nspname AS schema,
       t.typname AS name,
       pg_catalog.format_type(t.typbasetype, t.typtypmod) AS base_type,
       (CASE WHEN b.typcategory = 'A' AND b.typelem <> 0 THEN b.typelem
             ELSE b.oid END)::int8 AS base_type_oid,
       t.typnotnull AS not_null,
       pg_catalog.pg_get_expr(t.typdefaultbin, 0) AS default,
       CASE WHEN t.typcollation <> b.typcollation
            THEN pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname)
       END AS collation,
       ARRAY(SELECT k.conname::text
               FROM pg_catalog.pg_constraint k
              WHERE k.contypid = t.oid AND k.contype = 'c'
              ORDER BY k.conname) AS check_names,
       ARRAY(SELECT pg_catalog.pg_get_constraintdef(k.oid)
               FROM pg_catalog.pg_constraint k
              WHERE k.contypid = t.oid AND k.contype = 'c'
              ORDER BY k.conname) AS checks,
       pg_catalog.pg_get_userbyid(t.typowner) AS owner,
       pg_catalog.obj_description(t.oid, 'pg_type') AS comment
  FROM pg_catalog.pg_type t
  JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
  JOIN pg_catalog.pg_type b ON b.oid = t.typbasetype
  LEFT JOIN pg_catalog.pg_collation co ON co.oid = t.typcollation
  LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace
 WHERE t.typtype = 'd'
   AND @@user_type@@  -- t in schema n: requested, not a system's, not an extension's
 ORDER BY n.nspname, t.typname
