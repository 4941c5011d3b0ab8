"""The claims of the integrity rules' rationales (fk-type-mismatch, missing-foreign-key,
...), shown to hold on a real server. If PostgreSQL ever behaves otherwise, the
rationale is wrong and must change with it."""

from __future__ import annotations

import psycopg
import pytest

from pgvitals.connect import connect
from pgvitals.engine import analyse
from pgvitals.snapshot.collect import collect

# missing-primary-key


def test_a_unique_key_a_check_holds_to_one_value_keeps_the_table_to_one_row(database) -> None:
    """Synapse's stream positions: `lock char(1) UNIQUE CHECK (lock = 'X')` refuses a
    second row whatever it holds, so the table has one row, key or no key."""
    database.execute(
        "CREATE TABLE positions (lock char(1) NOT NULL DEFAULT 'X' UNIQUE CHECK (lock = 'X'),"
        " stream_id bigint);"
        "INSERT INTO positions (stream_id) VALUES (1)"
    )
    with database.admin() as admin:
        with pytest.raises(psycopg.errors.UniqueViolation):
            admin.execute("INSERT INTO positions (stream_id) VALUES (2)")
        with pytest.raises(psycopg.errors.CheckViolation):
            admin.execute("INSERT INTO positions VALUES ('Y', 2)")
        assert admin.execute("SELECT count(*) FROM positions").fetchone() == (1,)


def test_no_identity_column_on_a_table_others_inherit_from_nor_a_key_over_theirs(
    database,
) -> None:
    """Concourse's build_events: the identity key the fix would add fails (42P16), and a
    key on the parent leaves the children's rows free to repeat its values."""
    database.execute(
        "CREATE TABLE build_events (event_id int NOT NULL, payload text);"
        'CREATE TABLE "check ñame events" () INHERITS (build_events)'
    )
    with database.admin() as admin:
        with pytest.raises(psycopg.errors.InvalidTableDefinition, match="child tables"):
            admin.execute(
                "ALTER TABLE build_events ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY"
                " PRIMARY KEY"
            )
        admin.execute("ALTER TABLE build_events ADD PRIMARY KEY (event_id)")
        admin.execute("INSERT INTO build_events VALUES (1, 'a')")
        admin.execute("""INSERT INTO "check ñame events" VALUES (1, 'b'), (1, 'c')""")
        counted = admin.execute("SELECT count(*) FROM build_events WHERE event_id = 1")
        assert counted.fetchone() == (3,)


def test_a_parents_key_makes_its_childrens_columns_not_null_and_its_rollback_undoes_it(
    database,
) -> None:
    """The parent's key, promoted from a unique index on a column that allows NULL, sets
    NOT NULL on that column in the tables that inherit from it too (so that their own
    keys, which the fix adds next, can be promoted), and DROP NOT NULL on the parent, in
    the rollback, allows NULL in theirs again: keys do not reach them, NOT NULL does."""
    database.execute(
        "CREATE TABLE build_events (build_id bigint, event_id int NOT NULL);"
        "CREATE UNIQUE INDEX build_events_key ON build_events (build_id, event_id);"
        'CREATE TABLE "pipeline ñame events" () INHERITS (build_events);'
        'CREATE UNIQUE INDEX pipeline_key ON "pipeline ñame events" (build_id, event_id)'
    )
    child_allows_null = (
        "SELECT NOT attnotnull FROM pg_attribute"
        " WHERE attrelid = '\"pipeline ñame events\"'::regclass AND attname = 'build_id'"
    )
    with database.admin() as admin:
        admin.execute(
            "ALTER TABLE build_events ADD CONSTRAINT build_events_pkey"
            " PRIMARY KEY USING INDEX build_events_key"
        )
        assert admin.execute(child_allows_null).fetchone() == (False,)
        admin.execute(
            'ALTER TABLE "pipeline ñame events" ADD CONSTRAINT pipeline_pkey'
            " PRIMARY KEY USING INDEX pipeline_key"
        )
        admin.execute('ALTER TABLE "pipeline ñame events" DROP CONSTRAINT pipeline_pkey')
        admin.execute("ALTER TABLE build_events DROP CONSTRAINT build_events_pkey")
        admin.execute("ALTER TABLE build_events ALTER COLUMN build_id DROP NOT NULL")
        assert admin.execute(child_allows_null).fetchone() == (True,)


# fk-type-mismatch


def test_no_foreign_key_between_varchar_and_uuid(database) -> None:
    database.execute("CREATE TABLE lessons (id uuid PRIMARY KEY)")
    with database.admin() as admin, pytest.raises(psycopg.errors.DatatypeMismatch):
        admin.execute("CREATE TABLE progress (lesson_id varchar(36) REFERENCES lessons)")


def test_no_foreign_key_between_uuid_and_integer(database) -> None:
    database.execute("CREATE TABLE teachers (id int PRIMARY KEY)")
    with database.admin() as admin, pytest.raises(psycopg.errors.DatatypeMismatch):
        admin.execute("CREATE TABLE lessons (teacher_id uuid REFERENCES teachers)")


def test_varchar_reference_accepts_text_that_matches_nothing_and_casts_fail(database) -> None:
    database.execute(
        "CREATE TABLE lessons (id uuid PRIMARY KEY);"
        "CREATE TABLE progress (lesson_id varchar(36));"
        "INSERT INTO lessons VALUES (gen_random_uuid());"
        "INSERT INTO progress VALUES ('not-a-uuid')"
    )
    with database.admin() as admin, pytest.raises(psycopg.errors.InvalidTextRepresentation):
        admin.execute("SELECT * FROM progress p JOIN lessons l ON l.id = p.lesson_id::uuid")


def test_int4_reference_to_int8_key_is_accepted_then_overflows(database) -> None:
    database.execute(
        "CREATE TABLE invoices (id bigint PRIMARY KEY);"
        "CREATE TABLE payments (invoice_id int REFERENCES invoices);"
        "INSERT INTO invoices VALUES (2147483648)"
    )
    with database.admin() as admin, pytest.raises(psycopg.errors.NumericValueOutOfRange):
        admin.execute("INSERT INTO payments VALUES (2147483648)")


def test_a_type_change_fails_on_a_check_that_reads_the_column_as_its_old_type(database) -> None:
    database.execute(
        "CREATE TABLE reads (agent_id text CHECK (char_length(agent_id) <= 10),"
        " other_id text CHECK (other_id IS NOT NULL))"
    )
    with database.admin() as admin:
        admin.execute("ALTER TABLE reads ALTER COLUMN other_id TYPE bigint USING other_id::bigint")
        with pytest.raises(psycopg.errors.UndefinedFunction):
            admin.execute(
                "ALTER TABLE reads ALTER COLUMN agent_id TYPE bigint USING agent_id::bigint"
            )


# missing-foreign-key


