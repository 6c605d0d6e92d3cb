//! Domain events (`paysys.v1.Event`, DESIGN section 2): their routing keys, how a producer writes
//! one into its outbox, and how a consumer decodes one.

use crate::broker::{HandleError, Message};
use paysys_proto::Event;
use prost::Message as _;
use sqlx::{Postgres, Transaction};

pub const PAYMENT_SUCCEEDED: &str = "payment.succeeded";
pub const PAYMENT_FAILED: &str = "payment.failed";
pub const SUBSCRIPTION_STARTED: &str = "subscription.started";
pub const SUBSCRIPTION_CHARGED: &str = "subscription.charged";
pub const SUBSCRIPTION_CHARGE_FAILED: &str = "subscription.charge_failed";
pub const SUBSCRIPTION_CANCELLED: &str = "subscription.cancelled";

/// Every event kind, e.g. for bindings.
pub const ALL: &[&str] = &[
    PAYMENT_SUCCEEDED,
    PAYMENT_FAILED,
    SUBSCRIPTION_STARTED,
    SUBSCRIPTION_CHARGED,
    SUBSCRIPTION_CHARGE_FAILED,
    SUBSCRIPTION_CANCELLED,
];

/// The JSON-RPC methods a merchant receives (DESIGN section 5), in the order it lists them:
/// one per event kind of [`ALL`], as [`notification_method`] maps them.
pub const NOTIFICATION_METHODS: [&str; 6] = [
    "new_payment",
    "payment_failed",
    "subscription_start",
    "subscription_charge_success",
    "subscription_charge_failed",
    "subscription_cancel",
];

/// The merchant notification method of an event kind; None for kinds not notified.
pub fn notification_method(kind: &str) -> Option<&'static str> {
    ALL.iter()
        .position(|k| *k == kind)
        .map(|i| NOTIFICATION_METHODS[i])
}

/// A new event with a fresh UUID v7 id and the current time; the caller fills the rest.
pub fn new_event(kind: &str) -> Event {
    Event {
        event_id: uuid::Uuid::now_v7().to_string(),
        occurred_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        kind: kind.to_string(),
        ..Default::default()
    }
}

/// Writes `event` into the outbox of the caller's transaction, routed by its kind.
pub async fn enqueue(
    tx: &mut Transaction<'_, Postgres>,
    exchange: &str,
    event: &Event,
) -> anyhow::Result<()> {
    let id = uuid::Uuid::parse_str(&event.event_id)
        .map_err(|e| anyhow::anyhow!("event_id is not a UUID: {e}"))?;
    crate::outbox::enqueue(tx, exchange, &event.kind, id, &event.encode_to_vec()).await?;
    Ok(())
}

/// Decodes a delivered event; undecodable bytes are poison. Returns the event and its id.
pub fn decode(msg: &Message) -> Result<(uuid::Uuid, Event), HandleError> {
    let event = Event::decode(msg.payload.as_slice())
        .map_err(|e| HandleError::Poison(anyhow::anyhow!("not a paysys.v1.Event: {e}")))?;
    let id = uuid::Uuid::parse_str(&event.event_id)
        .map_err(|e| HandleError::Poison(anyhow::anyhow!("event_id is not a UUID: {e}")))?;
    Ok((id, event))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_event_kind_is_notified_by_its_seed_000_method() {
        let pairs: Vec<_> = ALL.iter().map(|k| (*k, notification_method(k))).collect();
        assert_eq!(
            pairs,
            [
                (PAYMENT_SUCCEEDED, Some("new_payment")),
                (PAYMENT_FAILED, Some("payment_failed")),
                (SUBSCRIPTION_STARTED, Some("subscription_start")),
                (SUBSCRIPTION_CHARGED, Some("subscription_charge_success")),
                (
                    SUBSCRIPTION_CHARGE_FAILED,
                    Some("subscription_charge_failed")
                ),
                (SUBSCRIPTION_CANCELLED, Some("subscription_cancel")),
            ]
        );
        assert_eq!(notification_method("payment.refunded"), None);
    }
}
