-- Notifier schema (DESIGN section 5): merchants' notification endpoints and the persisted
-- delivery log. The delivery worker is a loop over these rows, so a crash loses nothing.

-- One notification URL and Standard Webhooks secret (`whsec_<base64>`) per merchant. The operator
-- CLI upserts rows here with plain SQL; keep the column names.
CREATE TABLE endpoints (
    merchant_id TEXT PRIMARY KEY,
    url         TEXT NOT NULL,
    secret      TEXT NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The CLI's `ON CONFLICT ... DO UPDATE` need not remember to bump updated_at.
CREATE FUNCTION endpoints_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END $$;
CREATE TRIGGER endpoints_touch BEFORE UPDATE ON endpoints
    FOR EACH ROW EXECUTE FUNCTION endpoints_touch();

-- One row per event to notify. `id` is the webhook-id, the same across retries and replays.
-- `body` is the exact JSON-RPC request, fixed when first built (at creation, or at the first
-- delivery after a replay when the merchant had no endpoint yet: its signature needs the secret).
CREATE TABLE notifications (
    id              UUID PRIMARY KEY,
    event_id        UUID NOT NULL UNIQUE,
    merchant_id     TEXT NOT NULL,
    method          TEXT NOT NULL,
    order_id        TEXT NOT NULL,
    event           BYTEA NOT NULL,           -- the prost-encoded paysys.v1.Event
    body            TEXT,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts        INT NOT NULL DEFAULT 0,   -- attempts since creation or the last replay
    next_attempt_at TIMESTAMPTZ,              -- set while pending (a lease while in flight)
    last_error      TEXT,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    delivered_at    TIMESTAMPTZ
);
CREATE INDEX notifications_due ON notifications (next_attempt_at) WHERE status = 'pending';
CREATE INDEX notifications_merchant ON notifications (merchant_id, created_at DESC);

-- Every HTTP attempt ever made, for the delivery log.
CREATE TABLE attempts (
    id              BIGSERIAL PRIMARY KEY,
    notification_id UUID NOT NULL REFERENCES notifications (id),
    attempt_no      INT NOT NULL,             -- 1-based over the notification's whole life
    at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    http_status     INT,
    error           TEXT,
    duration_ms     BIGINT NOT NULL
);
CREATE INDEX attempts_notification ON attempts (notification_id, id);
