//! A merchant notification endpoint for demos and fixtures (`/_sandbox/merchants/{id}/
//! notifications`): records what the notifier sends, acknowledges like a merchant would.

use crate::App;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize)]
pub struct InboxEntry {
    pub received_at: String,
    /// `webhook-*` and `content-type` only.
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

#[derive(Debug, Default)]
pub struct Inbox(BTreeMap<String, Vec<InboxEntry>>);

impl Inbox {
    pub fn of(&self, merchant: &str) -> Vec<InboxEntry> {
        self.0.get(merchant).cloned().unwrap_or_default()
    }
}

/// `POST /_sandbox/merchants/{id}/notifications`: records and answers
/// `{"jsonrpc":"2.0","id":..,"result":{"status":1}}` (PROVIDERS.md: the merchant's ack).
pub async fn post(
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
    let entry = InboxEntry {
        received_at: chrono::Utc::now().to_rfc3339(),
        headers,
        body,
    };
    app.state
        .lock()
        .await
        .inbox
        .0
        .entry(merchant)
        .or_default()
        .push(entry);
    Json(json!({"jsonrpc": "2.0", "id": id, "result": {"status": 1}})).into_response()
}

/// `GET /_sandbox/merchants/{id}/notifications`.
pub async fn get(State(app): State<App>, Path(merchant): Path<String>) -> Response {
    let list = app.state.lock().await.inbox.of(&merchant);
    Json(json!({"merchant_id": merchant, "notifications": list})).into_response()
}
