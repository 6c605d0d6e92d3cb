//! One adapter startup for every provider: its schema with the kit's tables and its own
//! migrations, gRPC `PaymentProvider` + health, its callback routes, the outbox relay, and the
//! command consumer when it takes asynchronous starts. A provider crate implements [`Adapter`];
//! its binary is `paysys_platform::service::run::<paysys_adapter::Application<P>>()`.

use crate::callback::{CallbackEndpoint, Incoming, Pipeline};
use crate::grpc::{Kit, Service};
use crate::provider::Provider;
use axum::extract::State;
use axum::response::Response;
use paysys_platform::config::{AmqpSettings, DatabaseSettings, TelemetrySettings};
use paysys_platform::outbox::{self, OutboxSignal};
use paysys_platform::{broker, db, server, Shutdown};
use paysys_proto::payment_provider_server::PaymentProviderServer;
use serde::de::DeserializeOwned;
use sqlx::migrate::Migrator;
use sqlx::PgPool;
use std::borrow::Cow;
use std::sync::Arc;
use tokio::net::TcpListener;

/// The kit's tables, the same in every adapter's schema.
static KIT_MIGRATOR: Migrator = sqlx::migrate!("../../migrations/adapter");

/// What the kit needs from an adapter's settings.
pub struct Platform<'a> {
    pub database: &'a DatabaseSettings,
    pub amqp: &'a AmqpSettings,
    pub telemetry: &'a TelemetrySettings,
    /// Internal: gRPC `PaymentProvider` (bearer token), health, readiness, metrics.
    pub listen: &'a str,
    /// Public: the provider's callback routes and pages only (what an ingress exposes).
    pub callback_listen: &'a str,
    pub internal: &'a paysys_platform::internal::InternalSettings,
    pub kit: &'a KitSettings,
}

/// `[adapter]`: what every adapter does the same way.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct KitSettings {
    /// A subscription unsubscribed with the provider's yes stays `cancelling` until the provider
    /// confirms; after this many seconds without a confirmation a reconciliation ends it.
    pub cancel_confirm_timeout_secs: u64,
}

impl Default for KitSettings {
    fn default() -> Self {
        Self {
            cancel_confirm_timeout_secs: 86_400,
        }
    }
}

/// For optional settings an environment can switch off (`PAYSYS__MOBILTEK__TEST_BASE_URL=`):
/// an empty value is no value. Use as `#[serde(default, deserialize_with = "...")]`.
pub fn empty_as_none<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v: Option<String> = serde::Deserialize::deserialize(d)?;
    Ok(v.filter(|s| !s.trim().is_empty()))
}

/// Checks an adapter setting that must be an http(s) URL; the error names it
/// (`mobiltek.base_url must be an http(s) URL, got ...`).
pub fn http_url_setting(name: &str, value: &str) -> Result<(), String> {
    if url::Url::parse(value).is_ok_and(|u| matches!(u.scheme(), "http" | "https")) {
        Ok(())
    } else {
        Err(format!("{name} must be an http(s) URL, got {value:?}"))
    }
}

/// An adapter's settings: the shared sections plus its own (made by [`adapter_settings!`]).
pub trait AdapterSettings: DeserializeOwned + Send + Sync + 'static {
    fn platform(&self) -> Platform<'_>;
    /// Checks beyond the types; the error names the setting.
    fn validate(&self) -> Result<(), String>;
}

/// The settings struct of an adapter: `[database]`, `[amqp]`, `[telemetry]` and the provider's
/// own section, e.g. `adapter_settings!(mobiltek: MobiltekSettings)` reads `[mobiltek]`, whose
/// type has `listen` (internal), `callback_listen` (public) and
/// `fn validate(&self) -> Result<(), String>`.
#[macro_export]
macro_rules! adapter_settings {
    ($section:ident : $ty:ty) => {
        #[derive(Debug, Clone, serde::Deserialize)]
        pub struct Settings {
            pub database: paysys_platform::config::DatabaseSettings,
            pub amqp: paysys_platform::config::AmqpSettings,
            pub telemetry: paysys_platform::config::TelemetrySettings,
            pub internal: paysys_platform::internal::InternalSettings,
            #[serde(default)]
            pub adapter: $crate::KitSettings,
            pub $section: $ty,
        }

        impl $crate::AdapterSettings for Settings {
            fn platform(&self) -> $crate::Platform<'_> {
                $crate::Platform {
                    database: &self.database,
                    amqp: &self.amqp,
                    telemetry: &self.telemetry,
                    listen: &self.$section.listen,
                    callback_listen: &self.$section.callback_listen,
                    internal: &self.internal,
                    kit: &self.adapter,
                }
            }
            fn validate(&self) -> Result<(), String> {
                self.internal.validate()?;
                self.$section.validate()
            }
        }
    };
}

