"""Read PostgreSQL's node trees (`pg_node_tree`, as in pg_policy.polqual) without the server.

A policy's expression is stored as a node tree. Turning it into SQL text needs
pg_get_expr, which locks the table and every table a sub-select in it reads; the
tree itself is plain text in the catalog, read without any lock. What the security
rules need to know about an expression (which functions it calls, with which
constant arguments, whether a call depends on the row, whether it is already wrapped
in a sub-select, which tables it reads, whether it is just `true`) is all in the
tree, so they read it here.

The format is nodeToString's: `{TYPE :field value ...}` nodes, `( ... )` lists,
`<>` for NULL, tokens with `\\` escaping the characters that would end them, and
constant values as `length [ byte byte ... ]`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

_TOKEN = re.compile(r"\s*(?:([(){}])|((?:\\.|[^\s(){}\\])+))", re.S)
_ESCAPE = re.compile(r"\\(.)", re.S)

# pg_type oids of the constants decoded to Python values
_TEXT_TYPES = {25, 1043, 19, 705, 1042}  # text, varchar, name, unknown, bpchar
_BOOL_TYPE = 16
# nodes that call the function named in `funcid`
_CALLS = ("FUNCEXPR",)
EXPR_SUBLINK = "4"  # SubLinkType: (SELECT one value)
# CoercionForm of a FuncExpr: 1 explicit cast, 2 implicit cast (0 is a plain call)
_CAST_FORMS = ("1", "2")


class Node(dict):
    """One node: its fields by name (without the colon); `type` is its node type."""

    def __init__(self, type_: str) -> None:
        super().__init__()
        self.type = type_


@dataclass(frozen=True)
class Datum:
    """A constant's bytes as the node tree prints them."""

    data: bytes


class BadTree(ValueError):
    """Text that is not a node tree this reader understands."""


def parse(text: str) -> Any:
    """The tree as Nodes, lists, strings (tokens, unescaped), Datums and None."""
    tokens = [
        brace or (_ESCAPE.sub(r"\1", word) if "\\" in word else word)
        for brace, word in _TOKEN.findall(text)
        if brace or word
    ]
    try:
        value, end = _value(tokens, 0)
    except (IndexError, RecursionError) as error:
        raise BadTree(f"cannot read node tree: {error}") from None
    if end != len(tokens):
        raise BadTree("text after the end of the node tree")
    return value


def _value(tokens: list[str], at: int) -> tuple[Any, int]:
    token = tokens[at]
    if token == "{":
        node = Node(tokens[at + 1])
        at += 2
        while tokens[at] != "}":
            name = tokens[at]
            if not name.startswith(":"):
                raise BadTree(f"expected a field name, found {name!r}")
            value, at = _value(tokens, at + 1)
            if at < len(tokens) and tokens[at] == "[":  # a constant: length [ bytes ]
                end = tokens.index("]", at)
                value = Datum(bytes(int(b) & 0xFF for b in tokens[at + 1 : end]))
                at = end + 1
            node[name[1:]] = value
        return node, at + 1
    if token == "(":
        items = []
        at += 1
        while tokens[at] != ")":
            item, at = _value(tokens, at)
            items.append(item)
        return items, at + 1
    if token == "<>":
        return None, at + 1
    return token, at + 1


def walk(tree: Any) -> Iterator[Node]:
    """Every node in the tree, parents before children."""
    stack = [tree]
    while stack:
        item = stack.pop()
        if isinstance(item, Node):
            yield item
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, list):
            stack.extend(reversed(item))


def constant(node: Any) -> str | bool | None:
    """The value of a text or boolean CONST (None for anything else, or NULL). Text is
    stored with its varlena header: 1 byte (low bit set) or 4 bytes, little-endian."""
    if not isinstance(node, Node) or node.type != "CONST" or node.get("constisnull") == "true":
        return None
    datum = node.get("constvalue")
    if not isinstance(datum, Datum) or not datum.data:
        return None
    kind = int(node.get("consttype", 0))
    if kind == _BOOL_TYPE:
        return datum.data[0] != 0
    if kind in _TEXT_TYPES and kind != 19:
        return _varlena_text(datum.data)
    if kind == 19:  # name: fixed 64 bytes, NUL-padded
        return datum.data.split(b"\0", 1)[0].decode("utf-8", errors="replace")
    return None


