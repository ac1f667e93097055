DROP TABLE payment_reversals, refunds, fines, discounts;
