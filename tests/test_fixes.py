"""fix.sql and rollback.sql, applied to a real database: every statement runs, and the
rollback restores the schema exactly (`pg_dump --schema-only` compared).

The helpers here (apply a script as psql would, dump a schema) serve the corpus
test and the property-based test too."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass

import psycopg
import pytest
from psycopg import sql

from pgvitals.connect import Limits, connect
from pgvitals.embedded import has_extension
from pgvitals.engine import analyse
from pgvitals.findings import Finding
from pgvitals.report import Scripts, build_report, fix_scripts, migration_note
from pgvitals.snapshot.collect import collect
from pgvitals.snapshot.facts import Names, object_name
from pgvitals.snapshot.model import Snapshot
from tests.helpers import not_run

# --- applying scripts -------------------------------------------------------------


def statements_of(script: str) -> list[str]:
    """The statements of a script, split where psql would send them: at each `;`
    outside quotes and `--` comments. The scripts pgvitals writes use no other
    lexical forms (no dollar quoting, block comments or backslash commands)."""
    statements: list[str] = []
    current: list[str] = []
    position, quote = 0, ""
    while position < len(script):
        char = script[position]
        if quote:
            current.append(char)
            if char == quote:
                # a doubled quote stays inside the literal or identifier
                if script.startswith(quote, position + 1):
                    current.append(quote)
                    position += 1
                else:
                    quote = ""
        elif script.startswith("--", position):
            end = script.find("\n", position)
            position = len(script) if end < 0 else end
            continue
        elif char == ";":
            statements.append("".join(current).strip() + ";")
            current = []
        else:
            if char in "'\"":
                quote = char
            current.append(char)
        position += 1
    assert not "".join(current).strip(), f"unterminated statement: {''.join(current)!r}"
    return statements


@dataclass
class Applied:
    statements: list[str]
    failures: list[tuple[str, str]]  # (statement, first line of the error)

    @property
    def ran(self) -> int:
        return len(self.statements) - len(self.failures)


def apply_script(dsn: str, script: str) -> Applied:
    """Run each statement on its own in autocommit mode, as `psql -f` does, and go
    on after a failure, as psql does without ON_ERROR_STOP."""
    statements = statements_of(script)
    failures = []
    with psycopg.connect(dsn, autocommit=True) as connection:
        for statement in statements:
            try:
                connection.execute(statement)
            except psycopg.Error as error:
                failures.append((statement, str(error).splitlines()[0]))
    return Applied(statements, failures)


def schema_dump(server, database: str) -> str:
    """`pg_dump --schema-only` by the test server's own pg_dump, normalised only where
    two dumps of one unchanged schema differ: the version lines of the header and
    the random key of `\\restrict` / `\\unrestrict` (pg_dump 15.14+ and 16.10+)."""
    done = subprocess.run(
        [str(server.bin_dir / "pg_dump"), "--schema-only", "--dbname", server.dsn(database)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    kept = [
        re.sub(r"^\\(un)?restrict \S+$", r"\\\1restrict KEY", line)
        for line in done.stdout.splitlines()
        if not line.startswith(("-- Dumped from database version", "-- Dumped by pg_dump version"))
    ]
    return "\n".join(kept)


def take_snapshot(dsn: str, lock_timeout_ms: int | None = None) -> Snapshot:
    limits = Limits(lock_timeout_ms=lock_timeout_ms) if lock_timeout_ms else Limits()
    session = connect(dsn, limits)
    try:
        return collect(session)  # rows too: the rules that need them offer fixes as well
    finally:
        session.close()


def checked(dsn: str) -> tuple[list[Finding], Scripts]:
    """The live check's findings and scripts; every check must have run (a rule that
    raised would hide its fixes)."""
    snapshot = take_snapshot(dsn)
    analysis = analyse(snapshot)
    assert [(c.rule, c.reason) for c in not_run(analysis.checks)] == []
    return analysis.findings, fix_scripts(analysis.findings, snapshot.server)


@dataclass
class RoundTrip:
    findings: list[Finding]
    scripts: Scripts
    fix: Applied
    rollback: Applied
    before: str
    after: str


def round_trip(server, database: str) -> RoundTrip:
    """Check, then apply fix.sql and rollback.sql, dumping the schema before and after."""
    dsn = server.dsn(database)
    findings, scripts = checked(dsn)
    before = schema_dump(server, database)
    fix = apply_script(dsn, scripts.fix)
    rollback = apply_script(dsn, scripts.rollback)
    return RoundTrip(findings, scripts, fix, rollback, before, schema_dump(server, database))


def assert_restores(trip: RoundTrip) -> None:
    assert trip.fix.failures == []
    assert trip.rollback.failures == []
    assert trip.after == trip.before


def fixes_of(trip: RoundTrip, rule: str) -> dict[str, Finding]:
    return {f.object: f for f in trip.findings if f.rule == rule}


def test_scripts_run_under_another_search_path_than_the_snapshots(database) -> None:
    """The server prints a type, function or table without the schemas of the collecting
    session's search_path (`touch(mood)`, an index on `norm(email)`); the scripts set
    that path, so a session with another one (another role's, a migration tool's) runs
    them all the same."""
    database.execute(
        """
        CREATE SCHEMA app;
        CREATE TYPE app.mood AS ENUM ('ok', 'sad');
        CREATE FUNCTION app.norm(text) RETURNS text LANGUAGE sql IMMUTABLE AS 'SELECT lower($1)';
        CREATE TABLE app.users (id bigint PRIMARY KEY, email text, m app.mood);
        CREATE INDEX users_norm1 ON app.users (app.norm(email));
        CREATE INDEX users_norm2 ON app.users (app.norm(email));
        CREATE FUNCTION app.touch(app.mood) RETURNS void LANGUAGE sql SECURITY DEFINER
            AS 'SELECT 1';
        """
    )
    dsn = database.server.dsn(database.name)
    findings, scripts = checked(f"{dsn} options='-c search_path=app,public'")
    assert {f.rule for f in findings} >= {"duplicate-index", "security-definer-search-path"}
    assert "(mood)" in scripts.fix and "(norm(email))" in scripts.rollback  # as printed
    before = schema_dump(database.server, database.name)
    fix, rollback = apply_script(dsn, scripts.fix), apply_script(dsn, scripts.rollback)
    assert_restores(RoundTrip(findings, scripts, fix, rollback, before,
                              schema_dump(database.server, database.name)))  # fmt: skip
    assert 'SET search_path = "app", "public";' in scripts.rollback.splitlines()


# --- A: generated names are unique ------------------------------------------------


def test_new_names_avoid_the_catalog_and_each_other(database) -> None:
    database.execute(
        f"""
        CREATE TABLE parent (p int PRIMARY KEY, q int, UNIQUE (p, q));
        -- a partial index with the name the foreign key's index would get
        CREATE TABLE fkc (p int REFERENCES parent, v int);
        CREATE INDEX fkc_p_idx ON fkc (p) WHERE v > 0;
        -- t.a_b and t_a.b both make t_a_b_idx
        CREATE TABLE t (id int PRIMARY KEY, a_b int REFERENCES parent);
        CREATE TABLE t_a (id int PRIMARY KEY, b int REFERENCES parent);
        -- a table named like the key another table gets
        CREATE TABLE coll2_pkey (id int PRIMARY KEY);
        CREATE TABLE coll2 (id int NOT NULL, v text);
        -- names of 60 and 50 bytes: the index name is shortened within 63 bytes
        CREATE TABLE "{"ñ" * 29}ab" (id int PRIMARY KEY, "{"é" * 25}" int REFERENCES parent);
        """
    )
    trip = round_trip(database.server, database.name)
    assert_restores(trip)
    fix = trip.scripts.fix
    assert 'CREATE INDEX CONCURRENTLY "fkc_p_idx1" ON "public"."fkc" ("p");' in fix
    assert 'CREATE INDEX CONCURRENTLY "t_a_b_idx" ON "public"."t" ("a_b");' in fix
    assert 'CREATE INDEX CONCURRENTLY "t_a_b_idx1" ON "public"."t_a" ("b");' in fix
    assert 'ADD CONSTRAINT "coll2_pkey1" PRIMARY KEY' in fix
    created = re.findall(r'CREATE (?:UNIQUE )?INDEX CONCURRENTLY "((?:[^"]|"")+)"', fix)
    assert all(len(name.encode()) <= 63 for name in created), created
    assert len(created) == len(set(created))
    # the same database gets the same names again
    assert checked(database.dsn)[1].fix == fix


def test_fixes_that_build_the_same_index_share_one_name(database) -> None:
    database.execute(
        """
        CREATE TABLE a (id int PRIMARY KEY);
        CREATE TABLE b (id int PRIMARY KEY);
        CREATE TABLE c (id int PRIMARY KEY, ref int REFERENCES a, CONSTRAINT c_ref_b
            FOREIGN KEY (ref) REFERENCES b);
        """
    )
    trip = round_trip(database.server, database.name)
    assert_restores(trip)
    assert trip.scripts.fix.count('CREATE INDEX CONCURRENTLY "c_ref_idx"') == 1


# --- B: a partitioned table's index comes back with its partitions' indexes --------

PARTITIONED = """
CREATE TABLE "Visits" (at int NOT NULL, school int) PARTITION BY RANGE (at);
CREATE TABLE "Visits 1" PARTITION OF "Visits" FOR VALUES FROM (0) TO (10);
CREATE TABLE "Visits 2" PARTITION OF "Visits" FOR VALUES FROM (10) TO (20)
    PARTITION BY RANGE (at);
