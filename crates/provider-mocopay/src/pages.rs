//! `GET /mocopay/return` (and `/mocopay/test/return`): where MoCoPay sends the user after the
//! form (seed 004's callbackUrl redirection). Unsigned and carried by the browser, so nothing in
//! it is believed (notifications, confirmed with verifyPayment, tell the outcome): it only finds
//! the order by `referenceId` and sends the user on to the merchant's `next_url`.

use crate::CallbackRedirect;
use axum::extract::{RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use sqlx::PgPool;

pub fn router(pool: PgPool) -> axum::Router {
    axum::Router::new()
        .route("/mocopay/return", get(back))
        .route("/mocopay/test/return", get(back))
        .with_state(pool)
}

async fn back(State(pool): State<PgPool>, RawQuery(q): RawQuery) -> Response {
    let Ok(r) = CallbackRedirect::from_query(q.as_deref().unwrap_or("")) else {
        return (StatusCode::BAD_REQUEST, "not a MoCoPay return").into_response();
    };
    let reference = r.reference_id.clone();
    let next: Option<String> =
        match sqlx::query_scalar("SELECT details->>'return_url' FROM orders WHERE reference = $1")
            .bind(&reference)
            .fetch_optional(&pool)
            .await
        {
            Ok(n) => n.flatten(),
            Err(e) => {
                tracing::error!(error = %e, "database error");
                return (StatusCode::SERVICE_UNAVAILABLE, "try again").into_response();
            }
        };
    match next.filter(|n| !n.is_empty()) {
        Some(url) => (StatusCode::FOUND, [(header::LOCATION, url)]).into_response(),
        None => Html("<!doctype html><html><body><p>Thank you. The merchant will confirm your payment.</p></body></html>").into_response(),
    }
}
