"""What a migration's transaction does over its whole length (`review --base`), where
safety.py judges statements one at a time:

- a backfill: an UPDATE or DELETE of an existing table's rows, or an INSERT ... SELECT
  copying them, in one statement. Whether its WHERE bounds it is the base database's
  planner's to say (an EXPLAIN of the SELECT matching the same rows, in a read-only
  session: it takes the lock a plain SELECT takes);
- a strong lock held across a long statement: a statement took a lock that blocks
  writes to a table of the base (ACCESS EXCLUSIVE for most ALTER TABLEs, SHARE ROW
  EXCLUSIVE on the table a new foreign key references, SHARE for an index build), and
  a later statement of the same transaction runs long (a backfill, a rewrite, an index
  built in place, a validation scan): the lock is held until the transaction commits,
  so for that whole time. The locks are PostgreSQL's own, read from pg_locks after each
  statement loads on the review server.

A migration transaction is a file (migration tools run a file in one transaction; Drizzle
runs all pending files of its folder in one), cut at its own BEGIN, COMMIT and ROLLBACK;
a file with a statement that cannot run in a transaction block (CREATE INDEX
CONCURRENTLY, ...) cannot be run in one, and a file whose tool runs its statements one
by one (goose's NO TRANSACTION, Atlas's txmode none: see runners.py) is not, so outside
its own BEGIN ... COMMIT each statement is a transaction of its own (in a Drizzle batch,
that file's alone: the other files keep the batch's transaction). A Liquibase changelog
is several: each changeset is a transaction of its own (or, with `runInTransaction:false`,
each of its statements).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import psycopg
from pglast import ast, visitors
from pglast.enums import A_Expr_Kind, AlterTableType, BoolExprType, ConstrType, TransactionStmtKind
from pglast.stream import RawStream

from pgvitals.review.load import LOADED, Load
from pgvitals.review.split import Statement
from pgvitals.snapshot.model import MigrationHazard

BACKFILL = "migration-backfill-in-transaction"
LOCK_HELD = "migration-lock-held-during-long-statement"

# The table locks that stop writes, weakest first, as a reader knows them.
STRONG_LOCKS = {
    "ShareLock": "SHARE",
    "ShareRowExclusiveLock": "SHARE ROW EXCLUSIVE",
    "ExclusiveLock": "EXCLUSIVE",
    "AccessExclusiveLock": "ACCESS EXCLUSIVE",
}
STRENGTH = {mode: rank for rank, mode in enumerate(STRONG_LOCKS)}
STOPS_READS = "AccessExclusiveLock"
# The strong locks this session holds on tables (a partition only where its parent is
# not locked as strongly: ALTER TABLE on a partitioned table locks every partition).
HELD_LOCKS = """
SELECT l.relation, n.nspname || '.' || c.relname, l.mode
  FROM pg_catalog.pg_locks l
  JOIN pg_catalog.pg_class c ON c.oid = l.relation
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE l.pid = pg_catalog.pg_backend_pid() AND l.locktype = 'relation' AND l.granted
   AND l.mode = ANY(%(modes)s)
   AND NOT EXISTS (SELECT FROM pg_catalog.pg_inherits i
                     JOIN pg_catalog.pg_locks p ON p.relation = i.inhparent
                    WHERE i.inhrelid = l.relation AND p.pid = l.pid AND p.mode = l.mode)
