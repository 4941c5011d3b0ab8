-- Primary key, foreign key, unique, check and exclusion constraints of tables.
-- Columns come as attribute numbers; collect.py names them.
-- The tables are chosen and ranked in name order once; rows sort by that rank
-- and the constraint name.
WITH rel AS (
  SELECT c.oid, n.nspname, c.relname,
         pg_catalog.row_number() OVER (ORDER BY n.nspname, c.relname) AS rank
    FROM pg_catalog.pg_class c
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind IN ('r', 'p', 'm', 'f')
     AND @@user_relation@@  -- c in schema n: requested, not a system's, not an extension's
)
SELECT con.oid::int8 AS oid,
       c.nspname::text AS schema,
       c.relname::text AS table,
       c.oid::int8 AS table_oid,
       con.conname::text AS name,
       con.contype::text AS kind,
       coalesce(con.conkey, '{}') AS key_attnums,
       con.convalidated AS validated,
       -- a partition's copy of its parent's key or foreign key names its parent; a
       -- CHECK copy does not, it is only not the partition's own (cannot be dropped)
       con.conparentid <> 0 OR (con.contype = 'c' AND NOT con.conislocal) AS inherited,
       -- Keys are written by assemble.py (rebuilt_key_definition) as the deparser would:
       -- deparsing 26,000 of them here took two thirds of this query's time at 10,000
       -- tables. The shapes it does not write are deparsed here (keys deparse from the
       -- syscache; CHECK and EXCLUDE expressions lock the table, so they are deparsed
       -- later in batches).
       CASE WHEN con.contype IN ('p', 'u')
                 AND (ki.indnatts > ki.indnkeyatts OR @@key_nulls_not_distinct@@)
              OR con.contype = 'f' AND (con.confmatchtype = 'p' OR @@delete_set_columns@@)
              -- a table outside those collected: its column names are read later, if
              -- they can be
              OR con.contype = 'f' AND NOT EXISTS (SELECT FROM rel WHERE rel.oid = con.confrelid)
              OR @@unusual_key@@
            THEN pg_catalog.pg_get_constraintdef(con.oid) END AS definition,
       nullif(con.conindid, 0)::int8 AS index_oid,
       nullif(con.confrelid, 0)::int8 AS ref_table_oid,
       rn.nspname::text AS ref_schema,
       rc.relname::text AS ref_table,
       coalesce(con.confkey, '{}') AS ref_attnums,
       CASE WHEN con.contype = 'f' THEN con.confdeltype::text END AS on_delete,
       CASE WHEN con.contype = 'f' THEN con.confupdtype::text END AS on_update,
       d.description AS comment,
       con.condeferrable AS deferrable,
       con.condeferred AS deferred,
       con.confmatchtype = 'f' AS match_full,
       -- the deparser names the referenced table without its schema when the search
       -- path finds it by its name alone
       CASE WHEN con.contype = 'f' THEN pg_catalog.pg_table_is_visible(con.confrelid) END
           AS ref_visible
  FROM rel c
  JOIN pg_catalog.pg_constraint con ON con.conrelid = c.oid
  LEFT JOIN pg_catalog.pg_class rc ON rc.oid = con.confrelid
  LEFT JOIN pg_catalog.pg_namespace rn ON rn.oid = rc.relnamespace
  LEFT JOIN pg_catalog.pg_index ki ON ki.indexrelid = con.conindid AND con.contype IN ('p', 'u')
  LEFT JOIN pg_catalog.pg_description d
         ON d.objoid = con.oid AND d.classoid = 'pg_catalog.pg_constraint'::regclass
        AND d.objsubid = 0
 WHERE con.contype IN ('p', 'f', 'u', 'c', 'x')
 ORDER BY c.rank, con.conname