CREATE TABLE "Visits 2a" PARTITION OF "Visits 2" FOR VALUES FROM (10) TO (15);
CREATE TABLE "Visits 2b" PARTITION OF "Visits 2" FOR VALUES FROM (15) TO (20);
"""


def test_dropping_a_partitioned_index_is_undone_with_its_partitions(database) -> None:
    database.execute(
        PARTITIONED
        + """
        CREATE INDEX visits_school ON "Visits" (school);
        CREATE INDEX visits_school_again ON "Visits" (school);
        COMMENT ON INDEX visits_school_again IS 'kept by someone''s \\ tool';
        CREATE INDEX visits_school_at ON "Visits" (school, at);
        """
    )
    trip = round_trip(database.server, database.name)
    assert_restores(trip)
    dropped = fixes_of(trip, "duplicate-index")["public.visits_school_again"]
    assert dropped.fix is not None
    rollback = dropped.fix.rollback or ()
    # ON ONLY the parent, then each partition's index under its own name, attached
    assert rollback[0].startswith("CREATE INDEX visits_school_again ON ONLY public.")
    assert sum("ATTACH PARTITION" in statement for statement in rollback) == 4
    assert any(statement.startswith("COMMENT ON INDEX") for statement in rollback)


def test_dropping_a_partitioned_unique_constraint_is_undone_under_its_names(database) -> None:
    database.execute(
        PARTITIONED
        + """
        ALTER TABLE "Visits 1" ADD CONSTRAINT "own name" UNIQUE (at, school);
        ALTER TABLE "Visits" ADD CONSTRAINT visits_key UNIQUE (at, school);
        ALTER TABLE "Visits" ADD CONSTRAINT visits_key_again UNIQUE (at, school);
        """
    )
    trip = round_trip(database.server, database.name)
    assert_restores(trip)
    assert "public.visits_key_again" in fixes_of(trip, "duplicate-index")


def test_validating_a_partitioned_check_is_undone_with_its_partitions_copies(database) -> None:
    """A partition created after its parent's NOT VALID CHECK (GitLab's partitions made
    as the application goes) has a validated copy; the rollback's re-added NOT VALID
    CHECK would leave it unvalidated, so the rollback validates it again."""
    database.execute(
        """
        CREATE TABLE "Visits" (at int NOT NULL, school int) PARTITION BY RANGE (at);
        CREATE TABLE "Visits 1" PARTITION OF "Visits" FOR VALUES FROM (0) TO (10);
        ALTER TABLE "Visits" ADD CONSTRAINT "school set" CHECK (school IS NOT NULL) NOT VALID;
        CREATE TABLE "Visits 2" PARTITION OF "Visits" FOR VALUES FROM (10) TO (20)
            PARTITION BY RANGE (at);
        CREATE TABLE "Visits 2a" PARTITION OF "Visits 2" FOR VALUES FROM (10) TO (15);
        """
    )
    trip = round_trip(database.server, database.name)
    assert "public.Visits.school set" in fixes_of(trip, "unvalidated-constraint")
    assert_restores(trip)


def test_a_partitioned_type_change_gives_partition_indexes_their_names_back(database) -> None:
    """ALTER ... TYPE re-creates a partitioned index's partition indexes under generated
    names, in index order: two names cut to 63 bytes that collide (`..._idx`,
    `..._idx1`) come back swapped when the first-made index no longer holds the first
    name (GitLab's partitions under `--verify-fixes`: "not restored")."""
    long = "visits_partition_with_a_name_long_enough_to_be_cut_short"
    database.execute(
        f"""
        CREATE TABLE visits (id int NOT NULL, seen_at timestamp, k int) PARTITION BY RANGE (id);
        CREATE TABLE {long}_1 PARTITION OF visits FOR VALUES FROM (0) TO (10);
        CREATE TABLE {long}_2 PARTITION OF visits FOR VALUES FROM (10) TO (20)
            PARTITION BY RANGE (id);
        CREATE TABLE {long}_2a PARTITION OF {long}_2 FOR VALUES FROM (10) TO (20);
        CREATE INDEX visits_gone ON visits (seen_at) WHERE k = 1;
        CREATE INDEX visits_second ON visits (seen_at) WHERE k = 2;
        DROP INDEX visits_gone;  -- its partitions' names are free again: the next takes them
        CREATE INDEX visits_third ON visits (seen_at) WHERE k = 3;
        """
    )
    names = (
        "SELECT c.relname, i.inhparent::regclass::text FROM pg_class c"
        " JOIN pg_inherits i ON i.inhrelid = c.oid WHERE c.relkind IN ('i', 'I') ORDER BY 1"
    )
    with database.admin() as admin:
        before = admin.execute(names).fetchall()
    assert any(name.endswith("_idx1") for name, _ in before)  # the collision is there
    trip = round_trip(database.server, database.name)
    assert "public.visits.seen_at" in fixes_of(trip, "timestamp-without-time-zone")
    assert_restores(trip)
    with database.admin() as admin:  # without the renames, the rebuild swaps them
        assert admin.execute(names).fetchall() == before
        admin.execute("SET TimeZone = 'UTC'")
        admin.execute("ALTER TABLE visits ALTER COLUMN seen_at TYPE timestamptz")
        swapped = admin.execute(names).fetchall()
    assert swapped != before
    assert sorted(name for name, _ in swapped) == sorted(name for name, _ in before)


def test_a_check_against_empty_strings_is_refused_while_rows_hold_them(database) -> None:
    """Added NOT VALID while rows hold '', the CHECK would fail every UPDATE of them
    (tests/rationale): the fix refuses, in one statement, until they are fixed."""
    database.execute(
        "CREATE TABLE notes (id int PRIMARY KEY, body text NOT NULL, seen int);"
        "INSERT INTO notes SELECT g, CASE WHEN g <= 3 THEN '' ELSE 'x' END, 0"
        " FROM generate_series(1, 20) g"
    )
    findings, _ = checked(database.server.dsn(database.name))
    fix = {f.object: f for f in findings if f.rule == "empty-string-in-not-null"}[
        "public.notes.body"
    ].fix
    assert fix is not None
    script = "\n".join(fix.statements)
    refused = apply_script(database.server.dsn(database.name), script)
    (refusal, refused_error), (_, validate_error) = refused.failures  # then VALIDATE finds none
    assert refusal.startswith("DO ")
    assert refused_error.startswith(
        "rows of public.notes break CHECK notes_body_not_blank: fix them first"
    )
    assert "does not exist" in validate_error
    with database.admin() as admin:
        assert admin.execute(
            "SELECT count(*) FROM pg_constraint WHERE conname = 'notes_body_not_blank'"
        ).fetchone() == (0,)
        admin.execute("UPDATE notes SET seen = 1")  # the rows holding '' are still writable
        admin.execute("UPDATE notes SET body = 'filled' WHERE body = ''")
    assert apply_script(database.server.dsn(database.name), script).failures == []
    with database.admin() as admin:
        assert admin.execute(
            "SELECT convalidated FROM pg_constraint WHERE conname = 'notes_body_not_blank'"
        ).fetchone() == (True,)
        with pytest.raises(psycopg.errors.CheckViolation):
            admin.execute("INSERT INTO notes VALUES (99, '  ', 0)")


def test_an_index_for_a_partitioned_foreign_key_leaves_partitions_indexes_alone(
    database,
) -> None:
    database.execute(
        PARTITIONED
        + """
        CREATE TABLE schools (id int PRIMARY KEY);
        ALTER TABLE "Visits" ADD FOREIGN KEY (school) REFERENCES schools;
        -- a plain CREATE INDEX on "Visits" would adopt these, and its rollback drop them
        CREATE INDEX own_school ON "Visits 1" (school DESC);
        CREATE INDEX own_school_2a ON "Visits 2a" (school);
        """
    )
    trip = round_trip(database.server, database.name)
    assert_restores(trip)
    fix = fixes_of(trip, "unindexed-foreign-key")["public.Visits.Visits_school_fkey"].fix
    assert fix is not None
    assert (
        fix.statements[0]
        == 'CREATE INDEX "Visits_school_idx" ON ONLY "public"."Visits" ("school");'
    )


# --- C, E: a primary key that can always be added and removed ----------------------


def test_primary_key_beside_a_unique_constraint_that_foreign_keys_use(database) -> None:
    database.execute(
        """
        CREATE TABLE account_data (user_id text NOT NULL, kind text NOT NULL, content text,
            CONSTRAINT account_data_uniqueness UNIQUE (user_id, kind));
        CREATE TABLE notes (user_id text, kind text,
            FOREIGN KEY (user_id, kind) REFERENCES account_data (user_id, kind));
        -- a plain unique index that a foreign key references
        CREATE TABLE rooms (room text NOT NULL);
        CREATE UNIQUE INDEX rooms_room ON rooms (room);
        CREATE TABLE members (id int PRIMARY KEY, room text REFERENCES rooms (room));
        CREATE INDEX ON members (room);
        -- a unique index a key cannot use as it is
        CREATE TABLE sorted (v int NOT NULL);
        CREATE UNIQUE INDEX sorted_v ON sorted (v DESC);
        -- nothing in the way: promoted, which renames the index
        CREATE TABLE tags (name text NOT NULL);
        CREATE UNIQUE INDEX tags_name_key ON tags (name);
        COMMENT ON INDEX tags_name_key IS 'the tag';
        -- id allows NULL: the key sets NOT NULL, the rollback takes it off
        CREATE TABLE events (id int, payload text);
        """
    )
    trip = round_trip(database.server, database.name)
    assert_restores(trip)
    found = fixes_of(trip, "missing-primary-key")
    for table in ("account_data", "rooms", "sorted"):
        fix = found[f"public.{table}"].fix
        assert fix is not None and fix.statements[0].startswith("CREATE UNIQUE INDEX CONCURRENTLY")
    assert found["public.tags"].evidence["renames_index"] == "tags_name_key to tags_pkey"
    assert "NOT NULL" in (found["public.events"].fix.notes[0] if found["public.events"].fix else "")


def test_primary_key_replaces_a_unique_constraint_instead_of_duplicating_it(database) -> None:
    database.execute(
        """
        CREATE SCHEMA "Mixed Case";
        CREATE TABLE "Mixed Case"."Supplier ""Sources"" list" ("Code" text NOT NULL, note text,
            CONSTRAINT "Code Key" UNIQUE ("Code") WITH (fillfactor = 70));
        COMMENT ON CONSTRAINT "Code Key" ON "Mixed Case"."Supplier ""Sources"" list"
            IS 'one ''code'' each';
        COMMENT ON INDEX "Mixed Case"."Code Key" IS 'its index';
        CREATE TABLE deferred (code int NOT NULL,
            CONSTRAINT deferred_code_key UNIQUE (code) DEFERRABLE INITIALLY DEFERRED);
        CREATE TABLE nulls_not_distinct (code int NOT NULL,
            CONSTRAINT nulls_not_distinct_code_key UNIQUE NULLS NOT DISTINCT (code));
        -- dropping the replica identity's index would leave the table none
        CREATE TABLE published (code int NOT NULL, CONSTRAINT published_code_key UNIQUE (code));
        ALTER TABLE published REPLICA IDENTITY USING INDEX published_code_key;
        -- a foreign key depends on the constraint's index: the constraint stays
        CREATE TABLE referenced (code int NOT NULL, CONSTRAINT referenced_code_key UNIQUE (code));
        CREATE TABLE referencing (id int PRIMARY KEY, code int REFERENCES referenced (code));
        CREATE INDEX ON referencing (code);
        INSERT INTO "Mixed Case"."Supplier ""Sources"" list"
            SELECT 'c' || n, 'x' FROM generate_series(1, 500) n;
        INSERT INTO deferred SELECT generate_series(1, 500);
        INSERT INTO nulls_not_distinct SELECT generate_series(1, 500);
        INSERT INTO published SELECT generate_series(1, 500);
        INSERT INTO referenced SELECT generate_series(1, 500);
        INSERT INTO referencing SELECT n, n FROM generate_series(1, 500) n;
        """
    )
    dsn = database.dsn
    findings, scripts = checked(dsn)
    before = schema_dump(database.server, database.name)
    assert apply_script(dsn, scripts.fix).failures == []
    left = {(f.rule, f.object) for f in checked(dsn)[0]}
    assert {name for rule, name in left if rule == "missing-primary-key"} == set()
    # the one duplicate left is the constraint that the foreign key needs, by choice
    duplicates = {name for rule, name in left if rule == "duplicate-index"}
    assert duplicates == {"public.referenced_code_key"}
    with database.admin() as admin:
        deferral = admin.execute(
            "SELECT conname, condeferrable, condeferred FROM pg_constraint"
            " WHERE conrelid = 'deferred'::regclass"
        ).fetchall()
        identity = admin.execute(
            "SELECT relreplident FROM pg_class WHERE oid = 'published'::regclass"
        ).fetchone()
        rows = admin.execute(
            'SELECT count(*) FROM "Mixed Case"."Supplier ""Sources"" list"'
        ).fetchone()
    assert deferral == [("deferred_pkey", True, True)]
    assert identity == ("d",)  # the key, not an identity index that is gone
    assert rows == (500,)
    assert apply_script(dsn, scripts.rollback).failures == []
    assert schema_dump(database.server, database.name) == before
    found = {f.object: f for f in findings if f.rule == "missing-primary-key"}
    replaced = found['Mixed Case.Supplier "Sources" list'].evidence["replaces_constraint"]
    assert replaced == 'Code Key by Supplier "Sources" list_pkey'
    assert "replaces_constraint" not in found["public.referenced"].evidence


def test_a_referenced_unique_key_that_allows_null_becomes_the_key(database) -> None:
    """Synapse's users: UNIQUE (name), name nullable, referenced by a foreign key. The key
    goes on name (NOT NULL set), the constraint stays for the foreign key, and no user_id
    elsewhere turns into a mismatch against a new id, as it did with a surrogate key."""
    database.execute(
        """
        CREATE TABLE users (name text, admin smallint NOT NULL DEFAULT 0,
            CONSTRAINT users_name_key UNIQUE (name));
        CREATE TABLE presence (id int PRIMARY KEY, user_id text REFERENCES users (name));
        CREATE INDEX ON presence (user_id);
        CREATE TABLE access_tokens (id bigint PRIMARY KEY, user_id text NOT NULL);
        INSERT INTO users (name) SELECT '@u' || n || ':example.org' FROM generate_series(1, 50) n;
        """
    )
    trip = round_trip(database.server, database.name)
    assert_restores(trip)
    found = fixes_of(trip, "missing-primary-key")["public.users"]
    assert found.evidence["nullable_key_columns"] == ["name"]
    assert apply_script(database.dsn, trip.scripts.fix).failures == []
    after = {(f.rule, f.object) for f in checked(database.dsn)[0]}
    assert ("missing-primary-key", "public.users") not in after
    assert not {rule for rule, _ in after} & {"fk-type-mismatch", "missing-foreign-key"}
    with database.admin() as admin:
        key = admin.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = 'users'::regclass AND contype = 'p'"
        ).fetchone()
    assert key == ("PRIMARY KEY (name)",)


