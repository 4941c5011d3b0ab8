"""The report's query-pattern table: each statement of the workload with its calls,
times, rows per call, how its plan reads the tables, and what the findings advise."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pgvitals.findings import Finding
from pgvitals.snapshot.model import QueryPlan, Snapshot, Statement
from pgvitals.workload.statement import foreign_key_statement, shortened

RAN, NOT_AVAILABLE, NOT_COLLECTED = "ran", "not available", "not collected"


@dataclass(frozen=True)
class QueryPattern:
    statement: str  # normalised ($1, $2 ...), on one line, shortened
    fingerprint: str
    kind: str
    calls: int
    mean_ms: float
    total_ms: float
    share_of_total_time: float | None
    rows_per_call: float
    plan_cost: float | None  # the planner's total cost (None: not planned)
    access: str  # how the plan reads the tables: "seq scan public.t; index t_pkey"
    advice: str  # what the findings about it say ("" when none)


@dataclass(frozen=True)
class QueryPatterns:
    status: str  # ran, not available, not collected
    reason: str | None
    source: str  # where the numbers come from, and since when
    statements: int  # statements of this database pg_stat_statements holds
    patterns: tuple[QueryPattern, ...]  # the top statements, heaviest first


def access_of(plan: QueryPlan | None) -> str:
    if plan is None:
        return "not planned"
    if plan.status != "ran":
        return f"{plan.status}: {plan.reason}"
    parts: list[str] = []
    for scan in plan.scans:
        table = f"{scan['schema']}.{scan['table']}"
        if scan["node"] == "Seq Scan":
            part = f"seq scan {table}"
        elif scan["indexes"]:
            part = f"index {', '.join(scan['indexes'])}"
        else:
            part = f"{scan['node'].lower()} {table}"
        if part not in parts:
            parts.append(part)
    return "; ".join(parts) or "no table read"


def advice_by_statement(findings: Iterable[Finding]) -> dict[str, list[str]]:
    """Short advice per statement fingerprint, from the workload findings."""
    advice: dict[str, list[str]] = {}
    for item in findings:
        if item.rule == "missing-index-for-query":
            for entry in item.evidence.get("statements", []):
                text = f"index on {item.object}"
                if entry.get("cost_after") is not None:
                    text += f": cost {entry['cost_before']:,.1f} → {entry['cost_after']:,.1f}"
                    if entry["measured_with"] != item.evidence.get("columns"):
                        text += f" (measured with ({', '.join(entry['measured_with'])}))"
                else:
                    text += " (not measured)"
                advice.setdefault(entry["fingerprint"], []).append(text)
        elif item.where.kind == "statement":
            label = {
                "n-plus-one-suspect": "N+1 suspect: fetch all keys at once",
                "slow-query": "slow",
                "top-time-query": "top time",
            }.get(item.rule, item.rule)
            advice.setdefault(item.where.path[0], []).append(label)
    return advice


def query_patterns(snap: Snapshot, findings: list[Finding]) -> QueryPatterns:
    source = snap.statement_sources[0] if snap.statement_sources else None
    if source is None:
        return QueryPatterns(NOT_COLLECTED, "no rule that reads the workload ran", "", 0, ())
    if source.status != RAN:
        return QueryPatterns(NOT_AVAILABLE, source.reason, "", source.statements, ())
    plans = {plan.fingerprint: plan for plan in snap.query_plans}
    advice = advice_by_statement(findings)
    since = f"since {source.stats_reset}" if source.stats_reset else "since its last reset"
    text = (
        f"pg_stat_statements {source.version} (schema {source.schema}), {since}:"
        f" {source.statements:,} statements, {source.total_ms / 1000:,.1f} s in top-level"
        f" statements; hypopg {source.hypopg}"
    )
    if source.hidden:
        text += f"; {source.hidden:,} statements of other roles hidden from this role"
    return QueryPatterns(
        RAN,
        None,
        text,
        source.statements,
        tuple(
            pattern(statement, plans.get(statement.fingerprint), advice, source.total_ms)
            for statement in sorted(snap.statements, key=lambda s: (-s.total_ms, s.fingerprint))
        ),
    )


def pattern(
    statement: Statement, plan: QueryPlan | None, advice: dict[str, list[str]], total_ms: float
) -> QueryPattern:
    return QueryPattern(
        statement=shortened(statement.query),
        fingerprint=statement.fingerprint,
        kind=statement.kind,
        calls=statement.calls,
        mean_ms=round(statement.mean_ms, 3),
        total_ms=round(statement.total_ms, 1),
        share_of_total_time=round(statement.total_ms / total_ms, 4) if total_ms > 0 else None,
        rows_per_call=round(statement.rows_per_call, 2),
        plan_cost=plan.total_cost if plan is not None else None,
        access=access_of(plan),
        advice="; ".join(
            dict.fromkeys(
                [
                    *advice.get(statement.fingerprint, []),
                    *(
                        ["PostgreSQL's own foreign-key check"]
                        if foreign_key_statement(statement.query)
                        else []
                    ),
                ]
            )
        ),
    )
