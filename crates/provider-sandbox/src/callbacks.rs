//! Callbacks to the adapters, sent like a real provider sends them (POSTed, or GET with the
//! query only, like MoCoPay's notifications): in order, each resent on a connection error or 5xx
//! with a doubling delay (`sandbox.callback_attempts`, `callback_backoff_ms`), never resent after
//! a 4xx (the adapter refused it: logged), and sent twice under the `duplicate_callbacks` fault.
//! Every attempt's outcome lands in the delivery log of `GET /_sandbox/state`. A simulator only
//! builds its `Callback`s (its own body, signature and headers); sending them is the same for
//! every provider.

use crate::faults::Fault;
use crate::report::ChargeInfo;
use crate::App;
use serde::Serialize;
use std::time::Duration;

/// One callback to an adapter, ready to send: the request a provider POSTs (or, like MoCoPay,
/// GETs with everything in the query), already signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Callback {
    /// POST (with `content_type` and `body`) or GET (the URL says it all).
    pub method: reqwest::Method,
    /// The callback's type (e.g. Mobiltek's `PAYMENT`).
    pub kind: String,
    /// The provider's transaction or subscription id.
    pub reference: String,
    /// The adapter's endpoint.
    pub url: String,
    pub content_type: &'static str,
    /// Further headers, e.g. a signature.
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
    /// The successful charge this callback notifies (for the provider's report); kept in the
    /// sandbox's charge log the first time it is sent (`crate::report`).
    pub charge: Option<ChargeInfo>,
}

impl Callback {
    /// A form-encoded callback (`application/x-www-form-urlencoded`), fields in the given order.
    pub fn form<'a>(
        url: &str,
        kind: &str,
        reference: &str,
        fields: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Self {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        Self::new(
            url,
            kind,
            reference,
            "application/x-www-form-urlencoded",
            body,
        )
    }

    /// A GET of `url` (query included), no body: how MoCoPay notifies.
    pub fn get(url: &str, kind: &str, reference: &str) -> Self {
        Self {
            method: reqwest::Method::GET,
            ..Self::new(url, kind, reference, "", String::new())
        }
    }

    /// A JSON callback.
    pub fn json(url: &str, kind: &str, reference: &str, body: &serde_json::Value) -> Self {
        Self::new(url, kind, reference, "application/json", body.to_string())
    }

    fn new(
        url: &str,
        kind: &str,
        reference: &str,
        content_type: &'static str,
        body: String,
    ) -> Self {
        Self {
            method: reqwest::Method::POST,
            kind: kind.into(),
            reference: reference.into(),
            url: url.into(),
            content_type,
            headers: Vec::new(),
            body,
            charge: None,
        }
    }

    /// Marks the callback as notifying this successful charge.
    pub fn charge(mut self, charge: ChargeInfo) -> Self {
        self.charge = Some(charge);
        self
    }

    /// Adds a header (e.g. the provider's signature of `body`).
    pub fn header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }

    fn request(&self, http: &reqwest::Client) -> reqwest::RequestBuilder {
        let r = http.request(self.method.clone(), &self.url);
        let r = if self.method == reqwest::Method::GET {
            r
        } else {
            r.header("content-type", self.content_type)
                .body(self.body.clone())
        };
        self.headers
            .iter()
            .fold(r, |r, (name, value)| r.header(*name, value))
    }
}

/// The outcome of one callback (one copy of it).
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    pub provider: String,
    /// The callback's type (e.g. Mobiltek's `PAYMENT`).
    pub kind: String,
    /// The provider's transaction or subscription id.
    pub reference: String,
    pub attempts: u32,
    /// The adapter's last HTTP status; none when it was never reached.
    pub status: Option<u16>,
    pub error: Option<String>,
    /// Wall-clock time of the last attempt.
    pub at: String,
}

impl Delivery {
    pub fn acknowledged(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// Sends one callback (twice under `provider`'s `duplicate_callbacks` fault). Returns the
/// delivery of the first copy.
pub async fn deliver(app: &App, provider: &str, callback: &Callback) -> Delivery {
    let copies = {
        let mut state = app.state.lock().await;
        state.record_charge(provider, callback);
        match state.fault(provider) {
            Fault::DuplicateCallbacks => 2,
            _ => 1,
        }
    };
    let mut first = None;
    for _ in 0..copies {
        let d = send(app, provider, callback).await;
        app.state.lock().await.log_delivery(d.clone());
        first.get_or_insert(d);
    }
    first.expect("at least one copy is sent")
}

async fn send(app: &App, provider: &str, callback: &Callback) -> Delivery {
    let (kind, reference) = (callback.kind.as_str(), callback.reference.as_str());
    let mut delay = Duration::from_millis(app.settings.callback_backoff_ms);
    let max = app.settings.callback_attempts.max(1);
    let mut d = Delivery {
        provider: provider.into(),
        kind: kind.into(),
        reference: reference.into(),
        attempts: 0,
        status: None,
        error: None,
        at: String::new(),
    };
    for attempt in 1..=max {
        d.attempts = attempt;
        d.at = chrono::Utc::now().to_rfc3339();
        match callback.request(&app.http).send().await {
            Ok(r) => {
                let status = r.status();
                d.status = Some(status.as_u16());
                d.error = None;
                if status.is_success() {
                    return d;
                }
                let body = r.text().await.unwrap_or_default();
                if status.is_client_error() {
                    tracing::warn!(provider, kind, reference, %status, body, "adapter refused a callback; not resending");
                    d.error = Some(body);
                    return d;
                }
                tracing::warn!(provider, kind, reference, %status, attempt, "adapter failed a callback; resending");
                d.error = Some(body);
            }
            Err(e) => {
                tracing::warn!(provider, kind, reference, error = %e, attempt, "adapter unreachable; resending");
                d.status = None;
                d.error = Some(e.to_string());
            }
        }
        if attempt < max {
            tokio::time::sleep(delay).await;
            delay *= 2;
        }
    }
    tracing::error!(
        provider,
        kind,
        reference,
        attempts = max,
        "callback given up"
    );
    d
}
