//! The simulated Teleaudio (docs/providers/teleaudio.md) under `/teleaudio`. Subscriptions (seed
//! 001): created by the adapter, confirmed by the user on Teleaudio's page, renewed by Teleaudio
//! by the service's period (`[sandbox.teleaudio]`). Webbilling (seed 002): Teleaudio texts a
//! code to the phone; the code is checked at most three times (BADTOKEN, then TRYEXCEEDED at the
//! third wrong one, BADTRANSACTION for an unknown transaction); money collected ->
//! PAYMENT_SUCCESS callback. Every body is signed with `X-Teleaudio-Signature` (HMAC-SHA256):
//! requests are checked (`api`), callbacks are signed (`Teleaudio::callback`).

mod api;
pub mod sim;

pub use sim::{Records, Subscription, Webbilling, MAX_TRIES};

use crate::callbacks::Callback;
use crate::config::{ProviderSettings, SandboxSettings};
use crate::report::ChargeInfo;
use crate::simulator::{CompleteRequest, Completed, Due, FieldError, Simulator};
use crate::state::State;
use crate::App;
use axum::routing::{get, post};
use axum::Extension;
use chrono::{DateTime, Utc};
use paysys_platform::signing::hmac_sha256_hex;
use serde_json::{json, Value};
use std::sync::Arc;

/// The simulated Teleaudio and its `[sandbox.teleaudio]` settings.
pub struct Teleaudio {
    pub settings: ProviderSettings,
}

impl Teleaudio {
    pub const NAME: &'static str = "teleaudio";

    pub fn new(sandbox: &SandboxSettings) -> Result<Self, String> {
        Ok(Self {
            settings: ProviderSettings::load(sandbox, Self::NAME)?,
        })
    }

    /// A callback body as Teleaudio POSTs it: JSON, signed in `X-Teleaudio-Signature`.
    fn callback(&self, body: &Value) -> Callback {
        let kind = body["type"].as_str().unwrap_or("");
        let reference = body["provider_id"].as_str().unwrap_or("");
        let c = Callback::json(&self.settings.notify_url, kind, reference, body);
        let sig = hmac_sha256_hex(self.settings.secret.as_bytes(), c.body.as_bytes());
        let c = c.header("x-teleaudio-signature", sig);
        // Money collected: the adapter's ledger key is the callback's `charge_id`.
        let charge_id = body["charge_id"].as_str().unwrap_or("");
        if matches!(kind, "CHARGE_SUCCESS" | "PAYMENT_SUCCESS") && !charge_id.is_empty() {
            c.charge(ChargeInfo::new(
                charge_id,
                body["reference"].as_str().unwrap_or(""),
                body["amount"].as_i64().unwrap_or(0),
                body["currency"].as_str().unwrap_or(""),
            ))
        } else {
            c
        }
    }
}

/// The subscription id of a confirmation page URL (`.../teleaudio/confirm/{id}`).
fn confirm_page_id(url: &url::Url) -> Option<&str> {
    let path = url.path();
    path.strip_suffix('/')
        .unwrap_or(path)
        .rsplit_once("/teleaudio/confirm/")
        .map(|(_, id)| id)
}

#[async_trait::async_trait]
impl Simulator for Teleaudio {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn routes(self: Arc<Self>) -> axum::Router<App> {
        axum::Router::new()
            .route("/teleaudio/subscriptions", post(api::create_subscription))
            .route(
                "/teleaudio/subscriptions/{id}/cancel",
                post(api::cancel_subscription),
            )
            .route("/teleaudio/confirm/{id}", get(api::confirm_page))
            .route("/teleaudio/webbilling", post(api::start_webbilling))
            .route(
                "/teleaudio/webbilling/{id}/confirm",
                post(api::confirm_webbilling),
            )
            .layer(Extension(self))
    }

    /// The subscription confirmation page.
    fn owns(&self, redirect_url: &url::Url) -> bool {
        confirm_page_id(redirect_url).is_some()
    }

    /// The user confirmed (or refused) the subscription at its page.
    async fn complete(
        &self,
        app: &App,
        request: &CompleteRequest,
    ) -> Result<Completed, FieldError> {
        let id = confirm_page_id(&request.redirect_url).unwrap_or("");
        let bodies = {
            let mut state = app.state.lock().await;
            let now = state.now();
            let s = state
                .records::<Records>()
                .subscriptions
                .get_mut(id)
                .ok_or_else(|| {
                    FieldError::redirect_url(format!("no Teleaudio subscription {id}"))
                })?;
            s.complete(request.success, request.charges_fail, now)
                .map_err(FieldError::redirect_url)?
        };
        let callbacks = bodies.iter().map(|b| self.callback(b)).collect();
        Ok(Completed {
            fields: Default::default(),
            deliveries: self.deliver_all(app, callbacks).await,
        })
    }

    fn due(&self, state: &mut State, now: DateTime<Utc>) -> Vec<Due> {
        state
            .records::<Records>()
            .due(now)
            .into_iter()
            .map(|(at, body)| Due {
                at,
                callback: self.callback(&body),
            })
            .collect()
    }

    fn dump(&self, state: &State) -> Value {
        let empty = Records::default();
        let r = state.records_ref::<Records>().unwrap_or(&empty);
        json!({
            "subscriptions": r.subscriptions.values().collect::<Vec<_>>(),
            "webbilling": r.webbilling.values().collect::<Vec<_>>(),
        })
    }
}