def test_null_keys_of_a_referenced_unique_key_are_counted_above_the_fix(database) -> None:
    """Synapse's users with rows a real homeserver has: names NULL (ghost rows of a botched
    import). A schema-only copy applies the key; the data does not: the promotion fails on
    the NULLs after the unique index was built, which stays behind. The finding counts
    them, and fix.sql says so above the statements."""
    database.execute(
        """
        CREATE TABLE users (name text, admin smallint NOT NULL DEFAULT 0,
            CONSTRAINT users_name_key UNIQUE (name));
        CREATE TABLE presence (id int PRIMARY KEY, user_id text REFERENCES users (name));
        CREATE INDEX ON presence (user_id);
        INSERT INTO users (name) SELECT '@u' || n || ':example.org' FROM generate_series(1, 50) n;
        INSERT INTO users (name) VALUES (NULL), (NULL), (NULL);
        """
    )
    findings, scripts = checked(database.dsn)
    found = {f.object: f for f in findings if f.rule == "missing-primary-key"}["public.users"]
    assert found.evidence["null_key_values"] == {"name": 3}
    assert found.fix is not None
    assert any("(3 in name)" in note for note in found.fix.notes)
    assert "-- rows hold NULL in the key (3 in name): fill or delete them first" in scripts.fix
    applied = apply_script(database.dsn, "\n".join(found.fix.statements))
    [(statement, error)] = applied.failures
    assert "PRIMARY KEY USING INDEX" in statement
    assert 'column "name" of relation "users" contains null values' in error
    with database.admin() as admin:
        assert admin.execute("SELECT to_regclass('users_pkey') IS NOT NULL").fetchone() == (True,)


