-- Replay protection of signed merchant requests (issue 9, point 8). A signature
-- (`X-PaySys-Signature: t=..,v1=..`) is accepted for `edge.signature_max_age_secs` either side of
-- its `t`; inside that window the same signed request must not run twice. Every accepted
-- signature is remembered by the SHA-256 of its HMAC (`v1`, which covers the timestamp and the
-- whole body) until it expires: a second use finds the row (INSERT .. ON CONFLICT DO NOTHING)
-- and is refused. One HTTP request is one signature, however many calls its batch holds.
-- Rows are pruned by the inserts themselves, a window after they expired.
CREATE TABLE accepted_signatures (
    signature_hash TEXT PRIMARY KEY,
    expires_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX accepted_signatures_expiry ON accepted_signatures (expires_at);
