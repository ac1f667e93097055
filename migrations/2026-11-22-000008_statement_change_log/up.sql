-- Push throughput (BENCHMARKS.md): the tables a payment or a register writes many rows of at a
-- time log their rows per statement instead of per row. `log_row` (000006/000007) runs one
-- plpgsql call and one upsert for every row written; these triggers log a whole statement's rows
-- with one set-based upsert over the statement's transition table. The images and scope keys
-- are exactly what `log_row` records for the same rows (the digest and the pull tests compare
-- them), so nothing a device sees changes. Deletes, rare on these tables, stay row by row.
--
-- Lookups of the row's invoice or register are LATERAL … LIMIT 1, so they stay index probes per
-- row whatever the statement's size: a plain join let the planner hash-join a whole table
-- (a sequential scan of every register of the school) to log a 40-mark register.
--
-- PostgreSQL allows a transition table only on a single-event trigger, hence one trigger for
-- INSERT and one for UPDATE (an `INSERT … ON CONFLICT DO UPDATE` fires both, each with its own
-- rows).

-- The version a row logged now carries: the school's version when this transaction has
-- already taken it (a sync push takes it first, so its rows need no stamping at COMMIT),
-- otherwise the placeholder (minus the transaction id) that `stamp_change_log` replaces at
-- COMMIT.
CREATE FUNCTION log_version(p_school uuid) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT coalesce(nullif(current_setting('daftar.v_' || replace(p_school::text, '-', ''), true), '')::bigint,
                    -txid_current())
$$;

-- change_log rows are written only by these triggers from rows of tenant tables that already
-- reference `schools`; checking the reference again for every logged row cost about a quarter
-- of logging it.
ALTER TABLE change_log DROP CONSTRAINT change_log_school_id_fkey;

