//! The adapter test kit: the stories every adapter must tell, run against each adapter's own
//! fixture (a real PostgreSQL database of its own; the outbox is read directly, so no broker is
//! needed and every event a transition wrote is counted):
//! - a repeated Start is idempotent (same answer, one order);
//! - an unsigned or tampered callback is refused with no effect;
//! - a duplicate callback has one effect;
//! - a callback that does not fit the order's state is refused and recorded, never applied;
//! - one event per transition.

use crate::startup::{Adapter, Application};
use paysys_platform::{server, Shutdown};
use paysys_proto::payment_provider_client::PaymentProviderClient;
use paysys_proto::StartRequest;
use sqlx::PgPool;

/// A callback as a provider would send it.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: reqwest::Method,
    /// Path and query, e.g. `/mobiltek/notify`.
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// What an adapter's tests give the kit.
#[async_trait::async_trait]
pub trait Fixture: Send + Sync {
    type Adapter: Adapter;
    /// Settings for the adapter on database `database_url`, listening (internal and callback
    /// ports) on 127.0.0.1:0, with
    /// unique broker names, talking to a provider (fake or sandbox) the fixture runs.
    async fn settings(&self, database_url: &str) -> <Self::Adapter as Adapter>::Settings;
    /// A valid one-time Start.
    fn one_time(&self, order_id: &str) -> StartRequest;
    /// A validly signed callback saying the started order (our reference `reference`, the
    /// provider's `provider_ref`) was paid its `amount_minor`, with the provider's id `id`.
    fn paid(&self, reference: &str, provider_ref: &str, id: &str, amount_minor: i64) -> Call;
    /// The same callback with one signed byte changed (or its signature removed).
    fn tampered(&self, call: &Call) -> Call;
    /// Whether the provider's answer acknowledges the callback (HTTP 200 by default).
    fn accepted(&self, status: u16, _body: &str) -> bool {
        status == 200
    }
    /// Whether the answer refuses it for good (a 4xx by default; Netopia answers 200 with
    /// `<crc error_type="2">`).
    fn refused(&self, status: u16, _body: &str) -> bool {
        (400..500).contains(&status)
    }
}

struct Running {
    port: u16,
    callback_port: u16,
    pool: PgPool,
    shutdown: Shutdown,
    http: reqwest::Client,
}

impl Running {
    async fn send(&self, c: &Call) -> (u16, String) {
        let mut r = self
            .http
            .request(
                c.method.clone(),
                format!("http://127.0.0.1:{}{}", self.callback_port, c.path),
            )
            .body(c.body.clone());
        for (k, v) in &c.headers {
            r = r.header(k, v);
        }
        match r.send().await {
            Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default()),
            Err(e) => (0, e.to_string()),
        }
    }
    async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(&self.pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }
    async fn events(&self) -> i64 {
        self.count("SELECT count(*) FROM outbox").await
    }
}

async fn spawn<F: Fixture>(f: &F) -> Running {
    let db = paysys_platform::testing::fresh_database()
        .await
        .expect("fresh database");
    let settings = f.settings(&paysys_platform::testing::expose(&db)).await;
    let shutdown = Shutdown::new();
    let app = Application::<F::Adapter>::build(settings, shutdown.clone())
        .await
        .expect("build the adapter");
    let port = app.port();
    let callback_port = app.callback_port();
    let pool = app.pool();
    // Served without the relay: the outbox keeps every event for counting.
    for (listener, router) in app.into_parts() {
        let s = shutdown.clone();
        tokio::spawn(async move { server::serve(listener, router, s).await });
    }
    Running {
        port,
        callback_port,
        pool,
        shutdown,
        http: reqwest::Client::new(),
    }
}

