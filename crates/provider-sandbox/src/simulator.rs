//! The one trait every simulated provider implements, so the shared parts (`control`,
//! `startup`, `state`) never name a provider.
//!
//! A [`Simulator`] has:
//! - a `name` (the `provider` of `POST /_sandbox/faults`, its key in `GET /_sandbox/state`, the
//!   `provider` of its deliveries);
//! - its HTTP `routes`, all under its own prefix (`/<name>/...`);
//! - `owns`: whether a redirect URL given to `POST /_sandbox/complete` is one of its pages;
//! - `complete`: the end user finishes (or abandons) that page; it decides, delivers the
//!   resulting callbacks and returns their deliveries;
//! - `due`: the recurring charges falling due by a sandbox clock time, as ready-to-send
//!   callbacks with their due time; `POST /_sandbox/clock/advance` merges every simulator's
//!   and sends them in due order across all providers (ties in registration order);
//! - `deliver`: how one of its callbacks is sent (the default suits a provider whose adapter
//!   acknowledges with any 2xx: resends, faults and the delivery log of `callbacks`);
//! - `dump`: its part of `GET /_sandbox/state`.
//!
//! # How to add a simulator (e.g. Netopia, MoCoPay)
//! 1. Write the protocol down in `docs/providers/<name>.md` and the simulator from that
//!    document, in its own module `src/<name>/` (`mod.rs`: the `Simulator` impl and routes;
//!    `protocol.rs`: wire format and signing, NOT shared with the adapter's crate; `sim.rs`:
//!    records and decisions as plain state changes that return callbacks; `pages.rs` or
//!    `api.rs`: the HTTP handlers). Handlers take `State<App>` and, for the simulator's own
//!    settings, `Extension<Arc<YourSimulator>>`, which `routes` layers on.
//! 2. Keep its records in a type of its own module, reached with `state.records::<Records>()`
//!    under the shared lock (`app.state`); nothing to add to `State`.
//! 3. Reuse the shared parts: `lifecycle::{Status, Renewals}` for "renewed every period until
//!    cancelled" and `"charges": "fail"`, `callbacks::Callback` for what it sends,
//!    `faults::outage` for `timeout` / `error` on its API calls, `state.send_sms` for codes.
//!    Mark every callback that notifies money collected with `Callback::charge(ChargeInfo)`
//!    (its `charge_key` exactly the adapter's `charge_id`): the sandbox's report and replay
//!    (`crate::report`, `paysys reconcile`) are built from those.
//! 4. Give it a `[sandbox.<name>]` section in `config/default.toml` (documented) and read it in
//!    its constructor with `SandboxSettings::section` (or `config::ProviderSettings::load` when
//!    it is the notify URL / secret / service terms shape).
//! 5. Register it: one line in `crate::simulators` (lib.rs). `control.rs` stays untouched;
//!    provider-specific `/_sandbox/complete` fields (Netopia's `"card"`) arrive in
//!    `CompleteRequest::extra`, and a bad one is answered with `FieldError::new("card", ..)`.
//! 6. Test it through the control endpoints (tests/api), as the Mobiltek tests do.
//!
//! `complete` and `due` run under `App::callback_order` (taken by the control endpoint), so
//! callbacks reach the adapters in the order they happened: a simulator's own handlers that
//! decide and send callbacks take that lock themselves, and `complete` must not.

use crate::callbacks::{self, Callback, Delivery};
use crate::state::State;
use crate::App;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use std::sync::Arc;

#[async_trait::async_trait]
pub trait Simulator: Send + Sync + 'static {
    /// The provider's name: its fault key, state dump key and route prefix (`/<name>`).
    fn name(&self) -> &'static str;

    /// The provider's HTTP surface, every path under `/<name>`.
    fn routes(self: Arc<Self>) -> axum::Router<App>;

    /// True when `redirect_url` opens one of this provider's pages.
    fn owns(&self, redirect_url: &url::Url) -> bool;

    /// The end user finished or abandoned the page behind `request.redirect_url` (which
    /// `owns`). Decides, delivers the callbacks, and answers after the adapter answered them.
    /// Called with `App::callback_order` held.
    async fn complete(&self, app: &App, request: &CompleteRequest)
        -> Result<Completed, FieldError>;

    /// The recurring charges falling due by `now` (the sandbox clock), each with its due time;
    /// `state` already shows `now`. Returned callbacks are sent by the caller, with `deliver`.
    fn due(&self, state: &mut State, now: DateTime<Utc>) -> Vec<Due>;

    /// Sends one of this provider's callbacks.
    async fn deliver(&self, app: &App, callback: &Callback) -> Delivery {
        callbacks::deliver(app, self.name(), callback).await
    }

    /// Sends callbacks one after the other, in order.
    async fn deliver_all(&self, app: &App, callbacks: Vec<Callback>) -> Vec<Delivery> {
        let mut out = Vec::with_capacity(callbacks.len());
        for c in &callbacks {
            out.push(self.deliver(app, c).await);
        }
        out
    }

    /// This provider's part of `GET /_sandbox/state` (its records; never secrets or codes).
    fn dump(&self, state: &State) -> Value;
}

/// A parsed `POST /_sandbox/complete` request.
#[derive(Debug, Clone)]
pub struct CompleteRequest {
    pub redirect_url: url::Url,
    /// `"outcome": "success"`; false for `"failure"` (the user abandoned the page).
    pub success: bool,
    /// Extension `"charges": "fail"`: the subscription's later recurring charges fail.
    pub charges_fail: bool,
    /// Every other field of the request, for the provider to read (e.g. Netopia's `"card"`).
    pub extra: Map<String, Value>,
}

/// What completing a page did: the answer is `{"ok": true, "provider", ..fields,
/// "notifications": [kinds], "deliveries": [..]}`.
#[derive(Debug, Default)]
pub struct Completed {
    /// Answer fields of the provider's own (e.g. Mobiltek's `transaction_id`).
    pub fields: Map<String, Value>,
    /// The callbacks sent, in order.
    pub deliveries: Vec<Delivery>,
}

/// A recurring charge that fell due, ready to send.
#[derive(Debug, Clone)]
pub struct Due {
    pub at: DateTime<Utc>,
    pub callback: Callback,
}

/// A control request refused: answered 400 `{"ok":false,"error":{"field","message"}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The redirect URL cannot be completed (unknown, tampered, already finished).
    pub fn redirect_url(message: impl Into<String>) -> Self {
        Self::new("redirect_url", message)
    }
}

/// The registered simulators, in registration order.
pub type Simulators = Arc<[Arc<dyn Simulator>]>;
