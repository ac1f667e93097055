ALTER TABLE schools DROP COLUMN max_amount;
DROP TABLE login_throttles;
