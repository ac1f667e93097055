DROP TABLE audit_log, refresh_tokens, devices, enrollments, student_guardians, guardians,
    students, families, class_teachers, classes, terms, academic_years, users, campuses, schools;
DROP FUNCTION audit_log_is_append_only();
