//! Test support for the simulated MoCoPay: a sandbox whose MoCoPay knows the published test
//! vector's api key and product, a fake adapter receiving its GET notifications (each read with
//! provider-mocopay's own parser), and calls signed with provider-mocopay's own code.

use crate::helpers::*;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use provider_mocopay::{InitPayment, Notification, SignedRequest, VerifyPayment};
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The published vector's api key and secret (PROVIDERS.md).
pub const MOCO_KEY: &str = "app1";
pub const MOCO_SECRET: &str = "this.is.a.secret";

/// The fake adapter's notify route: every GET's query, in arrival order.
#[derive(Clone, Default)]
pub struct Notifications {
    queries: Arc<Mutex<Vec<String>>>,
    /// Statuses to answer next (then 200).
    script: Arc<Mutex<VecDeque<u16>>>,
}

impl Notifications {
    /// Listens on port 0; returns the receiver and its notify URL (`/mocopay/notify`).
    pub async fn start() -> (Self, String) {
        let n = Self::default();
        let handler = |State(n): State<Notifications>, RawQuery(q): RawQuery| async move {
            n.queries.lock().unwrap().push(q.unwrap_or_default());
            let status = n.script.lock().unwrap().pop_front().unwrap_or(200);
            (StatusCode::from_u16(status).unwrap(), "OK")
        };
        let router = axum::Router::new()
            .route("/mocopay/notify", axum::routing::get(handler))
            .route("/mocopay/test/notify", axum::routing::get(handler))
            .with_state(n.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://127.0.0.1:{}/mocopay/notify",
            listener.local_addr().unwrap().port()
        );
        tokio::spawn(async move { axum::serve(listener, router).await });
        (n, url)
    }

    /// Every notification, parsed as the adapter parses it (panics on one it would refuse).
    pub fn all(&self) -> Vec<Notification> {
        self.queries
            .lock()
            .unwrap()
            .iter()
            .map(|q| Notification::from_query(q).expect("a notification the adapter reads"))
            .collect()
    }

    /// `session:<status>` / `transaction:<status>` of each.
    pub fn kinds(&self) -> Vec<String> {
        self.all()
            .iter()
            .map(|n| match n {
                Notification::Session(s) => format!("session:{}", s.status),
                Notification::Transaction(t) => format!("transaction:{}", t.status.as_str()),
            })
            .collect()
    }

    /// Answer these statuses to the next GETs.
    pub fn answer_next(&self, statuses: &[u16]) {
        self.script.lock().unwrap().extend(statuses);
    }

    /// Waits until `n` notifications arrived.
    pub async fn wait_for(&self, n: usize) -> Vec<Notification> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let all = self.all();
            if all.len() >= n {
                return all;
            }
            assert!(
                Instant::now() < deadline,
                "{} notifications, wanted {n}",
                all.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// A sandbox whose MoCoPay signs with the vector's key and sells pid `12000` (one-time, 10 EUR
/// cents) and `SUB1` (10 EUR cents every hour), notifying a fake adapter.
pub async fn mocopay_sandbox() -> (TestSandbox, Notifications, String) {
    let (notifications, notify_url) = Notifications::start().await;
    let sb = spawn_sandbox(&[
        ("sandbox.mocopay.api_key", json!(MOCO_KEY)),
        ("sandbox.mocopay.api_secret", json!(MOCO_SECRET)),
        ("sandbox.mocopay.products.12000.amount_minor", json!(10)),
        ("sandbox.mocopay.products.12000.currency", json!("EUR")),
        ("sandbox.mocopay.products.SUB1.type", json!("subscription")),
        ("sandbox.mocopay.products.SUB1.amount_minor", json!(10)),
        ("sandbox.mocopay.products.SUB1.currency", json!("EUR")),
        ("sandbox.mocopay.products.SUB1.period_secs", json!(3600)),
    ])
    .await;
    (sb, notifications, notify_url)
}

/// An initPayment as the adapter builds it, for `pid`, notifying `notify_url`.
pub fn order(pid: &str, reference: &str, notify_url: &str) -> InitPayment {
    InitPayment {
        pid: pid.into(),
        user_id: "user-7".into(),
        client_ip: "203.0.113.7".into(),
        reference_id: reference.into(),
        callback_url: "http://adapter.example/mocopay/return".into(),
        notify_url: notify_url.into(),
        ..Default::default()
    }
}

/// Sends a signed request built by provider-mocopay; returns the status and the JSON answer.
pub async fn send(sb: &TestSandbox, r: &SignedRequest) -> (u16, Value) {
    let (name, value) = r.signature_header();
    let req = match r.method {
        provider_mocopay::HttpMethod::Get => sb.http.get(&r.url),
        provider_mocopay::HttpMethod::Post => sb.http.post(&r.url).header("content-length", "0"),
    };
    let resp = req
        .header(name, value)
        .send()
        .await
        .expect("sandbox reachable");
    (
        resp.status().as_u16(),
        resp.json().await.unwrap_or(Value::Null),
    )
}

/// initPayment of `init`, signed with `secret`.
pub async fn init_payment(sb: &TestSandbox, init: &InitPayment, secret: &str) -> (u16, Value) {
    let r = init
        .request(&format!("{}/mocopay", sb.url), MOCO_KEY, secret)
        .unwrap();
    send(sb, &r).await
}

/// verifyPayment of `q`, signed with the right secret.
pub async fn verify(sb: &TestSandbox, q: &VerifyPayment) -> (u16, Value) {
    let r = q
        .request(&format!("{}/mocopay", sb.url), MOCO_KEY, MOCO_SECRET)
        .unwrap();
    send(sb, &r).await
}

/// The redirectUrl as reachable from the test (the sandbox's default public_url is :9090).
pub fn reachable(sb: &TestSandbox, redirect_url: &str) -> String {
    redirect_url.replace("http://127.0.0.1:9090", &sb.url)
}

/// MoCoPay's records in `GET /_sandbox/state`.
pub async fn sessions(sb: &TestSandbox) -> Vec<Value> {
    sb.get_json("/_sandbox/state").await["mocopay"]["sessions"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}
