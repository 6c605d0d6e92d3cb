//! Wiring: database and migrations, the event consumer, the delivery worker and the
//! HTTP+gRPC server (health, readiness, metrics, `Notifier`), all stopped by one Shutdown.

use crate::config::Settings;
use crate::consumer::{self, Consumer};
use crate::delivery::Worker;
use crate::grpc::NotifierService;
use crate::store;
use paysys_platform::server;
use paysys_platform::{broker, cache, db, outbox, Shutdown};
use paysys_proto::notifier_server::NotifierServer;
use sqlx::PgPool;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinSet;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/notifier");

pub struct Application {
    settings: Settings,
    pool: PgPool,
    listener: TcpListener,
    port: u16,
    shutdown: Shutdown,
}

impl Application {
    pub async fn build(settings: Settings, shutdown: Shutdown) -> anyhow::Result<Application> {
        settings
            .notifier
            .validate()
            .map_err(|e| anyhow::anyhow!("configuration error: {e}"))?;
        let key = settings
            .secrets
            .data_key()
            .map_err(|e| anyhow::anyhow!("configuration error: {e}"))?;
        // The consumer and the delivery worker open notification secrets with it.
        crate::store::install_data_key(&key).map_err(|e| anyhow::anyhow!("{e}"))?;
        // Every statement planned for the log as it is (as the ledger): a lease query planned
        // while the log was small kept reading about a thousand index entries per order check
        // once it had grown (make bench, the month: 117 million for 60,000 notifications).
        let pool = db::connect_with(
            &settings.database,
            "notifier",
            &[("plan_cache_mode", "force_custom_plan")],
        )
        .await?;
        db::prepare(&settings.database, &pool, &MIGRATOR).await?;
        // SQL cannot seal: secrets stored in clear before the migration are sealed now.
        let sealed = crate::store::seal_legacy_endpoints(&pool, &key).await?;
        if sealed > 0 {
            tracing::info!(
                endpoints = sealed,
                "notification secrets stored in clear are now sealed"
            );
        }
        let listener = server::bind(&settings.notifier.listen).await?;
        let port = listener.local_addr()?.port();
        Ok(Application {
            settings,
            pool,
            listener,
            port,
            shutdown,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The notifier's database pool (schema `notifier`), e.g. for tests.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Serves and delivers until the Shutdown is triggered. Every task lives in this future:
    /// dropping it (a crash, in tests) stops them all at once.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let Application {
            settings,
            pool,
            listener,
            shutdown,
            ..
        } = self;
        let wake = Arc::new(Notify::new());

        let (health, health_service) = server::grpc_health();
        health
            .set_serving::<NotifierServer<NotifierService>>()
            .await;
        let (reflection, reflection_v1alpha) =
            paysys_proto::reflection(paysys_proto::notifier_server::SERVICE_NAME)?;
        let grpc = tonic::service::Routes::new(NotifierServer::new(NotifierService::new(
            pool.clone(),
            wake.clone(),
        )))
        .add_service(health_service)
        .add_service(reflection)
        .add_service(reflection_v1alpha);
        let ready = server::db_ready(pool.clone());
        let grpc = server::InternalGrpc {
            routes: grpc,
            token: settings.internal.token(),
        };
        let router = server::finish(axum::Router::new(), Some(grpc), ready);

        let endpoints = store::Endpoints::new(pool.clone());
        let worker = Worker::new(
            pool.clone(),
            endpoints.clone(),
            settings.notifier.clone(),
            wake.clone(),
        )?;
        let handler = Consumer::new(pool.clone(), endpoints.clone(), wake).handler();

        let mut tasks = JoinSet::new();
        tasks.spawn(server::serve(listener, router, shutdown.clone()));
        // The endpoints' cache is emptied by every committed change to them.
        tasks.spawn(run_and_ok(cache::listen(
            &pool,
            store::ENDPOINTS_CHANNEL,
            vec![endpoints.cache()],
            shutdown.clone(),
        )));
        // In order per order: a notification is created after the ones of its order's events
        // published before it, which the per-order delivery order relies on; different orders
        // at once, up to the prefetch.
        tasks.spawn(run_and_ok(broker::consume_in_order_per_key(
            settings.amqp.clone(),
            settings.amqp.queue("notifier.events"),
            vec![consumer::BINDING.to_string()],
            handler,
            shutdown.clone(),
            outbox::order_key,
        )));
        tasks.spawn(run_and_ok(worker.run(shutdown.clone())));

        let mut result = Ok(());
        while let Some(done) = tasks.join_next().await {
            let outcome = done.map_err(anyhow::Error::from).and_then(|r| r);
            if let Err(e) = outcome {
                // One part failing stops the rest: a half-running notifier is worse than a restart.
                shutdown.trigger();
                if result.is_ok() {
                    result = Err(e);
                }
            }
        }
        result
    }
}

async fn run_and_ok(task: impl std::future::Future<Output = ()>) -> anyhow::Result<()> {
    task.await;
    Ok(())
}

impl paysys_platform::service::Service for Application {
    type Settings = Settings;
    const NAME: &'static str = "notifier";

    fn telemetry(settings: &Settings) -> &paysys_platform::config::TelemetrySettings {
        &settings.telemetry
    }

    fn validate(settings: &Settings) -> Result<(), String> {
        settings.internal.validate()?;
        settings.secrets.data_key()?;
        settings.notifier.validate()
    }

    async fn build(settings: Settings, shutdown: Shutdown) -> anyhow::Result<Self> {
        Application::build(settings, shutdown).await
    }

    async fn run_until_stopped(self) -> anyhow::Result<()> {
        Application::run_until_stopped(self).await
    }
}
