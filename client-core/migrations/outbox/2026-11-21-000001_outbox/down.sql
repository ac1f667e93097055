DROP TABLE device; DROP TABLE overlay; DROP TABLE ops;
