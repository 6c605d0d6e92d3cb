-- Merchant API secrets at rest (issue 9, point 4). A merchant's secret is both compared (the
-- `secret` parameter) and used (the key of the body HMAC, `X-PaySys-Signature`), so it is kept
-- twice, never in clear:
--   secret_digest  keyed digest, DataKey::digest(secret, 'edge.merchants.secret'): unique (it
--                  names the merchant where a seed leaves merchant_id out), found by index;
--   secret_sealed  AES-256-GCM sealed copy bound to 'edge.merchants.secret:<id>' (a copy in
--                  another merchant's row does not open): the HMAC key, and the final
--                  constant-time comparison of a presented secret.
-- SQL cannot seal. `secret` (plaintext) is a legacy column: rows written before this migration
-- keep it until rpc-edge starts, which digests and seals every such row and sets it to NULL in
-- one transaction (store::seal_legacy_merchants). Nothing may write plaintext any more: the
-- NOT VALID check spares only the rows that exist now, every insert or update must leave
-- `secret` NULL. A later migration may VALIDATE that check and drop the column.
ALTER TABLE merchants ALTER COLUMN secret DROP NOT NULL;
ALTER TABLE merchants ADD COLUMN secret_digest TEXT, ADD COLUMN secret_sealed TEXT;
DROP INDEX merchants_secret_unique;
CREATE UNIQUE INDEX merchants_secret_digest_unique ON merchants (secret_digest);
ALTER TABLE merchants ADD CONSTRAINT merchants_secret_kept
    CHECK (secret IS NOT NULL OR (secret_digest IS NOT NULL AND secret_sealed IS NOT NULL));
ALTER TABLE merchants ADD CONSTRAINT merchants_no_plaintext_secret CHECK (secret IS NULL) NOT VALID;
