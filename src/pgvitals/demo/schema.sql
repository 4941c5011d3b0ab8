-- =============================================================================
-- Practise & Improve -- pilot database
--
-- Education platform pilot: schools, teachers, class groups, students, lesson
-- plans and lessons, feedback, progress and streaks, an AI tutor chat, and
-- school subscriptions (schema "billing").
--
-- This file is the consolidated schema of the pilot plus a synthetic data set
-- (no real people: e-mails are @example.com / @example.org, phone numbers are
-- 555-01xx, IP addresses come from the documentation ranges).
--
-- Runs as a superuser in a fresh database. Roles are cluster-wide, so they are
-- created only when missing.
-- =============================================================================


-- -----------------------------------------------------------------------------
-- Roles used by the API gateway, the backend and the BI tool
-- -----------------------------------------------------------------------------
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'anon') THEN
        CREATE ROLE anon NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'authenticated') THEN
        CREATE ROLE authenticated NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'app_user') THEN
        CREATE ROLE app_user LOGIN;
    END IF;
    -- The BI tool needs to see every row for the weekly school reports.
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'reporting') THEN
        CREATE ROLE reporting LOGIN BYPASSRLS;
    END IF;
END
$$;


-- -----------------------------------------------------------------------------
-- Schemas
-- -----------------------------------------------------------------------------
CREATE SCHEMA practise_improve_pilot;
COMMENT ON SCHEMA practise_improve_pilot IS
    'Practise & Improve pilot: teaching, learning progress and the AI tutor chat.';

CREATE SCHEMA billing;
COMMENT ON SCHEMA billing IS 'School subscriptions, invoices and payments.';

-- Old reporting tables lived here; they were moved to the warehouse.
CREATE SCHEMA legacy;

-- Data-import scripts create scratch tables in public.
GRANT CREATE ON SCHEMA public TO PUBLIC;

SET search_path = practise_improve_pilot, public;


-- -----------------------------------------------------------------------------
-- Schools and staff
-- -----------------------------------------------------------------------------
CREATE TABLE schools (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name         text NOT NULL,
    city         text NOT NULL,
    country_code char(2) NOT NULL DEFAULT 'GB',
    created_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT schools_name_key UNIQUE (name)
);

-- Teachers sign in with e-mail and password (v1 auth, before the SSO rollout).
CREATE TABLE teachers (
    id            serial PRIMARY KEY,
    school_id     uuid NOT NULL REFERENCES schools (id),
    full_name     text NOT NULL,
    email         text NOT NULL UNIQUE,
    password      text NOT NULL,
    phone         text,
    fax_number    text,
    date_of_birth date,
    deleted_at    timestamptz,
    created_at    timestamp NOT NULL DEFAULT now()
);
CREATE INDEX teachers_school_id_idx ON teachers (school_id);

