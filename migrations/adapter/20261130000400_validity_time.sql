-- seed 001 `payment.validity_time`: an order not finished by `expires_at` expires (the kit's
-- sweeper); money reported later is still accounted, as late.
ALTER TABLE orders ADD COLUMN expires_at TIMESTAMPTZ;
ALTER TABLE orders DROP CONSTRAINT orders_state_check;
ALTER TABLE orders ADD CONSTRAINT orders_state_check
    CHECK (state IN ('pending', 'paid', 'failed', 'expired', 'active', 'cancelled', 'completed'));
CREATE INDEX orders_expiring ON orders (expires_at) WHERE state = 'pending' AND expires_at IS NOT NULL;
