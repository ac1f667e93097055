-- Back to the per-school version row. The live functions of the older design are in
-- migration 000012's history; re-apply them from that commit's `server/sql/functions.sql`.
CREATE TABLE sync_versions (
    school_id   uuid PRIMARY KEY REFERENCES schools (id),
    version     bigint NOT NULL
);
INSERT INTO sync_versions (school_id, version)
SELECT school_id, max(version) FROM change_log GROUP BY school_id;
