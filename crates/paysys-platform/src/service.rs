//! The one `main` every service binary runs: settings (exit 64 naming the bad setting),
//! telemetry, SIGTERM/Ctrl-C as the shutdown signal, build, run until stopped. Each service
//! implements [`Service`] for its `Application`; its `main.rs` is one line.

use crate::config::{self, TelemetrySettings, EXIT_CONFIG};
use crate::shutdown::Shutdown;
use serde::de::DeserializeOwned;
use std::future::Future;

pub trait Service: Sized {
    type Settings: DeserializeOwned;
    /// The binary's name, as logs and traces show it.
    const NAME: &'static str;
    fn telemetry(settings: &Self::Settings) -> &TelemetrySettings;
    /// Checks beyond the types; the error names the setting.
    fn validate(_settings: &Self::Settings) -> Result<(), String> {
        Ok(())
    }
    fn build(
        settings: Self::Settings,
        shutdown: Shutdown,
    ) -> impl Future<Output = anyhow::Result<Self>>;
    fn run_until_stopped(self) -> impl Future<Output = anyhow::Result<()>>;
}

/// Runs service `S` as a process; exits 64 on bad configuration, 1 on a failure.
pub async fn run<S: Service>() {
    let settings: S::Settings = config::load_or_exit();
    if let Err(e) = S::validate(&settings) {
        eprintln!("configuration error: {e}");
        std::process::exit(EXIT_CONFIG);
    }
    let _guard = crate::telemetry::init(S::NAME, S::telemetry(&settings));
    let shutdown = Shutdown::new();
    shutdown.on_signals();
    let app = match S::build(settings, shutdown).await {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{} failed to start: {e:#}", S::NAME);
            std::process::exit(1);
        }
    };
    if let Err(e) = app.run_until_stopped().await {
        eprintln!("{} stopped with an error: {e:#}", S::NAME);
        std::process::exit(1);
    }
}
