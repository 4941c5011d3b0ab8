"""The JSON report, format `pgvitals-report/1` (SPEC §4), and its published schema."""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib import resources
from itertools import islice
from typing import Any

from pgvitals.fmt import compact_json
from pgvitals.render import renderer
from pgvitals.report import Report, Streamed


def report_schema() -> dict[str, Any]:
    return json.loads(resources.files("pgvitals.render").joinpath("report.schema.json").read_text())


def json_pieces(report: Report) -> Iterator[str]:
    """One line per key at the top, and per element of the long lists (findings,
    checks, table rows of the sections): readable and diffable, and written by the C
    encoder (`indent=` would switch json to its pure-Python encoder, 5x slower). The
    long lists are converted and written one element at a time."""
    yield from layout(report.to_json(lazy=True), depth=3)
    yield "\n"


@renderer("json", ".json", pieces=json_pieces)
def render_json(report: Report) -> str:
    return "".join(json_pieces(report))


def layout(value: Any, depth: int, indent: str = "") -> Iterator[str]:
    """`value` as JSON: objects broken into one line per key for `depth` levels, a list
    (or iterator) there into one line per element, each element on its line whole."""
    inner = indent + "  "
    if depth and isinstance(value, dict) and value:
        separator = "{\n"
        for key, item in value.items():
            yield f"{separator}{inner}{compact_json(key)}: "
            yield from layout(item, depth - 1, inner)
            separator = ",\n"
        yield f"\n{indent}}}"
    elif depth and isinstance(value, (list, Iterator)):
        separator = "[\n"
        for item in value:
            if type(item) is Streamed:
                yield f"{separator}{inner}"
                yield from streamed_pieces(item)
            else:
                yield f"{separator}{inner}{compact_json(item)}"
            separator = ",\n"
        yield "[]" if separator == "[\n" else f"\n{indent}]"
    else:
        yield compact_json(value)


# Elements of an iterator inside a line encoded together: few calls, bounded memory.
BATCH = 1000


def streamed_pieces(value: Streamed) -> Iterator[str]:
    """`value` as compact_json writes it, its iterators' elements a batch at a time."""
    separator = "{"
    for key, item in value.items():
        yield f"{separator}{compact_json(key)}:"
        if isinstance(item, Iterator):
            opening = "["
            while batch := list(islice(item, BATCH)):
                yield opening + compact_json(batch)[1:-1]
                opening = ","
            yield "[]" if opening == "[" else "]"
        else:
            yield compact_json(item)
        separator = ","
    yield "{}" if separator == "{" else "}"
