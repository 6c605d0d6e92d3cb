//! provider-mocopay binary: see `paysys_platform::service::run` (settings, telemetry, signals, run).
#[tokio::main]
async fn main() {
    paysys_platform::service::run::<provider_mocopay::Application>().await
}
