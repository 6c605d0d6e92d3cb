//! Test support: `spawn_app` (fresh database, unique exchange and queue names, port 0), an
//! observer queue bound to the test exchange, signed notifications as Mobiltek sends them, a
//! tiny fake Mobiltek for `unsubscribe`, and polling with a deadline.

use axum::extract::State;
use axum::http::StatusCode;
use paysys_platform::broker::{self, HandleError, Outgoing, Publisher};
use paysys_platform::{events, testing, Shutdown};
use paysys_proto::payment_provider_client::PaymentProviderClient;
use paysys_proto::{Customer, Event, OrderKind, StartRequest};
use provider_mobiltek::{Application, Settings};
use sqlx::PgPool;
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

pub const SECRET: &str = "mobiltek-test-secret";
/// Routing key of the probe that proves the observer queue is bound.
const PROBE: &str = "test.probe";

pub struct TestApp {
    pub _settings: Settings,
    /// Internal: gRPC, /metrics, /readyz.
    pub port: u16,
    /// Public: the notification endpoint.
    pub callback_port: u16,
    pub pool: PgPool,
    pub http: reqwest::Client,
    pub events: mpsc::UnboundedReceiver<Event>,
    shutdown: Shutdown,
    handle: JoinHandle<anyhow::Result<()>>,
}

/// The adapter on its own database and exchange, talking to Mobiltek at `base_url`.
pub async fn spawn_app_with(base_url: &str, request_timeout_ms: u64) -> TestApp {
    let db = testing::fresh_database()
        .await
        .expect("create test database");
    let prefix = testing::unique_prefix();
    let settings: Settings = paysys_platform::config::load_with(|b| {
        b.set_override("database.url", testing::expose(&db))
            .unwrap()
            .set_override("database.max_connections", 4)
            .unwrap()
            .set_override("amqp.url", testing::amqp_url())
            .unwrap()
            .set_override("amqp.exchange", format!("{prefix}events"))
            .unwrap()
            .set_override("amqp.queue_prefix", prefix.clone())
            .unwrap()
            .set_override("amqp.queue_expires_ms", 120_000)
            .unwrap()
            .set_override("mobiltek.listen", "127.0.0.1:0")
            .unwrap()
            .set_override("mobiltek.callback_listen", "127.0.0.1:0")
            .unwrap()
            .set_override("mobiltek.base_url", base_url)
            .unwrap()
            .set_override("mobiltek.secret", SECRET)
            .unwrap()
            .set_override("mobiltek.request_timeout_ms", request_timeout_ms)
            .unwrap()
            .set_override("internal.token", testing::INTERNAL_TOKEN)
            .unwrap()
    })
    .expect("test settings");
    let shutdown = Shutdown::new();
    let app = Application::build(settings.clone(), shutdown.clone())
        .await
        .expect("build the adapter");
    let port = app.port();
    let callback_port = app.callback_port();
    let pool = app.pool();
    let handle = tokio::spawn(app.run_until_stopped());
    let events = observe(&settings, &shutdown).await;
    TestApp {
        _settings: settings,
        port,
        callback_port,
        pool,
        http: reqwest::Client::new(),
        events,
        shutdown,
        handle,
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with("https://pay.mobiltek.pl", 10_000).await
}

/// Binds a queue of our own to every routing key of the test exchange and returns once a probe
/// went through it, so no event of the test can be missed.
async fn observe(settings: &Settings, shutdown: &Shutdown) -> mpsc::UnboundedReceiver<Event> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let handler: broker::Handler = Arc::new(move |msg| {
        let tx = tx.clone();
        Box::pin(async move {
            let (_, event) = events::decode(&msg)?;
            tx.send(event)
                .map_err(|_| HandleError::Transient(anyhow::anyhow!("test ended")))
        })
    });
    tokio::spawn(broker::consume(
        settings.amqp.clone(),
        settings.amqp.queue("test.observer"),
        vec!["#".into()],
        handler,
        shutdown.clone(),
    ));
    let publisher = Publisher::new(settings.amqp.clone(), vec![], shutdown.clone());
    let probe = events::new_event(PROBE);
    let payload = prost::Message::encode_to_vec(&probe);
    let headers = BTreeMap::new();
    eventually("the observer queue to be bound", || async {
        let out = Outgoing {
            exchange: &settings.amqp.exchange,
            routing_key: PROBE,
            message_id: uuid::Uuid::parse_str(&probe.event_id).unwrap(),
            payload: &payload,
            headers: &headers,
        };
        matches!(publisher.publish_batch(&[out]).await.as_deref(), Ok([true])).then_some(())
    })
    .await;
    let first = tokio::time::timeout(Duration::from_secs(30), rx.recv())
        .await
        .expect("the probe arrives")
        .expect("observer running");
    assert_eq!(first.kind, PROBE);
    rx
}

