-- Back to one role a user: the most privileged one it holds.
ALTER TABLE users ADD COLUMN role text CHECK (role IN ('admin', 'accountant', 'teacher', 'parent'));
UPDATE users u SET role = (
    SELECT r.role FROM user_roles r
    WHERE r.school_id = u.school_id AND r.user_id = u.id
    ORDER BY array_position(ARRAY['admin', 'accountant', 'teacher', 'parent'], r.role)
    LIMIT 1);
UPDATE users SET role = 'parent' WHERE role IS NULL;
ALTER TABLE users ALTER COLUMN role SET NOT NULL;
DROP INDEX users_by_sourced_id;
ALTER TABLE users ADD UNIQUE (school_id, sourced_id, role);
DROP TABLE user_roles;