def test_a_key_that_replaces_a_constraint_comes_before_the_foreign_keys_to_it(database) -> None:
    """Synapse's devices: UNIQUE (user_id, device_id) becomes the key, and device_inbox gets
    a foreign key to those columns. Added first, the foreign key would depend on the
    constraint and the swap would fail ("other objects depend on it")."""
    database.execute(
        """
        CREATE TABLE devices (user_id text NOT NULL, device_id text NOT NULL,
            CONSTRAINT device_uniqueness UNIQUE (user_id, device_id));
        CREATE TABLE device_inbox (id bigint PRIMARY KEY, user_id text NOT NULL,
            device_id text NOT NULL);
        """
    )
    trip = round_trip(database.server, database.name)
    assert_restores(trip)
    assert "replaces_constraint" in fixes_of(trip, "missing-primary-key")["public.devices"].evidence
    assert "public.device_inbox" in fixes_of(trip, "missing-foreign-key")
    fix = trip.scripts.fix
    assert fix.index("-- missing-primary-key: public.devices") < fix.index(
        "-- missing-foreign-key: public.device_inbox"
    )


def test_of_two_identical_unique_indexes_the_kept_one_becomes_the_key(database) -> None:
    """Philomena's image_sources: two UNIQUE (image_id, source) indexes and no key.
    duplicate-index drops one; the other is promoted in place, so the fixed schema has
    neither a missing key nor a duplicate (a new index built beside both was one). The
    one duplicate-index drops is never the one promoted."""
    database.execute(
        """
        CREATE TABLE image_sources (image_id bigint NOT NULL, source text NOT NULL);
        CREATE UNIQUE INDEX image_sources_image_id_source_index ON image_sources (image_id, source);
        CREATE UNIQUE INDEX index_image_source_on_image_id_and_source
            ON image_sources (image_id, source);
        """
    )
    trip = round_trip(database.server, database.name)
    assert_restores(trip)
    key = fixes_of(trip, "missing-primary-key")["public.image_sources"]
    assert key.evidence["renames_index"] == (
        "image_sources_image_id_source_index to image_sources_pkey"
    )
    assert apply_script(database.dsn, trip.scripts.fix).failures == []
    left = {(f.rule, f.object) for f in checked(database.dsn)[0]}
    assert not {rule for rule, _ in left} & {"missing-primary-key", "duplicate-index"}


