//! Event consumer: each domain event a merchant should hear about becomes one persisted
//! notification, created in the same statement that claims the event id, so a redelivered
//! event never notifies twice. The delivery worker is woken right after the commit. Events of
//! one order are handled in their order, different orders at once
//! (`broker::consume_in_order_per_key`).

use crate::body;
use crate::store::{self, Disposition, Endpoints, NewNotification};
use paysys_platform::broker::{HandleError, Handler, Message};
use paysys_platform::{events, signing};
use secrecy::ExposeSecret;
use sqlx::PgPool;
use std::sync::Arc;
use tokio::sync::Notify;

/// The notifier's queue takes every event; kinds it does not notify are acked and skipped.
pub const BINDING: &str = "#";

#[derive(Clone)]
pub struct Consumer {
    pool: PgPool,
    endpoints: Endpoints,
    wake: Arc<Notify>,
}

impl Consumer {
    pub fn new(pool: PgPool, endpoints: Endpoints, wake: Arc<Notify>) -> Self {
        Self {
            pool,
            endpoints,
            wake,
        }
    }

    /// The handler for `broker::consume`.
    pub fn handler(self) -> Handler {
        let me = Arc::new(self);
        Arc::new(move |msg| {
            let me = me.clone();
            Box::pin(async move { me.handle(msg).await })
        })
    }

    async fn handle(&self, msg: Message) -> Result<(), HandleError> {
        let (event_id, event) = events::decode(&msg)?;
        let Some(method) = body::method_for_kind(&event.kind) else {
            tracing::info!(kind = %event.kind, %event_id, "event kind is not notified; skipping");
            return Ok(());
        };
        if event.merchant_id.is_empty() {
            return Err(HandleError::Poison(anyhow::anyhow!(
                "event {event_id} ({}) has an empty merchant_id",
                event.kind
            )));
        }
        let endpoint = self
            .endpoints
            .get(&event.merchant_id)
            .await
            .map_err(transient)?;
        let (body, disposition) = match endpoint {
            None => (None, Disposition::Dead(no_endpoint(&event.merchant_id))),
            Some(ep) => {
                // A skipped notification gets its body too: a replay sends it as built now.
                let body = signing::decode_whsec(ep.secret.expose_secret())
                    .ok()
                    .map(|key| body::build(&event, method, &key, chrono::Utc::now().timestamp()));
                let disposition = if !ep.choice.wants(method) {
                    Disposition::Skipped(not_chosen(&event.merchant_id, method))
                } else if body.is_none() {
                    Disposition::Dead(bad_secret(&event.merchant_id))
                } else {
                    Disposition::Pending
                };
                (body, disposition)
            }
        };
        let notification = NewNotification {
            id: uuid::Uuid::now_v7(),
            event_id,
            merchant_id: &event.merchant_id,
            method,
            order_id: &event.order_id,
            event: &msg.payload,
            body,
            disposition,
        };
        if !store::claim_and_insert(&self.pool, &notification)
            .await
            .map_err(transient)?
        {
            tracing::debug!(%event_id, "event already notified; skipping the redelivery");
            return Ok(());
        }
        match &notification.disposition {
            Disposition::Pending => {
                tracing::info!(id = %notification.id, %event_id, method, "notification queued");
                self.wake.notify_one();
            }
            Disposition::Skipped(reason) => {
                metrics::counter!("paysys_notifier_deliveries_total", "outcome" => "skipped")
                    .increment(1);
                tracing::info!(id = %notification.id, %event_id, method, %reason, "notification skipped");
            }
            Disposition::Dead(reason) => {
                metrics::counter!("paysys_notifier_deliveries_total", "outcome" => "dead")
                    .increment(1);
                tracing::warn!(id = %notification.id, %event_id, method, %reason, "notification dead-lettered");
            }
        }
        Ok(())
    }
}

/// Why a notification of a merchant without an endpoint is dead (replayable once configured).
pub fn no_endpoint(merchant_id: &str) -> String {
    format!("merchant {merchant_id} has no notification URL")
}

/// Why a notification is skipped (replayable: a replay delivers it).
pub fn not_chosen(merchant_id: &str, method: &str) -> String {
    format!(
        "merchant {merchant_id} does not receive {method} (paysys merchant add --notify-events)"
    )
}

pub fn bad_secret(merchant_id: &str) -> String {
    format!("merchant {merchant_id} has a notification secret that is not whsec_<base64>")
}

/// The database down is retried with backoff; an error the event itself causes is poison.
fn transient(e: sqlx::Error) -> HandleError {
    HandleError::database(e)
}
