-- Every synced table logs its inserts and updates per statement (000008 did this for the six
-- tables a payment or a register writes). The rest still ran `log_row` once per row: about
-- 100 µs a row, so issuing a term's invoices or importing a roster of 20,000 students spent
-- most of its time logging (200,000 invoice lines: 20 s of 25). Logged per statement, a row
-- costs about a third of that.
--
-- The scope rule (which devices see a row, ARCHITECTURE.md §6 "Scopes") now lives once, in
-- `log_image`; `log_row` (deletes, row by row) and the statement trigger both use it. The
-- images and scope keys are exactly those of 000006/000007 (the digest and pull tests compare
-- what devices receive).

-- The change-log fields of one row image of table `tbl`: its school, row key, scope keys and
-- the image to store (secrets such as request hashes removed; lookups added where a device
-- needs them).
CREATE FUNCTION log_image(tbl text, image jsonb,
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
    WHEN 'schools', 'academic_years', 'terms', 'attendance_codes', 'classes', 'fee_heads',
         'accounts' THEN
        -- Accounts: names and system keys only, so a parent's phone can find Family Credit
        -- (000007).
        everyone := true;
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

-- One row image (or a tombstone) into change_log; used for deletes, row by row.
CREATE OR REPLACE FUNCTION log_row(tbl text, is_deleted boolean, image jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    k record;
BEGIN
    SELECT * INTO k FROM log_image(tbl, image);
    INSERT INTO change_log AS c
        (school_id, entity, row_key, version, deleted, row, everyone, class_id, family_id, student_id)
    VALUES (k.school, tbl, k.rid, log_version(k.school), is_deleted,
            CASE WHEN is_deleted THEN NULL ELSE k.img END, k.everyone, k.cls, k.fam, k.stu)
    ON CONFLICT (school_id, entity, row_key) DO UPDATE SET
        version = EXCLUDED.version, deleted = EXCLUDED.deleted, row = EXCLUDED.row,
        everyone = EXCLUDED.everyone, class_id = EXCLUDED.class_id,
        family_id = EXCLUDED.family_id, student_id = EXCLUDED.student_id;
    -- Count the rows this transaction logged, so the stamp at COMMIT runs once per batch.
    PERFORM set_config('daftar.l_' || replace(k.school::text, '-', ''),
        (coalesce(nullif(current_setting('daftar.l_' || replace(k.school::text, '-', ''), true), ''), '0')::bigint + 1)::text,
        true);
END $$;

DROP FUNCTION log_row_base(text, boolean, jsonb);

-- A statement's inserted or updated rows, logged with one set-based upsert.
CREATE FUNCTION log_statement_rows() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    logged uuid[];
    school uuid;
BEGIN
    IF TG_TABLE_NAME = 'invoice_lines' THEN
        -- The most numerous rows of all (ten or so per invoice): the invoice lookup of
        -- `log_image`, done here as a join, costs a quarter as much.
        WITH ins AS (
            INSERT INTO change_log AS c
                (school_id, entity, row_key, version, deleted, row, everyone, class_id, family_id, student_id)
            SELECT r.school_id, 'invoice_lines', r.id::text, log_version(r.school_id), false,
                   CASE WHEN i.id IS NULL THEN to_jsonb(r)
                        ELSE to_jsonb(r) || jsonb_build_object('family_id', i.family_id, 'student_id', i.student_id) END,
                   false, NULL, i.family_id, i.student_id
              FROM changed_rows r
              LEFT JOIN LATERAL (
                  SELECT i.id, i.family_id, i.student_id FROM invoices i
                   WHERE i.school_id = r.school_id AND i.id = r.invoice_id
                   LIMIT 1) i ON true
            ON CONFLICT (school_id, entity, row_key) DO UPDATE SET
                version = EXCLUDED.version, deleted = EXCLUDED.deleted, row = EXCLUDED.row,
                everyone = EXCLUDED.everyone, class_id = EXCLUDED.class_id,
                family_id = EXCLUDED.family_id, student_id = EXCLUDED.student_id
            RETURNING c.school_id)
        SELECT array_agg(DISTINCT ins.school_id) INTO logged FROM ins;
    ELSE
    WITH ins AS (
        INSERT INTO change_log AS c
            (school_id, entity, row_key, version, deleted, row, everyone, class_id, family_id, student_id)
        SELECT k.school, TG_TABLE_NAME, k.rid, log_version(k.school), false, k.img, k.everyone,
               k.cls, k.fam, k.stu
          FROM changed_rows r, LATERAL log_image(TG_TABLE_NAME, to_jsonb(r)) k
        ON CONFLICT (school_id, entity, row_key) DO UPDATE SET
            version = EXCLUDED.version, deleted = EXCLUDED.deleted, row = EXCLUDED.row,
            everyone = EXCLUDED.everyone, class_id = EXCLUDED.class_id,
            family_id = EXCLUDED.family_id, student_id = EXCLUDED.student_id
        RETURNING c.school_id)
    SELECT array_agg(DISTINCT ins.school_id) INTO logged FROM ins;
    END IF;
    -- Tell the COMMIT-time stamp (000006 `stamp_change_log`) that these schools logged rows
    -- since its last stamp.
    FOREACH school IN ARRAY coalesce(logged, '{}') LOOP
        PERFORM set_config('daftar.l_' || replace(school::text, '-', ''),
            (coalesce(nullif(current_setting('daftar.l_' || replace(school::text, '-', ''), true), ''), '0')::bigint + 1)::text,
            true);
    END LOOP;
    RETURN NULL;
END $$;

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['schools','academic_years','terms','attendance_codes','classes','fee_heads',
    'accounts','students','guardians','families','student_guardians','enrollments','class_teachers',
    'invoices','invoice_lines','payment_reversals','discounts','fines','refunds',
    'suspense_resolutions','receipt_series']
  LOOP
    EXECUTE format('DROP TRIGGER log_change ON %I', t);
    EXECUTE format('CREATE TRIGGER log_change_delete AFTER DELETE ON %I
                    FOR EACH ROW EXECUTE FUNCTION log_change()', t);
    EXECUTE format('CREATE TRIGGER log_change_insert AFTER INSERT ON %I
                    REFERENCING NEW TABLE AS changed_rows
                    FOR EACH STATEMENT EXECUTE FUNCTION log_statement_rows()', t);
    EXECUTE format('CREATE TRIGGER log_change_update AFTER UPDATE ON %I
                    REFERENCING NEW TABLE AS changed_rows
                    FOR EACH STATEMENT EXECUTE FUNCTION log_statement_rows()', t);
  END LOOP;
END $$;