"""


@dataclass(frozen=True)
class Backfill:
    """A statement that changes or copies the rows of tables of the base."""

    verb: str  # what it does to rows of `tables`: "updates", "deletes", "copies"
    tables: list[str]  # the base's tables whose rows it changes or reads
    bounded: bool  # a WHERE (or LIMIT) the base's statistics may show to be small
    probe: str  # a SELECT of the same rows, for the base's planner to estimate
    joined: bool = False  # its WHERE only equates its table's rows to those it joins


@dataclass(frozen=True)
class Long:
    """Work of a statement that lasts as long as its table is large."""

    table: str
    what: str  # "rewrites {table}", "builds an index on {table}", ...
    own_lock_stops_reads: bool  # it takes ACCESS EXCLUSIVE on `table` itself


@dataclass
class Transactions:
    """What the watch saw of each reviewed statement: the strong locks its transaction
    held after it, its backfill, its long work (by load index)."""

    order: list[int] = field(default_factory=list)
    locks: dict[int, dict[str, str]] = field(default_factory=dict)  # table -> lock mode
    backfills: dict[int, Backfill] = field(default_factory=dict)
    long: dict[int, list[Long]] = field(default_factory=dict)

    def held_after(self, connection: psycopg.Connection, index: int, existing: set[int]) -> None:
        """The strong locks on the base's tables held once statement `index` loaded: read
        only inside a transaction (a statement run on its own holds nothing after it)."""
        idle = psycopg.pq.TransactionStatus.IDLE
        if connection.info.transaction_status == idle:
            return
        held: dict[str, str] = {}
        rows = connection.execute(HELD_LOCKS, {"modes": list(STRONG_LOCKS)}).fetchall()
        for oid, name, mode in rows:
            if oid in existing and STRENGTH[mode] >= STRENGTH.get(held.get(name, ""), -1):
                held[name] = mode
        if held:
            self.locks[index] = held


# --- what a statement is -----------------------------------------------------------


class _Read(visitors.Visitor):
    """The (schema, name) of every relation a query reads."""

    def __init__(self) -> None:
        super().__init__()
        self.names: list[tuple[str | None, str]] = []

    def visit_RangeVar(self, ancestors: Any, node: ast.RangeVar) -> None:
        self.names.append((node.schemaname, node.relname))


class _Qualifiers(visitors.Visitor):
    """The relation names (or aliases) that qualify the columns an expression reads; ""
    for a column read without one."""

    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def visit_ColumnRef(self, ancestors: Any, node: ast.ColumnRef) -> None:
        fields = node.fields or ()
        qualifier = fields[-2] if len(fields) >= 2 else None
        self.names.add(qualifier.sval if isinstance(qualifier, ast.String) else "")


def qualifiers(node: Any) -> set[str]:
    found = _Qualifiers()
    found(node)
    return found.names


def joins_only(where: Any, target: str) -> bool:
    """Is the WHERE of an UPDATE ... FROM or DELETE ... USING made only of equalities
    between columns (or expressions of them) of its `target` and of another relation?
    Such a WHERE matches every row of the target that has a partner, and the planner
    cannot tell: it multiplies the selectivities of keys that go together and gives an
    expression a default one (umami's 05_add_visit_id: 270 of 54,000 rows)."""
    conjuncts = (
        where.args
        if isinstance(where, ast.BoolExpr) and where.boolop == BoolExprType.AND_EXPR
        else (where,)
    )
    for conjunct in conjuncts:
        if not (
            isinstance(conjunct, ast.A_Expr)
            and conjunct.kind == A_Expr_Kind.AEXPR_OP
            and [n.sval for n in conjunct.name or ()] == ["="]
        ):
            return False
        sides = [qualifiers(conjunct.lexpr), qualifiers(conjunct.rexpr)]
        if any(len(side) != 1 or "" in side for side in sides) or sides[0] == sides[1]:
            return False
        if {target} not in sides:
            return False
    return True


def backfill_of(
    node: Any,
) -> tuple[str, list[tuple[str | None, str]], bool, str, bool] | None:
    """(verb, the relations whose rows it changes or copies, bounded, probe, joined) of an
    UPDATE, a DELETE or an INSERT ... SELECT; None for any other statement. `joined`: an
    UPDATE ... FROM or DELETE ... USING whose WHERE only joins (see joins_only), so not
    bounded."""
    if isinstance(node, (ast.UpdateStmt, ast.DeleteStmt)):
        others = node.fromClause if isinstance(node, ast.UpdateStmt) else node.usingClause
        probe = ast.SelectStmt(
            fromClause=(node.relation, *(others or ())),
            whereClause=node.whereClause,
            withClause=node.withClause,
        )
        verb = "updates" if isinstance(node, ast.UpdateStmt) else "deletes"
        relation = node.relation
        named = [(relation.schemaname, relation.relname)]
        target = relation.alias.aliasname if relation.alias else relation.relname
        joined = (
            bool(others) and node.whereClause is not None and joins_only(node.whereClause, target)
        )
        bounded = node.whereClause is not None and not joined
        return verb, named, bounded, RawStream()(probe), joined
    if isinstance(node, ast.InsertStmt) and isinstance(node.selectStmt, ast.SelectStmt):
        select = node.selectStmt
        if select.valuesLists or not (select.fromClause or select.op):
            return None  # INSERT ... VALUES, or a SELECT of constants: no table's rows
        read = _Read()
        read(select)
        bounded = select.whereClause is not None or select.limitCount is not None
        return "copies", read.names, bounded, RawStream()(select), False
    return None


def long_work(node: Any, tables: list[str]) -> list[Long]:
    """The long work a plain statement does on the base's `tables` it names, told by its
    form: an index built in place, a REINDEX, a constraint checked against every row.
    (A rewrite and a SET NOT NULL scan are what PostgreSQL was seen doing instead.)"""
    if isinstance(node, ast.IndexStmt) and not node.concurrent:
        return [Long(table, "builds an index on {table}", False) for table in tables]
    if isinstance(node, ast.ReindexStmt) and not concurrently(node):
        return [Long(table, "rebuilds the indexes of {table}", False) for table in tables]
    if not isinstance(node, ast.AlterTableStmt):
        return []
    work = []
    for command in node.cmds or ():
        if command.subtype == AlterTableType.AT_ValidateConstraint:
            work += [Long(table, "validates a constraint of {table}", False) for table in tables]
        elif command.subtype == AlterTableType.AT_AddConstraint:
            constraint = command.def_
            if constraint.contype in (ConstrType.CONSTR_PRIMARY, ConstrType.CONSTR_UNIQUE):
                if not constraint.indexname:
                    work += [
                        Long(table, "builds a unique index on {table}", True) for table in tables
                    ]
            elif constraint.contype == ConstrType.CONSTR_CHECK and not constraint.skip_validation:
                work += [Long(table, "checks every row of {table}", True) for table in tables]
            elif constraint.contype == ConstrType.CONSTR_FOREIGN and not constraint.skip_validation:
                work += [Long(table, "checks every row of {table}", False) for table in tables]
    return work


def concurrently(node: ast.ReindexStmt) -> bool:
    return any(option.defname == "concurrently" for option in node.params or ())


def outside_transactions(node: Any) -> bool:
    """A statement PostgreSQL refuses to run in a transaction block."""
    if isinstance(node, (ast.IndexStmt, ast.DropStmt)):
        return bool(node.concurrent)
    if isinstance(node, ast.ReindexStmt):
        return concurrently(node)
    if isinstance(node, ast.VacuumStmt):
        return bool(node.is_vacuumcmd)
    if isinstance(node, ast.AlterTableStmt):
        return any(command.subtype == AlterTableType.AT_DetachPartition
                   and command.def_.concurrent for command in node.cmds or ())  # fmt: skip
    return False


def transactions(
    statements: list[Statement],
    order: list[int],
    one_by_one: Collection[str] = (),
    batches: Mapping[str, str] | None = None,
    segments: Mapping[int, str] | None = None,
) -> Iterator[list[int]]:
    """The reviewed statements (load indexes, in `order`) grouped by the transaction a
    migration tool runs them in (see the module's docstring); `one_by_one`: files whose
    tool runs each statement in a transaction of its own, `batches`: files it runs in
    one transaction with others, `segments`: statements it runs in one of several
    transactions of their file (review/runners.py)."""
    by_file: dict[tuple[str, str], list[int]] = {}
    for index in order:
        file = statements[index].file
        key = ((batches or {}).get(file, file), (segments or {}).get(index, ""))
        by_file.setdefault(key, []).append(index)
    for indexes in by_file.values():
        # a file that cannot run in a transaction runs its statements one by one; in a
        # batch, the tool's transaction still holds the other files' (the failing file is
        # reported as the deploy's failure: review/runners.py)
        one_each = {statements[i].file for i in indexes
                    if statements[i].file in one_by_one
                    or outside_transactions(statements[i].node)}  # fmt: skip
        group: list[int] = []
        in_block = False
        for index in indexes:
            node = statements[index].node
            if isinstance(node, ast.TransactionStmt):
                if group:
                    yield group
                group = []
                in_block = node.kind in (TransactionStmtKind.TRANS_STMT_BEGIN,
                                         TransactionStmtKind.TRANS_STMT_START)  # fmt: skip
                continue
            if statements[index].file in one_each and not in_block:
                yield [index]
            else:
                group.append(index)
        if group:
            yield group


# --- the base's estimates ------------------------------------------------------------


Sizes = dict[str, tuple[float | None, int | None]]


def matched_rows(
    connection: psycopg.Connection, backfills: dict[int, Backfill]
) -> dict[int, float]:
    """For each bounded backfill, the rows the base's planner estimates its WHERE matches
    (from the base's statistics). One it cannot plan (the WHERE names a column or
    function the reviewed files add) has no estimate: nothing then bounds it."""
    estimates = {}
    for index, backfill in backfills.items():
        if not backfill.bounded:
            continue
        try:
            row = connection.execute(f"EXPLAIN (FORMAT JSON) {backfill.probe}").fetchone()
        except psycopg.Error:
            continue
        plan = row[0] if row is not None else None
        if isinstance(plan, str):
            plan = json.loads(plan)
        estimates[index] = float(plan[0]["Plan"]["Plan Rows"])
    return estimates


def backfill_size(
    backfill: Backfill, sizes: Sizes | None, matched: float | None
) -> tuple[float | None, int | None]:
    """Rows and bytes a backfill changes: its tables' (the largest), or the share of
    them its WHERE matches where the base's planner bounded it."""
    known = [sizes[name] for name in backfill.tables if sizes is not None and name in sizes]
    if not known:
        return None, None
    rows, size = max(known, key=lambda pair: (pair[1] or 0, pair[0] or 0))
    if matched is None or rows is None:
        return rows, size
    share = min(matched / rows, 1.0) if rows > 0 else 1.0
    return min(matched, rows), None if size is None else int(size * share)


# --- hazards -------------------------------------------------------------------------


def backfill_hazards(
    load: Load,
    seen: Transactions,
    sizes: Sizes | None,
    matched: dict[int, float],
    planned: bool = True,
) -> list[MigrationHazard]:
    """A hazard for each backfill that loaded. Without the base's statistics (a base of
    files) or its planner (`planned` False: a snapshot's sizes) only those with no
    WHERE: nothing tells how many rows a WHERE matches, and most data fixes (`UPDATE
    settings ... WHERE key = ...`) touch a few."""
    hazards = []
    for index, backfill in sorted(seen.backfills.items()):
        if load.outcomes[index].status != LOADED:
            continue
        if backfill.bounded and (sizes is None or not planned):
            continue
        estimate = matched.get(index)
        rows, size = backfill_size(backfill, sizes, estimate)
        tables = ", ".join(backfill.tables)
        message = f"{backfill.verb} rows of {tables} in one statement"
        if backfill.bounded:
            message += (
                f": the base's planner estimates its WHERE matches ~{estimate:,.0f} rows"
                if estimate is not None
                else ": the base's planner cannot estimate its WHERE (it names what the "
                "reviewed files add), so nothing bounds it"
            )
        elif backfill.joined:
            message += (
                ": every row that has a match in the tables it joins (its WHERE only joins"
                " them, which bounds nothing)"
            )
        else:
            message += ": every row"
        statement = load.statements[index]
        table_rows, table_bytes = backfill_size(backfill, sizes, None)
        hazards.append(MigrationHazard(
            rule=BACKFILL, file=statement.file, line=statement.line,
            statement=statement.first_line, tables=backfill.tables, messages=[message],
            fix=BATCHED, found_by="postgresql", rows_estimate=table_rows, bytes=table_bytes,
            work_rows=rows, work_bytes=size,
        ))  # fmt: skip
    return hazards


BATCHED = (
    "Backfill outside the migration's transaction, in batches that each commit: "
    "`UPDATE ... WHERE id >= $1 AND id < $1 + 10000` in a loop, or a separate "
    "non-transactional migration step."
)
MOVE_LONG = (
    "Run the long statement in a migration of its own, or move the statement that takes "
    "the lock after it, so that the lock is held for a moment."
)


def long_statements(seen: Transactions, index: int, statistics: bool) -> list[Long]:
    """The long work of a statement; a backfill's, where it has no WHERE or the base's
    statistics may tell how many rows its WHERE matches (see backfill_hazards)."""
    work = list(seen.long.get(index, []))
    backfill = seen.backfills.get(index)
    if backfill is not None and (statistics or not backfill.bounded):
        work += [
            Long(table, backfill.verb + " rows of {table}", False) for table in backfill.tables
        ]
    return work


def held_lock_hazards(
    load: Load,
    seen: Transactions,
    sizes: Sizes | None,
    matched: dict[int, float],
    planned: bool = True,
) -> list[MigrationHazard]:
    """A hazard for each statement whose strong lock on a table of the base stays held
    while a later statement of its transaction runs long, one per long statement and
    sized by its work (the rule puts those of one statement together, leaving out the
    long statements its thresholds find short)."""
    # (statement taking the lock, long statement) -> {table locked: its lock}, long work
    found: dict[tuple[int, int], tuple[dict[str, str], list[str]]] = {}
    for group in transactions(
        load.statements, seen.order, load.one_by_one, load.batches, load.segments
    ):
        held: dict[str, tuple[str, int]] = {}  # table -> (lock mode, statement taking it)
        for index in group:
            if load.outcomes[index].status != LOADED:
                continue
            for work in long_statements(seen, index, sizes is not None and planned):
                for table, (mode, taker) in held.items():
                    if table == work.table and (mode != STOPS_READS or work.own_lock_stops_reads):
                        continue  # the long statement locks its table as strongly itself
                    locks, works = found.setdefault((taker, index), ({}, []))
                    locks[table] = STRONG_LOCKS[mode]
                    if work.what.format(table=work.table) not in works:
                        works.append(work.what.format(table=work.table))
            for table, mode in seen.locks.get(index, {}).items():
                if table not in held or STRENGTH[mode] > STRENGTH[held[table][0]]:
                    held[table] = (mode, index)
    hazards = []
    for (taker, index), (locks, works) in sorted(found.items()):
        statement, long_one = load.statements[taker], load.statements[index]
        long = long_statements(seen, index, sizes is not None and planned)
        rows, size = long_size(seen, index, long, sizes, matched)
        message = (
            f"holds {' and '.join(f'{mode} on {table}' for table, mode in locks.items())} "
            f"until the transaction commits, while `{long_one.first_line}` "
            f"({long_one.where}) {' and '.join(works)}"
        )
        hazards.append(MigrationHazard(
            rule=LOCK_HELD, file=statement.file, line=statement.line,
            statement=statement.first_line, tables=sorted(locks), messages=[message],
            fix=MOVE_LONG, found_by="postgresql", work_rows=rows, work_bytes=size,
        ))  # fmt: skip
    return hazards


def long_size(
    seen: Transactions,
    index: int,
    long: list[Long],
    sizes: Sizes | None,
    matched: dict[int, float],
) -> tuple[float | None, int | None]:
    """Rows and bytes the long work of a statement goes through: a backfill's matched
    rows, else the largest table it works on; None, None where the base has no sizes."""
    backfill = seen.backfills.get(index)
    if backfill is not None:
        return backfill_size(backfill, sizes, matched.get(index))
    if sizes is None:
        return None, None
    pairs = [sizes[work.table] for work in long if work.table in sizes]
    if not pairs:
        return None, None
    return max(pairs, key=lambda pair: (pair[1] or 0, pair[0] or 0))
