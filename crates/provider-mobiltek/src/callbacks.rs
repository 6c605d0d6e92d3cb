//! `POST /mobiltek/notify`: Mobiltek's notifications. Authenticated first (HMAC-SHA512 hash over
//! the fields, docs/providers/mobiltek.md); then, in ONE transaction, the notification id is
//! recorded (a repeat is a no-op), the transaction's state moves, and the event is written to
//! the outbox. Mobiltek gets `OK` only after the commit.

use crate::store;
use crate::wire::{self, NotificationType};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Form;
use paysys_platform::events::{self, new_event};
use paysys_platform::money::{Currency, Money};
use paysys_platform::outbox::OutboxSignal;
use paysys_platform::signing::ct_eq;
use secrecy::{ExposeSecret, SecretString};
use sqlx::PgPool;
use std::collections::HashMap;

#[derive(Clone)]
pub struct CallbackState {
    pub pool: PgPool,
    pub secret: SecretString,
    pub exchange: String,
    pub signal: OutboxSignal,
}

fn reject(status: StatusCode, msg: String) -> Response {
    (status, msg).into_response()
}

pub async fn notify(
    State(s): State<CallbackState>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    // Authenticate before believing anything.
    let expected = wire::notification_hash(s.secret.expose_secret(), get);
    if !ct_eq(&expected, &get("hash")) {
        metrics::counter!("paysys_mobiltek_notifications_total", "result" => "bad_hash")
            .increment(1);
        tracing::warn!("Mobiltek notification with a bad hash refused");
        return reject(StatusCode::UNAUTHORIZED, "ERROR bad hash".into());
    }
    let notification_id = get("notification_id");
    if notification_id.is_empty() || notification_id.len() > 64 {
        return reject(
            StatusCode::BAD_REQUEST,
            "ERROR notification_id: required, at most 64 characters".into(),
        );
    }
    let Some(kind) = NotificationType::parse(&get("type")) else {
        return reject(
            StatusCode::BAD_REQUEST,
            format!("ERROR type: unknown {:?}", get("type")),
        );
    };
    let charge_id = get("charge_id");
    let needs_charge = matches!(
        kind,
        NotificationType::Payment
            | NotificationType::Charge
            | NotificationType::PaymentFailed
            | NotificationType::ChargeFailed
    );
    if needs_charge && charge_id.is_empty() {
        return reject(StatusCode::BAD_REQUEST, "ERROR charge_id: required".into());
    }
    let pln = Currency::parse("PLN").expect("PLN is known");
    let amount = match get("amount").as_str() {
        "" if !matches!(kind, NotificationType::Payment | NotificationType::Charge) => None,
        a => match Money::parse_decimal(a, pln) {
            Ok(m) if m.minor > 0 => Some(m),
            _ => {
                return reject(
                    StatusCode::BAD_REQUEST,
                    format!("ERROR amount: {a:?} is not a positive PLN amount"),
                )
            }
        },
    };
    match handle(&s, &f, &notification_id, kind, amount).await {
        Ok(Outcome::Done) => {
            s.signal.notify();
            metrics::counter!("paysys_mobiltek_notifications_total", "result" => "ok").increment(1);
            (StatusCode::OK, "OK").into_response()
        }
        Ok(Outcome::Duplicate) => {
            metrics::counter!("paysys_mobiltek_notifications_total", "result" => "duplicate")
                .increment(1);
            (StatusCode::OK, "OK").into_response()
        }
        Ok(Outcome::UnknownTransaction) => reject(
            StatusCode::NOT_FOUND,
            "ERROR transaction_id: unknown".into(),
        ),
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "Mobiltek notification not stored; Mobiltek will resend");
            reject(StatusCode::INTERNAL_SERVER_ERROR, "ERROR try again".into())
        }
    }
}

enum Outcome {
    Done,
    Duplicate,
    UnknownTransaction,
}

async fn handle(
    s: &CallbackState,
    f: &HashMap<String, String>,
    notification_id: &str,
    kind: NotificationType,
    amount: Option<Money>,
) -> anyhow::Result<Outcome> {
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    let mut tx = s.pool.begin().await?;
    let row = sqlx::query(&format!(
        "SELECT {} FROM transactions WHERE transaction_id = $1 FOR UPDATE",
        store::COLUMNS
    ))
    .bind(get("transaction_id"))
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Ok(Outcome::UnknownTransaction);
    };
    let t = store::from_row(&row);
    let fields: serde_json::Map<String, serde_json::Value> = f
        .iter()
        .filter(|(k, _)| k.as_str() != "hash")
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    let fresh = sqlx::query("INSERT INTO notifications (notification_id, transaction_id, type, fields) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING")
        .bind(notification_id)
        .bind(&t.transaction_id)
        .bind(kind.as_str())
        .bind(sqlx::types::Json(&fields))
        .execute(&mut *tx)
        .await?
        .rows_affected()
        == 1;
    if !fresh {
        return Ok(Outcome::Duplicate);
    }
    let (event_kind, state, charges) = match kind {
        NotificationType::Payment => (events::PAYMENT_SUCCEEDED, "paid", t.charges_count + 1),
        NotificationType::PaymentFailed => (events::PAYMENT_FAILED, "failed", t.charges_count),
        NotificationType::Registration => (events::SUBSCRIPTION_STARTED, "active", t.charges_count),
        NotificationType::Charge => (
            events::SUBSCRIPTION_CHARGED,
            if t.state == "cancelled" {
                "cancelled"
            } else {
                "active"
            },
            t.charges_count + 1,
        ),
        NotificationType::ChargeFailed => (
            events::SUBSCRIPTION_CHARGE_FAILED,
            if t.state == "pending" {
                "failed"
            } else {
                t.state.as_str()
            },
            t.charges_count,
        ),
        NotificationType::Unregistration => {
            (events::SUBSCRIPTION_CANCELLED, "cancelled", t.charges_count)
        }
    };
    let mut e = new_event(event_kind);
    e.merchant_id = t.merchant_id.clone();
    e.order_id = t.order_id.clone();
    e.provider = "mobiltek".into();
    e.channel_id = t.channel_id.clone();
    e.amount_minor = amount.map(|m| m.minor).unwrap_or(t.amount_minor);
    e.currency = t.currency.clone();
    e.charge_id = get("charge_id");
    e.sequence = match kind {
        NotificationType::Charge => charges as u32,
        NotificationType::ChargeFailed => (t.charges_count + 1) as u32,
        _ => 0,
    };
    e.user_id = t.user_id.clone();
    e.user_email = t.user_email.clone();
    let msisdn = if get("msisdn").is_empty() {
        t.msisdn.clone()
    } else {
        get("msisdn")
    };
    e.provider_fields.insert("mobiltek_msisdn".into(), msisdn);
    e.provider_fields
        .insert("mobiltek_operator_id".into(), get("operator_id"));
    e.provider_fields
        .insert("mobiltek_notification_type".into(), kind.as_str().into());
    e.failure_reason = get("reason");
    sqlx::query("UPDATE transactions SET state = $2, charges_count = $3, updated_at = now() WHERE transaction_id = $1")
        .bind(&t.transaction_id)
        .bind(state)
        .bind(charges)
        .execute(&mut *tx)
        .await?;
    events::enqueue(&mut tx, &s.exchange, &e).await?;
    tx.commit().await?;
    tracing::info!(transaction_id = %t.transaction_id, kind = kind.as_str(), event = %e.kind, "Mobiltek notification accepted");
    Ok(Outcome::Done)
}
