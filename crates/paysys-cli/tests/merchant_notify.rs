//! `paysys merchant add --notify-events/--notify-url-for`: bad flags are usage errors (exit 64,
//! naming the flag); `merchant list --json` shows the choice and never a secret; a skipped
//! notification is listed with `notifications list --status skipped` and delivered by
//! `notifications replay`. Real PostgreSQL and RabbitMQ, the real binary.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use paysys_platform::broker::{Outgoing, Publisher};
use paysys_platform::{events, testing, Shutdown};
use prost::Message as _;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::future::Future;
use std::process::Output;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const API_SECRET: &str = "api-secret-of-77";
const NOTIFY_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// Nobody listens there.
const NOWHERE: &str = "http://127.0.0.1:9/notify";

/// Runs the binary without blocking the runtime the notifier under test runs on.
async fn paysys(args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_paysys"))
        .env(
            "PAYSYS__INTERNAL__TOKEN",
            paysys_platform::testing::INTERNAL_TOKEN,
        )
        .env("PAYSYS__SECRETS__DATA_KEY", testing::DATA_KEY)
        .args(args)
        .output()
        .await
        .expect("run paysys")
}

fn json_of(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

/// `merchant add` for merchant 77 with `extra` flags.
async fn add(db: &str, notify_url: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "--database-url",
        db,
        "--json",
        "merchant",
        "add",
        "--id",
        "77",
        "--secret",
        API_SECRET,
        "--notify-url",
        notify_url,
        "--notify-secret",
        NOTIFY_SECRET,
    ];
    args.extend_from_slice(extra);
    paysys(&args).await
}

/// A fresh database with the `edge` and `notifier` schemas migrated, and a running notifier
/// (its gRPC URL) on unique broker names, which `settings` publishes on.
struct System {
    db: String,
    notifier_url: String,
    settings: notifier::Settings,
    shutdown: Shutdown,
}

/// One service's settings: config/default.toml with the test database and broker names.
fn settings<T: serde::de::DeserializeOwned>(db: &str, prefix: &str) -> T {
    paysys_platform::config::load_with(|b| {
        b.set_override("database.url", db)
            .and_then(|b| b.set_override("database.max_connections", 3))
            .and_then(|b| b.set_override("amqp.url", testing::amqp_url()))
            .and_then(|b| b.set_override("amqp.exchange", format!("{prefix}events")))
            .and_then(|b| b.set_override("amqp.queue_prefix", prefix))
            .and_then(|b| b.set_override("amqp.queue_expires_ms", 120_000))
            .and_then(|b| b.set_override("edge.listen", "127.0.0.1:0"))
            .and_then(|b| b.set_override("notifier.listen", "127.0.0.1:0"))
            .and_then(|b| b.set_override("notifier.poll_ms", 100))
            .and_then(|b| b.set_override("internal.token", testing::INTERNAL_TOKEN))
            .and_then(|b| b.set_override("secrets.data_key", testing::DATA_KEY))
            .expect("test overrides")
    })
    .expect("test settings")
}

async fn system() -> System {
    let db = testing::expose(&testing::fresh_database().await.expect("database"));
    let prefix = testing::unique_prefix();
    let shutdown = Shutdown::new();
    // Built for its migrations only: the CLI writes edge.merchants.
    rpc_edge::Application::build(settings(&db, &prefix), shutdown.clone())
        .await
        .expect("edge");
    let settings: notifier::Settings = settings(&db, &prefix);
    let app = notifier::Application::build(settings.clone(), shutdown.clone())
        .await
        .expect("notifier");
    let notifier_url = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    System {
        db,
        notifier_url,
        settings,
        shutdown,
    }
}

