//! notifier binary: configuration, telemetry, signals, then the application.
use notifier::{Application, Settings};
use paysys_platform::Shutdown;

#[tokio::main]
async fn main() {
    let settings: Settings = paysys_platform::config::load_or_exit();
    if let Err(e) = settings.notifier.validate() {
        eprintln!("configuration error: {e}");
        std::process::exit(paysys_platform::config::EXIT_CONFIG);
    }
    let _guard = paysys_platform::telemetry::init("notifier", &settings.telemetry);
    let shutdown = Shutdown::new();
    shutdown.on_signals();
    let app = match Application::build(settings, shutdown).await {
        Ok(a) => a,
        Err(e) => {
            eprintln!("notifier failed to start: {e:#}");
            std::process::exit(1);
        }
    };
    if let Err(e) = app.run_until_stopped().await {
        eprintln!("notifier stopped with an error: {e:#}");
        std::process::exit(1);
    }
}
