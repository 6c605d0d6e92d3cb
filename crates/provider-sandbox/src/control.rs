//! `/_sandbox` control endpoints (DESIGN section 7, a contract): complete a redirect, advance
//! the clock, set faults, read SMS; plus a merchant inbox that records notifications.

use crate::state::{Fault, InboxEntry, PROVIDERS};
use crate::{mobiltek, teleaudio, App};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;

fn bad(field: &str, why: impl Into<String>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"ok": false, "error": {"field": field, "message": why.into()}})),
    )
        .into_response()
}

fn body<T: for<'de> Deserialize<'de>>(raw: &[u8]) -> Result<T, Box<Response>> {
    serde_json::from_slice(raw).map_err(|e| Box::new(bad("body", format!("invalid JSON: {e}"))))
}

#[derive(Deserialize)]
struct Complete {
    redirect_url: String,
    outcome: String,
    /// Extension: "fail" makes the subscription's later recurring charges fail.
    #[serde(default)]
    charges: Option<String>,
}

/// `POST /_sandbox/complete`: the end user finishes or abandons the page behind a redirect URL.
/// Answers after the adapter acknowledged the resulting notifications.
pub async fn complete(State(app): State<App>, raw: axum::body::Bytes) -> Response {
    let c: Complete = match body(&raw) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let success = match c.outcome.as_str() {
        "success" => true,
        "failure" => false,
        _ => return bad("outcome", "must be \"success\" or \"failure\""),
    };
    let charges_fail = match c.charges.as_deref() {
        None | Some("succeed") => false,
        Some("fail") => true,
        Some(_) => return bad("charges", "must be \"fail\" or \"succeed\""),
    };
    let Ok(url) = url::Url::parse(&c.redirect_url) else {
        return bad("redirect_url", "not a URL");
    };
    if let Some(id) = url
        .path()
        .strip_suffix('/')
        .unwrap_or(url.path())
        .rsplit_once("/teleaudio/confirm/")
        .map(|(_, id)| id.to_string())
    {
        let callbacks = {
            let mut state = app.state.lock().await;
            match teleaudio::complete(&mut state, &id, success, charges_fail) {
                Ok(c) => c,
                Err(e) => return bad("redirect_url", e),
            }
        };
        let sent = app.deliver_teleaudio(callbacks).await;
        return Json(json!({"ok": true, "provider": "teleaudio", "notifications": sent}))
            .into_response();
    }
    if !url.path().ends_with("/mobiltek/ppe") {
        return bad("redirect_url", "not a redirect URL of a simulated provider (.../mobiltek/ppe?... or .../teleaudio/confirm/...)");
    }
    let query = url.query().unwrap_or("").to_string();
    let notifications = {
        let mut state = app.state.lock().await;
        match mobiltek::complete(&app.settings, &mut state, &query, success, charges_fail) {
            Ok(n) => n,
            Err(e) => return bad("redirect_url", e),
        }
    };
    let sent = app.deliver_mobiltek(notifications).await;
    Json(json!({"ok": true, "provider": "mobiltek", "notifications": sent})).into_response()
}

#[derive(Deserialize)]
struct Advance {
    seconds: i64,
}

/// `POST /_sandbox/clock/advance`: moves the clock; every recurring charge falling due happens.
pub async fn advance(State(app): State<App>, raw: axum::body::Bytes) -> Response {
    let a: Advance = match body(&raw) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    if a.seconds < 0 || a.seconds > 10 * 365 * 86_400 {
        return bad("seconds", "must be between 0 and ten years");
    }
    let (now, due, tele_due) = {
        let mut state = app.state.lock().await;
        state.clock_offset += a.seconds;
        let due = mobiltek::due_charges(&mut state);
        let mut tele = teleaudio::due_charges(&mut state);
        tele.sort_by_key(|(at, _)| *at);
        (state.now(), due, tele)
    };
    let count = due.len() + tele_due.len();
    app.deliver_mobiltek(due).await;
    app.deliver_teleaudio(tele_due.into_iter().map(|(_, c)| c).collect())
        .await;
    Json(json!({"ok": true, "now": now.to_rfc3339(), "charges": count})).into_response()
}

#[derive(Deserialize)]
struct Faults {
    provider: String,
    mode: String,
}

/// `POST /_sandbox/faults`: make a provider misbehave.
pub async fn faults(State(app): State<App>, raw: axum::body::Bytes) -> Response {
    let f: Faults = match body(&raw) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    if !PROVIDERS.contains(&f.provider.as_str()) {
        return bad(
            "provider",
            format!("must be one of {}", PROVIDERS.join(", ")),
        );
    }
    let Some(mode) = Fault::parse(&f.mode) else {
        return bad(
            "mode",
            "must be timeout, error, duplicate_callbacks or none",
        );
    };
    app.state
        .lock()
        .await
        .faults
        .insert(f.provider.clone(), mode);
    Json(json!({"ok": true, "provider": f.provider, "mode": mode})).into_response()
}

/// `GET /_sandbox/sms?phone=...`: the SMS messages sent to a phone.
pub async fn sms(State(app): State<App>, Query(q): Query<HashMap<String, String>>) -> Response {
    let Some(phone) = q.get("phone").filter(|p| !p.is_empty()) else {
        return bad("phone", "required");
    };
    let messages = app
        .state
        .lock()
        .await
        .sms
        .get(phone)
        .cloned()
        .unwrap_or_default();
    Json(json!({"phone": phone, "messages": messages})).into_response()
}

/// `GET /_sandbox/state`: what the simulated providers know (for demos).
pub async fn dump(State(app): State<App>) -> Response {
    let state = app.state.lock().await;
    Json(json!({
        "now": state.now().to_rfc3339(),
        "faults": state.faults,
        "mobiltek": {"transactions": state.mobiltek.transactions.values().collect::<Vec<_>>()},
        "teleaudio": {
            "subscriptions": state.teleaudio.subscriptions.values().collect::<Vec<_>>(),
            "webbilling": state.teleaudio.webbilling.values().collect::<Vec<_>>(),
        },
    }))
    .into_response()
}

/// `POST /_sandbox/merchants/{id}/notifications`: a merchant endpoint that records what it gets.
pub async fn inbox_post(
    State(app): State<App>,
    Path(merchant): Path<String>,
    headers: HeaderMap,
    raw: axum::body::Bytes,
) -> Response {
    let body = String::from_utf8_lossy(&raw).into_owned();
    let id = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|v| v.get("id").cloned())
        .unwrap_or(Value::Null);
    let headers = headers
        .iter()
        .filter(|(k, _)| k.as_str().starts_with("webhook-") || k.as_str() == "content-type")
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let mut state = app.state.lock().await;
    let received_at = chrono::Utc::now().to_rfc3339();
    state.inbox.entry(merchant).or_default().push(InboxEntry {
        received_at,
        headers,
        body,
    });
    Json(json!({"jsonrpc": "2.0", "id": id, "result": {"status": 1}})).into_response()
}

/// `GET /_sandbox/merchants/{id}/notifications`.
pub async fn inbox_get(State(app): State<App>, Path(merchant): Path<String>) -> Response {
    let list = app
        .state
        .lock()
        .await
        .inbox
        .get(&merchant)
        .cloned()
        .unwrap_or_default();
    Json(json!({"merchant_id": merchant, "notifications": list})).into_response()
}
