"""The bounded reads that follow the catalogs, declared once each. Rules name the ones
they use (`@rule(..., needs=(...))`); the collector runs only those some enabled rule
needs, each under the per-table and total budgets, and records which ran, so a rule
whose probe did not run is reported as skipped instead of silently finding nothing.

Probes that read table rows all share one scan per table (see `Collector`'s row
phase): adding a row probe adds an aggregate to that scan, not another scan.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Probe:
    name: str
    reads_rows: bool  # skipped with --no-data
    help: str
    opt_in: bool = False  # runs only when asked for by name (never as part of "all")


PROBES = {
    probe.name: probe
    for probe in (
        Probe(
            "sequence_positions",
            False,
            "last_value of every readable sequence: plain SELECTs, 500 sequences a statement",
        ),
        Probe(
            "row_counts",
            True,
            "rows per table: counted below 100,000 estimated rows, TABLESAMPLE above",
        ),
        Probe(
            "duplicate_rows",
            True,
            "rows identical to another row, in tables without a key (same scan as row_counts)",
        ),
        Probe(
            "orphan_counts",
            True,
            "rows whose name-inferred reference matches no key: counted below 100,000"
            " estimated rows, in a TABLESAMPLE above",
        ),
        Probe(
            "empty_strings",
            True,
            "'' and blank values, and lengths, of text columns (same scan as row_counts)",
        ),
        Probe(
            "time_values",
            True,
            "smallest and largest value of integer columns named like times (same scan as"
            " row_counts)",
        ),
        Probe(
            "violation_counts",
            True,
            "rows that break NOT VALID constraints, and NULL duplicates of unique indexes"
            " over nullable columns: counted below 100,000 estimated rows (foreign keys and"
            " CHECKs in a TABLESAMPLE above)",
        ),
        Probe(
            "null_counts",
            True,
            "NULLs of every nullable column (same scan as row_counts)",
        ),
        Probe(
            "placeholders",
            True,
            "text values standing for no value ('null', 'N/A', '-', ...) per text column"
            " (same scan as row_counts)",
        ),
        Probe(
            "value_shapes",
            True,
            "text values shaped like e-mail addresses, phone numbers, IP addresses or"
            " national ids, counted per text column (same scan as row_counts)",
        ),
        Probe(
            "password_hashes",
            True,
            "values of password- and secret-named columns in a password-hash format or"
            " a fast digest, counted (same scan as row_counts)",
        ),
        Probe(
            "soft_delete_orphans",
            True,
            "live rows whose parent row is soft-deleted: counted below 100,000 estimated"
            " rows, in a TABLESAMPLE above",
        ),
        Probe(
            "default_partition_ranges",
            True,
            "lowest and highest key of each DEFAULT partition of a table partitioned by a"
            " date or time range: through an index on the key (ORDER BY ... LIMIT 1 both"
            " ways), else read whole below 100,000 estimated rows, in a TABLESAMPLE above",
        ),
        Probe(
            "exact_bloat",
            True,
            "table and btree index bloat measured with pgstattuple (--exact-bloat): reads"
            " every page of each table and index",
            opt_in=True,
        ),
        Probe(
            "stats_extension",
            False,
            "whether pg_stat_statements is installed, loaded and readable in this database",
        ),
        Probe(
            "statements",
            False,
            "the top statements of pg_stat_statements by total time, mean time and calls",
        ),
        Probe(
            "query_plans",
            False,
            "EXPLAIN of the heaviest statements under statement_timeout (ANALYZE only with"
            " --analyze-queries, SELECTs only); hypothetical indexes measured with hypopg",
        ),
    )
}
DEFAULT_PROBES = frozenset(name for name, probe in PROBES.items() if not probe.opt_in)


def probes_to_run(needed: Iterable[str], read_rows: bool) -> frozenset[str]:
    """The needed probes that may run: none that reads rows under --no-data."""
    names = frozenset(needed)
    unknown = names - set(PROBES)
    if unknown:
        raise ValueError(f"unknown probes {sorted(unknown)}")
    return frozenset(n for n in names if read_rows or not PROBES[n].reads_rows)


# The probes that measure columns in the row scan (the report's data-quality table).
COLUMN_PROBES = frozenset(
    {"empty_strings", "null_counts", "placeholders", "value_shapes", "password_hashes"}
)