def test_a_table_at_the_column_limit_gets_a_key_on_existing_columns(database) -> None:
    columns = ", ".join(f"c{n} int" for n in range(1, 1600))
    database.execute(
        f"""
        CREATE TABLE wide ({columns}, code int NOT NULL);
        CREATE UNIQUE INDEX wide_code ON wide (code);
        CREATE TABLE wide_unkeyed ({columns}, code int);
        CREATE UNIQUE INDEX wide_unkeyed_code ON wide_unkeyed (code);
        """
    )
    trip = round_trip(database.server, database.name)
    assert_restores(trip)
    found = fixes_of(trip, "missing-primary-key")
    assert found["public.wide"].fix is not None
    unkeyed = found["public.wide_unkeyed"]
    assert unkeyed.fix is None
    reason = unkeyed.evidence["no_automatic_fix"]
    assert "1,600 columns" in reason and "wide_unkeyed_code" in reason


def test_a_partitioned_table_gets_a_key_its_partitions_share(database) -> None:
    database.execute(
        PARTITIONED
        + """
        CREATE UNIQUE INDEX visits_at_school ON "Visits" (at, school);
        ALTER TABLE "Visits" ALTER COLUMN school SET NOT NULL;
        -- a partition's own key on the same columns is adopted, and kept by the rollback
        ALTER TABLE "Visits 1" ADD CONSTRAINT "Visits 1 key" PRIMARY KEY (at, school);
        CREATE TABLE plain_parted (at int NOT NULL, v int) PARTITION BY RANGE (at);
        CREATE TABLE plain_parted_1 PARTITION OF plain_parted FOR VALUES FROM (0) TO (10);
        """
    )
    trip = round_trip(database.server, database.name)
    assert_restores(trip)
    found = fixes_of(trip, "missing-primary-key")
    assert found["public.Visits"].fix is not None
    assert "partition key" in found["public.plain_parted"].evidence["no_automatic_fix"]


def test_an_inheritance_parents_fixes_key_and_reference_its_children_too(database) -> None:
    """Concourse's build_events and the pipeline_build_events_<id> that inherit from it:
    keys and foreign keys are not inherited, so the parent's fixes give each child its
    own. The round trip restores the schema; once the fixes are applied, a child refuses
    a repeated key and an orphan, and the next check reports nothing of the hierarchy."""
    database.execute(
        """
        CREATE TABLE builds (id bigserial PRIMARY KEY);
        CREATE TABLE build_events (build_id bigint, event_id int NOT NULL, payload text);
        CREATE UNIQUE INDEX build_events_build_id_event_id ON build_events (build_id, event_id);
        CREATE TABLE "pipeline ñame events" () INHERITS (build_events);
        CREATE UNIQUE INDEX pipeline_key ON "pipeline ñame events" (build_id, event_id);
        CREATE TABLE team_events () INHERITS (build_events);
        """
    )
    trip = round_trip(database.server, database.name)
    assert_restores(trip)
    assert set(fixes_of(trip, "missing-primary-key")) == {"public.build_events"}
    assert set(fixes_of(trip, "missing-foreign-key")) == {"public.build_events.build_id"}
    dsn = database.server.dsn(database.name)
    assert apply_script(dsn, trip.scripts.fix).failures == []
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute("INSERT INTO builds DEFAULT VALUES")
        connection.execute("INSERT INTO team_events VALUES (1, 1, 'a')")
        with pytest.raises(psycopg.errors.UniqueViolation):
            connection.execute("INSERT INTO team_events VALUES (1, 1, 'b')")
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            connection.execute("""INSERT INTO "pipeline ñame events" VALUES (9, 1, 'a')""")
    findings, _ = checked(dsn)
    rules = {"missing-primary-key", "missing-foreign-key"}
    assert [f.object for f in findings if f.rule in rules] == []


def test_an_inheritance_parents_column_fixes_change_its_childrens_columns_too(database) -> None:
    """Column types are inherited (INHERITS): PostgreSQL refuses ALTER COLUMN ... TYPE on
    a child's inherited column ("cannot alter inherited column"), and on the parent it
    changes every table that inherits the column. The parent's fixes run, the rollback
    restores the schema (a grandchild's index that casts the column, each table's zoned
    default), and once applied the next check reports none of the hierarchy's columns."""
    database.execute(
        """
        CREATE TABLE users (id bigint PRIMARY KEY);
        CREATE TABLE events (id bigint PRIMARY KEY, user_id integer REFERENCES users,
          at timestamp DEFAULT timezone('UTC', now()), doc json);
        CREATE TABLE "Weird""Events" (extra json, doc json) INHERITS (events);
        CREATE INDEX ON "Weird""Events" (at);
        CREATE TABLE "events ñ" () INHERITS ("Weird""Events");
        CREATE INDEX ON "events ñ" ((doc::jsonb -> 'k'));
        ALTER TABLE "events ñ" ADD FOREIGN KEY (user_id) REFERENCES users;
        CREATE TABLE team_events () INHERITS (events);
        INSERT INTO users VALUES (1);
        INSERT INTO "events ñ" VALUES (1, 1, '2026-01-01 10:00', '{"k": 1}', '[]');
        """
    )
    trip = round_trip(database.server, database.name)
    assert_restores(trip)
    rules = ("fk-type-mismatch", "json-instead-of-jsonb", "timestamp-without-time-zone")
    children = ['public.Weird"Events', "public.events ñ", "public.team_events"]
    for rule, column in zip(rules, ("user_id", "doc", "at"), strict=True):
        found = fixes_of(trip, rule)
        assert set(found) >= {f"public.events.{column}"}, rule
        assert found[f"public.events.{column}"].evidence["inheritance_children"] == children
        assert found[f"public.events.{column}"].fix is not None
        assert not any(
            name.endswith(f".{column}") for name in set(found) - {f"public.events.{column}"}
        )
    assert set(fixes_of(trip, "json-instead-of-jsonb")) == {
        "public.events.doc",
        'public.Weird"Events.extra',
    }
    dsn = database.server.dsn(database.name)
    assert apply_script(dsn, trip.scripts.fix).failures == []
    with psycopg.connect(dsn) as connection:
        types = connection.execute(
            "SELECT attrelid::regclass::text, attname, format_type(atttypid, atttypmod)"
            " FROM pg_attribute WHERE attname IN ('user_id', 'at', 'doc', 'extra')"
            " AND attrelid::regclass::text LIKE '%events%' ORDER BY 1, 2"
        ).fetchall()
    assert {(name, kind) for _, name, kind in types} == {
        ("at", "timestamp with time zone"),
        ("doc", "jsonb"),
        ("extra", "jsonb"),
        ("user_id", "bigint"),
    }
    findings, _ = checked(dsn)
    assert [f.object for f in findings if f.rule in rules] == []


# --- D: no drop without a known way back --------------------------------------------


def test_no_drop_is_offered_for_a_table_locked_during_the_check(database) -> None:
    database.execute(
        """
        CREATE TABLE "e2MixedCase" (id int PRIMARY KEY, b box, v text);
        CREATE INDEX e2_lower ON "e2MixedCase" (lower(v));
        CREATE INDEX "e2MixedCase_lower" ON "e2MixedCase" (lower(v));
        ALTER TABLE "e2MixedCase" ADD CONSTRAINT e2_no_overlap EXCLUDE USING gist (b WITH &&);
        ALTER TABLE "e2MixedCase" ADD CONSTRAINT e2_no_overlap2 EXCLUDE USING gist (b WITH &&);
        """
    )
    holder = psycopg.connect(database.dsn)
    holder.execute('LOCK TABLE "e2MixedCase" IN ACCESS EXCLUSIVE MODE')
    try:
        snapshot = take_snapshot(database.dsn, lock_timeout_ms=200)
    finally:
        holder.close()
    findings = [f for f in analyse(snapshot).findings if f.rule == "duplicate-index"]
    assert {f.object for f in findings} == {"public.e2_lower", "public.e2_no_overlap2"}
    for item in findings:
        assert item.fix is None
        assert "could not be read" in item.evidence["no_automatic_fix"]
    assert statements_of(fix_scripts(findings, snapshot.server).fix) == []


