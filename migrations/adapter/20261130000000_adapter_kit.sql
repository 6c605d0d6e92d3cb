-- The adapter kit's tables, the same in every provider adapter's schema (crates/paysys-adapter).
-- One row per merchant order; what only one provider needs lives in `details`.
CREATE TABLE orders (
    -- Our reference of the order at the provider (Mobiltek: a 16-digit transaction id;
    -- others: a UUID), the key callbacks find the order by.
    reference      TEXT PRIMARY KEY,
    merchant_id    TEXT NOT NULL,
    order_id       TEXT NOT NULL,
    channel_id     TEXT NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('one_time', 'subscription')),
    amount_minor   BIGINT NOT NULL CHECK (amount_minor >= 0),
    currency       CHAR(3) NOT NULL,
    -- A subscription's price now (modify_subscription_price); the order's amount otherwise.
    current_price_minor BIGINT NOT NULL CHECK (current_price_minor >= 0),
    -- Total payments of a subscription, the first included; 0 = unlimited (seed 003).
    payments_no    INT NOT NULL DEFAULT 0 CHECK (payments_no >= 0),
    test           BOOLEAN NOT NULL DEFAULT false,
    -- What makes a retried Start the same payment (StartOrder::fingerprint).
    fingerprint    TEXT NOT NULL,
    -- Provider specifics (service_id, msisdn, ...), written by the provider's code only.
    details        JSONB NOT NULL DEFAULT '{}',
    -- The provider's own id of the order, once started (Teleaudio subscription_id, ...).
    provider_ref   TEXT NOT NULL DEFAULT '',
    redirect_url   TEXT NOT NULL DEFAULT '',
    started        BOOLEAN NOT NULL DEFAULT false,
    state          TEXT NOT NULL DEFAULT 'pending'
                   CHECK (state IN ('pending', 'paid', 'failed', 'active', 'cancelled', 'completed')),
    charges_count  INT NOT NULL DEFAULT 0,
    failed_count   INT NOT NULL DEFAULT 0,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (merchant_id, order_id)
);
CREATE INDEX orders_by_provider_ref ON orders (provider_ref) WHERE provider_ref <> '';

-- Every authenticated callback claim, by the provider's identity of it: a resend finds its row
-- and gets the first answer again, with no second effect.
CREATE TABLE callbacks (
    dedup_key    TEXT PRIMARY KEY,
    reference    TEXT NOT NULL REFERENCES orders(reference),
    claim        TEXT NOT NULL,
    -- applied | refused
    outcome      TEXT NOT NULL CHECK (outcome IN ('applied', 'refused')),
    body         JSONB NOT NULL,
    received_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX callbacks_by_order ON callbacks (reference, received_at);

-- Authenticated callbacks that did not fit their order (state, amount, currency, kind, charge
-- number): never applied, kept for operators (`paysys discrepancies list`).
CREATE TABLE discrepancies (
    id           BIGSERIAL PRIMARY KEY,
    reference    TEXT NOT NULL REFERENCES orders(reference),
    merchant_id  TEXT NOT NULL,
    order_id     TEXT NOT NULL,
    dedup_key    TEXT NOT NULL UNIQUE,
    claim        TEXT NOT NULL,
    amount_minor BIGINT,
    currency     CHAR(3),
    reason       TEXT NOT NULL,
    body         JSONB NOT NULL,
    received_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Every charge attempt of an order as accounted (the order's own charge history).
CREATE TABLE charges (
    reference    TEXT NOT NULL REFERENCES orders(reference),
    sequence     INT NOT NULL,
    charge_id    TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    currency     CHAR(3) NOT NULL,
    outcome      TEXT NOT NULL CHECK (outcome IN ('succeeded', 'failed')),
    late         BOOLEAN NOT NULL DEFAULT false,
    at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (reference, charge_id)
);
