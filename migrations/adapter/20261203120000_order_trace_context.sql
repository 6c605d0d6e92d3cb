-- The trace context (W3C `traceparent`, `tracestate`) of the call that started the order, so
-- the provider's callback, which carries none, continues the payment's trace (issue 12).
-- Orders started before have none: their callbacks start traces of their own.
ALTER TABLE orders ADD COLUMN trace_context JSONB NOT NULL DEFAULT '{}';