def test_no_drop_of_an_index_that_foreign_keys_reference(database) -> None:
    database.execute(
        """
        CREATE TABLE codes (code int NOT NULL);
        CREATE UNIQUE INDEX codes_a ON codes (code);
        CREATE UNIQUE INDEX codes_b ON codes (code);
        -- the foreign key uses codes_a (the first by oid), which then sorts last by name:
        -- duplicate-index keeps codes_b and would drop the one the key uses
        CREATE TABLE uses (id int PRIMARY KEY, code int REFERENCES codes (code));
        CREATE INDEX ON uses (code);
        ALTER INDEX codes_a RENAME TO codes_z;
        """
    )
    trip = round_trip(database.server, database.name)
    assert_restores(trip)
    copy = fixes_of(trip, "duplicate-index")["public.codes_z"]
    assert copy.fix is None
    assert "re-point them first" in copy.evidence["no_automatic_fix"]


def test_no_drop_of_a_partitioned_index_that_adopted_a_partitions_key(database) -> None:
    # found by the property-based test: the parent's plain unique index adopted the
    # partition's primary key index, so DROP INDEX on it fails
    database.execute(
        """
        CREATE TABLE coll2 (a int NOT NULL, b int) PARTITION BY RANGE (a);
        CREATE TABLE coll2_1 PARTITION OF coll2 FOR VALUES FROM (0) TO (10);
        ALTER TABLE coll2_1 ADD CONSTRAINT own_key PRIMARY KEY (a);
        CREATE UNIQUE INDEX coll2_z ON coll2 (a);  -- adopts own_key's index
        CREATE UNIQUE INDEX coll2_a ON coll2 (a);  -- kept: it sorts first
        """
    )
    trip = round_trip(database.server, database.name)
    assert_restores(trip)
    copy = fixes_of(trip, "duplicate-index")["public.coll2_z"]
    assert copy.fix is None
    assert "own_key" in copy.evidence["no_automatic_fix"]


# --- F: a serial column becomes an identity that hands out no id again ---------------

SERIAL_SHAPES = """
    -- the last ids were handed out and deleted: the sequence is past max(id)
    CREATE TABLE t (id serial PRIMARY KEY, v text);
    INSERT INTO t (v) VALUES ('a'), ('b'), ('c');
    DELETE FROM t WHERE id = 3;
    -- quoted names in another schema, bigserial; then an id taken by a rollback
    CREATE SCHEMA "Other Schema";
    CREATE TABLE "Other Schema"."Mixed ""Case"" ids" ("Id Col" bigserial PRIMARY KEY, v text);
    INSERT INTO "Other Schema"."Mixed ""Case"" ids" (v) VALUES ('a');
    -- smallserial whose sequence was never called
    CREATE TABLE empty_small (id smallserial PRIMARY KEY);
    -- explicit ids ahead of the sequence: the identity starts after them
    CREATE TABLE ahead (id serial PRIMARY KEY);
    INSERT INTO ahead VALUES (1), (2), (5);
    -- a hand-made sequence with its own settings, not owned by the column
    CREATE SEQUENCE stepped START 100 INCREMENT 10 CACHE 5;
    CREATE TABLE stepped_use (id bigint NOT NULL DEFAULT nextval('stepped'));
    INSERT INTO stepped_use DEFAULT VALUES;
    INSERT INTO stepped_use DEFAULT VALUES;
    DELETE FROM stepped_use WHERE id = 110;
"""
SERIAL_TABLES = (
    '"public"."t"',
    '"Other Schema"."Mixed ""Case"" ids"',
    '"public"."empty_small"',
    '"public"."ahead"',
    '"public"."stepped_use"',
)


def sequence_positions(dsn: str) -> dict[str, tuple[int, bool]]:
    """(last_value, is_called) of every sequence, by qualified name: the position that
    pg_dump --schema-only leaves out."""
    positions = {}
    with psycopg.connect(dsn, autocommit=True) as connection:
        names = connection.execute(
            "SELECT n.nspname, c.relname FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'S'"
        ).fetchall()
        for schema, name in names:
            row = connection.execute(
                sql.SQL("SELECT last_value, is_called FROM {}").format(sql.Identifier(schema, name))
            ).fetchone()
            assert row is not None
            positions[f"{schema}.{name}"] = (row[0], row[1])
    return positions


def ids_handed_out(dsn: str) -> dict[str, list[int]]:
    """One row inserted into each serial table with the default id; the ids, by table."""
    handed_out = {}
    with psycopg.connect(dsn, autocommit=True) as connection:
        for table in SERIAL_TABLES:
            id_column = "Id Col" if "Other Schema" in table else "id"
            row = connection.execute(
                sql.SQL("INSERT INTO {} DEFAULT VALUES RETURNING {}").format(
                    sql.SQL(table), sql.Identifier(id_column)
                )
            ).fetchone()
            assert row is not None
            handed_out[table] = [row[0]]
    return handed_out


def load_serial_shapes(database) -> None:
    database.execute(SERIAL_SHAPES)
    with psycopg.connect(database.dsn) as connection:  # in a transaction, rolled back
        connection.execute("""INSERT INTO "Other Schema"."Mixed ""Case"" ids" (v) VALUES ('b')""")
        connection.rollback()


def serial_fixes(dsn: str) -> Scripts:
    findings, scripts = checked(dsn)
    serial = {f.object: f for f in findings if f.rule == "serial-instead-of-identity"}
    assert len(serial) == len(SERIAL_TABLES)
    assert all(item.fix is not None for item in serial.values())
    return scripts


def test_serial_to_identity_hands_out_no_id_twice(database) -> None:
    """The identity continues from the old sequence's position as it is when fix.sql
    runs (it moved after the check), not from max(id): ids handed out and then deleted
    or rolled back are not handed out again, before the rollback or after it."""
    load_serial_shapes(database)
    scripts = serial_fixes(database.dsn)
    # the sequences move between the check and the fix
    database.execute("INSERT INTO t (v) VALUES ('d'); DELETE FROM t WHERE id = 4")
    before = schema_dump(database.server, database.name)
    fix = apply_script(database.dsn, scripts.fix)
    assert fix.failures == []
    first = ids_handed_out(database.dsn)
    assert first == {
        '"public"."t"': [5],  # 3 and 4 were handed out and deleted
        '"Other Schema"."Mixed ""Case"" ids"': [3],  # 2 was taken by the rolled-back insert
        '"public"."empty_small"': [1],
        '"public"."ahead"': [6],  # after the explicit 5
        # 110 was handed out and deleted; the session that inserted it had 120-140
        # cached (CACHE 5), which the old sequence would not have handed out either
        '"public"."stepped_use"': [150],
    }
    rollback = apply_script(database.dsn, scripts.rollback)
    assert rollback.failures == []
    assert schema_dump(database.server, database.name) == before
    # the old sequences continue after the ids the identity handed out (and cached)
    assert ids_handed_out(database.dsn) == {
        '"public"."t"': [6],
        '"Other Schema"."Mixed ""Case"" ids"': [4],
        '"public"."empty_small"': [2],
        '"public"."ahead"': [7],
        '"public"."stepped_use"': [200],
    }


