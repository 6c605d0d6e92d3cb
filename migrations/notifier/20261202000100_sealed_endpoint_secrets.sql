-- Notification secrets at rest (issue 9, point 4). The notifier must use a merchant's
-- `whsec_` secret (Standard Webhooks HMAC, params.signature), so it is kept sealed with
-- AES-256-GCM (DataKey::seal), bound to 'notifier.endpoints.secret:<merchant_id>': a sealed
-- value copied to another merchant's row does not open.
-- SQL cannot seal. `secret` (plaintext) is a legacy column: rows written before this migration
-- keep it until the notifier starts, which seals every such row and sets it to NULL in one
-- transaction (store::seal_legacy_endpoints). Nothing may write plaintext any more: the
-- NOT VALID check spares only the rows that exist now. A later migration may VALIDATE it and
-- drop the column.
ALTER TABLE endpoints ALTER COLUMN secret DROP NOT NULL;
ALTER TABLE endpoints ADD COLUMN secret_sealed TEXT;
ALTER TABLE endpoints ADD CONSTRAINT endpoints_secret_kept
    CHECK (secret IS NOT NULL OR secret_sealed IS NOT NULL);
ALTER TABLE endpoints ADD CONSTRAINT endpoints_no_plaintext_secret CHECK (secret IS NULL) NOT VALID;
