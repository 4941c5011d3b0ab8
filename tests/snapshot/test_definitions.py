"""Index definitions pgvitals rebuilds from the catalog (no lock) equal what the
server's own deparser prints, for every shape of index; the ones it cannot
rebuild are deparsed by the server."""

from __future__ import annotations

from pgvitals.connect import connect
from pgvitals.snapshot.collect import catalog_entities, collect

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
    session = connect(database.dsn)
    try:
        snapshot = collect(session, profile=None)
    finally:
        session.close()
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
    # fixed queries (server, lookups, one per declared entity) and one deparse batch
    assert snapshot.collection.catalog_queries == 2 + len(catalog_entities()) + 1
