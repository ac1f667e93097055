-- The change log's versions become transaction ids, and the per-school version lock goes
-- (issue #16; ARCHITECTURE.md §6; the argument in `server::sync::feed`).
--
-- Until now every writing transaction of a school took the school's next version from its
-- `sync_versions` row at COMMIT and held that row until the commit completed, so one school's
-- writers committed one at a time. Now a logged row carries its transaction's id (`xid8`) as
-- its version, written once when the row is logged (no placeholder stamped at COMMIT), and a
-- pull reads up to a watermark below every transaction that could still log a row of the
-- school (`sync_watermark`).
--
-- The rows already in the log keep their versions: each was taken by a commit of this
-- cluster, so every one is below the id of any transaction from now on, and devices' cursors
-- stay valid. (A database restored into a new cluster, where ids start again, is put right at
-- start-up by `server::db::rebase_change_log_if_restored`.)
DROP TRIGGER stamp_version ON change_log;
DROP FUNCTION stamp_change_log();
DROP FUNCTION sync_version(uuid);
DROP FUNCTION log_version(uuid);
DROP TABLE sync_versions;
