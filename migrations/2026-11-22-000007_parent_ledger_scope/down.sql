DROP FUNCTION log_row(text, boolean, jsonb);
ALTER FUNCTION log_row_base(text, boolean, jsonb) RENAME TO log_row;
