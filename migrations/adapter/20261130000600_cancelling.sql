-- A successful unsubscribe marks the subscription `cancelling` at once (no later charge counts
-- as a normal renewal); the provider's confirmation, or a reconciliation after
-- [adapter] cancel_confirm_timeout_secs, makes it `cancelled`.
ALTER TABLE orders DROP CONSTRAINT orders_state_check;
ALTER TABLE orders ADD CONSTRAINT orders_state_check
    CHECK (state IN ('pending', 'paid', 'failed', 'expired', 'active', 'cancelling', 'cancelled', 'completed'));
CREATE INDEX orders_cancelling ON orders (updated_at) WHERE state = 'cancelling';
