-- A merchant chooses its notifications (DESIGN section 5): which of the six methods it receives
-- (`paysys merchant add --notify-events`, default all six) and, per method, a URL other than its
-- default one (`--notify-url-for EVENT=URL`). A notification of a method not chosen is still
-- logged, with status `skipped`: never sent, retried or dead-lettered, but replayable.

-- Only the six methods, each a string URL: the notifier never meets a choice it cannot read.
-- (Built-in functions only, so the check works whatever the writer's search_path.)
CREATE FUNCTION notify_urls_valid(urls JSONB) RETURNS BOOLEAN LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_typeof(urls) = 'object' AND NOT EXISTS (
        SELECT 1 FROM jsonb_each(urls) AS u(method, url)
        WHERE jsonb_typeof(u.url) <> 'string'
           OR u.method NOT IN ('new_payment', 'payment_failed', 'subscription_start',
                               'subscription_charge_success', 'subscription_charge_failed',
                               'subscription_cancel'))
$$;

-- Existing merchants keep getting everything at their one URL.
ALTER TABLE endpoints
    ADD COLUMN events TEXT[] NOT NULL DEFAULT ARRAY['new_payment', 'payment_failed',
        'subscription_start', 'subscription_charge_success', 'subscription_charge_failed',
        'subscription_cancel']
        CHECK (events <@ ARRAY['new_payment', 'payment_failed', 'subscription_start',
            'subscription_charge_success', 'subscription_charge_failed', 'subscription_cancel']),
    ADD COLUMN event_urls JSONB NOT NULL DEFAULT '{}' CHECK (notify_urls_valid(event_urls));

ALTER TABLE notifications DROP CONSTRAINT notifications_status_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_status_check
    CHECK (status IN ('pending', 'delivered', 'dead', 'skipped'));