def test_validate_fails_while_orphans_remain_and_not_valid_checks_new_rows(database) -> None:
    database.execute(
        "CREATE TABLE teachers (id int PRIMARY KEY); INSERT INTO teachers VALUES (1);"
        "CREATE TABLE lessons (teacher_id int); INSERT INTO lessons VALUES (1), (2);"
        "ALTER TABLE lessons ADD CONSTRAINT lessons_teacher_id_fkey"
        " FOREIGN KEY (teacher_id) REFERENCES teachers NOT VALID"
    )
    with database.admin() as admin, pytest.raises(psycopg.errors.ForeignKeyViolation):
        admin.execute("INSERT INTO lessons VALUES (3)")
    with database.admin() as admin, pytest.raises(psycopg.errors.ForeignKeyViolation):
        admin.execute("ALTER TABLE lessons VALIDATE CONSTRAINT lessons_teacher_id_fkey")
    with database.admin() as admin:
        admin.execute("DELETE FROM lessons WHERE teacher_id = 2")
        admin.execute("ALTER TABLE lessons VALIDATE CONSTRAINT lessons_teacher_id_fkey")


def test_a_foreign_key_of_a_parent_does_not_hold_in_the_tables_that_inherit_from_it(
    database,
) -> None:
    """Concourse's build_events.build_id: a foreign key on the parent checks the parent's
    own rows; a table that inherits from it takes an orphan row, and VALIDATE on the
    parent passes over it. Each child needs a key of its own, which then refuses it."""
    database.execute(
        "CREATE TABLE builds (id bigint PRIMARY KEY); INSERT INTO builds VALUES (1);"
        "CREATE TABLE build_events (build_id bigint, event_id int NOT NULL);"
        'CREATE TABLE "pipeline ñame events" () INHERITS (build_events);'
        'INSERT INTO "pipeline ñame events" VALUES (7, 1);'
        "ALTER TABLE build_events ADD CONSTRAINT build_events_build_id_fkey"
        " FOREIGN KEY (build_id) REFERENCES builds NOT VALID"
    )
    with database.admin() as admin:
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            admin.execute("INSERT INTO build_events VALUES (7, 1)")
        admin.execute("ALTER TABLE build_events VALIDATE CONSTRAINT build_events_build_id_fkey")
        admin.execute("""INSERT INTO "pipeline ñame events" VALUES (8, 2)""")
        orphans = admin.execute(
            "SELECT count(*) FROM build_events e"
            " WHERE NOT EXISTS (SELECT FROM builds b WHERE b.id = e.build_id)"
        )
        assert orphans.fetchone() == (2,)  # read through the parent, held by no key
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            admin.execute(
                'ALTER TABLE "pipeline ñame events" ADD CONSTRAINT pipeline_build_id_fkey'
                " FOREIGN KEY (build_id) REFERENCES builds"
            )


def test_a_key_to_a_loosely_referenced_table_makes_the_applications_deletes_fail(
    database,
) -> None:
    """GitLab deletes a merge request whose pipelines still point at it, and its
    loose-foreign-key trigger records the deletion for a worker to clean up the
    pipelines later; the key the ordinary fix adds refuses that delete."""
    database.execute(
        "CREATE TABLE deleted_records (table_name text, id bigint);"
        "CREATE FUNCTION record_deleted() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN INSERT INTO deleted_records SELECT TG_TABLE_NAME, id FROM old_table;"
        " RETURN NULL; END $$;"
        "CREATE TABLE merge_requests (id bigint PRIMARY KEY);"
        "CREATE TRIGGER loose_fk AFTER DELETE ON merge_requests REFERENCING OLD TABLE AS"
        " old_table FOR EACH STATEMENT EXECUTE FUNCTION record_deleted();"
        "CREATE TABLE pipelines (id bigint PRIMARY KEY, merge_request_id bigint);"
        "INSERT INTO merge_requests VALUES (1); INSERT INTO pipelines VALUES (1, 1)"
    )
    with database.admin() as admin:
        admin.execute("DELETE FROM merge_requests WHERE id = 1")  # as the application does
        admin.execute("INSERT INTO merge_requests VALUES (1)")
        admin.execute(
            "ALTER TABLE pipelines ADD CONSTRAINT pipelines_merge_request_id_fkey"
            " FOREIGN KEY (merge_request_id) REFERENCES merge_requests NOT VALID"
        )
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            admin.execute("DELETE FROM merge_requests WHERE id = 1")


@pytest.mark.parametrize("timing", ["AFTER", "BEFORE"])
def test_a_key_from_a_table_a_delete_trigger_fills_makes_every_delete_fail(
    database, timing
) -> None:
    """Immich's assets_delete_audit writes each deleted asset's id to assets_audit: with
    a key from assets_audit to assets, the delete fails, whether the trigger runs after
    the row is gone (the new row points at nothing) or before (the new row still
    references the row being deleted, which the key then refuses to delete)."""
    level = (
        "REFERENCING OLD TABLE AS old FOR EACH STATEMENT" if timing == "AFTER" else "FOR EACH ROW"
    )
    rows = "SELECT id FROM old" if timing == "AFTER" else "VALUES (OLD.id)"
    database.execute(
        "CREATE TABLE assets (id uuid PRIMARY KEY);"
        'CREATE TABLE assets_audit ("assetId" uuid NOT NULL);'
        'ALTER TABLE assets_audit ADD FOREIGN KEY ("assetId") REFERENCES assets NOT VALID;'
        "CREATE FUNCTION assets_delete_audit() RETURNS trigger LANGUAGE plpgsql AS $$"
        f' BEGIN INSERT INTO assets_audit ("assetId") {rows}; RETURN OLD; END $$;'
        f"CREATE TRIGGER assets_delete_audit {timing} DELETE ON assets {level}"
        " EXECUTE FUNCTION assets_delete_audit();"
        "INSERT INTO assets VALUES (gen_random_uuid())"
    )
    with database.admin() as admin, pytest.raises(psycopg.errors.ForeignKeyViolation):
        admin.execute("DELETE FROM assets")


def test_a_sentinel_a_check_admits_is_refused_by_a_not_valid_key_and_null_is_not(
    database,
) -> None:
    """Sourcegraph's event_logs: CHECK ((user_id = 0) AND ...) for anonymous events. The
    key the fix would add, even NOT VALID, refuses every new anonymous event; NULL for
    "no user" passes it."""
    database.execute(
        "CREATE TABLE users (id int PRIMARY KEY); INSERT INTO users VALUES (1);"
        "CREATE TABLE event_logs (user_id int NOT NULL, anonymous_user_id text NOT NULL,"
        " CONSTRAINT event_logs_check_has_user CHECK (user_id = 0 AND anonymous_user_id <> ''"
        "  OR user_id <> 0));"
        "INSERT INTO event_logs VALUES (0, 'a1'), (1, '');"
        "ALTER TABLE event_logs ADD FOREIGN KEY (user_id) REFERENCES users NOT VALID"
    )
    with database.admin() as admin, pytest.raises(psycopg.errors.ForeignKeyViolation):
        admin.execute("INSERT INTO event_logs VALUES (0, 'a2')")
    with database.admin() as admin:
        admin.execute("ALTER TABLE event_logs ALTER COLUMN user_id DROP NOT NULL")
        admin.execute("INSERT INTO event_logs VALUES (NULL, 'a2')")


