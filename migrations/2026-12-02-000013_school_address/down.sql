ALTER TABLE schools DROP COLUMN address;
