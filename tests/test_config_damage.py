"""A damaged configuration is one line naming the setting, and exit 2: never a traceback,
whatever value stands wherever (issue 6, item 11)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pgvitals.config import Config, ConfigError, parse_config
from pgvitals.rules import REGISTRY, SEVERITIES
from tests.conftest import free_port
from tests.helpers import pgvitals
from tests.test_cli import one_error_line

MPK = "missing-primary-key"


def ignore_entry(**changes: Any) -> dict[str, Any]:
    return {"rule": MPK, "object": "audit.*", "reason": "append-only", **changes}


@pytest.mark.parametrize(
    ("data", "named"),
    [
        ({"rules": 5}, "rules must be a table"),
        ({"rules": ["x"]}, "rules must be a table"),
        ({"rules": {MPK: 5}}, f"rules.{MPK} must be a table"),
        ({"rules": {MPK: {"severity": []}}}, f"rules.{MPK}.severity must be one of"),
        ({"rules": {MPK: {"severity": {"a": 1}}}}, f"rules.{MPK}.severity must be one of"),
        (
            {"rules": {"high-dead-tuple-ratio": {"min_dead_tuples": True}}},
            "min_dead_tuples must be an int, got True",
        ),
        (
            {"rules": {"high-dead-tuple-ratio": {"min_ratio": float("nan")}}},
            "min_ratio must be a finite float, got nan",
        ),
        (
            {"rules": {"high-dead-tuple-ratio": {"min_dead_tuples": 1.5}}},
            "min_dead_tuples must be an int, got 1.5",
        ),
        ({"ignore": 5}, "ignore must be a list"),
        ({"ignore": "x"}, "ignore must be a list"),
        ({"ignore": {"rule": MPK}}, "ignore must be a list"),
        ({"ignore": [1]}, "each [[ignore]] entry needs rule, object and reason"),
        ({"ignore": [ignore_entry(rule=[MPK])]}, "[[ignore]] rule must be a string"),
        ({"ignore": [ignore_entry(rule={"a": 1})]}, "[[ignore]] rule must be a string"),
        ({"ignore": [ignore_entry(object=3)]}, "[[ignore]] object must be a string, got 3"),
        ({"ignore": [ignore_entry(reason=[])]}, "[[ignore]] reason must be a string, got []"),
        ({"ignore": [ignore_entry(reason=" ")]}, "needs a reason"),
        ({"ignore": [ignore_entry(until="2027")]}, "unknown key(s) in an [[ignore]] entry: until"),
        ({"disable": "x"}, "disable must be a list of strings"),
        ({"disable": [5]}, "disable must be a list of strings"),
        ({"schemas": {"a": 1}}, "schemas must be a list of strings"),
        ({"fail_on": []}, "fail_on must be one of"),
        ({"fail_on": {"a": 1}}, "fail_on must be one of"),
        ({"tool": {"pgvitals": {}}}, "unknown setting(s) tool"),
        (5, "the pgvitals settings must be a table"),
        ([1], "the pgvitals settings must be a table"),
    ],
)
def test_wrong_shapes_name_the_setting(data: Any, named: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(data, "conf.toml")
    assert str(raised.value).startswith("conf.toml: ")
    assert named in str(raised.value)
    assert "\n" not in str(raised.value)


def run_with_config(tmp_path: Path, content: bytes, name: str = "pgvitals.toml") -> str:
    """The one error line of a check that reads `content` as its configuration. The
    server is unreachable: exit 2, not 3, also shows the config is read before connecting."""
    (tmp_path / name).write_bytes(content)
    dsn = f"host=127.0.0.1 port={free_port()} user=x dbname=x connect_timeout=5"
    run = pgvitals("check", dsn, cwd=tmp_path)
    assert "Traceback" not in run.stderr, run.stderr
    assert run.exit_code == 2, run.stderr
    return one_error_line(run.stderr)


def test_rules_that_is_not_a_table(tmp_path: Path) -> None:
    line = run_with_config(tmp_path, b"rules = 5\n")
    assert "pgvitals.toml: rules must be a table" in line


def test_an_ignore_rule_that_is_a_list(tmp_path: Path) -> None:
    content = b'[[ignore]]\nrule = ["missing-primary-key"]\nobject = "a.*"\nreason = "r"\n'
    assert "[[ignore]] rule must be a string" in run_with_config(tmp_path, content)


def test_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    line = run_with_config(tmp_path, b'disable = ["caf\xe9"]\n')
    assert "pgvitals.toml is not UTF-8 text (byte 0xe9 at offset 15)" in line


def test_tool_sections_of_the_wrong_type(tmp_path: Path) -> None:
    line = run_with_config(tmp_path, b"[tool]\npgvitals = 5\n", name="pyproject.toml")
    assert "pyproject.toml: tool.pgvitals must be a table" in line
    line = run_with_config(tmp_path, b"tool = 5\n", name="pyproject.toml")
    assert "pyproject.toml: tool must be a table" in line
    (tmp_path / "explicit.toml").write_bytes(b"tool = [1]\n")
    run = pgvitals("check", "--config", str(tmp_path / "explicit.toml"), cwd=tmp_path)
    assert run.exit_code == 2
    assert "explicit.toml: tool must be a table" in one_error_line(run.stderr)


def test_a_good_config_still_parses() -> None:
    config = parse_config(
        {
            "disable": ["redundant-index"],
            "schemas": ["app"],
            "fail_on": "high",
            "rules": {"high-dead-tuple-ratio": {"min_ratio": 1, "severity": "low"}},
            "ignore": [ignore_entry()],
        }
    )
    assert config.options_for("high-dead-tuple-ratio")["min_ratio"] == 1
    assert config.severity_for("high-dead-tuple-ratio") == "low"
    assert config.excuses[0].object == "audit.*"


# --- any TOML value in any place --------------------------------------------------------

OPTION_NAMES = sorted({name for rule in REGISTRY.values() for name in rule.default_options()})
WORDS = st.sampled_from(
    [
        "disable", "rules", "ignore", "schemas", "fail_on", "severity", "rule", "object",
        "reason", "tool", "pgvitals", *REGISTRY, *OPTION_NAMES, *SEVERITIES,
    ]
)  # fmt: skip
STRINGS = WORDS | st.text(max_size=8)
SCALARS = (
    STRINGS
    | st.integers()
    | st.floats()  # nan and inf included: TOML has them
    | st.booleans()
    | st.datetimes(timezones=st.none() | st.just(dt.timezone.utc))
    | st.dates()
    | st.times()
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(STRINGS, inner, max_size=4),
    max_leaves=16,
)
# Mostly the known keys, so that the values reach the deeper checks.
CONFIGS = st.dictionaries(WORDS, VALUES, max_size=5) | VALUES


@settings(
    max_examples=400, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(CONFIGS)
def test_any_toml_value_gives_a_config_or_a_config_error(data: Any) -> None:
    try:
        config = parse_config(data, "fuzz.toml")
    except ConfigError as error:
        assert str(error).startswith("fuzz.toml: ")
        return
    assert isinstance(config, Config)
    for rule_id in config.rule_settings:  # what the engine will ask of it
        config.options_for(rule_id)
        assert config.severity_for(rule_id) in (None, *SEVERITIES)
    assert all(isinstance(excuse.object, str) for excuse in config.excuses)
