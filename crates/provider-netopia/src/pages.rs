//! `GET /netopia/pay/{reference}`: the page behind a Netopia `redirect_url`. mobilPay's card page
//! takes the sealed order as a browser form POST (`env_key`, `data`, `cipher`, `iv`), so this page
//! holds that form and posts it itself; without JavaScript the user presses the button.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use sqlx::PgPool;

pub fn router(pool: PgPool) -> axum::Router {
    axum::Router::new()
        .route("/netopia/pay/{reference}", get(page))
        .with_state(pool)
}

fn esc(s: &str) -> String {
    html_escape::encode_double_quoted_attribute(s).into_owned()
}

async fn page(State(pool): State<PgPool>, Path(reference): Path<String>) -> Response {
    if reference.len() > 64 {
        return (StatusCode::NOT_FOUND, "no such payment").into_response();
    }
    let details: Option<sqlx::types::Json<serde_json::Map<String, serde_json::Value>>> =
        match sqlx::query_scalar("SELECT details FROM orders WHERE reference = $1 AND started")
            .bind(&reference)
            .fetch_optional(&pool)
            .await
        {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(error = %e, "database error");
                return (StatusCode::SERVICE_UNAVAILABLE, "try again").into_response();
            }
        };
    let Some(d) = details else {
        return (StatusCode::NOT_FOUND, "no such payment").into_response();
    };
    let get = |k: &str| {
        d.0.get(k)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string()
    };
    let mut inputs = String::new();
    for k in ["env_key", "data", "cipher", "iv"] {
        let v = get(k);
        if !v.is_empty() {
            inputs.push_str(&format!(
                "<input type=\"hidden\" name=\"{k}\" value=\"{}\">\n",
                esc(&v)
            ));
        }
    }
    Html(format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Card payment</title></head>\n\
         <body onload=\"document.getElementById('pay').submit()\">\n\
         <p>Taking you to the card payment page of mobilPay&hellip;</p>\n\
         <form id=\"pay\" method=\"post\" action=\"{}\">\n{inputs}<button type=\"submit\">Pay by card</button>\n</form>\n</body></html>\n",
        esc(&get("card_url"))
    ))
    .into_response()
}
