-- Every live function the database's triggers run: the change log of sync (ARCHITECTURE.md
-- §6) and the ledger's and audit log's integrity rules (§4, §7). This file is the one place
-- they are written; migrations before 2026-12-02-000012 hold their history.
--
-- `db::run_migrations` applies it after the migrations whenever its SHA-256 differs from the one
-- recorded in `sql_functions`, so editing a body here is all a change needs. Changing a
-- function's arguments or result (which CREATE OR REPLACE cannot) needs a migration that drops it
-- first. The test `api::schema_rules::the_live_functions_are_this_file` proves that a migrated
-- database's functions are exactly the ones this file creates.

-- The version of every row this transaction logs: its transaction id, as a 64-bit `xid8`
-- (epoch and xid, so it never wraps), read as bigint. A row's version says which transaction
-- last wrote it; which versions a pull may hand out is `sync_watermark`'s business.
CREATE OR REPLACE FUNCTION public.change_version()
 RETURNS bigint
 LANGUAGE sql
AS $function$
    SELECT pg_current_xact_id()::text::bigint
$function$;

-- The key (second half; the first is 1147233908, "Daft") of the shared advisory lock that
-- registers a writing transaction with its school: the last 31 bits of the school's id, the
-- random part of a UUIDv7. Two schools may share a key; that only makes a watermark more
-- cautious, never wrong.
CREATE OR REPLACE FUNCTION public.sync_lock_key(p_school uuid)
 RETURNS integer
 LANGUAGE sql
 IMMUTABLE
AS $function$
    SELECT ('x' || right(replace(p_school::text, '-', ''), 8))::bit(32)::integer & 2147483647
$function$;

-- Called after every statement that logs rows, once per school it logged: the first call of a
-- transaction registers it with its school (a shared transaction-level advisory lock, which no
-- other writer waits for) and queues the poke every server's SSE streams hear at COMMIT. A
-- transaction may log the rows of one school only, so that a watermark may pass over a
-- transaction registered elsewhere (`sync_watermark`). In a savepoint that is rolled back,
-- the setting and the lock go back with the rows.
CREATE OR REPLACE FUNCTION public.sync_register(p_school uuid)
 RETURNS void
 LANGUAGE plpgsql
AS $function$
DECLARE
    cur text := current_setting('daftar.sync_school', true);
BEGIN
    IF cur IS NULL OR cur = '' THEN
        PERFORM set_config('daftar.sync_school', p_school::text, true);
        PERFORM pg_advisory_xact_lock_shared(1147233908, sync_lock_key(p_school));
        PERFORM pg_notify('daftar_sync', p_school::text || ' ' || change_version()::text);
    ELSIF cur <> p_school::text THEN
        RAISE EXCEPTION 'one transaction may change the synced rows of one school only (% and %)',
            cur, p_school;
    END IF;
END $function$;

-- The highest version a pull of `p_school` may read up to in the caller's snapshot: every
-- transaction with a lower id has ended (committed, and so visible in this snapshot, or
-- aborted), except running ones registered with another school, which can never log a row of
-- this one. So the rows of the school at or below it are final, and a cursor that advances to
-- it never skips a commit (ARCHITECTURE.md §6, the argument in `server::sync::feed`). Call it
-- as the first statement of a repeatable-read transaction, so the snapshot it reads is the
-- one the pull's queries see.
CREATE OR REPLACE FUNCTION public.sync_watermark(p_school uuid)
 RETURNS bigint
 LANGUAGE sql
 STABLE
AS $function$
    WITH snap AS (SELECT pg_current_snapshot() AS s),
    elsewhere AS (
        SELECT t.transactionid::text::bigint AS xid32
          FROM pg_locks a
          JOIN pg_locks t ON t.virtualtransaction = a.virtualtransaction
                         AND t.locktype = 'transactionid'
         WHERE a.locktype = 'advisory' AND a.classid = 1147233908 AND a.objsubid = 2
           AND a.granted AND a.objid::text::bigint <> sync_lock_key(p_school))
    SELECT least(pg_snapshot_xmax(s)::text::bigint,
                 (SELECT min(x::text::bigint) FROM pg_snapshot_xip(s) x
                   WHERE x::text::bigint % 4294967296 NOT IN (SELECT xid32 FROM elsewhere))) - 1
      FROM snap
$function$;

-- The scope rule (ARCHITECTURE.md §6): for one row image of table `tbl`, its school, row key,
-- scope keys (everyone / class / family / student) and the image devices are sent.
CREATE OR REPLACE FUNCTION public.log_image(tbl text, image jsonb, OUT school uuid, OUT rid text, OUT everyone boolean, OUT cls uuid, OUT fam uuid, OUT stu uuid, OUT img jsonb)
 RETURNS record
 LANGUAGE plpgsql
 STABLE
AS $function$
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
END $function$;

-- One row image (or a tombstone) into change_log; used for deletes, row by row.
CREATE OR REPLACE FUNCTION public.log_row(tbl text, is_deleted boolean, image jsonb)
 RETURNS void
 LANGUAGE plpgsql
AS $function$
DECLARE
    k record;
