-- Issue 11: debits equal credits per currency, and a line is in its transfer's currency.
-- Before, the commit-time check summed a transfer's lines across currencies (1000 PLN debited
-- against 1000 RON credited passed) and nothing tied a line's currency to its transfer's.

-- A line's currency is its transfer's (as its book already is, 0002).
ALTER TABLE transfers ADD CONSTRAINT transfers_id_book_currency UNIQUE (id, book, currency);
ALTER TABLE entries
    ADD CONSTRAINT entries_transfer_currency FOREIGN KEY (transfer_id, book, currency)
        REFERENCES transfers (id, book, currency);

-- Balanced per currency, whatever a future change lets into one transfer.
CREATE OR REPLACE FUNCTION entries_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad RECORD;
BEGIN
    SELECT currency, SUM(debit) AS d, SUM(credit) AS c INTO bad
    FROM entries WHERE transfer_id = NEW.transfer_id
    GROUP BY currency
    HAVING SUM(debit) <> SUM(credit)
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'transfer % is unbalanced in %: debits % credits %',
            NEW.transfer_id, bad.currency, bad.d, bad.c
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END
$$;
