-- An op the server keeps failing transiently (a bug, not the network) is flagged `wedged` by
-- the watchdog after repeated attempts, so a person sees it; it is still retried.
ALTER TABLE ops ADD COLUMN wedged INTEGER NOT NULL DEFAULT 0;
CREATE INDEX overlay_by_entity ON overlay (entity, id);
