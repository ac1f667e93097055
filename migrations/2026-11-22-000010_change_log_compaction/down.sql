-- 000009's `log_row`.
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
    PERFORM set_config('daftar.l_' || replace(k.school::text, '-', ''),
        (coalesce(nullif(current_setting('daftar.l_' || replace(k.school::text, '-', ''), true), ''), '0')::bigint + 1)::text,
        true);
END $$;

DROP TABLE change_log_horizons;
ALTER TABLE change_log DROP COLUMN deleted_at;
