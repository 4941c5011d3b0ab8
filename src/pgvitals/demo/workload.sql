-- =============================================================================
-- Practise & Improve -- replay of a (compressed) school week
--
-- Runs after schema.sql, in its own session. It replays the application's
-- typical queries so that the statistics views (pg_stat_user_tables,
-- pg_stat_user_indexes) look like those of a database that has been in use:
-- dashboard look-ups, roster searches, the daily streak job, the tutor chat,
-- the nightly import and the planner's statistics.
--
-- Everything is deterministic: loops have fixed bounds and no step depends on
-- timing. Only the statistics maintenance that the ops runbook does is run
-- (a few ANALYZEs); there is no VACUUM.
-- =============================================================================

SET search_path = practise_improve_pilot, public;

-- Runbook: refresh planner statistics of the core and billing tables.
ANALYZE schools, teachers, teacher_profile, class_groups, students, lesson_plans, feedback,
        announcements, streaks,
        billing.plans, billing.subscriptions, billing.invoices, billing.payments;


-- -----------------------------------------------------------------------------
-- Teacher dashboard: own profile, class groups, lessons, plans
-- -----------------------------------------------------------------------------
DO $$
DECLARE
    v_teacher integer;
BEGIN
    FOR v_teacher IN 1..150 LOOP
        PERFORM t.full_name FROM teachers AS t WHERE t.id = v_teacher;
        PERFORM tp.bio FROM teacher_profile AS tp WHERE tp.teacher_id = v_teacher;
        PERFORM cg.name FROM class_groups AS cg WHERE cg.teacher_id = v_teacher;
        PERFORM l.title FROM lessons AS l
          WHERE l.teacher_id = v_teacher ORDER BY l.scheduled_at DESC LIMIT 10;
        PERFORM lp.title FROM lesson_plans AS lp WHERE lp.teacher_id = v_teacher;
    END LOOP;
END
$$;

-- Log-in hook: "make sure the teacher has a profile" inserts without checking first
-- and swallows the error when the profile exists (which it always does here).
DO $$
DECLARE
    v_teacher integer;
BEGIN
    FOR v_teacher IN SELECT tp.teacher_id FROM teacher_profile AS tp ORDER BY 1 LOOP
        BEGIN
            INSERT INTO teacher_profile (teacher_id, school_id)
            SELECT t.id, t.school_id FROM teachers AS t WHERE t.id = v_teacher;
        EXCEPTION WHEN unique_violation THEN
            NULL;
        END;
    END LOOP;
END
$$;

-- Lesson page: the lesson, its notes and its feedback.
DO $$
DECLARE
    v_lesson uuid;
BEGIN
    FOR i IN 1..400 LOOP
        v_lesson := md5('lesson:' || (i * 7))::uuid;
        PERFORM l.title FROM lessons AS l WHERE l.id = v_lesson;
        PERFORM n."noteText" FROM "LessonNotes" AS n WHERE n.lesson_id = v_lesson;
        PERFORM f.rating, f.comment FROM feedback AS f WHERE f.lesson_id = v_lesson;
    END LOOP;
END
$$;

-- Timetable: one day's lessons, for each day of March.
DO $$
BEGIN
    FOR d IN 0..29 LOOP
        PERFORM count(*) FROM lessons AS l
          WHERE l.scheduled_at >= timestamp '2024-03-04' + d * interval '1 day'
            AND l.scheduled_at <  timestamp '2024-03-05' + d * interval '1 day';
    END LOOP;
END
$$;


-- -----------------------------------------------------------------------------
-- Class roster and student progress (the "my class" page)
-- -----------------------------------------------------------------------------
DO $$
DECLARE
    v_class uuid;
BEGIN
    FOR g IN 1..300 LOOP
        v_class := md5('class_group:' || g)::uuid;
        PERFORM cg.name FROM class_groups AS cg WHERE cg.id = v_class;
        PERFORM s.display_name FROM students AS s
          WHERE s.class_group_id = v_class;
    END LOOP;
END
$$;

DO $$
DECLARE
    v_student uuid;
BEGIN
    FOR i IN 1..120 LOOP
        v_student := md5('student:' || (i * 13))::uuid;
        PERFORM s.display_name FROM students AS s WHERE s.id = v_student;
        PERFORM p.score FROM progress AS p WHERE p.student_id = v_student;
        PERFORM st.current_streak FROM streaks AS st WHERE st.student_id = v_student;
        PERFORM c.started_at FROM chat_sessions AS c WHERE c.student_id = v_student;
    END LOOP;
