-- provider-teleaudio: Teleaudio subscriptions and webbilling payments (schema `teleaudio`).
CREATE TABLE transactions (
    -- Our reference, sent to Teleaudio and echoed in its callbacks.
    reference      UUID PRIMARY KEY,
    merchant_id    TEXT NOT NULL,
    order_id       TEXT NOT NULL,
    channel_id     TEXT NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('one_time', 'subscription')),
    amount_minor   BIGINT NOT NULL CHECK (amount_minor >= 0),
    currency       CHAR(3) NOT NULL,
    service_id     TEXT NOT NULL,
    msisdn         TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    user_email     TEXT NOT NULL,
    -- Teleaudio's id: subscription_id or webbilling transaction_id.
    provider_id    TEXT NOT NULL,
    redirect_url   TEXT NOT NULL DEFAULT '',
    state          TEXT NOT NULL DEFAULT 'pending',
    charges_count  INT NOT NULL DEFAULT 0,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (merchant_id, order_id)
);

-- Teleaudio may repeat a callback: its event_id makes the second one a no-op.
CREATE TABLE callbacks (
    event_id    TEXT PRIMARY KEY,
    reference   UUID NOT NULL REFERENCES transactions(reference),
    type        TEXT NOT NULL,
    body        JSONB NOT NULL,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
