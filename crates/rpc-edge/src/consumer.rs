//! Keeps each order's state in step with the providers' events (queue `edge.events`):
//! the event is recorded and the state moved in one transaction with the inbox claim.

use paysys_platform::broker::{HandleError, Message};
use paysys_platform::events::{self, decode};
use paysys_platform::outbox::claim;
use sqlx::PgPool;

/// The failure reason of a payment that expired (`payment.validity_time`).
pub const EXPIRED: &str = "expired";

pub fn bindings() -> Vec<String> {
    events::ALL.iter().map(|s| s.to_string()).collect()
}

/// The order state after `kind` (with its failure reason), given the current one.
pub fn next_status(current: &str, kind: &str, failure_reason: &str) -> String {
    match (kind, current) {
        (events::PAYMENT_SUCCEEDED, _) => "paid",
        // seed 001 `validity_time`: the payment was not finished in time.
        (events::PAYMENT_FAILED, "pending") if failure_reason == EXPIRED => "expired",
        (events::PAYMENT_FAILED, "paid") => "paid",
        (events::PAYMENT_FAILED, _) => "failed",
        // Final states stay final: events of one order may be consumed out of order (a charge
        // handled after the completion it preceded must not reopen the subscription).
        (_, "cancelled") => "cancelled",
        (_, "completed") => "completed",
        // All payments_no were made (seed 003): the subscription ended as agreed.
        (events::SUBSCRIPTION_CANCELLED, _) if failure_reason.starts_with("completed") => {
            "completed"
        }
        (events::SUBSCRIPTION_CANCELLED, _) => "cancelled",
        // Unsubscribed, awaiting the provider's confirmation: charges meanwhile are late.
        (_, "cancelling") => "cancelling",
        (events::SUBSCRIPTION_STARTED, _) | (events::SUBSCRIPTION_CHARGED, _) => "active",
        // A first charge that fails before any start means the subscription never began.
        (events::SUBSCRIPTION_CHARGE_FAILED, "pending") => "failed",
        (_, other) => other,
    }
    .to_string()
}

pub async fn handle(pool: PgPool, msg: Message) -> Result<(), HandleError> {
    let (id, e) = decode(&msg)?;
    let occurred = chrono::DateTime::parse_from_rfc3339(&e.occurred_at)
        .map_err(|_| HandleError::Poison(anyhow::anyhow!("occurred_at is not RFC 3339")))?;
    // The database down is retried with backoff; an error the event itself causes is poison.
    let t = HandleError::database;
    let mut tx = pool.begin().await.map_err(t)?;
    if !claim(&mut tx, id).await.map_err(t)? {
        return Ok(());
    }
    let current: Option<String> = sqlx::query_scalar(
        "SELECT status FROM orders WHERE merchant_id = $1 AND trans_ext_id = $2 FOR UPDATE",
    )
    .bind(&e.merchant_id)
    .bind(&e.order_id)
    .fetch_optional(&mut *tx)
    .await
    .map_err(t)?;
    let Some(current) = current else {
        tracing::warn!(merchant_id = %e.merchant_id, order_id = %e.order_id, kind = %e.kind, "event for an order the edge does not know");
        tx.commit().await.map_err(t)?;
        return Ok(());
    };
    sqlx::query(
        "INSERT INTO order_events (event_id, merchant_id, trans_ext_id, kind, amount_minor, currency, sequence, charge_id, failure_reason, occurred_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
    )
    .bind(id)
    .bind(&e.merchant_id)
    .bind(&e.order_id)
    .bind(&e.kind)
    .bind(e.amount_minor)
    .bind(&e.currency)
    .bind(e.sequence as i32)
    .bind(&e.charge_id)
    .bind(&e.failure_reason)
    .bind(occurred.with_timezone(&chrono::Utc))
    .execute(&mut *tx)
    .await
    .map_err(t)?;
    sqlx::query("UPDATE orders SET status = $3, updated_at = now() WHERE merchant_id = $1 AND trans_ext_id = $2")
        .bind(&e.merchant_id)
        .bind(&e.order_id)
        .bind(next_status(&current, &e.kind, &e.failure_reason))
        .execute(&mut *tx)
        .await
        .map_err(t)?;
    tx.commit().await.map_err(t)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_machine() {
        assert_eq!(next_status("pending", "payment.succeeded", ""), "paid");
        assert_eq!(
            next_status("pending", "payment.failed", "expired"),
            "expired"
        );
        // Money reported after the expiry is still a payment (late).
        assert_eq!(next_status("expired", "payment.succeeded", ""), "paid");
        assert_eq!(next_status("paid", "payment.failed", ""), "paid");
        assert_eq!(
            next_status("pending", "subscription.charge_failed", ""),
            "failed"
        );
        assert_eq!(
            next_status("active", "subscription.charge_failed", ""),
            "active"
        );
        assert_eq!(
            next_status("active", "subscription.cancelled", ""),
            "cancelled"
        );
        assert_eq!(
            next_status("cancelled", "subscription.charged", ""),
            "cancelled"
        );
        // Unsubscribed, not yet confirmed: a charge meanwhile keeps it cancelling.
        assert_eq!(
            next_status("cancelling", "subscription.charged", ""),
            "cancelling"
        );
        assert_eq!(
            next_status("cancelling", "subscription.cancelled", ""),
            "cancelled"
        );
        // All payments_no made (seed 003): completed, and it stays so even when the last
        // charge's event is consumed after the completion's.
        assert_eq!(
            next_status(
                "active",
                "subscription.cancelled",
                "completed: all 3 payments were made"
            ),
            "completed"
        );
        assert_eq!(
            next_status("completed", "subscription.charged", ""),
            "completed"
        );
    }
}
