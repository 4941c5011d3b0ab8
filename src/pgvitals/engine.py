"""Run the rules over a Snapshot. A rule that raises marks its check "failed";
the other rules still run and the report is still produced."""

from __future__ import annotations

import dataclasses
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pgvitals.config import Config, ConfigError
from pgvitals.findings import Category, Finding, Located, Severity
from pgvitals.rules import REGISTRY, Rule
from pgvitals.rules._api import NO_ROWS, ROWS_OPTIONAL, ROWS_REQUIRED, Draft, complete
from pgvitals.snapshot.collect import NOT_PERMITTED, ProfileBudget
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
class NotAssessed:
    """Objects left out because a platform or an extension manages them (listed once)."""

    managed_by: str  # "Supabase", "the extensions"
    kind: str  # schemas, roles, objects of extensions
    names: tuple[str, ...]
    findings: int  # findings withheld on them in this run

    def to_text(self) -> str:
        withheld = f"; {self.findings:,} findings withheld" if self.findings else ""
        return f"{self.kind} {', '.join(self.names)}: managed by {self.managed_by}{withheld}"


@dataclass(frozen=True)
class Analysis:
    snapshot: Snapshot
    findings: list[Finding]
    excused: list[Excused]
    checks: list[Check]
    mode: str
    config: Config = field(default_factory=Config)
    unused_excuses: list[UnusedExcuse] = field(default_factory=list)
    not_assessed: list[NotAssessed] = field(default_factory=list)

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
    if mode == REVIEW and not snapshot.collection.reviewed:
        # rules that judge roles and grants must know they see only the files' (a saved
        # base is judged the same way, so that the two compare)
        collection = dataclasses.replace(snapshot.collection, reviewed=True)
        snapshot = dataclasses.replace(snapshot, collection=collection)
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
        configured = config.severity_for(rule.id)
        try:
            options = rule.make_options(config.options_for(rule.id))
            kept, excused_here = sift(rule, rule.check(snapshot, options), configured, suppressor)
            if rule.regroup is not None:
                default = Severity(configured) if configured else rule.severity
                drafts = rule.regroup(snapshot, options, [draft for draft, _ in kept], default)
                kept, excused_later = sift(rule, drafts, configured, suppressor)
                excused_here += excused_later
        except Exception as error:  # a broken rule must not take the report down
            elapsed = _ms(started)
            checks.append(Check(rule.id, "failed", f"{type(error).__name__}: {error}", elapsed))
            continue
        findings += (item for _, item in kept)
        excused += excused_here
        part = standby_part(rule, snapshot)
        checks.append(Check(rule.id, "ran", part, _ms(started), unread_tables(rule, snapshot)))
    findings.sort(key=lambda f: (f.severity.rank, f.category, f.rule, f.object))
    not_assessed: list[NotAssessed] = []
    if not config.include_managed:
        findings, not_assessed = leave_out_managed(snapshot, findings)
    ran = {c.rule for c in checks if c.status == "ran"}
    unused = suppressor.unused(ran) + suppressor.unknown_rules(REGISTRY)
    return Analysis(snapshot, findings, excused, checks, mode, config, unused, not_assessed)


def sift(
    rule: Rule, drafts: Iterable[Draft], configured: str | None, suppressor: Suppressor
) -> tuple[list[tuple[Draft, Finding]], list[Excused]]:
    """The rule's drafts completed into findings: those no excuse covers (each beside its
    draft), and the excused."""
    kept: list[tuple[Draft, Finding]] = []
    excused: list[Excused] = []
    for draft in drafts:
        item = complete(rule, draft, configured)
        excuse = suppressor.excuse(item)
        if excuse:
            excused.append(excuse)
        else:
            kept.append((draft, item))
    return kept, excused


def managed_by(where: Located, snapshot: Snapshot) -> str | None:
    """The platform that manages the object a finding is about, if any."""
    facts = snapshot.facts
    if not facts.managed_schemas and not facts.managed_roles:
        return None  # no platform here (most databases)
    schema = where.fields()["schema"]
    if schema is not None and schema in facts.managed_schemas:
        return facts.managed_schemas[schema]
    if where.kind == "role":
        return facts.managed_roles.get(where.path[0])
    return None


# What the operator can act on, on a library's own tables (River's river_job, Oban's
# oban_jobs, ...: snapshot/libraries.py), without changing what the library defines:
# their upkeep, their activity and the workload on them (whole areas), and the rules
# marked `on_library_tables`:
# who may reach them (grants and RLS are the operator's), what they hold (personal data,
# secrets in clear are the operator's to know of), an index built beside them (adding
# one is fine: seq-scan-heavy-table, unindexed-foreign-key) or an index of theirs left
# invalid or bloated (rebuilding keeps the definition), keys close to overflow (an
# outage whoever defined them), constraints left unvalidated, and what the user's own
# migrations do to them (the migration-* rules, matched by prefix). The rest asks to
# change the definition (its keys, types, names, comments, functions' settings, the
# row-level security it enables without policies to keep other roles out, as
# graphile-worker's 000001.sql does on its _private_ tables, to drop
# or merge the library's indexes, which its next migration expects; an index built
# beside them by hand is the operator's to drop) or judges the rows the library writes
# (all-empty-column, high-null-ratio: not the user's rows).
LIBRARY_KEPT_AREAS = frozenset({Category.MAINTENANCE, Category.ACTIVITY, Category.WORKLOAD})
# the kinds of object a library owns through its table, and those it owns by name
_BY_TABLE = frozenset({"table", "column", "constraint", "policy", "trigger"})


