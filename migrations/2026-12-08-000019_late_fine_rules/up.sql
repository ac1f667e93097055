-- Late-fine rules (issue #17, "late-fine rules" among the admin pages): "an invoice with a line
-- unpaid more than `grace_days` days after its due date is fined `amount` (minor units), once".
-- A run of a rule fines every such invoice not yet fined by that rule, each with an ordinary
-- late fine (`fines`, Dr Receivable / Cr the Late Fine head's income), so running it again
-- fines only invoices that have fallen overdue since. Not synced: only the office's runs read
-- rules; the fines they make are synced like any other.
CREATE TABLE late_fine_rules (
    school_id   uuid NOT NULL REFERENCES schools (id),
    id          uuid NOT NULL,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    grace_days  integer NOT NULL CHECK (grace_days BETWEEN 0 AND 365),
    amount      bigint NOT NULL CHECK (amount > 0),
    active      boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (school_id, id),
    UNIQUE (school_id, name)
);

ALTER TABLE fines ADD COLUMN late_fine_rule_id uuid;
ALTER TABLE fines ADD FOREIGN KEY (school_id, late_fine_rule_id)
    REFERENCES late_fine_rules (school_id, id);
-- A rule fines an invoice once.
CREATE UNIQUE INDEX fines_once_per_rule ON fines (school_id, late_fine_rule_id, invoice_id)
    WHERE late_fine_rule_id IS NOT NULL;
