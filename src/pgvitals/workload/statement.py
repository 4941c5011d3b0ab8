"""What one statement of pg_stat_statements says, read with PostgreSQL's own parser
(pglast): its kind, the tables it names, the predicates an index could serve, and a
plain SELECT that plans its scans while taking no lock stronger than a SELECT takes.

pg_stat_statements keeps statements normalised: constants are `$1`, `$2`, ...; this
module never sees a value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pglast
from pglast import ast, enums
from pglast.stream import RawStream

if TYPE_CHECKING:
    from pgvitals.snapshot.model import Snapshot, Table

# pgvitals marks the statements it runs on the user's tables with this comment
# (snapshot/collect.py), so that a later run does not take an earlier run's reads for
# the application's workload. pg_stat_statements keeps the text it saw first, comment
# included.
OWN_MARKER = "/* pgvitals */"
KINDS = {
    ast.SelectStmt: "select",
    ast.InsertStmt: "insert",
    ast.UpdateStmt: "update",
    ast.DeleteStmt: "delete",
    ast.MergeStmt: "merge",
}
EQUALITY, RANGE, IS_NULL = "equality", "range", "is null"
RANGE_OPERATORS = frozenset({"<", ">", "<=", ">="})
DISPLAY_CHARS = 120
MAX_INDEX_COLUMNS = 3


LEADING_COMMENTS = re.compile(r"^(\s*(--[^\n]*(\n|$)|/\*.*?\*/))*", re.S)


def one_line(text: str) -> str:
    return " ".join(text.split())


def shortened(text: str, limit: int = DISPLAY_CHARS) -> str:
    """The statement on one line without its leading comments, cut to `limit`
    characters (an ellipsis says so)."""
    line = one_line(LEADING_COMMENTS.sub("", text)) or one_line(text)
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def foreign_key_statement(text: str) -> bool:
    """One of PostgreSQL's own foreign-key checks or cascades (ri_triggers.c), which
    pg_stat_statements counts as nested statements with track = all: they qualify their
    operators, which applications do not write."""
    return "OPERATOR(pg_catalog." in text and (
        " FOR KEY SHARE OF " in text or text.lstrip().upper().startswith(("DELETE", "UPDATE"))
    )


@dataclass(frozen=True)
class Relation:
    """A relation named in FROM (or as the target of a write), as the statement names it."""

    schema: str | None
    name: str
    alias: str  # how the statement refers to it: its alias, else its name
    derived: bool = False  # a WITH query, a subquery or a function: not a table


@dataclass(frozen=True)
class Predicate:
    """`column op value` in a WHERE or JOIN condition that is ANDed to the rest: the
    shape an index can serve."""

    relation: Relation | None  # None: an unqualified column of a FROM with several tables
    scope: tuple[Relation, ...]  # the relations an unqualified column may belong to
    column: str
    kind: str  # equality (=, IN, = ANY), range (<, <=, >, >=, BETWEEN) or is null
    params: tuple[int, ...]  # the $n compared with it directly (not those of = ANY($n))
    join: bool  # compared with a column (of its FROM, or of an outer query)
    # the value side when it is a bare unqualified name: a column of the same FROM, or,
    # in a statement of a PL/pgSQL function, one of its variables (see Resolver.valued)
    other: str | None = None


@dataclass(frozen=True)
class Parsed:
    text: str
    kind: str  # select, insert, update, delete, merge
    relations: tuple[Relation, ...]  # the tables it names (not WITH queries)
    predicates: tuple[Predicate, ...]
    writes_in_with: bool  # a data-modifying WITH query
    locks_rows: bool  # FOR UPDATE / FOR SHARE
    fingerprint: str  # pglast's fingerprint: the same statement whatever its spelling
    columns: frozenset[str]  # every column name it mentions ("*" for a star)


def parse_statement(text: str) -> Parsed | None:
    """None for what is not one SELECT, INSERT, UPDATE, DELETE or MERGE (utility
    statements, several statements, text the parser rejects)."""
    tree = _tree(text)
    if tree is None:
        return None
    reader = _Reader()
    reader.statement(tree, ())
    return Parsed(
        text,
        KINDS[type(tree)],
        tuple(reader.relations),
        tuple(reader.predicates),
        reader.writes_in_with,
        reader.locks_rows,
        pglast.fingerprint(text),
        frozenset(
            "*" if isinstance(node.fields[-1], ast.A_Star) else node.fields[-1].sval
            for node in walk(tree)
            if isinstance(node, ast.ColumnRef)
        ),
    )


def _tree(text: str) -> Any:
    try:
        statements = pglast.parse_sql(text)
    except pglast.parser.ParseError:
        return None
    if len(statements) != 1 or type(statements[0].stmt) not in KINDS:
        return None
    return statements[0].stmt


def children(node: Any) -> Iterator[Any]:
    """The nodes directly below a pglast node (or in a list of them)."""
    if isinstance(node, (list, tuple)):
        for item in node:
            if isinstance(item, (ast.Node, list, tuple)):
                yield item
        return
    for name in getattr(type(node), "__slots__", ()):
        value = getattr(node, name, None)
        if isinstance(value, (ast.Node, list, tuple)):
            yield value


def walk(node: Any) -> Iterator[Any]:
    """`node` and every node below it."""
    yield node
    for child in children(node):
        yield from walk(child)


def conjuncts(expression: Any) -> list[Any]:
    """The terms ANDed at the top of a condition."""
    if isinstance(expression, ast.BoolExpr) and expression.boolop == enums.BoolExprType.AND_EXPR:
        return [term for arg in expression.args for term in conjuncts(arg)]
    return [expression]


def operator_of(expression: ast.A_Expr) -> str:
    return expression.name[-1].sval if expression.name else ""


def direct_params(value: Any) -> tuple[int, ...]:
    """The $n a comparison's value side is made of ($1, $1::int, ($1, $2) of an IN)."""
    if isinstance(value, (list, tuple)):
        return tuple(n for item in value for n in direct_params(item))
    if isinstance(value, ast.TypeCast):
        return direct_params(value.arg)
    if isinstance(value, ast.ParamRef):
        return (value.number,)
    return ()