def library_of(item: Finding, snapshot: Snapshot) -> str | None:
    """The library whose definition a finding asks to change, if any (see above)."""
    if (
        item.category in LIBRARY_KEPT_AREAS
        or (item.rule in REGISTRY and REGISTRY[item.rule].on_library_tables)
        or item.rule.startswith("migration-")
    ):
        return None
    libraries = snapshot.facts.libraries
    if not libraries.tables:
        return None
    where = item.where
    named = where.fields()
    if where.kind in _BY_TABLE:
        return libraries.owner("table", named["schema"], named["table"])
    if where.kind == "function":
        return libraries.owner("function", named["schema"], where.path[1].split("(", 1)[0])
    if where.kind in ("index", "type"):
        return libraries.owner(where.kind, named["schema"], where.path[-1])
    return None


def leave_out_managed(
    snapshot: Snapshot, findings: list[Finding]
) -> tuple[list[Finding], list[NotAssessed]]:
    """Findings on objects the user cannot change are not the user's (SPEC §1): keep
    the others, and say once what was left out and by whom it is managed. Objects that
    belong to an extension are never collected; they are listed with their count. A
    library's tables are the user's to keep up, not to redesign (`library_of`)."""
    kept, withheld = [], defaultdict(int)
    by_library: dict[str, int] = defaultdict(int)
    for item in findings:
        platform = managed_by(item.where, snapshot)
        library = library_of(item, snapshot) if platform is None else None
        if library is not None:
            by_library[library] += 1
        elif platform is None:
            kept.append(item)
        else:
            withheld[(platform, item.where.kind == "role")] += 1
    facts = snapshot.facts
    listed = []
    for kind, by_name, roles in (
        ("schemas", facts.managed_schemas, False),
        ("roles", facts.managed_roles, True),
    ):
        for platform in sorted(set(by_name.values())):
            names = tuple(sorted(n for n, p in by_name.items() if p == platform))
            count = withheld[(platform, roles)]
            # roles are the cluster's: worth a line where this database is the platform's
            if roles and not count and platform not in facts.managed_schemas.values():
                continue
            listed.append(NotAssessed(platform, kind, names, count))
    library_tables = facts.libraries.tables
    for library in sorted(set(library_tables.values())):
        names = tuple(
            sorted(
                snapshot.table_by_oid[oid].qualname
                for oid, owner in library_tables.items()
                if owner == library
            )
        )
        listed.append(NotAssessed(library, "definitions of tables", names, by_library[library]))
    extensions = [e for e in snapshot.extensions if e.members and e.schema != "pg_catalog"]
    if extensions:
        names = tuple(f"{e.name} ({e.members:,})" for e in extensions)
        listed.append(NotAssessed("the extensions", "objects of extensions", names, 0))
    return kept, listed


def required_probes(config: Config = DEFAULT_CONFIG) -> frozenset[str]:
    """The probes the enabled rules need: what the collector should run."""
    return frozenset(
        name for rule in REGISTRY.values() if rule.id not in config.disabled for name in rule.needs
    )


def profile_budget(config: Config = DEFAULT_CONFIG) -> ProfileBudget:
    """How rows are read, from the config: its [profile] bounds, and the placeholder
    values placeholder-values counts (they are counted while the rows are read)."""
    placeholders = config.options_for("placeholder-values")["values"].split(",")
    try:
        return ProfileBudget(**config.profile, placeholders=tuple(placeholders))
    except ValueError as error:
        raise ConfigError(f"{config.source or 'configuration'}: {error}") from None


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


ON_STANDBY = (
    "this server is a standby: rows written, dead tuples, vacuums and analyzes are counted"
    " on the primary, not here (check the primary)"
)


def standby_part(rule: Rule, snapshot: Snapshot) -> str | None:
    """Why a rule that reads the primary's counters only in part ran in part here."""
    if rule.on_standby is None or not snapshot.server.in_recovery:
        return None
    return f"in part: this server is a standby, {rule.on_standby} (check the primary)"


def skip_reason(rule: Rule, snapshot: Snapshot, config: Config, mode: str) -> str | None:
    if rule.id in config.disabled:
        return f"disabled in {config.source or 'configuration'}"
    if rule.uses_statistics and mode == REVIEW:
        return "needs the statistics of a live database"
    if rule.live_only and mode == REVIEW:
        return "judges a deployed database, not the files reviewed"
    if rule.primary_counters and snapshot.server.in_recovery:
        return ON_STANDBY
    missing = missing_probes(rule, snapshot)
    if missing and not (rule.rows == ROWS_REQUIRED and not snapshot.collection.data_profiled):
        # two probes one cause stopped (pg_stat_statements) give it once
        gaps = dict.fromkeys(probe_gap(snapshot, name) for name in missing)
        return "not collected: " + "; ".join(gaps)
    if rule.rows == ROWS_REQUIRED and not snapshot.collection.data_profiled:
        # a review's tables hold no rows of the application's: none to read
        return "a review has no table rows" if mode == REVIEW else "table rows not read (--no-data)"
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


def rows_not_permitted(snapshot: Snapshot) -> list[tuple[str, str]]:
    """(table, why) for each table whose rows the role was not permitted to read (no
    SELECT, or row-level security that would hide some): a privileged role would have
    judged them. Not the tables a time budget left unread, nor any under --no-data."""
    return [
        (snapshot.table_by_oid[p.table_oid].qualname, p.reason or "")
        for p in snapshot.profiles
        if p.status == "skipped"
        and p.reason in NOT_PERMITTED
        and p.table_oid in snapshot.table_by_oid
    ]


def _ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)
