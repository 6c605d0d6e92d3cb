//! Teleaudio's HTTP surface (docs/providers/teleaudio.md): every request body is checked
//! against `X-Teleaudio-Signature` (HMAC-SHA256 with the shared secret) after the fault mode
//! (the `Signed` extractor); answers are Teleaudio's JSON (`{"status","code","message"}` on
//! errors, seed 002's codes).

use super::sim::Records;
use super::Teleaudio;
use crate::faults::{self, Outage};
use crate::simulator::Simulator;
use crate::App;
use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::{Extension, Json};
use paysys_platform::money::{Currency, Money};
use paysys_platform::signing::{ct_eq, hmac_sha256_hex};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

/// Teleaudio's error answer: `{"status":"ERROR","code","message"}`.
pub struct Failure {
    status: StatusCode,
    code: String,
    message: String,
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({"status": "ERROR", "code": self.code, "message": self.message})),
        )
            .into_response()
    }
}

fn error(status: StatusCode, code: &str, message: &str) -> Failure {
    Failure {
        status,
        code: code.into(),
        message: message.into(),
    }
}

/// Seed 002's answer codes travel with HTTP 200.
fn refused(code: &str) -> Failure {
    error(StatusCode::OK, code, code)
}

/// A handler's answer; `?` answers a `Failure` early.
type Answer = Result<Response, Failure>;

/// A request body Teleaudio accepted: the fault mode let the call through and the body's
/// `X-Teleaudio-Signature` verifies. Rejected with Teleaudio's own answer.
pub struct Signed(Bytes);

impl Signed {
    /// The body as `T`; `expected` names the fields when it does not parse.
    fn parse<T: DeserializeOwned>(&self, expected: &str) -> Result<T, Failure> {
        serde_json::from_slice(&self.0).map_err(|_| error(StatusCode::BAD_REQUEST, "400", expected))
    }
}

impl FromRequest<App> for Signed {
    type Rejection = Failure;

    async fn from_request(req: Request, app: &App) -> Result<Self, Failure> {
        match faults::outage(app, Teleaudio::NAME).await {
            // Hung, and answers an error without acting: the caller has long given up.
            Some(Outage::TimedOut) => {
                return Err(error(StatusCode::GATEWAY_TIMEOUT, "504", "timeout"))
            }
            Some(Outage::Error) => {
                return Err(error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "500",
                    "internal error",
                ))
            }
            None => {}
        }
        let Some(ta) = req.extensions().get::<Arc<Teleaudio>>().cloned() else {
            return Err(error(StatusCode::NOT_FOUND, "404", "not a Teleaudio route"));
        };
        let sig = req
            .headers()
            .get("x-teleaudio-signature")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let body = Bytes::from_request(req, app)
            .await
            .map_err(|r| error(r.status(), r.status().as_str(), &r.body_text()))?;
        if !ct_eq(&hmac_sha256_hex(ta.settings.secret.as_bytes(), &body), &sig) {
            return Err(error(StatusCode::UNAUTHORIZED, "401", "bad signature"));
        }
        Ok(Self(body))
    }
}

#[derive(Deserialize)]
pub struct CreateSubscription {
    reference: String,
    service_id: String,
    msisdn: String,
    #[serde(default)]
    amount: i64,
}

/// `POST /teleaudio/subscriptions`: a pending subscription and the page confirming it.
pub async fn create_subscription(
    State(app): State<App>,
    Extension(ta): Extension<Arc<Teleaudio>>,
    body: Signed,
) -> Answer {
    let c: CreateSubscription = body.parse("expected reference, service_id, msisdn")?;
    if c.service_id.is_empty() || c.msisdn.is_empty() || c.reference.is_empty() {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "400",
            "reference, service_id and msisdn are required",
        ));
    }
    let terms = ta.settings.terms(&c.service_id, c.amount);
    let id = app
        .state
        .lock()
        .await
        .records::<Records>()
        .create_subscription(&c.reference, &c.service_id, &c.msisdn, terms);
    let confirm_url = format!(
        "{}/teleaudio/confirm/{id}",
        app.settings.public_url.trim_end_matches('/')
    );
    Ok(Json(json!({"subscription_id": id, "confirm_url": confirm_url})).into_response())
}

