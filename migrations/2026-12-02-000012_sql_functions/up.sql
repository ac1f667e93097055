-- The live trigger functions now have one source, `server/sql/functions.sql`, which
-- `db::run_migrations` applies after the migrations whenever it changed. This table remembers
-- the SHA-256 of the file as last applied (one row). Like `schools`, it is not a tenant table.
CREATE TABLE sql_functions (
    sha256      bytea PRIMARY KEY CHECK (length(sha256) = 32),
    applied_at  timestamptz NOT NULL DEFAULT now()
);