/// A provider adapter: how to build it from its settings.
pub trait Adapter: Provider + Sized {
    type Settings: AdapterSettings;
    /// The binary's name, e.g. `provider-mobiltek`.
    const SERVICE: &'static str;
    fn platform(settings: &Self::Settings) -> Platform<'_> {
        settings.platform()
    }
    fn validate(settings: &Self::Settings) -> Result<(), String> {
        settings.validate()
    }
    /// The provider's own migrations (`migrations/<name>`), applied with the kit's.
    fn migrations() -> &'static Migrator;
    /// The provider and its callback endpoints.
    fn build(settings: &Self::Settings) -> anyhow::Result<(Self, Vec<Arc<dyn CallbackEndpoint>>)>;
}

/// The kit's and the provider's migrations as one list, in version order (the provider's
/// early ones predate the kit).
fn migrator<A: Adapter>() -> Migrator {
    let mut all: Vec<_> = KIT_MIGRATOR
        .iter()
        .chain(A::migrations().iter())
        .cloned()
        .collect();
    all.sort_by_key(|m| m.version);
    Migrator {
        migrations: Cow::Owned(all),
        ..Migrator::DEFAULT
    }
}

pub struct Application<A: Adapter> {
    listener: TcpListener,
    router: axum::Router,
    callback_listener: TcpListener,
    callback_router: axum::Router,
    settings: A::Settings,
    kit: Kit,
    signal: OutboxSignal,
    shutdown: Shutdown,
}

#[derive(Clone)]
struct Route {
    pipeline: Pipeline,
    endpoint: Arc<dyn CallbackEndpoint>,
}

/// Takes the raw request, so nothing (content type, method) is refused before authentication.
async fn callback(State(r): State<Route>, req: axum::extract::Request) -> Response {
    let (parts, body) = req.into_parts();
    // Callbacks are small; a larger body is not a provider's.
    let body = match axum::body::to_bytes(body, 256 * 1024).await {
        Ok(b) => b,
        Err(_) => {
            return axum::response::IntoResponse::into_response((
                http::StatusCode::PAYLOAD_TOO_LARGE,
                "body too large",
            ))
        }
    };
    let incoming = Incoming {
        method: parts.method,
        uri: parts.uri,
        headers: parts.headers,
        body,
    };
    r.pipeline.serve(r.endpoint.as_ref(), incoming).await
}

impl<A: Adapter> Application<A> {
    pub async fn build(settings: A::Settings, shutdown: Shutdown) -> anyhow::Result<Self> {
        A::validate(&settings).map_err(|e| anyhow::anyhow!("configuration error: {e}"))?;
        let (provider, endpoints) = A::build(&settings)?;
        let name = provider.name();
        let p = A::platform(&settings);
        let pool = db::connect(p.database, name).await?;
        db::prepare(p.database, &pool, &migrator::<A>()).await?;
        let signal = OutboxSignal::default();
        let provider: Arc<dyn Provider> = Arc::new(provider);
        let pipeline = Pipeline {
            pool: pool.clone(),
            exchange: p.amqp.exchange.clone(),
            signal: signal.clone(),
            provider: provider.clone(),
        };
        let kit = Kit {
            pool: pool.clone(),
            provider,
            pipeline: pipeline.clone(),
            cancel_confirm_timeout_secs: p.kit.cancel_confirm_timeout_secs,
        };
        let (health, health_svc) = server::grpc_health();
        health.set_serving::<PaymentProviderServer<Service>>().await;
        let (reflection, reflection_v1alpha) =
            paysys_proto::reflection(paysys_proto::payment_provider_server::SERVICE_NAME)?;
        let grpc = tonic::service::Routes::new(PaymentProviderServer::new(Service(kit.clone())))
            .add_service(health_svc)
            .add_service(reflection)
            .add_service(reflection_v1alpha);
        let mut callbacks = kit.provider.pages(pool.clone()).unwrap_or_default();
        for endpoint in endpoints {
            callbacks = callbacks.route(
                endpoint.path(),
                axum::routing::any(callback).with_state(Route {
                    pipeline: pipeline.clone(),
                    endpoint,
                }),
            );
        }
        let ready = server::db_ready(pool.clone());
        let grpc = server::InternalGrpc {
            routes: grpc,
            token: p.internal.token(),
        };
        let router = server::finish(axum::Router::new(), Some(grpc), ready);
        let callback_router = server::finish_public(callbacks);
        let listener = server::bind(p.listen).await?;
        let callback_listener = server::bind(p.callback_listen).await?;
        Ok(Self {
            listener,
            router,
            callback_listener,
            callback_router,
            settings,
            kit,
            signal,
            shutdown,
        })
    }

