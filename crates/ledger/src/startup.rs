//! Wiring: database (schema `ledger`) and migrations, the charge-event consumer and the
//! HTTP+gRPC server (health, readiness, metrics, `Ledger`), all stopped by one Shutdown.

use crate::config::Settings;
use crate::consumer::Consumer;
use crate::grpc::LedgerService;
use paysys_platform::server;
use paysys_platform::{broker, db, Shutdown};
use paysys_proto::ledger_server::LedgerServer;
use sqlx::PgPool;
use tokio::net::TcpListener;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/ledger");

pub struct Application {
    settings: Settings,
    pool: PgPool,
    listener: TcpListener,
    port: u16,
    shutdown: Shutdown,
}

impl Application {
    pub async fn build(settings: Settings, shutdown: Shutdown) -> anyhow::Result<Application> {
        // Every statement planned for the books as they are: a plan cached while they were
        // small (a fresh database, the first minute before autoanalyze) made each foreign-key
        // check of a posting scan every transfer once they had grown (make bench: 816 million
        // index tuples read for 20,000 charges, 224 charges/s instead of 1,959/s).
        let pool = db::connect_with(
            &settings.database,
            "ledger",
            &[("plan_cache_mode", "force_custom_plan")],
        )
        .await?;
        db::prepare(&settings.database, &pool, &MIGRATOR).await?;
        let listener = server::bind(&settings.ledger.listen).await?;
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

    /// The ledger's database pool (schema `ledger`), e.g. for tests.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Serves and consumes until the Shutdown is triggered, then returns once both stopped.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let Application {
            settings,
            pool,
            listener,
            shutdown,
            port,
        } = self;
        let (health, health_service) = server::grpc_health();
        health.set_serving::<LedgerServer<LedgerService>>().await;
        let (reflection, reflection_v1alpha) =
            paysys_proto::reflection(paysys_proto::ledger_server::SERVICE_NAME)?;
        let grpc = tonic::service::Routes::new(LedgerServer::new(LedgerService::new(pool.clone())))
            .add_service(health_service)
            .add_service(reflection)
            .add_service(reflection_v1alpha);
        let ready = server::db_ready(pool.clone());
        let grpc = server::InternalGrpc {
            routes: grpc,
            token: settings.internal.token(),
        };
        let router = server::finish(axum::Router::new(), Some(grpc), ready);

        let consumer = tokio::spawn(broker::consume(
            settings.amqp.clone(),
            settings.amqp.queue("ledger.events"),
            crate::charge::BINDINGS
                .iter()
                .map(|k| k.to_string())
                .collect(),
            Consumer::new(pool, settings.ledger.fee_bps).handler(),
            shutdown.clone(),
        ));
        tracing::info!(
            port,
            fee_bps = settings.ledger.fee_bps.get(),
            "ledger listening"
        );
        let served = server::serve(listener, router, shutdown.clone()).await;
        // The server failing (or stopping) stops the consumer too.
        shutdown.trigger();
        consumer.await?;
        served
    }
}

impl paysys_platform::service::Service for Application {
    type Settings = Settings;
    const NAME: &'static str = "ledger";

    fn telemetry(settings: &Settings) -> &paysys_platform::config::TelemetrySettings {
        &settings.telemetry
    }

    fn validate(settings: &Settings) -> Result<(), String> {
        settings.internal.validate()
    }

    async fn build(settings: Settings, shutdown: Shutdown) -> anyhow::Result<Self> {
        Application::build(settings, shutdown).await
    }

    async fn run_until_stopped(self) -> anyhow::Result<()> {
        Application::run_until_stopped(self).await
    }
}