BEGIN
    SELECT * INTO k FROM log_image(tbl, image);
    INSERT INTO change_log AS c
        (school_id, entity, row_key, version, deleted, row, everyone, class_id, family_id, student_id,
         deleted_at)
    VALUES (k.school, tbl, k.rid, change_version(), is_deleted,
            CASE WHEN is_deleted THEN NULL ELSE k.img END, k.everyone, k.cls, k.fam, k.stu,
            CASE WHEN is_deleted THEN now() END)
    ON CONFLICT (school_id, entity, row_key) DO UPDATE SET
        version = EXCLUDED.version, deleted = EXCLUDED.deleted, row = EXCLUDED.row,
        everyone = EXCLUDED.everyone, class_id = EXCLUDED.class_id,
        family_id = EXCLUDED.family_id, student_id = EXCLUDED.student_id,
        deleted_at = EXCLUDED.deleted_at;
    PERFORM sync_register(k.school);
END $function$;

-- Row trigger: logs the row with `log_row`; the delete triggers use it, so a deleted row
-- becomes a tombstone.
CREATE OR REPLACE FUNCTION public.log_change()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM log_row(TG_TABLE_NAME, true, to_jsonb(OLD));
    ELSE
        PERFORM log_row(TG_TABLE_NAME, false, to_jsonb(NEW));
    END IF;
    RETURN NULL;
END $function$;

-- Statement trigger of the tables a payment or a register writes (journal entries and lines,
-- allocations, payments, registers, marks): their scope keys set-wise, without `log_image`'s
-- per-row lookups. `schema_rules` proves they agree with `log_image`.
CREATE OR REPLACE FUNCTION public.log_change_rows()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    CASE TG_TABLE_NAME
    WHEN 'journal_lines' THEN
        INSERT INTO change_log AS c
            (school_id, entity, row_key, version, deleted, row, everyone, class_id, family_id, student_id)
        SELECT r.school_id, 'journal_lines', r.id::text, change_version(), false, to_jsonb(r),
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
        SELECT r.school_id, 'journal_entries', r.id::text, change_version(), false, to_jsonb(r),
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
        SELECT r.school_id, 'allocations', r.id::text, change_version(), false,
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
        SELECT r.school_id, 'payments', r.id::text, change_version(), false,
               to_jsonb(r) - 'request_hash', false, NULL, r.family_id, NULL
          FROM changed_rows r
        ON CONFLICT (school_id, entity, row_key) DO UPDATE SET
            version = EXCLUDED.version, deleted = EXCLUDED.deleted, row = EXCLUDED.row,
            everyone = EXCLUDED.everyone, class_id = EXCLUDED.class_id,
            family_id = EXCLUDED.family_id, student_id = EXCLUDED.student_id;
    WHEN 'registers' THEN
        INSERT INTO change_log AS c
            (school_id, entity, row_key, version, deleted, row, everyone, class_id, family_id, student_id)
        SELECT r.school_id, 'registers', r.id::text, change_version(), false, to_jsonb(r),
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
               change_version(), false,
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
    PERFORM sync_register(s.school_id) FROM (SELECT DISTINCT school_id FROM changed_rows) s;
    RETURN NULL;
END $function$;

-- Statement trigger of every other synced table: `log_image` per row, one upsert per statement.
CREATE OR REPLACE FUNCTION public.log_statement_rows()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
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
            SELECT r.school_id, 'invoice_lines', r.id::text, change_version(), false,
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
        SELECT k.school, TG_TABLE_NAME, k.rid, change_version(), false, k.img, k.everyone,
               k.cls, k.fam, k.stu
          FROM changed_rows r, LATERAL log_image(TG_TABLE_NAME, to_jsonb(r)) k
        ON CONFLICT (school_id, entity, row_key) DO UPDATE SET
            version = EXCLUDED.version, deleted = EXCLUDED.deleted, row = EXCLUDED.row,
            everyone = EXCLUDED.everyone, class_id = EXCLUDED.class_id,
            family_id = EXCLUDED.family_id, student_id = EXCLUDED.student_id
        RETURNING c.school_id)
    SELECT array_agg(DISTINCT ins.school_id) INTO logged FROM ins;
    END IF;
    FOREACH school IN ARRAY coalesce(logged, '{}') LOOP
        PERFORM sync_register(school);
    END LOOP;
    RETURN NULL;
END $function$;

-- Deferred constraint trigger: an entry's lines sum to zero (ARCHITECTURE.md §4).
CREATE OR REPLACE FUNCTION public.journal_entry_must_balance()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
DECLARE
    eid uuid;
    total numeric;
    n integer;
BEGIN
    IF TG_TABLE_NAME = 'journal_entries' THEN
        eid := NEW.id;
    ELSE
        eid := NEW.entry_id;
    END IF;
    -- Looked up by entry_id alone (a UUIDv7, unique on its own) through its own index: with a
    -- school_id equality the planner may pick the primary key when a new school's statistics are
    -- stale, and scan every line of the school for every row.
    SELECT coalesce(sum(amount), 0), count(*) INTO total, n
    FROM journal_lines WHERE entry_id = eid AND school_id IS NOT DISTINCT FROM NEW.school_id;
    IF n < 2 OR total <> 0 THEN
        RAISE EXCEPTION 'journal entry % is not balanced: % lines summing to %', eid, n, total
            USING ERRCODE = 'check_violation', CONSTRAINT = 'journal_entry_balanced';
    END IF;
    RETURN NULL;
END $function$;

-- Posted journal entries and lines are never updated or deleted; a mistake is reversed.
CREATE OR REPLACE FUNCTION public.ledger_is_append_only()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    RAISE EXCEPTION '% is append-only: post a reversing entry instead', TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END $function$;

-- The audit log is never updated or deleted (ARCHITECTURE.md §7).
CREATE OR REPLACE FUNCTION public.audit_log_is_append_only()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'insufficient_privilege';
END $function$;
