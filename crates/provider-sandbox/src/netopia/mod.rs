//! The simulated Netopia mobilPay (seed 003, docs/providers/netopia.md) under `/netopia`: the
//! card page a browser posts the sealed order to (opened with mobilPay's private key), the
//! published test cards plus a 3-D Secure one, IPNs sealed for the seller's certificate and
//! resent by the merchant's `<crc>` answer, recurring payments every `interval_day` days until
//! `payments_no` as the sandbox clock moves, and the SOAP recurrence service. It speaks the
//! adapter's public wire layer (`provider_netopia::wire`), so both read and write one protocol.

pub mod browser;
pub mod cards;
pub mod config;
pub mod ipn;
mod pages;
pub mod sim;
mod soap;

pub use sim::{Records, SimOrder};

use self::config::NetopiaSettings;
use crate::callbacks::{Callback, Delivery};
use crate::config::SandboxSettings;
use crate::simulator::{CompleteRequest, Completed, Due, FieldError, Simulator};
use crate::state::State;
use crate::App;
use axum::routing::{get, post};
use axum::Extension;
use chrono::{DateTime, Utc};
use provider_netopia::wire::{Cipher, Envelope, Order};
use serde_json::{json, Map, Value};
use sim::Choice;
use std::collections::HashMap;
use std::sync::Arc;

/// The simulated mobilPay and its `[sandbox.netopia]` settings.
pub struct Netopia {
    pub settings: NetopiaSettings,
}

/// What paying (or abandoning) a card page did.
#[derive(Debug)]
pub struct Paid {
    pub order_id: String,
    pub approved: bool,
    pub error_code: u32,
    pub purchase: Option<String>,
    pub current_payment_count: Option<u32>,
    pub delivery: Delivery,
}

impl Netopia {
    pub const NAME: &'static str = "netopia";

    pub fn new(sandbox: &SandboxSettings) -> Result<Self, String> {
        Ok(Self {
            settings: NetopiaSettings::load(sandbox)?,
        })
    }

    /// The card page's first step: the posted form opened into an order mobilPay takes, and the
    /// cipher its IPNs are sealed with. Err says why not (a forged or damaged envelope reads as
    /// one error, whatever failed inside).
    pub fn accept(&self, form: &HashMap<String, String>) -> Result<(Order, Cipher), String> {
        let envelope = Envelope::from_form(form).map_err(|e| format!("envelope: {e}"))?;
        let plain = self
            .settings
            .opening
            .open(&envelope)
            .map_err(|_| "the order does not open with mobilPay's private key".to_string())?;
        let xml = std::str::from_utf8(&plain).map_err(|_| "the order is not UTF-8".to_string())?;
        let order = Order::from_xml(xml).map_err(|e| e.to_string())?;
        if !self.settings.knows_seller(&order.signature) {
            return Err(format!(
                "order.signature: seller account {:?} is not known to mobilPay",
                order.signature
            ));
        }
        let confirm_ok = order
            .confirm_url
            .as_deref()
            .and_then(|u| url::Url::parse(u).ok())
            .is_some_and(|u| matches!(u.scheme(), "http" | "https"));
        if !confirm_ok {
            return Err(
                "order.url.confirm: an http(s) URL is required (the sandbox has no account-level IPN URL)"
                    .into(),
            );
        }
        if self.settings.seller.is_none() {
            return Err("sandbox.netopia.seller_certificate_pem is not configured: the sandbox cannot seal IPNs".into());
        }
        let cipher = order.ipn_cipher.unwrap_or(envelope.cipher);
        Ok((order, cipher))
    }

    /// Records the order on first sight, decides the user's `choice`, seals and sends the IPN.
    /// Call with `App::callback_order` held. Err when the order was decided before.
    pub async fn pay(
        &self,
        app: &App,
        order: Order,
        cipher: Cipher,
        choice: &Choice,
        charges_fail: bool,
    ) -> Result<Paid, String> {
        let seller = self
            .settings
            .seller
            .as_ref()
            .ok_or("sandbox.netopia.seller_certificate_pem is not configured")?;
        let key = (order.signature.clone(), order.id.clone());
        let outgoing = {
            let mut state = app.state.lock().await;
            let now = state.now();
            let records = state.records::<Records>();
            records.open(order, cipher, now);
            records.pay(&key, choice, charges_fail, now)?
        };
        let callback = outgoing.seal(seller)?;
        let delivery = self.deliver(app, &callback).await;
        let n = &outgoing.ipn.notify;
        Ok(Paid {
            order_id: key.1,
            approved: n.error.code.is_approved(),
            error_code: n.error.code.0,
            purchase: n.purchase.clone(),
            current_payment_count: n.current_payment_count,
            delivery,
        })
    }

