"""missing-foreign-key's fix, applied to a real database: the key it adds comes with the
index that `unindexed-foreign-key` asks for (unless one already serves the lookup), so
neither rule fires on the column afterwards, and the rollback restores the schema
exactly (`pg_dump --schema-only` compared)."""

from __future__ import annotations

import re
from pathlib import Path

import psycopg

from pgvitals.findings import Finding
from pgvitals.report import Scripts, fix_scripts
from pgvitals.testing import flush_statistics
from tests.test_fixes import apply_script, checked, schema_dump, take_snapshot
from tests.test_verify import assert_passed, verified
from tests.workload.conftest import require

REFERENCES = """
CREATE TABLE teachers (id int PRIMARY KEY);
INSERT INTO teachers SELECT generate_series(1, 5);
-- plain, with rows the key validates
CREATE TABLE lessons (id int PRIMARY KEY, teacher_id int, starts_at date);
INSERT INTO lessons SELECT g, 1 + g % 5, NULL FROM generate_series(1, 50) g;
-- covered: an index leads with the column, so the fix builds none
CREATE TABLE slots (id int PRIMARY KEY, teacher_id int, starts_at date);
CREATE INDEX slots_by_teacher ON slots (teacher_id, starts_at);
-- hard names
CREATE SCHEMA "Mixed Case";
CREATE TABLE "Mixed Case".people (id uuid PRIMARY KEY);
CREATE TABLE "Mixed Case"."Weird""Name" (id int PRIMARY KEY, "personId" uuid);
-- composite: the key completed by a shared tenant reference; the new index on
-- (tenant_id, course_id) serves the declared key on tenant_id as well
CREATE TABLE tenants (id int PRIMARY KEY);
CREATE TABLE courses (tenant_id int REFERENCES tenants, id int, PRIMARY KEY (tenant_id, id));
CREATE TABLE enrolments (id int PRIMARY KEY, tenant_id int REFERENCES tenants, course_id int);
-- partitioned, sub-partitioned: no partition has an index on the column (a plain
-- CREATE INDEX on the parent builds them all) ...
CREATE TABLE visits (at int NOT NULL, teacher_id int) PARTITION BY RANGE (at);
CREATE TABLE visits_1 PARTITION OF visits FOR VALUES FROM (0) TO (10);
CREATE TABLE visits_2 PARTITION OF visits FOR VALUES FROM (10) TO (20) PARTITION BY RANGE (at);
CREATE TABLE visits_2a PARTITION OF visits_2 FOR VALUES FROM (10) TO (20);
INSERT INTO visits SELECT g % 20, 1 + g % 5 FROM generate_series(1, 40) g;
-- ... and one has: the parent's index is made ON ONLY, each partition's CONCURRENTLY
CREATE TABLE "Calls" (at int NOT NULL, teacher_id int) PARTITION BY RANGE (at);
CREATE TABLE "Calls 1" PARTITION OF "Calls" FOR VALUES FROM (0) TO (10);
CREATE TABLE "Calls 2" PARTITION OF "Calls" FOR VALUES FROM (10) TO (20);
CREATE INDEX own_teacher ON "Calls 2" (teacher_id);
"""

FIXED = {
    "public.lessons.teacher_id",
    "public.slots.teacher_id",
    'Mixed Case.Weird"Name.personId',
    "public.enrolments",
    "public.visits.teacher_id",
    "public.Calls.teacher_id",
}


def findings_of(dsn: str, *rules: str) -> list[Finding]:
    return [f for f in checked(dsn)[0] if f.rule in rules]


def indexes_of(dsn: str, table: str) -> list[str]:
    snapshot = take_snapshot(dsn)
    return sorted(i.name for i in snapshot.indexes if (i.schema, i.table) == ("public", table))


