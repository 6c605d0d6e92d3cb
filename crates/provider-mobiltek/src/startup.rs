//! Builds provider-mobiltek: database (schema `mobiltek`), gRPC PaymentProvider and Mobiltek's
//! notification endpoint on one port, and the outbox relay that publishes its events.

use crate::callbacks::{self, CallbackState};
use crate::config::Settings;
use crate::grpc::MobiltekProvider;
use axum::routing::post;
use paysys_platform::outbox::{self, OutboxSignal};
use paysys_platform::server;
use paysys_platform::{broker, db, Shutdown};
use paysys_proto::payment_provider_server::PaymentProviderServer;
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/mobiltek");

pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    settings: Settings,
    pool: PgPool,
    signal: OutboxSignal,
    shutdown: Shutdown,
}

impl Application {
    pub async fn build(settings: Settings, shutdown: Shutdown) -> anyhow::Result<Self> {
        settings
            .mobiltek
            .validate()
            .map_err(|e| anyhow::anyhow!("configuration error: {e}"))?;
        let pool = db::connect(&settings.database, "mobiltek").await?;
        db::migrate(&pool, &MIGRATOR).await?;
        let signal = OutboxSignal::default();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(settings.mobiltek.request_timeout_ms))
            .build()?;
        let provider = MobiltekProvider {
            pool: pool.clone(),
            settings: settings.mobiltek.clone(),
            http,
        };
        let (health, health_svc) = server::grpc_health();
        health
            .set_serving::<PaymentProviderServer<MobiltekProvider>>()
            .await;
        let grpc = tonic::service::Routes::new(PaymentProviderServer::new(provider))
            .add_service(health_svc);
        let callbacks = axum::Router::new()
            .route("/mobiltek/notify", post(callbacks::notify))
            .with_state(CallbackState {
                pool: pool.clone(),
                secret: settings.mobiltek.secret.clone(),
                exchange: settings.amqp.exchange.clone(),
                signal: signal.clone(),
            });
        let ready = server::db_ready(pool.clone());
        let router = server::finish(callbacks, Some(grpc), ready);
        let listener = server::bind(&settings.mobiltek.listen).await?;
        Ok(Self {
            listener,
            router,
            settings,
            pool,
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
        let publisher = Arc::new(broker::Publisher::new(
            self.settings.amqp.clone(),
            vec![],
            self.shutdown.clone(),
        ));
        let relay = tokio::spawn(outbox::relay(
            self.pool.clone(),
            publisher,
            self.signal.clone(),
            self.shutdown.clone(),
        ));
        tracing::info!(port = self.port(), "provider-mobiltek listening");
        let served = server::serve(self.listener, self.router, self.shutdown.clone()).await;
        self.shutdown.trigger();
        let _ = relay.await;
        served
    }
}

impl paysys_platform::service::Service for Application {
    type Settings = Settings;
    const NAME: &'static str = "provider-mobiltek";

    fn telemetry(settings: &Settings) -> &paysys_platform::config::TelemetrySettings {
        &settings.telemetry
    }

    fn validate(settings: &Settings) -> Result<(), String> {
        settings.mobiltek.validate()
    }

    async fn build(settings: Settings, shutdown: Shutdown) -> anyhow::Result<Self> {
        Application::build(settings, shutdown).await
    }

    async fn run_until_stopped(self) -> anyhow::Result<()> {
        Application::run_until_stopped(self).await
    }
}
