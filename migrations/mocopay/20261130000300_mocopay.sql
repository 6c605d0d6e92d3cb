-- provider-mocopay keeps everything in the adapter kit's tables (migrations/adapter): MoCoPay's
-- requestId is the order's provider_ref, its sessionId and pid live in orders.details.
SELECT 1;