def test_validating_a_foreign_tables_check_reads_no_row(database) -> None:
    """unvalidated-constraint leaves foreign tables out: their wrapper here cannot read
    a row at all (it has no handler), and VALIDATE still passes: it checks nothing."""
    database.execute(
        "CREATE FOREIGN DATA WRAPPER no_handler;"
        "CREATE SERVER nowhere FOREIGN DATA WRAPPER no_handler;"
        "CREATE FOREIGN TABLE remote (score int) SERVER nowhere;"
        "ALTER FOREIGN TABLE remote ADD CONSTRAINT score_range CHECK (score <= 100) NOT VALID"
    )
    with database.admin() as admin:
        with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState):
            admin.execute("SELECT * FROM remote")  # reading a row is impossible
        admin.execute("ALTER TABLE remote VALIDATE CONSTRAINT score_range")
        validated = admin.execute(
            "SELECT convalidated FROM pg_constraint WHERE conname = 'score_range'"
        ).fetchone()
    assert validated == (True,)


def test_a_partitioned_table_takes_no_not_valid_foreign_key(database) -> None:
    """Before PostgreSQL 18; the fix adds and checks the key in one statement there."""
    database.execute(
        "CREATE TABLE teachers (id int PRIMARY KEY);"
        "CREATE TABLE visits (at date, teacher_id int) PARTITION BY RANGE (at)"
    )
    with database.admin() as admin:
        if admin.info.server_version >= 180000:
            pytest.skip("PostgreSQL 18 accepts it")
        with pytest.raises(psycopg.errors.WrongObjectType, match="NOT VALID"):
            admin.execute(
                "ALTER TABLE visits ADD FOREIGN KEY (teacher_id) REFERENCES teachers NOT VALID"
            )


def test_a_partitioned_table_adopts_its_partitions_validated_keys_without_a_scan(
    database,
) -> None:
    """The safe form migration-constraint-without-not-valid gives for a partitioned
    table: each partition's key NOT VALID, validated there, then the parent's key under
    the same name adopts them. A row that breaks the key (let in with the key's
    triggers off) shows the parent's ADD did not scan."""
    database.execute(
        "CREATE TABLE users (id int PRIMARY KEY); INSERT INTO users VALUES (1);"
        "CREATE TABLE builds (partition_id int, user_id int) PARTITION BY LIST (partition_id);"
        "CREATE TABLE builds_100 PARTITION OF builds FOR VALUES IN (100);"
        "INSERT INTO builds VALUES (100, 1);"
        "ALTER TABLE builds_100 ADD CONSTRAINT builds_user_fk FOREIGN KEY (user_id)"
        " REFERENCES users NOT VALID;"
        "ALTER TABLE builds_100 VALIDATE CONSTRAINT builds_user_fk;"
        "SET session_replication_role = replica; INSERT INTO builds VALUES (100, 999);"
    )
    with database.admin() as admin:
        admin.execute(
            "ALTER TABLE builds ADD CONSTRAINT builds_user_fk"
            " FOREIGN KEY (user_id) REFERENCES users"
        )
        adopted = admin.execute(
            "SELECT count(*) FROM pg_constraint WHERE conrelid = 'builds_100'::regclass"
            " AND contype = 'f' AND conparentid <> 0"
        ).fetchone()
    assert adopted == (1,)


# missing-primary-key


def test_prismas_upgrade_migration_fails_on_a_relation_table_given_a_key(database) -> None:
    """Prisma 6's upgrade migration for an implicit many-to-many table (prisma/prisma
    #29326 quotes it) fails where the table was given a key beforehand, under any name."""
    database.execute(
        'CREATE TABLE "_user_eventtype" ("A" int NOT NULL, "B" int NOT NULL);'
        'CREATE UNIQUE INDEX "_user_eventtype_AB_unique" ON "_user_eventtype" ("A", "B");'
        'ALTER TABLE "_user_eventtype" ADD CONSTRAINT "_user_eventtype_pkey"'
        ' PRIMARY KEY USING INDEX "_user_eventtype_AB_unique"'
    )
    with database.admin() as admin, pytest.raises(psycopg.errors.InvalidTableDefinition):
        admin.execute(
            'ALTER TABLE "_user_eventtype" ADD CONSTRAINT "_user_eventtype_AB_pkey"'
            ' PRIMARY KEY ("A", "B")'
        )
    with database.admin() as admin, pytest.raises(psycopg.errors.UndefinedObject):
        admin.execute('DROP INDEX "_user_eventtype_AB_unique"')


def test_a_replica_identity_on_a_unique_index_lets_updates_through(database) -> None:
    database.execute(
        "CREATE TABLE tags (name text NOT NULL); CREATE UNIQUE INDEX tags_name_key ON tags (name);"
        "INSERT INTO tags VALUES ('a'); CREATE PUBLICATION tags_pub FOR TABLE tags;"
    )
    with database.admin() as admin:
        with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState):
            admin.execute("UPDATE tags SET name = 'b'")
        admin.execute("ALTER TABLE tags REPLICA IDENTITY USING INDEX tags_name_key")
        admin.execute("UPDATE tags SET name = 'b'")
        admin.execute("DELETE FROM tags")


def test_an_insert_only_publication_does_not_need_a_replica_identity(database) -> None:
    database.execute(
        "CREATE TABLE notes (body text); INSERT INTO notes VALUES ('a');"
        "CREATE PUBLICATION notes_inserts FOR TABLE notes WITH (publish = 'insert')"
    )
    with database.admin() as admin:
        admin.execute("UPDATE notes SET body = 'b'")
        admin.execute("DELETE FROM notes")


# timestamp-without-time-zone


def filenodes(admin: psycopg.Connection, *relations: str) -> list[int]:
    return [
        admin.execute("SELECT pg_relation_filenode(%s::regclass)", [r]).fetchone()[0]  # type: ignore[index]
        for r in relations
    ]


def test_timestamptz_at_utc_keeps_the_table_and_rebuilds_its_indexes(database) -> None:
    database.execute(
        "CREATE TABLE t (at timestamp); CREATE INDEX t_at ON t (at);"
        "INSERT INTO t VALUES ('2024-01-01 12:00')"
    )
    with database.admin() as admin:
        table, index = filenodes(admin, "t", "t_at")
        admin.execute("SET TimeZone = 'UTC'")
        admin.execute("ALTER TABLE t ALTER COLUMN at TYPE timestamptz")
        assert filenodes(admin, "t", "t_at")[0] == table  # no rewrite
        assert filenodes(admin, "t", "t_at")[1] != index  # the index is rebuilt
        assert admin.execute("SELECT at = '2024-01-01 12:00+00' FROM t").fetchone() == (True,)
        admin.execute("SET TimeZone = 'Europe/Paris'")
        admin.execute("ALTER TABLE t ALTER COLUMN at TYPE timestamp")
        assert filenodes(admin, "t", "t_at")[0] != table  # in another zone it rewrites