def test_the_foreign_key_fix_indexes_the_column_and_rolls_back_exactly(database) -> None:
    database.execute(REFERENCES)
    dsn = database.dsn
    findings, _ = checked(dsn)
    missing = [f for f in findings if f.rule == "missing-foreign-key"]
    assert {f.object for f in missing} == FIXED
    risks = {f.object: f.fix.risk for f in missing if f.fix}
    # CREATE INDEX CONCURRENTLY cannot run in a transaction block; the key alone can
    assert not risks["public.lessons.teacher_id"].transactional
    assert not risks["public.Calls.teacher_id"].transactional
    assert risks["public.slots.teacher_id"].transactional
    # a partitioned table's too: ON ONLY the parent, CONCURRENTLY on each partition
    assert not risks["public.visits.teacher_id"].transactional
    assert {risk.lock for risk in risks.values()} == {"SHARE ROW EXCLUSIVE"}
    # only these fixes, as fix.sql writes them (and rollback.sql undoes them)
    scripts = fix_scripts(missing, take_snapshot(dsn).server)
    slots_indexes = indexes_of(dsn, "slots")
    before = schema_dump(database.server, database.name)

    applied = apply_script(dsn, scripts.fix)
    assert applied.failures == []
    assert findings_of(dsn, "missing-foreign-key", "unindexed-foreign-key") == []
    assert indexes_of(dsn, "slots") == slots_indexes  # covered: no second index

    rolled_back = apply_script(dsn, scripts.rollback)
    assert rolled_back.failures == []
    assert schema_dump(database.server, database.name) == before


def fixed_after_lookups(database, setup: str, lookup: str, index: str) -> tuple[Scripts, str]:
    """After `setup` and three calls of `lookup`, the key's fix and the query advice's
    both build `index`; fix.sql runs whole and resolves the reference. The scripts and
    the schema as it was, for the rollback."""
    database.execute(setup)
    with database.admin() as app:
        for key in range(1, 4):
            app.execute(lookup, [key])
        flush_statistics(app)
    findings, scripts = checked(database.dsn)
    building = {f.rule for f in findings if f.fix and f'"{index}"' in f.fix.sql}
    assert building == {"missing-foreign-key", "missing-index-for-query"}
    before = schema_dump(database.server, database.name)
    assert apply_script(database.dsn, scripts.fix).failures == []
    assert findings_of(database.dsn, "missing-foreign-key", "unindexed-foreign-key") == []
    return scripts, before


def assert_rolled_back(database, scripts: Scripts, before: str) -> None:
    assert apply_script(database.dsn, scripts.rollback).failures == []
    assert schema_dump(database.server, database.name) == before


def test_an_index_that_query_advice_shares_is_built_once(database) -> None:
    # missing-index-for-query advises the same index, under the same name, for the
    # application's lookups by the column: the key's fix, which runs after it, must
    # neither fail on it nor depend on it (a reviewer may leave the other fix out)
    require(database, "pg_stat_statements")
    scripts, before = fixed_after_lookups(
        database,
        """
        CREATE TABLE teachers (id int PRIMARY KEY);
        INSERT INTO teachers SELECT generate_series(1, 2000);
        CREATE TABLE lessons (id int PRIMARY KEY, teacher_id int);
        INSERT INTO lessons SELECT g, 1 + g % 2000 FROM generate_series(1, 20000) g;
        ANALYZE teachers, lessons;
        """,
        "SELECT id FROM lessons WHERE teacher_id = %s",
        "lessons_teacher_id_idx",
    )
    assert_rolled_back(database, scripts, before)
    # each fix builds the index itself, and skips it where the other's ran first
    assert (
        scripts.fix.count('CREATE INDEX CONCURRENTLY IF NOT EXISTS "lessons_teacher_id_idx"') == 2
    )
    assert 'CREATE INDEX CONCURRENTLY "lessons_teacher_id_idx"' not in scripts.fix


def test_a_partitioned_index_that_query_advice_shares_is_built_once(database) -> None:
    # pagila's payment: the key's fix and the advice's build the same partitioned index
    # in the same tier of fix.sql, in either order; the second skipped nothing and
    # failed with "relation payment_customer_id_idx already exists"
    require(database, "pg_stat_statements")
    require(database, "hypopg")
    scripts, before = fixed_after_lookups(
        database,
        """
        CREATE EXTENSION IF NOT EXISTS hypopg;
        CREATE TABLE customers (id int PRIMARY KEY);
        INSERT INTO customers SELECT generate_series(1, 5000);
        CREATE TABLE payments (id int NOT NULL, customer_id int NOT NULL, at int NOT NULL)
          PARTITION BY RANGE (at);
        CREATE TABLE payments_1 PARTITION OF payments FOR VALUES FROM (0) TO (10);
        CREATE TABLE payments_2 PARTITION OF payments FOR VALUES FROM (10) TO (20);
        INSERT INTO payments SELECT g, 1 + g % 5000, g % 20 FROM generate_series(1, 30000) g;
        ANALYZE customers, payments;
        """,
        "SELECT id FROM payments WHERE customer_id = %s",
        "payments_customer_id_idx",
    )
    assert indexes_of(database.dsn, "payments_1") == ["payments_1_customer_id_idx"]
    assert_rolled_back(database, scripts, before)


