-- Roster, auth and audit schema (ARCHITECTURE.md §3, §7).
-- Tenant rule: every tenant table carries school_id, its primary key and every unique
-- constraint start with school_id, and foreign keys between tenant tables include it.
-- The test `tenant_tables_follow_the_distribution_rules` reads the catalog and enforces this.

CREATE TABLE schools (
    id          uuid PRIMARY KEY,
    slug        text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    currency    char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    timezone    text NOT NULL,
    sourced_id  text UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE campuses (
    school_id   uuid NOT NULL REFERENCES schools (id),
    id          uuid NOT NULL,
    name        text NOT NULL,
    sourced_id  text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (school_id, id),
    UNIQUE (school_id, sourced_id)
);

CREATE TABLE users (
    school_id       uuid NOT NULL REFERENCES schools (id),
    id              uuid NOT NULL,
    username        text NOT NULL CHECK (username ~ '^[A-Za-z0-9._@+-]{1,100}$'),
    display_name    text NOT NULL,
    role            text NOT NULL CHECK (role IN ('admin', 'accountant', 'teacher', 'parent')),
    email           text,
    phone           text,
    password_hash   text,
    active          boolean NOT NULL DEFAULT true,
    failed_logins   integer NOT NULL DEFAULT 0,
    locked_until    timestamptz,
    sourced_id      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (school_id, id),
    UNIQUE (school_id, username),
    UNIQUE (school_id, sourced_id, role)
);

CREATE TABLE academic_years (
    school_id   uuid NOT NULL REFERENCES schools (id),
    id          uuid NOT NULL,
    name        text NOT NULL,
    starts_on   date NOT NULL,
    ends_on     date NOT NULL,
    sourced_id  text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (school_id, id),
    UNIQUE (school_id, name),
    UNIQUE (school_id, sourced_id),
    CHECK (starts_on <= ends_on)
);

CREATE TABLE terms (
    school_id         uuid NOT NULL,
    id                uuid NOT NULL,
    academic_year_id  uuid NOT NULL,
    name              text NOT NULL,
    starts_on         date NOT NULL,
    ends_on           date NOT NULL,
    active            boolean NOT NULL DEFAULT true,
    sourced_id        text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (school_id, id),
    UNIQUE (school_id, sourced_id),
    FOREIGN KEY (school_id, academic_year_id) REFERENCES academic_years (school_id, id),
    CHECK (starts_on <= ends_on)
);

CREATE TABLE classes (
    school_id           uuid NOT NULL,
    id                  uuid NOT NULL,
    academic_year_id    uuid NOT NULL,
    term_id             uuid,
    campus_id           uuid,
    name                text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    grade               text NOT NULL DEFAULT '',
    section             text NOT NULL DEFAULT '',
    code                text,
    homeroom_teacher_id uuid,
    active              boolean NOT NULL DEFAULT true,
    sourced_id          text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (school_id, id),
    UNIQUE (school_id, sourced_id),
    FOREIGN KEY (school_id, academic_year_id) REFERENCES academic_years (school_id, id),
    FOREIGN KEY (school_id, term_id) REFERENCES terms (school_id, id),
    FOREIGN KEY (school_id, campus_id) REFERENCES campuses (school_id, id),
    FOREIGN KEY (school_id, homeroom_teacher_id) REFERENCES users (school_id, id)
);

CREATE TABLE class_teachers (
    school_id   uuid NOT NULL,
    class_id    uuid NOT NULL,
    teacher_id  uuid NOT NULL,
    is_primary  boolean NOT NULL DEFAULT false,
    sourced_id  text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (school_id, class_id, teacher_id),
    UNIQUE (school_id, sourced_id),
    FOREIGN KEY (school_id, class_id) REFERENCES classes (school_id, id) ON DELETE CASCADE,
    FOREIGN KEY (school_id, teacher_id) REFERENCES users (school_id, id)
);
CREATE INDEX class_teachers_by_teacher ON class_teachers (school_id, teacher_id);

CREATE TABLE families (
    school_id   uuid NOT NULL REFERENCES schools (id),
    id          uuid NOT NULL,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    active      boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (school_id, id)
);

CREATE TABLE students (
    school_id       uuid NOT NULL,
    id              uuid NOT NULL,
    family_id       uuid NOT NULL,
    admission_no    text NOT NULL CHECK (length(admission_no) BETWEEN 1 AND 50),
    given_name      text NOT NULL CHECK (length(given_name) BETWEEN 1 AND 100),
    family_name     text NOT NULL CHECK (length(family_name) BETWEEN 1 AND 100),
    date_of_birth   date,
    gender          text,
    grade           text NOT NULL DEFAULT '',
    email           text,
    active          boolean NOT NULL DEFAULT true,
    sourced_id      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (school_id, id),
    UNIQUE (school_id, admission_no),
    UNIQUE (school_id, sourced_id),
    FOREIGN KEY (school_id, family_id) REFERENCES families (school_id, id)
);
CREATE INDEX students_by_family ON students (school_id, family_id);
CREATE INDEX students_by_name ON students (school_id, lower(family_name), lower(given_name));

CREATE TABLE guardians (
    school_id       uuid NOT NULL,
    id              uuid NOT NULL,
    family_id       uuid NOT NULL,
    user_id         uuid,
    given_name      text NOT NULL CHECK (length(given_name) BETWEEN 1 AND 100),
    family_name     text NOT NULL CHECK (length(family_name) BETWEEN 1 AND 100),
    relationship    text NOT NULL DEFAULT 'guardian',
    phone           text,
    email           text,
    active          boolean NOT NULL DEFAULT true,
    sourced_id      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (school_id, id),
    UNIQUE (school_id, sourced_id),
    FOREIGN KEY (school_id, family_id) REFERENCES families (school_id, id),
    FOREIGN KEY (school_id, user_id) REFERENCES users (school_id, id)
);
CREATE INDEX guardians_by_family ON guardians (school_id, family_id);
CREATE INDEX guardians_by_user ON guardians (school_id, user_id);

-- Which students a guardian is responsible for (OneRoster agentSourcedIds); the family is the
-- billing account, this is the person-to-person link.
CREATE TABLE student_guardians (
    school_id   uuid NOT NULL,
    student_id  uuid NOT NULL,
    guardian_id uuid NOT NULL,
    PRIMARY KEY (school_id, student_id, guardian_id),
    FOREIGN KEY (school_id, student_id) REFERENCES students (school_id, id) ON DELETE CASCADE,
    FOREIGN KEY (school_id, guardian_id) REFERENCES guardians (school_id, id) ON DELETE CASCADE
);

CREATE TABLE enrollments (
    school_id   uuid NOT NULL,
    id          uuid NOT NULL,
    class_id    uuid NOT NULL,
    student_id  uuid NOT NULL,
    starts_on   date,
    ends_on     date,
    active      boolean NOT NULL DEFAULT true,
    sourced_id  text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (school_id, id),
    UNIQUE (school_id, class_id, student_id),
    UNIQUE (school_id, sourced_id),
    FOREIGN KEY (school_id, class_id) REFERENCES classes (school_id, id),
    FOREIGN KEY (school_id, student_id) REFERENCES students (school_id, id),
    CHECK (ends_on IS NULL OR starts_on IS NULL OR starts_on <= ends_on)
);
CREATE INDEX enrollments_by_student ON enrollments (school_id, student_id);

CREATE TABLE devices (
    school_id       uuid NOT NULL,
    id              uuid NOT NULL,
    user_id         uuid NOT NULL,
    name            text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('office', 'teacher', 'parent')),
    receipt_series  text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    revoked_at      timestamptz,
    PRIMARY KEY (school_id, id),
    UNIQUE (school_id, receipt_series),
    FOREIGN KEY (school_id, user_id) REFERENCES users (school_id, id)
);