def test_a_timestamp_written_into_timestamptz_is_read_in_the_writers_zone(database) -> None:
    """After the fix, a value the application sends as `timestamp` (Diesel's
    NaiveDateTime) is converted through its session's TimeZone: the fix's UTC setting
    covers the rows already there, not the writes that follow."""
    database.execute("CREATE TABLE t (at timestamptz)")
    with database.admin() as admin:
        written = "INSERT INTO t VALUES ('2024-01-01 12:00'::timestamp)"
        assert read_as_utc(admin, written, "SELECT at::text FROM t ORDER BY 1") == [
            ("2024-01-01 12:00:00+00",),
            ("2024-01-01 17:00:00+00",),
        ]


def read_as_utc(admin: psycopg.Connection, written: str, read: str) -> list[tuple]:
    """`written` run once under UTC and once under America/New_York, then `read` under
    UTC: what the same statement stores, by the writer's zone."""
    for zone in ("UTC", "America/New_York"):
        admin.execute(f"SET TimeZone = '{zone}'")
        admin.execute(written)
    admin.execute("SET TimeZone = 'UTC'")
    return admin.execute(read).fetchall()


def test_a_generated_timestamp_turned_timestamptz_reads_its_value_in_the_writers_zone(
    database,
) -> None:
    """Temporal's visibility columns: the IMMUTABLE expression fixes each value's zone
    (UTC); once the column is timestamptz, the timestamp it computes is converted through
    the inserting session's TimeZone, so the same input stores another instant."""
    database.execute(
        "CREATE FUNCTION convert_ts(s text) RETURNS timestamp LANGUAGE sql IMMUTABLE"
        " AS $$ SELECT s::timestamptz AT TIME ZONE 'UTC' $$;"
        "CREATE TABLE executions (attrs jsonb,"
        " close_time timestamp GENERATED ALWAYS AS (convert_ts(attrs ->> 'at')) STORED)"
    )
    written = """INSERT INTO executions VALUES ('{"at": "2024-01-01T12:00:00Z"}')"""
    read = "SELECT DISTINCT close_time::text FROM executions ORDER BY 1"
    with database.admin() as admin:
        # one reading, whoever wrote it
        assert read_as_utc(admin, written, read) == [("2024-01-01 12:00:00",)]
        admin.execute("TRUNCATE executions")
        admin.execute("ALTER TABLE executions ALTER COLUMN close_time TYPE timestamptz")
        assert read_as_utc(admin, written, read) == [
            ("2024-01-01 12:00:00+00",),
            ("2024-01-01 17:00:00+00",),
        ]


def test_timestamptz_without_the_precision_keeps_the_table_and_stores_microseconds(
    database,
) -> None:
    """Prisma's `timestamp(3)`: TYPE timestamptz at UTC does not rewrite, and drops the
    precision, so values are no longer rounded to milliseconds; TYPE timestamptz(3)
    keeps the precision and rewrites the table."""
    database.execute("CREATE TABLE t (at timestamp(3), kept timestamp(3))")
    value = "2024-01-01 12:00:00.123456"
    with database.admin() as admin:
        [table] = filenodes(admin, "t")
        admin.execute("SET TimeZone = 'UTC'")
        admin.execute("INSERT INTO t VALUES (%s, %s)", [value, value])
        assert admin.execute("SELECT at::text FROM t").fetchone() == ("2024-01-01 12:00:00.123",)
        admin.execute("ALTER TABLE t ALTER COLUMN at TYPE timestamptz")
        assert filenodes(admin, "t") == [table]  # no rewrite
        admin.execute("INSERT INTO t VALUES (%s, %s)", [value, value])
        stored = admin.execute("SELECT at::text FROM t ORDER BY at").fetchall()
        assert stored == [("2024-01-01 12:00:00.123+00",), ("2024-01-01 12:00:00.123456+00",)]
        admin.execute("ALTER TABLE t ALTER COLUMN kept TYPE timestamptz(3)")
        assert filenodes(admin, "t") != [table]  # keeping the precision rewrites


@pytest.mark.parametrize(
    "index",
    [
        "(COALESCE(at, '9999-12-31 23:59:59'))",  # Temporal's visibility close_time
        "((at::date))",
        "(id) WHERE at > '2020-01-01'",
    ],
)
def test_timestamptz_is_refused_while_an_index_computes_on_the_column(database, index) -> None:
    database.execute(f"CREATE TABLE t (id int, at timestamp); CREATE INDEX t_at ON t {index}")
    with database.admin() as admin:
        admin.execute("SET TimeZone = 'UTC'")
        with pytest.raises(psycopg.errors.InvalidObjectDefinition, match="IMMUTABLE"):
            admin.execute("ALTER TABLE t ALTER COLUMN at TYPE timestamptz")


def test_timestamptz_is_refused_on_a_column_of_a_partition_key(database) -> None:
    """At any level: the type of a sub-partitioned partition's key column cannot change
    from its root either."""
    database.execute(
        "CREATE TABLE ev (at timestamp NOT NULL) PARTITION BY RANGE (at);"
        "CREATE TABLE reg (region text NOT NULL, due timestamp NOT NULL)"
        " PARTITION BY LIST (region);"
        "CREATE TABLE reg_eu PARTITION OF reg FOR VALUES IN ('eu') PARTITION BY RANGE (due)"
    )
    with database.admin() as admin:
        for table, column in (("ev", "at"), ("reg", "due")):
            with pytest.raises(psycopg.errors.InvalidTableDefinition, match="partition key"):
                admin.execute(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE timestamptz")


# json-instead-of-jsonb


def test_json_has_no_equality_and_jsonb_has(database) -> None:
    database.execute("CREATE TABLE t (doc json, docb jsonb)")
    with database.admin() as admin:
        admin.execute("SELECT DISTINCT docb FROM t")
        with pytest.raises(psycopg.errors.UndefinedFunction):
            admin.execute("SELECT DISTINCT doc FROM t")


def test_a_function_calling_json_typeof_on_the_column_fails_once_it_is_jsonb(database) -> None:
    database.execute(
        "CREATE TABLE jobs (payload json); INSERT INTO jobs VALUES ('[]');"
        " CREATE FUNCTION kinds() RETURNS SETOF text LANGUAGE plpgsql AS"
        " $$ BEGIN RETURN QUERY SELECT json_typeof(jobs.payload) FROM jobs; END $$;"
    )
    with database.admin() as admin:
        assert admin.execute("SELECT kinds()").fetchall() == [("array",)]
        admin.execute("ALTER TABLE jobs ALTER COLUMN payload TYPE jsonb USING payload::jsonb")
        with pytest.raises(psycopg.errors.UndefinedFunction, match=r"json_typeof\(jsonb\)"):
            admin.execute("SELECT kinds()")


# serial-instead-of-identity


def test_serial_needs_usage_on_its_sequence_and_identity_does_not(database) -> None:
    database.execute(
        "CREATE TABLE s (id serial, v text); CREATE TABLE i (id int GENERATED BY DEFAULT AS"
        " IDENTITY, v text); DROP ROLE IF EXISTS pgv_writer; CREATE ROLE pgv_writer;"
        "GRANT INSERT ON s, i TO pgv_writer"
    )
    try:
        with database.admin() as admin:
            admin.execute("SET ROLE pgv_writer")
            admin.execute("INSERT INTO i (v) VALUES ('x')")
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="sequence"):
                admin.execute("INSERT INTO s (v) VALUES ('x')")
    finally:
        database.execute("DROP OWNED BY pgv_writer; DROP ROLE pgv_writer")


