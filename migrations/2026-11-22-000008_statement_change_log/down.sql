DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['journal_entries','journal_lines','allocations','payments','registers',
    'attendance_marks']
  LOOP
    EXECUTE format('DROP TRIGGER log_change_delete ON %I', t);
    EXECUTE format('DROP TRIGGER log_change_insert ON %I', t);
    EXECUTE format('DROP TRIGGER log_change_update ON %I', t);
    EXECUTE format('CREATE TRIGGER log_change AFTER INSERT OR UPDATE OR DELETE ON %I
                    FOR EACH ROW EXECUTE FUNCTION log_change()', t);
  END LOOP;
END $$;
DROP FUNCTION log_change_rows();
DROP FUNCTION log_version(uuid);
ALTER TABLE change_log ADD CONSTRAINT change_log_school_id_fkey FOREIGN KEY (school_id) REFERENCES schools (id);
