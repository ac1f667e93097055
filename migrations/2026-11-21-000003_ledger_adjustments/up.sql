-- Discounts, fines, refunds and payment reversals (ARCHITECTURE.md §4). Each is a journal entry; these
-- tables keep who, why, and the client-generated idempotency key (`id` + `request_hash`).

-- A discount, waiver or scholarship on one invoice line. Posted Dr Discounts & Waivers /
-- Cr Receivable, and recorded as an allocation of its entry to the line, so the line's
-- outstanding amount falls and a reversal of the entry would re-open it.
CREATE TABLE discounts (
    school_id         uuid NOT NULL,
    id                uuid NOT NULL,
    invoice_line_id   uuid NOT NULL,
    kind              text NOT NULL CHECK (kind IN ('discount', 'waiver', 'scholarship')),
    percent_bp        integer CHECK (percent_bp BETWEEN 1 AND 10000),
    amount            bigint NOT NULL CHECK (amount > 0),
    reason            text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
    approved_by       uuid NOT NULL,
    journal_entry_id  uuid NOT NULL,
    request_hash      bytea NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (school_id, id),
    FOREIGN KEY (school_id, invoice_line_id) REFERENCES invoice_lines (school_id, id),
    FOREIGN KEY (school_id, approved_by) REFERENCES users (school_id, id),
    FOREIGN KEY (school_id, journal_entry_id) REFERENCES journal_entries (school_id, id)
);

-- A late fine: a new line on an overdue invoice (Dr Receivable / Cr the fine head's income).
CREATE TABLE fines (
    school_id         uuid NOT NULL,
    id                uuid NOT NULL,
    invoice_id        uuid NOT NULL,
    invoice_line_id   uuid NOT NULL,
    amount            bigint NOT NULL CHECK (amount > 0),
    reason            text NOT NULL,
    journal_entry_id  uuid NOT NULL,
    request_hash      bytea NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (school_id, id),
    UNIQUE (school_id, invoice_line_id),
    FOREIGN KEY (school_id, invoice_id) REFERENCES invoices (school_id, id),
    FOREIGN KEY (school_id, invoice_line_id) REFERENCES invoice_lines (school_id, id),
    FOREIGN KEY (school_id, journal_entry_id) REFERENCES journal_entries (school_id, id)
);

-- Money paid back to a family out of its Family Credit (Dr Family Credit / Cr Cash or Bank).
CREATE TABLE refunds (
    school_id         uuid NOT NULL,
    id                uuid NOT NULL,
    family_id         uuid NOT NULL,
    amount            bigint NOT NULL CHECK (amount > 0),
    method            text NOT NULL CHECK (method IN ('cash', 'bank_transfer', 'cheque', 'card', 'mobile_money')),
    reason            text NOT NULL,
    journal_entry_id  uuid NOT NULL,
    request_hash      bytea NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (school_id, id),
    FOREIGN KEY (school_id, family_id) REFERENCES families (school_id, id),
    FOREIGN KEY (school_id, journal_entry_id) REFERENCES journal_entries (school_id, id)
);

-- A payment undone (bounced cheque, failed transfer): its entry is reversed line for line, so
-- its allocations stop counting and exactly the lines it cleared re-open. At most one per
-- payment.
CREATE TABLE payment_reversals (
    school_id         uuid NOT NULL,
    payment_id        uuid NOT NULL,
    reason            text NOT NULL,
    journal_entry_id  uuid NOT NULL,
    reversed_by       uuid,
    created_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (school_id, payment_id),
    FOREIGN KEY (school_id, payment_id) REFERENCES payments (school_id, id),
    FOREIGN KEY (school_id, journal_entry_id) REFERENCES journal_entries (school_id, id),
    FOREIGN KEY (school_id, reversed_by) REFERENCES users (school_id, id)
);
