"""The activity rules' rationale, shown on a real server (see tests/test_rationale.py)."""

from __future__ import annotations

import psycopg


def counters(connection: psycopg.Connection, table: str, *names: str) -> tuple[int, ...]:
    """pg_stat_user_tables counters of `table`, after flushing this session's own."""
    connection.execute("SELECT pg_stat_force_next_flush()")
    connection.execute("SELECT 1")  # the flush happens when the previous statement ends
    columns = ", ".join(names)
    row = connection.execute(
        f"SELECT {columns} FROM pg_stat_user_tables WHERE relname = %s", [table]
    ).fetchone()
    assert row is not None
    return tuple(row)


# unused-table


def test_every_index_build_counts_a_sequential_scan_that_reads_nothing(database) -> None:
    with database.admin() as admin:
        admin.execute("CREATE TABLE badges (id int PRIMARY KEY, code text UNIQUE)")
        assert counters(admin, "badges", "seq_scan", "seq_tup_read") == (2, 0)
        admin.execute("SELECT * FROM badges")  # a real read of the empty table
        assert counters(admin, "badges", "seq_scan", "seq_tup_read") == (3, 0)


# aborted-writes, cleared-table


def test_rolled_back_inserts_are_counted_and_truncate_is_no_delete(database) -> None:
    with database.admin() as admin:
        admin.execute("CREATE TABLE tags (id int PRIMARY KEY)")
        with admin.transaction(force_rollback=True):
            admin.execute("INSERT INTO tags SELECT generate_series(1, 100)")
        admin.execute("INSERT INTO tags SELECT generate_series(1, 50)")
        assert counters(admin, "tags", "n_tup_ins", "n_live_tup", "n_dead_tup") == (150, 50, 100)
        admin.execute("TRUNCATE tags")
        assert counters(admin, "tags", "n_tup_del", "n_live_tup") == (0, 0)


# update-hot-spot


def test_updating_an_indexed_column_is_never_hot(database) -> None:
    with database.admin() as admin:
        admin.execute(
            "CREATE TABLE streaks (id int PRIMARY KEY, days int, seen int)"
            " WITH (fillfactor = 50);"
            "CREATE INDEX ON streaks (days);"
            "INSERT INTO streaks SELECT g, 0, 0 FROM generate_series(1, 100) g"
        )
        admin.execute("UPDATE streaks SET seen = seen + 1")  # room on the page, no index
        assert counters(admin, "streaks", "n_tup_upd", "n_tup_hot_upd") == (100, 100)
        admin.execute("UPDATE streaks SET days = days + 1")
        assert counters(admin, "streaks", "n_tup_upd", "n_tup_hot_upd") == (200, 100)


def test_a_trigger_that_sets_an_indexed_column_makes_every_update_non_hot(database) -> None:
    # Immich's shape: a BEFORE UPDATE trigger stamps "updateId" (and updated_at) on every
    # update, and "updateId" is indexed. An update of an unindexed column, with room on
    # the page, is HOT without the trigger and never with it.
    with database.admin() as admin:
        admin.execute(
            'CREATE TABLE assets (id int PRIMARY KEY, seen int, "updateId" uuid,'
            " updated_at timestamptz) WITH (fillfactor = 50);"
            'CREATE INDEX ON assets ("updateId");'
            "INSERT INTO assets SELECT g, 0, gen_random_uuid(), now()"
            " FROM generate_series(1, 100) g;"
            "CREATE FUNCTION stamp() RETURNS trigger LANGUAGE plpgsql AS $$"
            ' BEGIN new."updateId" = gen_random_uuid(); NEW.updated_at := now(); RETURN NEW; END $$'
        )
        admin.execute("UPDATE assets SET seen = seen + 1")
        assert counters(admin, "assets", "n_tup_upd", "n_tup_hot_upd") == (100, 100)
        admin.execute(
            "CREATE TRIGGER assets_stamp BEFORE UPDATE ON assets"
            " FOR EACH ROW EXECUTE FUNCTION stamp()"
        )
        admin.execute("UPDATE assets SET seen = seen + 1")
        assert counters(admin, "assets", "n_tup_upd", "n_tup_hot_upd") == (200, 100)
        # the same trigger with the column not indexed: HOT again
        admin.execute('DROP INDEX "assets_updateId_idx"; UPDATE assets SET seen = seen + 1')
        assert counters(admin, "assets", "n_tup_upd", "n_tup_hot_upd") == (300, 200)
        # a partial index whose predicate reads the stamped column: never HOT again
        admin.execute("CREATE INDEX live ON assets (id) WHERE updated_at IS NOT NULL")
        admin.execute("UPDATE assets SET seen = seen + 1")
        assert counters(admin, "assets", "n_tup_upd", "n_tup_hot_upd") == (400, 200)


def test_a_brin_index_on_the_stamped_column_keeps_updates_hot_from_16(database) -> None:
    # the advice for the trigger above: BRIN (a summarizing index) is not counted
    # against HOT from PostgreSQL 16; before, it is as any other index
    with database.admin() as admin:
        admin.execute(
            "CREATE TABLE assets (id int PRIMARY KEY, seen int, updated_at timestamptz)"
            " WITH (fillfactor = 50);"
            "CREATE INDEX ON assets USING brin (updated_at);"
            "INSERT INTO assets SELECT g, 0, now() FROM generate_series(1, 100) g;"
            "CREATE FUNCTION stamp() RETURNS trigger LANGUAGE plpgsql AS $$"
            " BEGIN NEW.updated_at := clock_timestamp(); RETURN NEW; END $$;"
            "CREATE TRIGGER assets_stamp BEFORE UPDATE ON assets"
            " FOR EACH ROW EXECUTE FUNCTION stamp()"
        )
        admin.execute("UPDATE assets SET seen = seen + 1")
        hot = 100 if admin.info.server_version >= 160000 else 0
        assert counters(admin, "assets", "n_tup_upd", "n_tup_hot_upd") == (100, hot)
