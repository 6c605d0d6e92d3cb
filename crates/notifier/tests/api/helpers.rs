//! Test support: `spawn_app` (fresh database, unique exchange and queue names, port 0), a fake
//! merchant server that records every notification and answers as scripted, event publishing
//! and polling with a deadline.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use notifier::{Application, Settings};
use paysys_platform::broker::{Outgoing, Publisher};
use paysys_platform::grpc::TracedChannel;
use paysys_platform::{events, testing, Shutdown};
use paysys_proto::notifier_client::NotifierClient;
use paysys_proto::Event;
use prost::Message as _;
use sqlx::{PgPool, Row};
use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinHandle;

/// A Standard Webhooks secret (`whsec_` + base64), as an operator would configure it.
pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
pub const MERCHANT: &str = "34801";

/// Knobs of one test's notifier.
#[derive(Clone)]
pub struct Options {
    pub schedule_secs: Vec<i64>,
    pub request_timeout_ms: i64,
    pub lease_margin_ms: i64,
    pub prefetch: i64,
    /// `notifier.concurrency`: deliveries in flight at once.
    pub concurrency: i64,
    /// `notifier.allow_private_destinations`: true, as the fake merchants listen on 127.0.0.1.
    pub allow_private_destinations: bool,
    /// `notifier.require_https`.
    pub require_https: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            schedule_secs: vec![0, 1, 1, 1],
            request_timeout_ms: 2000,
            lease_margin_ms: 500,
            prefetch: 8,
            concurrency: 32,
            allow_private_destinations: true,
            require_https: false,
        }
    }
}

/// What a notifier runs against: its database and its broker names. A second notifier on the
/// same `Env` shares the database and the queue, like a restarted process.
#[derive(Clone)]
pub struct Env {
    pub db_url: String,
    pub prefix: String,
}

impl Env {
    pub async fn new() -> Env {
        let db = testing::fresh_database()
            .await
            .expect("create test database");
        Env {
            db_url: testing::expose(&db),
            prefix: testing::unique_prefix(),
        }
    }

    pub fn settings(&self, opts: &Options) -> Settings {
        let prefix = self.prefix.clone();
        paysys_platform::config::load_with(|b| {
            b.set_override("database.url", self.db_url.clone())
                .unwrap()
                .set_override("amqp.url", testing::amqp_url())
                .unwrap()
                .set_override("amqp.exchange", format!("{prefix}events"))
                .unwrap()
                .set_override("amqp.queue_prefix", prefix.clone())
                .unwrap()
                .set_override("amqp.prefetch", opts.prefetch)
                .unwrap()
                // Test queues disappear two minutes after their last consumer.
                .set_override("amqp.queue_expires_ms", 120_000i64)
                .unwrap()
                .set_override("notifier.listen", "127.0.0.1:0")
                .unwrap()
                .set_override("notifier.schedule_secs", opts.schedule_secs.clone())
                .unwrap()
                .set_override("notifier.jitter", 0.0)
                .unwrap()
                .set_override("notifier.request_timeout_ms", opts.request_timeout_ms)
                .unwrap()
                .set_override("notifier.lease_margin_ms", opts.lease_margin_ms)
                .unwrap()
                .set_override("notifier.poll_ms", 100)
                .unwrap()
                .set_override("notifier.concurrency", opts.concurrency)
                .unwrap()
                .set_override(
                    "notifier.allow_private_destinations",
                    opts.allow_private_destinations,
                )
                .unwrap()
                .set_override("notifier.require_https", opts.require_https)
                .unwrap()
                .set_override("internal.token", testing::INTERNAL_TOKEN)
                .unwrap()
                .set_override("secrets.data_key", testing::DATA_KEY)
                .unwrap()
        })
        .expect("test settings")
    }
}

pub struct TestApp {
    pub env: Env,
    pub settings: Settings,
    pub port: u16,
    pub pool: PgPool,
    pub shutdown: Shutdown,
    pub handle: JoinHandle<anyhow::Result<()>>,
    pub publisher: Publisher,
}

