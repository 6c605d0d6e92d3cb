//! The `Provider` trait: what one payment provider does, in PaySystem's terms. A provider is a
//! type implementing it plus its wire module; the gRPC service, the order table, idempotency,
//! the state machine and the callback pipeline exist once, in this kit. Methods a provider
//! cannot do keep their default: "not supported by this provider".

use crate::callback::Claim;
use crate::error::ProviderError;
use crate::order::StartOrder;
use crate::store::Order;
use async_trait::async_trait;
use paysys_platform::money::Money;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// What a provider can do, as the edge learns it (`PaymentProvider.Describe`).
#[derive(Debug, Clone, Default)]
pub struct Capabilities {
    /// One-time payments start behind the command queue and are confirmed with a code
    /// (`set_transaction` + `confirm_teleaudio_payment`, seed 002).
    pub async_one_time: bool,
    pub confirm: bool,
    pub unsubscribe: bool,
    pub change_recurrence: bool,
    pub refresh: bool,
    /// Keys a merchant may set per order in `payment.config` (e.g. Netopia `payments_no`).
    pub order_config_keys: &'static [&'static str],
    /// A test environment is configured: `test: "True"` orders go there.
    pub test_environment: bool,
    /// ISO 4217 currencies the provider charges; empty: any.
    pub currencies: &'static [&'static str],
}

/// What Start found out before anything is stored: the provider's own view of the order.
#[derive(Debug, Clone, Default)]
pub struct Prepared {
    /// Provider specifics kept with the order (`orders.details`).
    pub details: Map<String, Value>,
    /// Total payments of a subscription, the first included; 0 = unlimited.
    pub payments_no: u32,
}

/// What the provider answered to Start.
#[derive(Debug, Clone, Default)]
pub struct Started {
    /// The provider's own id of the order, if it gives one.
    pub provider_ref: String,
    /// Where the end user goes (empty for flows without a page, e.g. webbilling).
    pub redirect_url: String,
    /// More provider specifics to keep.
    pub details: Map<String, Value>,
}

/// A provider's answer passed on verbatim (seed 000: `unsubscribe`), and whether it means yes.
#[derive(Debug, Clone)]
pub struct Answer {
    pub text: String,
    pub ok: bool,
    /// The answer itself confirms that the subscription ended (Netopia's `cancelRecurrence`
    /// 0x5000: no callback follows), so the kit ends it and tells the merchant. False where the
    /// provider confirms with a callback of its own (Mobiltek, Teleaudio).
    pub ends_subscription: bool,
}

/// The outcome of a code confirmation (seed 002).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirmed {
    Ok,
    /// The provider's code: BADTRANSACTION, BADTOKEN, TRYEXCEEDED.
    Refused(String),
}

/// A change to a running subscription (seed 003).
#[derive(Debug, Clone, PartialEq)]
pub enum RecurrenceChange {
    Price(Money),
    NextChargeAt(chrono::DateTime<chrono::Utc>),
}

#[async_trait]
pub trait Provider: Send + Sync + 'static {
    /// The provider's name as channels name it (`mobiltek`), also the schema and queue name.
    fn name(&self) -> &'static str;

    fn capabilities(&self) -> Capabilities;

    /// Our reference of a new order at the provider. A UUID unless the provider wants another
    /// shape (Mobiltek: 16 digits). Collisions are retried with a fresh one.
    fn new_reference(&self) -> String {
        uuid::Uuid::now_v7().to_string()
    }

    /// The provider's own checks and specifics of a valid order, before anything is stored
    /// (currency it charges, required phone, service id from the channel ...).
    fn prepare(&self, order: &StartOrder) -> Result<Prepared, ProviderError>;

    /// Starts the stored order at the provider. Called outside any database transaction, at
    /// least once per order (a crash between the call and the record repeats it), so it must be
    /// idempotent at the provider, e.g. keyed by `order.reference`.
    async fn start(&self, order: &Order) -> Result<Started, ProviderError>;

    async fn unsubscribe(
        &self,
        _order: &Order,
        _client_ip: Option<IpAddr>,
    ) -> Result<Answer, ProviderError> {
        Err(self.unsupported("unsubscribe"))
    }

    async fn confirm(&self, _order: &Order, _code: &str) -> Result<Confirmed, ProviderError> {
        Err(self.unsupported("code confirmation"))
    }

    async fn change_recurrence(
        &self,
        _order: &Order,
        _change: &RecurrenceChange,
    ) -> Result<Answer, ProviderError> {
        Err(self.unsupported("recurrence changes"))
    }

    /// Asks the provider for the order's truth; what it says is applied through the same
    /// pipeline as callbacks (so it is believed only as far as it fits).
    async fn refresh(&self, _order: &Order) -> Result<Vec<Claim>, ProviderError> {
        Err(self.unsupported("status refresh"))
    }

    /// Pages of the provider's flow that the adapter serves itself (e.g. Netopia's form that
    /// posts the sealed order to the card page), with the adapter's database.
    fn pages(&self, _pool: sqlx::PgPool) -> Option<axum::Router> {
        None
    }

    /// Provider fields every event of this order carries to the merchant (`additional_data`),
    /// e.g. `mobiltek_msisdn`; a callback's own fields override them.
    fn event_fields(&self, _order: &Order) -> BTreeMap<String, String> {
        BTreeMap::new()
    }

    /// Whether the provider offers `what`; the default answers for the optional methods.
    fn unsupported(&self, what: &str) -> ProviderError {
        ProviderError::Unsupported(format!("{} does not support {what}", self.name()))
    }
}
