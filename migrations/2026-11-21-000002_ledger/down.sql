DROP TABLE allocations, payments, receipt_series, invoice_lines, invoices, fee_schedules,
    fee_heads, journal_lines, journal_entries, accounts, school_counters;
DROP FUNCTION journal_entry_must_balance();
DROP FUNCTION ledger_is_append_only();
DROP SEQUENCE journal_entry_no_seq;
