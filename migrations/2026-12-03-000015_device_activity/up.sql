-- What the devices page shows of each enrolled device (issue #17, "Devices"): when it last
-- called, pulled and pushed, and how many edits it said were still queued on it. Kept out of
-- `devices`, whose rows change only by enrolment and revocation (and are audited): every pull
-- and push rewrites this row. Not synced, not audited.
CREATE TABLE device_activity (
    school_id     uuid NOT NULL,
    device_id     uuid NOT NULL,
    last_seen_at  timestamptz NOT NULL,
    last_pull_at  timestamptz,
    last_push_at  timestamptz,
    -- Edits still queued on the device, as it reported them on its last pull.
    queued_ops    integer CONSTRAINT device_activity_queued_ops_not_negative CHECK (queued_ops >= 0),
    PRIMARY KEY (school_id, device_id),
    FOREIGN KEY (school_id, device_id) REFERENCES devices (school_id, id)
);
