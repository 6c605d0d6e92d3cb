//! Test support: a sandbox on port 0 whose Mobiltek notifies a fake adapter endpoint, PPE links
//! built by provider-mobiltek's own code, and signed unsubscribe calls.

use axum::extract::State;
use axum::http::StatusCode;
use paysys_platform::money::{Currency, Money};
use paysys_platform::Shutdown;
use provider_mobiltek::wire::{self, Notification, NotificationError, PpeLink};
use provider_sandbox::{Application, Settings, Simulator};
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

pub const SECRET: &str = "mobiltek-test-secret";

/// What the fake adapter received: every POST, authenticated with the adapter's code.
#[derive(Clone, Default)]
pub struct FakeAdapter {
    received: Arc<Mutex<Vec<Result<Notification, NotificationError>>>>,
    /// Statuses to answer next (then 200 "OK").
    script: Arc<Mutex<VecDeque<u16>>>,
    /// How long each answer takes (ms), and how many requests were in flight at most.
    delay_ms: Arc<std::sync::atomic::AtomicU64>,
    in_flight: Arc<std::sync::atomic::AtomicUsize>,
    max_in_flight: Arc<std::sync::atomic::AtomicUsize>,
}

impl FakeAdapter {
    /// Authenticated notifications, in arrival order (panics on a badly signed one).
    pub fn notifications(&self) -> Vec<Notification> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .map(|r| r.clone().expect("a notification the adapter would refuse"))
            .collect()
    }

    pub fn kinds(&self) -> Vec<&'static str> {
        self.notifications()
            .iter()
            .map(|n| n.kind.as_str())
            .collect()
    }

    /// Every answer takes `ms` from now on.
    pub fn slow_down(&self, ms: u64) {
        self.delay_ms.store(ms, std::sync::atomic::Ordering::SeqCst);
    }

    /// The most requests that were being answered at the same time.
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Answer these statuses to the next POSTs.
    pub fn answer_next(&self, statuses: &[u16]) {
        self.script.lock().unwrap().extend(statuses);
    }
}

async fn notify(
    State(fake): State<FakeAdapter>,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> (StatusCode, &'static str) {
    use std::sync::atomic::Ordering::SeqCst;
    let now = fake.in_flight.fetch_add(1, SeqCst) + 1;
    fake.max_in_flight.fetch_max(now, SeqCst);
    let delay = fake.delay_ms.load(SeqCst);
    if delay > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
    }
    fake.in_flight.fetch_sub(1, SeqCst);
    fake.received
        .lock()
        .unwrap()
        .push(Notification::authenticate(SECRET, &form));
    let status = fake.script.lock().unwrap().pop_front().unwrap_or(200);
    (
        StatusCode::from_u16(status).unwrap(),
        if status == 200 { "OK" } else { "ERROR" },
    )
}

/// A JSON callback endpoint for other providers' callbacks: every body with its headers, in
/// arrival order, each answered 200.
#[derive(Clone, Default)]
pub struct JsonReceiver(Arc<Mutex<Vec<(axum::http::HeaderMap, String)>>>);

impl JsonReceiver {
    /// Listens on port 0; returns the receiver and the URL of `path` on it.
    pub async fn start(path: &str) -> (Self, String) {
        let received = Self::default();
        let router = axum::Router::new()
            .route(
                path,
                axum::routing::post(
                    |State(r): State<JsonReceiver>,
                     headers: axum::http::HeaderMap,
                     body: String| async move {
                        r.0.lock().unwrap().push((headers, body));
                        "OK"
                    },
                ),
            )
            .with_state(received.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://127.0.0.1:{}{path}",
            listener.local_addr().unwrap().port()
        );
        tokio::spawn(async move { axum::serve(listener, router).await });
        (received, url)
    }

    /// Every request: its headers and raw body.
    pub fn requests(&self) -> Vec<(axum::http::HeaderMap, String)> {
        self.0.lock().unwrap().clone()
    }

    pub fn bodies(&self) -> Vec<Value> {
        self.requests()
            .iter()
            .map(|(_, b)| serde_json::from_str(b).unwrap())
            .collect()
    }

    /// The `type` of every body.
    pub fn kinds(&self) -> Vec<String> {
        self.bodies()
            .iter()
            .map(|v| v["type"].as_str().unwrap().to_string())
            .collect()
    }
}

pub struct TestSandbox {
    pub url: String,
    pub adapter: FakeAdapter,
    pub http: reqwest::Client,
    shutdown: Shutdown,
}

