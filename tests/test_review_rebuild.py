"""`pgvitals review --base snap.json`: the saved snapshot's schema is rebuilt
(review/rebuild.py) before the new migrations run, as `--base DSN` loads its pg_dump."""

from __future__ import annotations

import json

import psycopg
import pytest

from pgvitals.diff import identity, match_all, schema_drift
from pgvitals.embedded import pg_dump
from pgvitals.review.rebuild import failures, rebuild
from pgvitals.review.run import run_one
from pgvitals.snapshot import io
from pgvitals.snapshot.collect import ProfileBudget
from pgvitals.snapshot.model import Snapshot
from tests.corpus import needs_corpus
from tests.helpers import collected, pgvitals, valid_report
from tests.test_diff import sibling_database
from tests.test_review import not_checked, review, write
from tests.test_snapshot_io import as_saved_before_rebuild_fields

SHOP = """
CREATE TYPE mood_i AS ENUM ('happy', 'sad', 'it''s');
CREATE SCHEMA "Weird.Schema";
CREATE TABLE customers (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  email text NOT NULL UNIQUE, feeling mood_i DEFAULT 'happy', name text COLLATE "C");
CREATE TABLE orders (id serial PRIMARY KEY,
  customer_id bigint NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
  total numeric(10,2) CHECK (total >= 0), placed_at timestamptz DEFAULT now(),
  doubled numeric GENERATED ALWAYS AS (total * 2) STORED);
ALTER TABLE orders ADD CONSTRAINT orders_total_cap CHECK (total < 1000000) NOT VALID;
CREATE INDEX orders_customer ON orders (customer_id);
CREATE TABLE events (id bigint NOT NULL, at timestamptz NOT NULL, what text,
  PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE events_default PARTITION OF events DEFAULT;
CREATE INDEX events_what ON events (what);
CREATE TABLE parent_t (a int, b text);
CREATE TABLE child_t (c int) INHERITS (parent_t);
CREATE TABLE "Weird.Schema"."Tab""le ü" ("select" int, "user" text);
COMMENT ON TABLE "Weird.Schema"."Tab""le ü" IS 'pgvitals: ignore missing-primary-key -- a log';
CREATE FUNCTION next_code() RETURNS text LANGUAGE sql AS $$SELECT 'X' || random()$$;
CREATE TABLE codes (code text DEFAULT next_code());
CREATE UNIQUE INDEX codes_code ON codes (code);
CREATE TABLE coupons (code text REFERENCES codes (code));
CREATE VIEW big_orders AS SELECT id, total FROM orders WHERE total > 100;
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql
  AS $$BEGIN NEW.placed_at := now(); RETURN NEW; END$$;
CREATE TRIGGER orders_touch BEFORE UPDATE ON orders FOR EACH ROW EXECUTE FUNCTION touch();
INSERT INTO customers (email) SELECT 'c' || g FROM generate_series(1, 1000) g;
INSERT INTO orders (customer_id, total)
  SELECT 1 + g % 1000, g % 500 FROM generate_series(1, 5000) g;
ANALYZE;
"""

MIGRATION = """\
ALTER TABLE customers ADD COLUMN code text NOT NULL;
CREATE INDEX customers_name ON customers (name);
CREATE TABLE refunds (id bigint PRIMARY KEY, order_id int);
ALTER TABLE refunds ADD CONSTRAINT refunds_order FOREIGN KEY (order_id) REFERENCES orders (id);
ALTER TABLE "Weird.Schema"."Tab""le ü" ADD COLUMN note text;
"""


