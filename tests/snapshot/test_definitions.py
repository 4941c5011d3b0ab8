"""Index definitions pgvitals rebuilds from the catalog (no lock) equal what the
server's own deparser prints, for every shape of index; the ones it cannot
rebuild are deparsed by the server."""

from __future__ import annotations

from pgvitals.connect import connect
from pgvitals.snapshot.collect import catalog_entities, collect
from tests.helpers import collected

SHAPES = """
CREATE SCHEMA "Mixed Case";
CREATE TYPE mood AS ENUM ('ok', 'meh');
CREATE TABLE "Mixed Case"."Weird""Name" (
    id int PRIMARY KEY, "select" text, "ñame" varchar(20), at timestamptz, b box,
    tags text[], m mood, n numeric, "UPPER" int, doc jsonb,
    UNIQUE ("select", "ñame"));
CREATE INDEX plain ON "Mixed Case"."Weird""Name" ("UPPER");
CREATE UNIQUE INDEX "unique two" ON "Mixed Case"."Weird""Name" (at, n);
CREATE INDEX sorted ON "Mixed Case"."Weird""Name" (at DESC, n NULLS FIRST, "UPPER" DESC NULLS LAST);
CREATE INDEX covering ON "Mixed Case"."Weird""Name" ("ñame") INCLUDE ("select", m);
CREATE INDEX hashed ON "Mixed Case"."Weird""Name" USING hash ("select");
CREATE INDEX boxes ON "Mixed Case"."Weird""Name" USING gist (b);
CREATE INDEX ranges ON "Mixed Case"."Weird""Name" USING brin (at);
CREATE INDEX arrays ON "Mixed Case"."Weird""Name" USING gin (tags);
CREATE INDEX docs ON "Mixed Case"."Weird""Name" USING gin (doc jsonb_path_ops);
CREATE INDEX moods ON "Mixed Case"."Weird""Name" (m);
CREATE INDEX collated ON "Mixed Case"."Weird""Name" ("select" COLLATE "C");
CREATE INDEX patterns ON "Mixed Case"."Weird""Name" ("select" text_pattern_ops);
CREATE INDEX lowered ON "Mixed Case"."Weird""Name" (lower("select"));
CREATE INDEX partial ON "Mixed Case"."Weird""Name" (at) WHERE "UPPER" > 0;
CREATE INDEX filled ON "Mixed Case"."Weird""Name" (n) WITH (fillfactor = 70);
CREATE TABLE measures (taken date NOT NULL, "user" int) PARTITION BY RANGE (taken);
CREATE TABLE measures_2026 PARTITION OF measures FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE INDEX measures_user ON measures ("user", taken);
"""


def test_rebuilt_and_deparsed_definitions_match_the_server(database) -> None:
    database.execute(SHAPES)
    snapshot = collected(database.dsn)
    with database.admin() as admin:
        for index in snapshot.indexes:
            expected = admin.execute(
                "SELECT pg_get_indexdef(%(oid)s), pg_get_expr(indpred, indrelid, true),"
                " (SELECT array_agg(pg_get_indexdef(%(oid)s, k, true) ORDER BY k)"
                "    FROM generate_series(1, indnatts) k)"
                " FROM pg_index WHERE indexrelid = %(oid)s",
                {"oid": index.oid},
            ).fetchone()
            assert (index.definition, index.predicate, index.key_definitions) == (
                expected[0],
                expected[1],
                expected[2],
            ), index.name
    assert len(snapshot.indexes) == 19
    # both paths ran: definitions rebuilt from the catalog, and deparsed by the server
    deparsed = {i.name for i in snapshot.indexes if i.expressions or i.predicate_tree}
    assert deparsed == {"lowered", "partial"}
    # fixed queries (server, lookups, one per catalog entity) and one deparse batch
    assert snapshot.collection.catalog_queries == 2 + len(catalog_entities()) + 1


