-- Subject teachers (issue #17, "classes and sections with homeroom and subject teachers"): what
-- a teacher assigned to a class teaches there (`Mathematics`, `Urdu and Islamiat`); empty for a
-- class teacher without one subject. Synced with the assignment.
ALTER TABLE class_teachers ADD COLUMN subject text
    CHECK (subject IS NULL OR length(subject) BETWEEN 1 AND 100);