pub async fn spawn_app(opts: &Options) -> TestApp {
    spawn_app_on(Env::new().await, opts).await
}

pub async fn spawn_app_on(env: Env, opts: &Options) -> TestApp {
    let settings = env.settings(opts);
    let shutdown = Shutdown::new();
    let app = Application::build(settings.clone(), shutdown.clone())
        .await
        .expect("build the notifier");
    let port = app.port();
    let pool = app.pool().clone();
    let handle = tokio::spawn(app.run_until_stopped());
    let publisher = Publisher::new(settings.amqp.clone(), vec![], Shutdown::new());
    TestApp {
        env,
        settings,
        port,
        pool,
        shutdown,
        handle,
        publisher,
    }
}

impl TestApp {
    /// A `Notifier` client carrying the internal token, as the CLI's.
    pub async fn grpc(&self) -> NotifierClient<TracedChannel> {
        let channel = paysys_platform::grpc::connect(
            &format!("http://127.0.0.1:{}", self.port),
            &testing::internal_token(),
        )
        .await
        .expect("connect to the Notifier gRPC service");
        NotifierClient::new(channel)
    }

    pub async fn configure_merchant(&self, merchant_id: &str, url: &str) {
        notifier::upsert_endpoint(&self.pool, merchant_id, url, SECRET)
            .await
            .expect("upsert endpoint");
    }

    /// Sets the merchant's endpoint with a choice of methods and per-method URLs.
    pub async fn configure_choice(&self, merchant_id: &str, url: &str, choice: &notifier::Choice) {
        notifier::save_endpoint(&self.pool, merchant_id, url, SECRET, choice)
            .await
            .expect("save endpoint");
    }

    /// Publishes `event` as a producer's outbox relay would, retrying until the notifier's
    /// queue is bound (the broker returns unroutable messages until then).
    pub async fn publish(&self, event: &Event) {
        let payload = event.encode_to_vec();
        let headers = BTreeMap::new();
        let id = uuid::Uuid::parse_str(&event.event_id).expect("event id");
        eventually("the event to be routed to the notifier's queue", || async {
            let outgoing = Outgoing {
                exchange: &self.settings.amqp.exchange,
                routing_key: &event.kind,
                message_id: id,
                payload: &payload,
                headers: &headers,
            };
            match self.publisher.publish_batch(&[outgoing]).await {
                Ok(routed) if routed == [true] => Some(()),
                _ => None,
            }
        })
        .await
    }

    /// The notification of an order: (webhook-id, status, attempts, last_error).
    pub async fn notification(&self, order_id: &str) -> Option<NotificationRow> {
        sqlx::query(
            "SELECT id, status, attempts, last_error FROM notifications WHERE order_id = $1",
        )
        .bind(order_id)
        .fetch_optional(&self.pool)
        .await
        .expect("query notifications")
        .map(|r| NotificationRow {
            id: r.get::<uuid::Uuid, _>("id").to_string(),
            status: r.get("status"),
            attempts: r.get("attempts"),
            last_error: r.get("last_error"),
        })
    }

    /// Waits until the order's notification has `status`.
    pub async fn wait_for_status(&self, order_id: &str, status: &str) -> NotificationRow {
        eventually(
            &format!("notification of {order_id} to be {status}"),
            || async {
                self.notification(order_id)
                    .await
                    .filter(|n| n.status == status)
            },
        )
        .await
    }

    /// The errors recorded with each attempt of a notification, in order.
    pub async fn attempt_errors(&self, webhook_id: &str) -> Vec<Option<String>> {
        sqlx::query_scalar(
            "SELECT error FROM attempts WHERE notification_id = $1::uuid ORDER BY id",
        )
        .bind(webhook_id)
        .fetch_all(&self.pool)
        .await
        .expect("query attempts")
    }

