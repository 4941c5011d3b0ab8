-- What logical replication needs of each table: its replica identity (d default: the
-- primary key; n nothing; f full row; i a chosen unique index) and the publications
-- that publish it (pg_publication_tables resolves FOR ALL TABLES, FOR TABLES IN SCHEMA
-- and partitions); `publishing_changes` are those that publish UPDATE or DELETE, which
-- a table without a replica identity rejects. Catalog reads only.
SELECT c.oid::int8 AS table_oid,
       c.relreplident::text AS replica_identity,
       ri.relname AS replica_identity_index,
       coalesce((SELECT pg_catalog.array_agg(DISTINCT pt.pubname::text)
                   FROM pg_catalog.pg_publication_tables pt
                  WHERE pt.schemaname = n.nspname AND pt.tablename = c.relname), '{}')
           AS publications,
       coalesce((SELECT pg_catalog.array_agg(DISTINCT pt.pubname::text)
                   FROM pg_catalog.pg_publication_tables pt
                   JOIN pg_catalog.pg_publication p ON p.pubname = pt.pubname
                  WHERE pt.schemaname = n.nspname AND pt.tablename = c.relname
                    AND (p.pubupdate OR p.pubdelete)), '{}') AS publishing_changes
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_catalog.pg_index ii ON ii.indrelid = c.oid AND ii.indisreplident
  LEFT JOIN pg_catalog.pg_class ri ON ri.oid = ii.indexrelid
 WHERE c.relkind IN ('r', 'p')
   AND @@user_relation@@  -- c in schema n: requested, not a system's, not an extension's
 ORDER BY n.nspname, c.relname
