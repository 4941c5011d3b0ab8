-- The roles of the cluster (shared by all its databases), without the predefined pg_*
-- roles; memberships in those (pg_read_all_data, ...) are kept. pg_roles hides
-- passwords and is readable by every role.
SELECT r.oid::int8 AS oid,
       r.rolname AS name,
       r.rolsuper AS superuser,
       r.rolcanlogin AS login,
       r.rolbypassrls AS bypassrls,
       r.rolcreaterole AS createrole,
       r.rolcreatedb AS createdb,
       r.rolreplication AS replication,
       ARRAY(SELECT g.rolname::text
               FROM pg_catalog.pg_auth_members m
               JOIN pg_catalog.pg_roles g ON g.oid = m.roleid
              WHERE m.member = r.oid
              ORDER BY 1) AS member_of,
       -- PostgreSQL 16+ says per membership whether privileges pass without SET ROLE;
       -- before, the member's rolinherit says it for all its memberships
       ARRAY(SELECT g.rolname::text
               FROM pg_catalog.pg_auth_members m
               JOIN pg_catalog.pg_roles g ON g.oid = m.roleid
              WHERE m.member = r.oid AND @@membership_inherits@@
              ORDER BY 1) AS inherits_from,
       coalesce(r.rolconfig, '{}') AS config,
       pg_catalog.has_database_privilege(r.oid, pg_catalog.current_database(), 'CONNECT')
           AS can_connect,
       pg_catalog.shobj_description(r.oid, 'pg_authid') AS comment
  FROM pg_catalog.pg_roles r
 WHERE r.rolname !~ '^pg_'
 ORDER BY r.rolname