def _varlena_text(raw: bytes) -> str:
    """A text datum: a 1-byte header (low bit set, length in the other bits) or a 4-byte
    one (length times 4), little-endian as on every platform PostgreSQL ships for."""
    short = raw[0] & 1
    end = raw[0] >> 1 if short else int.from_bytes(raw[:4], "little") >> 2
    return raw[1 if short else 4 : end].decode("utf-8", errors="replace")


def is_true(tree: Any) -> bool:
    """The expression is the constant `true`."""
    return constant(tree) is True


@dataclass(frozen=True)
class Call:
    """One call of a function in an expression."""

    function_oid: int
    arguments: tuple[str | bool | None, ...]  # constant arguments decoded, else None
    row_independent: bool  # no argument reads a column: one value for every row
    once: bool  # inside an uncorrelated sub-select, `(SELECT f())`, `IN (SELECT f())`: run once
    outer: int | None  # index in `calls` of the row-independent call it is an argument of
    parent: str | None  # the node type around it (NULLIFEXPR, COERCEVIAIO, OPEXPR, ...)
    cast_to: int | None  # the type it is cast to right away, if any


@dataclass(frozen=True)
class Expression:
    """What the rules need to know about one expression."""

    calls: tuple[Call, ...]
    reads: frozenset[int]  # relations that sub-selects in it read
    always_true: bool


def analyse(text: str | None) -> Expression | None:
    """None when there is no expression; an unreadable tree raises BadTree."""
    if text is None:
        return None
    if "{FUNCEXPR" not in text and "{RANGETBLENTRY" not in text:
        # neither calls nor reads: only whether it is `true` matters (parsed when short)
        always_true = text.startswith("{CONST") and is_true(parse(text))
        return Expression((), frozenset(), always_true)
    tree = parse(text)
    calls: list[Call] = []
    _collect_calls(tree, None, False, None, calls)
    reads = frozenset(
        int(node["relid"])
        for node in walk(tree)
        if node.type == "RANGETBLENTRY" and node.get("rtekind") == "0" and "relid" in node
    )
    return Expression(tuple(calls), reads, is_true(tree))


def _reads_columns(tree: Any) -> bool:
    return any(node.type == "VAR" for node in walk(tree))


def _cast_target(parent: Node | None) -> int | None:
    if parent is None:
        return None
    if parent.type == "COERCEVIAIO":
        return int(parent.get("resulttype", 0))
    if parent.type in _CALLS and parent.get("funcformat") in _CAST_FORMS:
        return int(parent.get("funcresulttype", 0))
    return None


def _scalar_subselect(node: Node) -> Any:
    """The one expression of `(SELECT expr)` without FROM, or None."""
    query = node.get("subselect")
    if node.get("subLinkType") != EXPR_SUBLINK or not isinstance(query, Node):
        return None
    targets = query.get("targetList")
    if query.get("rtable") or not isinstance(targets, list) or len(targets) != 1:
        return None
    return targets[0].get("expr") if isinstance(targets[0], Node) else None


def _uncorrelated(query: Any) -> bool:
    """A sub-select that reads no column of an enclosing query (no Var with varlevelsup
    above 0 anywhere in it): PostgreSQL runs it once per query, not once per row."""
    return isinstance(query, Node) and not any(
        node.type == "VAR" and str(node.get("varlevelsup", "0")) != "0" for node in walk(query)
    )


