-- Range types made by CREATE TYPE ... AS RANGE in the collected schemas (not an
-- extension's): the subtype as format_type prints it and its OID (an array's element
-- type's: what must exist first), the B-tree operator class where it is not the
-- subtype's default, the collation where it is not the subtype's, the canonical and
-- subtype_diff functions as regproc prints them, and the multirange type PostgreSQL
-- made beside it (PostgreSQL 14+) and its OID (a column or domain of it needs the range).
SELECT t.oid::int8 AS oid,
       n.nspname AS schema,
       t.typname AS name,
       pg_catalog.format_type(r.rngsubtype, NULL) AS subtype,
       (CASE WHEN s.typcategory = 'A' AND s.typelem <> 0 THEN s.typelem
             ELSE s.oid END)::int8 AS subtype_oid,
       CASE WHEN NOT oc.opcdefault
            THEN pg_catalog.quote_ident(ocn.nspname) || '.' || pg_catalog.quote_ident(oc.opcname)
       END AS subtype_opclass,
       CASE WHEN r.rngcollation <> s.typcollation
            THEN pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname)
       END AS collation,
       CASE WHEN r.rngcanonical <> 0 THEN r.rngcanonical::text END AS canonical,
       CASE WHEN r.rngsubdiff <> 0 THEN r.rngsubdiff::text END AS subtype_diff,
       pg_catalog.quote_ident(mn.nspname) || '.' || pg_catalog.quote_ident(m.typname)
           AS multirange,
       m.oid::int8 AS multirange_oid,
       pg_catalog.pg_get_userbyid(t.typowner) AS owner,
       pg_catalog.obj_description(t.oid, 'pg_type') AS comment
  FROM pg_catalog.pg_type t
  JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
  JOIN pg_catalog.pg_range r ON r.rngtypid = t.oid
  JOIN pg_catalog.pg_type s ON s.oid = r.rngsubtype
  JOIN pg_catalog.pg_opclass oc ON oc.oid = r.rngsubopc
  JOIN pg_catalog.pg_namespace ocn ON ocn.oid = oc.opcnamespace
  LEFT JOIN pg_catalog.pg_type m ON m.oid = @@multirange_type@@
  LEFT JOIN pg_catalog.pg_namespace mn ON mn.oid = m.typnamespace
  LEFT JOIN pg_catalog.pg_collation co ON co.oid = r.rngcollation
  LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace
 WHERE t.typtype = 'r'
   AND @@user_type@@  -- t in schema n: requested, not a system's, not an extension's
 ORDER BY n.nspname, t.typname
