//! provider-sandbox binary: configuration, telemetry, signals, then the application.
use paysys_platform::Shutdown;
use provider_sandbox::{Application, Settings};

#[tokio::main]
async fn main() {
    let settings: Settings = paysys_platform::config::load_or_exit();
    let _guard = paysys_platform::telemetry::init("provider-sandbox", &settings.telemetry);
    let shutdown = Shutdown::new();
    shutdown.on_signals();
    let app = match Application::build(settings, shutdown).await {
        Ok(a) => a,
        Err(e) => {
            eprintln!("provider-sandbox failed to start: {e:#}");
            std::process::exit(1);
        }
    };
    if let Err(e) = app.run_until_stopped().await {
        eprintln!("provider-sandbox stopped with an error: {e:#}");
        std::process::exit(1);
    }
}
