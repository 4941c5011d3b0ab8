"""Run the rules over a Snapshot. A rule that raises marks its check "failed";
the other rules still run and the report is still produced."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from pgvitals.config import Config
from pgvitals.findings import Category, Finding, Severity
from pgvitals.rules import REGISTRY, Rule
from pgvitals.rules._api import NO_ROWS, ROWS_OPTIONAL, ROWS_REQUIRED, complete
from pgvitals.snapshot.model import Snapshot
from pgvitals.snapshot.probes import PROBES
from pgvitals.suppress import Excused, Suppressor, UnusedExcuse

LIVE, REVIEW = "live", "review"


@dataclass(frozen=True)
class Check:
    rule: str
    status: str  # ran, skipped, failed
    reason: str | None
    duration_ms: int
    skipped_objects: tuple[dict[str, str], ...] = ()

    def to_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "rule": self.rule,
            "status": self.status,
            "reason": self.reason,
            "duration_ms": self.duration_ms,
        }
        if self.skipped_objects:
            entry["skipped_objects"] = list(self.skipped_objects)
        return entry


@dataclass(frozen=True)
class Analysis:
    snapshot: Snapshot
    findings: list[Finding]
    excused: list[Excused]
    checks: list[Check]
    mode: str
    config: Config = field(default_factory=Config)
    unused_excuses: list[UnusedExcuse] = field(default_factory=list)

    def worst_severity(self) -> Severity | None:
        return max((f.severity for f in self.findings), default=None)

    def thresholds(self) -> dict[str, dict[str, Any]]:
        """The options each rule that ran used (defaults overlaid with the config)."""
        ran = {c.rule for c in self.checks if c.status == "ran"}
        return {
            rule.id: self.config.options_for(rule.id)
            for rule in ordered_rules()
            if rule.id in ran and rule.options
        }


def ordered_rules() -> list[Rule]:
    category_order = list(Category)
    return sorted(REGISTRY.values(), key=lambda r: (category_order.index(r.category), r.id))


DEFAULT_CONFIG = Config()


def analyse(snapshot: Snapshot, config: Config = DEFAULT_CONFIG, mode: str = LIVE) -> Analysis:
    findings: list[Finding] = []
    excused: list[Excused] = []
    checks: list[Check] = []
    suppressor = Suppressor(config, snapshot.located_objects())
    for rule in ordered_rules():
        reason = skip_reason(rule, snapshot, config, mode)
        if reason:
            checks.append(Check(rule.id, "skipped", reason, 0))
            continue
        started = time.perf_counter()
        try:
            options = rule.make_options(config.options_for(rule.id))
            drafts = list(rule.check(snapshot, options))
        except Exception as error:  # a broken rule must not take the report down
            elapsed = _ms(started)
            checks.append(Check(rule.id, "failed", f"{type(error).__name__}: {error}", elapsed))
            continue
        configured = config.severity_for(rule.id)
        for draft in drafts:
            item = complete(rule, draft, configured)
            excuse = suppressor.excuse(item)
            if excuse:
                excused.append(excuse)
            else:
                findings.append(item)
        checks.append(Check(rule.id, "ran", None, _ms(started), unread_tables(rule, snapshot)))
    findings.sort(key=lambda f: (f.severity.rank, f.category, f.rule, f.object))
    ran = {c.rule for c in checks if c.status == "ran"}
    unused = suppressor.unused(ran) + suppressor.unknown_rules(REGISTRY)
    return Analysis(snapshot, findings, excused, checks, mode, config, unused)


def required_probes(config: Config = DEFAULT_CONFIG) -> frozenset[str]:
    """The probes the enabled rules need: what the collector should run."""
    return frozenset(
        name for rule in REGISTRY.values() if rule.id not in config.disabled for name in rule.needs
    )


def missing_probes(rule: Rule, snapshot: Snapshot) -> list[str]:
    """Probes the rule cannot do without that did not run for this snapshot. A rule that
    reads rows only optionally runs without its row probes."""
    ran = snapshot.collection.probes
    if ran is None:  # an older snapshot: what it has is what there is
        return []
    return [
        name
        for name in rule.needs
        if name not in ran and not (rule.rows == ROWS_OPTIONAL and PROBES[name].reads_rows)
    ]


def probe_gap(snapshot: Snapshot, name: str) -> str:
    """Why a probe's data is missing: the reason the collector recorded when it could not
    run it (pg_stat_statements not installed, ...), else what the probe reads."""
    return (snapshot.collection.unavailable or {}).get(name) or PROBES[name].help


def skip_reason(rule: Rule, snapshot: Snapshot, config: Config, mode: str) -> str | None:
    if rule.id in config.disabled:
        return f"disabled in {config.source or 'configuration'}"
    if rule.uses_statistics and mode == REVIEW:
        return "needs the statistics of a live database"
    missing = missing_probes(rule, snapshot)
    if missing and not (rule.rows == ROWS_REQUIRED and not snapshot.collection.data_profiled):
        return "not collected: " + "; ".join(probe_gap(snapshot, name) for name in missing)
    if rule.rows == ROWS_REQUIRED and not snapshot.collection.data_profiled:
        return "table rows not read (--no-data)"
    if (
        rule.rows == ROWS_REQUIRED
        and snapshot.profiles
        and all(p.status == "skipped" for p in snapshot.profiles)
    ):
        reasons = sorted({p.reason or "unknown" for p in snapshot.profiles})
        return "; ".join(reasons)
    return None


def unread_tables(rule: Rule, snapshot: Snapshot) -> tuple[dict[str, str], ...]:
    """Tables whose rows this rule wanted but could not read, and why."""
    if rule.rows == NO_ROWS:
        return ()
    return tuple(
        {"object": snapshot.table_by_oid[p.table_oid].qualname, "reason": p.reason or "unknown"}
        for p in snapshot.profiles
        if p.status == "skipped" and p.table_oid in snapshot.table_by_oid
    )


def _ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)