class _Reader:
    """Walks a statement's tree once, scope by scope (each SELECT has its own FROM)."""

    def __init__(self) -> None:
        self.relations: list[Relation] = []
        self.predicates: list[Predicate] = []
        self.writes_in_with = False
        self.locks_rows = False
        self.with_names: set[str] = set()

    def statement(self, node: Any, outer: tuple[Relation, ...]) -> None:
        with_clause = getattr(node, "withClause", None)
        if with_clause is not None:
            for cte in with_clause.ctes or ():
                self.with_names.add(cte.ctename)
                if not isinstance(cte.ctequery, ast.SelectStmt):
                    self.writes_in_with = True
                if type(cte.ctequery) in KINDS:
                    self.statement(cte.ctequery, outer)
        if isinstance(node, ast.SelectStmt):
            self.select(node, outer)
        elif isinstance(node, ast.UpdateStmt):
            scope = (self.named(node.relation), *self.from_items(node.fromClause, outer))
            self.conditions(node.whereClause, scope, outer)
            self.sublinks(node.targetList, scope, outer)
        elif isinstance(node, ast.DeleteStmt):
            scope = (self.named(node.relation), *self.from_items(node.usingClause, outer))
            self.conditions(node.whereClause, scope, outer)
        elif isinstance(node, ast.InsertStmt):
            self.named(node.relation)
            if node.selectStmt is not None:
                self.statement(node.selectStmt, outer)
        elif isinstance(node, ast.MergeStmt):
            scope = (self.named(node.relation), *self.from_items([node.sourceRelation], outer))
            self.conditions(node.joinCondition, scope, outer)

    def select(self, node: ast.SelectStmt, outer: tuple[Relation, ...]) -> None:
        if node.larg is not None or node.rarg is not None:  # UNION, INTERSECT, EXCEPT
            for part in (node.larg, node.rarg):
                if part is not None:
                    self.statement(part, outer)
            return
        if node.lockingClause:
            self.locks_rows = True
        if node.valuesLists:
            self.sublinks(node.valuesLists, (), outer)
            return
        scope = self.from_items(node.fromClause, outer)
        self.conditions(node.whereClause, scope, outer)
        self.sublinks((node.targetList, node.havingClause, node.sortClause), scope, outer)

    def named(self, node: ast.RangeVar) -> Relation:
        alias = node.alias.aliasname if node.alias else node.relname
        if node.schemaname is None and node.relname in self.with_names:
            return Relation(None, node.relname, alias, derived=True)
        relation = Relation(node.schemaname, node.relname, alias)
        self.relations.append(relation)
        return relation

    def from_items(
        self, items: Iterable[Any] | None, outer: tuple[Relation, ...]
    ) -> list[Relation]:
        scope: list[Relation] = []
        for item in items or ():
            if isinstance(item, ast.RangeVar):
                scope.append(self.named(item))
            elif isinstance(item, ast.JoinExpr):
                joined = self.from_items([item.larg, item.rarg], outer)
                self.conditions(item.quals, tuple(joined), outer)
                scope += joined
            elif isinstance(item, ast.RangeSubselect):
                self.statement(item.subquery, (*outer, *scope))  # LATERAL sees the left
                if item.alias is not None:
                    scope.append(Relation(None, item.alias.aliasname, item.alias.aliasname, True))
            elif getattr(item, "alias", None) is not None:  # a function in FROM, ...
                scope.append(Relation(None, item.alias.aliasname, item.alias.aliasname, True))
        return scope

    def conditions(
        self, expression: Any, scope: tuple[Relation, ...], outer: tuple[Relation, ...]
    ) -> None:
        if expression is None:
            return
        for term in conjuncts(expression):
            if isinstance(term, ast.A_Expr):
                self.comparison(term, scope, outer)
            elif isinstance(term, ast.NullTest) and term.nulltesttype == enums.NullTestType.IS_NULL:
                column = self.column(term.arg, scope)
                if column is not None:  # a btree serves it: an index condition, not a filter
                    relation, candidates, name = column
                    null_test = Predicate(relation, candidates, name, IS_NULL, (), False)
                    self.predicates.append(null_test)
        self.sublinks(expression, scope, outer)

    def sublinks(
        self, nodes: Any, scope: tuple[Relation, ...], outer: tuple[Relation, ...]
    ) -> None:
        """Subqueries in expressions (EXISTS, IN (SELECT ...), scalar subqueries): each
        is a scope of its own that sees this one's relations."""
        if nodes is None:
            return
        pending = [nodes]
        while pending:
            node = pending.pop()
            if isinstance(node, ast.SubLink):
                self.statement(node.subselect, (*outer, *scope))
            elif not isinstance(node, ast.SelectStmt):
                pending.extend(children(node))

    def comparison(
        self, term: ast.A_Expr, scope: tuple[Relation, ...], outer: tuple[Relation, ...]
    ) -> None:
        operator, kind = operator_of(term), term.kind
        Kind = enums.A_Expr_Kind
        if kind == Kind.AEXPR_OP and operator == "=":
            shape, sides = EQUALITY, ((term.lexpr, term.rexpr), (term.rexpr, term.lexpr))
        elif kind == Kind.AEXPR_OP and operator in RANGE_OPERATORS:
            shape, sides = RANGE, ((term.lexpr, term.rexpr), (term.rexpr, term.lexpr))
        elif kind in (Kind.AEXPR_IN, Kind.AEXPR_OP_ANY) and operator == "=":
            shape, sides = EQUALITY, ((term.lexpr, term.rexpr),)
        elif kind == Kind.AEXPR_BETWEEN:
            shape, sides = RANGE, ((term.lexpr, term.rexpr),)
        else:
            return
        for column_side, value_side in sides:
            column = self.column(column_side, scope)
            if column is None:
                continue
            other = (
                None if isinstance(value_side, (list, tuple)) else self.column(value_side, scope)
            )
            if other is None and any(
                self.column(node, scope) for node in walk(value_side) if node is not value_side
            ):
                continue  # compared with an expression of its own scope's columns
            joined = other is not None or any(self.column(node, outer) for node in walk(value_side))
            params = () if kind == Kind.AEXPR_OP_ANY else direct_params(value_side)
            relation, candidates, name = column
            bare = (
                value_side.fields[0].sval
                if isinstance(value_side, ast.ColumnRef)
                and len(value_side.fields) == 1
                and isinstance(value_side.fields[0], ast.String)
                else None
            )
            self.predicates.append(
                Predicate(relation, candidates, name, shape, params, joined, bare)
            )

    @staticmethod
    def column(
        node: Any, scope: tuple[Relation, ...]
    ) -> tuple[Relation | None, tuple[Relation, ...], str] | None:
        """(its relation, the relations it may belong to, its name) for a column of
        `scope`; None for anything else (a column of an outer query is a value here)."""
        if not isinstance(node, ast.ColumnRef) or not scope:
            return None
        names = [field.sval for field in node.fields if isinstance(field, ast.String)]
        if len(names) != len(node.fields):  # t.*
            return None
        if len(names) == 1:
            if len(scope) == 1:
                return scope[0], scope, names[0]
            return None, scope, names[0]
        qualifier = names[:-1]
        for relation in scope:
            if qualifier == [relation.alias] or qualifier == [relation.schema, relation.name]:
                return relation, (relation,), names[-1]
        return None