    /// The test card `/_sandbox/complete` pays with: `"card"` (a test card number or `"3ds"`),
    /// the approved card by default.
    fn complete_card(extra: &Map<String, Value>) -> Result<&'static cards::TestCard, FieldError> {
        let number = match extra.get("card") {
            None | Some(Value::Null) => cards::APPROVED,
            Some(Value::String(s)) if s.eq_ignore_ascii_case("3ds") => cards::THREE_DS,
            Some(Value::String(s)) => s.as_str(),
            Some(_) => {
                return Err(FieldError::new(
                    "card",
                    "must be a sandbox test card number or \"3ds\"",
                ))
            }
        };
        cards::find(number).ok_or_else(|| {
            FieldError::new(
                "card",
                format!(
                    "{number:?} is not a sandbox test card ({})",
                    cards::CARDS
                        .iter()
                        .map(|c| c.number)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })
    }
}

/// The reference of a merchant page `.../netopia/pay/{reference}`.
fn pay_page_reference(url: &url::Url) -> Option<&str> {
    let path = url.path();
    let path = path.strip_suffix('/').unwrap_or(path);
    path.rsplit_once("/netopia/pay/")
        .map(|(_, reference)| reference)
        .filter(|r| !r.is_empty() && !r.contains('/'))
}

#[async_trait::async_trait]
impl Simulator for Netopia {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn routes(self: Arc<Self>) -> axum::Router<App> {
        axum::Router::new()
            .route("/netopia/card", post(pages::card))
            .route("/netopia/card/pay", post(pages::pay))
            .route("/netopia/api/payment", get(soap::wsdl).post(soap::call))
            .route("/_sandbox/netopia/keys", get(pages::keys))
            .layer(Extension(self))
    }

    /// The merchant's page behind a Netopia `redirect_url` (`{adapter}/netopia/pay/{reference}`),
    /// which posts the sealed order to this card page.
    fn owns(&self, redirect_url: &url::Url) -> bool {
        pay_page_reference(redirect_url).is_some()
    }

    /// The user opens the merchant's page (its form carries the sealed order) and pays with the
    /// chosen test card, or abandons (`canceled`, error 99); answers after the IPN was answered.
    async fn complete(
        &self,
        app: &App,
        request: &CompleteRequest,
    ) -> Result<Completed, FieldError> {
        let card = Self::complete_card(&request.extra)?;
        let form = browser::fetch_form(&app.http, &request.redirect_url)
            .await
            .map_err(FieldError::redirect_url)?;
        let posts_here = url::Url::parse(&form.action)
            .is_ok_and(|u| u.path().trim_end_matches('/').ends_with("/netopia/card"));
        if !posts_here {
            return Err(FieldError::redirect_url(format!(
                "the page posts to {:?}, not to a mobilPay card page",
                form.action
            )));
        }
        let (order, cipher) = self
            .accept(&form.fields)
            .map_err(FieldError::redirect_url)?;
        let choice = if request.success {
            Choice::Card {
                outcome: cards::decide(card, cards::APPROVED_CVV),
                pan_masked: cards::mask(card.number),
            }
        } else {
            Choice::Abandon
        };
        let paid = self
            .pay(app, order, cipher, &choice, request.charges_fail)
            .await
            .map_err(FieldError::redirect_url)?;
        let mut fields = Map::new();
        fields.insert("order_id".into(), paid.order_id.into());
        fields.insert("approved".into(), paid.approved.into());
        fields.insert("error_code".into(), paid.error_code.into());
        fields.insert("purchase".into(), json!(paid.purchase));
        fields.insert(
            "current_payment_count".into(),
            json!(paid.current_payment_count),
        );
        Ok(Completed {
            fields,
            deliveries: vec![paid.delivery],
        })
    }

    fn due(&self, state: &mut State, now: DateTime<Utc>) -> Vec<Due> {
        let Some(seller) = &self.settings.seller else {
            return Vec::new();
        };
        state
            .records::<Records>()
            .due(now)
            .into_iter()
            .filter_map(|(at, outgoing)| match outgoing.seal(seller) {
                Ok(callback) => Some(Due { at, callback }),
                Err(e) => {
                    tracing::error!(error = %e, order = %outgoing.ipn.order.id, "IPN not sealed; payment not notified");
                    None
                }
            })
            .collect()
    }

    /// mobilPay reads the `<crc>` answer, not the status (`ipn::deliver`).
    async fn deliver(&self, app: &App, callback: &Callback) -> Delivery {
        ipn::deliver(app, Self::NAME, callback).await
    }

    fn dump(&self, state: &State) -> Value {
        let empty = Records::default();
        let r = state.records_ref::<Records>().unwrap_or(&empty);
        json!({
            "orders": r.orders.values().map(SimOrder::view).collect::<Vec<_>>(),
            "soap_sessions": r.sessions.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owns_the_merchants_pay_page() {
        let u = |s: &str| url::Url::parse(s).unwrap();
        assert_eq!(
            pay_page_reference(&u("http://127.0.0.1:8103/netopia/pay/abc-1")),
            Some("abc-1")
        );
        assert!(pay_page_reference(&u("http://x/netopia/pay/")).is_none());
        assert!(pay_page_reference(&u("http://x/netopia/card")).is_none());
        assert!(pay_page_reference(&u("http://x/netopia/pay/a/b")).is_none());
        assert!(pay_page_reference(&u("http://x/mobiltek/ppe?x=1")).is_none());
    }
}
