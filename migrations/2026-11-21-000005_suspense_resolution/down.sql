DROP TABLE suspense_resolutions;