/// Runs every story of the kit against `fixture`; panics naming the story that failed.
pub async fn run<F: Fixture>(fixture: F) {
    let app = spawn(&fixture).await;
    let mut grpc = PaymentProviderClient::new(
        paysys_platform::grpc::connect(
            &format!("http://127.0.0.1:{}", app.port),
            &paysys_platform::testing::internal_token(),
        )
        .await
        .expect("gRPC"),
    );

    // A repeated Start is idempotent.
    let first = grpc
        .start(fixture.one_time("kit-1"))
        .await
        .expect("Start")
        .into_inner();
    let again = grpc
        .start(fixture.one_time("kit-1"))
        .await
        .expect("repeated Start")
        .into_inner();
    assert_eq!(
        (&first.redirect_url, &first.provider_ref),
        (&again.redirect_url, &again.provider_ref),
        "story: a repeated Start gets the first answer"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM orders").await,
        1,
        "story: one order per Start"
    );
    let mut other = fixture.one_time("kit-1");
    other.amount_minor += 1;
    assert_eq!(
        grpc.start(other).await.expect_err("reused id").code(),
        tonic::Code::InvalidArgument,
        "story: the same order id with another content is refused"
    );
    let (reference, provider_ref, amount): (String, String, i64) = sqlx::query_as(
        "SELECT reference, provider_ref, amount_minor FROM orders WHERE order_id = 'kit-1'",
    )
    .fetch_one(&app.pool)
    .await
    .expect("the order");
    assert_eq!(app.events().await, 0, "story: Start causes no event");

    // Unsigned or tampered: refused, nothing stored, no event.
    let genuine = fixture.paid(&reference, &provider_ref, "kit-cb-1", amount);
    let tampered = fixture.tampered(&genuine);
    let (status, body) = app.send(&tampered).await;
    assert!(
        fixture.refused(status, &body),
        "story: a tampered callback is refused (got {status} {body})"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM callbacks").await,
        0,
        "story: a tampered callback stores nothing"
    );
    assert_eq!(
        app.events().await,
        0,
        "story: a tampered callback causes no event"
    );

    // The genuine one, twice: one effect, one event.
    for _ in 0..2 {
        let (status, body) = app.send(&genuine).await;
        assert!(
            fixture.accepted(status, &body),
            "story: a genuine callback is accepted, also when repeated (got {status} {body})"
        );
    }
    assert_eq!(
        app.events().await,
        1,
        "story: a duplicate callback has one effect"
    );
    let state: String = sqlx::query_scalar("SELECT state FROM orders WHERE reference = $1")
        .bind(&reference)
        .fetch_one(&app.pool)
        .await
        .expect("state");
    assert_eq!(state, "paid", "story: the payment is paid");

    // A second payment, validly signed with a fresh id: does not fit a paid order.
    let second = fixture.paid(&reference, &provider_ref, "kit-cb-2", amount);
    let (status, body) = app.send(&second).await;
    assert!(
        fixture.refused(status, &body),
        "story: a second payment for a paid order is refused (got {status} {body})"
    );
    assert_eq!(
        app.events().await,
        1,
        "story: an out-of-state callback causes no event"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM discrepancies WHERE dedup_key LIKE '%kit-cb-2%'")
            .await,
        1,
        "story: an out-of-state callback is recorded for operators"
    );

    // A wrong amount on a fresh order: refused, recorded, no event.
    grpc.start(fixture.one_time("kit-2"))
        .await
        .expect("Start kit-2");
    let (reference, provider_ref): (String, String) =
        sqlx::query_as("SELECT reference, provider_ref FROM orders WHERE order_id = 'kit-2'")
            .fetch_one(&app.pool)
            .await
            .expect("kit-2");
    let wrong = fixture.paid(&reference, &provider_ref, "kit-cb-3", amount * 10);
    let (status, body) = app.send(&wrong).await;
    assert!(
        fixture.refused(status, &body),
        "story: a wrong amount is refused (got {status} {body})"
    );
    assert_eq!(
        app.events().await,
        1,
        "story: a wrong amount causes no event"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM discrepancies").await,
        2,
        "story: a wrong amount is kept as a discrepancy"
    );
    app.shutdown.trigger();
}
