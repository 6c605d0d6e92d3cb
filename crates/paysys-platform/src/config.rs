//! Configuration: the checked-in `config/default.toml` (compiled in, so a binary runs from any
//! folder), then an optional file named by `PAYSYS_CONFIG` (when unset: `.run/paysys.toml` in
//! the current folder if it exists, the local secrets `make up` generates, so the CLI run from
//! the checkout needs no flags), then `PAYSYS__SECTION__KEY` variables.
//! Every service deserialises the sections it needs; bad configuration exits with code 64.

use secrecy::SecretString;
use serde::de::DeserializeOwned;
use serde::Deserialize;

/// The checked-in defaults, documented setting by setting.
pub const DEFAULT_TOML: &str = include_str!("../../../config/default.toml");

/// Exit code for bad configuration (EX_USAGE), as linkerd does.
pub const EXIT_CONFIG: i32 = 64;

#[derive(Debug, Clone, Deserialize)]
pub struct DatabaseSettings {
    pub url: SecretString,
    pub max_connections: u32,
    /// Apply the service's migrations at start (the default). `false`: never change the schema,
    /// only check that every migration this binary carries is applied, and refuse to start
    /// naming the missing ones (production, where the Job `paysys-migrate` migrates).
    #[serde(default = "yes")]
    pub migrate: bool,
    /// Apply the migrations, then exit 0 without serving (`--migrate-only`; the Job).
    #[serde(default)]
    pub migrate_only: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
pub struct AmqpSettings {
    pub url: SecretString,
    /// Topic exchange of domain events.
    pub exchange: String,
    /// Prefix of every queue name (tests use a random one so they never clash).
    #[serde(default)]
    pub queue_prefix: String,
    pub prefetch: u16,
    /// Delete a queue this long after its last consumer left (tests; unset in production).
    #[serde(default)]
    pub queue_expires_ms: Option<u32>,
}

impl AmqpSettings {
    pub fn queue(&self, name: &str) -> String {
        format!("{}{}", self.queue_prefix, name)
    }
    pub fn dead_letter_exchange(&self) -> String {
        format!("{}.dlx", self.exchange)
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct TelemetrySettings {
    /// `json` or `pretty`.
    pub log_format: String,
    /// `RUST_LOG`-style filter.
    pub level: String,
    /// OTLP gRPC endpoint; traces are exported only when set.
    #[serde(default)]
    pub otlp_endpoint: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("configuration error: {0}")]
pub struct ConfigError(String);

/// The local `make up` configuration, found when `PAYSYS_CONFIG` is unset.
pub const LOCAL_CONFIG: &str = ".run/paysys.toml";

/// `PAYSYS_CONFIG`, else [`LOCAL_CONFIG`] when it exists.
pub fn config_file() -> Option<std::path::PathBuf> {
    match std::env::var_os("PAYSYS_CONFIG") {
        Some(p) if !p.is_empty() => Some(p.into()),
        _ => {
            let local = std::path::Path::new(LOCAL_CONFIG);
            local.is_file().then(|| local.to_path_buf())
        }
    }
}

/// Loads settings of type `T` from defaults, `PAYSYS_CONFIG` and the environment.
pub fn load<T: DeserializeOwned>() -> Result<T, ConfigError> {
    load_with(|b| b)
}

/// As [`load`], with extra overrides applied last (tests use this to set ports and names).
pub fn load_with<T: DeserializeOwned>(
    extra: impl FnOnce(
        config::ConfigBuilder<config::builder::DefaultState>,
    ) -> config::ConfigBuilder<config::builder::DefaultState>,
) -> Result<T, ConfigError> {
    let mut builder = config::Config::builder().add_source(config::File::from_str(
        DEFAULT_TOML,
        config::FileFormat::Toml,
    ));
    if let Some(path) = config_file() {
        builder = builder.add_source(config::File::from(path));
    }
    builder = builder.add_source(
        config::Environment::with_prefix("PAYSYS")
            .prefix_separator("__")
            .separator("__")
            .try_parsing(true),
    );
    builder = extra(builder);
    builder
        .build()
        .and_then(|c| c.try_deserialize::<T>())
        .map_err(|e| ConfigError(e.to_string()))
}

/// Loads settings or exits with code 64 and a message naming the problem.
pub fn load_or_exit<T: DeserializeOwned>() -> T {
    match load::<T>() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(EXIT_CONFIG);
        }
    }
}
