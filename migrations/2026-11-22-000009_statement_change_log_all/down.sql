DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['schools','academic_years','terms','attendance_codes','classes','fee_heads',
    'accounts','students','guardians','families','student_guardians','enrollments','class_teachers',
    'invoices','invoice_lines','payment_reversals','discounts','fines','refunds',
    'suspense_resolutions','receipt_series']
  LOOP
    EXECUTE format('DROP TRIGGER log_change_delete ON %I', t);
    EXECUTE format('DROP TRIGGER log_change_insert ON %I', t);
    EXECUTE format('DROP TRIGGER log_change_update ON %I', t);
    EXECUTE format('CREATE TRIGGER log_change AFTER INSERT OR UPDATE OR DELETE ON %I
                    FOR EACH ROW EXECUTE FUNCTION log_change()', t);
  END LOOP;
END $$;
DROP FUNCTION log_statement_rows();

-- 000006's row logger (as 000007 renamed it): the scope rule without 000007's widening.
CREATE FUNCTION log_row_base(tbl text, is_deleted boolean, image jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    k record;
BEGIN
    SELECT * INTO k FROM log_image(tbl, image);
    IF tbl = 'accounts' THEN k.everyone := false; END IF;
    IF tbl = 'journal_entries' THEN k.fam := NULL; END IF;
    INSERT INTO change_log AS c
        (school_id, entity, row_key, version, deleted, row, everyone, class_id, family_id, student_id)
    VALUES (k.school, tbl, k.rid, -txid_current(), is_deleted,
            CASE WHEN is_deleted THEN NULL ELSE k.img END, k.everyone, k.cls, k.fam, k.stu)
    ON CONFLICT (school_id, entity, row_key) DO UPDATE SET
        version = EXCLUDED.version, deleted = EXCLUDED.deleted, row = EXCLUDED.row,
        everyone = EXCLUDED.everyone, class_id = EXCLUDED.class_id,
        family_id = EXCLUDED.family_id, student_id = EXCLUDED.student_id;
    PERFORM set_config('daftar.l_' || replace(k.school::text, '-', ''),
        (coalesce(nullif(current_setting('daftar.l_' || replace(k.school::text, '-', ''), true), ''), '0')::bigint + 1)::text,
        true);
END $$;

-- 000007's log_row.
CREATE OR REPLACE FUNCTION log_row(tbl text, is_deleted boolean, image jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    school uuid := (image->>'school_id')::uuid;
BEGIN
    PERFORM log_row_base(tbl, is_deleted, image);
    IF tbl = 'accounts' THEN
        UPDATE change_log SET everyone = true
         WHERE school_id = school AND entity = 'accounts' AND row_key = image->>'id';
    ELSIF tbl = 'journal_entries' AND image->>'reverses_entry_id' IS NOT NULL THEN
        UPDATE change_log SET family_id = (
                SELECT l.family_id FROM journal_lines l
                 WHERE l.school_id = school
                   AND l.entry_id = (image->>'reverses_entry_id')::uuid
                   AND l.family_id IS NOT NULL
                 LIMIT 1)
         WHERE school_id = school AND entity = 'journal_entries' AND row_key = image->>'id';
    END IF;
END $$;

DROP FUNCTION log_image(text, jsonb);