KEY_SHAPES = """
CREATE SCHEMA "Mixed Case";
CREATE SCHEMA elsewhere;
CREATE TABLE public.parents (id int PRIMARY KEY, code text UNIQUE, "select" int, n int,
    UNIQUE (code, "select"), UNIQUE (n) DEFERRABLE INITIALLY DEFERRED,
    UNIQUE ("select") INCLUDE (n));
CREATE TABLE elsewhere.parents (id int PRIMARY KEY, "ñame" text UNIQUE);
CREATE TABLE elsewhere.only_here (id bigint PRIMARY KEY);
CREATE TABLE "Mixed Case"."User" ("Id" int PRIMARY KEY, "select" int);
CREATE TABLE public.children (
    id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_id int REFERENCES public.parents,
    other_parent_id int REFERENCES elsewhere.parents ON DELETE CASCADE,
    only_id bigint REFERENCES elsewhere.only_here ON UPDATE RESTRICT ON DELETE SET NULL,
    user_id int REFERENCES "Mixed Case"."User" ON UPDATE CASCADE ON DELETE SET DEFAULT,
    code text, sel int,
    FOREIGN KEY (code, sel) REFERENCES public.parents (code, "select") MATCH FULL,
    FOREIGN KEY (parent_id) REFERENCES public.parents DEFERRABLE,
    FOREIGN KEY (other_parent_id) REFERENCES elsewhere.parents DEFERRABLE INITIALLY DEFERRED,
    CHECK (sel > 0));
ALTER TABLE public.children ADD FOREIGN KEY (sel) REFERENCES public.parents (id) NOT VALID;
ALTER TABLE public.children ADD CONSTRAINT "Odd ""Name"" key" UNIQUE (code, sel);
CREATE TABLE public.measures (taken date, parent_id int REFERENCES public.parents,
    PRIMARY KEY (taken, parent_id)) PARTITION BY RANGE (taken);
CREATE TABLE public.measures_2026 PARTITION OF public.measures
    FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
"""
# PostgreSQL 15+: shapes the query leaves to the server's deparser
NEWER_KEY_SHAPES = """
ALTER TABLE public.parents ADD UNIQUE NULLS NOT DISTINCT (code, n);
ALTER TABLE public.children ADD FOREIGN KEY (code, sel) REFERENCES public.parents (code, "select")
    ON DELETE SET NULL (sel);
"""


def test_rebuilt_key_definitions_match_the_server(database) -> None:
    """Primary, unique and foreign keys written from the catalog equal what
    pg_get_constraintdef prints in the same session: the referenced table named with
    its schema only when the search path would not find it by name (`parents` is in
    two schemas), names quoted as the server quotes them, actions, MATCH FULL,
    deferral and NOT VALID; a referenced table outside the collected schemas too."""
    database.execute(KEY_SHAPES)
    with database.admin() as admin:
        newer = admin.info.server_version >= 150000
    if newer:
        database.execute(NEWER_KEY_SHAPES)
    for schemas in ([], ["public"]):
        session = connect(database.dsn)
        try:
            snapshot = collect(session, schemas, profile=None)
            keys = [c for c in snapshot.constraints if c.kind in ("p", "u", "f")]
            served = session.execute(
                "SELECT oid::int8, pg_get_constraintdef(oid) FROM pg_constraint"
                " WHERE oid = ANY (%s)",
                [[c.oid for c in keys]],
            ).fetchall()
        finally:
            session.close()
        assert {c.oid: c.definition for c in keys} == dict(served)
        expected = {"p": 7, "u": 6, "f": 10} if not schemas else {"p": 4, "u": 5, "f": 10}
        if newer:
            expected = {**expected, "u": expected["u"] + 1, "f": expected["f"] + 1}
        assert {kind: sum(c.kind == kind for c in keys) for kind in "puf"} == expected
    definitions = {c.definition for c in keys}
    assert "FOREIGN KEY (other_parent_id) REFERENCES elsewhere.parents(id) ON DELETE CASCADE" in (
        definitions
    )
    assert "FOREIGN KEY (parent_id) REFERENCES parents(id)" in definitions
