//! The HTTP transport of the merchant API: POST any path with a JSON body. Every answer is
//! JSON-RPC (never an HTML error page); notifications-only calls get 204 No Content.

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

/// Largest request body accepted (a batch of orders fits comfortably).
const MAX_BODY: usize = 1024 * 1024;

pub fn router(api: Api) -> Router {
    Router::new()
        .route("/", post(rpc).get(wrong_method))
        .route("/{*path}", post(rpc).get(wrong_method))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state(api)
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

async fn wrong_method() -> Response {
    error(
        RpcError::new(jsonrpc::INVALID_REQUEST, "Invalid Request")
            .with_data(json!("use POST with a JSON-RPC 2.0 body")),
    )
}

async fn rpc(State(api): State<Api>, headers: HeaderMap, body: Bytes) -> Response {
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
    let ctx = CallContext {
        raw_body: body,
        signature_header: headers
            .get(SIGNATURE_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
    };
    match jsonrpc::handle(&api, &ctx).await {
        Some(v) => json_response(StatusCode::OK, &v),
        None => StatusCode::NO_CONTENT.into_response(),
    }
}
