-- provider-netopia keeps everything in the adapter kit's tables (migrations/adapter): the sealed
-- order (env_key, data, cipher, iv), the seller account and the recurrence settings live in
-- orders.details. Nothing of its own yet.
SELECT 1;
