-- Compaction of the change log (ARCHITECTURE.md §6): the log keeps one row per
-- live row, so what grows without bound is tombstones, the rows that say "deleted". The
-- operator removes tombstones older than a retention period (`daftar-server
-- compact-change-log`); the highest version removed becomes the school's horizon, and a pull
-- whose cursor is behind the horizon is answered 410 `cursor_expired`, because that device may
-- still hold a row whose tombstone it never saw. The device then rebuilds its replica from a
-- fresh snapshot.

-- When the row was deleted (tombstones only; live rows leave it NULL, and a row deleted and
-- inserted again may keep a stale value that nothing reads).
ALTER TABLE change_log ADD COLUMN deleted_at timestamptz;
UPDATE change_log SET deleted_at = now() WHERE deleted;

CREATE TABLE change_log_horizons (
    school_id    uuid PRIMARY KEY REFERENCES schools (id),
    -- Tombstones at or below this version may be gone: cursors behind it are expired.
    version      bigint NOT NULL,
    compacted_at timestamptz NOT NULL
);

-- 000009's `log_row`, stamping tombstones with their deletion time.
CREATE OR REPLACE FUNCTION log_row(tbl text, is_deleted boolean, image jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    k record;
BEGIN
    SELECT * INTO k FROM log_image(tbl, image);
    INSERT INTO change_log AS c
        (school_id, entity, row_key, version, deleted, row, everyone, class_id, family_id, student_id,
         deleted_at)
    VALUES (k.school, tbl, k.rid, log_version(k.school), is_deleted,
            CASE WHEN is_deleted THEN NULL ELSE k.img END, k.everyone, k.cls, k.fam, k.stu,
            CASE WHEN is_deleted THEN now() END)
    ON CONFLICT (school_id, entity, row_key) DO UPDATE SET
        version = EXCLUDED.version, deleted = EXCLUDED.deleted, row = EXCLUDED.row,
        everyone = EXCLUDED.everyone, class_id = EXCLUDED.class_id,
        family_id = EXCLUDED.family_id, student_id = EXCLUDED.student_id,
        deleted_at = EXCLUDED.deleted_at;
    -- Count the rows this transaction logged, so the stamp at COMMIT runs once per batch.
    PERFORM set_config('daftar.l_' || replace(k.school::text, '-', ''),
        (coalesce(nullif(current_setting('daftar.l_' || replace(k.school::text, '-', ''), true), ''), '0')::bigint + 1)::text,
        true);
END $$;