END
$$;

-- Sign-in: students by e-mail, teachers by e-mail.
DO $$
BEGIN
    FOR i IN 1..300 LOOP
        PERFORM s.id FROM students AS s
          WHERE lower(s.email) = 'student' || (i * 9) || '@example.org'
            AND s.deleted_at IS NULL;
    END LOOP;
    FOR i IN 1..100 LOOP
        PERFORM t.id, t.password FROM teachers AS t
          WHERE t.email = (SELECT t2.email FROM teachers AS t2 WHERE t2.id = i);
    END LOOP;
END
$$;

-- School admin: students of a school, newest first; the newsletter export.
DO $$
DECLARE
    v_school uuid;
BEGIN
    FOR s IN 1..12 LOOP
        v_school := md5('school:' || s)::uuid;
        PERFORM st.id FROM students AS st
          WHERE st.school_id = v_school ORDER BY st.created_at DESC LIMIT 20;
        PERFORM count(*) FROM students AS st WHERE st.school_id = v_school;
        PERFORM t.full_name FROM teachers AS t WHERE t.school_id = v_school;
        PERFORM a.title FROM announcements AS a
          WHERE a.school_id = v_school ORDER BY a.published_at DESC LIMIT 5;
    END LOOP;
END
$$;

-- Accessibility settings report for the SENCo.
SELECT count(*) FROM students WHERE preferences @> '{"dyslexia_font": true}';
SELECT count(*) FROM students WHERE preferences @> '{"screen_reader": true}';
SELECT count(*) FROM students WHERE preferences @> '{"dyslexia_font": true, "theme": "dark"}';

-- Online lessons report (run by the head of e-learning every morning).
DO $$
BEGIN
    FOR i IN 1..10 LOOP
        PERFORM count(*) FROM lessons WHERE metadata @> '{"format": "online"}';
        PERFORM count(*) FROM lessons WHERE metadata @> '{"platform": "meet"}';
    END LOOP;
END
$$;


-- -----------------------------------------------------------------------------
-- Tutor chat: transcripts, and sessions opened and discarded by the app
-- -----------------------------------------------------------------------------
DO $$
DECLARE
    v_session uuid;
BEGIN
    FOR i IN 1..300 LOOP
        v_session := md5('chat_session:' || i)::uuid;
        PERFORM c.status FROM chat_sessions AS c WHERE c.id = v_session;
        PERFORM m.body FROM chat_messages AS m
          WHERE m.session_id = v_session ORDER BY m.sent_at;
    END LOOP;
END
$$;

-- The app opens a session when the tutor screen is shown; the clean-up job
-- deletes sessions in which nothing was said.
DO $$
BEGIN
    FOR round IN 1..30 LOOP
        INSERT INTO chat_sessions (student_id, teacher_id, status, client_info)
        SELECT md5('student:' || ((round * 100 + i) % 2980 + 1))::uuid,
               (round + i) % 150 + 1,
               'active',
               '{"platform": "ios", "app_version": "2.4.0"}'::json
          FROM generate_series(1, 100) AS i;

        DELETE FROM chat_sessions AS c
         WHERE c.status = 'active'
           AND NOT EXISTS (SELECT 1 FROM chat_messages AS m WHERE m.session_id = c.id);
    END LOOP;
END
$$;
UPDATE chat_sessions SET status = 'ended' WHERE status = 'abandoned' AND started_at < '2024-02-01';


-- -----------------------------------------------------------------------------
-- Daily streak job (20 days) and progress sync
-- -----------------------------------------------------------------------------
DO $$
BEGIN
    FOR day IN 1..20 LOOP
        UPDATE streaks
           SET current_streak =
                   CASE WHEN get_byte(decode(md5(student_id::text || day), 'hex'), 0) % 10 = 0
                        THEN 0                      -- missed the day
                        ELSE current_streak + 1
                   END,
               longest_streak = greatest(longest_streak, current_streak + 1),
               last_activity_date = date '2024-06-01' + day,
               updated_at = timestamptz '2024-06-01 18:00+00' + day * interval '1 day';
    END LOOP;
END
$$;
SELECT reset_streak(md5('student:' || i)::uuid) FROM generate_series(1, 50) AS i;

