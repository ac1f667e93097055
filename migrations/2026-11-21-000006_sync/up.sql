-- Sync protocol v1 (ARCHITECTURE.md §6).
--
-- Every writing transaction that touches a synced table records each changed row in
-- `change_log` and, at COMMIT, takes the school's next version from `sync_versions` (an UPDATE,
-- so the row lock is held until the commit completes: version order equals commit order and a
-- pull never skips a change). Rows are logged with a placeholder version (minus the
-- transaction id) and stamped by a deferred trigger just before COMMIT, so the school's version
-- row is locked only for the commit itself, not for the whole transaction. The log
-- keeps one row per (entity, row): the latest image or a tombstone, at the version that last
-- touched it. A pull is "rows with a version after my cursor", a bootstrap is the same pull
-- from cursor 0, and nothing needs compacting.

CREATE TABLE sync_versions (
    school_id   uuid PRIMARY KEY REFERENCES schools (id),
    version     bigint NOT NULL
);

CREATE TABLE change_log (
    school_id   uuid NOT NULL REFERENCES schools (id),
    entity      text COLLATE "C" NOT NULL,
    row_key      text COLLATE "C" NOT NULL,
    version     bigint NOT NULL,
    deleted     boolean NOT NULL,
    -- The row as JSON (secrets such as request hashes removed); NULL for a tombstone.
    row         jsonb,
    -- Scope keys (ARCHITECTURE.md §6 "Scopes"): `everyone` rows go to every device; the others
    -- to the office, and to teachers by class and parents by family or student.
    everyone    boolean NOT NULL,
    class_id    uuid,
    family_id   uuid,
    student_id  uuid,
    PRIMARY KEY (school_id, entity, row_key)
);
CREATE INDEX change_log_by_version ON change_log (school_id, version, entity, row_key);
CREATE INDEX change_log_by_family ON change_log (school_id, family_id, version) WHERE family_id IS NOT NULL;
CREATE INDEX change_log_by_class ON change_log (school_id, class_id, version) WHERE class_id IS NOT NULL;

-- One row per local database instance (a device may get a new client after its outbox was
-- salvaged). `last_seq` is the highest op seq applied or rejected: the next must be +1.
CREATE TABLE sync_clients (
    school_id   uuid NOT NULL,
    client_id   uuid NOT NULL,
    device_id   uuid NOT NULL,
    last_seq    bigint NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (school_id, client_id),
    FOREIGN KEY (school_id, device_id) REFERENCES devices (school_id, id)
);

-- Every op the server has decided, in the same transaction as its effects: a repeated op_id
-- replays `result`; a rejected or conflicting op stays listed until someone resolves it.
CREATE TABLE applied_ops (
    school_id     uuid NOT NULL,
    op_id         uuid NOT NULL,
    client_id     uuid NOT NULL,
    device_id     uuid NOT NULL,
    seq           bigint NOT NULL,
    mutation      text NOT NULL,
    request_hash  bytea NOT NULL,
    status        text NOT NULL CHECK (status IN ('applied', 'rejected', 'conflict')),
    version       bigint,
    result        jsonb NOT NULL,
    args          jsonb NOT NULL,
    device_created_at timestamptz,
    applied_at    timestamptz NOT NULL DEFAULT now(),
    resolved_at   timestamptz,
    resolved_by   uuid,
    resolution    text,
    PRIMARY KEY (school_id, op_id),
    UNIQUE (school_id, client_id, seq),
    FOREIGN KEY (school_id, client_id) REFERENCES sync_clients (school_id, client_id)
);
CREATE INDEX applied_ops_needing_attention ON applied_ops (school_id, applied_at)
    WHERE status <> 'applied' AND resolved_at IS NULL;

-- Field-level merge clashes (ARCHITECTURE.md §6 "Conflicts"): the server value stayed, the
-- losing value is kept here.
CREATE TABLE sync_conflicts (
    school_id     uuid NOT NULL,
    id            uuid NOT NULL,
    op_id         uuid NOT NULL,
    entity        text NOT NULL,
    row_id        uuid NOT NULL,
    field         text NOT NULL,
    base_value    jsonb,
    server_value  jsonb,
    losing_value  jsonb,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (school_id, id),
    FOREIGN KEY (school_id, op_id) REFERENCES applied_ops (school_id, op_id)
);

-- The school's version for the current transaction: taken once (row lock until COMMIT),
-- remembered in a transaction-local setting, and announced with NOTIFY (delivered at COMMIT,
-- so listeners only hear of committed versions).
CREATE FUNCTION sync_version(p_school uuid) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    key text := 'daftar.v_' || replace(p_school::text, '-', '');
    cur text := current_setting(key, true);
    nv bigint;
