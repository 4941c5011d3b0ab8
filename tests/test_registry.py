"""The rule catalogue is consistent: ids, docs, cases, SARIF."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import re
import sys
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from pgvitals import ruledocs
from pgvitals.cli import main
from pgvitals.connect import connect
from pgvitals.engine import analyse
from pgvitals.render.sarif import build_sarif
from pgvitals.report import build_report
from pgvitals.ruledocs import DOCS_BASE_URL, compose, config_toml, render_docs
from pgvitals.rules import CATEGORIES, REGISTRY, SEVERITIES, Rule, _api
from pgvitals.rules._api import DOC_SECTIONS, MAINTENANCE, MEDIUM, Draft
from pgvitals.snapshot.collect import collect
from pgvitals.snapshot.model import Snapshot, Table
from pgvitals.testing import load_case_file, load_cases
from tests.helpers import pgvitals

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CASES = Path(__file__).parent / "rules" / "cases"
DOCS = Path(__file__).parent.parent / "docs" / "rules"

# SPEC §5 ids this version implements; they must keep exactly these names.
CONTRACT_IDS = {
    "high-dead-tuple-ratio", "autovacuum-disabled", "stale-statistics", "xid-wraparound-risk",
    "table-bloat",
    "high-churn-table", "cleared-table", "unused-table", "update-hot-spot", "empty-schema",
    "aborted-writes",
    "backup-table", "duplicate-columns", "mixed-id-strategy", "timestamp-without-time-zone",
    "json-instead-of-jsonb", "serial-instead-of-identity",
    "soft-delete-without-partial-unique", "status-without-check", "similar-tables",
    "empty-string-in-not-null", "timestamp-as-integer", "missing-primary-key",
    "integer-key-overflow-risk", "fk-type-mismatch", "missing-foreign-key",
    "unvalidated-constraint", "nullable-unique", "partition-coverage",
    "partitioning-candidate", "invalid-ddl",
    "unindexed-foreign-key", "duplicate-index", "redundant-index", "unused-index",
    "invalid-index", "seq-scan-heavy-table", "over-indexed-table", "jsonb-without-gin",
    "index-bloat",
    "missing-comments", "naming-singular-plural-mix", "timestamp-naming-mix",
    "identifier-needs-quoting", "reserved-word-identifier", "no-migration-history",
    "security-definer-search-path", "security-definer-executable-by-api-role",
    "extension-in-public", "bypassrls-login-role", "public-schema-create", "grant-to-public",
    "sensitive-columns-exposed", "rls-per-row-function", "multiple-permissive-policies",
    "rls-disabled", "rls-enabled-no-policy", "policy-without-rls", "rls-missing-command",
    "rls-policy-always-true", "rls-session-variable", "view-bypasses-rls", "rls-not-forced",
    "rls-policy-recursion",
}  # fmt: skip


def test_ids_are_kebab_case_and_named_like_their_functions() -> None:
    for rule_id, rule in REGISTRY.items():
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", rule_id)
        assert rule.check.__name__ == rule_id.replace("-", "_")
        assert rule.category in CATEGORIES
        assert rule.severity in SEVERITIES
    assert set(REGISTRY) >= CONTRACT_IDS


def test_every_rule_is_documented() -> None:
    for rule in REGISTRY.values():
        assert rule.summary, rule.id
        for heading in DOC_SECTIONS:
            assert len(rule.section(heading)) > 40, (rule.id, heading)


def test_every_rule_has_a_firing_and_a_silent_case() -> None:
    for rule_id in REGISTRY:
        path = CASES / f"{rule_id}.yaml"
        assert path.exists(), f"{rule_id} has no cases"
        spec = yaml.safe_load(path.read_text())
        assert spec["rule"] == rule_id
        assert any(case["expect"] for case in spec["cases"]), f"{rule_id} never fires"
        assert any(not case["expect"] for case in spec["cases"]), f"{rule_id} is never silent"
        # the cases load as the harness runs them, and both kinds hold with the
        # defaults: a case that fires or stays silent only under its own config
        # does not show what users get out of the box
        cases = load_case_file(path)
        names = [case.name for case in cases]
        assert len(names) == len(set(names)), f"{rule_id}: two cases share a name"
        defaults = [case for case in cases if not case.config]
        # A rule that calls something unused only over `min_statistics_hours` of
        # statistics cannot fire with the defaults on a test server whose statistics
        # are minutes old: its firing case may shorten that window, and nothing else.
        windowed = "min_statistics_hours" in REGISTRY[rule_id].default_options()
        only_window = [case for case in cases if set(case.config) == {"min_statistics_hours"}]
        firing = defaults + (only_window if windowed else [])
        assert any(case.fires for case in firing), f"{rule_id} never fires with its defaults"
        assert any(not case.fires for case in defaults), f"{rule_id} never silent by default"
        for case in cases:
            case.parsed_config()  # raises ConfigError on a misspelt option
            assert all(item["object"] for item in case.expect), case.id


def test_every_case_file_belongs_to_a_rule() -> None:
    for path in CASES.glob("*.yaml"):
        assert path.stem in REGISTRY, f"{path.name}: no rule named {path.stem!r}"


def options_used(
    function: Callable[..., object], position: int = 1, seen: set[object] | None = None
) -> set[str]:
    """The attribute names `function` reads from its parameter at `position` (a rule's
    `opts`), following that parameter into the functions it is passed to."""
    seen = set() if seen is None else seen
    seen.add((function, position))
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    definition = tree.body[0]
    assert isinstance(definition, ast.FunctionDef), function
    parameter = definition.args.args[position].arg
    used = set()
    for node in ast.walk(definition):
        if isinstance(node, ast.Attribute) and is_name(node.value, parameter):
            used.add(node.attr)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            helper = function.__globals__.get(node.func.id)
            if not inspect.isfunction(helper):
                continue
            names = list(inspect.signature(helper).parameters)
            passed = [i for i, arg in enumerate(node.args) if is_name(arg, parameter)]
            passed += [names.index(k.arg) for k in node.keywords if is_name(k.value, parameter)]
            for index in passed:
                if (helper, index) not in seen:
                    used |= options_used(helper, index, seen)
    return used


def is_name(node: ast.AST, name: str) -> bool:
    return isinstance(node, ast.Name) and node.id == name


def options_problems(rule: Rule) -> list[str]:
    """Options the rule reads but does not declare, and an options parameter annotated
    with another class than the one registered."""
    declared = {field.name for field in dataclasses.fields(rule.options_type)}
    problems = [
        f"{rule.id} reads opts.{name}, which {rule.options_type.__name__} does not declare"
        for name in sorted(options_used(rule.check) - declared)
    ]
    parameters = list(inspect.signature(rule.check).parameters.values())
    hint = parameters[1].annotation  # a string: the rule modules postpone annotations
    hint_name = hint if isinstance(hint, str) else getattr(hint, "__name__", repr(hint))
    if hint_name != rule.options_type.__name__:
        problems.append(
            f"{rule.id}: opts is a {hint_name}, registered {rule.options_type.__name__}"
        )
    return problems


def test_every_option_a_rule_reads_is_declared() -> None:
    for rule in REGISTRY.values():
        assert options_problems(rule) == []


@dataclass(frozen=True)
class RatioOptions:
    min_ratio: float = _api.option(0.2, "ratio at which to report")


def misspelt_rule(snap: Snapshot, opts: RatioOptions) -> Iterator[Draft]:
    for table in snap.tables:
        if dead_ratio(table) > opts.min_ratoi or too_dead(table, limits=opts):
            yield from ()


def dead_ratio(table: Table) -> float:
    return (table.n_dead_tup or 0) / max((table.n_live_tup or 0) + (table.n_dead_tup or 0), 1)


def too_dead(table: Table, limits: RatioOptions) -> bool:
    return dead_ratio(table) > limits.min_ratio * limits.hihg_ratio


def test_the_option_check_catches_misspelt_options_and_a_wrong_class() -> None:
    misspelt = Rule("misspelt-rule", MAINTENANCE, MEDIUM, "", misspelt_rule, RatioOptions)
    assert options_problems(misspelt) == [
        "misspelt-rule reads opts.hihg_ratio, which RatioOptions does not declare",
        "misspelt-rule reads opts.min_ratoi, which RatioOptions does not declare",
    ]
    wrong_class = dataclasses.replace(
        misspelt, options_type=REGISTRY["high-dead-tuple-ratio"].options_type
    )
    assert options_problems(wrong_class)[-1] == (
        "misspelt-rule: opts is a RatioOptions, registered DeadTupleOptions"
    )


def test_options_have_help_and_typed_defaults() -> None:
    for rule in REGISTRY.values():
        for option in rule.options:
            assert option.help and isinstance(option.default, (int, float, str, bool))


def test_the_rule_reference_in_docs_is_current() -> None:
    pages = render_docs(CASES)
    on_disk = {path.name: path.read_text(encoding="utf-8") for path in DOCS.glob("*.md")}
    stale = sorted(
        name for name in set(pages) | set(on_disk) if pages.get(name) != on_disk.get(name)
    )
    assert not stale, (
        f"docs/rules is not current ({stale}): run `pgvitals rules --write-docs docs/rules`"
    )


def test_the_toml_in_the_reference_reads_back_as_written() -> None:
    configs = [case.config for case in load_cases(CASES) if case.config]
    configs += [{"rules": {r.id: {**r.default_options(), "severity": r.severity.value}}}
                for r in REGISTRY.values()]  # fmt: skip
    configs.append({"disable": ["duplicate-index"], "schemas": ["app"], "fail_on": "high",
                    "ignore": [{"rule": "missing-primary-key", "object": 'a."b"',
                                "reason": "append-only, ñ"}]})  # fmt: skip
    for config in configs:
        assert tomllib.loads(config_toml(config)) == {"tool": {"pgvitals": config}}


def test_sarif_rules_carry_the_composed_page_and_link_to_it(database) -> None:
    connection = connect(database.dsn)
    try:
        report = build_report(analyse(collect(connection, profile=None)))
    finally:
        connection.close()
    descriptors = build_sarif(report)["runs"][0]["tool"]["driver"]["rules"]
    assert {d["id"] for d in descriptors} == set(REGISTRY)
    for descriptor in descriptors:
        rule = REGISTRY[descriptor["id"]]
        assert descriptor["helpUri"] == f"{DOCS_BASE_URL}{rule.id}.md"
        assert (DOCS / f"{rule.id}.md").is_file()
        assert descriptor["help"]["markdown"] == compose(rule)


def test_rules_command_writes_the_reference_and_reports_stale_pages(tmp_path: Path) -> None:
    (tmp_path / "retired-rule.md").write_text("a page for a rule that is gone\n")
    run = pgvitals("rules", "--write-docs", str(tmp_path))
    assert run.exit_code == 0, run.stderr
    pages = render_docs(CASES)
    for name, text in pages.items():
        assert (tmp_path / name).read_text(encoding="utf-8") == text
    assert "retired-rule.md documents no current rule" in run.stderr
    assert pgvitals("rules", "duplicate-index", "--write-docs", str(tmp_path)).exit_code == 2


def test_explaining_a_rule_needs_no_test_cases(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    # an installed package has no tests/ directory
    monkeypatch.setattr(ruledocs, "SOURCE_CASES", tmp_path / "absent")
    explained = CliRunner().invoke(main, ["rules", "high-dead-tuple-ratio"])
    assert explained.exit_code == 0, explained.output
    assert "min_dead_tuples" in explained.output
    assert ruledocs.page_url("high-dead-tuple-ratio") in "".join(explained.output.split())
    refused = CliRunner().invoke(main, ["rules", "--write-docs", str(tmp_path / "docs")])
    assert refused.exit_code == 2
    assert "run this from a source checkout" in refused.output
