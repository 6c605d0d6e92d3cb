-- rpc-edge owns merchants, their channels and every order's state (schema `edge`).
CREATE TABLE merchants (
    id          TEXT PRIMARY KEY,
    -- API secret: the `secret` parameter, or the key of the body HMAC header.
    secret      TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE channels (
    id          TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    provider    TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('one_time', 'subscription')),
    currency    CHAR(3) NOT NULL DEFAULT 'PLN',
    config      JSONB NOT NULL DEFAULT '{}',
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX channels_merchant ON channels (merchant_id);

CREATE TABLE orders (
    merchant_id   TEXT NOT NULL REFERENCES merchants(id),
    trans_ext_id  TEXT NOT NULL,
    method        TEXT NOT NULL,
    channel_id    TEXT NOT NULL,
    provider      TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('one_time', 'subscription')),
    amount_minor  BIGINT NOT NULL,
    currency      CHAR(3) NOT NULL,
    -- Fingerprint of the parsed request: an identical retry returns `response`.
    fingerprint   TEXT NOT NULL,
    response      JSONB,
    status        TEXT NOT NULL,
    provider_ref  TEXT,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (merchant_id, trans_ext_id)
);

-- What happened to each order, from the providers' events (idempotent on event_id).
CREATE TABLE order_events (
    event_id      UUID PRIMARY KEY,
    merchant_id   TEXT NOT NULL,
    trans_ext_id  TEXT NOT NULL,
    kind          TEXT NOT NULL,
    amount_minor  BIGINT NOT NULL,
    currency      CHAR(3) NOT NULL,
    sequence      INT NOT NULL,
    charge_id     TEXT NOT NULL,
    failure_reason TEXT NOT NULL DEFAULT '',
    occurred_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX order_events_order ON order_events (merchant_id, trans_ext_id, occurred_at);
