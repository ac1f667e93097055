-- Double-entry fee ledger (ARCHITECTURE.md §4).
-- Amounts are bigint minor units of the school's currency. A journal line's amount is signed:
-- positive = debit, negative = credit; every entry's lines sum to zero (enforced below).

-- Per-school gapless counters (entry numbers, invoice numbers). Taken with
-- UPDATE … RETURNING inside the writing transaction, so a rollback returns the number.
CREATE TABLE school_counters (
    school_id   uuid NOT NULL REFERENCES schools (id),
    name        text NOT NULL,
    value       bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (school_id, name)
);

CREATE TABLE accounts (
    school_id   uuid NOT NULL REFERENCES schools (id),
    id          uuid NOT NULL,
    code        text NOT NULL CHECK (code ~ '^[0-9A-Za-z.-]{1,20}$'),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    kind        text NOT NULL CHECK (kind IN ('asset', 'liability', 'equity', 'income', 'contra_income', 'expense')),
    -- Accounts the system posts to: cash, bank, receivable, family_credit, discounts,
    -- suspense, expenses, fee_income (the default income account).
    system_key  text,
    active      boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (school_id, id),
    UNIQUE (school_id, code),
    UNIQUE (school_id, system_key)
);

-- Journal entry numbers: unique and increasing in posting order, not gapless (gapless
-- numbering is for receipts, per device series). A sequence, so concurrent postings never queue
-- on one counter row.
CREATE SEQUENCE journal_entry_no_seq;

CREATE TABLE journal_entries (
    school_id         uuid NOT NULL REFERENCES schools (id),
    id                uuid NOT NULL,
    entry_no          bigint NOT NULL,
    kind              text NOT NULL CHECK (kind IN ('invoice', 'payment', 'credit_application', 'discount', 'fine', 'refund', 'reversal', 'adjustment')),
    occurred_on       date NOT NULL,
    memo              text NOT NULL DEFAULT '',
    reverses_entry_id uuid,
    posted_by         uuid,
    device_id         uuid,
    posted_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (school_id, id),
    UNIQUE (school_id, entry_no),
    UNIQUE (school_id, reverses_entry_id),
    FOREIGN KEY (school_id, reverses_entry_id) REFERENCES journal_entries (school_id, id),
    FOREIGN KEY (school_id, posted_by) REFERENCES users (school_id, id)
);

CREATE TABLE journal_lines (
    school_id   uuid NOT NULL,
    id          uuid NOT NULL,
    entry_id    uuid NOT NULL,
    line_no     integer NOT NULL CHECK (line_no >= 1),
    account_id  uuid NOT NULL,
    amount      bigint NOT NULL CHECK (amount <> 0),
    family_id   uuid,
    student_id  uuid,
    PRIMARY KEY (school_id, id),
    UNIQUE (school_id, entry_id, line_no),
    FOREIGN KEY (school_id, entry_id) REFERENCES journal_entries (school_id, id),
    FOREIGN KEY (school_id, account_id) REFERENCES accounts (school_id, id),
    FOREIGN KEY (school_id, family_id) REFERENCES families (school_id, id),
    FOREIGN KEY (school_id, student_id) REFERENCES students (school_id, id)
);
CREATE INDEX journal_lines_by_account_family ON journal_lines (school_id, account_id, family_id);
CREATE INDEX journal_lines_by_entry ON journal_lines (entry_id);
CREATE INDEX journal_lines_by_family ON journal_lines (school_id, family_id);

-- Balance: checked at COMMIT for every entry that received lines (and every new entry).
CREATE FUNCTION journal_entry_must_balance() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    eid uuid;
    total numeric;
    n integer;
BEGIN
    IF TG_TABLE_NAME = 'journal_entries' THEN
        eid := NEW.id;
    ELSE
        eid := NEW.entry_id;
    END IF;
    -- Looked up by entry_id alone (a UUIDv7, unique on its own) through its own index: with a
    -- school_id equality the planner may pick the primary key when a new school's statistics are
    -- stale, and scan every line of the school for every row.
    SELECT coalesce(sum(amount), 0), count(*) INTO total, n
    FROM journal_lines WHERE entry_id = eid AND school_id IS NOT DISTINCT FROM NEW.school_id;
    IF n < 2 OR total <> 0 THEN
        RAISE EXCEPTION 'journal entry % is not balanced: % lines summing to %', eid, n, total
            USING ERRCODE = 'check_violation', CONSTRAINT = 'journal_entry_balanced';
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER journal_lines_balanced AFTER INSERT ON journal_lines
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION journal_entry_must_balance();
CREATE CONSTRAINT TRIGGER journal_entries_balanced AFTER INSERT ON journal_entries
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION journal_entry_must_balance();

-- Posted entries are immutable: corrections are reversing entries.
CREATE FUNCTION ledger_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: post a reversing entry instead', TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER journal_entries_append_only BEFORE UPDATE OR DELETE ON journal_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_is_append_only();
CREATE TRIGGER journal_lines_append_only BEFORE UPDATE OR DELETE ON journal_lines
    FOR EACH ROW EXECUTE FUNCTION ledger_is_append_only();

