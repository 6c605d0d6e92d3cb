//! Readiness tells the truth (issue 9, point 9). A service wired as every PaySystem service is
//! (`server::finish` with `db_ready`, gRPC health from `server::grpc_health`, a consumer and an
//! outbox relay) stays ready with the broker unreachable, since the outbox absorbs the outage and
//! `paysys_broker_connected` says 0; with its database unreachable `/readyz` answers 503 and gRPC
//! health NOT_SERVING, and both come back by themselves with the database.

mod support;

use paysys_platform::broker::{self, Handler, Message, Publisher};
use paysys_platform::outbox::{self, OutboxSignal};
use paysys_platform::{server, testing, Shutdown};
use secrecy::SecretString;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{metric, DbProxy};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

/// Nothing listens there.
const NO_BROKER: &str = "amqp://guest:guest@127.0.0.1:9/%2f";

struct Service {
    base: String,
    pool: sqlx::PgPool,
    signal: OutboxSignal,
    exchange: String,
}

/// A service on a database behind `proxy`, its broker unreachable.
async fn spawn_service(proxy: &DbProxy, shutdown: &Shutdown) -> Service {
    let url = proxy.url(&testing::expose(&testing::fresh_database().await.unwrap()));
    let pool = paysys_platform::db::connect(
        &paysys_platform::config::DatabaseSettings {
            url: SecretString::from(url),
            max_connections: 4,
            migrate: true,
            migrate_only: false,
        },
        "svc",
    )
    .await
    .unwrap();
    sqlx::raw_sql(outbox::MESSAGING_SQL)
        .execute(&pool)
        .await
        .unwrap();
    let mut amqp = testing::amqp_settings(&testing::unique_prefix());
    amqp.url = SecretString::from(NO_BROKER.to_string());

    let (health, health_service) = server::grpc_health();
    health
        .set_serving::<tonic_health::pb::health_server::HealthServer<tonic_health::server::HealthService>>()
        .await;
    let grpc = server::InternalGrpc {
        routes: tonic::service::Routes::new(health_service),
        token: testing::internal_token(),
    };
    let router = server::finish(
        axum::Router::new(),
        Some(grpc),
        server::db_ready(pool.clone()),
    );
    let listener = server::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    tokio::spawn(server::serve(listener, router, shutdown.clone()));

    let handler: Handler = Arc::new(|_m: Message| Box::pin(async { Ok(()) }));
    tokio::spawn(broker::consume(
        amqp.clone(),
        amqp.queue("svc.events"),
        vec!["#".into()],
        handler,
        shutdown.clone(),
    ));
    let signal = OutboxSignal::default();
    let publisher = Arc::new(Publisher::new(amqp.clone(), vec![], shutdown.clone()));
    tokio::spawn(outbox::relay(
        pool.clone(),
        publisher,
        signal.clone(),
        shutdown.clone(),
    ));
    Service {
        base,
        pool,
        signal,
        exchange: amqp.exchange,
    }
}

async fn readyz(http: &reqwest::Client, base: &str) -> u16 {
    match http.get(format!("{base}/readyz")).send().await {
        Ok(r) => r.status().as_u16(),
        Err(e) => panic!("/readyz did not answer in time: {e}"),
    }
}

async fn health(base: &str) -> i32 {
    let channel = paysys_platform::grpc::connect(base, &testing::internal_token())
        .await
        .unwrap();
    HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .status
}

/// Polls `f` until it returns `want`, for up to `secs`.
async fn until<T: PartialEq + std::fmt::Debug, F: std::future::Future<Output = T>>(
    what: &str,
    secs: u64,
    want: T,
    mut f: impl FnMut() -> F,
) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let got = f().await;
        if got == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: still {got:?} after {secs} s, want {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

const SERVING: i32 = ServingStatus::Serving as i32;
const NOT_SERVING: i32 = ServingStatus::NotServing as i32;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_without_the_broker_not_ready_without_the_database_and_back_by_itself() {
    let shutdown = Shutdown::new();
    let proxy = DbProxy::start().await;
    let svc = spawn_service(&proxy, &shutdown).await;
    // Probes time out like kubelet's would: a readiness answer must not wait for the pool.
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(4))
        .build()
        .unwrap();

    // The broker is unreachable: still ready, and the outbox takes the service's events.
    assert_eq!(readyz(&http, &svc.base).await, 200);
    assert_eq!(health(&svc.base).await, SERVING);
    let mut tx = svc.pool.begin().await.unwrap();
    outbox::enqueue(
        &mut tx,
        &svc.exchange,
        "thing.happened",
        uuid::Uuid::now_v7(),
        b"x",
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    svc.signal.notify();
    support::wait_until("paysys_broker_connected = 0", 20, || {
        metric("paysys_broker_connected") == Some(0.0)
    })
    .await;
    assert_eq!(readyz(&http, &svc.base).await, 200);
    assert_eq!(health(&svc.base).await, SERVING);
    let waiting: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox")
        .fetch_one(&svc.pool)
        .await
        .unwrap();
    assert_eq!(waiting, 1, "the event waits in the outbox for the broker");

    // A gRPC health watcher sees every change.
    let channel = paysys_platform::grpc::connect(&svc.base, &testing::internal_token())
        .await
        .unwrap();
    let mut watch = HealthClient::new(channel)
        .watch(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(watch.message().await.unwrap().unwrap().status, SERVING);

    // The database unreachable: not ready, on both protocols.
    proxy.cut();
    until("/readyz with the database cut", 15, 503, || {
        readyz(&http, &svc.base)
    })
    .await;
    until("gRPC health with the database cut", 15, NOT_SERVING, || {
        health(&svc.base)
    })
    .await;
    let next = tokio::time::timeout(Duration::from_secs(10), watch.message())
        .await
        .expect("the watch stream reports the change")
        .unwrap()
        .unwrap();
    assert_eq!(next.status, NOT_SERVING);

    // The database is back: ready again, with nobody restarting anything.
    proxy.restore();
    until("/readyz with the database back", 20, 200, || {
        readyz(&http, &svc.base)
    })
    .await;
    until("gRPC health with the database back", 20, SERVING, || {
        health(&svc.base)
    })
    .await;
    let next = tokio::time::timeout(Duration::from_secs(10), watch.message())
        .await
        .expect("the watch stream reports the change")
        .unwrap()
        .unwrap();
    assert_eq!(next.status, SERVING);
    shutdown.trigger();
}