def test_new_partitions_and_a_partition_s_own_key_do_not_break_the_table_s_index(
    database,
) -> None:
    # pagila's payment: fix.sql created the coming months' partitions before the fix
    # that indexes the table listed its partitions, so the table's index stayed invalid
    # (invalid-index, and the key on it unindexed); and a partition's own key built a
    # second index on the column beside the one the table's index attached. The bounds,
    # made from now(), have microseconds: the next partition starts exactly there
    database.execute(
        """
        CREATE TABLE customers (id int PRIMARY KEY);
        INSERT INTO customers SELECT generate_series(1, 50);
        CREATE TABLE payments (id int NOT NULL, customer_id int NOT NULL,
          paid_at timestamptz NOT NULL) PARTITION BY RANGE (paid_at);
        CREATE TABLE payments_old PARTITION OF payments
          FOR VALUES FROM (now() - interval '60 days') TO (now() + interval '1 day');
        CREATE TABLE payments_older PARTITION OF payments
          FOR VALUES FROM (now() - interval '120 days') TO (now() - interval '60 days');
        ALTER TABLE payments_old ADD FOREIGN KEY (customer_id) REFERENCES customers;
        INSERT INTO payments SELECT g, 1 + g % 50, now() - g * interval '1 hour'
          FROM generate_series(1, 500) g;
        ANALYZE customers, payments;
        """
    )
    findings, scripts = checked(database.dsn)
    rules = {f.rule for f in findings if f.fix}
    assert {"partition-coverage", "missing-foreign-key", "unindexed-foreign-key"} <= rules
    fix = scripts.fix
    assert fix.index("PARTITION OF") > fix.index('ON ONLY "public"."payments"')
    before = schema_dump(database.server, database.name)
    assert apply_script(database.dsn, scripts.fix).failures == []
    with psycopg.connect(database.dsn) as session:
        valid = session.execute(
            "SELECT indisvalid FROM pg_index"
            " WHERE indexrelid = 'payments_customer_id_idx'::regclass"
        ).fetchone()
    assert valid == (True,)
    assert indexes_of(database.dsn, "payments_old") == ["payments_old_customer_id_idx"]
    assert (
        findings_of(database.dsn, "invalid-index", "duplicate-index", "unindexed-foreign-key") == []
    )
    assert apply_script(database.dsn, scripts.rollback).failures == []
    assert schema_dump(database.server, database.name) == before


def test_two_keys_whose_names_shorten_alike_get_different_names(database) -> None:
    # PostgreSQL keeps 63 bytes of a name: `<table>_<column>_fkey` for these two columns
    # shortens to the same text, and the second ADD CONSTRAINT failed with "already exists"
    database.execute(
        """
        CREATE TABLE shipping_partner_regional_warehouse_alpha (id int PRIMARY KEY);
        CREATE TABLE shipping_partner_regional_warehouse_bravo (id int PRIMARY KEY);
        CREATE TABLE consolidated_international_deliveries (
            id int PRIMARY KEY,
            shipping_partner_regional_warehouse_alpha_id int,
            shipping_partner_regional_warehouse_bravo_id int);
        """
    )
    dsn = database.dsn
    missing = findings_of(dsn, "missing-foreign-key")
    assert len(missing) == 2
    names = {re.search(r'ADD CONSTRAINT ("[^"]+")', f.fix.sql)[1] for f in missing if f.fix}
    assert len(names) == 2, names
    scripts = fix_scripts(missing, take_snapshot(dsn).server)
    before = schema_dump(database.server, database.name)
    assert apply_script(dsn, scripts.fix).failures == []
    assert findings_of(dsn, "missing-foreign-key") == []
    assert apply_script(dsn, scripts.rollback).failures == []
    assert schema_dump(database.server, database.name) == before


