-- Users with several roles (issue #17, "Users with several roles"): an admin who also teaches,
-- an accountant who is also a parent. The one `users.role` column becomes a relation; what a
-- user may do and see is the union of its roles (ARCHITECTURE.md §7). Every existing user keeps
-- the role it had. Not synced: no device is sent logins.
CREATE TABLE user_roles (
    school_id   uuid NOT NULL,
    user_id     uuid NOT NULL,
    role        text NOT NULL CHECK (role IN ('admin', 'accountant', 'teacher', 'parent')),
    granted_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (school_id, user_id, role),
    FOREIGN KEY (school_id, user_id) REFERENCES users (school_id, id) ON DELETE CASCADE
);

INSERT INTO user_roles (school_id, user_id, role)
SELECT school_id, id, role FROM users;

-- Dropping the column drops UNIQUE (school_id, sourced_id, role) with it; the OneRoster import
-- still finds a login by its sourcedId (and role), so keep an index on the sourcedId.
ALTER TABLE users DROP COLUMN role;
CREATE INDEX users_by_sourced_id ON users (school_id, sourced_id);
