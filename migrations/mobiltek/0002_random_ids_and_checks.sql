-- Transaction ids become random 16-digit numbers (store::new_transaction_id): a sequence restarts
-- at the same number in every fresh database, so two environments (or a reset one) on the same
-- Mobiltek account would reuse ids Mobiltek has already seen.
DROP SEQUENCE IF EXISTS transaction_ids;

ALTER TABLE transactions
    ADD CONSTRAINT transactions_id_16_digits CHECK (transaction_id ~ '^[0-9]{16}$'),
    ADD CONSTRAINT transactions_known_state CHECK (state IN ('pending', 'paid', 'failed', 'active', 'cancelled'));

-- The notification history of one transaction (support, `paysys` queries).
CREATE INDEX notifications_by_transaction ON notifications (transaction_id, received_at);
