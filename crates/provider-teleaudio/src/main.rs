//! provider-teleaudio binary: configuration, telemetry, signals, then the application.
use paysys_platform::Shutdown;
use provider_teleaudio::{Application, Settings};

#[tokio::main]
async fn main() {
    let settings: Settings = paysys_platform::config::load_or_exit();
    if let Err(e) = settings.teleaudio.validate() {
        eprintln!("configuration error: {e}");
        std::process::exit(paysys_platform::config::EXIT_CONFIG);
    }
    let _guard = paysys_platform::telemetry::init("provider-teleaudio", &settings.telemetry);
    let shutdown = Shutdown::new();
    shutdown.on_signals();
    let app = match Application::build(settings, shutdown).await {
        Ok(a) => a,
        Err(e) => {
            eprintln!("provider-teleaudio failed to start: {e:#}");
            std::process::exit(1);
        }
    };
    if let Err(e) = app.run_until_stopped().await {
        eprintln!("provider-teleaudio stopped with an error: {e:#}");
        std::process::exit(1);
    }
}
