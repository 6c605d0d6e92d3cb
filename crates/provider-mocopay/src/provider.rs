//! MoCoPay as a `Provider` of the adapter kit (seed 004, docs/providers/mocopay.md): Start calls
//! the signed initPayment and returns MoCoPay's `redirectUrl`; `refresh` asks verifyPayment for
//! the order's session and each of its transactions. MoCoPay has no cancel method (seed 004).

use crate::callbacks::Notify;
use crate::claims::{resolve, session_claim, transaction_claim};
use crate::client::Client;
use crate::config::{MocopaySettings, Settings};
use crate::{InitPayment, VerifyPayment};
use paysys_adapter::{
    Adapter, Answer, CallbackEndpoint, Capabilities, Claim, Order, Prepared, Provider,
    ProviderError, StartOrder, Started,
};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

/// Why `unsubscribe` cannot work on a MoCoPay order.
pub const NO_CANCEL: &str = "MoCoPay has no cancel method (seed 004): a MoCoPay subscription ends when the subscriber stops it with the operator or MoCoPay ends it; PaySystem then sends subscription_cancel";

pub struct Mocopay {
    pub settings: MocopaySettings,
    pub live: Client,
    pub test: Option<Client>,
}

impl Mocopay {
    fn client(&self, test: bool) -> &Client {
        match (&self.test, test) {
            (Some(t), true) => t,
            _ => &self.live,
        }
    }

    fn route(&self, test: bool, what: &str) -> String {
        format!(
            "{}/mocopay{}/{what}",
            self.settings.public_url.trim_end_matches('/'),
            if test { "/test" } else { "" }
        )
    }
}

#[async_trait::async_trait]
impl Provider for Mocopay {
    fn name(&self) -> &'static str {
        "mocopay"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            refresh: true,
            test_environment: self.test.is_some(),
            ..Default::default()
        }
    }

    fn prepare(&self, order: &StartOrder) -> Result<Prepared, ProviderError> {
        let pid = order.setting("pid").unwrap_or("");
        if pid.is_empty() || pid.len() > 128 || !pid.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ProviderError::invalid(
                "payment.channel_id",
                "the channel's MoCoPay product (config pid) is missing or malformed",
            ));
        }
        if order.price.minor <= 0 {
            return Err(ProviderError::invalid(
                "articles",
                "a payment must cost something",
            ));
        }
        let mut details = serde_json::Map::new();
        let text = |s: &str| serde_json::Value::String(s.to_string());
        details.insert("pid".into(), text(pid));
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
            "client_ip".into(),
            text(&order.client_ip.map(|i| i.to_string()).unwrap_or_default()),
        );
        details.insert(
            "return_url".into(),
            text(order.return_url.as_deref().unwrap_or("")),
        );
        Ok(Prepared {
            details,
            payments_no: 0,
        })
    }

    async fn start(&self, order: &Order) -> Result<Started, ProviderError> {
        let init = InitPayment {
            pid: order.detail("pid").into(),
            user_id: order.detail("user_id").into(),
            client_ip: order.detail("client_ip").into(),
            phone: order.detail("phone").into(),
            reference_id: order.reference.clone(),
            callback_url: self.route(order.test, "return"),
            notify_url: self.route(order.test, "notify"),
            ..Default::default()
        };
        let r = self.client(order.test).init_payment(&init).await?;
        let mut details = serde_json::Map::new();
        details.insert("request_id".into(), r.request_id.clone().into());
        Ok(Started {
            provider_ref: r.request_id,
            redirect_url: r.redirect_url,
            details,
        })
    }

    async fn unsubscribe(
        &self,
        _order: &Order,
        _client_ip: Option<IpAddr>,
    ) -> Result<Answer, ProviderError> {
        Err(ProviderError::Unsupported(NO_CANCEL.into()))
    }

    async fn refresh(&self, order: &Order) -> Result<Vec<Claim>, ProviderError> {
        let session_id = order.detail("session_id");
        if session_id.is_empty() {
            return Err(ProviderError::Unavailable(
                "no MoCoPay session yet: the user has not reached MoCoPay's form".into(),
            ));
        }
        let client = self.client(order.test);
        let s = client
            .verify(&VerifyPayment::SessionId(session_id.into()))
            .await?;
        if s.reference_id.as_deref() != Some(order.reference.as_str()) {
            return Err(ProviderError::Refused(
                "verifyPayment answered about another order's session".into(),
            ));
        }
        let bad = |e: String| ProviderError::Refused(format!("verifyPayment: {e}"));
        let mut claims: Vec<Claim> = session_claim(&s).map_err(bad)?.into_iter().collect();
        for id in s.transactions.iter().take(200) {
            let ts = client
                .verify(&VerifyPayment::TransactionId(id.clone()))
                .await?;
            if let Some(t) = &ts.transaction {
                claims.push(transaction_claim(&ts, t, "").map_err(bad)?);
            }
        }
        for c in &mut claims {
            if let Err(e) = resolve(order, c) {
                tracing::warn!(reference = %order.reference, error = %e, "MoCoPay session does not fit its order");
                c.amount = None;
            }
        }
        Ok(claims)
    }

    fn pages(&self, pool: sqlx::PgPool) -> Option<axum::Router> {
        Some(crate::pages::router(pool))
    }

    fn event_fields(&self, order: &Order) -> BTreeMap<String, String> {
        BTreeMap::from([("mocopay_pid".to_string(), order.detail("pid").to_string())])
    }
}

impl Adapter for Mocopay {
    type Settings = Settings;
    const SERVICE: &'static str = "provider-mocopay";

    fn migrations() -> &'static sqlx::migrate::Migrator {
        static M: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/mocopay");
        &M
    }

    fn build(s: &Settings) -> anyhow::Result<(Self, Vec<Arc<dyn CallbackEndpoint>>)> {
        let m = &s.mocopay;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(m.request_timeout_ms))
            .build()?;
        let client = |base_url: &str| Client {
            http: http.clone(),
            base_url: base_url.to_string(),
            api_key: m.api_key.clone(),
            secret: m.api_secret.clone(),
        };
        let live = client(&m.base_url);
        let test = m.test_base_url.as_deref().map(client);
        let mut endpoints: Vec<Arc<dyn CallbackEndpoint>> = vec![Arc::new(Notify {
            path: "/mocopay/notify",
            client: live.clone(),
        })];
        if let Some(t) = &test {
            endpoints.push(Arc::new(Notify {
                path: "/mocopay/test/notify",
                client: t.clone(),
            }));
        }
        Ok((
            Mocopay {
                settings: m.clone(),
                live,
                test,
            },
            endpoints,
        ))
    }
}