# --- the SELECT that is planned ------------------------------------------------------


@dataclass(frozen=True)
class Planned:
    """The plain SELECT whose plan stands for the statement's (None: not planned)."""

    text: str | None
    # what the SELECT's $1, $2 ... stand for: the statement's $n, or a PL/pgSQL variable
    params: tuple[int | str, ...]
    form: str  # how the SELECT relates to the statement
    reason: str | None = None  # why it is not planned


AS_WRITTEN = "as written"


def planned_select(parsed: Parsed, variables: frozenset[str] = frozenset()) -> Planned:
    """What EXPLAIN runs for this statement, taking only the locks a SELECT takes:
    planning an UPDATE, DELETE, INSERT or MERGE takes ROW EXCLUSIVE on its target, and
    FOR UPDATE takes ROW SHARE, which a health check must not. Their scans are planned
    as the SELECT that reads the same rows instead. `variables`: PL/pgSQL variables the
    statement compares with (it ran inside a function), planned as parameters."""
    if parsed.writes_in_with:
        return Planned(None, (), "", "a data-modifying WITH query: planning it would lock")
    tree = _tree(parsed.text)
    names = sorted(variables)
    if names:
        _variables_as_params(tree, names)
    if parsed.kind == "select":
        if not parsed.locks_rows and not names:
            numbers = sorted({n.number for n in walk(tree) if isinstance(n, ast.ParamRef)})
            if numbers == list(range(1, len(numbers) + 1)):
                return Planned(parsed.text, tuple(numbers), AS_WRITTEN)
            return _renumbered(tree, AS_WRITTEN, names)
        for node in walk(tree):
            if isinstance(node, ast.SelectStmt):
                node.lockingClause = None
        form = AS_WRITTEN if not parsed.locks_rows else WITHOUT_LOCKS
        return _renumbered(tree, form, names)
    if parsed.kind in ("update", "delete"):
        if isinstance(tree.whereClause, ast.CurrentOfExpr):
            return Planned(None, (), "", "WHERE CURRENT OF a cursor")
        relation = tree.relation
        alias = relation.alias.aliasname if relation.alias else relation.relname
        joined = tree.fromClause if parsed.kind == "update" else tree.usingClause
        select = ast.SelectStmt(
            targetList=(
                ast.ResTarget(val=ast.ColumnRef(fields=(ast.String(alias), ast.String("ctid")))),
            ),
            fromClause=(relation, *(joined or ())),
            whereClause=tree.whereClause,
            withClause=tree.withClause,
        )
        return _renumbered(
            select, f"the rows it {parsed.kind}s, as a SELECT (planning the {parsed.kind.upper()}"
            " itself would lock its table for writing)", names,
        )  # fmt: skip
    if parsed.kind == "insert":
        source = tree.selectStmt
        if not isinstance(source, ast.SelectStmt) or source.valuesLists:
            return Planned(None, (), "", "an INSERT of VALUES reads no table")
        if source.withClause is None:
            source.withClause = tree.withClause
        return _renumbered(
            source, "its SELECT (planning the INSERT would lock its table for writing)", names
        )
    return Planned(None, (), "", "MERGE is not planned: planning it would lock its target")


