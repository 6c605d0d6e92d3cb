//! Netopia mobilPay as a `Provider` of the adapter kit (seed 003, docs/providers/netopia.md):
//! Start seals a v1 card order for mobilPay's certificate and sends the user to our page, which
//! posts the sealed form to mobilPay's card page; recurrence (`payments_no`, `interval_day`) is
//! asked in the order; `unsubscribe`, `modify_subscription_price` and `move_subscription_payment`
//! go over mobilPay's SOAP service.

use crate::callbacks::Ipn;
use crate::config::{provider_cipher, NetopiaSettings, Settings};
use crate::soap_client::{answer_text, Change, SoapClient};
use crate::wire::{
    Cipher, Contact, ContactKind, Invoice, Order as WireOrder, Recurrence, SealingKey,
};
use paysys_adapter::{
    Adapter, Answer, CallbackEndpoint, Capabilities, Order, Prepared, Provider, ProviderError,
    RecurrenceChange, StartOrder, Started,
};
use paysys_platform::domain::OrderKind;
use secrecy::ExposeSecret;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

pub struct Netopia {
    pub settings: NetopiaSettings,
    pub sealing: SealingKey,
    pub cipher: Cipher,
    pub soap: SoapClient,
}

/// mobilPay's clock and `recurrenceDate` are Romanian local time (seed 003).
pub fn romanian(t: chrono::DateTime<chrono::Utc>) -> chrono::NaiveDateTime {
    t.with_timezone(&chrono_tz::Europe::Bucharest).naive_local()
}

/// A seller account as mobilPay writes it: `XXXX-XXXX-XXXX-XXXX-XXXX`.
pub fn is_seller_account(s: &str) -> bool {
    s.len() == 24
        && s.split('-').count() == 5
        && s.split('-')
            .all(|p| p.len() == 4 && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

fn int(order: &StartOrder, key: &str, min: u32, max: u32) -> Result<Option<u32>, (String, String)> {
    let Some(v) = order.order_config.get(key) else {
        return Ok(None);
    };
    match v.trim().parse::<u32>() {
        Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
        _ => Err((
            format!("payment.config.{key}"),
            format!("must be a whole number from {min} to {max}, got {v:?}"),
        )),
    }
}

#[async_trait::async_trait]
impl Provider for Netopia {
    fn name(&self) -> &'static str {
        "netopia"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            unsubscribe: true,
            change_recurrence: true,
            order_config_keys: &["payments_no", "interval_day"],
            test_environment: self.settings.test_card_url.is_some(),
            currencies: &["RON", "EUR", "USD"],
            ..Default::default()
        }
    }

    fn prepare(&self, order: &StartOrder) -> Result<Prepared, ProviderError> {
        let signature = order.setting("signature").unwrap_or("");
        if !is_seller_account(signature) {
            return Err(ProviderError::invalid(
                "payment.channel_id",
                "the channel's Netopia seller account (config signature) is missing or not XXXX-XXXX-XXXX-XXXX-XXXX",
            ));
        }
        if order.price.minor <= 0 {
            return Err(ProviderError::invalid(
                "articles",
                "a card payment must cost something",
            ));
        }
        let mut bad = Vec::new();
        // Seed 003: payments_no counts every payment, the first included (0 = unlimited);
        // interval_day is the days between payments.
        let payments_no = int(order, "payments_no", 0, 10_000)
            .map_err(|e| bad.push(e))
            .ok()
            .flatten();
        let interval_day = int(order, "interval_day", 1, 3650)
            .map_err(|e| bad.push(e))
            .ok()
            .flatten();
        let mut details = Map::new();
        match order.kind {
            OrderKind::Subscription => {
                if payments_no.is_none() && !order.order_config.contains_key("payments_no") {
                    bad.push((
                        "payment.config.payments_no".into(),
                        "required for a Netopia subscription: the total number of payments, the first included (0 = unlimited)".into(),
                    ));
                }
                if interval_day.is_none() && !order.order_config.contains_key("interval_day") {
                    bad.push((
                        "payment.config.interval_day".into(),
                        "required for a Netopia subscription: the days between payments".into(),
                    ));
                }
                if payments_no == Some(1) {
                    bad.push((
                        "payment.config.payments_no".into(),
                        "1 is a one-time payment: use set_transaction_sync on a one-time channel"
                            .into(),
                    ));
                }
            }
            OrderKind::OneTime => {
                for key in ["payments_no", "interval_day"] {
                    if order.order_config.contains_key(key) {
                        bad.push((
                            format!("payment.config.{key}"),
                            "only a subscription repeats".into(),
                        ));
                    }
                }
            }
        }
        if !bad.is_empty() {
            return Err(ProviderError::Invalid(bad));
        }
        let text = |s: &str| Value::String(s.to_string());
        details.insert("signature".into(), text(signature));
        details.insert("product".into(), text(&order.product_name));
        details.insert("email".into(), text(&order.customer.email));
        details.insert("firstname".into(), text(&order.customer.firstname));
        details.insert("lastname".into(), text(&order.customer.lastname));
        details.insert(
            "phone".into(),
            text(
                order
                    .customer
                    .phone
                    .as_ref()
                    .map(|p| p.as_str())
                    .unwrap_or(""),
            ),
        );
        details.insert(
            "return_url".into(),
            text(order.return_url.as_deref().unwrap_or("")),
        );
        if let Some(d) = interval_day {
            details.insert("interval_day".into(), d.into());
        }
        Ok(Prepared {
            details,
            payments_no: payments_no.unwrap_or(0),
        })
    }

    async fn start(&self, order: &Order) -> Result<Started, ProviderError> {
        let some = |s: &str| (!s.is_empty()).then(|| s.to_string());
        let mut invoice = Invoice::new(order.price);
        invoice.details = some(order.detail("product"));
        invoice.billing = Some(Contact {
            kind: ContactKind::Person,
            first_name: some(order.detail("firstname")),
            last_name: some(order.detail("lastname")),
            address: None,
            email: some(order.detail("email")),
            mobile_phone: some(order.detail("phone")),
        });
        let mut w = WireOrder::new(
            order.reference.clone(),
            romanian(chrono::Utc::now()),
            order.detail("signature"),
            invoice,
        );
        if order.kind == OrderKind::Subscription {
            w.recurrence = Some(Recurrence {
                payments_no: order.payments_no,
                interval_day: order
                    .details
                    .get("interval_day")
                    .and_then(Value::as_u64)
                    .and_then(|d| u32::try_from(d).ok())
                    .unwrap_or(30),
            });
        }
        w.confirm_url = Some(format!(
            "{}/netopia/ipn",
            self.settings.public_url.trim_end_matches('/')
        ));
        w.return_url = some(order.detail("return_url"));
        let xml = w
            .to_xml()
            .map_err(|e| ProviderError::invalid("params", e.to_string()))?;
        let sealed = self
            .sealing
            .seal(xml.as_bytes(), self.cipher)
            .map_err(|e| ProviderError::Internal(anyhow::anyhow!("sealing the order: {e}")))?;
        let card_url = match (&self.settings.test_card_url, order.test) {
            (Some(t), true) => t.clone(),
            _ => self.settings.card_url.clone(),
        };
        let mut details = Map::new();
        details.insert("card_url".into(), card_url.into());
        for (k, v) in sealed.form_fields() {
            details.insert(k.into(), v.into());
        }
        Ok(Started {
            provider_ref: order.reference.clone(),
            redirect_url: format!(
                "{}/netopia/pay/{}",
                self.settings.public_url.trim_end_matches('/'),
                order.reference
            ),
            details,
        })
    }

    async fn unsubscribe(
        &self,
        order: &Order,
        _client_ip: Option<IpAddr>,
    ) -> Result<Answer, ProviderError> {
        let r = self
            .soap
            .change(order.detail("signature"), &order.reference, &Change::Cancel)
            .await?;
        Ok(Answer {
            text: answer_text(&r),
            ok: r.code.is_ok(),
            // mobilPay sends no notification of a cancelled recurrence: its 0x5000 is the word.
            ends_subscription: true,
        })
    }

    async fn change_recurrence(
        &self,
        order: &Order,
        change: &RecurrenceChange,
    ) -> Result<Answer, ProviderError> {
        let change = match change {
            RecurrenceChange::Price(p) => Change::Price(p.minor),
            RecurrenceChange::NextChargeAt(at) => Change::Move(romanian(*at)),
        };
        let r = self
            .soap
            .change(order.detail("signature"), &order.reference, &change)
            .await?;
        Ok(Answer {
            text: answer_text(&r),
            ok: r.code.is_ok(),
            ends_subscription: false,
        })
    }

    fn pages(&self, pool: sqlx::PgPool) -> Option<axum::Router> {
        Some(crate::pages::router(pool))
    }

    fn event_fields(&self, order: &Order) -> BTreeMap<String, String> {
        let mut f = BTreeMap::new();
        if order.kind == OrderKind::Subscription {
            f.insert("netopia_payments_no".into(), order.payments_no.to_string());
        }
        f
    }
}

