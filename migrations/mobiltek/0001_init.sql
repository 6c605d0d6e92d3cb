-- provider-mobiltek: Mobiltek transactions and the notifications already handled (schema `mobiltek`).
CREATE SEQUENCE transaction_ids START 1000014896266637;

CREATE TABLE transactions (
    transaction_id TEXT PRIMARY KEY,
    merchant_id    TEXT NOT NULL,
    order_id       TEXT NOT NULL,
    channel_id     TEXT NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('one_time', 'subscription')),
    amount_minor   BIGINT NOT NULL CHECK (amount_minor > 0),
    currency       CHAR(3) NOT NULL,
    service_id     TEXT NOT NULL,
    msisdn         TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    user_email     TEXT NOT NULL,
    redirect_url   TEXT NOT NULL,
    state          TEXT NOT NULL DEFAULT 'pending',
    charges_count  INT NOT NULL DEFAULT 0,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (merchant_id, order_id)
);

-- Mobiltek may repeat a notification: its id makes the second one a no-op.
CREATE TABLE notifications (
    notification_id TEXT PRIMARY KEY,
    transaction_id  TEXT NOT NULL REFERENCES transactions(transaction_id),
    type            TEXT NOT NULL,
    fields          JSONB NOT NULL,
    received_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);
