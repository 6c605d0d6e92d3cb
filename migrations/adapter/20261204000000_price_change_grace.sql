-- A recurring charge the provider made at the old price while modify_subscription_price was on
-- its way (found by `make chaos`: a Netopia charge raced a price change and was refused as a
-- wrong amount, performed but never posted). The price before the last change and when it
-- changed: a charge at that price, the next one due, within machine::PRICE_CHANGE_GRACE of the
-- change, is believed once and accounted at what was charged.
ALTER TABLE orders ADD COLUMN IF NOT EXISTS previous_price_minor BIGINT;
ALTER TABLE orders ADD COLUMN IF NOT EXISTS price_changed_at TIMESTAMPTZ;
-- The other direction: the price being asked of the provider right now. The provider may charge
-- it before its answer reaches us; such a charge is believed at that price.
ALTER TABLE orders ADD COLUMN IF NOT EXISTS pending_price_minor BIGINT;
