//! The whole PaySystem in one process for tests and the benchmark: every service on a free port,
//! a fresh database, unique exchange and queue names, the seed 000 fixtures, and a fake merchant
//! that records the notifications it receives. Nothing here touches a running `make up`.
//!
//! A service that fails, panics or ends before the system is stopped fails the test: its name
//! and error are recorded ([`Crashes`]), every wait helper panics with them as soon as they are
//! there, and [`TestSystem::stop`] (or dropping the system) panics with them at the end.

use axum::extract::{Path, State};
use axum::routing::post;
use futures::FutureExt;
use paysys_platform::config::load_with;
use paysys_platform::{testing, Shutdown};
use paysys_proto::ledger_client::LedgerClient;
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Seed 000's merchants: (merchant_id, API secret, notification secret).
pub const MERCHANT_1: (&str, &str, &str) = (
    "1",
    "merchant-1-secret",
    "whsec_bWVyY2hhbnQtMS1ub3RpZnktc2VjcmV0",
);
pub const MERCHANT_19: (&str, &str, &str) = (
    "19",
    "merchant-19-secret",
    "whsec_bWVyY2hhbnQtMTktbm90aWZ5LXNlY3JldA==",
);
pub const MERCHANT_34801: (&str, &str, &str) = (
    "34801",
    "merchant-34801-secret",
    "whsec_bWVyY2hhbnQtMzQ4MDEtbm90aWZ5LXNlY3JldA==",
);
/// The Netopia merchant of the fixtures (seed 003 names none): channels 7001 (one-time) and
/// 7002 (subscription), RON, seller account [`NETOPIA_ACCOUNT`].
pub const MERCHANT_40: (&str, &str, &str) = (
    "40",
    "merchant-40-secret",
    "whsec_bWVyY2hhbnQtNDAtbm90aWZ5LXNlY3JldA==",
);
/// The MoCoPay merchant of the fixtures (seed 004 names none): channels 8001 (one-time,
/// pid CHMIBSUB) and 8002 (subscription, pid PP27638049), EUR.
pub const MERCHANT_50: (&str, &str, &str) = (
    "50",
    "merchant-50-secret",
    "whsec_bWVyY2hhbnQtNTAtbm90aWZ5LXNlY3JldA==",
);
pub const NETOPIA_ACCOUNT: &str = "SAND-BOX0-SELL-ER00-0001";

/// Netopia's envelope keys made for one test system (never committed): mobilPay's key pair and
/// the seller's.
#[derive(Clone)]
pub struct NetopiaKeys {
    pub netopia_private_key_pem: String,
    pub netopia_certificate_pem: String,
    pub seller_private_key_pem: String,
    pub seller_certificate_pem: String,
}

impl NetopiaKeys {
    pub fn generate() -> Self {
        let netopia = provider_netopia::test_keys::generate_test_identity("mobilPay sandbox")
            .expect("netopia test key");
        let seller =
            provider_netopia::test_keys::generate_test_identity("seller").expect("seller test key");
        Self {
            netopia_private_key_pem: netopia.private_key_pem,
            netopia_certificate_pem: netopia.certificate_pem,
            seller_private_key_pem: seller.private_key_pem,
            seller_certificate_pem: seller.certificate_pem,
        }
    }
}

/// One notification as the merchant received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub merchant: String,
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
    pub json: Value,
    pub at: Instant,
}

impl Received {
    pub fn method(&self) -> &str {
        self.json["method"].as_str().unwrap_or("")
    }
}

/// What went wrong with the services of one test system: one line per service that returned
/// an error, panicked, or ended before its shutdown was triggered.
#[derive(Clone, Default)]
pub struct Crashes(Arc<Mutex<Vec<String>>>);

impl Crashes {
    fn record(&self, what: String) {
        eprintln!("{what}");
        if let Ok(mut g) = self.0.lock() {
            g.push(what);
        }
    }

    /// Every crash so far.
    pub fn all(&self) -> Vec<String> {
        self.0.lock().map(|g| g.clone()).unwrap_or_default()
    }

    /// Panics naming every service that crashed, if one did.
    pub fn check(&self) {
        let all = self.all();
        if !all.is_empty() {
            panic!("a service of the test system crashed: {}", all.join("; "));
        }
    }
}

/// A merchant's notification endpoint: records everything, answers 200.
#[derive(Clone, Default)]
pub struct MerchantInbox {
    pub received: Arc<Mutex<Vec<Received>>>,
    /// The system's crashes: waiting for a notification stops as soon as a service crashed.
    crashes: Crashes,
}

impl MerchantInbox {
    pub fn all(&self) -> Vec<Received> {
        self.received.lock().map(|g| g.clone()).unwrap_or_default()
    }

    pub fn of(&self, merchant: &str, method: &str) -> Vec<Received> {
        self.all()
            .into_iter()
            .filter(|r| r.merchant == merchant && r.method() == method)
            .collect()
    }

