//! Tracing: structured (JSON) logs, OTLP export when `telemetry.otlp_endpoint` is set, and W3C
//! trace context carried across HTTP, gRPC metadata and AMQP headers so one trace follows a
//! payment through every service.

use crate::config::TelemetrySettings;
use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::{TraceContextExt as _, TracerProvider as _};
use opentelemetry_otlp::WithExportConfig;
use std::collections::{BTreeMap, HashMap};
use tracing::Level;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Keeps the tracer provider alive; flushes spans on drop.
pub struct TelemetryGuard(Option<opentelemetry_sdk::trace::SdkTracerProvider>);

impl TelemetryGuard {
    /// Exports the spans ended so far (tests read them back; the batch otherwise waits up to
    /// its 5 s schedule).
    pub fn flush(&self) {
        if let Some(p) = &self.0 {
            let _ = p.force_flush();
        }
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = p.shutdown();
        }
    }
}

/// Installs the global subscriber once per process. A second call (the services of a test
/// system share the test's process) changes nothing and returns a guard that does nothing:
/// the first call's exporter stays the one in use.
///
/// Spans go to OTLP at `info` whatever `telemetry.level` says: the level is the logs'
/// verbosity, and a quieter log (`warn`) must not switch tracing off.
pub fn init(service: &str, settings: &TelemetrySettings) -> TelemetryGuard {
    opentelemetry::global::set_text_map_propagator(
        opentelemetry_sdk::propagation::TraceContextPropagator::new(),
    );
    if tracing::dispatcher::has_been_set() {
        return TelemetryGuard(None);
    }
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&settings.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let fmt = if settings.log_format == "json" {
        tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .boxed()
    } else {
        tracing_subscriber::fmt::layer().compact().boxed()
    };
    let mut provider = None;
    let otel = settings.otlp_endpoint.as_ref().and_then(|ep| {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(ep.clone())
            .build()
            .map_err(|e| eprintln!("OTLP exporter disabled: {e}"))
            .ok()?;
        let p = opentelemetry_sdk::trace::SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(
                opentelemetry_sdk::Resource::builder()
                    .with_service_name(service.to_string())
                    .build(),
            )
            .build();
        let tracer = p.tracer(service.to_string());
        provider = Some(p);
        Some(
            tracing_opentelemetry::layer()
                .with_tracer(tracer)
                .with_filter(trace_filter()),
        )
    });
    let installed = tracing_subscriber::registry()
        .with(fmt.with_filter(filter))
        .with(otel)
        .try_init();
    if installed.is_err() {
        // Another subscriber won a race with this call: ours exports nothing.
        return TelemetryGuard(None);
    }
    TelemetryGuard(provider)
}

/// What goes to OTLP: our spans (all `info`) and events at `info` and above; the libraries
/// below us only when they warn (lapin keeps an `info` span open for its I/O loop).
fn trace_filter() -> Targets {
    Targets::new().with_default(Level::INFO).with_targets(
        [
            "lapin",
            "amq_protocol",
            "h2",
            "hyper",
            "tower",
            "sqlx",
            "tonic",
        ]
        .map(|t| (t, Level::WARN)),
    )
}

struct MapInjector<'a>(&'a mut HashMap<String, String>);
impl Injector for MapInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key.to_string(), value);
    }
}
struct MapExtractor<'a>(&'a BTreeMap<String, String>);
impl Extractor for MapExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(|s| s.as_str())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// The current span's context as W3C headers (`traceparent`, `tracestate`).
pub fn current_context_headers() -> BTreeMap<String, String> {
    context_headers_of(&tracing::Span::current())
}

/// `span`'s context as W3C headers: what a row stores so that work done later from it (an
/// outbox row published, a notification delivered, a callback to an order) continues the trace.
pub fn context_headers_of(span: &tracing::Span) -> BTreeMap<String, String> {
    let cx = span.context();
    let mut map = HashMap::new();
    opentelemetry::global::get_text_map_propagator(|p| {
        p.inject_context(&cx, &mut MapInjector(&mut map))
    });
    map.into_iter().collect()
}

/// Makes `span` a child of the context carried in `headers`.
pub fn set_parent_from(span: &tracing::Span, headers: &BTreeMap<String, String>) {
    if !headers.contains_key("traceparent") {
        return;
    }
    let cx = opentelemetry::global::get_text_map_propagator(|p| p.extract(&MapExtractor(headers)));
    let _ = span.set_parent(cx);
}

/// Links `span` to the span whose context `headers` carry: related work of another trace (a
/// renewal to the subscription's start), shown as a link, not as a parent.
pub fn add_link_from(span: &tracing::Span, headers: &BTreeMap<String, String>) {
    if !headers.contains_key("traceparent") {
        return;
    }
    let cx = opentelemetry::global::get_text_map_propagator(|p| p.extract(&MapExtractor(headers)));
    span.add_link(cx.span().span_context().clone());
}

/// Reads the trace context of an incoming HTTP or gRPC request.
pub fn headers_of(h: &http::HeaderMap) -> BTreeMap<String, String> {
    ["traceparent", "tracestate"]
        .iter()
        .filter_map(|k| {
            h.get(*k)
                .and_then(|v| v.to_str().ok())
                .map(|v| (k.to_string(), v.to_string()))
        })
        .collect()
}
