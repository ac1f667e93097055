-- Attendance (ARCHITECTURE.md §5).

-- How many days after a register's date a teacher may still change it (0 = the same day,
-- in the school's time zone). The office may always override, with a reason.
ALTER TABLE schools ADD COLUMN attendance_edit_window_days integer NOT NULL DEFAULT 0
    CHECK (attendance_edit_window_days BETWEEN 0 AND 365);

CREATE TABLE attendance_codes (
    school_id   uuid NOT NULL REFERENCES schools (id),
    id          uuid NOT NULL,
    code        text NOT NULL CHECK (code ~ '^[A-Za-z0-9]{1,4}$'),
    label       text NOT NULL CHECK (length(label) BETWEEN 1 AND 50),
    category    text NOT NULL CHECK (category IN ('present', 'absent', 'late', 'excused', 'half_day')),
    active      boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (school_id, id),
    UNIQUE (school_id, code)
);

-- One class on one date (period 0 = the whole day).
CREATE TABLE registers (
    school_id   uuid NOT NULL,
    id          uuid NOT NULL,
    class_id    uuid NOT NULL,
    on_date     date NOT NULL,
    period      smallint NOT NULL DEFAULT 0 CHECK (period BETWEEN 0 AND 20),
    taken_at    timestamptz,
    taken_by    uuid,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (school_id, id),
    UNIQUE (school_id, class_id, on_date, period),
    FOREIGN KEY (school_id, class_id) REFERENCES classes (school_id, id),
    FOREIGN KEY (school_id, taken_by) REFERENCES users (school_id, id)
);
CREATE INDEX registers_by_date ON registers (school_id, on_date);

-- The current mark of a student in a register: server-arrival last-writer-wins, except that an
-- office mark is not replaced by a teacher's.
CREATE TABLE attendance_marks (
    school_id   uuid NOT NULL,
    register_id uuid NOT NULL,
    student_id  uuid NOT NULL,
    code_id     uuid NOT NULL,
    source      text NOT NULL CHECK (source IN ('teacher', 'office')),
    reason      text,
    marked_by   uuid NOT NULL,
    device_id   uuid,
    marked_at   timestamptz NOT NULL,
    PRIMARY KEY (school_id, register_id, student_id),
    FOREIGN KEY (school_id, register_id) REFERENCES registers (school_id, id),
    FOREIGN KEY (school_id, student_id) REFERENCES students (school_id, id),
    FOREIGN KEY (school_id, code_id) REFERENCES attendance_codes (school_id, id),
    FOREIGN KEY (school_id, marked_by) REFERENCES users (school_id, id)
);
CREATE INDEX attendance_marks_by_student ON attendance_marks (school_id, student_id);

-- Every mark ever written, in arrival order.
CREATE TABLE attendance_mark_history (
    school_id   uuid NOT NULL,
    id          uuid NOT NULL,
    register_id uuid NOT NULL,
    student_id  uuid NOT NULL,
    code_id     uuid NOT NULL,
    source      text NOT NULL,
    reason      text,
    marked_by   uuid NOT NULL,
    device_id   uuid,
    marked_at   timestamptz NOT NULL,
    PRIMARY KEY (school_id, id),
    FOREIGN KEY (school_id, register_id) REFERENCES registers (school_id, id),
    FOREIGN KEY (school_id, student_id) REFERENCES students (school_id, id),
    FOREIGN KEY (school_id, code_id) REFERENCES attendance_codes (school_id, id)
);
CREATE INDEX attendance_mark_history_by_mark ON attendance_mark_history (school_id, register_id, student_id);

-- Durable outbox of guardian notifications (absences). A provider (log by default; SMS or
-- WhatsApp gateways later) delivers pending rows and marks them sent.
CREATE TABLE guardian_notifications (
    school_id   uuid NOT NULL,
    id          uuid NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('absence')),
    register_id uuid NOT NULL,
    student_id  uuid NOT NULL,
    guardian_id uuid NOT NULL,
    phone       text,
    message     text NOT NULL,
    status      text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed', 'cancelled')),
    attempts    integer NOT NULL DEFAULT 0,
    last_error  text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    sent_at     timestamptz,
    PRIMARY KEY (school_id, id),
    UNIQUE (school_id, kind, register_id, student_id, guardian_id),
    FOREIGN KEY (school_id, register_id) REFERENCES registers (school_id, id),
    FOREIGN KEY (school_id, student_id) REFERENCES students (school_id, id),
    FOREIGN KEY (school_id, guardian_id) REFERENCES guardians (school_id, id)
);
CREATE INDEX guardian_notifications_pending ON guardian_notifications (status, created_at) WHERE status = 'pending';