def test_a_reference_inside_a_composite_one_gets_only_the_covering_index(
    database, tmp_path: Path
) -> None:
    # Each reference's fix indexed its own columns: (tenant_id) beside (tenant_id,
    # course_id) left the first redundant, and the next check reported redundant-index on
    # the tool's own fix. The longer index serves both lookups; both fixes build it.
    database.execute(
        """
        CREATE TABLE tenants (id int PRIMARY KEY);
        -- declared (tenant_id), inferred (tenant_id, course_id)
        CREATE TABLE courses (tenant_id int REFERENCES tenants, id int,
            PRIMARY KEY (tenant_id, id));
        CREATE TABLE enrolments (id int PRIMARY KEY, tenant_id int REFERENCES tenants,
            course_id int);
        -- both declared (a column in a declared key is never inferred as well)
        CREATE TABLE "Order Lines" (id int PRIMARY KEY, tenant_id int REFERENCES tenants,
            course_id int, FOREIGN KEY (tenant_id, course_id) REFERENCES courses);
        """
    )
    verification = verified(tmp_path, database.dsn)
    assert_passed(verification)
    appeared = [(f["rule"], f["object"]) for f in verification["appeared"]]
    assert appeared == []
    outcomes = {(f["rule"], f["object"]): f["outcome"] for f in verification["findings"]}
    for resolved in (
        ("unindexed-foreign-key", "public.enrolments.enrolments_tenant_id_fkey"),
        ("missing-foreign-key", "public.enrolments"),
        ("unindexed-foreign-key", "public.Order Lines.Order Lines_tenant_id_fkey"),
        ("unindexed-foreign-key", "public.Order Lines.Order Lines_tenant_id_course_id_fkey"),
    ):
        assert outcomes.get(resolved) == "resolved", (resolved, outcomes)


def test_a_shorter_index_the_new_one_makes_redundant_is_named_in_the_fix(
    database, tmp_path: Path
) -> None:
    """Concourse's volumes, by a handle that names no one volume by itself: an index on
    (parent_id) beside a key on (parent_id, parent_state) that no index serves whole.
    (Concourse's own key references (id, state): the index on parent_id, the id of one
    parent, serves it; see the Boundary case in unindexed-foreign-key.yaml.) The fix
    builds the longer index; the shorter one then leads it, and the next check reports
    redundant-index on it (on the fixed copy: "new after the fixes"). The fix says so
    beforehand."""
    database.execute(
        """
        CREATE TABLE volumes (id int PRIMARY KEY, handle int, state text, parent_id int,
            parent_state text, UNIQUE (handle, state),
            FOREIGN KEY (parent_id, parent_state) REFERENCES volumes (handle, state));
        CREATE INDEX volumes_parent_id ON volumes (parent_id);
        INSERT INTO volumes SELECT g, g, 'created', NULL, NULL FROM generate_series(1, 200) g;
        ANALYZE volumes;
        """
    )
    findings, _ = checked(database.dsn)
    [fk] = [f for f in findings if f.rule == "unindexed-foreign-key"]
    assert fk.fix is not None
    assert (
        "volumes_parent_id on (parent_id) leads the new index: once it is built,"
        " redundant-index offers to drop that one"
    ) in fk.fix.notes
    verification = verified(tmp_path, database.dsn)
    assert_passed(verification)
    appeared = [(f["rule"], f["object"]) for f in verification["appeared"]]
    assert appeared == [("redundant-index", "public.volumes_parent_id")]


def test_a_key_beside_keys_that_clean_up_lets_the_application_delete(database) -> None:
    # Ory Kratos deletes identities and sessions relying on its keys to them, all ON
    # DELETE CASCADE or SET NULL; selfservice_verification_flows.identity_id has none. A
    # plain key would make deleting an identity a flow names fail ("violates foreign key
    # constraint"): the fix's key sets the flow's reference NULL, as the delete left it
    # dangling before, and the rest of the flow stays
    database.execute(
        """
        CREATE TABLE identities (id int PRIMARY KEY);
        CREATE TABLE sessions (id int PRIMARY KEY,
          identity_id int NOT NULL REFERENCES identities ON DELETE CASCADE);
        CREATE TABLE verification_flows (id int PRIMARY KEY, identity_id int, state text);
        INSERT INTO identities VALUES (1), (2);
        INSERT INTO sessions VALUES (10, 1), (20, 2);
        INSERT INTO verification_flows VALUES (100, 1, 'sent_email'), (200, 2, 'sent_email');
        """
    )
    findings, _ = checked(database.dsn)
    missing = [f for f in findings if f.rule == "missing-foreign-key"]
    assert [f.object for f in missing] == ["public.verification_flows.identity_id"]
    scripts = fix_scripts(missing, take_snapshot(database.dsn).server)
    before = schema_dump(database.server, database.name)
    assert apply_script(database.dsn, scripts.fix).failures == []
    with database.admin() as app:
        app.execute("DELETE FROM identities WHERE id = 1")  # as the application does
        rows = app.execute("SELECT id, identity_id FROM verification_flows ORDER BY id")
        assert rows.fetchall() == [(100, None), (200, 2)]
        assert app.execute("SELECT count(*) FROM sessions").fetchone() == (1,)
    assert_rolled_back(database, scripts, before)
