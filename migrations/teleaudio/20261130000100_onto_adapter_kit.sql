-- Teleaudio moves onto the adapter kit's tables (migrations/adapter): transactions become orders
-- (service_id and msisdn into details), callbacks keep their event ids as dedup keys.
INSERT INTO orders (reference, merchant_id, order_id, channel_id, kind, amount_minor, currency,
                    current_price_minor, fingerprint, details, provider_ref, redirect_url,
                    started, state, charges_count, created_at, updated_at)
SELECT reference::text, merchant_id, order_id, channel_id, kind, amount_minor, currency,
       amount_minor, 'migrated', jsonb_build_object('service_id', service_id, 'msisdn', msisdn,
       'user_id', user_id, 'user_email', user_email), provider_id, redirect_url,
       provider_id <> '', state, charges_count, created_at, updated_at
FROM transactions;

INSERT INTO callbacks (dedup_key, reference, claim, outcome, body, received_at)
SELECT event_id, reference::text, type, 'applied', body, received_at FROM callbacks_before_kit;

DROP TABLE callbacks_before_kit;
DROP TABLE transactions;
