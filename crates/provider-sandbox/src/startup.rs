//! Builds the sandbox: every simulated provider's routes and the control endpoints on one port
//! (`sandbox.listen`), with `/healthz`, `/readyz` and `/metrics`. No database: state is memory.

use crate::config::Settings;
use crate::{control, inbox, mobiltek, teleaudio, App};
use axum::routing::{get, post};
use paysys_platform::server;
use paysys_platform::Shutdown;
use std::sync::Arc;
use tokio::net::TcpListener;

pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    shutdown: Shutdown,
}

impl Application {
    pub async fn build(settings: Settings, shutdown: Shutdown) -> anyhow::Result<Self> {
        settings
            .sandbox
            .validate()
            .map_err(|e| anyhow::anyhow!("configuration error: {e}"))?;
        let app = App {
            settings: Arc::new(settings.sandbox.clone()),
            state: Default::default(),
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(10))
                .build()?,
            callback_order: Default::default(),
        };
        let teleaudio = axum::Router::new()
            .route(
                "/teleaudio/subscriptions",
                post(teleaudio::create_subscription),
            )
            .route(
                "/teleaudio/subscriptions/{id}/cancel",
                post(teleaudio::cancel_subscription),
            )
            .route("/teleaudio/confirm/{id}", get(teleaudio::confirm_page))
            .route("/teleaudio/webbilling", post(teleaudio::start_webbilling))
            .route(
                "/teleaudio/webbilling/{id}/confirm",
                post(teleaudio::confirm_webbilling),
            );
        let control = axum::Router::new()
            .route("/_sandbox/complete", post(control::complete))
            .route("/_sandbox/clock/advance", post(control::advance))
            .route("/_sandbox/faults", post(control::faults))
            .route("/_sandbox/sms", get(control::sms))
            .route("/_sandbox/state", get(control::dump))
            .route(
                "/_sandbox/merchants/{id}/notifications",
                post(inbox::post).get(inbox::get),
            );
        let routes = mobiltek::routes()
            .merge(teleaudio)
            .merge(control)
            .with_state(app);
        let ready: server::ReadyCheck = Arc::new(|| Box::pin(async { true }));
        let router = server::finish(routes, None, ready);
        let listener = server::bind(&settings.sandbox.listen).await?;
        Ok(Self {
            listener,
            router,
            shutdown,
        })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        tracing::info!(port = self.port(), "provider-sandbox listening");
        server::serve(self.listener, self.router, self.shutdown).await
    }
}

impl paysys_platform::service::Service for Application {
    type Settings = Settings;
    const NAME: &'static str = "provider-sandbox";

    fn telemetry(settings: &Settings) -> &paysys_platform::config::TelemetrySettings {
        &settings.telemetry
    }

    async fn build(settings: Settings, shutdown: Shutdown) -> anyhow::Result<Self> {
        Application::build(settings, shutdown).await
    }

    async fn run_until_stopped(self) -> anyhow::Result<()> {
        Application::run_until_stopped(self).await
    }
}
