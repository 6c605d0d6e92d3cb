//! Builds rpc-edge: database (schema `edge`), provider clients, the JSON-RPC router and the gRPC
//! PaySystem service on one port, and the consumer that follows orders' events.

use crate::api::Api;
use crate::config::Settings;
use crate::directory::Directory;
use crate::providers::Providers;
use paysys_platform::outbox::{self, OutboxSignal};
use paysys_platform::server;
use paysys_platform::{broker, db, Shutdown};
use paysys_proto::pay_system_server::PaySystemServer;
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/edge");

pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    settings: Settings,
    pool: PgPool,
    api: Api,
    signal: OutboxSignal,
    shutdown: Shutdown,
}

impl Application {
    pub async fn build(settings: Settings, shutdown: Shutdown) -> anyhow::Result<Self> {
        settings
            .edge
            .validate()
            .map_err(|e| anyhow::anyhow!("configuration error: {e}"))?;
        let key = settings
            .secrets
            .data_key()
            .map_err(|e| anyhow::anyhow!("configuration error: {e}"))?;
        crate::store::install_data_key(&key).map_err(|e| anyhow::anyhow!("{e}"))?;
        let pool = db::connect(&settings.database, "edge").await?;
        db::prepare(&settings.database, &pool, &MIGRATOR).await?;
        // SQL cannot seal: secrets stored in clear before the migration are sealed now.
        let sealed = crate::store::seal_legacy_merchants(&pool, &key).await?;
        if sealed > 0 {
            tracing::info!(
                merchants = sealed,
                "merchant API secrets stored in clear are now digested and sealed"
            );
        }
        let providers = Providers::new(
            &settings.edge.providers,
            Duration::from_millis(settings.edge.provider_timeout_ms),
            pool.clone(),
            &settings.internal.token(),
        )?;
        let signal = OutboxSignal::default();
        // Merchants' credentials and channels, cached; served once `run_until_stopped` listens.
        let directory = Directory::default();
        let api = Api {
            pool: pool.clone(),
            providers,
            auth: crate::auth::Authenticator {
                pool: pool.clone(),
                key,
                signature_max_age: settings.edge.signature_max_age_secs,
                directory: directory.clone(),
            },
            amqp_queue_prefix: settings.amqp.queue_prefix.clone(),
            outbox: signal.clone(),
            directory,
        };
        let (health, health_svc) = server::grpc_health();
        health
            .set_serving::<PaySystemServer<crate::grpc::PaySystemService>>()
            .await;
        let (reflection, reflection_v1alpha) =
            paysys_proto::reflection(paysys_proto::pay_system_server::SERVICE_NAME)?;
        let grpc = tonic::service::Routes::new(PaySystemServer::new(
            crate::grpc::PaySystemService(api.clone()),
        ))
        .add_service(health_svc)
        .add_service(reflection)
        .add_service(reflection_v1alpha);
        let ready = server::db_ready(pool.clone());
        let grpc = server::InternalGrpc {
            routes: grpc,
            token: settings.internal.token(),
        };
        let limits = crate::http::Limits::new(
            settings.edge.request_timeout(),
            settings.edge.max_concurrent_requests,
        );
        let router = server::finish(crate::http::router(api.clone(), limits), Some(grpc), ready);
        let listener = server::bind(&settings.edge.listen).await?;
        Ok(Self {
            listener,
            router,
            settings,
            pool,
            api,
            signal,
            shutdown,
        })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    pub fn pool(&self) -> PgPool {
        self.pool.clone()
    }

    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let pool = self.pool.clone();
        let handler: broker::Handler =
            Arc::new(move |msg| Box::pin(crate::consumer::handle(pool.clone(), msg)));
        let consumer = tokio::spawn(broker::consume(
            self.settings.amqp.clone(),
            self.settings.amqp.queue("edge.events"),
            crate::consumer::bindings(),
            handler,
            self.shutdown.clone(),
        ));
        // Commands to asynchronous providers leave through the outbox; every provider's command
        // queue is declared here too (an adapter that takes no commands leaves its own empty),
        // so a command waits in its queue while the adapter is down.
        let queues = self
            .api
            .providers
            .names()
            .map(|p| self.settings.amqp.queue(&format!("provider.{p}.commands")))
            .collect();
        let learn = tokio::spawn(self.api.providers.clone().learn_all(self.shutdown.clone()));
        let publisher = Arc::new(broker::Publisher::new(
            self.settings.amqp.clone(),
            queues,
            self.shutdown.clone(),
        ));
        let relay = tokio::spawn(outbox::relay(
            self.pool.clone(),
            publisher,
            self.signal.clone(),
            self.shutdown.clone(),
        ));
        // Empties the caches of merchants and channels whenever the database changes them.
        let directory = tokio::spawn(self.api.directory.listen(&self.pool, self.shutdown.clone()));
        tracing::info!(port = self.port(), "rpc-edge listening");
        let served = server::serve(self.listener, self.router, self.shutdown.clone()).await;
        self.shutdown.trigger();
        let _ = consumer.await;
        let _ = relay.await;
        let _ = learn.await;
        let _ = directory.await;
        served
    }
}

impl paysys_platform::service::Service for Application {
    type Settings = Settings;
    const NAME: &'static str = "rpc-edge";

    fn telemetry(settings: &Settings) -> &paysys_platform::config::TelemetrySettings {
        &settings.telemetry
    }

    fn validate(settings: &Settings) -> Result<(), String> {
        settings.internal.validate()?;
        settings.secrets.data_key()?;
        settings.edge.validate()
    }

    async fn build(settings: Settings, shutdown: Shutdown) -> anyhow::Result<Self> {
        Application::build(settings, shutdown).await
    }

    async fn run_until_stopped(self) -> anyhow::Result<()> {
        Application::run_until_stopped(self).await
    }
}