impl Adapter for Netopia {
    type Settings = Settings;
    const SERVICE: &'static str = "provider-netopia";

    fn migrations() -> &'static sqlx::migrate::Migrator {
        static M: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/netopia");
        &M
    }

    fn build(s: &Settings) -> anyhow::Result<(Self, Vec<Arc<dyn CallbackEndpoint>>)> {
        let n = &s.netopia;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(n.request_timeout_ms))
            .build()?;
        let sealing = SealingKey::from_certificate_pem(
            &n.netopia_certificate().map_err(|e| anyhow::anyhow!(e))?,
        )
        .map_err(|e| anyhow::anyhow!("netopia.netopia_certificate_pem: {e}"))?;
        let opening = crate::wire::OpeningKey::from_pem(
            n.seller_private_key()
                .map_err(|e| anyhow::anyhow!(e))?
                .expose_secret(),
        )
        .map_err(|e| anyhow::anyhow!("netopia.seller_private_key_pem: {e}"))?;
        let cipher = provider_cipher(&n.cipher)
            .ok_or_else(|| anyhow::anyhow!("netopia.cipher: rc4 or aes-256-cbc"))?;
        let soap = SoapClient::new(
            http.clone(),
            n.soap_url.clone(),
            n.soap_username.clone(),
            n.soap_password.clone(),
        );
        Ok((
            Netopia {
                settings: n.clone(),
                sealing,
                cipher,
                soap,
            },
            vec![Arc::new(Ipn { opening })],
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seller_accounts_have_five_groups_of_four() {
        assert!(is_seller_account("ABCD-1234-EFGH-5678-IJKL"));
        assert!(!is_seller_account("ABCD-1234-EFGH-5678"));
        assert!(!is_seller_account("ABCD-1234-EFGH-5678-IJK!"));
        assert!(!is_seller_account(""));
    }

    #[test]
    fn mobilpay_time_is_romanian_local() {
        let t = chrono::DateTime::parse_from_rfc3339("2026-07-01T09:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(romanian(t).to_string(), "2026-07-01 12:00:00");
    }
}