CREATE FUNCTION log_change_rows() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    CASE TG_TABLE_NAME
    WHEN 'journal_lines' THEN
        INSERT INTO change_log AS c
            (school_id, entity, row_key, version, deleted, row, everyone, class_id, family_id, student_id)
        SELECT r.school_id, 'journal_lines', r.id::text, log_version(r.school_id), false, to_jsonb(r),
               false, NULL, r.family_id, r.student_id
          FROM changed_rows r
        ON CONFLICT (school_id, entity, row_key) DO UPDATE SET
            version = EXCLUDED.version, deleted = EXCLUDED.deleted, row = EXCLUDED.row,
            everyone = EXCLUDED.everyone, class_id = EXCLUDED.class_id,
            family_id = EXCLUDED.family_id, student_id = EXCLUDED.student_id;
    WHEN 'journal_entries' THEN
        -- Office only, except that an entry reversing another goes to the reversed entry's
        -- family (000007).
        INSERT INTO change_log AS c
            (school_id, entity, row_key, version, deleted, row, everyone, class_id, family_id, student_id)
        SELECT r.school_id, 'journal_entries', r.id::text, log_version(r.school_id), false, to_jsonb(r),
               false, NULL,
               CASE WHEN r.reverses_entry_id IS NOT NULL THEN (
                   SELECT l.family_id FROM journal_lines l
                    WHERE l.school_id = r.school_id AND l.entry_id = r.reverses_entry_id
                      AND l.family_id IS NOT NULL
                    LIMIT 1) END,
               NULL
          FROM changed_rows r
        ON CONFLICT (school_id, entity, row_key) DO UPDATE SET
            version = EXCLUDED.version, deleted = EXCLUDED.deleted, row = EXCLUDED.row,
            everyone = EXCLUDED.everyone, class_id = EXCLUDED.class_id,
            family_id = EXCLUDED.family_id, student_id = EXCLUDED.student_id;
    WHEN 'allocations' THEN
        INSERT INTO change_log AS c
            (school_id, entity, row_key, version, deleted, row, everyone, class_id, family_id, student_id)
        SELECT r.school_id, 'allocations', r.id::text, log_version(r.school_id), false,
               CASE WHEN i.id IS NULL THEN to_jsonb(r)
                    ELSE to_jsonb(r) || jsonb_build_object('family_id', i.family_id, 'student_id', i.student_id) END,
               false, NULL, i.family_id, i.student_id
          FROM changed_rows r
          LEFT JOIN LATERAL (
              SELECT i.id, i.family_id, i.student_id
                FROM invoice_lines l JOIN invoices i ON i.school_id = l.school_id AND i.id = l.invoice_id
               WHERE l.school_id = r.school_id AND l.id = r.invoice_line_id
               LIMIT 1) i ON true
        ON CONFLICT (school_id, entity, row_key) DO UPDATE SET
            version = EXCLUDED.version, deleted = EXCLUDED.deleted, row = EXCLUDED.row,
            everyone = EXCLUDED.everyone, class_id = EXCLUDED.class_id,
            family_id = EXCLUDED.family_id, student_id = EXCLUDED.student_id;
    WHEN 'payments' THEN
        INSERT INTO change_log AS c
            (school_id, entity, row_key, version, deleted, row, everyone, class_id, family_id, student_id)
        SELECT r.school_id, 'payments', r.id::text, log_version(r.school_id), false,
               to_jsonb(r) - 'request_hash', false, NULL, r.family_id, NULL
          FROM changed_rows r
        ON CONFLICT (school_id, entity, row_key) DO UPDATE SET
            version = EXCLUDED.version, deleted = EXCLUDED.deleted, row = EXCLUDED.row,
            everyone = EXCLUDED.everyone, class_id = EXCLUDED.class_id,
            family_id = EXCLUDED.family_id, student_id = EXCLUDED.student_id;
    WHEN 'registers' THEN
        INSERT INTO change_log AS c
            (school_id, entity, row_key, version, deleted, row, everyone, class_id, family_id, student_id)
        SELECT r.school_id, 'registers', r.id::text, log_version(r.school_id), false, to_jsonb(r),
               false, r.class_id, NULL, NULL
          FROM changed_rows r
        ON CONFLICT (school_id, entity, row_key) DO UPDATE SET
            version = EXCLUDED.version, deleted = EXCLUDED.deleted, row = EXCLUDED.row,
            everyone = EXCLUDED.everyone, class_id = EXCLUDED.class_id,
            family_id = EXCLUDED.family_id, student_id = EXCLUDED.student_id;
    WHEN 'attendance_marks' THEN
        INSERT INTO change_log AS c
            (school_id, entity, row_key, version, deleted, row, everyone, class_id, family_id, student_id)
        SELECT r.school_id, 'attendance_marks', r.register_id::text || ':' || r.student_id::text,
               log_version(r.school_id), false,
               CASE WHEN g.id IS NULL THEN to_jsonb(r)
                    ELSE to_jsonb(r) || jsonb_build_object('class_id', g.class_id, 'on_date', g.on_date, 'period', g.period) END,
               false, g.class_id, NULL, r.student_id
          FROM changed_rows r
          LEFT JOIN LATERAL (
              SELECT g.id, g.class_id, g.on_date, g.period FROM registers g
               WHERE g.school_id = r.school_id AND g.id = r.register_id
               LIMIT 1) g ON true
        ON CONFLICT (school_id, entity, row_key) DO UPDATE SET
            version = EXCLUDED.version, deleted = EXCLUDED.deleted, row = EXCLUDED.row,
            everyone = EXCLUDED.everyone, class_id = EXCLUDED.class_id,
            family_id = EXCLUDED.family_id, student_id = EXCLUDED.student_id;
    ELSE
        RAISE EXCEPTION 'log_change_rows: no set-based log for table %', TG_TABLE_NAME;
    END CASE;
    -- Tell the COMMIT-time stamp (000006 `stamp_change_log`) that this school logged rows
    -- since its last stamp.
    PERFORM set_config('daftar.l_' || replace(s.school_id::text, '-', ''),
        (coalesce(nullif(current_setting('daftar.l_' || replace(s.school_id::text, '-', ''), true), ''), '0')::bigint + 1)::text,
        true)
      FROM (SELECT DISTINCT school_id FROM changed_rows) s;
    RETURN NULL;
END $$;

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['journal_entries','journal_lines','allocations','payments','registers',
    'attendance_marks']
  LOOP
    EXECUTE format('DROP TRIGGER log_change ON %I', t);
    EXECUTE format('CREATE TRIGGER log_change_delete AFTER DELETE ON %I
                    FOR EACH ROW EXECUTE FUNCTION log_change()', t);
    EXECUTE format('CREATE TRIGGER log_change_insert AFTER INSERT ON %I
                    REFERENCING NEW TABLE AS changed_rows
                    FOR EACH STATEMENT EXECUTE FUNCTION log_change_rows()', t);
    EXECUTE format('CREATE TRIGGER log_change_update AFTER UPDATE ON %I
                    REFERENCING NEW TABLE AS changed_rows
                    FOR EACH STATEMENT EXECUTE FUNCTION log_change_rows()', t);
  END LOOP;
END $$;
