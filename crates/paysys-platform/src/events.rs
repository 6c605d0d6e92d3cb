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
