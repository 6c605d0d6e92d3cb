//! ledger binary: configuration, telemetry, signals, then the application.
use ledger::{Application, Settings};
use paysys_platform::Shutdown;

#[tokio::main]
async fn main() {
    let settings: Settings = paysys_platform::config::load_or_exit();
    let _guard = paysys_platform::telemetry::init("ledger", &settings.telemetry);
    let shutdown = Shutdown::new();
    shutdown.on_signals();
    let app = match Application::build(settings, shutdown).await {
        Ok(a) => a,
        Err(e) => {
            eprintln!("ledger failed to start: {e:#}");
            std::process::exit(1);
        }
    };
    if let Err(e) = app.run_until_stopped().await {
        eprintln!("ledger stopped with an error: {e:#}");
        std::process::exit(1);
    }
}