    /// Waits until `merchant` received at least `n` notifications of `method`.
    pub async fn wait_for(&self, merchant: &str, method: &str, n: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let got = self.of(merchant, method);
            if got.len() >= n {
                return got;
            }
            self.crashes.check();
            if Instant::now() > deadline {
                panic!(
                    "merchant {merchant} got {} {method} notifications, wanted {n}; all: {:?}",
                    got.len(),
                    self.all()
                        .iter()
                        .map(|r| (r.merchant.clone(), r.method().to_string()))
                        .collect::<Vec<_>>()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn inbox_handler(
    State(inbox): State<MerchantInbox>,
    Path(merchant): Path<String>,
    headers: http::HeaderMap,
    body: axum::body::Bytes,
) -> axum::Json<Value> {
    let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let id = json["id"].clone();
    if let Ok(mut g) = inbox.received.lock() {
        g.push(Received {
            merchant,
            headers,
            body: body.to_vec(),
            json,
            at: Instant::now(),
        });
    }
    axum::Json(json!({"jsonrpc": "2.0", "id": id, "result": {"status": 1}}))
}

/// Picks a free port by binding port 0 and releasing it (only for the one service whose address
/// another must know before it starts).
/// A port for a service that must be known before the service binds it (the sandbox's URL goes
/// into the adapters' settings). Binding port 0 and releasing it raced: the kernel could hand
/// the same ephemeral port to another test's service (bound to port 0) before ours bound it. So
/// these ports come from below the ephemeral range (Linux: 32768-60999), are checked free, and
/// are never handed out twice by this process (the tests of one binary share it).
fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    // Start somewhere different per process, so two test binaries run at once rarely meet.
    let _ = NEXT.compare_exchange(
        0,
        20_000 + (std::process::id() % 1_000) as u16 * 12,
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
    for _ in 0..2_000 {
        let port = NEXT.fetch_add(1, Ordering::SeqCst);
        let port = 20_000 + (port - 20_000) % 12_000;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port below the ephemeral range")
}

pub struct TestSystem {
    pub edge_url: String,
    pub sandbox_url: String,
    pub ledger_url: String,
    pub notifier_url: String,
    /// provider-mobiltek's public callback address (`/mobiltek/notify`).
    pub mobiltek_url: String,
    /// provider-mobiltek's internal address (gRPC PaymentProvider, /metrics, /readyz).
    pub mobiltek_grpc_url: String,
    /// provider-netopia's public address (`/netopia/ipn`, `/netopia/pay/{reference}`).
    pub netopia_url: String,
    /// provider-mocopay's public address (`/mocopay/notify`, `/mocopay/return`).
    pub mocopay_url: String,
    /// The Netopia test keys this system was made with (mobilPay's and the seller's).
    pub netopia_keys: NetopiaKeys,
    pub inbox: MerchantInbox,
    pub http: reqwest::Client,
    pub edge_pool: sqlx::PgPool,
    pub database_url: String,
    pub prefix: String,
    pub shutdown: Shutdown,
    /// The services that failed so far (see [`Crashes`]).
    pub crashes: Crashes,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// Whether `stop` already reported the crashes (so dropping the system does not again).
    stopped: bool,
    /// provider-teleaudio runs under its own shutdown so tests can stop and restart it.
    teleaudio: tokio::sync::Mutex<Option<(Shutdown, tokio::task::JoinHandle<()>)>>,
    teleaudio_settings: provider_teleaudio::Settings,
}

type Overrides = Vec<(String, config::Value)>;

fn settings<T: serde::de::DeserializeOwned>(o: &Overrides) -> T {
    load_with(|mut b| {
        for (k, v) in o {
            b = b.set_override(k.as_str(), v.clone()).expect("override");
        }
        b
    })
    .expect("test settings")
}

/// Runs one service; an error, a panic, or an end before `shutdown` was triggered is recorded
/// in `crashes` with the service's name.
fn spawn<F>(
    name: &'static str,
    shutdown: Shutdown,
    crashes: Crashes,
    fut: F,
) -> tokio::task::JoinHandle<()>
where
    F: std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
{
    tokio::spawn(async move {
        let problem = match AssertUnwindSafe(fut).catch_unwind().await {
            Ok(Ok(())) if shutdown.is_triggered() => return,
            Ok(Ok(())) => "ended before shutdown was triggered".to_string(),
            Ok(Err(e)) => format!("stopped with an error: {e:#}"),
            Err(panic) => format!("panicked: {}", panic_message(panic.as_ref())),
        };
        crashes.record(format!("{name} {problem}"));
    })
}

/// The message of a panic payload (`panic!` gives a `&str` or a `String`).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(not a string)".into())
}

/// Starts every service, loads the seed 000 fixtures pointing at the test merchant inbox.
pub async fn spawn_system() -> TestSystem {
    spawn_system_with(Vec::new()).await
}

/// As [`spawn_system`], with extra configuration overrides (e.g. pool sizes for the benchmark).
pub async fn spawn_system_with(extra: Vec<(String, config::Value)>) -> TestSystem {
    let db = testing::fresh_database().await.expect("fresh database");
    let database_url = db.expose_secret().to_string();
    let prefix = testing::unique_prefix();
    let crashes = Crashes::default();
    let inbox = MerchantInbox {
        crashes: crashes.clone(),
        ..MerchantInbox::default()
    };
    let inbox_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind inbox");
    let inbox_port = inbox_listener.local_addr().expect("addr").port();
    let inbox_router = axum::Router::new()
        .route("/{merchant}/notifications", post(inbox_handler))
        .with_state(inbox.clone());
    let shutdown = Shutdown::new();
    let mut tasks = Vec::new();
    {
        let s = shutdown.clone();
        tasks.push(tokio::spawn(async move {
            let _ = axum::serve(inbox_listener, inbox_router)
                .with_graceful_shutdown(async move { s.wait().await })
                .await;
        }));
    }
    let sandbox_port = free_port();
    let mut o: Overrides = vec![
        ("database.url".into(), database_url.clone().into()),
        ("database.max_connections".into(), 5i64.into()),
        ("amqp.url".into(), testing::amqp_url().into()),
        ("amqp.exchange".into(), format!("{prefix}events").into()),
        ("amqp.queue_prefix".into(), prefix.clone().into()),
        ("amqp.queue_expires_ms".into(), 120_000i64.into()),
        (
            "telemetry.level".into(),
            std::env::var("PAYSYS_TEST_LOG")
                .unwrap_or_else(|_| "warn".into())
                .into(),
        ),
        ("telemetry.log_format".into(), "pretty".into()),
        ("internal.token".into(), testing::INTERNAL_TOKEN.into()),
        ("secrets.data_key".into(), testing::DATA_KEY.into()),
        ("edge.listen".into(), "127.0.0.1:0".into()),
        ("mobiltek.listen".into(), "127.0.0.1:0".into()),
        ("mobiltek.callback_listen".into(), "127.0.0.1:0".into()),
        (
            "mobiltek.base_url".into(),
            format!("http://127.0.0.1:{sandbox_port}/mobiltek").into(),
        ),
        // The sandbox plays the test environments too (seed 000/001 orders with "test").
        (
            "mobiltek.test_base_url".into(),
            format!("http://127.0.0.1:{sandbox_port}/mobiltek").into(),
        ),
        ("notifier.listen".into(), "127.0.0.1:0".into()),
        ("notifier.schedule_secs".into(), vec![0i64, 1, 1, 1].into()),
        ("ledger.listen".into(), "127.0.0.1:0".into()),
        (
            "sandbox.listen".into(),
            format!("127.0.0.1:{sandbox_port}").into(),
        ),
        (
            "sandbox.public_url".into(),
            format!("http://127.0.0.1:{sandbox_port}").into(),
        ),
    ];
    o.extend(extra);
    paysys_platform::telemetry::init("paysys-tests", &settings::<TelemetryOnly>(&o).telemetry);

    let ledger = ledger::Application::build(settings(&o), shutdown.clone())
        .await
        .expect("ledger");
    let ledger_url = format!("http://127.0.0.1:{}", ledger.port());
    tasks.push(spawn(
        "ledger",
        shutdown.clone(),
        crashes.clone(),
        ledger.run_until_stopped(),
    ));
    let notifier = notifier::Application::build(settings(&o), shutdown.clone())
        .await
        .expect("notifier");
    let notifier_url = format!("http://127.0.0.1:{}", notifier.port());
    tasks.push(spawn(
        "notifier",
        shutdown.clone(),
        crashes.clone(),
        notifier.run_until_stopped(),
    ));
    let mobiltek = provider_mobiltek::Application::build(settings(&o), shutdown.clone())
        .await
        .expect("mobiltek");
    let mobiltek_port = mobiltek.port();
    let mobiltek_callback_port = mobiltek.callback_port();
    tasks.push(spawn(
        "provider-mobiltek",
        shutdown.clone(),
        crashes.clone(),
        mobiltek.run_until_stopped(),
    ));

    // Netopia: keys made for this system; the adapter seals orders for mobilPay's certificate
    // and opens IPNs with the seller's key; the sandbox holds the other halves.
    let netopia_keys = NetopiaKeys::generate();
    // The public (callback) port must be known before the adapter starts: it is in the links.
    let netopia_callback_port = free_port();
    let netopia_url = format!("http://127.0.0.1:{netopia_callback_port}");
    for (k, v) in [
        ("netopia.listen", "127.0.0.1:0".to_string()),
        (
            "netopia.callback_listen",
            format!("127.0.0.1:{netopia_callback_port}"),
        ),
        ("netopia.public_url", netopia_url.clone()),
        (
            "netopia.card_url",
            format!("http://127.0.0.1:{sandbox_port}/netopia/card"),
        ),
        (
            "netopia.test_card_url",
            format!("http://127.0.0.1:{sandbox_port}/netopia/card"),
        ),
        (
            "netopia.soap_url",
            format!("http://127.0.0.1:{sandbox_port}/netopia/api/payment"),
        ),
        (
            "netopia.netopia_certificate_pem",
            netopia_keys.netopia_certificate_pem.clone(),
        ),
        (
            "netopia.seller_private_key_pem",
            netopia_keys.seller_private_key_pem.clone(),
        ),
        (
            "sandbox.netopia.private_key_pem",
            netopia_keys.netopia_private_key_pem.clone(),
        ),
        (
            "sandbox.netopia.certificate_pem",
            netopia_keys.netopia_certificate_pem.clone(),
        ),
        (
            "sandbox.netopia.seller_certificate_pem",
            netopia_keys.seller_certificate_pem.clone(),
        ),
    ] {
        o.push((k.into(), v.into()));
    }
    let netopia = provider_netopia::Application::build(settings(&o), shutdown.clone())
        .await
        .expect("netopia");
    o.push((
        "edge.providers.netopia".into(),
        format!("http://127.0.0.1:{}", netopia.port()).into(),
    ));
    tasks.push(spawn(
        "provider-netopia",
        shutdown.clone(),
        crashes.clone(),
        netopia.run_until_stopped(),
    ));

    let mocopay_callback_port = free_port();
    let mocopay_url = format!("http://127.0.0.1:{mocopay_callback_port}");
    for (k, v) in [
        ("mocopay.listen", "127.0.0.1:0".to_string()),
        (
            "mocopay.callback_listen",
            format!("127.0.0.1:{mocopay_callback_port}"),
        ),
        ("mocopay.public_url", mocopay_url.clone()),
        (
            "mocopay.base_url",
            format!("http://127.0.0.1:{sandbox_port}/mocopay"),
        ),
        (
            "mocopay.test_base_url",
            format!("http://127.0.0.1:{sandbox_port}/mocopay"),
        ),
    ] {
        o.push((k.into(), v.into()));
    }
    let mocopay = provider_mocopay::Application::build(settings(&o), shutdown.clone())
        .await
        .expect("mocopay");
    o.push((
        "edge.providers.mocopay".into(),
        format!("http://127.0.0.1:{}", mocopay.port()).into(),
    ));
    tasks.push(spawn(
        "provider-mocopay",
        shutdown.clone(),
        crashes.clone(),
        mocopay.run_until_stopped(),
    ));

    let teleaudio_port = free_port();
    let teleaudio_callback_port = free_port();
    o.push((
        "teleaudio.listen".into(),
        format!("127.0.0.1:{teleaudio_port}").into(),
    ));
    o.push((
        "teleaudio.callback_listen".into(),
        format!("127.0.0.1:{teleaudio_callback_port}").into(),
    ));
    o.push((
        "teleaudio.base_url".into(),
        format!("http://127.0.0.1:{sandbox_port}/teleaudio").into(),
    ));
    o.push((
        "teleaudio.test_base_url".into(),
        format!("http://127.0.0.1:{sandbox_port}/teleaudio").into(),
    ));
    o.push((
        "sandbox.teleaudio.notify_url".into(),
        format!("http://127.0.0.1:{teleaudio_callback_port}/teleaudio/notify").into(),
    ));
    o.push((
        "edge.providers.teleaudio".into(),
        format!("http://127.0.0.1:{teleaudio_port}").into(),
    ));
    let teleaudio_settings: provider_teleaudio::Settings = settings(&o);
    o.push((
        "sandbox.mobiltek.notify_url".into(),
        format!("http://127.0.0.1:{mobiltek_callback_port}/mobiltek/notify").into(),
    ));
    let sandbox = provider_sandbox::Application::build(settings(&o), shutdown.clone())
        .await
        .expect("sandbox");
    let sandbox_url = format!("http://127.0.0.1:{}", sandbox.port());
    tasks.push(spawn(
        "provider-sandbox",
        shutdown.clone(),
        crashes.clone(),
        sandbox.run_until_stopped(),
    ));
    o.push((
        "edge.providers.mobiltek".into(),
        format!("http://127.0.0.1:{mobiltek_port}").into(),
    ));
    let edge = rpc_edge::Application::build(settings(&o), shutdown.clone())
        .await
        .expect("edge");
    let edge_url = format!("http://127.0.0.1:{}/", edge.port());
    let edge_pool = edge.pool();
    tasks.push(spawn(
        "rpc-edge",
        shutdown.clone(),
        crashes.clone(),
        edge.run_until_stopped(),
    ));

    let notifier_pool = paysys_platform::db::connect(&settings::<DbOnly>(&o).database, "notifier")
        .await
        .expect("notifier pool");
    let inbox_url = |m: &str| format!("http://127.0.0.1:{inbox_port}/{m}/notifications");
    for (id, secret, whsec) in [
        MERCHANT_1,
        MERCHANT_34801,
        MERCHANT_19,
        MERCHANT_40,
        MERCHANT_50,
    ] {
        rpc_edge::store::upsert_merchant(&edge_pool, id, secret)
            .await
            .expect("merchant");
        notifier::upsert_endpoint(&notifier_pool, id, &inbox_url(id), whsec)
            .await
            .expect("endpoint");
    }
    let cfg = |sid: &str| {
        let mut m = serde_json::Map::new();
        m.insert("service_id".into(), json!(sid));
        m
    };
    rpc_edge::store::upsert_channel(
        &edge_pool,
        "18912",
        "1",
        "mobiltek",
        "one_time",
        "PLN",
        &cfg("30576"),
    )
    .await
    .expect("channel");
    rpc_edge::store::upsert_channel(
        &edge_pool,
        "18913",
        "34801",
        "mobiltek",
        "subscription",
        "PLN",
        &cfg("30576"),
    )
    .await
    .expect("channel");
    let config = |k: &str, v: &str| {
        let mut m = serde_json::Map::new();
        if !k.is_empty() {
            m.insert(k.into(), json!(v));
        }
        m
    };
    for (id, merchant, provider, kind, currency, cfg) in [
        // A provider this PaySystem has no adapter for.
        (
            "7999",
            "34801",
            "payu",
            "subscription",
            "PLN",
            config("", ""),
        ),
        // The operator sets the Teleaudio service; seed 001 names the same one per article.
        (
            "9041",
            "19",
            "teleaudio",
            "subscription",
            "PLN",
            config("teleaudio_service_id", "511"),
        ),
        ("9042", "19", "teleaudio", "one_time", "PLN", config("", "")),
        (
            "7001",
            "40",
            "netopia",
            "one_time",
            "RON",
            config("signature", NETOPIA_ACCOUNT),
        ),
        (
            "7002",
            "40",
            "netopia",
            "subscription",
            "RON",
            config("signature", NETOPIA_ACCOUNT),
        ),
        (
            "8001",
            "50",
            "mocopay",
            "one_time",
            "EUR",
            config("pid", "CHMIBSUB"),
        ),
        (
            "8002",
            "50",
            "mocopay",
            "subscription",
            "EUR",
            config("pid", "PP27638049"),
        ),
    ] {
        rpc_edge::store::upsert_channel(&edge_pool, id, merchant, provider, kind, currency, &cfg)
            .await
            .expect("channel");
    }

    let sys = TestSystem {
        edge_url,
        sandbox_url,
        ledger_url,
        notifier_url,
        mobiltek_url: format!("http://127.0.0.1:{mobiltek_callback_port}"),
        mobiltek_grpc_url: format!("http://127.0.0.1:{mobiltek_port}"),
        netopia_url,
        mocopay_url,
        netopia_keys,
        teleaudio: tokio::sync::Mutex::new(None),
        teleaudio_settings,
        inbox,
        http: reqwest::Client::new(),
        edge_pool,
        database_url,
        prefix,
        shutdown,
        crashes,
        tasks,
        stopped: false,
    };
    sys.start_teleaudio().await;
    sys.wait_ready().await;
    // Tests may stop an adapter right away: the edge must have learned what each can do.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let known: i64 = sqlx::query_scalar("SELECT count(*) FROM provider_capabilities")
            .fetch_one(&sys.edge_pool)
            .await
            .expect("capabilities");
        if known == 4 {
            break;
        }
        sys.crashes.check();
        assert!(
            std::time::Instant::now() < deadline,
            "the edge did not learn the adapters' capabilities in 30 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    sys
}

#[derive(serde::Deserialize)]
struct TelemetryOnly {
    telemetry: paysys_platform::config::TelemetrySettings,
}
#[derive(serde::Deserialize)]
struct DbOnly {
    database: paysys_platform::config::DatabaseSettings,
}

impl TestSystem {
    async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        for url in [&self.edge_url, &format!("{}/", self.sandbox_url)] {
            loop {
                let ok = self
                    .http
                    .get(format!("{url}readyz"))
                    .send()
                    .await
                    .map(|r| r.status().is_success())
                    .unwrap_or(false);
                if ok {
                    break;
                }
                self.crashes.check();
                assert!(Instant::now() < deadline, "{url} not ready");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        // Readiness says the database answers, not that the consumers are bound: an event
        // published before a consumer's queue exists reaches only the queues that do. Wait for
        // a consumer on each queue the system routes events and commands to.
        let conn = lapin::Connection::connect(
            &testing::amqp_url(),
            lapin::ConnectionProperties::default(),
        )
        .await
        .expect("broker");
        let deadline = Instant::now() + Duration::from_secs(60);
        for queue in [
            "ledger.events",
            "notifier.events",
            "edge.events",
            "provider.teleaudio.commands",
        ] {
            let name = format!("{}{queue}", self.prefix);
            loop {
                let consumers = queue_counts(&conn, &name).await.map_or(0, |c| c.consumers);
                if consumers > 0 {
                    break;
                }
                self.crashes.check();
                assert!(
                    Instant::now() < deadline,
                    "nobody consumes {name} after 60 s"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        let _ = conn.close(200, "ok".into()).await;
    }

    /// POSTs a raw body to the edge; returns HTTP status and the parsed JSON (None if empty).
    pub async fn post_raw(&self, body: &str, content_type: &str) -> (u16, Option<Value>) {
        let r = self
            .http
            .post(&self.edge_url)
            .header("content-type", content_type)
            .body(body.to_string())
            .send()
            .await
            .unwrap_or_else(|e| {
                self.crashes.check();
                panic!("edge unreachable: {e}")
            });
        let status = r.status().as_u16();
        let text = r.text().await.unwrap_or_default();
        (
            status,
            if text.is_empty() {
                None
            } else {
                Some(serde_json::from_str(&text).expect("edge answers JSON"))
            },
        )
    }

    /// One JSON-RPC call; returns the whole response object.
    pub async fn rpc(&self, method: &str, params: Value) -> Value {
        let body =
            json!({"jsonrpc": "2.0", "id": "t", "method": method, "params": params}).to_string();
        self.post_raw(&body, "application/json")
            .await
            .1
            .expect("a response")
    }

    pub async fn sandbox(&self, path: &str, body: Value) -> Value {
        let r = self
            .http
            .post(format!("{}{}", self.sandbox_url, path))
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|e| {
                self.crashes.check();
                panic!("sandbox unreachable: {e}")
            });
        let status = r.status();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "sandbox {path} answered {status}: {v}");
        v
    }

    pub async fn complete(&self, redirect_url: &str, outcome: &str) -> Value {
        self.sandbox(
            "/_sandbox/complete",
            json!({"redirect_url": redirect_url, "outcome": outcome}),
        )
        .await
    }

    pub async fn advance(&self, seconds: u64) -> Value {
        self.sandbox("/_sandbox/clock/advance", json!({"seconds": seconds}))
            .await
    }

    pub async fn ledger(&self) -> LedgerClient<paysys_platform::grpc::TracedChannel> {
        LedgerClient::new(
            paysys_platform::grpc::connect(&self.ledger_url, &testing::internal_token())
                .await
                .expect("ledger reachable"),
        )
    }

    /// The typed gRPC PaySystem on the edge port, with the internal token.
    pub async fn pay_system(
        &self,
    ) -> paysys_proto::pay_system_client::PaySystemClient<paysys_platform::grpc::TracedChannel>
    {
        paysys_proto::pay_system_client::PaySystemClient::new(
            paysys_platform::grpc::connect(
                self.edge_url.trim_end_matches('/'),
                &testing::internal_token(),
            )
            .await
            .expect("edge gRPC reachable"),
        )
    }

    /// The merchant's posted charges, waiting until there are `n`.
    /// The merchant's live-book statement, once it holds at least `n` charges (20 s at most).
    pub async fn statement(&self, merchant: &str, n: usize) -> Vec<paysys_proto::Charge> {
        self.statement_of_book(merchant, false, n).await
    }

    /// The merchant's statement in the test book (`"test": "True"` orders) or the live one.
    pub async fn statement_of_book(
        &self,
        merchant: &str,
        test: bool,
        n: usize,
    ) -> Vec<paysys_proto::Charge> {
        let mut client = self.ledger().await;
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let charges = client
                .statement(paysys_proto::StatementRequest {
                    merchant_id: merchant.into(),
                    test,
                })
                .await
                .expect("statement")
                .into_inner()
                .charges;
            if charges.len() >= n || Instant::now() > deadline {
                return charges;
            }
            self.crashes.check();
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Debits equal credits in every currency of both books (live and test), and something was
    /// posted: an empty ledger is balanced too, but a test that expects postings must not pass
    /// on one. A test that expects none calls [`Self::assert_ledger_balanced_allow_empty`].
    pub async fn assert_ledger_balanced(&self) {
        let posted = self.balanced_totals().await;
        assert!(
            posted.iter().any(|(_, t)| t.debits > 0),
            "the ledger is empty: no currency of either book has a debit ({posted:?})"
        );
    }

    /// As [`Self::assert_ledger_balanced`], for a test where nothing may have been posted.
    pub async fn assert_ledger_balanced_allow_empty(&self) {
        self.balanced_totals().await;
    }

    /// The totals of both books (`true` = the test book), each currency checked balanced.
    async fn balanced_totals(&self) -> Vec<(bool, paysys_proto::CurrencyTotals)> {
        self.crashes.check();
        let mut ledger = self.ledger().await;
        let mut all = Vec::new();
        for test in [false, true] {
            let totals = ledger
                .totals(paysys_proto::TotalsRequest { test })
                .await
                .expect("totals")
                .into_inner()
                .totals;
            for t in totals {
                assert_eq!(
                    t.debits, t.credits,
                    "ledger unbalanced in {} (test book: {test})",
                    t.currency
                );
                all.push((test, t));
            }
        }
        all
    }

    /// The notifier's log of one order once something is logged and none of it is pending (20 s
    /// at most): `(method, status, attempts)`, oldest first. A notification that is no longer
    /// pending is never sent again unless replayed, so after this the merchant's POSTs for the
    /// order are final: the positive evidence to wait for before asserting that nothing more
    /// arrives.
    pub async fn settled_notifications(
        &self,
        merchant: &str,
        order: &str,
    ) -> Vec<(String, String, i32)> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let log: Vec<(String, String, i32)> = sqlx::query_as(
                "SELECT method, status, attempts FROM notifier.notifications
                  WHERE merchant_id = $1 AND order_id = $2 ORDER BY event_id",
            )
            .bind(merchant)
            .bind(order)
            .fetch_all(&self.edge_pool)
            .await
            .expect("notifier.notifications");
            if !log.is_empty() && log.iter().all(|(_, status, _)| status != "pending") {
                return log;
            }
            self.crashes.check();
            assert!(
                Instant::now() < deadline,
                "the notifications of {merchant}/{order} did not settle: {log:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the ledger recorded a failed charge of `order` (20 s at most): it has handled
    /// the failure event, which posted nothing.
    pub async fn wait_failed_charge(&self, merchant: &str, order: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let n: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM ledger.failed_charges WHERE merchant_id = $1 AND order_id = $2",
            )
            .bind(merchant)
            .bind(order)
            .fetch_one(&self.edge_pool)
            .await
            .expect("ledger.failed_charges");
            if n > 0 {
                return;
            }
            self.crashes.check();
            assert!(
                Instant::now() < deadline,
                "the ledger recorded no failed charge of {merchant}/{order}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Callbacks the adapter with schema `adapter` (`mobiltek`, `teleaudio`, ...) stored for one
    /// merchant order. An adapter writes its events in the transaction that stores a callback,
    /// so a callback it answered without storing it caused nothing.
    pub async fn stored_callbacks(&self, adapter: &str, order: &str) -> i64 {
        sqlx::query_scalar(&format!(
            "SELECT count(*) FROM {adapter}.callbacks c JOIN {adapter}.orders o USING (reference)
              WHERE o.order_id = $1"
        ))
        .bind(order)
        .fetch_one(&self.edge_pool)
        .await
        .expect("callbacks")
    }

    /// Messages waiting (ready, not handed to a consumer) in one of the system's queues, e.g.
    /// `provider.teleaudio.commands`.
    pub async fn queue_ready(&self, queue: &str) -> u32 {
        let conn = lapin::Connection::connect(
            &testing::amqp_url(),
            lapin::ConnectionProperties::default(),
        )
        .await
        .expect("broker");
        let ch = conn.create_channel().await.expect("channel");
        let name = format!("{}{queue}", self.prefix);
        let ready = ch
            .queue_declare(
                name.as_str().into(),
                lapin::options::QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                lapin::types::FieldTable::default(),
            )
            .await
            .unwrap_or_else(|e| panic!("queue {name}: {e}"))
            .message_count();
        let _ = conn.close(200, "ok".into()).await;
        ready
    }

    /// Waits until `queue` holds exactly `n` ready messages (20 s at most).
    pub async fn wait_queue_ready(&self, queue: &str, n: u32) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = self.queue_ready(queue).await;
            if ready == n {
                return;
            }
            self.crashes.check();
            assert!(
                Instant::now() < deadline,
                "{queue} holds {ready} ready messages, not {n}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the outbox of service schema `schema` is empty (20 s at most): every event
    /// and command it wrote is confirmed by the broker, so it sits in its queues.
    pub async fn wait_outbox_empty(&self, schema: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {schema}.outbox"))
                .fetch_one(&self.edge_pool)
                .await
                .expect("outbox");
            if n == 0 {
                return;
            }
            self.crashes.check();
            assert!(
                Instant::now() < deadline,
                "{schema}.outbox still holds {n} rows"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn order_count(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM orders")
            .fetch_one(&self.edge_pool)
            .await
            .expect("count")
    }

    /// Starts provider-teleaudio (again) on its port.
    pub async fn start_teleaudio(&self) {
        let mut slot = self.teleaudio.lock().await;
        assert!(slot.is_none(), "provider-teleaudio is already running");
        let own = self.shutdown.child();
        let mut app = None;
        // The port of a stopped adapter may take a moment to be free again.
        for _ in 0..50 {
            match provider_teleaudio::Application::build(
                self.teleaudio_settings.clone(),
                own.clone(),
            )
            .await
            {
                Ok(a) => {
                    app = Some(a);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        let app = app.expect("provider-teleaudio starts");
        let task = spawn(
            "provider-teleaudio",
            own.clone(),
            self.crashes.clone(),
            app.run_until_stopped(),
        );
        *slot = Some((own, task));
    }

    /// Stops provider-teleaudio and waits until it is gone.
    pub async fn stop_teleaudio(&self) {
        if let Some((own, task)) = self.teleaudio.lock().await.take() {
            own.trigger();
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
    }

    /// SMS messages the (sandbox) providers sent to `phone`.
    pub async fn sms(&self, phone: &str) -> Vec<String> {
        let v: Value = self
            .http
            .get(format!("{}/_sandbox/sms?phone={phone}", self.sandbox_url))
            .send()
            .await
            .expect("sandbox")
            .json()
            .await
            .expect("json");
        v["messages"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|m| m["text"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Waits for the `n`-th SMS to `phone`; returns the 6-digit code in it.
    pub async fn wait_sms_code(&self, phone: &str, n: usize) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let msgs = self.sms(phone).await;
            if msgs.len() >= n {
                let text = &msgs[n - 1];
                return text
                    .split(|c: char| !c.is_ascii_digit())
                    .find(|w| w.len() == 6)
                    .expect("a code in the SMS")
                    .to_string();
            }
            self.crashes.check();
            assert!(
                Instant::now() < deadline,
                "no SMS number {n} to {phone}: {msgs:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Runs `service` as one more service of this system, watched like the others (a test of
    /// the harness gives it one that fails).
    pub fn spawn_service<F>(&mut self, name: &'static str, service: F)
    where
        F: std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let task = spawn(name, self.shutdown.clone(), self.crashes.clone(), service);
        self.tasks.push(task);
    }

    /// Stops every service (10 s each at most), then panics if one of them crashed at any time.
    pub async fn stop(mut self) {
        self.stopped = true;
        self.stop_teleaudio().await;
        self.shutdown.trigger();
        for t in std::mem::take(&mut self.tasks) {
            let _ = tokio::time::timeout(Duration::from_secs(10), t).await;
        }
        self.crashes.check();
    }
}

/// A test that never calls `stop` still fails on a crash (unless it is failing already).
impl Drop for TestSystem {
    fn drop(&mut self) {
        if !self.stopped && !std::thread::panicking() {
            self.crashes.check();
        }
    }
}

/// What a passive declare tells of a queue.
#[derive(Debug, Clone, Copy)]
pub struct QueueCounts {
    /// Ready messages (not those delivered and unacknowledged).
    pub messages: u32,
    pub consumers: u32,
}

/// The counts of `name` on its own short-lived channel; None when the queue does not exist or
/// the broker does not answer.
pub async fn queue_counts(conn: &lapin::Connection, name: &str) -> Option<QueueCounts> {
    let ch = conn.create_channel().await.ok()?;
    let q = ch
        .queue_declare(
            name.into(),
            lapin::options::QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            lapin::types::FieldTable::default(),
        )
        .await
        .ok();
    let _ = ch.close(200, "ok".into()).await;
    q.map(|q| QueueCounts {
        messages: q.message_count(),
        consumers: q.consumer_count(),
    })
}

/// Seed 000's `set_transaction_sync` params, verbatim, with the merchant's secret added.
pub fn seed_000_one_time(trans_ext_id: &str) -> Value {
    json!({
        "trans_ext_id": trans_ext_id, "seller_id": "34801", "merchant_id": "1", "user_agreements": "2", "invoice_series_id": "1",
        "payment": { "channel_id": "18912", "currency": "PLN" },
        "articles": [ { "prod_id": "55555", "sap_index": "45000437", "vat_rate": "23", "name": "test product", "quantity": "1", "price": "10" } ],
        "customer": { "ext_id": "1234qwera", "company": "test", "firstname": "tester", "lastname": "testowski", "email": "tomek@test.pl",
            "street": "piękna", "city": "krk", "phone": "48501123123", "postcode": "31-620", "country": "PL" },
        "client_ip": "127.0.0.1", "test": "False", "next_url": "http://onet.pl",
        "secret": MERCHANT_1.1
    })
}

/// Seed 000's `set_subscription` params, verbatim, with the merchant's secret added.
pub fn seed_000_subscription(trans_ext_id: &str) -> Value {
    json!({
        "trans_ext_id": trans_ext_id, "merchant_id": "34801", "invoice_required": false,
        "payment": { "channel_id": "18913", "currency": "PLN" },
        "articles": [ { "prod_id": "55555", "sap_index": "45000437", "vat_rate": "23", "name": "test product", "quantity": "1", "price": "10" } ],
        "customer": { "ext_id": "1234qwera", "company": "test", "firstname": "testersu", "lastname": "testowski", "email": "tomek_sync@test.pl",
            "street": "piękniejsza", "city": "KRK", "phone": "48501123123", "postcode": "31-620", "country": "PL" },
        "client_ip": "127.0.0.1", "test": "False", "next_url": "http://onet.pl",
        "secret": MERCHANT_34801.1
    })
}

/// Verifies a notification with the official Standard Webhooks library.
pub fn verify_standard_webhooks(r: &Received, whsec: &str) {
    let wh = standardwebhooks::Webhook::new(whsec).expect("whsec secret");
    wh.verify(&r.body, &r.headers)
        .expect("webhook signature verifies");
}
