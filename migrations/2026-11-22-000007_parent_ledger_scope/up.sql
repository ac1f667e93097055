-- ARCHITECTURE.md §6: a parent's phone computes its family's dues offline with the same rule as the
-- server (client-core `ledger::family_dues`). For that a parent device needs two kinds of rows
-- that `000006_sync` kept for the office only:
--   * `accounts` — the chart of accounts (names and system keys, no amounts), so the phone can
--     find the Family Credit account among its family's journal lines;
--   * journal entries that reverse another entry — so an allocation whose payment bounced stops
--     counting. Such an entry is scoped to the family of the entry it reverses (taken from that
--     entry's journal lines, which committed earlier); other families' phones never see it.
-- The log function of 000006 stays as it was (renamed); this one calls it and then widens the
-- scope of those two kinds of rows.

ALTER FUNCTION log_row(text, boolean, jsonb) RENAME TO log_row_base;

CREATE FUNCTION log_row(tbl text, is_deleted boolean, image jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    school uuid := (image->>'school_id')::uuid;
BEGIN
    PERFORM log_row_base(tbl, is_deleted, image);
    IF tbl = 'accounts' THEN
        UPDATE change_log SET everyone = true
         WHERE school_id = school AND entity = 'accounts' AND row_key = image->>'id';
    ELSIF tbl = 'journal_entries' AND image->>'reverses_entry_id' IS NOT NULL THEN
        UPDATE change_log SET family_id = (
                SELECT l.family_id FROM journal_lines l
                 WHERE l.school_id = school
                   AND l.entry_id = (image->>'reverses_entry_id')::uuid
                   AND l.family_id IS NOT NULL
                 LIMIT 1)
         WHERE school_id = school AND entity = 'journal_entries' AND row_key = image->>'id';
    END IF;
END $$;

-- Rows logged before this migration get their wider scope (and a new version, so devices
-- already in sync pull them).
SELECT count(log_row('accounts', false, to_jsonb(a))) FROM accounts a;
SELECT count(log_row('journal_entries', false, to_jsonb(e)))
  FROM journal_entries e WHERE e.reverses_entry_id IS NOT NULL;