WITHOUT_LOCKS = "without its FOR UPDATE/SHARE (planning it would lock rows)"
# ParamRef numbers given to PL/pgSQL variables: above any $n a statement has
VARIABLE_BASE = 1_000_000


def _variables_as_params(tree: Any, names: list[str]) -> None:
    """Replace bare references to the variables by parameters numbered VARIABLE_BASE +
    the name's position in `names` (in place: on the parent's attribute or tuple)."""

    def replacement(value: Any) -> Any:
        if (
            isinstance(value, ast.ColumnRef)
            and len(value.fields) == 1
            and isinstance(value.fields[0], ast.String)
            and value.fields[0].sval in names
        ):
            return ast.ParamRef(number=VARIABLE_BASE + names.index(value.fields[0].sval))
        return value

    for node in list(walk(tree)):
        for slot in getattr(type(node), "__slots__", ()):
            value = getattr(node, slot, None)
            if isinstance(value, tuple):
                replaced = tuple(replacement(item) for item in value)
                if any(new is not old for new, old in zip(replaced, value, strict=True)):
                    setattr(node, slot, replaced)
            elif replacement(value) is not value:
                setattr(node, slot, replacement(value))


def _renumbered(tree: Any, form: str, names: list[str]) -> Planned:
    """The tree as SQL, its $n renumbered 1, 2, ... (EXPLAIN needs every $n it has);
    `params` says what each stands for: the statement's $n, or a variable's name."""
    references = [n for n in walk(tree) if isinstance(n, ast.ParamRef)]
    numbers = sorted({n.number for n in references})
    new = {old: position for position, old in enumerate(numbers, start=1)}
    for reference in references:
        reference.number = new[reference.number]
    meaning = tuple(n if n < VARIABLE_BASE else names[n - VARIABLE_BASE] for n in numbers)
    return Planned(RawStream()(tree), meaning, form)