def test_an_explicit_id_does_not_move_the_serial_sequence(database) -> None:
    database.execute("CREATE TABLE s (id serial PRIMARY KEY); INSERT INTO s VALUES (1)")
    with database.admin() as admin, pytest.raises(psycopg.errors.UniqueViolation):
        admin.execute("INSERT INTO s DEFAULT VALUES")


def test_serial_to_identity_fix_and_rollback_keep_the_numbering(database) -> None:
    database.execute(
        'CREATE TABLE "Weird""Name" (id serial PRIMARY KEY, v text);'
        """INSERT INTO "Weird""Name" (v) VALUES ('a'), ('b')"""
    )
    session = connect(database.dsn)
    try:
        snap = collect(session, profile=None)
    finally:
        session.close()
    (found,) = [f for f in analyse(snap).findings if f.rule == "serial-instead-of-identity"]
    assert found.fix is not None and found.fix.rollback is not None
    with database.admin() as admin:
        for statement in found.fix.statements:
            admin.execute(statement)
        admin.execute("""INSERT INTO "Weird""Name" (v) VALUES ('c')""")
        assert admin.execute("""SELECT max(id) FROM "Weird""Name" """).fetchone() == (3,)
        for statement in found.fix.rollback:
            admin.execute(statement)
        admin.execute("""INSERT INTO "Weird""Name" (v) VALUES ('d')""")
        assert admin.execute("""SELECT max(id) FROM "Weird""Name" """).fetchone() == (4,)
        default = admin.execute(
            """SELECT pg_get_serial_sequence('"Weird""Name"', 'id'),"""
            """ column_default FROM information_schema.columns WHERE table_name = 'Weird"Name'"""
            " AND column_name = 'id'"
        ).fetchone()
        assert default == (
            'public."Weird""Name_id_seq"',
            """nextval('"Weird""Name_id_seq"'::regclass)""",
        )


# nullable-unique


def test_a_unique_key_with_a_null_part_accepts_repeats_and_upserts_duplicate(database) -> None:
    database.execute(
        "CREATE TABLE members (tenant_id int, email text NOT NULL, UNIQUE (tenant_id, email))"
    )
    with database.admin() as admin:
        for _ in range(3):
            admin.execute(
                "INSERT INTO members VALUES (NULL, 'a') ON CONFLICT (tenant_id, email) DO NOTHING"
            )
        assert admin.execute("SELECT count(*) FROM members").fetchone() == (3,)
        if admin.info.server_version >= 150000:
            admin.execute(
                "CREATE TABLE strict (tenant_id int, email text,"
                " UNIQUE NULLS NOT DISTINCT (tenant_id, email))"
            )
            admin.execute("INSERT INTO strict VALUES (NULL, 'a')")
            with pytest.raises(psycopg.errors.UniqueViolation):
                admin.execute("INSERT INTO strict VALUES (NULL, 'a')")


def test_an_all_null_key_repeats_by_design_and_nulls_not_distinct_allows_one(database) -> None:
    """NetBox's dcim_device UNIQUE (virtual_chassis_id, vc_position): every device outside
    a virtual chassis has both NULL. Those rows have no key; NULLS NOT DISTINCT would let
    only one such device in, so their repeats are not counted as duplicates."""
    database.execute(
        "CREATE TABLE devices (chassis_id int, vc_position int, UNIQUE (chassis_id, vc_position))"
    )
    with database.admin() as admin:
        admin.execute("INSERT INTO devices VALUES (NULL, NULL), (NULL, NULL)")
        if admin.info.server_version < 150000:
            return  # NULLS NOT DISTINCT arrived in 15
        admin.execute(
            "CREATE TABLE strict (chassis_id int, vc_position int,"
            " UNIQUE NULLS NOT DISTINCT (chassis_id, vc_position))"
        )
        admin.execute("INSERT INTO strict VALUES (NULL, NULL)")
        with pytest.raises(psycopg.errors.UniqueViolation):
            admin.execute("INSERT INTO strict VALUES (NULL, NULL)")


def test_set_null_repeats_the_null_key_and_nulls_not_distinct_breaks_the_delete(database) -> None:
    """listmonk's campaign_lists: list_id ON DELETE SET NULL keeps a row, with the list's
    name, for each deleted list of a campaign (hence info)."""
    database.execute(
        "CREATE TABLE lists (id int PRIMARY KEY);"
        "CREATE TABLE campaign_lists (campaign_id int NOT NULL,"
        " list_id int REFERENCES lists ON DELETE SET NULL, list_name text NOT NULL);"
        "CREATE UNIQUE INDEX loose ON campaign_lists (campaign_id, list_id);"
        "INSERT INTO lists VALUES (1), (2);"
        "INSERT INTO campaign_lists VALUES (7, 1, 'one'), (7, 2, 'two')"
    )
    with database.admin() as admin:
        admin.execute("DELETE FROM lists")
        assert admin.execute(
            "SELECT count(*) FROM campaign_lists WHERE campaign_id = 7 AND list_id IS NULL"
        ).fetchone() == (2,)  # the repeats the loose key lets in are the deleted lists' rows
        if admin.info.server_version < 150000:
            return  # NULLS NOT DISTINCT arrived in 15
        admin.execute(
            "TRUNCATE campaign_lists; INSERT INTO lists VALUES (1), (2);"
            "INSERT INTO campaign_lists VALUES (7, 1, 'one'), (7, 2, 'two');"
            "DROP INDEX loose;"
            "CREATE UNIQUE INDEX strict ON campaign_lists (campaign_id, list_id) NULLS NOT DISTINCT"
        )
        admin.execute("DELETE FROM lists WHERE id = 1")
        with pytest.raises(psycopg.errors.UniqueViolation, match="strict"):
            admin.execute("DELETE FROM lists WHERE id = 2")


