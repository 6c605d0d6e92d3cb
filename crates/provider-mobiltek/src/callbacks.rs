//! `POST /mobiltek/notify`: Mobiltek's notifications (docs/providers/mobiltek.md). Authenticated
//! first (nothing unsigned is stored or believed), then in ONE transaction: the notification id
//! is recorded (a resend is acknowledged and has no effect), the transaction moves, and the event
//! is written to the outbox. Mobiltek gets `OK` only after the commit, so an answer it never
//! receives makes it resend, and the resend is deduplicated.

use crate::store;
use crate::transitions::{self, Mismatch};
use crate::wire::{Notification, NotificationError};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use paysys_platform::outbox::OutboxSignal;
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

/// The answers of our protocol: plain text, `OK` or `ERROR <why>`.
fn answer(status: StatusCode, text: String) -> Response {
    (status, text).into_response()
}

fn count(result: &'static str) {
    metrics::counter!("paysys_mobiltek_notifications_total", "result" => result).increment(1);
}

/// Takes the raw body, so a missing or odd content type is not refused before authentication:
/// the hash decides.
pub async fn notify(State(s): State<CallbackState>, body: axum::body::Bytes) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let n = match Notification::authenticate(s.secret.expose_secret(), &form) {
        Ok(n) => n,
        Err(NotificationError::BadHash) => {
            count("bad_hash");
            tracing::warn!("Mobiltek notification with a bad hash refused");
            return answer(StatusCode::UNAUTHORIZED, "ERROR bad hash".into());
        }
        Err(e) => {
            count("bad_request");
            tracing::warn!(error = %e, "Mobiltek notification refused");
            return answer(StatusCode::BAD_REQUEST, format!("ERROR {e}"));
        }
    };
    match handle(&s, &n, &form).await {
        Ok(Outcome::Applied) => {
            s.signal.notify();
            count("ok");
            answer(StatusCode::OK, "OK".into())
        }
        Ok(Outcome::Duplicate) => {
            count("duplicate");
            tracing::info!(notification_id = %n.notification_id, "Mobiltek notification repeated; already handled");
            answer(StatusCode::OK, "OK".into())
        }
        Ok(Outcome::UnknownTransaction) => {
            count("unknown_transaction");
            answer(
                StatusCode::NOT_FOUND,
                format!("ERROR transaction_id: unknown {}", n.transaction_id),
            )
        }
        Ok(Outcome::Mismatch(m)) => {
            count("bad_request");
            tracing::warn!(error = %m, transaction_id = %n.transaction_id, "Mobiltek notification does not fit its transaction");
            answer(StatusCode::BAD_REQUEST, format!("ERROR {m}"))
        }
        Err(e) => {
            count("error");
            tracing::error!(error = %format!("{e:#}"), "Mobiltek notification not stored; Mobiltek will resend");
            answer(StatusCode::INTERNAL_SERVER_ERROR, "ERROR try again".into())
        }
    }
}

enum Outcome {
    Applied,
    Duplicate,
    UnknownTransaction,
    Mismatch(Mismatch),
}

async fn handle(
    s: &CallbackState,
    n: &Notification,
    form: &HashMap<String, String>,
) -> anyhow::Result<Outcome> {
    let mut tx = s.pool.begin().await?;
    let Some(t) = store::lock(&mut tx, &n.transaction_id).await? else {
        return Ok(Outcome::UnknownTransaction);
    };
    if let Err(m) = transitions::check(&t, n) {
        return Ok(Outcome::Mismatch(m));
    }
    // Everything Mobiltek sent but the hash, for support and audits.
    let fields: serde_json::Map<String, serde_json::Value> = form
        .iter()
        .filter(|(k, _)| k.as_str() != "hash")
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    if !store::record_notification(&mut tx, n, fields.into()).await? {
        return Ok(Outcome::Duplicate);
    }
    let fx = transitions::apply(&t, n);
    store::apply(&mut tx, &t, n, &fx).await?;
    paysys_platform::events::enqueue(&mut tx, &s.exchange, &fx.event).await?;
    tx.commit().await?;
    tracing::info!(
        transaction_id = %t.transaction_id,
        notification = n.kind.as_str(),
        event = %fx.event.kind,
        event_id = %fx.event.event_id,
        "Mobiltek notification accepted"
    );
    Ok(Outcome::Applied)
}