#[tokio::test]
async fn bad_notify_flags_are_usage_errors_naming_the_flag() {
    // Checked before any connection: the database URL is never used.
    let db = "postgres://nobody@127.0.0.1:1/none";
    for (flags, names) in [
        (
            &["--notify-events", "new_payment,refund"][..],
            &["--notify-events", "refund", "subscription_cancel"][..],
        ),
        (&["--notify-events", ","], &["--notify-events"]),
        (
            &["--notify-events", "new_payment,new_payment"],
            &["--notify-events", "twice"],
        ),
        (
            &["--notify-url-for", "refund=http://a/"],
            &["--notify-url-for", "refund"],
        ),
        (
            &["--notify-url-for", "new_payment=ftp://a/"],
            &["--notify-url-for", "ftp://a/"],
        ),
        (
            &["--notify-url-for", "new_payment=not a url"],
            &["--notify-url-for", "http(s)"],
        ),
        (
            &["--notify-url-for", "new_payment"],
            &["--notify-url-for", "EVENT=URL"],
        ),
        (
            &[
                "--notify-events",
                "new_payment",
                "--notify-url-for",
                "subscription_cancel=http://a/",
            ],
            &["--notify-url-for", "not in --notify-events"],
        ),
        (
            &[
                "--notify-url-for",
                "new_payment=http://a/",
                "--notify-url-for",
                "new_payment=http://b/",
            ],
            &["--notify-url-for", "twice"],
        ),
    ] {
        let out = add(db, NOWHERE, flags).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(64), "{flags:?}: {stderr}");
        for name in names {
            assert!(stderr.contains(name), "{flags:?}: {stderr} lacks {name}");
        }
    }
}

#[tokio::test]
async fn merchant_list_shows_the_choice_never_a_secret_and_add_replaces_it() {
    let sys = system().await;
    let cancels = "https://merchant.example/cancels?token=t";
    let saved = json_of(
        &add(
            &sys.db,
            NOWHERE,
            &[
                "--notify-events",
                "new_payment, subscription_cancel",
                "--notify-url-for",
                &format!("subscription_cancel={cancels}"),
            ],
        )
        .await,
    );
    assert_eq!(
        saved["notify_events"],
        json!(["new_payment", "subscription_cancel"])
    );

    let list = |json: bool| {
        let db = sys.db.clone();
        async move {
            let mut args = vec!["--database-url", db.as_str(), "merchant", "list"];
            if json {
                args.insert(0, "--json");
            }
            let out = paysys(&args).await;
            let text = String::from_utf8_lossy(&out.stdout).to_string();
            assert!(
                !text.contains(API_SECRET) && !text.contains(&NOTIFY_SECRET[6..]),
                "a secret was printed: {text}"
            );
            out
        }
    };
    assert_eq!(
        json_of(&list(true).await),
        json!([{
            "id": "77",
            "notify_url": NOWHERE,
            "notify_events": ["new_payment", "subscription_cancel"],
            "notify_urls": {"subscription_cancel": cancels},
        }])
    );
    let human = list(false).await;
    let human = String::from_utf8_lossy(&human.stdout);
    assert!(
        human.contains("new_payment,subscription_cancel")
            && human.contains(&format!("subscription_cancel={cancels}")),
        "{human}"
    );

    // Again without the flags: every method, at the one URL.
    json_of(&add(&sys.db, NOWHERE, &[]).await);
    let listed = json_of(&list(true).await);
    assert_eq!(listed[0]["notify_events"], json!(notifier::METHODS));
    assert_eq!(listed[0]["notify_urls"], json!({}));
    sys.shutdown.trigger();
}

