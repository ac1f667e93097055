DROP TABLE guardian_notifications, attendance_mark_history, attendance_marks, registers, attendance_codes;
ALTER TABLE schools DROP COLUMN attendance_edit_window_days;