    /// The internal port (gRPC, health, metrics).
    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// The public port (the provider's callback routes and pages).
    pub fn callback_port(&self) -> u16 {
        self.callback_listener
            .local_addr()
            .map(|a| a.port())
            .unwrap_or(0)
    }

    pub fn pool(&self) -> PgPool {
        self.kit.pool.clone()
    }

    /// The listener and router alone, served without relay or consumer (the test kit counts
    /// the events left in the outbox).
    #[cfg(feature = "testkit")]
    pub fn into_parts(self) -> [(TcpListener, axum::Router); 2] {
        [
            (self.listener, self.router),
            (self.callback_listener, self.callback_router),
        ]
    }

    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let amqp = A::platform(&self.settings).amqp.clone();
        let publisher = Arc::new(broker::Publisher::new(
            amqp.clone(),
            vec![],
            self.shutdown.clone(),
        ));
        let relay = tokio::spawn(outbox::relay(
            self.kit.pool.clone(),
            publisher,
            self.signal.clone(),
            self.shutdown.clone(),
        ));
        let name = self.kit.provider.name();
        let consumer = if self.kit.provider.capabilities().async_one_time {
            let kit = self.kit.clone();
            let handler: broker::Handler =
                Arc::new(move |msg| Box::pin(crate::commands::handle(kit.clone(), msg)));
            Some(tokio::spawn(broker::consume(
                amqp.clone(),
                amqp.queue(&format!("provider.{name}.commands")),
                vec![],
                handler,
                self.shutdown.clone(),
            )))
        } else {
            None
        };
        let expiry = tokio::spawn(expire(self.kit.clone(), self.shutdown.clone()));
        tracing::info!(
            port = self.port(),
            callback_port = self.callback_port(),
            provider = name,
            "{} listening",
            A::SERVICE
        );
        let public = tokio::spawn(server::serve(
            self.callback_listener,
            self.callback_router,
            self.shutdown.clone(),
        ));
        let served = server::serve(self.listener, self.router, self.shutdown.clone()).await;
        self.shutdown.trigger();
        let served = match public.await {
            Ok(Err(e)) if served.is_ok() => Err(e),
            _ => served,
        };
        let _ = relay.await;
        let _ = expiry.await;
        if let Some(c) = consumer {
            let _ = c.await;
        }
        served
    }
}

/// Once a second: expires unfinished payments whose `payment.validity_time` passed (seed 001),
/// and ends the cancellations the provider never confirmed (`[adapter]
/// cancel_confirm_timeout_secs`).
async fn expire(kit: Kit, shutdown: Shutdown) {
    loop {
        match kit.expire_due().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                provider = kit.provider.name(),
                expired = n,
                "unfinished payments expired"
            ),
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "expiring payments failed; retrying")
            }
        }
        match kit.reconcile_cancellations().await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(
                provider = kit.provider.name(),
                cancelled = n,
                "cancellations the provider never confirmed were ended by reconciliation"
            ),
            Err(e) => tracing::warn!(
                error = %format!("{e:#}"),
                "reconciling cancellations failed; retrying"
            ),
        }
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
            _ = shutdown.wait() => return,
        }
    }
}

impl<A: Adapter> paysys_platform::service::Service for Application<A> {
    type Settings = A::Settings;
    const NAME: &'static str = A::SERVICE;

    fn telemetry(settings: &A::Settings) -> &TelemetrySettings {
        A::platform(settings).telemetry
    }

