-- Hardening from an outside test.

-- Failed logins for a (school, username) that names no account (item 8). Accounts that exist
-- count their failures on `users`; without this table an unknown username never reached 429,
-- so throttling told an attacker which accounts exist. Keyed by SHA-256 of
-- `<school slug> "\n" <username>` as typed (trimmed): the pair may name no school and be of
-- any length, so it is neither a tenant row nor a safe index key as text. Rows whose last
-- failure is a day old are pruned as new failures arrive.
CREATE TABLE login_throttles (
    attempt_key     bytea PRIMARY KEY CHECK (length(attempt_key) = 32),
    failures        integer NOT NULL CHECK (failures > 0),
    locked_until    timestamptz,
    last_failed_at  timestamptz NOT NULL
);
CREATE INDEX login_throttles_by_age ON login_throttles (last_failed_at);

-- The largest amount one money input may carry in this school, in minor units (item 4):
-- a payment, discount, fine, refund or fee amount above it is refused with 422 naming the
-- field. At most 10^13 (100 billion major units of a two-decimal currency), so a report that
-- sums them cannot overflow until some 900,000 such postings, and the reports sum in
-- `numeric` anyway.
ALTER TABLE schools ADD COLUMN max_amount bigint NOT NULL DEFAULT 10000000000000
    CHECK (max_amount BETWEEN 1 AND 10000000000000);

-- One scope rule for REST and sync (item 9): a teacher's or parent's device was sent every
-- class, every fee head and the whole chart of accounts, which REST refuses them. Now:
-- classes carry their own id as the class scope key (a teacher gets the classes assigned to
-- them; a parent those their children are or were enrolled in, see `sync::pull`), fee heads
-- go to office devices only, and of the accounts only the system ones (Cash, Receivable,
-- Family Credit, …) go to everyone, as `GET /accounts` answers a teacher or parent. The rest
-- of `log_image` is 000009's, unchanged.
CREATE OR REPLACE FUNCTION log_image(tbl text, image jsonb,
    OUT school uuid, OUT rid text, OUT everyone boolean, OUT cls uuid, OUT fam uuid,
    OUT stu uuid, OUT img jsonb)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    extra jsonb;
BEGIN
    img := image - 'request_hash';
    everyone := false;
    IF tbl = 'schools' THEN
        school := (img->>'id')::uuid;
    ELSE
        school := (img->>'school_id')::uuid;
    END IF;
    rid := img->>'id';
    CASE tbl
    WHEN 'schools', 'academic_years', 'terms', 'attendance_codes' THEN
        everyone := true;
    WHEN 'classes' THEN
        cls := (img->>'id')::uuid;
    WHEN 'accounts' THEN
        -- System accounts only, so a parent's phone can find Family Credit (000007).
        everyone := img->>'system_key' IS NOT NULL;
    WHEN 'students' THEN
        fam := (img->>'family_id')::uuid; stu := (img->>'id')::uuid;
    WHEN 'guardians' THEN
        fam := (img->>'family_id')::uuid;
    WHEN 'families' THEN
        fam := (img->>'id')::uuid;
    WHEN 'student_guardians' THEN
        rid := (img->>'student_id') || ':' || (img->>'guardian_id');
        stu := (img->>'student_id')::uuid;
    WHEN 'enrollments' THEN
        cls := (img->>'class_id')::uuid; stu := (img->>'student_id')::uuid;
    WHEN 'class_teachers' THEN
        rid := (img->>'class_id') || ':' || (img->>'teacher_id');
        cls := (img->>'class_id')::uuid;
    WHEN 'invoices' THEN
        fam := (img->>'family_id')::uuid; stu := (img->>'student_id')::uuid;
    WHEN 'invoice_lines' THEN
        SELECT i.family_id, i.student_id, jsonb_build_object('family_id', i.family_id, 'student_id', i.student_id)
          INTO fam, stu, extra
          FROM invoices i WHERE i.school_id = school AND i.id = (img->>'invoice_id')::uuid;
    WHEN 'allocations', 'discounts' THEN
        -- The family travels in the image too, so a device reads a family's allocations with
        -- one lookup instead of one per invoice line.
        SELECT i.family_id, i.student_id, jsonb_build_object('family_id', i.family_id, 'student_id', i.student_id)
          INTO fam, stu, extra
          FROM invoice_lines l JOIN invoices i ON i.school_id = l.school_id AND i.id = l.invoice_id
         WHERE l.school_id = school AND l.id = (img->>'invoice_line_id')::uuid;
    WHEN 'fines' THEN
        SELECT i.family_id, i.student_id INTO fam, stu
          FROM invoices i WHERE i.school_id = school AND i.id = (img->>'invoice_id')::uuid;
    WHEN 'payments', 'refunds', 'suspense_resolutions' THEN
        fam := (img->>'family_id')::uuid;
        IF tbl = 'suspense_resolutions' THEN rid := img->>'payment_id'; END IF;
    WHEN 'payment_reversals' THEN
        rid := img->>'payment_id';
        SELECT p.family_id INTO fam FROM payments p
         WHERE p.school_id = school AND p.id = (img->>'payment_id')::uuid;
    WHEN 'journal_lines' THEN
        fam := (img->>'family_id')::uuid; stu := (img->>'student_id')::uuid;
    WHEN 'journal_entries' THEN
        -- Office only, except that an entry reversing another goes to the reversed entry's
        -- family (000007).
        IF img->>'reverses_entry_id' IS NOT NULL THEN
            SELECT l.family_id INTO fam FROM journal_lines l
             WHERE l.school_id = school AND l.entry_id = (img->>'reverses_entry_id')::uuid
               AND l.family_id IS NOT NULL
             LIMIT 1;
        END IF;
    WHEN 'registers' THEN
        cls := (img->>'class_id')::uuid;
    WHEN 'attendance_marks' THEN
        rid := (img->>'register_id') || ':' || (img->>'student_id');
        stu := (img->>'student_id')::uuid;
        SELECT r.class_id, jsonb_build_object('class_id', r.class_id, 'on_date', r.on_date, 'period', r.period)
          INTO cls, extra
          FROM registers r WHERE r.school_id = school AND r.id = (img->>'register_id')::uuid;
    WHEN 'receipt_series' THEN
        rid := img->>'series';
    ELSE
        -- Office only.
        NULL;
    END CASE;
    IF extra IS NOT NULL THEN img := img || extra; END IF;
END $$;

-- The rows already logged take the new keys.
UPDATE change_log SET everyone = false, class_id = row_key::uuid WHERE entity = 'classes';
UPDATE change_log SET everyone = false WHERE entity = 'fee_heads';
UPDATE change_log SET everyone = (row->>'system_key') IS NOT NULL
 WHERE entity = 'accounts' AND NOT deleted;

-- Devices built their replicas under the wider rule and would keep those rows. Every school's
-- version moves on by one and its compaction horizon to it, so each device's next pull from a
-- complete cursor answers 410 `cursor_expired` and the device takes a fresh snapshot under the
-- new rule (its outbox untouched; ARCHITECTURE.md §6). A device that never pulled is unaffected.
UPDATE sync_versions SET version = version + 1;
INSERT INTO change_log_horizons (school_id, version, compacted_at)
SELECT school_id, version, now() FROM sync_versions
ON CONFLICT (school_id) DO UPDATE
    SET version = GREATEST(change_log_horizons.version, EXCLUDED.version), compacted_at = now();
