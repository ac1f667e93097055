DROP TABLE meta; DROP TABLE staging; DROP TABLE rows;
