"""Reading statements with PostgreSQL's parser: predicates, the SELECT that is planned
in place of a write, and candidate indexes (no server needed)."""

from __future__ import annotations

from pgvitals.workload.statement import (
    AS_WRITTEN,
    EQUALITY,
    IS_NULL,
    RANGE,
    foreign_key_statement,
    index_candidates,
    parse_statement,
    planned_select,
    shortened,
)


def predicates(text: str) -> set[tuple[str | None, str, str, tuple[int, ...], bool]]:
    parsed = parse_statement(text)
    assert parsed is not None
    return {
        (p.relation.alias if p.relation else None, p.column, p.kind, p.params, p.join)
        for p in parsed.predicates
    }


def test_only_plannable_statements_are_read() -> None:
    for text in ("SET search_path = x", "BEGIN", "SELECT 1; SELECT 2", "SELEC x", "VACUUM t"):
        assert parse_statement(text) is None, text
    assert parse_statement("WITH a AS (SELECT 1) SELECT * FROM a").kind == "select"
    assert parse_statement('DELETE FROM "select" WHERE id = $1').kind == "delete"


def test_predicates_are_read_per_scope_with_their_parameters() -> None:
    found = predicates(
        'SELECT o.id FROM "Mixed Case"."Weird""Name" AS o JOIN customers c ON c.id = o."ñame"'
        " WHERE c.email = $1 AND o.placed_at >= $2::date AND o.total BETWEEN $3 AND $4"
        " AND (o.flag = $5 OR o.other = $6) AND o.kind IN ($7, $8)"
        " AND EXISTS (SELECT 1 FROM lines l WHERE l.order_id = o.id AND l.qty > $9)"
    )
    assert found == {
        ("c", "id", EQUALITY, (), True),
        ("o", "ñame", EQUALITY, (), True),
        ("c", "email", EQUALITY, (1,), False),
        ("o", "placed_at", RANGE, (2,), False),
        ("o", "total", RANGE, (3, 4), False),
        ("o", "kind", EQUALITY, (7, 8), False),
        ("l", "order_id", EQUALITY, (), True),  # correlated: a value from the outer row
        ("l", "qty", RANGE, (9,), False),
    }  # the OR is no conjunct: an index on either column does not serve it alone


def test_batched_keys_carry_no_parameter_and_expressions_of_the_column_are_no_predicate() -> None:
    found = predicates("SELECT * FROM t WHERE id = ANY($1) AND lower(email) = $2 AND a = b + 1")
    assert found == {(("t"), "id", EQUALITY, (), False)}


def test_writes_are_planned_as_the_select_of_their_rows_renumbered() -> None:
    parsed = parse_statement(
        'UPDATE "Weird""Name" AS w SET v = $1 FROM parent p WHERE w.pid = p.id AND p.x = $2'
        " RETURNING w.id"
    )
    planned = planned_select(parsed)
    assert planned.text == (
        'SELECT w.ctid FROM "Weird""Name" AS w, parent AS p WHERE w.pid = p.id AND p.x = $1'
    )
    assert planned.params == (2,)
    deleted = planned_select(parse_statement("DELETE FROM t USING u WHERE t.a = u.a AND u.b = $1"))
    assert deleted.text == "SELECT t.ctid FROM t, u WHERE t.a = u.a AND u.b = $1"
    inserted = planned_select(parse_statement("INSERT INTO t (a) SELECT b FROM u WHERE c = $2"))
    assert (inserted.text, inserted.params) == ("SELECT b FROM u WHERE c = $1", (2,))


def test_what_would_lock_is_not_planned_as_written() -> None:
    locked = planned_select(parse_statement("SELECT * FROM t WHERE id = $1 FOR UPDATE"))
    assert locked.text == "SELECT * FROM t WHERE id = $1" and locked.form != AS_WRITTEN
    for text, reason in (
        ("WITH d AS (DELETE FROM t RETURNING id) SELECT * FROM d", "data-modifying"),
        ("INSERT INTO t VALUES ($1)", "VALUES"),
        ("MERGE INTO t USING u ON t.a = u.a WHEN MATCHED THEN DELETE", "MERGE"),
    ):
        planned = planned_select(parse_statement(text))
        assert planned.text is None and reason in (planned.reason or ""), text
    plain = "SELECT * FROM t WHERE a = $1 AND b = $2"
    assert planned_select(parse_statement(plain)).text == plain  # sent exactly as written


def test_plpgsql_variables_are_planned_as_parameters() -> None:
    parsed = parse_statement("SELECT s.name FROM students AS s WHERE s.class_id = v_class")
    planned = planned_select(parsed, frozenset({"v_class"}))
    assert planned.text == "SELECT s.name FROM students AS s WHERE s.class_id = $1"
    assert planned.params == ("v_class",)


def test_candidates_put_equality_before_range() -> None:
    parsed = parse_statement(
        "SELECT * FROM t WHERE placed_at > $1 AND customer_id = $2 AND region = $3"
    )
    candidates = index_candidates(list(parsed.predicates), 4, lambda p: not p.join)
    assert candidates == [
        ("customer_id", "region", "placed_at"),
        ("customer_id",),
        ("region",),
        ("placed_at",),
    ]


def test_is_null_is_an_index_condition_beside_the_values_and_is_not_null_is_not() -> None:
    # pagila: a staff member's open rentals; a btree on (staff_id, return_date) serves
    # both conditions, and the planner may prefer return_date alone (2% of the rows)
    parsed = parse_statement(
        "SELECT rental_id FROM rental WHERE staff_id = $1 AND return_date IS NULL"
        " AND inventory_id IS NOT NULL AND rental_date > $2"
    )
    assert parsed is not None
    assert ("rental", "return_date", IS_NULL, (), False) in predicates(parsed.text)
    assert not any(p.column == "inventory_id" for p in parsed.predicates)
    candidates = index_candidates(list(parsed.predicates), 4, lambda p: not p.join)
    assert candidates == [
        ("staff_id", "return_date", "rental_date"),
        ("staff_id",),
        ("return_date",),
        ("rental_date",),
    ]


def test_display_and_postgres_own_statements() -> None:
    assert shortened("-- report\n/* x */ SELECT  a\n  FROM t") == "SELECT a FROM t"
    assert shortened("SELECT " + "a, " * 100 + "b FROM t").endswith("…")
    assert foreign_key_statement(
        'SELECT 1 FROM ONLY "public"."t" x WHERE "id" OPERATOR(pg_catalog.=) $1 FOR KEY SHARE OF x'
    )
    cascade = 'DELETE FROM ONLY "public"."c" WHERE $1 OPERATOR(pg_catalog.=) "p"'
    assert foreign_key_statement(cascade)
    assert not foreign_key_statement("SELECT 1 FROM t WHERE id = $1")