def rules_objects(run) -> set[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    report = valid_report(run.json())
    return {(f["rule"], f["object"], f["severity"]) for f in report["findings"]}


def test_a_snapshot_base_gives_the_findings_of_its_database(database, tmp_path) -> None:
    """The same migration reviewed with --base the database and --base its snapshot:
    before the rebuild, every ALTER of an existing table was "not checked" on the
    snapshot base and the migration rules saw no existing table."""
    database.execute(SHOP)
    snapshot = tmp_path / "prod.json"
    assert pgvitals("snapshot", database.dsn, "-o", str(snapshot)).exit_code == 0
    write(tmp_path, {"migrations/V2__changes.sql": MIGRATION})
    server = database.server.dsn()
    live = review(tmp_path, "migrations", "--base", database.dsn, "--server", server)
    saved = review(tmp_path, "migrations", "--base", "prod.json", "--server", server)
    assert live.exit_code == saved.exit_code == 0, saved.stderr
    found = rules_objects(saved)
    assert found == rules_objects(live)
    assert {
        ("migration-required-column", "migrations/V2__changes.sql:1", "high"),
        ("migration-index-not-concurrent", "migrations/V2__changes.sql:2", "low"),
        ("unindexed-foreign-key", "public.refunds.refunds_order", "medium"),
    } <= found
    assert not_checked(saved) == []
    assert saved.json()["baseline"]["resolved"] == []
    reasons = [e["reason"] for e in saved.json()["collection"]["skipped"]]
    assert any("not rebuilt: view public.big_orders: a stand-in" in r for r in reasons)


def test_a_snapshot_base_weighs_hazards_by_its_sizes(database, tmp_path) -> None:
    database.execute(SHOP)
    snapshot = tmp_path / "prod.json"
    assert pgvitals("snapshot", database.dsn, "-o", str(snapshot)).exit_code == 0
    write(
        tmp_path,
        {"V2.sql": "ALTER TABLE orders ADD COLUMN token uuid DEFAULT gen_random_uuid();\n"},
    )
    server = database.server.dsn()
    runs = [
        review(tmp_path, "V2.sql", "--base", base, "--server", server)
        for base in (database.dsn, "prod.json")
    ]
    hazards = [
        [f["evidence"] for f in run.json()["findings"] if f["rule"] == "migration-table-rewrite"]
        for run in runs
    ]
    assert hazards[0] and hazards[0] == hazards[1]
    assert hazards[1][0]["base_rows"] == 5000


def test_a_snapshot_base_has_no_planner_to_bound_a_backfill(database, tmp_path) -> None:
    """A snapshot's sizes weigh a backfill of a whole table; one with a WHERE is left out,
    as with a base of files: no planner holds the snapshot's statistics to estimate the
    rows it matches (most such data fixes touch a few, as the DSN's planner finds here)."""
    database.execute(SHOP)
    database.execute(
        "INSERT INTO orders (customer_id, total) SELECT 1, 1 FROM generate_series(1, 20000);"
        "ANALYZE orders;"
    )
    assert pgvitals("snapshot", database.dsn, "-o", str(tmp_path / "prod.json")).exit_code == 0
    write(tmp_path, {"V2.sql": "UPDATE orders SET placed_at = now();\n"
                               "UPDATE orders SET placed_at = now() WHERE id = 5;\n"})  # fmt: skip
    found = []
    for base in (database.dsn, "prod.json"):
        run = review(tmp_path, "V2.sql", "--base", base, "--server", database.server.dsn())
        rule = "migration-backfill-in-transaction"
        backfills = [f for f in run.json()["findings"] if f["rule"] == rule]
        found.append([(f["object"], f["evidence"].get("work_rows")) for f in backfills])
    assert found == [[("V2.sql:1", 25000)]] * 2


def rebuilt_drift(source: str, target: str) -> tuple[list, list[str]]:
    """Rebuild the snapshot of `source` into the empty database `target`: the schema
    drift between the two, and what was not rebuilt."""
    before = collected(source, profile=ProfileBudget())
    steps, missing = rebuild(before)
    with psycopg.connect(target, autocommit=True) as session:
        missing += failures(steps, lambda statement: run_one(session, statement))
    after = collected(target, profile=ProfileBudget())
    drift = schema_drift(
        before, after, match_all(before, after, identity(before.server, after.server))
    )
    return drift, [item.text for item in missing]


def test_a_rebuilt_snapshot_has_the_schema_it_was_taken_of(database) -> None:
    database.execute(SHOP)
    with sibling_database(database, "rebuilt") as target:
        drift, missing = rebuilt_drift(database.dsn, target)
    # the stand-in view reads the same columns of the same table, by another query
    assert [(d.kind, d.change, d.name, [c.field for c in d.fields]) for d in drift] == [
        ("view", "changed", "public.big_orders", ["query_tree"]),
    ]
    assert [entry.split(":")[0] for entry in missing] == ["view public.big_orders"]


# Every shape of domain, composite type, function and trigger the rebuild reproduces
# exactly: each dependency runs against the order of names (aa_ over zz_), a domain's
# CHECK and DEFAULT call functions, functions take and return domains and composites.
SHAPES = """
CREATE ROLE owner_f NOLOGIN;
CREATE TYPE mood_f AS ENUM ('happy', 'sad');
CREATE FUNCTION is_even_f(n int) RETURNS bool LANGUAGE sql IMMUTABLE AS 'SELECT n % 2 = 0';
CREATE FUNCTION next_even_f() RETURNS int LANGUAGE sql AS 'SELECT 2';
CREATE DOMAIN "Pos""itive" AS numeric(10,2) NOT NULL DEFAULT 1 CHECK (VALUE > 0)
  CONSTRAINT below_cap CHECK (VALUE < 1000000);
CREATE DOMAIN code_f AS text COLLATE "C" DEFAULT 'x' CHECK (VALUE <> '');
ALTER DOMAIN code_f ADD CONSTRAINT code_short CHECK (length(VALUE) < 20) NOT VALID;
ALTER DOMAIN code_f OWNER TO owner_f;
COMMENT ON DOMAIN code_f IS 'a code';
CREATE DOMAIN zz_even_f AS int DEFAULT next_even_f() CHECK (is_even_f(VALUE));
CREATE DOMAIN aa_small_f AS zz_even_f CHECK (VALUE < 100);
CREATE DOMAIN moods_f AS mood_f[];
CREATE DOMAIN happy_f AS mood_f CHECK (VALUE <> 'sad');
CREATE TYPE zz_pair_f AS (a "Pos""itive", b code_f, c text COLLATE "POSIX", d aa_small_f);
CREATE TYPE aa_pairs_f AS (items zz_pair_f[], mood happy_f);
COMMENT ON TYPE zz_pair_f IS 'two';
ALTER TYPE aa_pairs_f OWNER TO owner_f;
CREATE TABLE held_f (id int PRIMARY KEY, price "Pos""itive", code code_f, moods moods_f,
  mood happy_f, small aa_small_f, codes code_f[], p zz_pair_f, ps aa_pairs_f);
CREATE FUNCTION defaults_f(a int, b text DEFAULT 'x', VARIADIC c int[] DEFAULT '{}')
  RETURNS int LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE COST 7 AS 'SELECT a';
CREATE FUNCTION outs_f(a int, OUT b int, INOUT c text) LANGUAGE sql AS 'SELECT a, c';
CREATE FUNCTION set_f(n int) RETURNS SETOF int LANGUAGE sql STABLE ROWS 42
  PARALLEL RESTRICTED AS 'SELECT generate_series(1, n)';
CREATE FUNCTION table_f(n int) RETURNS TABLE (x int, y text) LANGUAGE sql
  AS 'SELECT 1, ''a''';
CREATE FUNCTION leak_f(a int, b int) RETURNS bool LANGUAGE sql IMMUTABLE LEAKPROOF
  AS 'SELECT a = b';
CREATE FUNCTION typed_f(p zz_pair_f, c code_f DEFAULT 'y') RETURNS "Pos""itive"
  LANGUAGE sql STRICT AS 'SELECT (p).a';
CREATE PROCEDURE proc_f(a int, INOUT b text DEFAULT 'z') LANGUAGE sql AS 'SELECT 1';
CREATE FUNCTION fired_f() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
CREATE TRIGGER when_f BEFORE UPDATE OF code, price ON held_f FOR EACH ROW
  WHEN (OLD.code IS DISTINCT FROM NEW.code) EXECUTE FUNCTION fired_f('it''s', '2');
CREATE TRIGGER moved_f AFTER INSERT ON held_f REFERENCING NEW TABLE AS added
  FOR EACH STATEMENT EXECUTE FUNCTION fired_f();
CREATE TRIGGER changed_f AFTER UPDATE ON held_f REFERENCING OLD TABLE AS was NEW TABLE AS now
  FOR EACH STATEMENT EXECUTE FUNCTION fired_f();
CREATE CONSTRAINT TRIGGER late_f AFTER INSERT OR UPDATE ON held_f
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION fired_f();
CREATE TRIGGER replica_f BEFORE DELETE ON held_f FOR EACH ROW EXECUTE FUNCTION fired_f();
ALTER TABLE held_f ENABLE REPLICA TRIGGER replica_f;
CREATE TRIGGER always_f BEFORE DELETE ON held_f FOR EACH ROW EXECUTE FUNCTION fired_f();
ALTER TABLE held_f ENABLE ALWAYS TRIGGER always_f;
CREATE TRIGGER off_f BEFORE INSERT ON held_f FOR EACH ROW EXECUTE FUNCTION fired_f();
ALTER TABLE held_f DISABLE TRIGGER off_f;
"""


def rebuilt_and_original_dumps(database) -> tuple[list[str], list[str]]:  # type: ignore[no-untyped-def]
    """The schema dumps of the database rebuilt from its snapshot and of the database,
    after checking that nothing drifted and nothing was named as not rebuilt."""
    with sibling_database(database, "rebuilt") as target:
        drift, missing = rebuilt_drift(database.dsn, target)
        rebuilt = schema_dump(database, target)
    assert missing == []
    assert drift == []
    return rebuilt, schema_dump(database, database.dsn)


def schema_dump(database, dsn: str) -> list[str]:  # type: ignore[no-untyped-def]
    """pg_dump --schema-only by the server's own pg_dump, less the lines that name no
    object (a dump's random `\\restrict` key, PostgreSQL 17.6+)."""
    dumped = pg_dump(database.server.bin_dir, dsn, "--schema-only")
    return [line for line in dumped.splitlines() if not line.startswith("\\")]


def test_domains_composite_types_functions_and_triggers_are_rebuilt_exactly(database) -> None:
    """The dump of the rebuilt database is the dump of the one the snapshot was taken of:
    functions kept their defaults, OUT arguments, SETOF and TABLE results, STRICT,
    LEAKPROOF, COST, ROWS and PARALLEL; triggers their WHEN, UPDATE OF columns,
    arguments, transition tables, deferral and how they fire; columns of domains and
    composite types their types, with each domain's checks, default, NOT NULL and
    collation. Before, the functions and triggers lost all that and the table failed."""
    database.execute(SHAPES)
    rebuilt, original = rebuilt_and_original_dumps(database)
    assert "CREATE CONSTRAINT TRIGGER late_f" in "\n".join(original)
    assert rebuilt == original


# Range types (a subtype_diff of the user's, a collation, an operator class, a subtype
# that is an enum or a domain, multiranges named or not) in domains, composite types,
# function arguments and columns, and aggregates (group_concat as pagila has it, a final
# function, an initial condition, a sort operator, a moving mode, ordered-set and
# hypothetical-set, no arguments): each dependency runs against the order of names.
RANGES_AND_AGGREGATES = """
CREATE ROLE owner_ra NOLOGIN;
CREATE TYPE mood_ra AS ENUM ('happy', 'sad');
CREATE DOMAIN pos_ra AS int CHECK (VALUE > 0);
CREATE FUNCTION time_diff_ra(x time, y time) RETURNS float8 LANGUAGE sql IMMUTABLE STRICT
  AS 'SELECT EXTRACT(EPOCH FROM (x - y))';
CREATE TYPE zz_timerange_ra AS RANGE (subtype = time, subtype_diff = time_diff_ra);
CREATE TYPE textrange_ra AS RANGE (subtype = text, collation = "C",
  multirange_type_name = text_spans_ra);
CREATE TYPE "Odd""range" AS RANGE (subtype = text, subtype_opclass = text_pattern_ops);
CREATE TYPE floatrange_ra AS RANGE (subtype = float8, subtype_diff = float8mi);
CREATE TYPE moods_ra AS RANGE (subtype = mood_ra);
CREATE TYPE posrange_ra AS RANGE (subtype = pos_ra);
COMMENT ON TYPE textrange_ra IS 'texts';
ALTER TYPE zz_timerange_ra OWNER TO owner_ra;
CREATE DOMAIN aa_shift_ra AS zz_timerange_ra CHECK (NOT isempty(VALUE));
CREATE DOMAIN spans_ra AS text_spans_ra;
CREATE TYPE pair_ra AS (during zz_timerange_ra, spans text_spans_ra[]);
CREATE FUNCTION shift_hours_ra(s aa_shift_ra) RETURNS float8 LANGUAGE sql IMMUTABLE
  AS 'SELECT time_diff_ra(upper(s), lower(s)) / 3600';
CREATE TABLE booked_ra (id int PRIMARY KEY, during zz_timerange_ra, shift aa_shift_ra,
  names textrange_ra DEFAULT textrange_ra('a', 'b'), spans text_spans_ra,
  odd "Odd""range", many zz_timerange_ra[], pair pair_ra, f floatrange_ra, m moods_ra,
  p posrange_ra, s spans_ra, EXCLUDE USING gist (during WITH &&));
CREATE FUNCTION _group_concat(text, text) RETURNS text LANGUAGE sql IMMUTABLE
  AS $$SELECT CASE WHEN $2 IS NULL THEN $1 WHEN $1 IS NULL THEN $2
               ELSE $1 || ', ' || $2 END$$;
CREATE AGGREGATE group_concat(text) (SFUNC = _group_concat, STYPE = text);
CREATE AGGREGATE zz_upper_ra(text) (SFUNC = _group_concat, STYPE = text, FINALFUNC = upper,
  INITCOND = '');
COMMENT ON AGGREGATE zz_upper_ra(text) IS 'up';
ALTER AGGREGATE zz_upper_ra(text) OWNER TO owner_ra;
CREATE AGGREGATE pct_ra(float8 ORDER BY float8) (SFUNC = ordered_set_transition,
  STYPE = internal, FINALFUNC = percentile_disc_final, FINALFUNC_EXTRA);
CREATE AGGREGATE rank_ra(VARIADIC "any" ORDER BY VARIADIC "any") (
  SFUNC = ordered_set_transition_multi, STYPE = internal, FINALFUNC = rank_final,
  FINALFUNC_EXTRA, HYPOTHETICAL);
CREATE AGGREGATE max_ra(int) (SFUNC = int4larger, STYPE = int, SORTOP = >,
  COMBINEFUNC = int4larger, PARALLEL = SAFE);
CREATE AGGREGATE sum_ra(int) (SFUNC = int4pl, STYPE = int, INITCOND = '0', SSPACE = 8,
  MSFUNC = int4pl, MINVFUNC = int4mi, MSTYPE = int, MINITCOND = '0');
CREATE AGGREGATE "count ra"(*) (SFUNC = int8inc, STYPE = int8, INITCOND = '0');
CREATE AGGREGATE hull_ra(zz_timerange_ra) (SFUNC = range_merge, STYPE = zz_timerange_ra);
"""


def test_an_aggregate_of_changed_privileges_is_named(database) -> None:
    """Who may call an aggregate is not held: one whose EXECUTE was revoked from PUBLIC
    is named, not rebuilt callable by everyone in silence."""
    database.execute(
        "CREATE AGGREGATE open_ra(text) (SFUNC = textcat, STYPE = text);"
        "CREATE AGGREGATE closed_ra(text) (SFUNC = textcat, STYPE = text);"
        "REVOKE EXECUTE ON FUNCTION closed_ra(text) FROM PUBLIC;"
    )
    with sibling_database(database, "rebuilt") as target:
        _, missing = rebuilt_drift(database.dsn, target)
    assert [entry.split(":")[0] for entry in missing] == [
        "grants on aggregate public.closed_ra(text)"
    ]


def test_range_types_and_aggregates_are_rebuilt_exactly(database) -> None:
    """The dump of the rebuilt database is the dump of the one the snapshot was taken of.
    Before, a table with a column of a range type was rejected (the type was not held),
    each of the range's constructors (the server's own, language internal) was named as
    a function not rebuilt, and the aggregates were silently missing."""
    database.execute(RANGES_AND_AGGREGATES)
    snapshot = collected(database.dsn, profile=ProfileBudget())
    rebuilt, original = rebuilt_and_original_dumps(database)
    assert sorted(f.name for f in snapshot.functions) == [
        "_group_concat", "shift_hours_ra", "time_diff_ra"
    ]  # fmt: skip
    assert len(snapshot.range_types) == 6 and len(snapshot.aggregates) == 8
    dumped = "\n".join(original)
    assert "CREATE AGGREGATE public.group_concat(text)" in dumped
    assert "CREATE TYPE public.zz_timerange_ra AS RANGE" in dumped
    assert rebuilt == original


def test_an_older_snapshot_is_rebuilt_as_far_as_it_holds(database) -> None:
    """A snapshot saved before domains and the functions' and triggers' definitions were
    collected is rebuilt as before, and says what it cannot rebuild: the domain's column
    of its base type, the functions without their declared signatures, the triggers
    without their WHEN and arguments, and the aggregates it does not hold."""
    database.execute(
        SHOP + "CREATE DOMAIN positive_o AS int CHECK (VALUE > 0);"
        "CREATE TABLE graded_o (grade positive_o);"
    )
    data = json.loads(io.to_json(collected(database.dsn, profile=ProfileBudget())))
    as_saved_before_rebuild_fields(data)
    steps, missing = rebuild(io.from_dict(data))
    with (
        sibling_database(database, "rebuilt") as target,
        psycopg.connect(target, autocommit=True) as session,
    ):
        missing += failures(steps, lambda statement: run_one(session, statement))
    assert [entry.text.split(":")[0] for entry in missing] == [
        "column public.graded_o.grade",
        "view public.big_orders",
        "functions",
        "triggers",
        "aggregates",
    ]
    assert "older pgvitals" in missing[-1].text


def test_a_function_of_a_standard_body_is_named_not_rebuilt(database) -> None:
    """A BEGIN ATOMIC or RETURN body is held by the server as a node tree, which the
    collection does not deparse (that locks the tables it reads): its prosrc is empty,
    and such a function was rebuilt with an empty body."""
    database.execute(
        "CREATE TABLE counted_s (id int);"
        "CREATE FUNCTION returned_s(n int) RETURNS int LANGUAGE sql RETURN n + 1;"
        "CREATE FUNCTION atomic_s() RETURNS bigint LANGUAGE sql"
        " BEGIN ATOMIC SELECT count(*) FROM counted_s; END;"
    )
    steps, missing = rebuild(collected(database.dsn))
    assert [entry.text.split(":")[0] for entry in missing] == [
        "function public.atomic_s()",
        "function public.returned_s(n integer)",
    ]
    assert not any("_s(" in step.sql for step in steps)


@needs_corpus
@pytest.mark.parametrize("name", ["pagila", "chinook", "lago"])
def test_corpus_schemas_rebuild_without_drift(corpus_copy, name: str) -> None:
    """Real schemas: what is rebuilt has no drift; what is not is named (pagila: its
    views, and a domain's column; lago: its views)."""
    copy = corpus_copy(name)
    with sibling_database(copy, "rebuilt") as target:
        drift, missing = rebuilt_drift(copy.dsn, target)
    unexplained = [d for d in drift if not any(f" {d.name}: " in entry for entry in missing)]
    assert unexplained == [], missing


@needs_corpus
def test_pagila_rebuilds_with_no_step_failing(corpus_copy) -> None:
    """pagila's domains (one over bigint named in Turkish, `year` with its CHECK), its
    set-returning functions with OUT arguments, its triggers, one with arguments for
    tsvector_update_trigger, and its aggregate group_concat (which went missing): every
    step runs, and only the views are stand-ins."""
    copy = corpus_copy("pagila")
    before = collected(copy.dsn, profile=ProfileBudget())
    with sibling_database(copy, "rebuilt") as target:
        drift, missing = rebuilt_drift(copy.dsn, target)
        after = collected(target, profile=ProfileBudget())
    assert [entry for entry in missing if ": a stand-in of its name" not in entry] == []
    assert [d for d in drift if d.kind != "view"] == []
    assert {domain.name for domain in after.domains} == {"b\u0131g\u0131nt", "year"}
    assert sorted(t.definition or "" for t in after.triggers) == sorted(
        t.definition or "" for t in before.triggers
    )
    assert any("tsvector_update_trigger('fulltext'" in (t.definition or "") for t in after.triggers)
    assert [a.signature for a in after.aggregates] == ["group_concat(text)"]
    assert [a._replace(oid=0) for a in after.aggregates] == [
        a._replace(oid=0) for a in before.aggregates
    ]


def test_an_unreadable_snapshot_base_is_an_input_error(tmp_path) -> None:
    write(tmp_path, {"a.sql": "SELECT 1;\n", "report.json": '{"format": "pgvitals-report/1"}'})
    (tmp_path / "garbage.json").write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff")
    for name, said in (("garbage.json", "is not JSON"), ("report.json", "not a pgvitals-snapshot")):
        run = pgvitals("review", "a.sql", "--base", name, cwd=tmp_path)
        assert run.exit_code == 2, run.stderr
        assert said in run.stderr
        assert "Traceback" not in run.stderr


def test_hostile_names_are_quoted(database) -> None:
    database.execute(
        'CREATE SCHEMA "a.b""c"; CREATE TABLE "a.b""c"."order" ("select" int PRIMARY KEY,'
        " \"x\"\"y\" text DEFAULT 'it''s');"
        'CREATE INDEX "ix ü" ON "a.b""c"."order" ("x""y");'
        'COMMENT ON COLUMN "a.b""c"."order"."x""y" IS \'pgvitals: ignore x -- it\'\'s ok\';'
    )
    with sibling_database(database, "hostile") as target:
        drift, missing = rebuilt_drift(database.dsn, target)
    assert drift == [] and missing == []


def test_the_rebuild_names_extensions_the_review_server_lacks(database) -> None:
    steps, missing = rebuild(
        collected(database.dsn, profile=ProfileBudget()), available=frozenset()
    )
    assert [m.text for m in missing] == ["extension plpgsql: the review's server does not have it"]
    assert not any("EXTENSION" in step.sql for step in steps)


def test_a_function_revoked_from_public_is_rebuilt_revoked(database) -> None:
    """A new function is executable by PUBLIC: one whose EXECUTE the snapshot's database
    revoked from PUBLIC (security-definer-executable-by-api-role's own fix) was rebuilt
    callable by everyone, a finding the reviewed migrations would have been blamed for."""
    database.execute(
        "CREATE ROLE api_caller_r NOLOGIN;"
        "CREATE FUNCTION secret() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1';"
        "REVOKE EXECUTE ON FUNCTION secret() FROM PUBLIC;"
        "GRANT EXECUTE ON FUNCTION secret() TO api_caller_r;"
        'CREATE PROCEDURE "Weird ""proc"""(n int) LANGUAGE sql AS \'SELECT 1\';'
        'REVOKE EXECUTE ON PROCEDURE "Weird ""proc"""(int) FROM PUBLIC;'
        "CREATE FUNCTION open_to_all() RETURNS int LANGUAGE sql AS 'SELECT 1';"
    )
    with sibling_database(database, "rebuilt") as target:
        _, missing = rebuilt_drift(database.dsn, target)
        after = collected(target, profile=ProfileBudget())
    before = collected(database.dsn, profile=ProfileBudget())

    def granted(snapshot: Snapshot) -> list[tuple[str, str, list[str]]]:
        return sorted((p.name, p.grantee, p.privileges) for p in snapshot.privileges
                      if p.kind == "function")  # fmt: skip

    assert missing == []
    assert granted(before) == [
        ("open_to_all()", "PUBLIC", ["EXECUTE"]),
        ("secret()", "api_caller_r", ["EXECUTE"]),
    ]
    assert granted(after) == granted(before)


def test_a_table_the_server_rejects_is_named_once(database) -> None:
    """A table whose column is of a base type (made by CREATE TYPE from functions in C or
    internal, which the snapshot does not hold) is not rebuilt: that is said once, for
    the table, and what belongs to it (its keys, indexes, comments, trigger, policy,
    owner and grants, a sequence it owns, a foreign key to it) is not tried, rather than
    each named with the server's 'does not exist'."""
    database.execute(
        "CREATE ROLE reader_n NOLOGIN; CREATE ROLE owner_n NOLOGIN;"
        "CREATE TYPE base_n;"
        "CREATE FUNCTION base_n_in(cstring) RETURNS base_n LANGUAGE internal IMMUTABLE STRICT"
        " AS 'int4in';"
        "CREATE FUNCTION base_n_out(base_n) RETURNS cstring LANGUAGE internal IMMUTABLE STRICT"
        " AS 'int4out';"
        "CREATE TYPE base_n (INPUT = base_n_in, OUTPUT = base_n_out, LIKE = int4);"
        "CREATE TABLE held (id serial PRIMARY KEY, p base_n, note text);"
        "CREATE INDEX held_note ON held (note);"
        "COMMENT ON TABLE held IS 'x'; COMMENT ON COLUMN held.note IS 'y';"
        "ALTER TABLE held ENABLE ROW LEVEL SECURITY;"
        "CREATE POLICY held_own ON held USING (note = current_user);"
        "GRANT SELECT ON held TO reader_n; GRANT UPDATE (note) ON held TO reader_n;"
        "ALTER TABLE held OWNER TO owner_n;"
        "CREATE FUNCTION stamp() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;"
        "CREATE TRIGGER held_stamp BEFORE UPDATE ON held FOR EACH ROW EXECUTE FUNCTION stamp();"
        "CREATE TABLE refers (held_id int REFERENCES held (id));"
    )
    with sibling_database(database, "rebuilt") as target:
        _, missing = rebuilt_drift(database.dsn, target)
    assert [entry.split(":")[0] for entry in missing] == [
        # the base type's functions (language internal), whose body the snapshot lacks
        "function public.base_n_in(cstring)",
        "function public.base_n_out(base_n)",
        "table public.held",
        "constraint public.refers.refers_held_id_fkey",
    ]


def test_grants_on_what_is_not_rebuilt_are_not_tried(database) -> None:
    """A foreign table and a function whose body the snapshot does not hold are named
    as not rebuilt once; their grants are not tried after them (each would be the
    server's 'does not exist' again). A rebuilt function's grant still is."""
    database.execute(
        "CREATE ROLE reader_g NOLOGIN;"
        "CREATE FOREIGN DATA WRAPPER nowhere_g; CREATE SERVER far_g FOREIGN DATA WRAPPER nowhere_g;"
        'CREATE FOREIGN TABLE "far.rows" (id int) SERVER far_g;'
        'GRANT SELECT ON "far.rows" TO reader_g;'
        "CREATE FUNCTION lower_g(text) RETURNS text LANGUAGE internal IMMUTABLE AS 'lower';"
        "GRANT EXECUTE ON FUNCTION lower_g(text) TO reader_g;"
        'CREATE FUNCTION "one(g)"() RETURNS int LANGUAGE sql AS $$SELECT 1$$;'
        'GRANT EXECUTE ON FUNCTION "one(g)"() TO reader_g;'
    )
    with sibling_database(database, "rebuilt") as target:
        _, missing = rebuilt_drift(database.dsn, target)
        with psycopg.connect(target) as connection:
            granted = connection.execute(
                "SELECT has_function_privilege('reader_g', 'public.\"one(g)\"()', 'EXECUTE')"
            ).fetchone()
    assert not [entry for entry in missing if "grant" in entry or "does not exist" in entry]
    assert granted == (True,)