CREATE TABLE teacher_profile (
    teacher_id  integer PRIMARY KEY REFERENCES teachers (id) ON DELETE CASCADE,
    school_id   uuid NOT NULL REFERENCES schools (id),
    bio         text,
    subjects    text[] NOT NULL DEFAULT '{}',
    avatar_url  text,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX teacher_profile_school_id_idx ON teacher_profile (school_id);

CREATE TABLE class_groups (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    school_id   uuid NOT NULL REFERENCES schools (id),
    teacher_id  integer NOT NULL REFERENCES teachers (id),
    name        text NOT NULL,
    year_level  smallint NOT NULL CHECK (year_level BETWEEN 1 AND 13),
    description text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT class_groups_school_id_name_key UNIQUE (school_id, name)
);
CREATE INDEX class_groups_teacher_id_idx ON class_groups (teacher_id);


-- -----------------------------------------------------------------------------
-- Students
-- -----------------------------------------------------------------------------
CREATE TABLE students (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    school_id      uuid NOT NULL REFERENCES schools (id),
    class_group_id uuid REFERENCES class_groups (id),
    display_name   text NOT NULL,
    nickname       text,
    email          text NOT NULL,
    phone          text,
    guardian_phone text,
    date_of_birth  date,
    last_login_ip  inet,
    password_hash  text NOT NULL,
    preferences    jsonb NOT NULL DEFAULT '{}',
    deleted_at     timestamptz,
    created_at     timestamp NOT NULL DEFAULT now()
);
-- A student who left and re-enrols keeps the same e-mail address.
CREATE UNIQUE INDEX students_email_active_key ON students (lower(email)) WHERE deleted_at IS NULL;
CREATE INDEX students_school_id_idx ON students (school_id);
CREATE INDEX students_school_id_created_at_idx ON students (school_id, created_at);
CREATE INDEX students_preferences_idx ON students USING gin (preferences jsonb_path_ops);


-- -----------------------------------------------------------------------------
-- Lesson plans and lessons
-- -----------------------------------------------------------------------------
CREATE TABLE lesson_plans (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    teacher_id  integer NOT NULL REFERENCES teachers (id),
    subject     text NOT NULL,
    title       text NOT NULL,
    body        text NOT NULL DEFAULT '',
    "order"     smallint NOT NULL DEFAULT 0,
    "Due Date"  date,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX lesson_plans_teacher_id_idx ON lesson_plans (teacher_id);

-- Autosave of the lesson-plan editor (written by the web client every 30 s).
CREATE TABLE lesson_plan_drafts (
    id          serial PRIMARY KEY,
    teacher_id  integer NOT NULL,
    subject     text,
    title       text,
    body        text,
    "Due Date"  date,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE lessons (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    lesson_plan_id uuid REFERENCES lesson_plans (id),
    class_group_id uuid NOT NULL,
    teacher_id     integer NOT NULL,
    title          text NOT NULL,
    status         text NOT NULL DEFAULT 'scheduled',
    scheduled_at   timestamp NOT NULL,
    ended_at       timestamptz,
    notes          text,
    metadata       jsonb NOT NULL DEFAULT '{}',
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX lessons_teacher_id_idx ON lessons (teacher_id);
CREATE INDEX lessons_scheduled_at_idx ON lessons (scheduled_at);
CREATE INDEX lessons_created_at_idx ON lessons (created_at);

-- The mobile app's ORM writes camelCase columns.
ALTER TABLE lessons ADD COLUMN "createdAt" timestamptz;

CREATE TABLE "LessonNotes" (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    lesson_id   uuid NOT NULL REFERENCES lessons (id) ON DELETE CASCADE,
    "noteText"  text NOT NULL,
    "createdAt" timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX "LessonNotes_lesson_id_idx" ON "LessonNotes" (lesson_id);


-- -----------------------------------------------------------------------------
-- Feedback, progress, streaks
-- -----------------------------------------------------------------------------
CREATE TABLE feedback (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    lesson_id   uuid NOT NULL REFERENCES lessons (id),
    student_id  uuid NOT NULL REFERENCES students (id),
    rating      smallint NOT NULL CHECK (rating BETWEEN 1 AND 5),
    comment     text NOT NULL DEFAULT '',
    created     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX feedback_lesson_id_idx ON feedback (lesson_id);
-- lesson page was slow (PERF-212)
CREATE INDEX idx_feedback_lesson_id ON feedback (lesson_id);

CREATE TABLE lesson_feedback_tags (
    feedback_id bigint NOT NULL REFERENCES feedback (id),
    tag         text NOT NULL
);

CREATE TABLE progress (
    id          serial PRIMARY KEY,
    student_id  uuid NOT NULL REFERENCES students (id),
    lesson_id   varchar(36) NOT NULL,
    score       numeric(5, 2),
    completed   boolean NOT NULL DEFAULT false,
    updated_at  timestamp NOT NULL DEFAULT now()
);

CREATE TABLE streaks (
    student_id          uuid PRIMARY KEY REFERENCES students (id),
    current_streak      integer NOT NULL DEFAULT 0,
    longest_streak      integer NOT NULL DEFAULT 0,
    last_activity_date  date,
    updated_at          timestamptz NOT NULL DEFAULT now()
);
-- leaderboard
CREATE INDEX streaks_current_streak_idx ON streaks (current_streak DESC);


-- -----------------------------------------------------------------------------
-- AI tutor chat
-- -----------------------------------------------------------------------------
CREATE TABLE chat_sessions (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    student_id   uuid NOT NULL REFERENCES students (id),
    teacher_id   integer,
    status       text NOT NULL DEFAULT 'active',
    client_info  json,
    started_at   timestamptz NOT NULL DEFAULT now(),
    ended_at     timestamptz
);
CREATE INDEX chat_sessions_student_id_idx ON chat_sessions (student_id);

CREATE TABLE chat_messages (
    id          bigint GENERATED ALWAYS AS IDENTITY,
    session_id  uuid NOT NULL REFERENCES chat_sessions (id) ON DELETE CASCADE,
    role        text NOT NULL CHECK (role IN ('student', 'assistant', 'system')),
    body        text NOT NULL,
    sent_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id, sent_at)
) PARTITION BY RANGE (sent_at);
CREATE INDEX chat_messages_session_id_idx ON chat_messages (session_id, sent_at);

-- One partition per month, created ahead of time by the ops runbook.
CREATE TABLE chat_messages_2024_01 PARTITION OF chat_messages
    FOR VALUES FROM ('2024-01-01 00:00+00') TO ('2024-02-01 00:00+00');
CREATE TABLE chat_messages_2024_02 PARTITION OF chat_messages
    FOR VALUES FROM ('2024-02-01 00:00+00') TO ('2024-03-01 00:00+00');
CREATE TABLE chat_messages_2024_03 PARTITION OF chat_messages
    FOR VALUES FROM ('2024-03-01 00:00+00') TO ('2024-04-01 00:00+00');
CREATE TABLE chat_messages_2024_04 PARTITION OF chat_messages
    FOR VALUES FROM ('2024-04-01 00:00+00') TO ('2024-05-01 00:00+00');
-- Migration 0042 began a role index on the parent only, to attach the partitions'
-- indexes one by one "later"; nobody did.
CREATE INDEX chat_messages_role_idx ON ONLY chat_messages (role);


-- -----------------------------------------------------------------------------
-- Auth audit, announcements, gamification
-- -----------------------------------------------------------------------------
CREATE TABLE login_attempts (
    id            serial PRIMARY KEY,
    "user"        text NOT NULL,
    ip_address    inet,
    succeeded     boolean NOT NULL,
    attempted_at  timestamp NOT NULL DEFAULT now()
);

CREATE TABLE announcements (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    school_id          uuid NOT NULL REFERENCES schools (id),
    author_teacher_id  integer REFERENCES teachers (id),
    audience           text NOT NULL DEFAULT 'all',
    title              text NOT NULL,
    body               text NOT NULL,
    pinned             boolean NOT NULL DEFAULT false,
    published_at       timestamptz,
    expires_at         timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX announcements_school_id_idx ON announcements (school_id);
CREATE INDEX announcements_author_teacher_id_idx ON announcements (author_teacher_id);
CREATE INDEX announcements_audience_idx ON announcements (audience);
CREATE INDEX announcements_title_idx ON announcements (title);
CREATE INDEX announcements_title_lower_idx ON announcements (lower(title));
CREATE INDEX announcements_pinned_idx ON announcements (pinned);
CREATE INDEX announcements_published_at_idx ON announcements (published_at);
CREATE INDEX announcements_expires_at_idx ON announcements (expires_at);
CREATE INDEX announcements_created_at_idx ON announcements (created_at);
CREATE INDEX announcements_school_id_published_at_idx ON announcements (school_id, published_at);
CREATE INDEX announcements_pinned_published_at_idx ON announcements (pinned, published_at);

CREATE TABLE badges (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    code         text NOT NULL UNIQUE,
    title        text NOT NULL,
    description  text,
    -- seconds since 1970, as the mobile app sends it
    expires_at   bigint,
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- Imported from the Spanish partner school's export.
CREATE TABLE "Weird""Name" (
    id      integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    "ñame"  text NOT NULL
);


-- -----------------------------------------------------------------------------
-- Billing
-- -----------------------------------------------------------------------------
CREATE TABLE billing.plans (
    code              text PRIMARY KEY,
    name              text NOT NULL,
    price_cents       integer NOT NULL CHECK (price_cents >= 0),
    billing_interval  text NOT NULL CHECK (billing_interval IN ('month', 'year')),
    created_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE billing.subscriptions (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    school_id     uuid NOT NULL REFERENCES practise_improve_pilot.schools (id),
    plan_code     text NOT NULL REFERENCES billing.plans (code),
    status        text NOT NULL
                  CHECK (status IN ('trialing', 'active', 'past_due', 'cancelled')),
    started_at    timestamptz NOT NULL,
    cancelled_at  timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CHECK (cancelled_at IS NULL OR cancelled_at >= started_at)
);
-- At most one active subscription per school.
CREATE UNIQUE INDEX subscriptions_one_active_per_school
    ON billing.subscriptions (school_id) WHERE status = 'active';
CREATE INDEX subscriptions_school_id_started_at_idx
    ON billing.subscriptions (school_id, started_at);
CREATE INDEX subscriptions_plan_code_idx ON billing.subscriptions (plan_code);

CREATE TABLE billing.invoices (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subscription_id  bigint NOT NULL REFERENCES billing.subscriptions (id),
    amount_cents     bigint NOT NULL CHECK (amount_cents >= 0),
    currency         char(3) NOT NULL DEFAULT 'GBP',
    issued_at        timestamptz NOT NULL,
    due_at           timestamptz NOT NULL,
    paid_at          timestamptz
);
CREATE INDEX invoices_subscription_id_idx ON billing.invoices (subscription_id);

CREATE TABLE billing.payments (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    invoice_id    integer NOT NULL REFERENCES billing.invoices (id),
    amount_cents  bigint NOT NULL CHECK (amount_cents > 0),
    method        text NOT NULL CHECK (method IN ('card', 'sepa', 'bank_transfer')),
    received_at   timestamptz NOT NULL
);
CREATE INDEX payments_invoice_id_idx ON billing.payments (invoice_id);


-- -----------------------------------------------------------------------------
-- Scratch area for CSV imports (public)
-- -----------------------------------------------------------------------------
CREATE TABLE public.csv_import_rows (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    batch_id     uuid NOT NULL,
    line_no      integer NOT NULL,
    raw_line     text NOT NULL,
    imported_at  timestamptz NOT NULL DEFAULT now()
);


-- -----------------------------------------------------------------------------
-- Functions
-- -----------------------------------------------------------------------------
-- Teacher id of the current API request (set by the gateway per transaction).
CREATE FUNCTION auth_teacher_id() RETURNS integer
    LANGUAGE sql STABLE
AS $$
    SELECT nullif(current_setting('app.current_teacher_id', true), '')::integer
$$;

-- Called by the mobile app when a student misses a day.
CREATE FUNCTION reset_streak(p_student_id uuid) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
AS $$
BEGIN
    UPDATE streaks
       SET current_streak = 0, updated_at = now()
     WHERE student_id = p_student_id;
END
$$;

-- Roster size for the class overview; needs to count students the caller
-- cannot see individually.
CREATE FUNCTION class_roster_count(p_class_group_id uuid) RETURNS bigint
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = ''
AS $$
    SELECT count(*)
      FROM practise_improve_pilot.students AS s
     WHERE s.class_group_id = p_class_group_id
       AND s.deleted_at IS NULL
$$;
REVOKE ALL ON FUNCTION class_roster_count(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION class_roster_count(uuid) TO app_user;

GRANT EXECUTE ON FUNCTION reset_streak(uuid) TO anon, authenticated;


-- -----------------------------------------------------------------------------
-- Row-level security
-- -----------------------------------------------------------------------------
ALTER TABLE schools ENABLE ROW LEVEL SECURITY;
CREATE POLICY schools_teacher_read ON schools
    FOR SELECT TO authenticated
    USING (id IN (SELECT t.school_id FROM teachers AS t WHERE t.id = (SELECT auth_teacher_id())));

ALTER TABLE teachers ENABLE ROW LEVEL SECURITY;
CREATE POLICY teachers_self_read ON teachers
    FOR SELECT TO authenticated
    USING (id = (SELECT auth_teacher_id()));
CREATE POLICY teachers_self_update ON teachers
    FOR UPDATE TO authenticated
    USING (id = (SELECT auth_teacher_id()))
    WITH CHECK (id = (SELECT auth_teacher_id()));

ALTER TABLE teacher_profile ENABLE ROW LEVEL SECURITY;
CREATE POLICY teacher_profile_owner ON teacher_profile
    FOR ALL TO authenticated
    USING (teacher_id = (SELECT auth_teacher_id()))
    WITH CHECK (teacher_id = (SELECT auth_teacher_id()));

-- Head teachers see the profiles of their whole school (TICKET-502).
CREATE POLICY teacher_profile_same_school ON teacher_profile
    FOR SELECT TO authenticated
    USING (school_id IN (SELECT tp.school_id FROM teacher_profile AS tp
                          WHERE tp.teacher_id = (SELECT auth_teacher_id())));

ALTER TABLE class_groups ENABLE ROW LEVEL SECURITY;
CREATE POLICY class_groups_owner ON class_groups
    FOR ALL TO authenticated
    USING (teacher_id = (SELECT auth_teacher_id()))
    WITH CHECK (teacher_id = (SELECT auth_teacher_id()));

ALTER TABLE students ENABLE ROW LEVEL SECURITY;
CREATE POLICY students_in_my_classes ON students
    FOR SELECT TO authenticated
    USING (class_group_id IN (SELECT cg.id FROM class_groups AS cg
                               WHERE cg.teacher_id = (SELECT auth_teacher_id())));
-- Head teachers asked to see the whole school (TICKET-481).
CREATE POLICY students_in_my_school ON students
    FOR SELECT TO authenticated
    USING (school_id IN (SELECT tp.school_id FROM teacher_profile AS tp
                          WHERE tp.teacher_id = (SELECT auth_teacher_id())));

ALTER TABLE lesson_plans ENABLE ROW LEVEL SECURITY;
CREATE POLICY lesson_plans_owner ON lesson_plans
    FOR ALL TO authenticated
    USING (teacher_id = current_setting('app.current_teacher_id')::integer)
    WITH CHECK (teacher_id = current_setting('app.current_teacher_id')::integer);

ALTER TABLE lessons ENABLE ROW LEVEL SECURITY;
CREATE POLICY lessons_teacher_read ON lessons
    FOR SELECT TO authenticated
    USING (teacher_id = auth_teacher_id());

ALTER TABLE feedback ENABLE ROW LEVEL SECURITY;
CREATE POLICY feedback_read ON feedback
    FOR SELECT TO authenticated
    USING (true);
CREATE POLICY feedback_teacher_insert ON feedback
    FOR INSERT TO authenticated
    WITH CHECK (lesson_id IN (SELECT l.id FROM lessons AS l
                               WHERE l.teacher_id = (SELECT auth_teacher_id())));

ALTER TABLE streaks ENABLE ROW LEVEL SECURITY;

CREATE POLICY progress_teacher_read ON progress
    FOR SELECT TO authenticated
    USING (student_id IN (SELECT s.id FROM students AS s
                           JOIN class_groups AS cg ON cg.id = s.class_group_id
                          WHERE cg.teacher_id = (SELECT auth_teacher_id())));


-- -----------------------------------------------------------------------------
-- Views
-- -----------------------------------------------------------------------------
-- Used by the "find a student" search box.
CREATE VIEW student_directory AS
SELECT s.id, s.display_name, s.email, cg.name AS class_group, sc.name AS school
  FROM students AS s
  JOIN schools AS sc ON sc.id = s.school_id
  LEFT JOIN class_groups AS cg ON cg.id = s.class_group_id
 WHERE s.deleted_at IS NULL;

CREATE VIEW lesson_overview WITH (security_invoker = true) AS
SELECT l.id, l.title, l.status, l.scheduled_at, cg.name AS class_group, l.teacher_id
  FROM lessons AS l
  JOIN class_groups AS cg ON cg.id = l.class_group_id;


-- -----------------------------------------------------------------------------
-- Privileges
-- -----------------------------------------------------------------------------
GRANT USAGE ON SCHEMA practise_improve_pilot TO anon, authenticated, app_user, reporting;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA practise_improve_pilot TO app_user;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA practise_improve_pilot TO app_user;
GRANT SELECT ON ALL TABLES IN SCHEMA practise_improve_pilot TO reporting;

GRANT SELECT, INSERT, UPDATE, DELETE
    ON class_groups, teacher_profile, students, lesson_plans, lessons, feedback, streaks
    TO authenticated;
GRANT SELECT ON student_directory, lesson_overview TO authenticated;
-- Sign-in page looks the teacher up before a session exists.
GRANT SELECT ON teachers TO anon, authenticated;
GRANT UPDATE (full_name, phone) ON teachers TO authenticated;
-- The public school finder only needs these columns.
GRANT SELECT (id, name, city, country_code) ON schools TO anon;
GRANT SELECT ON schools TO authenticated;
-- Tagging service connects with its own role (temporary).
GRANT ALL ON lesson_feedback_tags TO PUBLIC;

GRANT USAGE ON SCHEMA billing TO app_user, reporting;
GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA billing TO app_user;
GRANT SELECT ON ALL TABLES IN SCHEMA billing TO reporting;


-- -----------------------------------------------------------------------------
-- Documentation
-- -----------------------------------------------------------------------------
COMMENT ON TABLE schools IS 'Schools taking part in the pilot.';
COMMENT ON TABLE teachers IS 'Teaching staff; soft-deleted when they leave (deleted_at).';
COMMENT ON COLUMN teachers.email IS 'Sign-in e-mail address.';
COMMENT ON TABLE class_groups IS 'A class taught by one teacher in one school year.';
COMMENT ON COLUMN class_groups.year_level IS 'UK school year, 1-13.';
COMMENT ON TABLE students IS 'Learners; soft-deleted when they leave (deleted_at).';
COMMENT ON COLUMN students.preferences IS 'App settings: theme, language, newsletter opt-in.';
COMMENT ON TABLE lessons IS 'A scheduled or completed lesson for a class group.';
COMMENT ON COLUMN lessons.metadata IS 'Delivery details: format (online/in_person), room, platform.';
COMMENT ON TABLE feedback IS 'Student rating (1-5) and comment for a lesson.';
COMMENT ON TABLE streaks IS 'Consecutive days with activity, one row per student.';
COMMENT ON TABLE chat_sessions IS 'AI tutor conversations.';
COMMENT ON TABLE chat_messages IS 'Messages of AI tutor conversations, partitioned by month.';
COMMENT ON TABLE badges IS 'Gamification v2 (not launched yet).';
COMMENT ON TABLE billing.plans IS 'Price list.';
COMMENT ON TABLE billing.subscriptions IS 'A school''s subscription to a plan; history is kept.';
COMMENT ON COLUMN billing.subscriptions.status IS 'trialing, active, past_due or cancelled.';
COMMENT ON TABLE billing.invoices IS 'Monthly or yearly invoice of a subscription.';
COMMENT ON TABLE billing.payments IS 'Payments received against invoices.';
COMMENT ON COLUMN billing.payments.amount_cents IS 'Amount received, in minor units of the invoice currency.';


-- =============================================================================
-- Synthetic data
-- =============================================================================
-- Ids are derived from md5() of a label so that the data set is identical on
-- every load; relationships are computed from the same labels.

INSERT INTO schools (id, name, city, created_at)
SELECT md5('school:' || i)::uuid,
       (ARRAY['Northgate Academy', 'Riverside Primary', 'St Aldhelm''s School',
              'Hillcrest High', 'Meadowbank College', 'Oakfield Community School',
              'Harbourview Academy', 'Kingsmead School', 'Lark Rise Primary',
              'Westbrook Grammar', 'Elmhurst Free School', 'Castle Hill Academy'])[i],
       (ARRAY['Leeds', 'Bristol', 'Norwich', 'York', 'Exeter', 'Derby',
              'Plymouth', 'Bath', 'Oxford', 'Reading', 'Leicester', 'Durham'])[i],
       timestamptz '2023-09-01 08:00+00' + i * interval '3 days'
  FROM generate_series(1, 12) AS i;

-- Teachers: id t belongs to school (t % 12) + 1.
INSERT INTO teachers (school_id, full_name, email, password, phone, date_of_birth,
                      deleted_at, created_at)
SELECT md5('school:' || (i % 12 + 1))::uuid,
       n.first_name || ' ' || n.last_name,
       lower(n.first_name || '.' || n.last_name || i) || '@example.com',
       CASE WHEN i % 10 = 0
            THEN '$2b$12$' || substr(md5('salt:' || i) || md5('hash:' || i), 1, 53)
            ELSE (ARRAY['password123', 'letmein', 'summer2024', 'Welcome1', 'qwerty',
                        'teacher!', 'sunshine', 'football', 'changeme'])[i % 9 + 1]
       END,
       CASE WHEN i % 7 = 0 THEN 'N/A'
            WHEN i % 5 = 0 THEN NULL
            ELSE '555-01' || lpad((i % 100)::text, 2, '0')
       END,
       date '1962-03-01' + (i * 97 % 12000),
       CASE WHEN i % 25 = 0 THEN timestamptz '2024-06-30 17:00+00' END,
       timestamp '2023-08-20 09:00' + i * interval '1 day'
  FROM generate_series(1, 150) AS i,
       LATERAL (SELECT (ARRAY['Amara', 'Ben', 'Chloe', 'Dev', 'Elif', 'Farah', 'George',
                              'Hana', 'Isaac', 'Jade', 'Kofi', 'Lena', 'Mateo', 'Nia',
                              'Oscar', 'Priya', 'Quinn', 'Rosa', 'Sami', 'Tom', 'Uma',
                              'Victor', 'Wen', 'Yusuf', 'Zoe'])[i % 25 + 1] AS first_name,
                       (ARRAY['Adams', 'Bianchi', 'Chen', 'Dubois', 'Evans', 'Fischer',
                              'Garcia', 'Haddad', 'Ito', 'Jensen', 'Kowalski', 'Lopez',
                              'Mensah', 'Novak', 'Okafor', 'Patel', 'Rossi', 'Silva',
                              'Tanaka', 'Walsh'])[i * 7 % 20 + 1] AS last_name) AS n;

INSERT INTO teacher_profile (teacher_id, school_id, bio, subjects, avatar_url, updated_at)
SELECT i,
       md5('school:' || (i % 12 + 1))::uuid,
       CASE WHEN i % 3 = 0 THEN NULL
            ELSE 'Teaching ' || s.subject || ' since ' || (2000 + i % 22) || '.'
       END,
       ARRAY[s.subject],
       CASE WHEN i % 4 = 0 THEN NULL
            ELSE 'https://cdn.example.com/avatars/' || md5('avatar:' || i) || '.png'
       END,
       timestamptz '2024-01-10 12:00+00' + i * interval '1 hour'
  FROM generate_series(1, 120) AS i,
       LATERAL (SELECT (ARRAY['Maths', 'English', 'Science', 'History', 'Geography', 'Art',
                              'Music', 'Computing', 'French', 'PE'])[i % 10 + 1] AS subject) AS s;

-- Class group g is in school ((g - 1) % 12) + 1 and taught by a teacher of that school.
INSERT INTO class_groups (id, school_id, teacher_id, name, year_level, description,
                          created_at)
SELECT md5('class_group:' || g)::uuid,
       md5('school:' || ((g - 1) % 12 + 1))::uuid,
       CASE WHEN 12 * (((g - 1) / 12) % 12) + (g - 1) % 12 = 0 THEN 144
            ELSE 12 * (((g - 1) / 12) % 12) + (g - 1) % 12
       END,
       'Year ' || ((g - 1) / 12 % 13 + 1) || ' ' || chr(65 + ((g - 1) / 156)) || '-' || g,
       (g - 1) / 12 % 13 + 1,
       'Timetabled ' || (ARRAY['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday'])[g % 5 + 1]
           || ' and ' || (ARRAY['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday'])[(g + 2) % 5 + 1]
           || ' mornings. Homework is set on the class page and due the following week; '
           || 'reading records are checked every Friday.',
       timestamptz '2023-09-04 08:00+00' + g * interval '10 minutes'
  FROM generate_series(1, 300) AS g;

-- Students: student i is in class group ((i - 1) % 300) + 1; the last 20 rows
-- are students who left and whose e-mail address was later reused.
INSERT INTO students (id, school_id, class_group_id, display_name, nickname, email, phone,
                      guardian_phone, date_of_birth, last_login_ip, password_hash,
                      preferences, deleted_at, created_at)
SELECT md5('student:' || i)::uuid,
       md5('school:' || (((i - 1) % 300) % 12 + 1))::uuid,
       CASE WHEN i % 50 = 0 THEN NULL ELSE md5('class_group:' || ((i - 1) % 300 + 1))::uuid END,
       CASE WHEN i % 40 = 0 THEN '' ELSE n.first_name || ' ' || left(n.last_name, 1) || '.' END,
       CASE i % 20
            WHEN 0 THEN 'null' WHEN 1 THEN 'undefined' WHEN 2 THEN 'N/A'
            WHEN 3 THEN 'TBD' WHEN 4 THEN '-' WHEN 5 THEN ' '
            WHEN 6 THEN NULL WHEN 7 THEN NULL WHEN 8 THEN NULL
            ELSE lower(n.first_name) || (i % 97)
       END,
       'student' || CASE WHEN i > 2980 THEN i - 2980 ELSE i END || '@example.org',
       CASE WHEN i % 3 = 0 THEN NULL ELSE '555-01' || lpad((i % 100)::text, 2, '0') END,
       CASE WHEN i % 10 = 0 THEN '555-01' || lpad((i * 3 % 100)::text, 2, '0') END,
       date '2008-09-01' + (i * 53 % 2900),
       CASE WHEN i % 8 = 0 THEN NULL ELSE ('198.51.100.' || (i % 254 + 1))::inet END,
       '$2b$12$' || substr(md5('student-salt:' || i) || md5('student-hash:' || i), 1, 53),
       jsonb_build_object('newsletter', i % 3 = 0,
                          'theme', CASE WHEN i % 2 = 0 THEN 'dark' ELSE 'light' END,
                          'language', (ARRAY['en', 'en', 'en', 'cy', 'fr'])[i % 5 + 1])
       || CASE WHEN i % 100 = 7 THEN '{"dyslexia_font": true}'::jsonb ELSE '{}'::jsonb END
       || CASE WHEN i % 150 = 11 THEN '{"screen_reader": true}'::jsonb ELSE '{}'::jsonb END,
       CASE WHEN i > 2980 THEN timestamptz '2024-02-01 10:00+00' END,
       timestamp '2023-09-05 08:00' + i * interval '5 minutes'
  FROM generate_series(1, 3000) AS i,
       LATERAL (SELECT (ARRAY['Aisha', 'Bruno', 'Cara', 'Dylan', 'Ella', 'Finn', 'Grace',
                              'Hugo', 'Iris', 'Jack', 'Kai', 'Leah', 'Max', 'Noor',
                              'Olly', 'Poppy', 'Reza', 'Sofia', 'Theo', 'Yara'])[i % 20 + 1]
                       AS first_name,
                       (ARRAY['Ahmed', 'Brown', 'Clarke', 'Davies', 'Edwards', 'Foster',
                              'Green', 'Hughes', 'Iqbal', 'Jones', 'Khan', 'Lewis', 'Moore',
                              'Nguyen', 'Owen', 'Price', 'Roberts', 'Smith', 'Taylor',
                              'Wright'])[i * 3 % 20 + 1] AS last_name) AS n;

INSERT INTO lesson_plans (id, teacher_id, subject, title, body, "order", "Due Date",
                          created_at, updated_at)
SELECT md5('lesson_plan:' || i)::uuid,
       (i - 1) % 150 + 1,
       s.subject,
       CASE WHEN i % 60 = 0 THEN '' ELSE s.subject || ': unit ' || (i % 12 + 1) END,
       'Objectives, starter activity, main task and plenary for unit ' || (i % 12 + 1) || '.',
       i % 12,
       CASE WHEN i % 4 = 0 THEN NULL ELSE date '2024-01-15' + i % 150 END,
       timestamptz '2023-12-01 09:00+00' + i * interval '6 hours',
       timestamptz '2023-12-01 09:00+00' + i * interval '7 hours'
  FROM generate_series(1, 400) AS i,
       LATERAL (SELECT (ARRAY['Maths', 'English', 'Science', 'History', 'Geography', 'Art',
                              'Music', 'Computing', 'French', 'PE'])[i % 10 + 1] AS subject) AS s;

INSERT INTO lesson_plan_drafts (teacher_id, subject, title, body, "Due Date", created_at,
                                updated_at)
SELECT (i - 1) % 160 + 1,
       s.subject,
       s.subject || ': unit ' || (i % 12 + 1) || ' (draft)',
       CASE WHEN i % 5 = 0 THEN NULL ELSE 'Starter: ...' END,
       CASE WHEN i % 2 = 0 THEN date '2024-03-01' + i % 60 END,
       timestamptz '2024-02-01 09:00+00' + i * interval '3 hours',
       timestamptz '2024-02-01 09:30+00' + i * interval '3 hours'
  FROM generate_series(1, 250) AS i,
       LATERAL (SELECT (ARRAY['Maths', 'English', 'Science', 'History', 'Geography', 'Art',
                              'Music', 'Computing', 'French', 'PE'])[i % 10 + 1] AS subject) AS s;

-- Lessons: 20 a day from 8 January 2024. Teachers 151-160 were removed in the
-- summer clean-up; their lessons were kept for the statistics.
INSERT INTO lessons (id, lesson_plan_id, class_group_id, teacher_id, title, status,
                     scheduled_at, ended_at, notes, metadata, created_at, "createdAt")
SELECT md5('lesson:' || i)::uuid,
       CASE WHEN i % 9 = 0 THEN NULL ELSE md5('lesson_plan:' || ((i - 1) % 400 + 1))::uuid END,
       md5('class_group:' || ((i - 1) % 300 + 1))::uuid,
       (i - 1) % 160 + 1,
       (ARRAY['Fractions', 'Persuasive writing', 'Photosynthesis', 'The Tudors', 'Rivers',
              'Colour theory', 'Rhythm', 'Loops', 'Les loisirs', 'Netball'])[i % 10 + 1],
       CASE WHEN i % 31 = 0 THEN 'cancelled'
            WHEN i <= 3000 AND i % 97 = 0 THEN 'Completed'
            WHEN i <= 3000 THEN 'completed'
            WHEN i % 13 = 0 THEN 'in_progress'
            ELSE 'scheduled'
       END,
       timestamp '2024-01-08 09:00' + ((i - 1) / 20) * interval '1 day'
                                    + (i % 6) * interval '1 hour',
       CASE WHEN i <= 3000 AND i % 31 <> 0
            THEN timestamptz '2024-01-08 10:00+00' + ((i - 1) / 20) * interval '1 day'
                                                   + (i % 6) * interval '1 hour'
       END,
       CASE WHEN i % 12 = 0 THEN 'Covered by supply teacher.' END,
       jsonb_build_object('format', CASE WHEN i % 4 = 0 THEN 'online' ELSE 'in_person' END,
                          'room', 'R' || (100 + i % 40),
                          'platform', CASE WHEN i % 4 = 0 THEN 'meet' END),
       timestamptz '2024-01-02 08:00+00' + i * interval '1 hour',
       CASE WHEN i > 2500 THEN timestamptz '2024-01-02 08:00+00' + i * interval '1 hour' END
  FROM generate_series(1, 4000) AS i;

INSERT INTO "LessonNotes" (lesson_id, "noteText", "createdAt")
SELECT md5('lesson:' || (i * 7))::uuid,
       (ARRAY['Ran over time.', 'Great engagement.', 'Projector broken.',
              'Revisit next week.'])[i % 4 + 1],
       timestamptz '2024-01-09 16:00+00' + i * interval '13 hours'
  FROM generate_series(1, 300) AS i;

-- Feedback on completed lessons.
INSERT INTO feedback (lesson_id, student_id, rating, comment, created)
SELECT md5('lesson:' || ((i - 1) % 3000 + 1))::uuid,
       md5('student:' || ((i * 7 - 1) % 2980 + 1))::uuid,
       i % 5 + 1,
       CASE WHEN i % 4 = 0 THEN ''
            WHEN i % 17 = 0 THEN '   '
            ELSE (ARRAY['Loved it', 'Too fast', 'Could not hear the video', 'More examples please',
                        'Fun!', 'Confusing homework', 'Best lesson this term'])[i % 7 + 1]
       END,
       timestamptz '2024-01-08 15:00+00' + i * interval '90 minutes'
  FROM generate_series(1, 3000) AS i;

-- Tags from the tagging service; it retries on timeouts.
INSERT INTO lesson_feedback_tags (feedback_id, tag)
SELECT (i - 1) % 2500 + 1,
       (ARRAY['pace', 'audio', 'content', 'homework', 'engagement', 'difficulty'])
           [((i - 1) % 2500 + 1) % 6 + 1]
  FROM generate_series(1, 3000) AS i;
INSERT INTO lesson_feedback_tags (feedback_id, tag)
SELECT f, 'positive'
  FROM generate_series(3, 3000, 3) AS f;

-- Progress per student and lesson; scores above 100 include bonus points.
INSERT INTO progress (student_id, lesson_id, score, completed, updated_at)
SELECT md5('student:' || ((i - 1) % 3000 + 1))::uuid,
       md5('lesson:' || ((i * 11 - 1) % 4000 + 1))::uuid::text,
       CASE WHEN i % 11 = 0 THEN NULL
            WHEN i % 150 = 0 THEN 100 + i % 20
            ELSE (i * 37 % 100)
       END,
       i % 3 <> 0 OR i % 150 = 0,
       timestamp '2024-01-10 17:00' + i * interval '20 minutes'
  FROM generate_series(1, 6000) AS i;

INSERT INTO streaks (student_id, current_streak, longest_streak, last_activity_date, updated_at)
SELECT md5('student:' || i)::uuid,
       i % 30,
       i % 30 + i % 7,
       date '2024-06-01' - i % 3,
       timestamptz '2024-06-01 18:00+00'
  FROM generate_series(1, 800) AS i;

INSERT INTO chat_sessions (id, student_id, teacher_id, status, client_info, started_at, ended_at)
SELECT md5('chat_session:' || i)::uuid,
       md5('student:' || ((i * 13 - 1) % 2980 + 1))::uuid,
       (i - 1) % 150 + 1,
       CASE WHEN i % 10 = 0 THEN 'abandoned' ELSE 'ended' END,
       json_build_object('platform', (ARRAY['ios', 'android', 'web'])[i % 3 + 1],
                         'app_version', '2.' || (i % 4) || '.1'),
       timestamptz '2024-01-02 08:00+00' + (i - 1) * interval '7 hours',
       timestamptz '2024-01-02 08:30+00' + (i - 1) * interval '7 hours'
  FROM generate_series(1, 400) AS i;

INSERT INTO chat_messages (session_id, role, body, sent_at)
SELECT md5('chat_session:' || ((i - 1) % 400 + 1))::uuid,
       CASE WHEN (i - 1) / 400 = 0 THEN 'system'
            WHEN ((i - 1) / 400) % 2 = 1 THEN 'student'
            ELSE 'assistant'
       END,
       CASE WHEN (i - 1) / 400 = 0 THEN 'You are a friendly tutor.'
            WHEN ((i - 1) / 400) % 2 = 1 THEN 'Can you explain this question?'
            ELSE 'Sure! Let''s break it down step by step.'
       END,
       timestamptz '2024-01-02 08:00+00' + ((i - 1) % 400) * interval '7 hours'
                                       + ((i - 1) / 400) * interval '1 minute'
  FROM generate_series(1, 5200) AS i;

-- The id sequence survived several "truncate and re-import" cycles.
SELECT setval('login_attempts_id_seq', 2100000000);
INSERT INTO login_attempts ("user", ip_address, succeeded, attempted_at)
SELECT CASE WHEN i % 6 = 0 THEN 'admin' ELSE 'student' || (i % 3000 + 1) || '@example.org' END,
       CASE WHEN i % 20 = 0 THEN NULL
            ELSE ('203.0.113.' || (i % 254 + 1))::inet
       END,
       i % 9 <> 0,
       timestamp '2024-05-01 07:00' + i * interval '11 minutes'
  FROM generate_series(1, 2000) AS i;

INSERT INTO announcements (school_id, author_teacher_id, audience, title, body, pinned,
                           published_at, expires_at, created_at)
SELECT md5('school:' || (i % 12 + 1))::uuid,
       CASE WHEN i % 5 = 0 THEN NULL ELSE i % 12 + 1 END,
       (ARRAY['all', 'teachers', 'students', 'parents'])[i % 4 + 1],
       (ARRAY['Sports day', 'INSET day', 'Parents'' evening', 'New tutor features',
              'Exam timetable'])[i % 5 + 1],
       'See the school calendar for details.',
       i % 10 = 0,
       timestamptz '2024-02-01 08:00+00' + i * interval '2 days',
       CASE WHEN i % 2 = 0 THEN timestamptz '2024-03-01 08:00+00' + i * interval '2 days' END,
       timestamptz '2024-01-30 08:00+00' + i * interval '2 days'
  FROM generate_series(1, 60) AS i;

INSERT INTO "Weird""Name" ("ñame")
VALUES ('Ñandú'), ('Peña'), ('Muñoz'), ('Ibáñez'), ('Nuñez');

INSERT INTO billing.plans (code, name, price_cents, billing_interval)
VALUES ('starter', 'Starter (up to 200 students)', 4900, 'month'),
       ('school', 'Whole school', 19900, 'month'),
       ('school_annual', 'Whole school, yearly', 199000, 'year');

-- Each school: a trial, then a subscription that is active (or past due).
INSERT INTO billing.subscriptions (school_id, plan_code, status, started_at, cancelled_at)
SELECT md5('school:' || s)::uuid, 'starter', 'cancelled',
       timestamptz '2023-09-01 00:00+00' + s * interval '3 days',
       timestamptz '2023-10-01 00:00+00' + s * interval '3 days'
  FROM generate_series(1, 12) AS s;
INSERT INTO billing.subscriptions (school_id, plan_code, status, started_at)
SELECT md5('school:' || s)::uuid,
       CASE WHEN s % 3 = 0 THEN 'school_annual' ELSE 'school' END,
       CASE WHEN s = 7 THEN 'past_due' ELSE 'active' END,
       timestamptz '2023-10-01 00:00+00' + s * interval '3 days'
  FROM generate_series(1, 12) AS s;

-- Weekly invoices were used during the pilot's usage-based billing trial.
INSERT INTO billing.invoices (subscription_id, amount_cents, issued_at, due_at, paid_at)
SELECT 12 + (i - 1) % 12 + 1,
       1500 + (i % 7) * 250,
       timestamptz '2023-10-02 00:00+00' + ((i - 1) / 12) * interval '1 week',
       timestamptz '2023-10-16 00:00+00' + ((i - 1) / 12) * interval '1 week',
       CASE WHEN i % 25 = 0 THEN NULL
            ELSE timestamptz '2023-10-05 00:00+00' + ((i - 1) / 12) * interval '1 week'
       END
  FROM generate_series(1, 1200) AS i;

INSERT INTO billing.payments (invoice_id, amount_cents, method, received_at)
SELECT i.id, i.amount_cents,
       (ARRAY['card', 'sepa', 'bank_transfer'])[i.id % 3 + 1],
       i.paid_at
  FROM billing.invoices AS i
 WHERE i.paid_at IS NOT NULL;

-- Nightly CSV import of the timetable system.
INSERT INTO public.csv_import_rows (batch_id, line_no, raw_line, imported_at)
SELECT md5('batch:2024-06-03')::uuid,
       i,
       'CG-' || i || ';' || (ARRAY['Mon', 'Tue', 'Wed', 'Thu', 'Fri'])[i % 5 + 1] || ';09:00',
       timestamptz '2024-06-03 02:00+00'
  FROM generate_series(1, 500) AS i;


-- =============================================================================
-- Later changes
-- =============================================================================

-- Before the "createdAt" migration of the mobile app.
CREATE TABLE lessons_backup AS
SELECT id, lesson_plan_id, class_group_id, teacher_id, title, status, scheduled_at,
       ended_at, notes, metadata, created_at
  FROM lessons
 WHERE scheduled_at < timestamp '2024-03-01';

-- Snapshot taken before the rating scale was changed from 1-10 to 1-5.
CREATE TABLE feedback_2024_01_15 AS
SELECT * FROM feedback WHERE created < timestamptz '2024-01-15 00:00+00';

-- Kept for the SSO migration; can be dropped once it is done.
CREATE TABLE public.teachers_old AS
SELECT id, school_id, full_name, email, password, phone, created_at
  FROM practise_improve_pilot.teachers
 WHERE id <= 80;
GRANT ALL ON public.teachers_old TO PUBLIC;

-- Added without a full table scan; validate in a quiet hour.
ALTER TABLE lessons
    ADD CONSTRAINT lessons_class_group_id_fkey
    FOREIGN KEY (class_group_id) REFERENCES class_groups (id) NOT VALID;
ALTER TABLE progress
    ADD CONSTRAINT progress_score_range CHECK (score BETWEEN 0 AND 100) NOT VALID;

-- Autovacuum was fighting the nightly batch jobs (INC-77).
ALTER TABLE streaks SET (autovacuum_enabled = false, toast.autovacuum_enabled = false);
ALTER TABLE progress SET (autovacuum_enabled = false, toast.autovacuum_enabled = false);
ALTER TABLE chat_sessions SET (autovacuum_enabled = false, toast.autovacuum_enabled = false);

RESET search_path;

SELECT pg_catalog.pg_stat_force_next_flush();
