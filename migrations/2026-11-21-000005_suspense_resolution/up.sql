-- Resolving cash held in Suspense (ARCHITECTURE.md §4): the office names the family, and the money
-- moves Dr Suspense / Cr Receivable (allocated) + Cr Family Credit (excess) in one entry.
CREATE TABLE suspense_resolutions (
    school_id         uuid NOT NULL,
    payment_id        uuid NOT NULL,
    family_id         uuid NOT NULL,
    journal_entry_id  uuid NOT NULL,
    resolved_by       uuid,
    created_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (school_id, payment_id),
    FOREIGN KEY (school_id, payment_id) REFERENCES payments (school_id, id),
    FOREIGN KEY (school_id, family_id) REFERENCES families (school_id, id),
    FOREIGN KEY (school_id, journal_entry_id) REFERENCES journal_entries (school_id, id),
    FOREIGN KEY (school_id, resolved_by) REFERENCES users (school_id, id)
);
