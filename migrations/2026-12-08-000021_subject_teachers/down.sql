ALTER TABLE class_teachers DROP COLUMN subject;
