"""partition-coverage's fix names the partitions it creates as their siblings are named,
so that a job that looks partitions up by name finds them. Today's date is in the
names, which a YAML case cannot spell."""

from __future__ import annotations

from pgvitals.connect import connect
from pgvitals.engine import analyse
from pgvitals.snapshot.collect import collect

# A partition job of Hatchet's shape (written here from scratch): it names the day's
# partition `<table>_YYYYMMDD`, returns when a table of that name exists, else creates
# it and attaches it, which fails when another partition already covers the day.
DAILY_JOB = """
CREATE FUNCTION create_day(parent text, day date) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    child text := format('%s_%s', parent, to_char(day, 'YYYYMMDD'));
BEGIN
    IF EXISTS (SELECT 1 FROM pg_tables WHERE tablename = child) THEN
        RETURN;
    END IF;
    EXECUTE format('CREATE TABLE %I (LIKE %I)', child, parent);
    EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
        parent, child, day, day + 1);
END $$;
"""


def coverage(database) -> dict[str, dict]:
    session = connect(database.dsn)
    try:
        analysis = analyse(collect(session, profile=None))
    finally:
        session.close()
    return {f.object: f.to_json() for f in analysis.findings if f.rule == "partition-coverage"}


def test_daily_partitions_named_by_their_day_get_the_next_day_named_alike(database) -> None:
    database.execute(
        'CREATE TABLE "Weird""Name" (at timestamptz NOT NULL) PARTITION BY RANGE (at);'
        + DAILY_JOB
        + "SELECT create_day('Weird\"Name', current_date);"
    )
    with database.admin() as admin:
        row = admin.execute(
            "SELECT to_char(current_date + 1, 'YYYYMMDD'), to_char(current_date + 1, 'YYYY-MM-DD')"
        ).fetchone()
    assert row is not None
    tomorrow, tomorrow_date = row
    found = coverage(database)
    assert list(found) == ['public.Weird"Name']
    fix = found['public.Weird"Name']["fix"]
    assert f'CREATE TABLE "public"."Weird""Name_{tomorrow}" PARTITION OF' in fix
    with database.admin() as admin:
        admin.execute(fix)
        # the job finds the partition the fix made, instead of failing on the overlap
        admin.execute("SELECT create_day(%s, %s::date)", ('Weird"Name', tomorrow_date))
        count = admin.execute(
            'SELECT count(*) FROM pg_inherits WHERE inhparent = \'"Weird""Name"\'::regclass'
        ).fetchone()
    assert count == (2,)
