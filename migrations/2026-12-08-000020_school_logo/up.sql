-- The school's logo for receipts (issue #17, "school settings (name, address, logo for
-- receipts, …)"). The image is kept apart from the `schools` row, which is synced to every
-- device: a device learns that the logo changed from `schools.logo_updated_at` and fetches it
-- once (`GET /api/v1/school/logo`). PNG or JPEG, at most 256 KiB.
CREATE TABLE school_logos (
    school_id     uuid NOT NULL PRIMARY KEY REFERENCES schools (id),
    content_type  text NOT NULL CHECK (content_type IN ('image/png', 'image/jpeg')),
    image         bytea NOT NULL CHECK (octet_length(image) BETWEEN 1 AND 262144),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE schools ADD COLUMN logo_updated_at timestamptz;