def test_serial_to_identity_leaves_nextval_by_name_drawing_the_identitys_ids(database) -> None:
    """River's bulk insert (riverqueue/river@fdf6cdf, JobInsertFastMany) takes its ids
    from `nextval('river_job_id_seq'::regclass)` by name, while other inserts take the
    default. Had the old sequence kept that name beside the identity's, both would hand
    out the same ids: the next insert by name failed on the primary key. A statement
    prepared before the fix (pgx caches them per connection) follows the name too."""
    database.execute(
        "CREATE TABLE jobs (id bigserial PRIMARY KEY, kind text NOT NULL);"
        " INSERT INTO jobs (kind) SELECT 'early' FROM generate_series(1, 3)"
    )
    by_name = "INSERT INTO jobs (id, kind) VALUES (nextval('jobs_id_seq'::regclass), 'named')"
    by_default = "INSERT INTO jobs (kind) VALUES ('default')"
    with psycopg.connect(database.dsn, autocommit=True) as app:
        app.execute(by_name + " RETURNING id", prepare=True)  # id 4
        _, scripts = checked(database.dsn)
        assert apply_script(database.dsn, scripts.fix).failures == []
        handed_out = [
            app.execute(statement + " RETURNING id", prepare=True).fetchone()
            for statement in (by_default, by_name, by_default)
        ]
        assert handed_out == [(5,), (6,), (7,)]
        assert apply_script(database.dsn, scripts.rollback).failures == []
        after = [
            app.execute(statement + " RETURNING id", prepare=True).fetchone()
            for statement in (by_name, by_default)
        ]
        assert after == [(8,), (9,)]


def test_serial_to_identity_rollback_restores_the_sequences_exactly(database) -> None:
    """Fix and rollback with nothing in between: the schema and every sequence's
    position (last_value, is_called) are as they were."""
    load_serial_shapes(database)
    scripts = serial_fixes(database.dsn)
    before = schema_dump(database.server, database.name), sequence_positions(database.dsn)
    fix = apply_script(database.dsn, scripts.fix)
    rollback = apply_script(database.dsn, scripts.rollback)
    assert (fix.failures, rollback.failures) == ([], [])
    after = schema_dump(database.server, database.name), sequence_positions(database.dsn)
    assert after == before


def test_serial_to_identity_keeps_the_old_sequences_settings(database) -> None:
    load_serial_shapes(database)
    apply_script(database.dsn, serial_fixes(database.dsn).fix)
    with psycopg.connect(database.dsn) as connection:
        settings = connection.execute(
            "SELECT seqstart, seqincrement, seqmin, seqmax, seqcache, seqcycle FROM pg_sequence"
            " WHERE seqrelid = pg_get_serial_sequence('stepped_use', 'id')::regclass"
        ).fetchone()
    assert settings == (100, 10, 1, 2**63 - 1, 5, False)


def test_a_pinned_search_path_still_finds_the_extensions_the_script_moves(database) -> None:
    """Documenso's `nanoid()` (public, plpgsql) calls pgcrypto's `gen_random_bytes`, and
    pgcrypto is in public: fix.sql moves the extension to `extensions` and pins the
    function's search_path, so the path must name `extensions`, or every call fails
    with "function gen_random_bytes(integer) does not exist" once the script ran."""
    available = [
        (name, call)
        for name, call in (
            ("citext", "'Abc'::citext = 'aBC'::citext"),
            ("vector", "vector_dims('[1,2]'::vector) = 2"),
        )
        if has_extension(database.server.bin_dir, name)
    ]
    if not available:
        pytest.skip("no relocatable extension with functions on this server")
    name, call = available[0]
    database.execute(
        f"""
        CREATE EXTENSION {name} SCHEMA public;
        CREATE FUNCTION public.uses_it() RETURNS boolean LANGUAGE plpgsql
            AS $$ BEGIN RETURN {call}; END $$;
        """
    )
    findings, scripts = checked(database.dsn)
    assert {f.rule for f in findings} >= {"extension-in-public", "function-search-path-mutable"}
    before = schema_dump(database.server, database.name)
    assert apply_script(database.dsn, scripts.fix).failures == []
    with psycopg.connect(database.dsn) as connection:
        assert connection.execute("SELECT public.uses_it()").fetchone() == (True,)
    assert apply_script(database.dsn, scripts.rollback).failures == []
    assert schema_dump(database.server, database.name) == before


def test_a_type_change_is_undone_with_the_indexes_whose_expressions_cast_the_column(
    database,
) -> None:
    """Harbor's task.extra_attrs (goharbor/harbor@c50c7dd, 0120_2.9.0): a json column with
    a GIN index on `(extra_attrs::jsonb -> 'report_uuids')`. Once the column is jsonb the
    server stores the index without the cast, which then no longer exists; converting back
    to json re-creates the index on `extra_attrs -> 'report_uuids'`, a json expression GIN
    cannot index ("data type json has no default operator class"). The same with a cast
    in a partial index's predicate, and an int -> bigint conversion whose index cast the
    column to bigint."""
    database.execute(
        """
        CREATE TABLE task (id int PRIMARY KEY, extra_attrs json);
        CREATE INDEX task_report_uuids ON task USING gin ((extra_attrs::jsonb -> 'report_uuids'));
        CREATE INDEX task_running ON task (id) WHERE (extra_attrs::jsonb ->> 'state') = 'run';
        CREATE TABLE parent (id bigint PRIMARY KEY);
        CREATE TABLE child (id int PRIMARY KEY, parent_id int REFERENCES parent);
        CREATE INDEX child_parent_big ON child ((parent_id::bigint));
        """
    )
    trip = round_trip(database.server, database.name)
    assert set(fixes_of(trip, "json-instead-of-jsonb")) == {"public.task.extra_attrs"}
    assert set(fixes_of(trip, "fk-type-mismatch")) == {"public.child.parent_id"}
    assert_restores(trip)


def test_statements_split_as_psql_splits_them() -> None:
    script = (
        "-- a comment; with a semicolon\n"
        'CREATE INDEX "a;b" ON "t""x" (c) WHERE (v = \'it\'\'s; -- no\');\n'
        "COMMENT ON INDEX i IS E'back\\\\slash;';\n"
    )
    assert statements_of(script) == [
        'CREATE INDEX "a;b" ON "t""x" (c) WHERE (v = \'it\'\'s; -- no\');',
        "COMMENT ON INDEX i IS E'back\\\\slash;';",
    ]


def test_comments_are_quoted_as_literals() -> None:
    # the rollback's COMMENT ON statements carry arbitrary text
    literal = sql.Literal("it's a \\ test").as_string(None)
    assert literal in ("'it''s a \\ test'", " E'it''s a \\\\ test'")