BEGIN
    IF cur IS NOT NULL AND cur <> '' THEN
        RETURN cur::bigint;
    END IF;
    INSERT INTO sync_versions AS s (school_id, version) VALUES (p_school, 1)
    ON CONFLICT (school_id) DO UPDATE SET version = s.version + 1
    RETURNING version INTO nv;
    PERFORM set_config(key, nv::text, true);
    PERFORM pg_notify('daftar_sync', p_school::text || ' ' || nv::text);
    RETURN nv;
END $$;

-- Records one row image of table `tbl` (`deleted` for a DELETE) in change_log with its scope
-- keys. Called by the `log_change` trigger, and once per existing row by this migration.
CREATE FUNCTION log_row(tbl text, is_deleted boolean, image jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    img      jsonb := image - 'request_hash';
    school   uuid;
    rid      text;
    everyone boolean := false;
    cls      uuid;
    fam      uuid;
    stu      uuid;
    extra    jsonb;
BEGIN
    IF tbl = 'schools' THEN
        school := (img->>'id')::uuid;
    ELSE
        school := (img->>'school_id')::uuid;
    END IF;
    rid := img->>'id';
    CASE tbl
    WHEN 'schools', 'academic_years', 'terms', 'attendance_codes', 'classes', 'fee_heads' THEN
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
        -- accounts, journal_entries: the office only.
        NULL;
    END CASE;
    IF extra IS NOT NULL THEN img := img || extra; END IF;
    INSERT INTO change_log AS c
        (school_id, entity, row_key, version, deleted, row, everyone, class_id, family_id, student_id)
    VALUES (school, tbl, rid, -txid_current(), is_deleted,
            CASE WHEN is_deleted THEN NULL ELSE img END, everyone, cls, fam, stu)
    ON CONFLICT (school_id, entity, row_key) DO UPDATE SET
        version = EXCLUDED.version, deleted = EXCLUDED.deleted, row = EXCLUDED.row,
        everyone = EXCLUDED.everyone, class_id = EXCLUDED.class_id,
        family_id = EXCLUDED.family_id, student_id = EXCLUDED.student_id;
    -- Count the rows this transaction logged, so the stamp at COMMIT runs once per batch.
    PERFORM set_config('daftar.l_' || replace(school::text, '-', ''),
        (coalesce(nullif(current_setting('daftar.l_' || replace(school::text, '-', ''), true), ''), '0')::bigint + 1)::text,
        true);
END $$;

-- At COMMIT (deferred), the first logged row of a transaction stamps all of the transaction's
-- rows with the school's next version. Later firings see (from transaction-local counters) that
-- nothing was logged since, and return at once; probing the index again would walk every row
-- version the stamp just replaced.
CREATE FUNCTION stamp_change_log() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    tag     text := replace(NEW.school_id::text, '-', '');
    logged  bigint := coalesce(nullif(current_setting('daftar.l_' || tag, true), ''), '0')::bigint;
    stamped bigint := coalesce(nullif(current_setting('daftar.s_' || tag, true), ''), '0')::bigint;
BEGIN
    IF logged > stamped OR logged = 0 THEN
        UPDATE change_log SET version = sync_version(NEW.school_id)
        WHERE school_id = NEW.school_id AND version = -txid_current();
        PERFORM set_config('daftar.s_' || tag, greatest(logged, 1)::text, true);
    END IF;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER stamp_version AFTER INSERT OR UPDATE ON change_log
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (NEW.version < 0) EXECUTE FUNCTION stamp_change_log();

CREATE FUNCTION log_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM log_row(TG_TABLE_NAME, true, to_jsonb(OLD));
    ELSE
        PERFORM log_row(TG_TABLE_NAME, false, to_jsonb(NEW));
    END IF;
    RETURN NULL;
END $$;

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['schools','academic_years','terms','attendance_codes','classes','fee_heads',
    'accounts','students','guardians','families','student_guardians','enrollments','class_teachers',
    'invoices','invoice_lines','allocations','payments','payment_reversals','discounts','fines',
    'refunds','suspense_resolutions','journal_entries','journal_lines','registers',
    'attendance_marks','receipt_series']
  LOOP
    EXECUTE format('CREATE TRIGGER log_change AFTER INSERT OR UPDATE OR DELETE ON %I
                    FOR EACH ROW EXECUTE FUNCTION log_change()', t);
    -- Rows written before sync existed enter the log at one version per school.
    EXECUTE format('SELECT count(log_row(%L, false, to_jsonb(t))) FROM %I t', t, t);
  END LOOP;
END $$;