#[tokio::test]
async fn a_skipped_notification_is_listed_and_replayed_with_the_cli() {
    let sys = system().await;
    let (merchant_url, received) = merchant().await;
    json_of(&add(&sys.db, &merchant_url, &["--notify-events", "new_payment"]).await);
    let notifications = |extra: &[&str]| {
        let args: Vec<String> = [
            "--notifier-url",
            &sys.notifier_url,
            "--json",
            "notifications",
        ]
        .iter()
        .chain(extra)
        .map(|a| a.to_string())
        .collect();
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            paysys(&args).await
        }
    };
    let first_listed = |status: &'static str| async move {
        let listed = json_of(&notifications(&["list", "--status", status]).await);
        listed.as_array().and_then(|a| a.first()).cloned()
    };

    let failed = paysys_proto::Event {
        merchant_id: "77".into(),
        order_id: "order-failed".into(),
        amount_minor: 10,
        currency: "PLN".into(),
        ..events::new_event(events::PAYMENT_FAILED)
    };
    publish(&sys.settings, &failed).await;

    let skipped = eventually("a skipped notification", || first_listed("skipped")).await;
    assert_eq!(skipped["method"], "payment_failed");
    assert_eq!(skipped["order_id"], "order-failed");
    assert_eq!(skipped["attempts"], 0);
    // Nothing was sent. Evidence first: a later notification the merchant does choose is
    // delivered (the worker takes due notifications oldest first, so it has passed the skipped
    // one over by then).
    let later = paysys_proto::Event {
        merchant_id: "77".into(),
        order_id: "order-later".into(),
        amount_minor: 10,
        currency: "PLN".into(),
        ..events::new_event(events::PAYMENT_SUCCEEDED)
    };
    publish(&sys.settings, &later).await;
    let method_of = |body: &Bytes| -> Value {
        serde_json::from_slice::<Value>(body).expect("JSON body")["method"].clone()
    };
    let (_, first) = eventually("the later, chosen notification", || async {
        received.lock().unwrap().first().cloned()
    })
    .await;
    assert_eq!(method_of(&first), "new_payment");
    assert_eq!(
        received.lock().unwrap().len(),
        1,
        "the skipped notification was sent"
    );

    // The merchant still does not choose payment_failed: replay sends this one all the same.
    let id = skipped["id"].as_str().expect("an id").to_string();
    let replayed = json_of(&notifications(&["replay", &id]).await);
    assert_eq!(replayed["scheduled"], true);

    let (headers, body) = eventually("the replayed notification", || async {
        received.lock().unwrap().get(1).cloned()
    })
    .await;
    assert_eq!(method_of(&body), "payment_failed");
    assert_eq!(
        headers.get("webhook-id").and_then(|v| v.to_str().ok()),
        Some(id.as_str())
    );
    eventually("the replayed notification listed delivered", || async {
        let listed = json_of(&notifications(&["list", "--status", "delivered"]).await);
        listed
            .as_array()
            .is_some_and(|a| a.iter().any(|n| n["id"] == id.as_str()))
            .then_some(())
    })
    .await;

    let bad = notifications(&["list", "--status", "skiped"]).await;
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("skipped"),
        "the error lists the statuses: {}",
        String::from_utf8_lossy(&bad.stderr)
    );
    sys.shutdown.trigger();
}

type Inbox = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;

/// A merchant endpoint on port 0 answering 200 and recording every request.
async fn merchant() -> (String, Inbox) {
    let inbox = Inbox::default();
    let app = axum::Router::new()
        .route(
            "/notify",
            axum::routing::post(
                |State(inbox): State<Inbox>, headers: HeaderMap, body: Bytes| async move {
                    inbox.lock().unwrap().push((headers, body));
                },
            ),
        )
        .with_state(inbox.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind merchant");
    let url = format!("http://{}/notify", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, inbox)
}

/// Publishes as a producer's outbox relay would, until the notifier's queue is bound.
async fn publish(settings: &notifier::Settings, event: &paysys_proto::Event) {
    let publisher = Publisher::new(settings.amqp.clone(), vec![], Shutdown::new());
    let payload = event.encode_to_vec();
    let headers = BTreeMap::new();
    let id = uuid::Uuid::parse_str(&event.event_id).expect("event id");
    eventually("the event to reach the notifier's queue", || async {
        let outgoing = Outgoing {
            exchange: &settings.amqp.exchange,
            routing_key: &event.kind,
            message_id: id,
            payload: &payload,
            headers: &headers,
        };
        matches!(publisher.publish_batch(&[outgoing]).await, Ok(r) if r == [true]).then_some(())
    })
    .await
}

/// Polls `probe` every 100 ms until it yields a value; panics naming `what` after 20 s.
async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
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
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