def test_versions_repeat_the_key_among_live_rows_and_nulls_not_distinct_rejects_them(
    database,
) -> None:
    """openmeter's plans: UNIQUE (namespace, key, deleted_at) beside UNIQUE (namespace,
    key, version) WHERE deleted_at IS NULL. Two live versions of a plan share (namespace,
    key, NULL), which the loose index lets in and NULLS NOT DISTINCT refuses (hence info);
    the loose index holds back only deleted rows."""
    database.execute(
        "CREATE TABLE plans (id text PRIMARY KEY, namespace text NOT NULL, key text NOT NULL,"
        " version int NOT NULL, deleted_at timestamptz);"
        "CREATE UNIQUE INDEX loose ON plans (namespace, key, deleted_at);"
        "CREATE UNIQUE INDEX live ON plans (namespace, key, version) WHERE deleted_at IS NULL;"
        "INSERT INTO plans VALUES ('a', 'acme', 'pro', 1, NULL), ('b', 'acme', 'pro', 2, NULL)"
    )
    with database.admin() as admin:
        if admin.info.server_version < 150000:
            return  # NULLS NOT DISTINCT arrived in 15
        with pytest.raises(psycopg.errors.UniqueViolation, match="strict"):
            admin.execute(
                "CREATE UNIQUE INDEX strict ON plans (namespace, key, deleted_at)"
                " NULLS NOT DISTINCT"
            )


def test_an_optional_key_per_tenant_under_nulls_not_distinct_allows_one_keyless_row(
    database,
) -> None:
    """openmeter's customers: UNIQUE (namespace, key) WHERE deleted_at IS NULL, key an
    optional external key. The NULL repeats are the keyless customers of a namespace
    (hence low); with NULLS NOT DISTINCT a namespace could have one customer without a key."""
    database.execute(
        "CREATE TABLE customers (id text PRIMARY KEY, namespace text NOT NULL, key text,"
        " deleted_at timestamptz);"
        "INSERT INTO customers VALUES ('a', 'acme', NULL, NULL)"
    )
    with database.admin() as admin:
        if admin.info.server_version < 150000:
            return  # NULLS NOT DISTINCT arrived in 15
        admin.execute(
            "CREATE UNIQUE INDEX strict ON customers (namespace, key) NULLS NOT DISTINCT"
            " WHERE deleted_at IS NULL"
        )
        with pytest.raises(psycopg.errors.UniqueViolation, match="strict"):
            admin.execute("INSERT INTO customers VALUES ('b', 'acme', NULL, NULL)")


def test_a_materialized_views_columns_are_never_not_null_and_cannot_be_made_so(database) -> None:
    database.execute(
        "CREATE TABLE countries (code text PRIMARY KEY, name text NOT NULL);"
        "CREATE MATERIALIZED VIEW country_names AS SELECT code, name FROM countries;"
        "CREATE UNIQUE INDEX ON country_names (code, name)"
    )
    with database.admin() as admin:
        not_null = admin.execute(
            "SELECT attname, attnotnull FROM pg_attribute"
            " WHERE attrelid = 'country_names'::regclass AND attnum > 0 ORDER BY attnum"
        ).fetchall()
        assert not_null == [("code", False), ("name", False)]  # both NOT NULL in countries
        with pytest.raises(psycopg.errors.WrongObjectType, match="not supported"):
            admin.execute("ALTER MATERIALIZED VIEW country_names ALTER code SET NOT NULL")
        with pytest.raises(psycopg.errors.WrongObjectType, match="cannot change"):
            admin.execute("INSERT INTO country_names VALUES ('x', 'y')")  # only REFRESH writes


# empty-string-in-not-null


def test_not_null_accepts_empty_and_blank_strings(database) -> None:
    database.execute("CREATE TABLE t (name text NOT NULL); INSERT INTO t VALUES (''), ('   ')")
    with database.admin() as admin:
        assert admin.execute("SELECT count(name) FROM t").fetchone() == (2,)
        admin.execute("ALTER TABLE t ADD CONSTRAINT not_blank CHECK (btrim(name) <> '') NOT VALID")
        with pytest.raises(psycopg.errors.CheckViolation):
            admin.execute("INSERT INTO t VALUES ('')")  # new rows are checked at once


def test_a_not_valid_check_fails_every_update_of_a_row_it_rejects(database) -> None:
    """Why the fix refuses while '' rows remain: NOT VALID skips the old rows only until
    they are written again, and an UPDATE of another column writes the row again."""
    database.execute(
        "CREATE TABLE t (id int PRIMARY KEY, name text NOT NULL, seen int);"
        "INSERT INTO t VALUES (1, '', 0), (2, 'x', 0)"
    )
    with database.admin() as admin:
        admin.execute("ALTER TABLE t ADD CONSTRAINT not_blank CHECK (btrim(name) <> '') NOT VALID")
        admin.execute("UPDATE t SET seen = 1 WHERE id = 2")  # a row that passes
        with pytest.raises(psycopg.errors.CheckViolation):
            admin.execute("UPDATE t SET seen = 1 WHERE id = 1")  # name untouched, still fails


def test_with_a_default_of_empty_a_check_against_empty_rejects_inserts_that_omit_it(
    database,
) -> None:
    """Why a '' default column gets `CHECK (c = '' OR btrim(c) <> '')`, not `btrim(c) <> ''`."""
    database.execute("CREATE TABLE t (id int, phrase text NOT NULL DEFAULT '')")
    with database.admin() as admin:
        admin.execute("ALTER TABLE t ADD CONSTRAINT strict CHECK (btrim(phrase) <> '') NOT VALID")
        with pytest.raises(psycopg.errors.CheckViolation):
            admin.execute("INSERT INTO t (id) VALUES (1)")  # the default itself is rejected
        admin.execute("ALTER TABLE t DROP CONSTRAINT strict")
        admin.execute(
            "ALTER TABLE t ADD CONSTRAINT kept CHECK (phrase = '' OR btrim(phrase) <> '') NOT VALID"
        )
        admin.execute("INSERT INTO t (id) VALUES (2)")
        admin.execute("INSERT INTO t VALUES (3, ' & ')")
        with pytest.raises(psycopg.errors.CheckViolation):
            admin.execute("INSERT INTO t VALUES (4, '   ')")  # blanks are rejected


