"""Placeholders that migration tools replace in a migration's text before they send it
(verbatim, no quoting). The server would reject them ("syntax error at or near ':'"),
so review replaces them as the tool does.

graphile-migrate's `:DATABASE_VISITOR` and the like: the values `.gmrc` gives, an
environment variable where it says "!ENV", and a stand-in role name where that variable
is not set (review creates missing roles). graphile-migrate sets `:DATABASE_NAME` and
`:DATABASE_OWNER` itself.

Synapse's `$%AUTO_INCREMENT_PRIMARY_KEY%$`, which its PostgreSQL engine replaces with an
identity key before it runs a delta file (no SQL can contain it otherwise).

gobuffalo/pop's file migrator runs each migration through Go's text/template with the
connection's options as `.Options`: Supabase Auth writes `{{ index .Options "Namespace" }}`
for its schema (default `auth`, DB_NAMESPACE in the environment).

River's `/* TEMPLATE: schema */` before every name (riverqueue/river@fdf6cdf,
rivershared/sqlctemplate): its migrator (rivermigrate/river_migrate.go) replaces it,
inside string literals too, with `"<schema>".` or, by default, nothing. Left in, River's
`to_regclass('/* TEMPLATE: schema */river_migration')` fails on PostgreSQL 15 and is
NULL on 16, where the table it rebuilds is then silently left as it was.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from pgvitals.review.split import Note

CONFIG = ".gmrc"
# a JSON5 string pair in .gmrc's "placeholders": `":DATABASE_VISITOR": "!ENV"`
PAIR = re.compile(r"""["'](:[A-Z][A-Z0-9_]*)["']\s*:\s*["']([^"']*)["']""")
COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.DOTALL)


def config_for(path: Path) -> Path | None:
    """The `.gmrc` of the project a migration file belongs to: in its folder or one of
    the three above it (graphile-migrate's `migrations/committed/000001.sql`)."""
    for folder in [path.parent, *path.parent.parents][:4]:
        candidate = folder / CONFIG
        if candidate.is_file():
            return candidate
    return None


def declared(config: Path) -> dict[str, str]:
    """The placeholders `.gmrc` declares, with their values ("!ENV" kept as is)."""
    try:
        text = COMMENT.sub("", config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return {}
    block = re.search(r"""["']?placeholders["']?\s*:\s*\{(.*?)\}""", text, re.DOTALL)
    return dict(PAIR.findall(block.group(1))) if block else {}


# the placeholders of tools that replace a fixed token, and what their PostgreSQL
# engine writes in its place (Synapse: synapse/storage/engines/postgres.py)
TOKENS = {
    "$%AUTO_INCREMENT_PRIMARY_KEY%$": (
        "Synapse",
        "BIGINT PRIMARY KEY GENERATED ALWAYS AS IDENTITY",
    ),
}


# River's schema template, and what its migrator writes for the default schema (the
# connection's search_path decides)
RIVER_TEMPLATE = "/* TEMPLATE: schema */"


# `{{ index .Options "Namespace" }}`, as Go's template parser reads it (spaces optional)
POP_OPTION = re.compile(r'\{\{-?\s*index\s+\.Options\s+"([^"]+)"\s*-?\}\}')
# pop options whose value a known tool sets: (tool, environment variables, its default)
POP_OPTIONS = {"Namespace": ("Supabase Auth", ("GOTRUE_DB_NAMESPACE", "DB_NAMESPACE"), "auth")}


def replaced(path: Path, shown: str, text: str, database: str, user: str) -> tuple[str, list[Note]]:
    """The file's text with the placeholders of its tool replaced, and a note per kind of
    value used; the text unchanged where no tool's placeholder appears."""
    notes = []
    for token, (tool, value) in TOKENS.items():
        if token in text:
            text = text.replace(token, value)
            notes.append(Note(shown, 1, f"{tool}'s placeholder {token} replaced by {value}"))
    if RIVER_TEMPLATE in text:
        text = text.replace(RIVER_TEMPLATE, "")
        notes.append(
            Note(
                shown,
                1,
                f"River's schema template {RIVER_TEMPLATE} removed, as its migrator does"
                " without a Schema (names then resolve through the search_path)",
            )
        )
    text, more = pop_replaced(shown, text)
    notes += more
    text, more = graphile_replaced(path, shown, text, database, user)
    return text, notes + more


def pop_replaced(shown: str, text: str) -> tuple[str, list[Note]]:
    """The file's text with pop's `{{ index .Options "X" }}` replaced: by the value the
    environment gives, else the tool's default, else a stand-in (the option's name)."""
    values: dict[str, str] = {}
    notes = []
    for option in dict.fromkeys(POP_OPTION.findall(text)):
        tool, variables, default = POP_OPTIONS.get(option, ("", (option.upper(),), ""))
        given = next((os.environ[name] for name in variables if os.environ.get(name)), "")
        values[option] = given or default or option.lower()
        if given:
            source = "from the environment"
        elif default:
            source = f"{tool}'s default; {variables[-1]} sets another"
        else:
            source = f"a stand-in; set {variables[0]} to review with yours"
        replacement = f'pop template option "{option}" replaced by {values[option]}'
        notes.append(Note(shown, 1, f"{replacement} ({source})"))
    return POP_OPTION.sub(lambda match: values[match.group(1)], text), notes


def graphile_replaced(
    path: Path, shown: str, text: str, database: str, user: str
) -> tuple[str, list[Note]]:
    """The file's text with graphile-migrate's placeholders replaced (outside a
    graphile-migrate project: unchanged)."""
    config = config_for(path)
    if config is None:
        return text, []
    values: dict[str, str] = {}
    stand_ins: list[str] = []
    for name, value in declared(config).items():
        if value == "!ENV":
            value = os.environ.get(name[1:], "")
            if not value:
                value = name[1:].lower()
                stand_ins.append(name)
        values[name] = value
    values.setdefault(":DATABASE_NAME", database)
    values.setdefault(":DATABASE_OWNER", os.environ.get("DATABASE_OWNER") or user)
    used = [name for name in values if name in text]
    if not used:
        return text, []
    # the longest first: `:DATABASE_OWNER_ROLE` is not `:DATABASE_OWNER` + `_ROLE`
    for name in sorted(used, key=len, reverse=True):
        value = values[name]
        text = re.sub(re.escape(name) + r"(?![A-Z0-9_])", lambda _, value=value: value, text)
    replaced_as = ", ".join(sorted(used))
    notes = [
        Note(
            shown, 1, f"graphile-migrate placeholders replaced as {config.name} says: {replaced_as}"
        )
    ]
    missing = [f"{name} -> {values[name]}" for name in stand_ins if name in used]
    if missing:
        notes.append(
            Note(
                shown,
                1,
                f"no value in the environment for {', '.join(missing)}"
                " (a stand-in role; set the variable to review with yours)",
            )
        )
    return text, notes
