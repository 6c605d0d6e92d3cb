//! The simulated Mobiltek (seed 000, docs/providers/mobiltek.md) under `/mobiltek`: the PPE page
//! behind a redirect link (hash checked like the real provider; phone, SMS PIN, confirm),
//! `unsubscribe` with seed 000's plain-text answers, and signed notifications to the adapter
//! (PAYMENT, PAYMENT_FAILED, REGISTRATION, CHARGE, CHARGE_FAILED, UNREGISTRATION). Subscriptions
//! are charged by the service's configured terms (`[sandbox.mobiltek]`) as the sandbox clock
//! moves.

mod pages;
pub mod protocol;
pub mod sim;

pub use sim::{Records, SimTransaction};

use crate::callbacks::{Callback, Delivery};
use crate::config::{ProviderSettings, SandboxSettings};
use crate::report::ChargeInfo;
use crate::simulator::{CompleteRequest, Completed, Due, FieldError, Simulator};
use crate::state::State;
use crate::App;
use axum::routing::{get, post};
use axum::Extension;
use chrono::{DateTime, Utc};
use protocol::Notification;
use serde_json::json;
use std::sync::Arc;

/// The simulated Mobiltek and its `[sandbox.mobiltek]` settings.
pub struct Mobiltek {
    pub settings: ProviderSettings,
}

impl Mobiltek {
    pub const NAME: &'static str = "mobiltek";

    pub fn new(sandbox: &SandboxSettings) -> Result<Self, String> {
        Ok(Self {
            settings: ProviderSettings::load(sandbox, Self::NAME)?,
        })
    }

    /// The user finished (`success`) or abandoned the page behind the link `query`. Call with
    /// `App::callback_order` held; answers after the adapter answered every notification.
    /// Err says why the link cannot be completed.
    pub async fn finish(
        &self,
        app: &App,
        query: &str,
        success: bool,
        charges_fail: bool,
        reason: &str,
    ) -> Result<(String, Vec<Delivery>), String> {
        let link = protocol::parse_link(&self.settings.secret, query)?;
        let notes = {
            let mut state = app.state.lock().await;
            let now = state.now();
            let t = state.records::<Records>().open(&self.settings, &link, now);
            t.complete(success, charges_fail, reason, now)?
        };
        let deliveries = self.notify(app, notes).await;
        Ok((link.transaction_id, deliveries))
    }

    /// The notification as Mobiltek POSTs it: the signed form.
    fn callback(&self, n: &Notification) -> Callback {
        let form = n.signed_form(&self.settings.secret);
        let c = Callback::form(
            &self.settings.notify_url,
            n.kind(),
            n.get("transaction_id"),
            form.iter().map(|(k, v)| (*k, v.as_str())),
        );
        // Money collected: the adapter's ledger key is Mobiltek's `charge_id` as sent.
        let amount = paysys_platform::money::Money::parse_decimal(n.get("amount"), protocol::pln());
        match amount {
            Ok(m) if matches!(n.kind(), "PAYMENT" | "CHARGE") && !n.get("charge_id").is_empty() => {
                c.charge(ChargeInfo::new(
                    n.get("charge_id"),
                    n.get("transaction_id"),
                    m.minor,
                    m.currency.as_str(),
                ))
            }
            _ => c,
        }
    }

    /// Signs and POSTs notifications to the adapter, one after the other.
    pub async fn notify(&self, app: &App, notes: Vec<Notification>) -> Vec<Delivery> {
        self.deliver_all(app, notes.iter().map(|n| self.callback(n)).collect())
            .await
    }
}

#[async_trait::async_trait]
impl Simulator for Mobiltek {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn routes(self: Arc<Self>) -> axum::Router<App> {
        axum::Router::new()
            .route("/mobiltek/ppe", get(pages::ppe))
            .route("/mobiltek/ppe/pin", post(pages::send_pin))
            .route("/mobiltek/ppe/confirm", post(pages::confirm))
            .route("/mobiltek/unsubscribe", post(pages::unsubscribe))
            .layer(Extension(self))
    }

    /// Mobiltek's PPE page.
    fn owns(&self, redirect_url: &url::Url) -> bool {
        redirect_url
            .path()
            .trim_end_matches('/')
            .ends_with("/mobiltek/ppe")
    }

    async fn complete(
        &self,
        app: &App,
        request: &CompleteRequest,
    ) -> Result<Completed, FieldError> {
        let query = request.redirect_url.query().unwrap_or("");
        let (transaction_id, deliveries) = self
            .finish(app, query, request.success, request.charges_fail, "")
            .await
            .map_err(FieldError::redirect_url)?;
        let mut fields = serde_json::Map::new();
        fields.insert("transaction_id".into(), transaction_id.into());
        Ok(Completed { fields, deliveries })
    }

    fn due(&self, state: &mut State, now: DateTime<Utc>) -> Vec<Due> {
        sim::due_at(state.records::<Records>(), now)
            .into_iter()
            .map(|(at, n)| Due {
                at,
                callback: self.callback(&n),
            })
            .collect()
    }

    fn dump(&self, state: &State) -> serde_json::Value {
        let transactions: Vec<&SimTransaction> = state
            .records_ref::<Records>()
            .map(|r| r.transactions.values().collect())
            .unwrap_or_default();
        json!({ "transactions": transactions })
    }
}
