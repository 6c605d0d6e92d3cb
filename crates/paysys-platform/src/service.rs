//! The one `main` every service binary runs: settings (exit 64 naming the bad setting),
//! telemetry, SIGTERM/Ctrl-C as the shutdown signal, build, run until stopped. Each service
//! implements [`Service`] for its `Application`; its `main.rs` is one line.
//!
//! One argument is understood, `--migrate-only` (as `database.migrate_only = true`): the build
//! migrates the service's schema and stops there ([`crate::db::prepare`]), and the process
//! exits 0 without serving, connecting to the broker or binding a port (the Job
//! `paysys-migrate`).

use crate::config::{self, TelemetrySettings, EXIT_CONFIG};
use crate::shutdown::Shutdown;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::future::Future;

/// The command-line argument that applies the migrations and exits.
pub const MIGRATE_ONLY_ARG: &str = "--migrate-only";

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
    run_with_args::<S>(std::env::args()).await
}

/// [`run`] with the command line given (program name first), e.g. by tests.
pub async fn run_with_args<S: Service>(args: impl IntoIterator<Item = String>) {
    let arg = match migrate_only_arg(args.into_iter().skip(1)) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("{}: {e}", S::NAME);
            std::process::exit(EXIT_CONFIG);
        }
    };
    let loaded = if arg {
        config::load_with::<S::Settings>(|b| {
            b.set_override("database.migrate_only", true)
                .expect("a boolean override")
        })
    } else {
        config::load::<S::Settings>()
    };
    let settings = loaded.unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(EXIT_CONFIG);
    });
    let migrate_only = arg || migrate_only_configured();
    if let Err(e) = S::validate(&settings) {
        eprintln!("configuration error: {e}");
        std::process::exit(EXIT_CONFIG);
    }
    let _guard = crate::telemetry::init(S::NAME, S::telemetry(&settings));
    let shutdown = Shutdown::new();
    shutdown.on_signals();
    let app = match S::build(settings, shutdown).await {
        Ok(_) if migrate_only => {
            eprintln!(
                "{}: database.migrate_only is set, but it has no database migrations",
                S::NAME
            );
            std::process::exit(EXIT_CONFIG);
        }
        Ok(a) => a,
        Err(e) if e.is::<crate::db::MigratedOnly>() => {
            tracing::info!("{e}");
            eprintln!("{}: {e}", S::NAME);
            std::process::exit(0);
        }
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

/// Whether the arguments (after the program name) ask for `--migrate-only`; anything else is
/// refused rather than ignored (a misspelt flag must not start a server in a Job).
fn migrate_only_arg(args: impl Iterator<Item = String>) -> Result<bool, String> {
    let mut migrate_only = false;
    for a in args {
        if a == MIGRATE_ONLY_ARG {
            migrate_only = true;
        } else {
            return Err(format!(
                "unknown argument {a:?} (the only one is {MIGRATE_ONLY_ARG}; settings come from \
                 config/default.toml, PAYSYS_CONFIG and PAYSYS__SECTION__KEY variables)"
            ));
        }
    }
    Ok(migrate_only)
}

/// `database.migrate_only` as configured (PAYSYS__DATABASE__MIGRATE_ONLY), for services whose
/// settings have no database.
fn migrate_only_configured() -> bool {
    #[derive(Deserialize, Default)]
    struct Probe {
        #[serde(default)]
        database: ProbeDatabase,
    }
    #[derive(Deserialize, Default)]
    struct ProbeDatabase {
        #[serde(default)]
        migrate_only: bool,
    }
    config::load::<Probe>()
        .map(|p| p.database.migrate_only)
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::migrate_only_arg;

    fn args(a: &[&str]) -> Result<bool, String> {
        migrate_only_arg(a.iter().map(|s| s.to_string()))
    }

    #[test]
    fn the_one_argument_is_migrate_only() {
        assert_eq!(args(&[]), Ok(false));
        assert_eq!(args(&["--migrate-only"]), Ok(true));
        let e = args(&["--migrate_only"]).unwrap_err();
        assert!(
            e.contains("--migrate_only") && e.contains("--migrate-only"),
            "{e}"
        );
        assert!(args(&["--migrate-only", "extra"]).is_err());
    }
}
