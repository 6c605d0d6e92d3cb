//! Builds provider-teleaudio: database (schema `teleaudio`), gRPC PaymentProvider and
//! Teleaudio's callback endpoint on one port, the consumer of its command queue, and the outbox
//! relay that publishes its events.

use crate::callbacks::{self, CallbackState};
use crate::client::TeleaudioClient;
use crate::config::Settings;
use crate::grpc::TeleaudioProvider;
use crate::service::Teleaudio;
use axum::routing::post;
use paysys_platform::outbox::{self, OutboxSignal};
use paysys_platform::server;
use paysys_platform::{broker, db, Shutdown};
use paysys_proto::payment_provider_server::PaymentProviderServer;
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/teleaudio");

pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    settings: Settings,
    teleaudio: Teleaudio,
    signal: OutboxSignal,
    shutdown: Shutdown,
}

impl Application {
    pub async fn build(settings: Settings, shutdown: Shutdown) -> anyhow::Result<Self> {
        settings
            .teleaudio
            .validate()
            .map_err(|e| anyhow::anyhow!("configuration error: {e}"))?;
        let pool = db::connect(&settings.database, "teleaudio").await?;
        db::migrate(&pool, &MIGRATOR).await?;
        let signal = OutboxSignal::default();
        let client = TeleaudioClient {
            http: reqwest::Client::builder()
                .timeout(Duration::from_millis(settings.teleaudio.request_timeout_ms))
                .build()?,
            base_url: settings.teleaudio.base_url.clone(),
            secret: settings.teleaudio.secret.clone(),
        };
        let teleaudio = Teleaudio {
            pool: pool.clone(),
            client,
        };
        let (health, health_svc) = server::grpc_health();
        health
            .set_serving::<PaymentProviderServer<TeleaudioProvider>>()
            .await;
        let grpc = tonic::service::Routes::new(PaymentProviderServer::new(TeleaudioProvider(
            teleaudio.clone(),
        )))
        .add_service(health_svc);
        let callbacks = axum::Router::new()
            .route("/teleaudio/notify", post(callbacks::notify))
            .with_state(CallbackState {
                pool: pool.clone(),
                secret: settings.teleaudio.secret.clone(),
                exchange: settings.amqp.exchange.clone(),
                signal: signal.clone(),
            });
        let ready = server::db_ready(pool.clone());
        let router = server::finish(callbacks, Some(grpc), ready);
        let listener = server::bind(&settings.teleaudio.listen).await?;
        Ok(Self {
            listener,
            router,
            settings,
            teleaudio,
            signal,
            shutdown,
        })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    pub fn pool(&self) -> PgPool {
        self.teleaudio.pool.clone()
    }

    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let publisher = Arc::new(broker::Publisher::new(
            self.settings.amqp.clone(),
            vec![],
            self.shutdown.clone(),
        ));
        let relay = tokio::spawn(outbox::relay(
            self.teleaudio.pool.clone(),
            publisher,
            self.signal.clone(),
            self.shutdown.clone(),
        ));
        let t = self.teleaudio.clone();
        let handler: broker::Handler =
            Arc::new(move |msg| Box::pin(crate::commands::handle(t.clone(), msg)));
        let consumer = tokio::spawn(broker::consume(
            self.settings.amqp.clone(),
            self.settings.amqp.queue("provider.teleaudio.commands"),
            vec![],
            handler,
            self.shutdown.clone(),
        ));
        tracing::info!(port = self.port(), "provider-teleaudio listening");
        let served = server::serve(self.listener, self.router, self.shutdown.clone()).await;
        self.shutdown.trigger();
        let _ = relay.await;
        let _ = consumer.await;
        served
    }
}

impl paysys_platform::service::Service for Application {
    type Settings = Settings;
    const NAME: &'static str = "provider-teleaudio";

    fn telemetry(settings: &Settings) -> &paysys_platform::config::TelemetrySettings {
        &settings.telemetry
    }

    fn validate(settings: &Settings) -> Result<(), String> {
        settings.teleaudio.validate()
    }

    async fn build(settings: Settings, shutdown: Shutdown) -> anyhow::Result<Self> {
        Application::build(settings, shutdown).await
    }

    async fn run_until_stopped(self) -> anyhow::Result<()> {
        Application::run_until_stopped(self).await
    }
}