-- Rotating refresh tokens (RFC 6819 §5.2.2.3): only the SHA-256 of the secret is stored; every
-- refresh rotates within one family, and presenting a rotated token revokes the whole family.
CREATE TABLE refresh_tokens (
    school_id   uuid NOT NULL,
    id          uuid NOT NULL,
    family_id   uuid NOT NULL,
    user_id     uuid NOT NULL,
    device_id   uuid,
    token_hash  bytea NOT NULL,
    issued_at   timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    rotated_at  timestamptz,
    revoked_at  timestamptz,
    PRIMARY KEY (school_id, id),
    UNIQUE (school_id, token_hash),
    FOREIGN KEY (school_id, user_id) REFERENCES users (school_id, id) ON DELETE CASCADE
);
CREATE INDEX refresh_tokens_by_family ON refresh_tokens (school_id, family_id);

-- Append-only record of every mutation (ARCHITECTURE.md §7).
CREATE TABLE audit_log (
    school_id   uuid NOT NULL REFERENCES schools (id),
    id          uuid NOT NULL,
    actor_id    uuid,
    device_id   uuid,
    action      text NOT NULL,
    entity      text NOT NULL,
    entity_id   text NOT NULL,
    before      jsonb,
    after       jsonb,
    at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (school_id, id)
);
CREATE INDEX audit_log_by_entity ON audit_log (school_id, entity, entity_id);

CREATE FUNCTION audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_is_append_only();