# --- tables and columns, resolved against the snapshot -------------------------------


class Resolver:
    """Finds the snapshot's table behind a relation name and a column: qualified names
    exactly, unqualified ones when only one collected table has the name (else the
    one in `public`, where an application's search_path usually starts)."""

    def __init__(self, snap: Snapshot) -> None:
        self.qualified = {(t.schema, t.name): t for t in snap.tables}
        self.by_name: dict[str, list[Table]] = {}
        for table in snap.tables:
            self.by_name.setdefault(table.name, []).append(table)
        self.columns = {
            oid: {c.name for c in columns} for oid, columns in snap.columns_by_table.items()
        }

    def table(self, relation: Relation | None, schema_hint: str | None = None) -> Table | None:
        if relation is None or relation.derived:
            return None
        if relation.schema is not None:
            return self.qualified.get((relation.schema, relation.name))
        found = self.by_name.get(relation.name, [])
        if len(found) == 1:
            return found[0]
        preferred = [t for t in found if t.schema == (schema_hint or "public")]
        return preferred[0] if len(preferred) == 1 else None

    def predicate_table(
        self, predicate: Predicate, hints: dict[str, str] | None = None
    ) -> Table | None:
        """The table whose column the predicate compares (hints: alias -> schema, as
        the plan resolved them)."""
        hints = hints or {}
        if predicate.relation is not None:
            table = self.table(predicate.relation, hints.get(predicate.relation.alias))
            return table if table and predicate.column in self.columns.get(table.oid, ()) else None
        having = [
            table
            for relation in predicate.scope
            if (table := self.table(relation, hints.get(relation.alias)))
            and predicate.column in self.columns.get(table.oid, ())
        ]
        return having[0] if len(having) == 1 else None

    def is_variable(self, predicate: Predicate, hints: dict[str, str] | None = None) -> bool:
        """Is the predicate's value a bare name that is no column of its FROM's tables:
        a PL/pgSQL variable (pg_stat_statements keeps a function's statements with its
        variables' names)? Unknowable when the FROM has a subquery or an unknown table."""
        if predicate.other is None or not predicate.scope:
            return False
        hints = hints or {}
        tables = [self.table(relation, hints.get(relation.alias)) for relation in predicate.scope]
        if any(table is None for table in tables):
            return False
        return not any(predicate.other in self.columns.get(t.oid, ()) for t in tables if t)

    def valued(self, predicate: Predicate, hints: dict[str, str] | None = None) -> bool:
        """Compared with a value (a parameter, a constant, a variable), not a column."""
        return not predicate.join or self.is_variable(predicate, hints)

    def variables(self, parsed: Parsed) -> frozenset[str]:
        return frozenset(p.other for p in parsed.predicates if p.other and self.is_variable(p))

    def reads_tables(self, parsed: Parsed) -> bool:
        """Does the statement name a collected table (not only catalogs or other schemas)?"""
        return any(self.table(relation) for relation in parsed.relations)


def index_candidates(
    predicates: list[Predicate], limit: int, is_valued: Callable[[Predicate], bool]
) -> list[tuple[str, ...]]:
    """Column lists worth an index for one table's predicates, most promising first:
    the equality columns (compared with values first, then IS NULL, then join columns)
    followed by one range column; then the values' equality columns alone with the
    range; then each column alone."""
    valued = _unique(p.column for p in predicates if p.kind == EQUALITY and is_valued(p))
    valued += [p.column for p in predicates if p.kind == IS_NULL and p.column not in valued]
    joined = _unique(p.column for p in predicates if p.kind == EQUALITY and not is_valued(p))
    ranged = _unique(p.column for p in predicates if p.kind == RANGE)
    equal = _unique([*valued, *joined])
    first_range = [c for c in ranged if c not in equal][:1]
    shapes = [
        (*equal, *first_range),
        (*valued, *first_range),
        *((column,) for column in equal),
        *((column,) for column in ranged),
    ]
    result: list[tuple[str, ...]] = []
    for shape in shapes:
        columns = tuple(shape[:MAX_INDEX_COLUMNS])
        if columns and columns not in result:
            result.append(columns)
    return result[:limit]


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))
