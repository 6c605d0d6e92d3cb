//! Teleaudio as a `Provider` of the adapter kit (seeds 001, 002, docs/providers/teleaudio.md):
//! subscriptions confirmed by the user on Teleaudio's page and renewed by Teleaudio; webbilling
//! one-time payments started behind the command queue (Teleaudio texts a code) and confirmed
//! with that code, at most three tries. Our reference is Teleaudio's idempotency key, so a
//! repeated start makes one Teleaudio transaction (one SMS).

use crate::callbacks::Notify;
use crate::client::{ClientError, TeleaudioClient};
use crate::config::Settings;
use crate::wire;
use paysys_adapter::{
    Adapter, Answer, CallbackEndpoint, Capabilities, Confirmed, Order, Prepared, Provider,
    ProviderError, StartOrder, Started,
};
use paysys_platform::domain::OrderKind;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

pub struct Teleaudio {
    pub client: TeleaudioClient,
    /// Teleaudio's test environment (test orders), if configured.
    pub test_client: Option<TeleaudioClient>,
}

impl From<ClientError> for ProviderError {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Unavailable(m) => ProviderError::Unavailable(format!("Teleaudio: {m}")),
            ClientError::Refused(m) => ProviderError::Refused(format!("Teleaudio: {m}")),
        }
    }
}

impl Teleaudio {
    fn client(&self, order: &Order) -> &TeleaudioClient {
        match (&self.test_client, order.test) {
            (Some(t), true) => t,
            _ => &self.client,
        }
    }
}

#[async_trait::async_trait]
impl Provider for Teleaudio {
    fn name(&self) -> &'static str {
        "teleaudio"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            async_one_time: true,
            confirm: true,
            unsubscribe: true,
            currencies: &["PLN"],
            test_environment: self.test_client.is_some(),
            ..Default::default()
        }
    }

    fn prepare(&self, order: &StartOrder) -> Result<Prepared, ProviderError> {
        let Some(msisdn) = &order.customer.phone else {
            return Err(ProviderError::invalid(
                "customer.phone",
                "required: Teleaudio bills this phone number",
            ));
        };
        // Seed 001: the service is named per article (`teleaudio_service_id`); a channel may
        // set it too.
        let service_id = order
            .setting("teleaudio_service_id")
            .or_else(|| order.setting("service_id"))
            .unwrap_or("");
        if order.kind == OrderKind::Subscription && service_id.is_empty() {
            return Err(ProviderError::invalid(
                "articles[0].config",
                "teleaudio_service_id is required for a Teleaudio subscription",
            ));
        }
        let mut details = serde_json::Map::new();
        details.insert("service_id".into(), service_id.into());
        details.insert("msisdn".into(), msisdn.as_str().into());
        details.insert(
            "return_url".into(),
            order.return_url.clone().unwrap_or_default().into(),
        );
        Ok(Prepared {
            details,
            payments_no: 0,
        })
    }

    async fn start(&self, order: &Order) -> Result<Started, ProviderError> {
        let client = self.client(order);
        if order.kind == OrderKind::Subscription {
            let created: wire::SubscriptionCreated = client
                .post(
                    "/subscriptions",
                    &wire::CreateSubscription {
                        reference: order.reference.clone(),
                        service_id: order.detail("service_id").into(),
                        msisdn: order.detail("msisdn").into(),
                        amount: order.price.minor,
                        currency: order.price.currency.as_str().into(),
                        return_url: order.detail("return_url").into(),
                    },
                )
                .await?;
            Ok(Started {
                provider_ref: created.subscription_id,
                redirect_url: created.confirm_url,
                details: Default::default(),
            })
        } else {
            let started: wire::WebbillingStarted = client
                .post(
                    "/webbilling",
                    &wire::StartWebbilling {
                        reference: order.reference.clone(),
                        service_id: order.detail("service_id").into(),
                        msisdn: order.detail("msisdn").into(),
                        amount: order.price.minor,
                        currency: order.price.currency.as_str().into(),
                    },
                )
                .await?;
            Ok(Started {
                provider_ref: started.transaction_id,
                redirect_url: String::new(),
                details: Default::default(),
            })
        }
    }

    async fn unsubscribe(
        &self,
        order: &Order,
        _client_ip: Option<IpAddr>,
    ) -> Result<Answer, ProviderError> {
        let (_, text) = self
            .client(order)
            .post_raw(
                &format!("/subscriptions/{}/cancel", order.provider_ref),
                &serde_json::json!({ "reference": order.reference }),
            )
            .await?;
        let ok = serde_json::from_str::<wire::Answer>(&text)
            .map(|a| a.status == "OK")
            .unwrap_or(false);
        Ok(Answer {
            text,
            ok,
            ends_subscription: false,
        })
    }

    async fn confirm(&self, order: &Order, code: &str) -> Result<Confirmed, ProviderError> {
        if order.kind != OrderKind::OneTime {
            return Ok(Confirmed::Refused("BADTRANSACTION".into()));
        }
        let (_, text) = self
            .client(order)
            .post_raw(
                &format!("/webbilling/{}/confirm", order.provider_ref),
                &wire::ConfirmCode { code: code.into() },
            )
            .await?;
        let answer: wire::Answer = serde_json::from_str(&text).map_err(|_| {
            ProviderError::Unavailable("Teleaudio answered something unexpected".into())
        })?;
        Ok(if answer.status == "OK" {
            Confirmed::Ok
        } else {
            Confirmed::Refused(answer.code)
        })
    }

    fn event_fields(&self, order: &Order) -> BTreeMap<String, String> {
        BTreeMap::from([
            (
                "teleaudio_msisdn".to_string(),
                order.detail("msisdn").to_string(),
            ),
            (
                "teleaudio_service_id".to_string(),
                order.detail("service_id").to_string(),
            ),
        ])
    }
}

impl Adapter for Teleaudio {
    type Settings = Settings;
    const SERVICE: &'static str = "provider-teleaudio";

    fn migrations() -> &'static sqlx::migrate::Migrator {
        static M: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/teleaudio");
        &M
    }

    fn build(s: &Settings) -> anyhow::Result<(Self, Vec<Arc<dyn CallbackEndpoint>>)> {
        let t = &s.teleaudio;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(t.request_timeout_ms))
            .build()?;
        let client = |base_url: &str| TeleaudioClient {
            http: http.clone(),
            base_url: base_url.to_string(),
            secret: t.secret.clone(),
        };
        let notify = Notify {
            secret: t.secret.clone(),
        };
        Ok((
            Teleaudio {
                client: client(&t.base_url),
                test_client: t.test_base_url.as_deref().map(client),
            },
            vec![Arc::new(notify)],
        ))
    }
}