def test_a_part_of_a_primary_key_spells_none_as_empty_because_it_cannot_be_null(
    database,
) -> None:
    """Why '' in a column of a composite primary key is low: NULL is refused there even
    without NOT NULL in the DDL, '' is the only "no value", and a CHECK against it refuses
    the rows the application writes (OpenFGA's authorization_model, type = '')."""
    database.execute(
        "CREATE TABLE models (store text, model_id text, type text, PRIMARY KEY (store, model_id,"
        " type)); INSERT INTO models VALUES ('s', 'm1', '')"
    )
    with database.admin() as admin:
        with pytest.raises(psycopg.errors.NotNullViolation):
            admin.execute("INSERT INTO models VALUES ('s', 'm2', NULL)")
        admin.execute("INSERT INTO models VALUES ('s', 'm2', '')")
        admin.execute(
            "ALTER TABLE models ADD CONSTRAINT strict CHECK (btrim(type) <> '') NOT VALID"
        )
        with pytest.raises(psycopg.errors.CheckViolation):
            admin.execute("INSERT INTO models VALUES ('s', 'm3', '')")


def test_a_null_part_of_a_unique_key_makes_the_upsert_insert_again(database) -> None:
    """Why '' in a column of a unique key of several columns is low: with NULL in its
    place the key never conflicts, so the upsert that relies on it inserts a new row each
    time instead of updating the one (Dendrite's syncapi_account_data_type, room_id = ''
    for an account's own data)."""
    database.execute(
        "CREATE TABLE account_data (id bigserial PRIMARY KEY, user_id text NOT NULL, room_id"
        " text, type text NOT NULL, CONSTRAINT account_data_unique UNIQUE (user_id, room_id,"
        " type))"
    )
    upsert = (
        "INSERT INTO account_data (user_id, room_id, type) VALUES ('@u', %s, 'm.push_rules')"
        " ON CONFLICT ON CONSTRAINT account_data_unique DO UPDATE SET type = EXCLUDED.type"
    )
    with database.admin() as admin:
        for room in ("", "", None, None):
            admin.execute(upsert, (room,))
        rows = admin.execute(
            "SELECT count(*) FILTER (WHERE room_id = ''), count(*) FILTER (WHERE room_id IS NULL)"
            " FROM account_data"
        ).fetchone()
    assert rows == (1, 2)  # '' upserted once; each NULL slipped past the key


def test_an_identity_sequence_is_its_columns_own_so_a_shared_one_cannot_become_one(
    database,
) -> None:
    """Why serial-instead-of-identity offers nothing for a shared sequence (Dendrite's
    syncapi_stream_id): once one column makes the sequence's series its identity, a
    second cannot take it as its identity too; it can only keep calling nextval()."""
    database.execute(
        "CREATE TABLE a (id bigint NOT NULL); CREATE TABLE b (id bigint NOT NULL);"
        " ALTER TABLE a ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY"
        " (SEQUENCE NAME stream_id)"
    )
    with database.admin() as admin, pytest.raises(psycopg.errors.DuplicateTable):
        admin.execute(
            "ALTER TABLE b ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY"
            " (SEQUENCE NAME stream_id)"
        )


# partition-coverage


def test_a_row_beyond_the_last_partition_is_rejected_and_a_default_takes_it(database) -> None:
    database.execute(
        "CREATE TABLE m (at timestamptz NOT NULL) PARTITION BY RANGE (at);"
        "CREATE TABLE m_2024 PARTITION OF m FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')"
    )
    with database.admin() as admin:
        with pytest.raises(psycopg.errors.CheckViolation, match="no partition"):
            admin.execute("INSERT INTO m VALUES (now())")
        admin.execute("CREATE TABLE m_default PARTITION OF m DEFAULT")
        admin.execute("INSERT INTO m VALUES (now())")


def test_a_list_or_hash_table_without_partitions_rejects_every_row_until_the_fix(
    database,
) -> None:
    """With no partition, list and hash reject every INSERT as range does. A DEFAULT
    partition takes a list table's rows; a hash table refuses one, and the partitions of
    one modulus, every remainder (the fix), take every row."""
    database.execute(
        "CREATE TABLE kinds (kind text NOT NULL) PARTITION BY LIST (kind);"
        "CREATE TABLE buckets (id bigint NOT NULL) PARTITION BY HASH (id)"
    )
    session = connect(database.dsn)
    try:
        snap = collect(session)
    finally:
        session.close()
    found = {f.object: f.fix for f in analyse(snap).findings if f.rule == "partition-coverage"}
    with database.admin() as admin:
        for table, row in (("kinds", "'a'"), ("buckets", "1")):
            with pytest.raises(psycopg.errors.CheckViolation, match="no partition of relation"):
                admin.execute(f"INSERT INTO {table} VALUES ({row})")
        with pytest.raises(
            psycopg.errors.InvalidTableDefinition,
            match="a hash-partitioned table may not have a default partition",
        ):
            admin.execute("CREATE TABLE buckets_default PARTITION OF buckets DEFAULT")
        for table in ("kinds", "buckets"):
            fix = found[f"public.{table}"]
            assert fix is not None
            for statement in fix.statements:
                admin.execute(statement)
        admin.execute("INSERT INTO kinds SELECT 'k' || g FROM generate_series(1, 50) g")
        admin.execute("INSERT INTO buckets SELECT generate_series(1, 50)")
        placed = admin.execute("SELECT count(DISTINCT tableoid) FROM buckets").fetchone()
        assert placed == (4,)  # the default modulus: every partition takes rows


DAILY_WITH_DEFAULT = """
CREATE TABLE ev (id bigint GENERATED ALWAYS AS IDENTITY, at timestamptz NOT NULL,
  body text DEFAULT 'x', size int GENERATED ALWAYS AS (length(body)) STORED,
  PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
DO $$ BEGIN
  EXECUTE format('CREATE TABLE %I PARTITION OF ev FOR VALUES FROM (%L) TO (%L)',
    'ev_' || to_char(now() AT TIME ZONE 'UTC', 'YYYYMMDD'),
    date_trunc('day', now(), 'UTC'), date_trunc('day', now(), 'UTC') + interval '1 day');
END $$;
CREATE TABLE ev_default PARTITION OF ev DEFAULT;
INSERT INTO ev (at) VALUES (date_trunc('day', now(), 'UTC') + interval '1 day 3 hours'), (now());
"""
TOMORROW = (
    "FOR VALUES FROM (date_trunc('day', now(), 'UTC') + interval '1 day')"
    " TO (date_trunc('day', now(), 'UTC') + interval '2 days')"
)


