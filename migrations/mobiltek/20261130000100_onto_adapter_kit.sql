-- Mobiltek moves onto the adapter kit's tables (migrations/adapter): transactions become orders
-- (service_id and msisdn into details), notifications become callbacks. The old tables go, so
-- there is one source of truth.
INSERT INTO orders (reference, merchant_id, order_id, channel_id, kind, amount_minor, currency,
                    current_price_minor, fingerprint, details, redirect_url, started, state,
                    charges_count, created_at, updated_at)
SELECT transaction_id, merchant_id, order_id, channel_id, kind, amount_minor, currency,
       amount_minor, 'migrated', jsonb_build_object('service_id', service_id, 'msisdn', msisdn,
       'user_id', user_id, 'user_email', user_email), redirect_url, true, state, charges_count,
       created_at, updated_at
FROM transactions;

INSERT INTO callbacks (dedup_key, reference, claim, outcome, body, received_at)
SELECT notification_id, transaction_id, type, 'applied', fields, received_at FROM notifications;

DROP TABLE notifications;
DROP TABLE transactions;
