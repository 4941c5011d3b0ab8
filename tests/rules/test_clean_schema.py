"""A clean, well-designed schema: the integrity and naming rules stay silent on it
(issue 7: "stays silent on a clean, well-designed schema")."""

from __future__ import annotations

from pgvitals.connect import connect
from pgvitals.engine import analyse
from pgvitals.snapshot.collect import collect

CLEAN = """
CREATE SCHEMA school;
COMMENT ON SCHEMA school IS 'Schools, teachers and lessons.';
CREATE TABLE school.alembic_version (version_num varchar(32) PRIMARY KEY);
COMMENT ON TABLE school.alembic_version IS 'Applied migrations.';
CREATE TABLE school.teachers (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email text NOT NULL CHECK (btrim(email) <> ''),
    status text NOT NULL CHECK (status IN ('active', 'left')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz
);
CREATE UNIQUE INDEX teachers_email_key ON school.teachers (lower(email)) WHERE deleted_at IS NULL;
COMMENT ON TABLE school.teachers IS 'Staff who teach.';
CREATE TABLE school.lessons (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    teacher_id bigint NOT NULL REFERENCES school.teachers,
    title text NOT NULL,
    metadata jsonb NOT NULL DEFAULT '{}',
    scheduled_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX lessons_teacher_id_idx ON school.lessons (teacher_id);
COMMENT ON TABLE school.lessons IS 'One lesson given by one teacher.';
CREATE TABLE school.visits (
    visited_at timestamptz NOT NULL,
    lesson_id bigint NOT NULL REFERENCES school.lessons,
    PRIMARY KEY (lesson_id, visited_at)
) PARTITION BY RANGE (visited_at);
CREATE TABLE school.visits_default PARTITION OF school.visits DEFAULT;
COMMENT ON TABLE school.visits IS 'Visits to a lesson.';
INSERT INTO school.teachers (email, status) VALUES ('a@example.com', 'active');
INSERT INTO school.lessons (teacher_id, title, scheduled_at) VALUES (1, 'Algebra', now());
ANALYZE;
"""


def test_a_clean_schema_has_no_integrity_or_naming_findings(database) -> None:
    database.execute(CLEAN)
    session = connect(database.dsn)
    try:
        snap = collect(session, ["school"])
    finally:
        session.close()
    analysis = analyse(snap)
    ours = [(f.rule, f.object) for f in analysis.findings if f.category in ("integrity", "naming")]
    assert ours == []