/// `GET /teleaudio/confirm/{id}`: the page where the user confirms the subscription.
pub async fn confirm_page(State(app): State<App>, Path(id): Path<String>) -> Response {
    let mut state = app.state.lock().await;
    match state.records::<Records>().subscriptions.get(&id) {
        Some(s) => Html(format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>Teleaudio</title></head><body>\
             <h1>Teleaudio subscription (sandbox)</h1><p>Service {}: {} grosz every {} days, billed to {}.</p>\
             <button>Confirm</button><p>Sandbox: POST /_sandbox/complete {{\"redirect_url\": this page's URL, \"outcome\": \"success\"}}.</p></body></html>",
            html_escape::encode_text(&s.service_id),
            s.amount_minor,
            s.period_secs / 86_400,
            html_escape::encode_text(&s.msisdn)
        ))
        .into_response(),
        None => (StatusCode::NOT_FOUND, Html("<h1>Teleaudio</h1><p>No such subscription.</p>".to_string())).into_response(),
    }
}

/// `POST /teleaudio/subscriptions/{id}/cancel`: answered verbatim to the merchant.
pub async fn cancel_subscription(
    State(app): State<App>,
    Extension(ta): Extension<Arc<Teleaudio>>,
    Path(id): Path<String>,
    _: Signed,
) -> Answer {
    // Decided and delivered under the ordering lock: the cancellation reaches the adapter
    // after every charge decided before it, and before this answer.
    let _in_order = app.callback_order.lock().await;
    let cancelled = {
        let mut state = app.state.lock().await;
        let now = state.now();
        state
            .records::<Records>()
            .subscriptions
            .get_mut(&id)
            .and_then(|s| s.cancel(now))
    };
    match cancelled {
        Some(cb) => {
            ta.deliver_all(&app, vec![ta.callback(&cb)]).await;
            Ok(
                Json(json!({"status": "OK", "code": "200", "message": "Subscription cancelled"}))
                    .into_response(),
            )
        }
        None => Err(error(StatusCode::OK, "404", "Subscription not found")),
    }
}

#[derive(Deserialize)]
pub struct StartWebbilling {
    reference: String,
    msisdn: String,
    amount: i64,
}

/// `POST /teleaudio/webbilling`: texts a code to the phone.
pub async fn start_webbilling(State(app): State<App>, body: Signed) -> Answer {
    let w: StartWebbilling = body.parse("expected reference, msisdn, amount")?;
    if w.amount <= 0 || w.msisdn.is_empty() || w.reference.is_empty() {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "400",
            "reference, msisdn and a positive amount are required",
        ));
    }
    let mut state = app.state.lock().await;
    let (id, code) = state
        .records::<Records>()
        .start_webbilling(&w.reference, &w.msisdn, w.amount);
    if let Some(code) = code {
        let zl = Money::new(w.amount, Currency::parse("PLN").expect("PLN"));
        state.send_sms(
            &w.msisdn,
            "Teleaudio",
            format!(
                "Your payment code: {code}. Amount {} PLN.",
                zl.to_decimal_fixed()
            ),
        );
    }
    Ok(Json(json!({"transaction_id": id})).into_response())
}

#[derive(Deserialize)]
pub struct Confirm {
    code: String,
}

/// `POST /teleaudio/webbilling/{id}/confirm`: seed 002's answers.
pub async fn confirm_webbilling(
    State(app): State<App>,
    Extension(ta): Extension<Arc<Teleaudio>>,
    Path(id): Path<String>,
    body: Signed,
) -> Answer {
    let c: Confirm = body.parse("expected code")?;
    let _in_order = app.callback_order.lock().await;
    let decided = {
        let mut state = app.state.lock().await;
        let now = state.now();
        match state.records::<Records>().webbilling.get_mut(&id) {
            Some(w) => w.confirm(&c.code, now),
            None => Err("BADTRANSACTION"),
        }
    };
    let cb = decided.map_err(refused)?;
    let failed = cb["type"] == "PAYMENT_FAILED";
    // Teleaudio collects the money and calls back before it answers.
    ta.deliver_all(&app, vec![ta.callback(&cb)]).await;
    if failed {
        Err(refused("TRYEXCEEDED"))
    } else {
        Ok(Json(json!({"status": "OK", "code": "200", "message": "OK"})).into_response())
    }
}
