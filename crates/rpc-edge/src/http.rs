//! The HTTP transport of the merchant API: POST any path with a JSON body. Every answer is
//! JSON-RPC (never an HTML error page); notifications-only calls get 204 No Content.
//!
//! Load is shed, never queued without end: at most `edge.max_concurrent_requests` requests run at
//! once, and each (a whole batch) within `edge.request_timeout_ms`. Beyond either the answer is
//! `-32603` "busy, retry" with HTTP 503 and `Retry-After: 1`, at once or at the deadline.

use crate::api::Api;
use crate::auth::SIGNATURE_HEADER;
use crate::jsonrpc::{self, CallContext, RpcError};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// Largest request body accepted (a batch of orders fits comfortably).
const MAX_BODY: usize = 1024 * 1024;

/// How much the merchant API takes on at once.
#[derive(Clone)]
pub struct Limits {
    /// Deadline of one request, a whole batch included.
    pub request_timeout: Duration,
    /// One permit per request in progress.
    pub in_flight: Arc<Semaphore>,
}

impl Limits {
    pub fn new(request_timeout: Duration, max_concurrent_requests: usize) -> Self {
        Self {
            request_timeout,
            in_flight: Arc::new(Semaphore::new(max_concurrent_requests)),
        }
    }
}

#[derive(Clone)]
struct Edge {
    api: Api,
    limits: Limits,
}

pub fn router(api: Api, limits: Limits) -> Router {
    Router::new()
        .route("/", post(rpc).fallback(wrong_method))
        .route("/{*path}", post(rpc).fallback(wrong_method))
        .with_state(Edge { api, limits })
}

fn json_response(status: StatusCode, v: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        v.to_string(),
    )
        .into_response()
}

fn error(e: RpcError) -> Response {
    json_response(
        StatusCode::OK,
        &json!({ "jsonrpc": "2.0", "error": e.to_json(), "id": null }),
    )
}

/// `-32603` "busy, retry", HTTP 503 with `Retry-After: 1`: the request did not run (too many in
/// flight) or did not finish in time; sending it again is safe (a signed request signed anew).
fn busy(reason: &'static str, detail: String) -> Response {
    metrics::counter!("paysys_edge_shed_total", "reason" => reason).increment(1);
    let mut r = json_response(
        StatusCode::SERVICE_UNAVAILABLE,
        &json!({
            "jsonrpc": "2.0",
            "error": RpcError::internal("busy, retry")
                .with_data(json!({ "reason": reason, "detail": detail }))
                .to_json(),
            "id": null,
        }),
    );
    r.headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
    r
}

async fn wrong_method() -> Response {
    error(
        RpcError::new(jsonrpc::INVALID_REQUEST, "Invalid Request")
            .with_data(json!("use POST with a JSON-RPC 2.0 body")),
    )
}

/// `-32600` with HTTP 413: the body is larger than [`MAX_BODY`].
fn too_large() -> Response {
    let mut r = error(
        RpcError::new(jsonrpc::INVALID_REQUEST, "Invalid Request")
            .with_data(json!(format!("the body is larger than {MAX_BODY} bytes"))),
    );
    *r.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
    r
}

/// Reads the body within the request's deadline and size limit (a slow or endless sender is
/// cut off like a slow handler).
async fn read_body(body: axum::body::Body) -> Result<Bytes, Response> {
    axum::body::to_bytes(body, MAX_BODY).await.map_err(|e| {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(err) = source {
            if err.is::<http_body_util::LengthLimitError>() {
                return too_large();
            }
            source = err.source();
        }
        error(
            RpcError::new(jsonrpc::INVALID_REQUEST, "Invalid Request")
                .with_data(json!("the body could not be read")),
        )
    })
}

async fn rpc(State(edge): State<Edge>, headers: HeaderMap, body: axum::body::Body) -> Response {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if !matches!(
        ct.as_str(),
        "application/json" | "application/json-rpc" | "application/jsonrequest"
    ) {
        return error(
            RpcError::new(jsonrpc::INVALID_REQUEST, "Invalid Request").with_data(json!(
                "Content-Type must be application/json or application/json-rpc"
            )),
        );
    }
    // Never waits for a permit: a full house answers at once.
    let Ok(_permit) = edge.limits.in_flight.try_acquire() else {
        return busy(
            "overloaded",
            "too many requests in progress (edge.max_concurrent_requests)".into(),
        );
    };
    let timeout = edge.limits.request_timeout;
    let body = match tokio::time::timeout(timeout, read_body(body)).await {
        Ok(Ok(b)) => b,
        Ok(Err(answer)) => return answer,
        Err(_) => {
            return busy(
                "timeout",
                format!("the body did not arrive within {timeout:?} (edge.request_timeout_ms)"),
            )
        }
    };
    let ctx = CallContext {
        raw_body: body,
        signature_header: headers
            .get(SIGNATURE_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        ..Default::default()
    };
    // Dropping the handler at the deadline cancels its database and provider calls; an order
    // it stored is answered by retrying with the same trans_ext_id.
    match tokio::time::timeout(timeout, jsonrpc::handle(&edge.api, &ctx)).await {
        Ok(Some(v)) => json_response(StatusCode::OK, &v),
        Ok(None) => StatusCode::NO_CONTENT.into_response(),
        Err(_) => busy(
            "timeout",
            format!(
                "not finished within {} ms (edge.request_timeout_ms); retrying with the same trans_ext_id is safe; after unsubscribe or a recurrence change, check get_transaction_status first",
                timeout.as_millis()
            ),
        ),
    }
}