/// A sandbox calling a fake adapter; `overrides` are extra settings (`sandbox.` keys).
pub async fn spawn_sandbox(overrides: &[(&str, Value)]) -> TestSandbox {
    spawn_sandbox_with(overrides, Vec::new()).await
}

/// As `spawn_sandbox`, with `extra` simulators registered after the sandbox's own.
pub async fn spawn_sandbox_with(
    overrides: &[(&str, Value)],
    extra: Vec<Arc<dyn Simulator>>,
) -> TestSandbox {
    let adapter = FakeAdapter::default();
    let router = axum::Router::new()
        .route("/mobiltek/notify", axum::routing::post(notify))
        .with_state(adapter.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let adapter_port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, router).await });

    let settings: Settings = paysys_platform::config::load_with(|mut b| {
        let base: [(&str, Value); 6] = [
            ("sandbox.listen", json!("127.0.0.1:0")),
            (
                "sandbox.mobiltek.notify_url",
                json!(format!("http://127.0.0.1:{adapter_port}/mobiltek/notify")),
            ),
            ("sandbox.mobiltek.secret", json!(SECRET)),
            ("sandbox.callback_backoff_ms", json!(10)),
            ("sandbox.fault_timeout_secs", json!(1)),
            ("sandbox.mobiltek.default_period_secs", json!(86_400)),
        ];
        for (k, v) in base.iter().chain(overrides) {
            b = match v {
                Value::String(s) => b.set_override(*k, s.as_str()),
                Value::Number(n) => b.set_override(*k, n.as_i64().unwrap()),
                other => panic!("unsupported override {other}"),
            }
            .unwrap();
        }
        b
    })
    .expect("test settings");
    let shutdown = Shutdown::new();
    let mut simulators = provider_sandbox::simulators(&settings.sandbox).expect("simulators");
    simulators.extend(extra);
    let app = Application::build_with(settings, shutdown.clone(), simulators)
        .await
        .expect("build the sandbox");
    let url = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    TestSandbox {
        url,
        adapter,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        shutdown,
    }
}

impl Drop for TestSandbox {
    fn drop(&mut self) {
        self.shutdown.trigger();
    }
}

/// A PPE link as provider-mobiltek builds it (seed 000 shape).
pub fn link(
    sandbox: &TestSandbox,
    transaction_id: &str,
    price_minor: i64,
    subscription: bool,
    service_id: &str,
) -> String {
    PpeLink {
        msisdn: "48501123123".into(),
        transaction_id: transaction_id.into(),
        service_id: service_id.into(),
        price: Money::new(price_minor, Currency::parse("PLN").unwrap()),
        product: "test product".into(),
        user_ip: "127.0.0.1".into(),
        user_id: "1234qwera".into(),
        return_url: "http://onet.pl".into(),
        error_url: "http://onet.pl/error".into(),
        subscription,
    }
    .url(&format!("{}/mobiltek", sandbox.url), SECRET)
}

impl TestSandbox {
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.url))
            .json(&body)
            .send()
            .await
            .expect("sandbox reachable");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn complete(&self, redirect_url: &str, outcome: &str) -> Value {
        let (status, v) = self
            .post(
                "/_sandbox/complete",
                json!({"redirect_url": redirect_url, "outcome": outcome}),
            )
            .await;
        assert_eq!(status, 200, "{v}");
        v
    }

    pub async fn advance(&self, seconds: i64) -> Value {
        let (status, v) = self
            .post("/_sandbox/clock/advance", json!({"seconds": seconds}))
            .await;
        assert_eq!(status, 200, "{v}");
        v
    }

    pub async fn fault(&self, mode: &str) {
        let (status, v) = self
            .post(
                "/_sandbox/faults",
                json!({"provider": "mobiltek", "mode": mode}),
            )
            .await;
        assert_eq!(status, 200, "{v}");
    }

    /// `POST /mobiltek/unsubscribe` as provider-mobiltek sends it.
    pub async fn unsubscribe(
        &self,
        service_id: &str,
        transaction_id: &str,
        msisdn: &str,
    ) -> (u16, String) {
        let hash = wire::unsubscribe_hash(SECRET, service_id, transaction_id, msisdn);
        let r = self
            .http
            .post(format!("{}/mobiltek/unsubscribe", self.url))
            .form(&[
                ("service_id", service_id),
                ("transaction_id", transaction_id),
                ("msisdn", msisdn),
                ("hash", hash.as_str()),
            ])
            .send()
            .await
            .expect("sandbox reachable");
        (r.status().as_u16(), r.text().await.unwrap())
    }

    pub async fn get_json(&self, path: &str) -> Value {
        self.http
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .expect("sandbox reachable")
            .json()
            .await
            .expect("JSON")
    }
}
