//! Builds the sandbox: every registered simulator's routes (`crate::simulators`) and the
//! control endpoints on one port (`sandbox.listen`), with `/healthz`, `/readyz` and `/metrics`.
//! No database: state is memory.

use crate::config::Settings;
use crate::simulator::Simulator;
use crate::{control, inbox, App};
use axum::routing::{get, post};
use paysys_platform::server;
use paysys_platform::Shutdown;
use std::collections::BTreeSet;
use std::sync::Arc;
use tokio::net::TcpListener;

pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    shutdown: Shutdown,
}

impl Application {
    /// The sandbox with every registered simulator.
    pub async fn build(settings: Settings, shutdown: Shutdown) -> anyhow::Result<Self> {
        let simulators = crate::simulators(&settings.sandbox)
            .map_err(|e| anyhow::anyhow!("configuration error: {e}"))?;
        Self::build_with(settings, shutdown, simulators).await
    }

    /// The sandbox with these simulators (tests add their own).
    pub async fn build_with(
        settings: Settings,
        shutdown: Shutdown,
        simulators: Vec<Arc<dyn Simulator>>,
    ) -> anyhow::Result<Self> {
        check(&settings, &simulators).map_err(|e| anyhow::anyhow!("configuration error: {e}"))?;
        let app = App {
            settings: Arc::new(settings.sandbox.clone()),
            state: Default::default(),
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(10))
                .build()?,
            callback_order: Default::default(),
            simulators: simulators.clone().into(),
        };
        let control = axum::Router::new()
            .route("/_sandbox/complete", post(control::complete))
            .route("/_sandbox/clock/advance", post(control::advance))
            .route("/_sandbox/faults", post(control::faults))
            .route("/_sandbox/sms", get(control::sms))
            .route("/_sandbox/state", get(control::dump))
            .route("/_sandbox/report", get(crate::report::report))
            .route("/_sandbox/report/replay", post(crate::report::replay))
            .route(
                "/_sandbox/merchants/{id}/notifications",
                post(inbox::post).get(inbox::get),
            );
        let routes = simulators
            .into_iter()
            .fold(control, |r, sim| r.merge(sim.routes()))
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

/// The shared settings are valid, simulator names are unique, and every `[sandbox.<name>]`
/// section belongs to a registered simulator (a misspelt shared key would land there too).
fn check(settings: &Settings, simulators: &[Arc<dyn Simulator>]) -> Result<(), String> {
    settings.sandbox.validate()?;
    let mut names = BTreeSet::new();
    for sim in simulators {
        if !names.insert(sim.name()) {
            return Err(format!("two simulators are named {:?}", sim.name()));
        }
    }
    for section in settings.sandbox.providers.keys() {
        if !names.contains(section.as_str()) {
            return Err(format!(
                "sandbox.{section} is neither a sandbox setting nor a simulated provider ({})",
                names.into_iter().collect::<Vec<_>>().join(", ")
            ));
        }
    }
    Ok(())
}

impl paysys_platform::service::Service for Application {
    type Settings = Settings;
    const NAME: &'static str = "provider-sandbox";

    /// Bad configuration exits 64 before anything starts.
    fn validate(settings: &Settings) -> Result<(), String> {
        check(settings, &crate::simulators(&settings.sandbox)?)
    }

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
