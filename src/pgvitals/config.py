"""One frozen Config, from `[tool.pgvitals]` in pyproject.toml or from pgvitals.toml.

[tool.pgvitals]
disable = ["naming-singular-plural-mix"]
schemas = ["app"]
fail_on = "high"
include_managed = false     # true: also assess Supabase's auth, ... and River's, Oban's, ... tables
                            # (the schema-wide convention rules count the user's tables only)

[tool.pgvitals.profile]     # how table rows are read (the quality rules)
exact_below_rows = 100000   # count every row of smaller tables; sample larger ones
sample_rows = 10000         # rows a TABLESAMPLE aims to read
per_table_ms = 5000         # statement_timeout of each table's read
total_ms = 60000            # for all the tables together

[tool.pgvitals.rules.high-dead-tuple-ratio]
min_ratio = 0.3
severity = "high"

[[tool.pgvitals.ignore]]
rule = "missing-primary-key"
object = "audit.*"          # fnmatch pattern on the finding's object
reason = "append-only log, replicated with REPLICA IDENTITY FULL"
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from pgvitals.rules import REGISTRY, SEVERITIES


class ConfigError(Exception):
    """The configuration cannot be used as written (exit code 2)."""


@dataclass(frozen=True)
class Excuse:
    rule: str
    object: str  # fnmatch pattern
    reason: str


@dataclass(frozen=True)
class Config:
    disabled: frozenset[str] = frozenset()
    rule_settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    excuses: tuple[Excuse, ...] = ()
    schemas: tuple[str, ...] = ()
    fail_on: str | None = None
    source: str | None = None
    # statistics-based areas need counters gathered over this long to be judged green
    min_statistics_hours: float = 24.0
    # also assess what a platform manages (Supabase's auth, storage, ...; SPEC §1)
    include_managed: bool = False
    # [profile]: ProfileBudget's fields (snapshot/collect.py) as written
    profile: dict[str, Any] = field(default_factory=dict)

    def options_for(self, rule_id: str) -> dict[str, Any]:
        """The rule's options: its defaults, overlaid with its settings. A rule that
        judges from the statistics window takes `min_statistics_hours` from the top
        level unless its own settings name one."""
        settings = dict(self.rule_settings.get(rule_id, {}))
        settings.pop("severity", None)
        defaults = REGISTRY[rule_id].default_options()
        if "min_statistics_hours" in defaults:
            defaults["min_statistics_hours"] = self.min_statistics_hours
        return {**defaults, **settings}

    def severity_for(self, rule_id: str) -> str | None:
        return self.rule_settings.get(rule_id, {}).get("severity")


def find_config(explicit: Path | None, directory: Path) -> tuple[dict[str, Any], str | None]:
    """The raw table and where it came from; {} when there is no configuration."""
    if explicit is not None:
        data = _read_toml(explicit)
        section = _tool_section(data, str(explicit))
        return (data if section is None else section, str(explicit))
    own = directory / "pgvitals.toml"
    if own.is_file():
        return _read_toml(own), str(own)
    pyproject = directory / "pyproject.toml"
    if pyproject.is_file():
        section = _tool_section(_read_toml(pyproject), str(pyproject))
        if section is not None:
            return section, f"{pyproject} [tool.pgvitals]"
    return {}, None


def load_config(explicit: Path | None = None, directory: Path | None = None) -> Config:
    data, source = find_config(explicit, directory or Path.cwd())
    return parse_config(data, source)


def parse_config(data: Any, source: str | None = None) -> Config:
    """A Config, or ConfigError naming the setting that is wrong: any TOML value can be
    in any place, and none may end in anything but one of these two."""
    where = source or "configuration"
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: the pgvitals settings must be a table")
    known_keys = {
        "disable", "rules", "ignore", "schemas", "fail_on", "min_statistics_hours",
        "include_managed", "profile",
    }  # fmt: skip
    unknown = set(data) - known_keys
    if unknown:
        raise ConfigError(f"{where}: unknown setting(s) {', '.join(sorted(unknown))}")
    disabled = _string_list(data.get("disable", []), f"{where}: disable")
    for rule_id in disabled:
        _known_rule(rule_id, where)
    rules = data.get("rules", {})
    if not isinstance(rules, dict):
        raise ConfigError(f"{where}: rules must be a table of rule ids ([rules.<rule-id>])")
    rule_settings = {
        rule_id: _rule_settings(rule_id, settings, where) for rule_id, settings in rules.items()
    }
    ignore = data.get("ignore", [])
    if not isinstance(ignore, list):
        raise ConfigError(f"{where}: ignore must be a list of [[ignore]] entries")
    excuses = tuple(_excuse(entry, where) for entry in ignore)
    fail_on = data.get("fail_on")
    if fail_on is not None and fail_on not in SEVERITIES:
        raise ConfigError(f"{where}: fail_on must be one of {', '.join(SEVERITIES)}")
    hours = data.get("min_statistics_hours", Config.min_statistics_hours)
    if isinstance(hours, bool) or not isinstance(hours, (int, float)) or not 0 <= hours < 1e6:
        raise ConfigError(f"{where}: min_statistics_hours must be a number of hours, 0 or more")
    include_managed = data.get("include_managed", False)
    if not isinstance(include_managed, bool):
        raise ConfigError(f"{where}: include_managed must be true or false")
    return Config(
        disabled=frozenset(disabled),
        rule_settings=rule_settings,
        excuses=excuses,
        schemas=tuple(_string_list(data.get("schemas", []), f"{where}: schemas")),
        fail_on=fail_on,
        source=source,
        min_statistics_hours=float(hours),
        include_managed=include_managed,
        profile=_profile_settings(data.get("profile", {}), where),
    )


# The [profile] settings: ProfileBudget's fields that a user may set.
PROFILE_SETTINGS = (
    "exact_below_rows", "exact_below_bytes", "sample_rows", "per_table_ms", "total_ms",
    "sample_method",
)  # fmt: skip


def _profile_settings(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: profile must be a table ([profile])")
    unknown = set(value) - set(PROFILE_SETTINGS)
    if unknown:
        names, known = ", ".join(sorted(unknown)), ", ".join(PROFILE_SETTINGS)
        raise ConfigError(f"{where}: unknown profile setting(s) {names} ({known})")
    for name, item in value.items():
        if name == "sample_method":
            if item not in ("system", "bernoulli"):
                raise ConfigError(f"{where}: profile.sample_method must be system or bernoulli")
        elif isinstance(item, bool) or not isinstance(item, int) or item <= 0:
            raise ConfigError(f"{where}: profile.{name} must be a whole number above 0")
    return dict(value)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror}") from None
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"{path} is not UTF-8 text (byte 0x{error.object[error.start]:02x} "
            f"at offset {error.start})"
        ) from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path} is not valid TOML: {error}") from None


def _tool_section(data: dict[str, Any], where: str) -> dict[str, Any] | None:
    """`[tool.pgvitals]`, or None when the file has none."""
    tool = data.get("tool")
    if tool is None:
        return None
    if not isinstance(tool, dict):
        raise ConfigError(f"{where}: tool must be a table ([tool.pgvitals])")
    section = tool.get("pgvitals")
    if section is not None and not isinstance(section, dict):
        raise ConfigError(f"{where}: tool.pgvitals must be a table ([tool.pgvitals])")
    return section


def _known_rule(rule_id: str, where: str) -> None:
    if rule_id not in REGISTRY:
        raise ConfigError(f"{where}: no rule named {rule_id!r} (see `pgvitals rules`)")


def _string_list(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"{where} must be a list of strings")
    return value


def _rule_settings(rule_id: str, settings: Any, where: str) -> dict[str, Any]:
    _known_rule(rule_id, where)
    if not isinstance(settings, dict):
        raise ConfigError(f"{where}: rules.{rule_id} must be a table")
    defaults = REGISTRY[rule_id].default_options()
    for name, value in settings.items():
        if name == "severity":
            if value not in SEVERITIES:
                raise ConfigError(
                    f"{where}: rules.{rule_id}.severity must be one of {', '.join(SEVERITIES)}"
                )
            continue
        if name not in defaults:
            allowed = ", ".join(["severity", *defaults]) or "severity"
            raise ConfigError(f"{where}: rule {rule_id} has no option {name!r} ({allowed})")
        if not _fits(value, defaults[name]):
            kind = type(defaults[name]).__name__
            if kind == "float" and isinstance(value, float):  # nan or inf
                kind = "finite float"
            article = "an" if kind[0] in "aeiou" else "a"
            raise ConfigError(
                f"{where}: rules.{rule_id}.{name} must be {article} {kind}, got {value!r}"
            )
    return dict(settings)


def _fits(value: Any, default: Any) -> bool:
    """`value` can stand for an option whose default is `default`. true is not a number
    (Python's bool is an int); an integer does for a float; nan and inf never do."""
    if isinstance(value, bool) or isinstance(default, bool):
        return type(value) is type(default)
    if isinstance(default, float):
        return isinstance(value, (int, float)) and math.isfinite(value)
    return isinstance(value, type(default))


def _excuse(entry: Any, where: str) -> Excuse:
    keys = ("rule", "object", "reason")
    if not isinstance(entry, dict) or not set(keys) <= set(entry):
        raise ConfigError(f"{where}: each [[ignore]] entry needs rule, object and reason")
    unknown = set(entry) - set(keys)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) in an [[ignore]] entry: {', '.join(sorted(unknown))}"
        )
    for key in keys:
        if not isinstance(entry[key], str):
            raise ConfigError(f"{where}: [[ignore]] {key} must be a string, got {entry[key]!r}")
    _known_rule(entry["rule"], where)
    if not entry["reason"].strip():
        raise ConfigError(f"{where}: ignoring {entry['object']} needs a reason")
    return Excuse(entry["rule"], entry["object"], entry["reason"])
