"""Names that fixes give new constraints and partitions are free where PostgreSQL
needs them free, so fix.sql runs (and rollback.sql restores) even where the obvious
name is taken."""

from __future__ import annotations

import re

from pgvitals.findings import Finding
from tests.test_fixes import (
    RoundTrip,
    apply_script,
    assert_restores,
    checked,
    fixes_of,
    round_trip,
    schema_dump,
)


def statements(finding: Finding) -> str:
    assert finding.fix is not None
    return "\n".join(finding.fix.statements)


def test_a_check_takes_a_name_free_on_its_table_and_its_partitions(database) -> None:
    database.execute(
        """
        CREATE SCHEMA archive;
        -- the obvious name is the table's own constraint's
        CREATE TABLE feedback (id int PRIMARY KEY, title text NOT NULL,
            CONSTRAINT feedback_title_not_blank CHECK (title <> 'none'));
        INSERT INTO feedback VALUES (1, ''), (2, 'fine');
        -- and a partition's, in another schema: ADD CONSTRAINT on the parent adds the
        -- CHECK to every partition under the same name
        CREATE TABLE notes (id int NOT NULL, body text NOT NULL) PARTITION BY RANGE (id);
        CREATE TABLE archive.notes_old PARTITION OF notes FOR VALUES FROM (0) TO (100);
        ALTER TABLE archive.notes_old ADD CONSTRAINT notes_body_not_blank CHECK (id > 0);
        INSERT INTO notes VALUES (1, ''), (2, 'fine');
        """
    )
    findings, scripts = checked(database.dsn)
    # as the fix's note asks: VALIDATE fails until the empty rows are filled
    database.execute("UPDATE feedback SET title = 'filled'; UPDATE notes SET body = 'filled'")
    before = schema_dump(database.server, database.name)
    fix = apply_script(database.dsn, scripts.fix)
    rollback = apply_script(database.dsn, scripts.rollback)
    after = schema_dump(database.server, database.name)
    trip = RoundTrip(findings, scripts, fix, rollback, before, after)
    assert_restores(trip)
    found = fixes_of(trip, "empty-string-in-not-null")
    title, body = found["public.feedback.title"], found["public.notes.body"]
    assert 'ADD CONSTRAINT "feedback_title_not_blank1"' in statements(title)
    assert 'ADD CONSTRAINT "notes_body_not_blank1"' in statements(body)


def test_new_partitions_take_names_free_in_their_schema(database) -> None:
    database.execute(
        """
        CREATE TABLE visits (day date NOT NULL) PARTITION BY RANGE (day);
        DO $$ BEGIN
          EXECUTE format('CREATE TABLE visits_now PARTITION OF visits
            FOR VALUES FROM (%L) TO (%L)', date_trunc('month', now())::date,
            (date_trunc('month', now()) + interval '1 month')::date);
          -- an index named like the next month's partition
          EXECUTE format('CREATE INDEX %I ON visits_now (day)',
            'visits_' || to_char(date_trunc('month', now()) + interval '1 month', 'YYYY_MM'));
        END $$;
        -- partitions stopped long ago: the fix offers a DEFAULT one, whose name a view has
        CREATE TABLE logs (at timestamptz NOT NULL) PARTITION BY RANGE (at);
        CREATE TABLE logs_2020_01 PARTITION OF logs
            FOR VALUES FROM ('2020-01-01 00:00+00') TO ('2020-02-01 00:00+00');
        CREATE VIEW logs_default AS SELECT 1 AS one;
        """
    )
    trip = round_trip(database.server, database.name)
    assert_restores(trip)
    found = fixes_of(trip, "partition-coverage")
    created = re.findall(r'^CREATE TABLE "public"\."([^"]+)"', trip.scripts.fix, re.MULTILINE)
    next_month = [name for name in created if name.startswith("visits_")]
    assert len(next_month) == 1 and next_month[0].endswith("_1"), created
    assert 'CREATE TABLE "public"."logs_default1" PARTITION OF' in statements(found["public.logs"])
