DROP TABLE school_two_factor_policy;
DROP TABLE user_recovery_codes;
DROP TABLE user_two_factor;