impl TestApp {
    /// On the internal port (gRPC, /metrics, /readyz).
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// On the public port (Mobiltek's notifications).
    pub fn callback_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.callback_port)
    }

    pub async fn grpc(&self) -> PaymentProviderClient<paysys_platform::grpc::TracedChannel> {
        PaymentProviderClient::new(
            paysys_platform::grpc::connect(&self.url(""), &testing::internal_token())
                .await
                .expect("connect to the PaymentProvider gRPC service"),
        )
    }

    /// Start for seed 000's one-time example (price "10" grosz), order `order_id`.
    pub async fn start(
        &self,
        req: StartRequest,
    ) -> Result<paysys_proto::StartResponse, tonic::Status> {
        self.grpc().await.start(req).await.map(|r| r.into_inner())
    }

    /// Starts `order_id` and returns Mobiltek's transaction id.
    pub async fn started(&self, req: StartRequest) -> String {
        self.start(req).await.expect("Start").provider_ref
    }

    /// POSTs a notification as Mobiltek would: form-encoded, signed with the adapter's secret.
    pub async fn notify(&self, fields: &[(&str, &str)]) -> (u16, String) {
        self.notify_form(&signed(SECRET, fields)).await
    }

    pub async fn notify_form(&self, form: &[(String, String)]) -> (u16, String) {
        let r = self
            .http
            .post(self.callback_url("/mobiltek/notify"))
            .form(form)
            .send()
            .await
            .expect("POST /mobiltek/notify");
        (r.status().as_u16(), r.text().await.unwrap_or_default())
    }

    /// The next event on the test exchange (30 s at most).
    pub async fn next_event(&mut self) -> Event {
        tokio::time::timeout(Duration::from_secs(30), self.events.recv())
            .await
            .expect("an event within 30 s")
            .expect("observer running")
    }

    /// Every event up to and including the next one of order `marker`: the adapter publishes its
    /// outbox in order, so nothing written before the marker can arrive after it.
    pub async fn events_until_order(&mut self, marker: &str) -> Vec<Event> {
        let mut out = Vec::new();
        loop {
            let e = self.next_event().await;
            let done = e.order_id == marker;
            out.push(e);
            if done {
                return out;
            }
        }
    }

    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(&self.pool)
            .await
            .expect("count query")
    }

    pub async fn stop(self) {
        self.shutdown.trigger();
        tokio::time::timeout(Duration::from_secs(15), self.handle)
            .await
            .expect("the adapter stops within its grace period")
            .expect("the adapter task did not panic")
            .expect("the adapter stopped cleanly");
    }
}

/// The fields plus their hash, computed as docs/providers/mobiltek.md says (independently of
/// the adapter's code): HMAC-SHA512 over `name=value` pairs, RFC 3986-encoded, joined by `&`.
pub fn signed(secret: &str, fields: &[(&str, &str)]) -> Vec<(String, String)> {
    const ORDER: [&str; 10] = [
        "notification_id",
        "transaction_id",
        "service_id",
        "msisdn",
        "operator_id",
        "type",
        "amount",
        "charge_id",
        "reason",
        "timestamp",
    ];
    let value = |k: &str| {
        fields
            .iter()
            .find(|(f, _)| *f == k)
            .map(|(_, v)| v.to_string())
            .unwrap_or_default()
    };
    let canonical = ORDER
        .iter()
        .map(|k| format!("{k}={}", urlencoding::encode(&value(k))))
        .collect::<Vec<_>>()
        .join("&");
    let hash = paysys_platform::signing::hmac_sha512_hex(secret.as_bytes(), canonical.as_bytes());
    let mut form: Vec<(String, String)> = fields
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    form.push(("hash".into(), hash));
    form
}