    /// HTTP statuses of the recorded attempts of a notification, in order (None = no answer).
    pub async fn attempt_statuses(&self, webhook_id: &str) -> Vec<Option<i32>> {
        sqlx::query_scalar(
            "SELECT http_status FROM attempts WHERE notification_id = $1::uuid ORDER BY id",
        )
        .bind(webhook_id)
        .fetch_all(&self.pool)
        .await
        .expect("query attempts")
    }

    pub async fn count(&self, sql: &str, bind: &str) -> i64 {
        sqlx::query_scalar(sql)
            .bind(bind)
            .fetch_one(&self.pool)
            .await
            .expect("count query")
    }

    /// Graceful stop: triggers the Shutdown and expects run_until_stopped to return Ok.
    pub async fn stop(self) {
        self.shutdown.trigger();
        tokio::time::timeout(Duration::from_secs(15), self.handle)
            .await
            .expect("the notifier stops within its grace period")
            .expect("the notifier task did not panic")
            .expect("the notifier stopped cleanly");
    }
}

#[derive(Debug, Clone)]
pub struct NotificationRow {
    pub id: String,
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
}

/// An event as the Mobiltek adapter would publish it.
pub fn event(kind: &str, order_id: &str) -> Event {
    Event {
        merchant_id: MERCHANT.into(),
        order_id: order_id.into(),
        provider: "mobiltek".into(),
        channel_id: "18912".into(),
        amount_minor: 10,
        currency: "PLN".into(),
        charge_id: "1000014896266637".into(),
        user_id: "1234qwera".into(),
        user_email: "tomek@test.pl".into(),
        provider_fields: [
            ("mobiltek_msisdn", "48690112325"),
            ("mobiltek_operator_id", "26003"),
            ("mobiltek_notification_type", "PAYMENT"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
        ..events::new_event(kind)
    }
}

/// Polls `probe` every 50 ms until it yields a value; panics naming `what` after 20 s.
pub async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// How the fake merchant answers one notification.
#[derive(Debug, Clone, Copy)]
pub enum Reply {
    Status(u16),
    /// This status with this body (text/plain).
    StatusWithBody(u16, &'static str),
    /// Never answers (the notifier's request times out or the notifier dies waiting).
    Hang,
}

/// One notification the merchant received.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("notification body is JSON")
    }
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("header {name} missing"))
    }
}

/// A merchant's notification endpoint on port 0: records requests, answers from a script,
/// then with its default reply.
#[derive(Clone)]
pub struct Merchant {
    pub url: String,
    state: Arc<MerchantState>,
}

struct MerchantState {
    received: Mutex<Vec<Received>>,
    script: Mutex<VecDeque<Reply>>,
    default: Mutex<Reply>,
}

impl Merchant {
    pub async fn start(script: Vec<Reply>, default: Reply) -> Merchant {
        let state = Arc::new(MerchantState {
            received: Mutex::new(Vec::new()),
            script: Mutex::new(script.into()),
            default: Mutex::new(default),
        });
        let app = axum::Router::new()
            .route("/notify", axum::routing::post(receive))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind merchant");
        let url = format!("http://{}/notify", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Merchant { url, state }
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }

    pub fn answer_from_now_on(&self, reply: Reply) {
        *self.state.default.lock().unwrap() = reply;
    }

    /// Waits until at least `n` notifications arrived.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        eventually(&format!("{n} notification(s) at the merchant"), || async {
            let got = self.received();
            (got.len() >= n).then_some(got)
        })
        .await
    }
}

async fn receive(
    State(state): State<Arc<MerchantState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    state
        .received
        .lock()
        .unwrap()
        .push(Received { headers, body });
    let reply = {
        let next = state.script.lock().unwrap().pop_front();
        next.unwrap_or(*state.default.lock().unwrap())
    };
    match reply {
        Reply::Status(code) => StatusCode::from_u16(code).unwrap().into_response(),
        Reply::StatusWithBody(code, body) => {
            (StatusCode::from_u16(code).unwrap(), body).into_response()
        }
        Reply::Hang => std::future::pending().await,
    }
}
