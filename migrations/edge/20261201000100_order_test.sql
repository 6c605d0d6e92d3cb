-- `"test": "True"` orders run against the provider's test environment and are accounted in the
-- ledger's test book; get_transaction_status says `"test": true` for them. The request's `test`
-- is part of the order's fingerprint too, so a retry cannot flip it. Orders stored before this
-- column existed count as live.
ALTER TABLE orders ADD COLUMN test BOOLEAN NOT NULL DEFAULT false;