CREATE TABLE fee_heads (
    school_id         uuid NOT NULL REFERENCES schools (id),
    id                uuid NOT NULL,
    name              text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    income_account_id uuid NOT NULL,
    active            boolean NOT NULL DEFAULT true,
    created_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (school_id, id),
    UNIQUE (school_id, name),
    FOREIGN KEY (school_id, income_account_id) REFERENCES accounts (school_id, id)
);

-- What a class pays for a fee head in a term, and when it is due.
CREATE TABLE fee_schedules (
    school_id   uuid NOT NULL,
    id          uuid NOT NULL,
    term_id     uuid NOT NULL,
    class_id    uuid NOT NULL,
    fee_head_id uuid NOT NULL,
    amount      bigint NOT NULL CHECK (amount > 0),
    due_on      date NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (school_id, id),
    UNIQUE (school_id, term_id, class_id, fee_head_id),
    FOREIGN KEY (school_id, term_id) REFERENCES terms (school_id, id),
    FOREIGN KEY (school_id, class_id) REFERENCES classes (school_id, id),
    FOREIGN KEY (school_id, fee_head_id) REFERENCES fee_heads (school_id, id)
);

-- One invoice per student per term; frozen once issued (changes are adjustments).
CREATE TABLE invoices (
    school_id         uuid NOT NULL,
    id                uuid NOT NULL,
    invoice_no        bigint NOT NULL,
    family_id         uuid NOT NULL,
    student_id        uuid NOT NULL,
    term_id           uuid NOT NULL,
    issued_on         date NOT NULL,
    journal_entry_id  uuid NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (school_id, id),
    UNIQUE (school_id, invoice_no),
    UNIQUE (school_id, student_id, term_id),
    FOREIGN KEY (school_id, family_id) REFERENCES families (school_id, id),
    FOREIGN KEY (school_id, student_id) REFERENCES students (school_id, id),
    FOREIGN KEY (school_id, term_id) REFERENCES terms (school_id, id),
    FOREIGN KEY (school_id, journal_entry_id) REFERENCES journal_entries (school_id, id)
);
CREATE INDEX invoices_by_family ON invoices (school_id, family_id);

CREATE TABLE invoice_lines (
    school_id   uuid NOT NULL,
    id          uuid NOT NULL,
    invoice_id  uuid NOT NULL,
    line_no     integer NOT NULL CHECK (line_no >= 1),
    fee_head_id uuid NOT NULL,
    description text NOT NULL,
    amount      bigint NOT NULL CHECK (amount > 0),
    due_on      date NOT NULL,
    PRIMARY KEY (school_id, id),
    UNIQUE (school_id, invoice_id, line_no),
    FOREIGN KEY (school_id, invoice_id) REFERENCES invoices (school_id, id),
    FOREIGN KEY (school_id, fee_head_id) REFERENCES fee_heads (school_id, id)
);

-- Gapless receipt numbers per series (each device gets its own series at registration; the
-- server's own series is 'S').
CREATE TABLE receipt_series (
    school_id   uuid NOT NULL REFERENCES schools (id),
    series      text NOT NULL CHECK (series ~ '^[A-Z0-9]{1,8}$'),
    next_no     bigint NOT NULL DEFAULT 1 CHECK (next_no >= 1),
    PRIMARY KEY (school_id, series)
);

-- A payment by a family (never by a student). `id` is the client-generated idempotency key;
-- `request_hash` detects the same key reused with a different body.
CREATE TABLE payments (
    school_id         uuid NOT NULL,
    id                uuid NOT NULL,
    family_id         uuid,
    amount            bigint NOT NULL CHECK (amount > 0),
    currency          char(3) NOT NULL,
    method            text NOT NULL CHECK (method IN ('cash', 'bank_transfer', 'cheque', 'card', 'mobile_money')),
    reference         text,
    received_at       timestamptz NOT NULL,
    received_by       uuid,
    device_id         uuid,
    receipt_no        text NOT NULL,
    to_credit         bigint NOT NULL DEFAULT 0 CHECK (to_credit >= 0),
    to_suspense       bigint NOT NULL DEFAULT 0 CHECK (to_suspense >= 0),
    request_hash      bytea NOT NULL,
    journal_entry_id  uuid NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (school_id, id),
    UNIQUE (school_id, receipt_no),
    FOREIGN KEY (school_id, family_id) REFERENCES families (school_id, id),
    FOREIGN KEY (school_id, received_by) REFERENCES users (school_id, id),
    FOREIGN KEY (school_id, journal_entry_id) REFERENCES journal_entries (school_id, id)
);
CREATE INDEX payments_by_family ON payments (school_id, family_id);

-- Money applied to invoice lines, by the journal entry that applied it (a payment or a
-- family-credit application). A reversed entry's allocations no longer count.
CREATE TABLE allocations (
    school_id         uuid NOT NULL,
    id                uuid NOT NULL,
    journal_entry_id  uuid NOT NULL,
    invoice_line_id   uuid NOT NULL,
    amount            bigint NOT NULL CHECK (amount > 0),
    PRIMARY KEY (school_id, id),
    UNIQUE (school_id, journal_entry_id, invoice_line_id),
    FOREIGN KEY (school_id, journal_entry_id) REFERENCES journal_entries (school_id, id),
    FOREIGN KEY (school_id, invoice_line_id) REFERENCES invoice_lines (school_id, id)
);
CREATE INDEX allocations_by_line ON allocations (school_id, invoice_line_id);
