-- Spreadsheet admissions (issue #17, "Spreadsheet admissions"): the column mapping a school
-- chose for its files (field key → header text), remembered so the next file of the same
-- shape is read without asking again. Not synced: only the import reads it.
CREATE TABLE admission_import_mappings (
    school_id   uuid NOT NULL PRIMARY KEY REFERENCES schools (id),
    headers     jsonb NOT NULL CHECK (jsonb_typeof(headers) = 'object'),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
