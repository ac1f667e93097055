DROP INDEX overlay_by_entity; ALTER TABLE ops DROP COLUMN wedged;
