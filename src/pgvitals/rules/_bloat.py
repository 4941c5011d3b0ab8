"""Bloat estimated from the catalogs alone, no extension needed.

The method is the one DBAs have long used in monitoring queries (check_postgres,
and the pgsql-bloat-estimation queries it inspired): from the planner's statistics
(`reltuples`, and per column `null_frac` and `avg_width` in `pg_stats`) compute the
size of an average tuple as PostgreSQL lays it out (header, null bitmap, data
aligned to MAXALIGN, line pointer), the pages the live tuples need at the
relation's fillfactor, and compare with `relpages`. The difference is space that
holds dead tuples, free space left by them, or the slack of page splits.

With `--exact-bloat` and the pgstattuple extension installed, each table and btree
index is measured instead (`pgstattuple`: dead tuples and free space;
`pgstatindex`: leaf density against the fillfactor, empty and deleted pages), and
the estimate is used only where a measure could not be taken.

The estimate is one: variable-width columns are averaged, TOAST is left out, and
`relpages` and `reltuples` are as of the last VACUUM, ANALYZE or CREATE INDEX, so
growth since then is not seen. A relation whose columns have no statistics
(never analyzed, or hidden from this role) or of a kind the method does not model
(expression keys, non-btree indexes) is not estimated.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace

from pgvitals.snapshot.model import Column, Index, Snapshot, Table

MAXALIGN = 8
PAGE_HEADER = 24  # PageHeaderData
LINE_POINTER = 4  # ItemIdData
HEAP_TUPLE_HEADER = 23  # HeapTupleHeaderData, before alignment
INDEX_TUPLE_HEADER = 8  # IndexTupleData
INDEX_NULL_BITMAP = 4  # IndexAttributeBitMapData: (INDEX_MAX_KEYS + 8 - 1) / 8
BTREE_SPECIAL = 16  # BTPageOpaqueData
HEAP_FILLFACTOR = 100
BTREE_FILLFACTOR = 90
# Random keys (uuid v4) land anywhere in a btree: a full leaf splits into two halves
# that fill again, so the leaves of an index grown by random inserts settle about
# ln 2 (69 %) full whatever the fillfactor, which applies to the rightmost leaf only.
# That is their normal size, not bloat a REINDEX would keep away.
RANDOM_KEY_FILL = 69
RANDOM_UUID_DEFAULT = re.compile(r"\b(?:gen_random_uuid|uuid_generate_v4)\(\)", re.IGNORECASE)
# |pg_stats.correlation| under which a unique-ish uuid's values are in random order
RANDOM_CORRELATION = 0.1


ESTIMATED = "estimated from pg_stats and relpages"
MEASURED = "measured with pgstattuple"


@dataclass(frozen=True)
class Bloat:
    actual_bytes: int
    expected_bytes: int  # what the live tuples need at the fillfactor
    as_of: str | None  # when the sizes were read: measured now, or set by VACUUM/ANALYZE
    method: str = ESTIMATED
    not_measured: str | None = None  # why pgstattuple could not measure it, when asked
    random_key: str | None = None  # why an index's leading key is random, if it is

    @property
    def bytes(self) -> int:
        return max(self.actual_bytes - self.expected_bytes, 0)

    @property
    def ratio(self) -> float:
        return self.bytes / self.actual_bytes if self.actual_bytes else 0.0


def aligned(size: float) -> int:
    """`size` rounded up to MAXALIGN."""
    return math.ceil(size / MAXALIGN) * MAXALIGN


def column_data(columns: list[Column]) -> tuple[float, bool] | None:
    """(average bytes of the columns' values in a tuple, whether any can be NULL), or
    None when a column has no statistics."""
    if not columns or any(c.avg_width is None or c.null_frac is None for c in columns):
        return None
    width = sum((1 - (c.null_frac or 0)) * (c.avg_width or 0) for c in columns)
    return width, any((c.null_frac or 0) > 0 for c in columns)


def fillfactor(options: list[str], default: int) -> int:
    values = dict(option.split("=", 1) for option in options)
    return int(values.get("fillfactor", default))


def block_size(snap: Snapshot) -> int:
    return int(snap.server.settings.get("block_size", 8192))


def measured(snap: Snapshot, kind: str, oid: int) -> Bloat | str | None:
    """pgstattuple's measure of a table or index (--exact-bloat); the reason it could
    not measure it; or None when it was not asked to."""
    if not snap.measures:
        return None  # not asked to (most runs)
    measure = snap.facts.bloat_measures.get((kind, oid))
    if measure is None:
        return None
    if measure.status != "ran" or measure.bytes is None or measure.bloat_bytes is None:
        return measure.reason or "not measured"
    expected = max(measure.bytes - measure.bloat_bytes, 0)
    return Bloat(measure.bytes, expected, snap.server.collected_at, MEASURED)


def table_bloat(snap: Snapshot, table: Table) -> Bloat | None:
    """The heap's bloat (main fork), measured or estimated; None when neither can be."""
    found = measured(snap, "table", table.oid)
    if isinstance(found, Bloat):
        return found
    estimate = estimated_table_bloat(snap, table)
    return replace(estimate, not_measured=found) if estimate and found else estimate


def index_bloat(snap: Snapshot, index: Index) -> Bloat | None:
    """A btree's bloat, measured or estimated; None when neither can be."""
    found = measured(snap, "index", index.oid)
    if isinstance(found, Bloat):
        return found
    estimate = estimated_index_bloat(snap, index)
    return replace(estimate, not_measured=found) if estimate and found else estimate


def estimated_table_bloat(snap: Snapshot, table: Table) -> Bloat | None:
    """The heap's estimated bloat (main fork), or None when it cannot be estimated."""
    if table.kind not in ("r", "m") or not table.pages or table.rows_estimate < 0:
        return None
    data = column_data(snap.columns_by_table.get(table.oid, []))
    if data is None:
        return None
    width, nullable = data
    columns = len(snap.columns_by_table.get(table.oid, []))
    header = HEAP_TUPLE_HEADER + ((7 + columns) // 8 if nullable else 0)
    tuple_bytes = LINE_POINTER + aligned(header) + aligned(width)
    bs = block_size(snap)
    usable = (bs - PAGE_HEADER) * fillfactor(table.reloptions, HEAP_FILLFACTOR) / 100
    pages = math.ceil(table.rows_estimate / (usable / tuple_bytes))
    return Bloat(table.pages * bs, pages * bs, analyzed_or_vacuumed(table))


def estimated_index_bloat(snap: Snapshot, index: Index) -> Bloat | None:
    """A btree's estimated bloat, or None when it cannot be estimated."""
    table = snap.table_by_oid.get(index.table_oid)
    if (
        table is None
        or index.method != "btree"
        or index.has_expressions
        or index.bytes is None
        or index.rows_estimate < 0
    ):
        return None
    by_name = snap.facts.column_by_name
    columns = []
    for name in index.key_columns:
        column = by_name.get((index.table_oid, name)) if name else None
        if column is None or column.avg_width is None or column.null_frac is None:
            # an expression, or a column without statistics (column_data's None): stop
            # at the first, as for most indexes of a database never analyzed
            return None
        columns.append(column)
    data = column_data(columns)
    if data is None:
        return None
    width, nullable = data
    header = INDEX_TUPLE_HEADER + (INDEX_NULL_BITMAP if nullable else 0)
    tuple_bytes = LINE_POINTER + aligned(header) + aligned(width)
    bs = block_size(snap)
    fill = fillfactor(index.reloptions, BTREE_FILLFACTOR)
    random = random_key(columns[0])
    if random:
        fill = min(fill, RANDOM_KEY_FILL)
    usable = (bs - BTREE_SPECIAL - PAGE_HEADER) * fill
    per_page = math.floor(usable / (100 * tuple_bytes))
    if per_page < 1:
        return None
    pages = 1 + math.ceil(index.rows_estimate / per_page)  # + the metapage
    return Bloat(index.bytes, pages * bs, analyzed_or_vacuumed(table), random_key=random)


def random_key(column: Column) -> str | None:
    """Why an index's leading column holds random keys (uuid v4), or None: a uuid whose
    DEFAULT draws one (`gen_random_uuid()`, `uuid_generate_v4()`), or a near-unique
    uuid whose values `pg_stats` finds in no order against the rows' (an application's
    uuid v4; a time-ordered uuid v7 correlates)."""
    if column.type_name != "uuid":
        return None
    if column.default and RANDOM_UUID_DEFAULT.search(column.default):
        return f"{column.name} DEFAULT {column.default}"
    correlation = column.correlation
    unique = column.n_distinct is not None and column.n_distinct <= -0.5
    if correlation is not None and unique and abs(correlation) < RANDOM_CORRELATION:
        return f"{column.name} uuids in random order (pg_stats correlation {correlation:.2f})"
    return None


def analyzed_or_vacuumed(table: Table) -> str | None:
    """The latest VACUUM or ANALYZE the statistics record (they set relpages)."""
    times = [
        t
        for t in (
            table.last_vacuum,
            table.last_autovacuum,
            table.last_analyze,
            table.last_autoanalyze,
        )
        if t
    ]
    return max(times) if times else None
