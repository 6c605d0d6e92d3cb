-- What each provider adapter declared it can do (PaymentProvider.Describe), kept so the edge
-- knows it while an adapter is down (e.g. to accept asynchronous orders into its queue).
CREATE TABLE provider_capabilities (
    provider     TEXT PRIMARY KEY,
    -- paysys.v1.Capabilities, protobuf-encoded.
    capabilities BYTEA NOT NULL,
    learned_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