    fn validate(settings: &A::Settings) -> Result<(), String> {
        A::validate(settings)
    }

    async fn build(settings: A::Settings, shutdown: Shutdown) -> anyhow::Result<Self> {
        Application::build(settings, shutdown).await
    }

    async fn run_until_stopped(self) -> anyhow::Result<()> {
        Application::run_until_stopped(self).await
    }
}

/// Whether `url` is the provider sandbox: a loopback address, `localhost`, or the dev
/// overlay's `provider-sandbox` Service. The real providers are never there.
pub fn is_sandbox_url(url: &str) -> bool {
    let Ok(u) = url::Url::parse(url) else {
        return false;
    };
    match u.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            d == "localhost" || d == "provider-sandbox" || d.starts_with("provider-sandbox.")
        }
        None => false,
    }
}

/// The checked-in default of a setting (`mobiltek.secret`), if config/default.toml has one.
fn checked_in_default(key: &str) -> Option<String> {
    config::Config::builder()
        .add_source(config::File::from_str(
            paysys_platform::config::DEFAULT_TOML,
            config::FileFormat::Toml,
        ))
        .build()
        .ok()?
        .get_string(key)
        .ok()
}

/// No provider secret has a default that works in production: a secret that is the checked-in
/// sandbox value, empty, or a `REPLACE` placeholder is refused unless every URL of that provider
/// is the sandbox ([`is_sandbox_url`]). `secrets` are (setting, value), `urls` (setting, URL).
/// The error names the setting, never the value.
pub fn sandbox_secrets_only_against_sandbox(
    secrets: &[(&str, &str)],
    urls: &[(&str, &str)],
) -> Result<(), String> {
    let Some((real_name, real_url)) = urls.iter().find(|(_, u)| !is_sandbox_url(u)) else {
        return Ok(());
    };
    for (name, value) in secrets {
        let why = if value.trim().is_empty() {
            "is empty"
        } else if value.contains("REPLACE") {
            "is a REPLACE placeholder"
        } else if checked_in_default(name).as_deref() == Some(*value) {
            "is the sandbox's value from config/default.toml"
        } else {
            continue;
        };
        return Err(format!(
            "{name} {why}, but {real_name} ({real_url}) is not the sandbox: set the provider's real secret"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod sandbox_secret_tests {
    use super::*;

    #[test]
    fn sandbox_urls_are_loopback_or_the_sandbox_service() {
        for u in [
            "http://127.0.0.1:9090/mobiltek",
            "http://localhost:9090",
            "http://[::1]:9090",
            "http://provider-sandbox:9090/netopia/card",
            "http://provider-sandbox.paysys-dev.svc.cluster.local:9090",
        ] {
            assert!(is_sandbox_url(u), "{u}");
        }
        for u in [
            "https://pay.mobiltek.pl",
            "https://secure.mobilpay.ro",
            "http://10.0.0.5:9090",
            "http://provider-sandbox-evil.example",
            "not a url",
        ] {
            assert!(!is_sandbox_url(u), "{u}");
        }
    }

    #[test]
    fn a_sandbox_secret_is_refused_against_a_real_provider_by_name() {
        let sandbox = [("mobiltek.base_url", "http://127.0.0.1:9090/mobiltek")];
        let real = [
            ("mobiltek.base_url", "https://pay.mobiltek.pl"),
            ("mobiltek.test_base_url", "http://127.0.0.1:9090/mobiltek"),
        ];
        let default = checked_in_default("mobiltek.secret").expect("a checked-in default");
        assert!(
            sandbox_secrets_only_against_sandbox(&[("mobiltek.secret", &default)], &sandbox)
                .is_ok()
        );
        let err = sandbox_secrets_only_against_sandbox(&[("mobiltek.secret", &default)], &real)
            .unwrap_err();
        assert!(
            err.contains("mobiltek.secret") && err.contains("mobiltek.base_url"),
            "{err}"
        );
        assert!(!err.contains(&default), "the value is never shown: {err}");
        for bad in ["", "REPLACE-ME"] {
            assert!(
                sandbox_secrets_only_against_sandbox(&[("mobiltek.secret", bad)], &real).is_err()
            );
        }
        assert!(sandbox_secrets_only_against_sandbox(
            &[("mobiltek.secret", "a-real-secret-from-mobiltek")],
            &real
        )
        .is_ok());
    }
}
