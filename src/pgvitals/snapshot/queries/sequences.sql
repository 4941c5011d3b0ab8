-- Sequences and the column each one feeds (serial: OWNED BY; identity: internal).
-- last_value is read afterwards in batches (see collect.py): the function behind
-- pg_sequences.last_value takes a RowExclusiveLock, stronger than a SELECT's.
SELECT s.seqrelid::int8 AS oid,
       n.nspname AS schema,
       c.relname AS name,
       pg_catalog.format_type(s.seqtypid, NULL) AS data_type,
       s.seqstart AS start_value,
       s.seqmin AS min_value,
       s.seqmax AS max_value,
       s.seqincrement AS increment_by,
       s.seqcycle AS cycle,
       NULL::int8 AS last_value,
       dep.refobjid::int8 AS owned_by_table_oid,
       a.attname AS owned_by_column,
       pg_catalog.has_sequence_privilege(s.seqrelid, 'SELECT') AS readable,
       s.seqcache AS cache_size
  FROM pg_catalog.pg_sequence s
  JOIN pg_catalog.pg_class c ON c.oid = s.seqrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_catalog.pg_depend dep
         ON dep.classid = 'pg_catalog.pg_class'::regclass AND dep.objid = s.seqrelid
        AND dep.refclassid = 'pg_catalog.pg_class'::regclass AND dep.deptype IN ('a', 'i')
  LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = dep.refobjid AND a.attnum = dep.refobjsubid
 WHERE @@user_relation@@  -- c in schema n: requested, not a system's, not an extension's
 ORDER BY n.nspname, c.relname
