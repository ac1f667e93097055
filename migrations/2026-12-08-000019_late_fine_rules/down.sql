DROP INDEX fines_once_per_rule;
ALTER TABLE fines DROP COLUMN late_fine_rule_id;
DROP TABLE late_fine_rules;
