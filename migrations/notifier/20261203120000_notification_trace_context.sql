-- The trace context (W3C `traceparent`, `tracestate`) of the event a notification was made
-- from, so its deliveries, which run later from this row, continue the payment's trace
-- (issue 12). Rows written before have none: their deliveries start traces of their own.
ALTER TABLE notifications ADD COLUMN trace_context JSONB NOT NULL DEFAULT '{}';
