//! Serving: each service answers HTTP and gRPC on one port (axum with HTTP/1 and h2c), with
//! `/healthz` (alive), `/readyz` (dependencies answer), `/metrics` (Prometheus) and gRPC health.
//! Requests are counted and timed; incoming trace context becomes the parent of the request span.

use crate::shutdown::Shutdown;
use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures::future::BoxFuture;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::{Arc, OnceLock};
use std::time::Instant;
use tokio::net::TcpListener;

/// A readiness probe: true when the service can do its work.
pub type ReadyCheck = Arc<dyn Fn() -> BoxFuture<'static, bool> + Send + Sync>;

static PROMETHEUS: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process-wide Prometheus recorder, installed on first use.
pub fn metrics_handle() -> PrometheusHandle {
    PROMETHEUS
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets(&[
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                ])
                .expect("static buckets")
                .install_recorder()
                .expect("install the Prometheus recorder once")
        })
        .clone()
}

/// Binds `addr` (`127.0.0.1:0` in tests picks a free port).
pub async fn bind(addr: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))
}

/// `/healthz`, `/readyz`, `/metrics` added to a service's router, plus its gRPC services.
pub fn finish(app: Router, grpc: Option<tonic::service::Routes>, ready: ReadyCheck) -> Router {
    let handle = metrics_handle();
    let mut router = app
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(move || {
                let ready = ready.clone();
                async move {
                    if ready().await {
                        (http::StatusCode::OK, "ready").into_response()
                    } else {
                        (http::StatusCode::SERVICE_UNAVAILABLE, "not ready").into_response()
                    }
                }
            }),
        )
        .route("/metrics", get(move || std::future::ready(handle.render())));
    if let Some(grpc) = grpc {
        router = router.merge(grpc.prepare().into_axum_router());
    }
    router.layer(axum::middleware::from_fn(observe))
}

async fn observe(req: Request, next: Next) -> Response {
    let path = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| req.uri().path().to_string());
    let method = req.method().to_string();
    let span = tracing::info_span!("request", %method, %path);
    crate::telemetry::set_parent_from(&span, &crate::telemetry::headers_of(req.headers()));
    let start = Instant::now();
    let resp = tracing::Instrument::instrument(next.run(req), span).await;
    let status = resp.status().as_u16().to_string();
    metrics::counter!("paysys_http_requests_total", "path" => path.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("paysys_http_request_duration_seconds", "path" => path)
        .record(start.elapsed().as_secs_f64());
    resp
}

/// Serves until shutdown, then drains in-flight requests.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(async move { shutdown.wait().await })
        .await?;
    Ok(())
}

/// gRPC health service plus its reporter (set a service serving once it is ready).
pub fn grpc_health() -> (
    tonic_health::server::HealthReporter,
    tonic_health::pb::health_server::HealthServer<impl tonic_health::pb::health_server::Health>,
) {
    tonic_health::server::health_reporter()
}

/// Readiness of a service whose work needs its database: the database answers.
pub fn db_ready(pool: sqlx::PgPool) -> ReadyCheck {
    Arc::new(move || {
        let pool = pool.clone();
        Box::pin(async move { crate::db::ping(&pool).await })
    })
}
