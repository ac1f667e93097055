DROP TABLE device_activity;
