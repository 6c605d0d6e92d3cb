//! Mobiltek as a `Provider` of the adapter kit (seed 000, docs/providers/mobiltek.md): Start
//! builds the PPE link (no call to Mobiltek; the link carries our 16-digit transaction id and
//! its hash), `unsubscribe` asks Mobiltek and passes its plain-text answer on verbatim.

use crate::callbacks::Notify;
use crate::config::{MobiltekSettings, Settings};
use crate::wire::{self, PpeLink, UnsubscribeAnswer};
use paysys_adapter::{
    Adapter, Answer, CallbackEndpoint, Capabilities, Order, Prepared, Provider, ProviderError,
    StartOrder, Started,
};
use paysys_platform::domain::OrderKind;
use rand::Rng;
use secrecy::ExposeSecret;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

pub struct Mobiltek {
    pub settings: MobiltekSettings,
    pub http: reqwest::Client,
}

/// A fresh 16-digit transaction id, like seed 000's `1000014896266637`. Random rather than a
/// sequence, so two PaySystem environments (or a reset database) on one Mobiltek account never
/// reuse an id; a collision is retried by the kit.
pub fn new_transaction_id() -> String {
    let mut rng = rand::rng();
    format!(
        "{}{:015}",
        rng.random_range(1..=9u8),
        rng.random_range(0..1_000_000_000_000_000u64)
    )
}

#[async_trait::async_trait]
impl Provider for Mobiltek {
    fn name(&self) -> &'static str {
        "mobiltek"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            unsubscribe: true,
            currencies: &["PLN"],
            test_environment: self.settings.test_base_url.is_some(),
            ..Default::default()
        }
    }

    fn new_reference(&self) -> String {
        new_transaction_id()
    }

    fn prepare(&self, order: &StartOrder) -> Result<Prepared, ProviderError> {
        let service_id = order
            .setting("service_id")
            .unwrap_or(&self.settings.default_service_id)
            .to_string();
        if !service_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ProviderError::invalid(
                "payment.channel_id",
                format!("the channel's Mobiltek service_id {service_id:?} is not numeric"),
            ));
        }
        let mut details = serde_json::Map::new();
        details.insert("service_id".into(), service_id.into());
        // Empty: Mobiltek's page asks for the number.
        details.insert(
            "msisdn".into(),
            order
                .customer
                .phone
                .as_ref()
                .map(|p| p.as_str().to_string())
                .unwrap_or_default()
                .into(),
        );
        details.insert(
            "user_ip".into(),
            order
                .client_ip
                .map(|i| i.to_string())
                .unwrap_or_default()
                .into(),
        );
        // Seed 000 sends the merchant's next_url as both return_url and error_url.
        details.insert(
            "return_url".into(),
            order.return_url.clone().unwrap_or_default().into(),
        );
        details.insert("product".into(), order.product_name.clone().into());
        Ok(Prepared {
            details,
            payments_no: 0,
        })
    }

    async fn start(&self, order: &Order) -> Result<Started, ProviderError> {
        let link = PpeLink {
            msisdn: order.detail("msisdn").into(),
            transaction_id: order.reference.clone(),
            service_id: order.detail("service_id").into(),
            price: order.price,
            product: order.detail("product").into(),
            user_ip: order.detail("user_ip").into(),
            user_id: order.detail("user_id").into(),
            return_url: order.detail("return_url").into(),
            error_url: order.detail("return_url").into(),
            subscription: order.kind == OrderKind::Subscription,
        };
        Ok(Started {
            provider_ref: order.reference.clone(),
            redirect_url: link.url(self.base_url(order), self.settings.secret.expose_secret()),
            details: Default::default(),
        })
    }

    async fn unsubscribe(
        &self,
        order: &Order,
        _client_ip: Option<IpAddr>,
    ) -> Result<Answer, ProviderError> {
        let timeout = Duration::from_millis(self.settings.request_timeout_ms);
        let (service_id, msisdn) = (order.detail("service_id"), order.detail("msisdn"));
        let hash = wire::unsubscribe_hash(
            self.settings.secret.expose_secret(),
            service_id,
            &order.reference,
            msisdn,
        );
        let url = format!("{}/unsubscribe", self.base_url(order).trim_end_matches('/'));
        // Not idempotent at Mobiltek: sent once, never retried automatically.
        let resp = self
            .http
            .post(&url)
            .timeout(timeout)
            .form(&[
                ("service_id", service_id),
                ("transaction_id", order.reference.as_str()),
                ("msisdn", msisdn),
                ("hash", hash.as_str()),
            ])
            .send()
            .await
            .map_err(|e| {
                let why = if e.is_timeout() {
                    format!("no answer within {} ms", timeout.as_millis())
                } else {
                    "cannot connect".to_string()
                };
                ProviderError::Unavailable(format!(
                    "Mobiltek unsubscribe failed: {why}; it may or may not have happened, check before retrying"
                ))
            })?;
        let status = resp.status();
        let text = resp.text().await.map_err(|e| {
            ProviderError::Unavailable(format!("Mobiltek unsubscribe answer unreadable: {e}"))
        })?;
        if status.is_server_error() {
            return Err(ProviderError::Unavailable(format!(
                "Mobiltek unsubscribe failed: HTTP {status}"
            )));
        }
        let ok = status.is_success() && UnsubscribeAnswer::parse(&text).succeeded();
        Ok(Answer {
            text,
            ok,
            ends_subscription: false,
        })
    }

    /// Seed 000: `additional_data` of every notification.
    fn event_fields(&self, order: &Order) -> BTreeMap<String, String> {
        BTreeMap::from([(
            "mobiltek_msisdn".to_string(),
            order.detail("msisdn").to_string(),
        )])
    }
}

impl Mobiltek {
    /// Test orders go to Mobiltek's test environment.
    fn base_url(&self, order: &Order) -> &str {
        match (&self.settings.test_base_url, order.test) {
            (Some(test), true) => test,
            _ => &self.settings.base_url,
        }
    }
}

impl Adapter for Mobiltek {
    type Settings = Settings;
    const SERVICE: &'static str = "provider-mobiltek";

    fn migrations() -> &'static sqlx::migrate::Migrator {
        static M: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/mobiltek");
        &M
    }

    fn build(s: &Settings) -> anyhow::Result<(Self, Vec<Arc<dyn CallbackEndpoint>>)> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(s.mobiltek.request_timeout_ms))
            .build()?;
        let notify = Notify {
            secret: s.mobiltek.secret.clone(),
        };
        Ok((
            Mobiltek {
                settings: s.mobiltek.clone(),
                http,
            },
            vec![Arc::new(notify)],
        ))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn transaction_ids_have_16_digits() {
        for _ in 0..1000 {
            let id = super::new_transaction_id();
            assert_eq!(id.len(), 16, "{id}");
            assert!(id.bytes().all(|b| b.is_ascii_digit()));
            assert_ne!(&id[..1], "0");
        }
    }
}
