-- The school's postal address, printed under its name on receipts (office-console issue:
-- "The receipt shows school name and address"). Empty until the school sets it.
ALTER TABLE schools ADD COLUMN address text NOT NULL DEFAULT ''
    CONSTRAINT schools_address_length CHECK (char_length(address) <= 300);
