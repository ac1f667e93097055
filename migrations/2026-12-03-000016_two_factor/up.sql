-- Two-factor login (issue #17, "Two-factor login"): a TOTP secret per user (RFC 6238), opt-in;
-- confirmed once the user has typed a code from it. `last_used_step` is the 30-second step of
-- the last code accepted, so a code is never accepted twice. The secret must be readable to
-- check codes, so it is stored as is: this table is never synced, logged or audited.
CREATE TABLE user_two_factor (
    school_id       uuid NOT NULL,
    user_id         uuid NOT NULL,
    secret          bytea NOT NULL,
    confirmed_at    timestamptz,
    last_used_step  bigint,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (school_id, user_id),
    FOREIGN KEY (school_id, user_id) REFERENCES users (school_id, id) ON DELETE CASCADE
);

-- Ten one-time recovery codes per confirmed enrolment, stored as SHA-256 of the code (they
-- are 50 random bits each, so a slow hash adds nothing); `used_at` once spent.
CREATE TABLE user_recovery_codes (
    school_id   uuid NOT NULL,
    user_id     uuid NOT NULL,
    code_hash   bytea NOT NULL,
    used_at     timestamptz,
    PRIMARY KEY (school_id, user_id, code_hash),
    FOREIGN KEY (school_id, user_id) REFERENCES users (school_id, id) ON DELETE CASCADE
);

-- Per school: when `required`, every admin and accountant must have two-factor login; until
-- they do, their logins are good only for turning it on (403 `two_factor_setup_required`).
CREATE TABLE school_two_factor_policy (
    school_id   uuid NOT NULL PRIMARY KEY REFERENCES schools (id),
    required    boolean NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