-- Leaderboard.
SELECT student_id, current_streak FROM streaks ORDER BY current_streak DESC LIMIT 10;

-- The LMS sync rewrites the latest scores, then drops the rows it superseded.
UPDATE progress SET score = score + 5, updated_at = updated_at + interval '1 day'
 WHERE id % 2 = 0 AND score <= 95;
UPDATE progress SET completed = true, updated_at = updated_at + interval '2 days'
 WHERE NOT completed;
DELETE FROM progress WHERE id % 7 = 0;


-- -----------------------------------------------------------------------------
-- Lesson lifecycle, feedback, drafts
-- -----------------------------------------------------------------------------
UPDATE lessons SET status = 'completed', ended_at = scheduled_at + interval '1 hour'
 WHERE status = 'in_progress';
UPDATE lessons SET notes = 'Moved to the hall.' WHERE title = 'Netball' AND status = 'scheduled';

INSERT INTO feedback (lesson_id, student_id, rating, comment, created)
SELECT md5('lesson:' || (3000 - i))::uuid, md5('student:' || (i * 11))::uuid, i % 5 + 1,
       CASE WHEN i % 3 = 0 THEN '' ELSE 'Good lesson' END,
       timestamptz '2024-06-10 15:00+00' + i * interval '1 minute'
  FROM generate_series(1, 200) AS i;

INSERT INTO lesson_feedback_tags (feedback_id, tag)
SELECT f.id, 'engagement' FROM feedback AS f WHERE f.comment = 'Good lesson';

UPDATE lesson_plan_drafts SET body = coalesce(body, '') || ' Main task: ...', updated_at = updated_at + interval '30 seconds';
UPDATE lesson_plan_drafts SET body = body || ' Plenary: ...', updated_at = updated_at + interval '30 seconds';
DELETE FROM lesson_plan_drafts WHERE id % 5 = 0;

INSERT INTO login_attempts ("user", ip_address, succeeded)
SELECT 'student' || i || '@example.org', ('203.0.113.' || (i % 254 + 1))::inet, i % 9 <> 0
  FROM generate_series(1, 300) AS i;


-- -----------------------------------------------------------------------------
-- Billing: subscription page, invoice and payment look-ups
-- -----------------------------------------------------------------------------
DO $$
DECLARE
    v_school uuid;
BEGIN
    FOR s IN 1..12 LOOP
        v_school := md5('school:' || s)::uuid;
        PERFORM sub.plan_code FROM billing.subscriptions AS sub
          WHERE sub.school_id = v_school AND sub.status = 'active';
        PERFORM sub.id FROM billing.subscriptions AS sub
          WHERE sub.school_id = v_school ORDER BY sub.started_at DESC;
    END LOOP;
    FOR i IN 1..24 LOOP
        PERFORM inv.amount_cents FROM billing.invoices AS inv WHERE inv.subscription_id = i;
    END LOOP;
    FOR i IN 1..300 LOOP
        PERFORM inv.amount_cents FROM billing.invoices AS inv WHERE inv.id = i * 4;
        PERFORM p.received_at FROM billing.payments AS p WHERE p.invoice_id = i * 4;
    END LOOP;
END
$$;
SELECT p.name, count(*) FROM billing.subscriptions AS s JOIN billing.plans AS p ON p.code = s.plan_code
 WHERE s.status = 'active' GROUP BY p.name;


-- -----------------------------------------------------------------------------
-- Nightly timetable import: load, apply, clear the staging table
-- -----------------------------------------------------------------------------
SELECT count(*) FROM public.csv_import_rows WHERE batch_id = md5('batch:2024-06-03')::uuid;
DELETE FROM public.csv_import_rows;


-- -----------------------------------------------------------------------------
-- Weekly reports (BI tool)
-- -----------------------------------------------------------------------------
SELECT sc.name, count(st.*) FROM schools AS sc LEFT JOIN students AS st ON st.school_id = sc.id
 GROUP BY sc.name;
SELECT status, count(*) FROM lessons GROUP BY status;
SELECT avg(rating) FROM feedback;
SELECT count(*) FROM login_attempts WHERE NOT succeeded;
SELECT date_trunc('month', sent_at), count(*) FROM chat_messages GROUP BY 1;
SELECT count(*) FROM lesson_feedback_tags;
SELECT tag, count(*) FROM lesson_feedback_tags GROUP BY tag;

RESET search_path;

SELECT pg_catalog.pg_stat_force_next_flush();
