DROP TABLE admission_import_mappings;
