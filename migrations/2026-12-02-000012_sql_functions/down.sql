DROP TABLE sql_functions;
