-- Two books that never mix: `live` (real money) and `test`, where the charges of test orders
-- (`"test": "True"`: the provider's test environment) are accounted. Every row says its book;
-- what was posted before this migration is live.

ALTER TABLE transfers
    ADD COLUMN book TEXT NOT NULL DEFAULT 'live' CHECK (book IN ('live', 'test'));

-- A provider's test environment numbers its charges apart from its live one, so the charge
-- key is unique per book: a replayed charge still never posts twice within its book.
ALTER TABLE transfers DROP CONSTRAINT transfers_charge_key_key;
CREATE UNIQUE INDEX transfers_book_charge_key ON transfers (book, charge_key);

-- Every line lives in the book of its transfer (the foreign key makes a test line in the live
-- book, or the other way round, impossible), so sums per book need no join.
ALTER TABLE transfers ADD CONSTRAINT transfers_id_book UNIQUE (id, book);
ALTER TABLE entries
    ADD COLUMN book TEXT NOT NULL DEFAULT 'live' CHECK (book IN ('live', 'test'));
ALTER TABLE entries
    ADD CONSTRAINT entries_transfer_book FOREIGN KEY (transfer_id, book) REFERENCES transfers (id, book);
CREATE INDEX entries_book_currency ON entries (book, currency);

DROP INDEX transfers_merchant;
CREATE INDEX transfers_merchant ON transfers (book, merchant_id, occurred_at, sequence);

ALTER TABLE failed_charges
    ADD COLUMN book TEXT NOT NULL DEFAULT 'live' CHECK (book IN ('live', 'test'));
