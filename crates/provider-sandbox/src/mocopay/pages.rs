//! MoCoPay's checkout page, where initPayment's `redirectUrl` sends the user (seed 004: "payment
//! forms which instruct how to pay": usually an SMS to MoCoPay's short code, or billing by the
//! operator), with its two buttons: pay and cancel. Either finishes the checkout like
//! `/_sandbox/complete` does, then sends the browser to the callbackUrl (302, seed 004).
//! Everything echoed into HTML is escaped: the values come from merchants.

use super::sim::Records;
use super::Mocopay;
use crate::App;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Extension;
use html_escape::encode_text as text;
use paysys_platform::money::{Currency, Money};
use provider_mocopay::{SessionStatus, SessionType};
use std::sync::Arc;

fn page(status: StatusCode, body: &str) -> Response {
    (
        status,
        Html(format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>MoCoPay</title></head>\
             <body><h1>MoCoPay (sandbox)</h1>{body}</body></html>"
        )),
    )
        .into_response()
}

/// The code to text: `MOCO` and the first six digits of the requestId.
fn sms_code(request_id: &str) -> String {
    format!(
        "MOCO {}",
        request_id
            .chars()
            .take(6)
            .collect::<String>()
            .to_ascii_uppercase()
    )
}

/// `GET /mocopay/checkout/{requestId}`.
pub async fn checkout(
    State(app): State<App>,
    Extension(m): Extension<Arc<Mocopay>>,
    Path(id): Path<String>,
) -> Response {
    let mut state = app.state.lock().await;
    let Some(s) = state.records::<Records>().sessions.get(&id) else {
        return page(
            StatusCode::NOT_FOUND,
            "<p>No such payment. It may have expired.</p>",
        );
    };
    if s.status != SessionStatus::Init {
        return page(
            StatusCode::OK,
            &format!(
                "<p>This payment is finished ({}). You can close this window.</p>",
                text(s.status.as_str())
            ),
        );
    }
    let price = Currency::parse(&s.currency)
        .map(|c| {
            format!(
                "{} {}",
                Money::new(s.amount_minor, c).to_decimal_fixed(),
                c.as_str()
            )
        })
        .unwrap_or_else(|_| format!("{} {}", s.amount_minor, s.currency));
    let terms = match s.kind {
        SessionType::OneTime => format!("{price}, once"),
        SessionType::Subscription => format!(
            "{price} now and every {} days until you stop the subscription with your operator",
            s.period_secs as f64 / 86_400.0
        ),
    };
    let base = format!(
        "{}/mocopay/checkout/{}",
        app.settings.public_url.trim_end_matches('/'),
        text(&id)
    );
    page(
        StatusCode::OK,
        &format!(
            "<p>Product <b>{pid}</b>: {terms}.{test}</p>\
             <p>To pay, send an SMS with the text <b>{code}</b> to the short code <b>{short}</b>; \
             MoCoPay answers with a billing SMS. Or let your operator bill you: press Pay.</p>\
             <form method=\"post\" action=\"{base}/pay\"><button>Pay</button></form>\
             <form method=\"post\" action=\"{base}/cancel\"><button>Cancel</button></form>\
             <p>Sandbox: POST /_sandbox/complete {{\"redirect_url\": this page's URL, \"outcome\": \
             \"success\"}} does the same as Pay.</p>",
            pid = text(&s.init.pid),
            test = if s.test {
                " Test environment: no real money."
            } else {
                ""
            },
            code = text(&sms_code(&id)),
            short = text(&m.settings.short_code),
        ),
    )
}

/// `POST /mocopay/checkout/{requestId}/pay`.
pub async fn pay(
    State(app): State<App>,
    Extension(m): Extension<Arc<Mocopay>>,
    Path(id): Path<String>,
) -> Response {
    finish(&app, &m, &id, true).await
}

/// `POST /mocopay/checkout/{requestId}/cancel`.
pub async fn cancel(
    State(app): State<App>,
    Extension(m): Extension<Arc<Mocopay>>,
    Path(id): Path<String>,
) -> Response {
    finish(&app, &m, &id, false).await
}

async fn finish(app: &App, m: &Mocopay, id: &str, success: bool) -> Response {
    // Decided and delivered in order with every other callback of the sandbox.
    let _in_order = app.callback_order.lock().await;
    match m.finish(app, id, success, false, None).await {
        Ok(done) => match done.location {
            Some(location) => (StatusCode::FOUND, [(header::LOCATION, location)]).into_response(),
            None => page(
                StatusCode::OK,
                &format!(
                    "<p>Payment {}. You can close this window.</p>",
                    text(done.finished.status.as_str())
                ),
            ),
        },
        Err(why) => page(StatusCode::CONFLICT, &format!("<p>{}</p>", text(&why))),
    }
}
