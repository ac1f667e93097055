DROP TRIGGER IF EXISTS lock_version_first ON families;
DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['schools','academic_years','terms','attendance_codes','classes','fee_heads',
    'accounts','students','guardians','families','student_guardians','enrollments','class_teachers',
    'invoices','invoice_lines','allocations','payments','payment_reversals','discounts','fines',
    'refunds','suspense_resolutions','journal_entries','journal_lines','registers',
    'attendance_marks','receipt_series']
  LOOP
    EXECUTE format('DROP TRIGGER IF EXISTS log_change ON %I', t);
  END LOOP;
END $$;
DROP TRIGGER IF EXISTS stamp_version ON change_log;
DROP FUNCTION IF EXISTS stamp_change_log();
DROP FUNCTION IF EXISTS log_change();
DROP FUNCTION IF EXISTS log_row(text, boolean, jsonb);
DROP FUNCTION IF EXISTS sync_version(uuid);
DROP TABLE sync_conflicts;
DROP TABLE applied_ops;
DROP TABLE sync_clients;
DROP TABLE change_log;
DROP TABLE sync_versions;
