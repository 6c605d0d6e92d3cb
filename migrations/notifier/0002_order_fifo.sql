-- Notifications of one order are delivered in the order their events happened (UUID v7 event
-- ids): a subscription_start before the first charge, the last charge before the cancel.
CREATE INDEX notifications_order_pending ON notifications (merchant_id, order_id, event_id) WHERE status = 'pending';
