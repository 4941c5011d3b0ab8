"""Words in identifiers: `teacherId`, `TeacherID` and `teacher_id` are the same words,
and `lesson_plans` is the plural of `lesson_plan`.

Singular and plural come from `inflect`, a maintained English inflection library,
not from a hand-written suffix list (which gets `status`, `addresses`, `people` and
`criteria` wrong).
"""

from __future__ import annotations

import importlib
import re
import sys
import types
from functools import cache
from typing import Any

# A lower-case letter or digit followed by a capital, or an acronym followed by a
# capitalised word: the places where camelCase and PascalCase put a word boundary.
CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
SEPARATOR = re.compile(r"[^0-9A-Za-z\u00C0-\uFFFF]+")


def words(identifier: str) -> list[str]:
    """The lower-case words of an identifier: `createdAt`, `created_at`, `CreatedAt`,
    `"Created At"` all give ["created", "at"]."""
    return list(word_tuple(identifier))


@cache
def word_tuple(identifier: str) -> tuple[str, ...]:
    """`words` as a tuple, to compare or look up without a copy (hot loops compare
    a name's words with every column's). Column names repeat across tables:
    `created_at` is split once."""
    # a lower-case name has no camelCase boundary (most names): no need for the pattern
    spaced = identifier if identifier.islower() else CAMEL_BOUNDARY.sub("_", identifier)
    return tuple(part.lower() for part in SEPARATOR.split(spaced) if part)


@cache  # column names repeat across tables
def snake(identifier: str) -> str:
    """The identifier as snake_case words: `LessonPlans` -> `lesson_plans`."""
    return "_".join(words(identifier))


@cache
def _engine() -> Any:
    """inflect's engine, imported on first use.

    inflect decorates its methods with typeguard's `@typechecked`, which re-parses the
    whole module source once per method when the module is imported: about 1.8 s
    (jaraco/inflect#212). The checks guard inflect's own API against wrong argument
    types, which our calls never pass, so the import runs with a no-op decorator in
    place of typeguard, and the real typeguard module is put back afterwards."""
    if "inflect" not in sys.modules:
        real = sys.modules.get("typeguard")
        stand_in = types.ModuleType("typeguard")
        stand_in.typechecked = lambda target=None, **_: target or (lambda f: f)  # type: ignore[attr-defined]
        sys.modules["typeguard"] = stand_in
        try:
            importlib.import_module("inflect")
        finally:
            if real is None:
                del sys.modules["typeguard"]
            else:
                sys.modules["typeguard"] = real
    return sys.modules["inflect"].engine()


@cache
def singular(word: str) -> str:
    """The singular of a lower-case English noun (unchanged when it already is one, or
    when singular and plural are the same word: `series`, `news`)."""
    if not word.isascii() or not word.isalpha() or len(word) < 3:
        return word
    return _engine().singular_noun(word) or word


@cache
def plural(word: str) -> str:
    if not word.isascii() or not word.isalpha() or len(word) < 3:
        return word
    return _engine().plural_noun(word)


# Plurals of English nouns ending in -u, which inflect reads as singulars ending in
# -us like `campus` (it pluralises `menus` as `menuses`), and of acronyms ending in U
# (Dendrite's `federationsender_queue_pdus` and `_queue_edus`: Matrix's PDUs and EDUs)
PLURALS_OF_U_NOUNS = frozenset(
    {"menus", "emus", "gurus", "haikus", "gnus", "tutus", "bayous"}
    | {"pdus", "edus", "cpus", "gpus", "tpus", "vcpus", "skus", "mtus"}
)


# Names of software that end in s, which inflect reads as plurals (`postgres` of a
# `postgre`): a table per service a platform deploys (Dokploy's postgres and redis beside
# mysql and mariadb) is named in neither number
PRODUCT_NAMES = frozenset({"postgres", "redis", "kubernetes", "jenkins", "prometheus"})


def number(word: str) -> str | None:
    """ "plural", "singular", or None when the word does not tell (`series`, `data`,
    `feedback`, `info`, a product's name such as `postgres`, or not an English noun
    inflect knows)."""
    if not word.isascii() or not word.isalpha() or len(word) < 3 or word in PRODUCT_NAMES:
        return None
    if word in PLURALS_OF_U_NOUNS:
        return "plural"
    many = plural(word)
    if singular(word) != word and many == word + "s":
        # inflect pluralises a plural by appending "s" (`teachers` -> `teacherss`), while
        # a singular it misreads as a plural (`analysis` -> `analysi`) gets its true
        # plural (`analyses`)
        return "plural"
    return "singular" if many != word else None


def table_key(name: str) -> str:
    """What a table's name and a column's reference stem are compared by: snake_case
    words with the last one singular (`LessonPlans`, `lesson_plans` -> `lesson_plan`)."""
    parts = words(name)
    if not parts:
        return ""
    return "_".join([*parts[:-1], singular(parts[-1])])