def test_a_default_holding_a_row_of_tomorrow_blocks_tomorrows_partition(database) -> None:
    database.execute(DAILY_WITH_DEFAULT)
    with database.admin() as admin:
        with pytest.raises(
            psycopg.errors.CheckViolation,
            match='updated partition constraint for default partition "ev_default" would be'
            " violated by some row",
        ):
            admin.execute(f"CREATE TABLE ev_tomorrow PARTITION OF ev {TOMORROW}")
        # a later day's partition is created, scanning the DEFAULT partition under an
        # ACCESS EXCLUSIVE lock on it, held to the end of the transaction
        with admin.transaction():
            admin.execute(
                "CREATE TABLE ev_later PARTITION OF ev"
                " FOR VALUES FROM (date_trunc('day', now(), 'UTC') + interval '5 days')"
                " TO (date_trunc('day', now(), 'UTC') + interval '6 days')"
            )
            held = admin.execute(
                "SELECT mode FROM pg_locks WHERE relation = 'ev_default'::regclass"
                " AND pid = pg_backend_pid() AND granted"
            ).fetchall()
            assert ("AccessExclusiveLock",) in held
        # and so does attaching a table (what the finding's steps end with)
        with admin.transaction():
            admin.execute(
                "CREATE TABLE ev_attached (LIKE ev INCLUDING ALL EXCLUDING IDENTITY);"
                "ALTER TABLE ev ATTACH PARTITION ev_attached"
                " FOR VALUES FROM (date_trunc('day', now(), 'UTC') + interval '7 days')"
                " TO (date_trunc('day', now(), 'UTC') + interval '8 days')"
            )
            held = admin.execute(
                "SELECT mode FROM pg_locks WHERE relation = 'ev_default'::regclass"
                " AND pid = pg_backend_pid() AND granted"
            ).fetchall()
            assert ("AccessExclusiveLock",) in held


def test_the_findings_steps_move_tomorrows_rows_into_their_partition(database) -> None:
    database.execute(DAILY_WITH_DEFAULT)
    session = connect(database.dsn)
    try:
        snap = collect(session, probes=["row_counts", "default_partition_ranges"])
    finally:
        session.close()
    (found,) = [f for f in analyse(snap).findings if f.rule == "partition-coverage"]
    assert found.fix is None and "no_automatic_fix" in found.evidence
    with database.admin() as admin:
        for statement in found.evidence["steps"]:
            admin.execute(statement)
        placed = admin.execute(
            "SELECT tableoid::regclass::text, 'ev_' || to_char(at AT TIME ZONE 'UTC', 'YYYYMMDD'),"
            " id, size FROM ev ORDER BY at"
        ).fetchall()
        # each row in the partition of its day, named as the others are (ev_<YYYYMMDD>): a
        # job that looks its partitions up by name finds it
        assert [row[0] for row in placed] == [row[1] for row in placed]
        assert sorted(row[2] for row in placed) == [1, 2] and {row[3] for row in placed} == {1}
        # the job's next partition is created again
        admin.execute(
            "CREATE TABLE ev_after PARTITION OF ev"
            " FOR VALUES FROM (date_trunc('day', now(), 'UTC') + interval '2 days')"
            " TO (date_trunc('day', now(), 'UTC') + interval '3 days')"
        )
        assert admin.execute("SELECT count(*) FROM ONLY ev_default").fetchone() == (0,)


# migration-backfill-in-transaction, migration-lock-held-during-long-statement


def test_a_backfills_rows_stay_locked_and_its_dead_rows_unremovable_until_it_commits(
    database,
) -> None:
    """A writer of a backfilled row waits until the backfill's transaction commits; the
    table holds a second copy of every row changed; and while it runs VACUUM cannot
    remove the rows another table deleted after it began."""
    database.execute(
        "CREATE TABLE comment (id int PRIMARY KEY, body text);"
        "INSERT INTO comment SELECT g, 'x' FROM generate_series(1, 2000) g;"
        "CREATE TABLE audit (id int)"
    )
    database.execute("VACUUM comment")
    with database.admin() as writer, psycopg.connect(database.dsn) as migration:
        before = writer.execute("SELECT pg_relation_size('comment')").fetchone()[0]
        migration.execute("UPDATE comment SET body = 'y'")
        writer.execute("SET lock_timeout = '200ms'")
        with pytest.raises(psycopg.errors.LockNotAvailable):
            writer.execute("UPDATE comment SET body = 'z' WHERE id = 5")
        assert writer.execute("SELECT pg_relation_size('comment')").fetchone()[0] >= 1.9 * before
        writer.execute("INSERT INTO audit SELECT generate_series(1, 100)")
        writer.execute("DELETE FROM audit")
        notices: list[str] = []
        writer.add_notice_handler(lambda diag: notices.append(diag.message_primary or ""))
        writer.execute("VACUUM (VERBOSE) audit")
        assert any("100 are dead but not yet removable" in notice for notice in notices)
        migration.commit()
        writer.execute("UPDATE comment SET body = 'z' WHERE id = 5")


def test_a_new_references_lock_is_held_through_a_later_backfill(database) -> None:
    """ADD COLUMN ... REFERENCES takes SHARE ROW EXCLUSIVE on the referenced table and
    ACCESS EXCLUSIVE on its own, and both stay held while the same transaction backfills:
    no write to the referenced table, no read of the altered one, until it commits."""
    database.execute(
        "CREATE TABLE community (id int PRIMARY KEY);"
        "INSERT INTO community SELECT generate_series(1, 10);"
        "CREATE TABLE comment (id int PRIMARY KEY, body text);"
        "INSERT INTO comment SELECT g, 'x' FROM generate_series(1, 1000) g"
    )
    with database.admin() as other, psycopg.connect(database.dsn) as migration:
        migration.execute("ALTER TABLE comment ADD COLUMN community_id int REFERENCES community")
        migration.execute("UPDATE comment SET community_id = id % 10 + 1")
        held = dict(migration.execute(
            "SELECT relation::regclass::text, mode FROM pg_locks"
            " WHERE pid = pg_backend_pid()"
            "   AND relation IN ('community'::regclass, 'comment'::regclass)"
            "   AND mode IN ('ShareRowExclusiveLock', 'AccessExclusiveLock')"
        ).fetchall())  # fmt: skip
        assert held == {"community": "ShareRowExclusiveLock", "comment": "AccessExclusiveLock"}
        other.execute("SET lock_timeout = '200ms'")
        with pytest.raises(psycopg.errors.LockNotAvailable):
            other.execute("INSERT INTO community VALUES (11)")
        with pytest.raises(psycopg.errors.LockNotAvailable):
            other.execute("SELECT count(*) FROM comment")
        migration.commit()
        other.execute("INSERT INTO community VALUES (11)")
        assert other.execute("SELECT count(*) FROM comment").fetchone() == (1000,)


# timestamp-as-integer


def test_int4_epoch_seconds_refuse_every_time_after_january_2038(database) -> None:
    """Zabbix's `clock integer`: the last second it holds is 2038-01-19 03:14:07 UTC."""
    database.execute("CREATE TABLE history (itemid bigint, clock integer NOT NULL)")
    with database.admin() as admin:
        admin.execute(
            "INSERT INTO history VALUES"
            " (1, extract(epoch FROM timestamptz '2038-01-19 03:14:07+00'))"
        )
        assert admin.execute("SELECT max(clock) FROM history").fetchone() == (2**31 - 1,)
        with pytest.raises(psycopg.errors.NumericValueOutOfRange, match="integer out of range"):
            admin.execute(
                "INSERT INTO history VALUES"
                " (2, extract(epoch FROM timestamptz '2038-01-19 03:14:08+00'))"
            )