def _collect_calls(
    item: Any, parent: Node | None, once: bool, outer: int | None, calls: list[Call]
) -> None:
    """Walk down, knowing the nearest enclosing node, whether this part runs once per
    query, and the enclosing row-independent call. Recursion follows the tree's depth,
    which the server bounds when it stores the expression."""
    if isinstance(item, list):
        for element in item:
            _collect_calls(element, parent, once, outer, calls)
        return
    if not isinstance(item, Node):
        return
    if item.type == "SUBLINK":
        target = _scalar_subselect(item)
        if target is not None:
            _collect_calls(target, item, True, outer, calls)
            return
        if _uncorrelated(item.get("subselect")):
            # an InitPlan, or a hashed (else materialized) SubPlan: the sub-select runs
            # once per query, `team_id IN (SELECT my_teams())` as Supabase advises; the
            # left side of IN is still compared row by row
            _collect_calls(item.get("testexpr"), item, once, outer, calls)
            _collect_calls(item.get("subselect"), item, True, outer, calls)
            return
    if item.type in _CALLS and "funcid" in item:
        arguments = item.get("args") or []
        independent = not _reads_columns(arguments)
        calls.append(
            Call(
                function_oid=int(item["funcid"]),
                arguments=tuple(constant(argument) for argument in arguments),
                row_independent=independent,
                once=once,
                outer=outer,
                parent=parent.type if parent is not None else None,
                cast_to=_cast_target(parent),
            )
        )
        if independent:
            outer = len(calls) - 1
    for value in item.values():
        _collect_calls(value, item, once, outer, calls)


# SQLValueFunctionOp (PostgreSQL 15 and before; 16 calls current_user() and
# session_user() instead): CURRENT_ROLE, CURRENT_USER and USER are current_user
CALLER_VALUE_OPS = {"9": "current_user", "10": "current_user", "11": "current_user",
                    "12": "session_user"}  # fmt: skip


def where_clause(text: str) -> Any:
    """The top-level WHERE of a query's tree (a view's pg_rewrite.ev_action): not its
    select list, its joins' ON clauses or its sub-selects in FROM, which keep or show
    rows whatever the caller. None: no WHERE, or a tree not read."""
    try:
        tree = parse(text)
    except BadTree:
        return None
    query = tree[0] if isinstance(tree, list) and tree else tree
    jointree = query.get("jointree") if isinstance(query, Node) else None
    return jointree.get("quals") if isinstance(jointree, Node) else None


# BoolExprType OR_EXPR, as nodeToString prints it
_OR = "or"


def or_branches(text: str) -> list[Any]:
    """The branches of the expression's top-level OR (nested ORs flattened), or the
    expression itself as its one branch. An unreadable tree raises BadTree."""
    branches: list[Any] = []
    stack = [parse(text)]
    while stack:
        item = stack.pop()
        if isinstance(item, Node) and item.type == "BOOLEXPR" and item.get("boolop") == _OR:
            stack.extend(reversed(item.get("args") or []))
        else:
            branches.append(item)
    return branches


def calls_in(tree: Any) -> set[int]:
    """The functions the expression calls (sub-selects included)."""
    return {
        int(node["funcid"])
        for node in walk(tree)
        if node.type in _CALLS and str(node.get("funcid", "")).isdigit()
    }


def caller_keywords(tree: Any) -> set[str]:
    """CURRENT_USER, SESSION_USER and the like read as keywords (PostgreSQL 15 and
    before), by the name of the function 16 calls instead."""
    return {
        CALLER_VALUE_OPS[node["op"]]
        for node in walk(tree)
        if node.type == "SQLVALUEFUNCTION" and node.get("op") in CALLER_VALUE_OPS
    }


def has_subselect(tree: Any) -> bool:
    return any(node.type == "SUBLINK" for node in walk(tree))


def column_numbers(tree: Any) -> set[int]:
    """The attribute numbers of the columns of the policy's own table it reads (Vars of
    level 0, outside sub-selects)."""
    found: set[int] = set()
    stack = [tree]
    while stack:
        item = stack.pop()
        if isinstance(item, Node):
            if item.type == "SUBLINK":
                continue
            if item.type == "VAR" and str(item.get("varlevelsup", "0")) == "0":
                found.add(int(item.get("varattno", 0)))
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found