def test_generated_names_fit_63_bytes_without_cutting_a_character() -> None:
    name = object_name("ñ" * 40, "é" * 40, "idx")
    assert len(name.encode()) <= 63
    assert name.endswith("_idx") and "\ufffd" not in name
    names = Names({"s": {"t_a_idx"}}, {"s": {"t_a_idx1"}})
    assert names.new("s", "t", "a", "idx", "first") == "t_a_idx2"
    assert names.new("s", "t", "a", "idx", "second") == "t_a_idx3"
    assert names.new("s", "t", "a", "idx", "first") == "t_a_idx2"


def test_json_holding_the_nul_escape_is_listed_above_the_jsonb_conversion(database) -> None:
    """A json value holding \\u0000 (an app storing a client's payload as it came) cannot
    be jsonb: on a copy with data the conversion fails; on a schema-only copy it passes.
    The fix's first query lists exactly the rows that stop it."""
    database.execute(
        """
        CREATE TABLE accounts (id bigint PRIMARY KEY, prefs json);
        INSERT INTO accounts SELECT g, CASE WHEN g % 10 = 0 THEN '{"name": "a\\u0000b"}'
            ELSE '{"theme": "dark"}' END::json FROM generate_series(1, 50) g;
        """
    )
    findings, _ = checked(database.dsn)
    fix = {f.object: f for f in findings if f.rule == "json-instead-of-jsonb"}[
        "public.accounts.prefs"
    ].fix
    assert fix is not None
    listing, convert = fix.statements
    assert any("holds \\u0000" in note for note in fix.notes)
    with database.admin() as admin:
        assert len(admin.execute(listing).fetchall()) == 5
    [(_, error)] = apply_script(database.dsn, convert).failures
    assert "unsupported Unicode escape sequence" in error
    with database.admin() as admin:
        admin.execute('UPDATE accounts SET prefs = \'{"name": "ab"}\' WHERE id % 10 = 0')
        assert admin.execute(listing).fetchall() == []
    assert apply_script(database.dsn, convert).failures == []


def test_text_ids_that_do_not_read_as_the_keys_type_are_listed_above_the_conversion(
    database,
) -> None:
    """`comments.account_id text` against `accounts.id bigint`: '' for none and 'anon'
    make the conversion fail on a copy with data (a schema-only copy never has them).
    The fix's first query lists exactly those rows; the spaces and signs bigint's input
    reads, and NULL, are not listed. The same for a uuid key, braces and upper case
    included."""
    database.execute(
        """
        CREATE TABLE accounts (id bigint PRIMARY KEY);
        CREATE TABLE comments (id int PRIMARY KEY, account_id text);
        INSERT INTO comments VALUES (1, '12'), (2, ' 7 '), (3, ''), (4, 'anon'), (5, NULL),
            (6, '+3');
        CREATE TABLE lessons (id uuid PRIMARY KEY);
        CREATE TABLE progress (id int PRIMARY KEY, lesson_id varchar(40));
        INSERT INTO progress VALUES (1, 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'),
            (2, '{a0eebc999c0b4ef8bb6d6bb9bd380a11}'), (3, 'lesson-1');
        """
    )
    findings, _ = checked(database.dsn)
    found = {f.object: f for f in findings if f.rule == "fk-type-mismatch"}
    for column, table, bad in (
        ("public.comments.account_id", "comments", [3, 4]),
        ("public.progress.lesson_id", "progress", [3]),
    ):
        fix = found[column].fix
        assert fix is not None
        listing, convert = fix.statements
        with database.admin() as admin:
            assert sorted(row[0] for row in admin.execute(listing).fetchall()) == bad
        assert apply_script(database.dsn, convert).failures != []
        with database.admin() as admin:
            admin.execute(f"DELETE FROM {table} WHERE id = ANY(%s)", [bad])
            assert admin.execute(listing).fetchall() == []
        assert apply_script(database.dsn, convert).failures == []


def test_repeated_ids_are_listed_above_the_key_built_on_them(database) -> None:
    """A table keyed by nothing but an `id` column that rows repeat: the unique index the
    key is built from fails on a copy with data (a schema-only copy never has repeats).
    The fix's first query lists exactly the repeated values."""
    database.execute(
        """
        CREATE TABLE events (id int NOT NULL, payload text);
        INSERT INTO events VALUES (1, 'a'), (2, 'b'), (2, 'c'), (3, 'd'), (3, 'e'), (3, 'f');
        """
    )
    findings, _ = checked(database.dsn)
    fix = {f.object: f for f in findings if f.rule == "missing-primary-key"}["public.events"].fix
    assert fix is not None
    listing, build, promote = fix.statements
    with database.admin() as admin:
        assert sorted(admin.execute(listing).fetchall()) == [(2, 2), (3, 3)]
    assert apply_script(database.dsn, build).failures != []
    with database.admin() as admin:
        admin.execute("DROP INDEX IF EXISTS events_pkey")  # left invalid by the failed build
        admin.execute("DELETE FROM events WHERE payload IN ('c', 'e', 'f')")
        assert admin.execute(listing).fetchall() == []
    assert apply_script(database.dsn, f"{build}\n{promote}").failures == []


def test_a_django_schema_is_told_how_django_builds_an_index_concurrently(database) -> None:
    """Django runs each migration in a transaction, where the CONCURRENTLY of the fix
    fails: the script says to write it as AddIndexConcurrently in a migration with
    `atomic = False` (NetBox's schema, built by `manage.py migrate`); a schema no tool
    keeps gets no such note."""
    tables = (
        "CREATE TABLE dcim_site (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY);"
        "CREATE TABLE dcim_rack (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
        " site_id bigint NOT NULL REFERENCES dcim_site DEFERRABLE INITIALLY DEFERRED);"
    )
    database.execute(tables)

    def script() -> str:  # as the report writes it, with the migration tools it found
        return build_report(analyse(take_snapshot(database.dsn))).scripts.fix

    plain = script()
    assert "CREATE INDEX CONCURRENTLY" in plain
    assert "Django" not in plain
    database.execute(
        "CREATE TABLE django_migrations (id bigint GENERATED BY DEFAULT AS IDENTITY"
        " PRIMARY KEY, app varchar(255) NOT NULL, name varchar(255) NOT NULL,"
        " applied timestamptz NOT NULL)"
    )
    django = script()
    assert "-- Migrations: this schema is kept by Django (public.django_migrations)" in django
    assert "AddIndexConcurrently" in django and "`atomic = False`" in django


def test_each_tool_that_runs_migrations_in_a_transaction_says_how_to_step_out() -> None:
    """The tools' own ways to run CONCURRENTLY, only where the script has it and the tool
    keeps the schema; a tool named only among others (schema_migrations) gets none."""
    ways = {
        "Django (public.django_migrations)": "AddIndexConcurrently",
        "Rails (public.ar_internal_metadata)": "disable_ddl_transaction!",
        "Alembic (public.alembic_version)": "autocommit_block()",
        "Liquibase (public.databasechangelog)": "runInTransaction:false",
        "golang-migrate (public.schema_migrations)": "x-multi-statement=true",
    }
    for tool, way in ways.items():
        assert way in migration_note([tool], concurrently=True), tool
        assert way not in migration_note([tool], concurrently=False), tool
    shared = migration_note(
        ["Rails, golang-migrate, dbmate or Ecto (public.schema_migrations)"], True
    )
    assert not any(way in shared for way in ways.values())
