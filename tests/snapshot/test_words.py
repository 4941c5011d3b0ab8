"""Words in identifiers: case styles normalised, singular and plural from inflect."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pgvitals.snapshot.facts import reference_stem
from pgvitals.snapshot.words import number, table_key, words


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("createdAt", ["created", "at"]),
        ("created_at", ["created", "at"]),
        ("CreatedAt", ["created", "at"]),
        ("Due Date", ["due", "date"]),
        ("TeacherID", ["teacher", "id"]),
        ("HTTPStatus", ["http", "status"]),
        ("ñame", ["ñame"]),
    ],
)
def test_words(name: str, expected: list[str]) -> None:
    assert words(name) == expected


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("LessonPlans", "lesson_plan"),
        ("lesson_plans", "lesson_plan"),
        ("people", "person"),
        ("categories", "category"),
        ("addresses", "address"),
        ("status", "status"),
        ("series", "series"),
    ],
)
def test_table_key(name: str, key: str) -> None:
    assert table_key(name) == key


@pytest.mark.parametrize(
    ("column", "stem"),
    [
        ("teacher_id", "teacher"),
        ("teacherId", "teacher"),
        ("TeacherID", "teacher"),
        ("lesson_plan_id", "lesson_plan"),
        ("id", None),
        ("paid", None),
        ("teacher", None),
    ],
)
def test_reference_stem(column: str, stem: str | None) -> None:
    assert reference_stem(column) == stem


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("teachers", "plural"),
        ("teacher", "singular"),
        ("statuses", "plural"),
        ("status", "singular"),
        ("analysis", "singular"),  # inflect's singular_noun reads it as "analysi"s
        ("bus", "singular"),
        ("campus", "singular"),
        ("menus", "plural"),  # inflect pluralises it as "menuses", like campus (Sanbase)
        ("menu", "singular"),
        ("pdus", "plural"),  # Matrix's PDUs (Dendrite's federationsender_queue_pdus)
        ("edus", "plural"),
        ("bonus", "singular"),
        ("people", "plural"),
        ("children", "plural"),
        ("criteria", "plural"),
        ("series", None),
        ("news", None),
    ],
)
def test_number(word: str, expected: str | None) -> None:
    assert number(word) == expected


def test_inflect_is_imported_without_typeguard_instrumentation_and_typeguard_is_restored() -> None:
    """The stand-in decorator keeps the import fast (about 1.8 s otherwise), and code
    importing typeguard afterwards still gets the real module."""
    script = (
        "import time, typeguard; started = time.monotonic();"
        "from pgvitals.snapshot.words import singular; assert singular('teachers') == 'teacher';"
        "import sys; assert sys.modules['typeguard'] is typeguard;"
        "print(time.monotonic() - started)"
    )
    elapsed = float(subprocess.check_output([sys.executable, "-c", script], text=True))
    assert elapsed < 1.0