/// Seed 000's one-time request (as rpc-edge maps it), for order `order_id`.
pub fn seed_one_time(order_id: &str) -> StartRequest {
    StartRequest {
        merchant_id: "1".into(),
        order_id: order_id.into(),
        channel_id: "18912".into(),
        kind: OrderKind::OneTime as i32,
        amount_minor: 10,
        currency: "PLN".into(),
        product_name: "Płatność w serwisie Mediaklub".into(),
        client_ip: "127.0.0.1".into(),
        return_url: "http://onet.pl".into(),
        customer: Some(Customer {
            ext_id: "".into(),
            email: "tomek@test.pl".into(),
            phone: "48690112325".into(),
            firstname: "tester".into(),
            lastname: "testowski".into(),
        }),
        ..Default::default()
    }
}

/// Seed 000's subscription request, for order `order_id`.
pub fn seed_subscription(order_id: &str) -> StartRequest {
    let mut r = seed_one_time(order_id);
    r.merchant_id = "34801".into();
    r.channel_id = "18913".into();
    r.kind = OrderKind::Subscription as i32;
    r.product_name = "test product".into();
    if let Some(c) = r.customer.as_mut() {
        c.ext_id = "1234qwera".into();
        c.email = "tomek_sync@test.pl".into();
        c.phone = "48501123123".into();
    }
    r
}

/// Polls `f` until it returns Some, or panics after 30 s naming what did not happen.
pub async fn eventually<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What the fake Mobiltek answers to `POST /unsubscribe`.
#[derive(Clone)]
pub struct FakeAnswer {
    pub status: StatusCode,
    pub body: String,
    pub delay: Duration,
}

/// A tiny fake Mobiltek on port 0: records every unsubscribe form, answers `answer`.
#[derive(Clone)]
pub struct FakeMobiltek {
    pub base_url: String,
    pub received: Arc<Mutex<Vec<HashMap<String, String>>>>,
    pub answer: Arc<Mutex<FakeAnswer>>,
}

impl FakeMobiltek {
    pub async fn spawn() -> Self {
        let received = Arc::new(Mutex::new(Vec::new()));
        let answer = Arc::new(Mutex::new(FakeAnswer {
            status: StatusCode::OK,
            body: "OK\n2302:Subscriber unregistered".into(),
            delay: Duration::ZERO,
        }));
        let state = (received.clone(), answer.clone());
        type St = (
            Arc<Mutex<Vec<HashMap<String, String>>>>,
            Arc<Mutex<FakeAnswer>>,
        );
        async fn unsubscribe(
            State((received, answer)): State<St>,
            axum::Form(form): axum::Form<HashMap<String, String>>,
        ) -> (StatusCode, String) {
            received.lock().unwrap().push(form);
            let a = answer.lock().unwrap().clone();
            tokio::time::sleep(a.delay).await;
            (a.status, a.body)
        }
        let router = axum::Router::new()
            .route("/mobiltek/unsubscribe", axum::routing::post(unsubscribe))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self {
            base_url: format!("http://127.0.0.1:{port}/mobiltek"),
            received,
            answer,
        }
    }

    pub fn answer(&self, status: StatusCode, body: &str, delay: Duration) {
        *self.answer.lock().unwrap() = FakeAnswer {
            status,
            body: body.into(),
            delay,
        };
    }

    pub fn received(&self) -> Vec<HashMap<String, String>> {
        self.received.lock().unwrap().clone()
    }
}
