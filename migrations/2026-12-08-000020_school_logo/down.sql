ALTER TABLE schools DROP COLUMN logo_updated_at;
DROP TABLE school_logos;
