//! `POST /teleaudio/notify`: Teleaudio's callbacks. The signature is checked before the body is
//! even parsed; then, in ONE transaction, the callback id is recorded (a repeat is a no-op), the
//! transaction's state moves and the event goes to the outbox. `OK` only after the commit.

use crate::store;
use crate::wire::{self, Callback};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use paysys_platform::events::{self, new_event};
use paysys_platform::money::Currency;
use paysys_platform::outbox::OutboxSignal;
use secrecy::{ExposeSecret, SecretString};
use sqlx::PgPool;

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

pub async fn notify(State(s): State<CallbackState>, headers: HeaderMap, body: Bytes) -> Response {
    let sig = headers
        .get(wire::SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !wire::verify(s.secret.expose_secret(), &body, sig) {
        metrics::counter!("paysys_teleaudio_callbacks_total", "result" => "bad_signature")
            .increment(1);
        tracing::warn!("Teleaudio callback with a bad signature refused");
        return reject(StatusCode::UNAUTHORIZED, "ERROR bad signature".into());
    }
    let cb: Callback = match serde_json::from_slice(&body) {
        Ok(c) => c,
        Err(e) => return reject(StatusCode::BAD_REQUEST, format!("ERROR body: {e}")),
    };
    if cb.event_id.is_empty() || cb.event_id.len() > 64 {
        return reject(
            StatusCode::BAD_REQUEST,
            "ERROR event_id: required, at most 64 characters".into(),
        );
    }
    if !wire::CALLBACK_TYPES.contains(&cb.kind.as_str()) {
        return reject(
            StatusCode::BAD_REQUEST,
            format!("ERROR type: unknown {:?}", cb.kind),
        );
    }
    let Ok(reference) = uuid::Uuid::parse_str(&cb.reference) else {
        return reject(StatusCode::BAD_REQUEST, "ERROR reference: not ours".into());
    };
    let money = matches!(cb.kind.as_str(), "CHARGE_SUCCESS" | "PAYMENT_SUCCESS");
    if money
        && (cb.amount <= 0 || cb.charge_id.is_empty() || Currency::parse(&cb.currency).is_err())
    {
        return reject(
            StatusCode::BAD_REQUEST,
            "ERROR amount, currency and charge_id: required for a charge".into(),
        );
    }
    match handle(&s, &cb, reference, &body).await {
        Ok(Some(true)) => {
            s.signal.notify();
            (StatusCode::OK, "OK").into_response()
        }
        Ok(Some(false)) => (StatusCode::OK, "OK").into_response(),
        Ok(None) => reject(StatusCode::NOT_FOUND, "ERROR reference: unknown".into()),
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "Teleaudio callback not stored; Teleaudio will resend");
            reject(StatusCode::INTERNAL_SERVER_ERROR, "ERROR try again".into())
        }
    }
}

/// Some(true) handled, Some(false) duplicate, None unknown reference.
async fn handle(
    s: &CallbackState,
    cb: &Callback,
    reference: uuid::Uuid,
    body: &[u8],
) -> anyhow::Result<Option<bool>> {
    let mut tx = s.pool.begin().await?;
    let row = sqlx::query(&format!(
        "SELECT {} FROM transactions WHERE reference = $1 FOR UPDATE",
        store::COLUMNS
    ))
    .bind(reference)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let t = store::from_row(&row);
    let json: serde_json::Value = serde_json::from_slice(body)?;
    let fresh = sqlx::query("INSERT INTO callbacks (event_id, reference, type, body) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING")
        .bind(&cb.event_id)
        .bind(reference)
        .bind(&cb.kind)
        .bind(sqlx::types::Json(&json))
        .execute(&mut *tx)
        .await?
        .rows_affected()
        == 1;
    if !fresh {
        return Ok(Some(false));
    }
    let (event_kind, state, charges, sequence) = match cb.kind.as_str() {
        "PAYMENT_SUCCESS" => (events::PAYMENT_SUCCEEDED, "paid", t.charges_count + 1, 0),
        "PAYMENT_FAILED" => (events::PAYMENT_FAILED, "failed", t.charges_count, 0),
        "SUBSCRIPTION_STARTED" => (events::SUBSCRIPTION_STARTED, "active", t.charges_count, 0),
        "CHARGE_SUCCESS" => (
            events::SUBSCRIPTION_CHARGED,
            if t.state == "cancelled" {
                "cancelled"
            } else {
                "active"
            },
            t.charges_count + 1,
            t.charges_count + 1,
        ),
        "CHARGE_FAILED" => (
            events::SUBSCRIPTION_CHARGE_FAILED,
            if t.state == "pending" {
                "failed"
            } else {
                t.state.as_str()
            },
            t.charges_count,
            t.charges_count + 1,
        ),
        _ => (
            events::SUBSCRIPTION_CANCELLED,
            "cancelled",
            t.charges_count,
            0,
        ),
    };
    let mut e = new_event(event_kind);
    e.merchant_id = t.merchant_id.clone();
    e.order_id = t.order_id.clone();
    e.provider = "teleaudio".into();
    e.channel_id = t.channel_id.clone();
    e.amount_minor = if cb.amount > 0 {
        cb.amount
    } else {
        t.amount_minor
    };
    e.currency = if cb.currency.is_empty() {
        t.currency.clone()
    } else {
        cb.currency.clone()
    };
    e.charge_id = if cb.charge_id.is_empty()
        && matches!(cb.kind.as_str(), "PAYMENT_FAILED" | "CHARGE_FAILED")
    {
        format!("{}:{}", t.provider_id, cb.event_id)
    } else {
        cb.charge_id.clone()
    };
    e.sequence = sequence as u32;
    e.user_id = t.user_id.clone();
    e.user_email = t.user_email.clone();
    e.provider_fields.insert(
        "teleaudio_msisdn".into(),
        if cb.msisdn.is_empty() {
            t.msisdn.clone()
        } else {
            cb.msisdn.clone()
        },
    );
    e.provider_fields
        .insert("teleaudio_service_id".into(), t.service_id.clone());
    e.provider_fields
        .insert("teleaudio_notification_type".into(), cb.kind.clone());
    e.failure_reason = cb.reason.clone();
    sqlx::query("UPDATE transactions SET state = $2, charges_count = $3, updated_at = now() WHERE reference = $1")
        .bind(reference)
        .bind(state)
        .bind(charges)
        .execute(&mut *tx)
        .await?;
    events::enqueue(&mut tx, &s.exchange, &e).await?;
    tx.commit().await?;
    tracing::info!(order_id = %t.order_id, kind = %cb.kind, event = %e.kind, "Teleaudio callback accepted");
    Ok(Some(true))
}
