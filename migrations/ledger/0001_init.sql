-- The ledger owns the double-entry books of every successful charge (schema `ledger`).
-- Amounts are integer minor units of `currency`; rows are appended, never updated.

-- One balanced transfer per successful charge. `charge_key` is the provider's own identity of
-- the charge, so a duplicated or replayed event (even under another event id) never posts twice.
CREATE TABLE transfers (
    id           UUID PRIMARY KEY,
    event_id     UUID NOT NULL,
    charge_id    TEXT NOT NULL CHECK (charge_id <> ''),
    provider     TEXT NOT NULL CHECK (provider <> '' AND strpos(provider, ':') = 0),
    charge_key   TEXT GENERATED ALWAYS AS (provider || ':' || charge_id) STORED UNIQUE,
    merchant_id  TEXT NOT NULL,
    order_id     TEXT NOT NULL,
    channel_id   TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('one_time', 'recurring')),
    sequence     INT NOT NULL CHECK (sequence >= 0),
    amount_minor BIGINT NOT NULL CHECK (amount_minor > 0),
    fee_minor    BIGINT NOT NULL CHECK (fee_minor >= 0 AND fee_minor <= amount_minor),
    currency     CHAR(3) NOT NULL,
    occurred_at  TIMESTAMPTZ NOT NULL,
    posted_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX transfers_merchant ON transfers (merchant_id, occurred_at, sequence);
CREATE INDEX transfers_order ON transfers (merchant_id, order_id, sequence);

-- The lines of a transfer: exactly one side of each is positive.
CREATE TABLE entries (
    id          BIGSERIAL PRIMARY KEY,
    transfer_id UUID NOT NULL REFERENCES transfers (id),
    account     TEXT NOT NULL,
    debit       BIGINT NOT NULL CHECK (debit >= 0),
    credit      BIGINT NOT NULL CHECK (credit >= 0),
    currency    CHAR(3) NOT NULL,
    CHECK ((debit > 0) <> (credit > 0))
);
CREATE INDEX entries_transfer ON entries (transfer_id);

-- Debits equal credits in every transfer, checked by the database at commit as well as by the
-- consumer: a bug that writes one line too few fails the transaction instead of the books.
CREATE FUNCTION entries_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    d NUMERIC;
    c NUMERIC;
BEGIN
    SELECT COALESCE(SUM(debit), 0), COALESCE(SUM(credit), 0) INTO d, c
    FROM entries WHERE transfer_id = NEW.transfer_id;
    IF d <> c THEN
        RAISE EXCEPTION 'transfer % is unbalanced: debits % credits %', NEW.transfer_id, d, c
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER entries_balanced AFTER INSERT ON entries
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION entries_balanced();

-- Failed charges are recorded for the charge history of an order, never posted.
CREATE TABLE failed_charges (
    event_id     UUID PRIMARY KEY,
    merchant_id  TEXT NOT NULL,
    order_id     TEXT NOT NULL,
    provider     TEXT NOT NULL,
    charge_id    TEXT NOT NULL DEFAULT '',
    kind         TEXT NOT NULL CHECK (kind IN ('one_time', 'recurring')),
    sequence     INT NOT NULL CHECK (sequence >= 0),
    amount_minor BIGINT NOT NULL CHECK (amount_minor > 0),
    currency     CHAR(3) NOT NULL,
    reason       TEXT NOT NULL,
    occurred_at  TIMESTAMPTZ NOT NULL,
    recorded_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX failed_charges_order ON failed_charges (merchant_id, order_id, sequence);
