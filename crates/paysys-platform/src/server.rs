//! Serving: each service answers HTTP and gRPC on one port (axum with HTTP/1 and h2c), with
//! `/healthz` (alive), `/readyz` (dependencies answer), `/metrics` (Prometheus) and gRPC health.
//! Requests are counted and timed; incoming trace context becomes the parent of the request span.
//!
//! Readiness says whether the service can serve its own traffic: its database answers. A broker
//! outage is absorbed by the outbox and never takes a service out of its Service (the broker is
//! watched by `paysys_broker_connected`, [`crate::broker_watch`]). gRPC health follows the same
//! check: a background task re-runs it every [`HEALTH_INTERVAL`] and the health service answers
//! `NOT_SERVING` while it fails, `SERVING` again (as the service set it) once it passes.

use crate::shutdown::Shutdown;
use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures::future::BoxFuture;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_server::{Health, HealthServer};
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};

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

/// A service's internal gRPC services and the token they require
/// ([`crate::internal::require_token`]; gRPC health is open).
pub struct InternalGrpc {
    pub routes: tonic::service::Routes,
    pub token: crate::internal::InternalToken,
}

/// `/healthz`, `/readyz`, `/metrics` added to a service's router, plus its gRPC services.
pub fn finish(app: Router, grpc: Option<InternalGrpc>, ready: ReadyCheck) -> Router {
    let handle = metrics_handle();
    let follow = ready.clone();
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
        let guarded =
            grpc.routes
                .prepare()
                .into_axum_router()
                .layer(axum::middleware::from_fn_with_state(
                    grpc.token,
                    crate::internal::require_token,
                ));
        // gRPC health (from `grpc_health`) reads the readiness the background task keeps.
        let guarded = match follow_readiness(follow) {
            Some(readiness) => guarded.layer(axum::Extension(readiness)),
            None => guarded,
        };
        router = router.merge(guarded);
    }
    router.layer(axum::middleware::from_fn(observe))
}

/// A public listener's router (provider callbacks): only its routes, `/healthz`, the request
/// metrics; no gRPC, no `/metrics`, no `/readyz`, which stay on the internal listener.
pub fn finish_public(app: Router) -> Router {
    app.route("/healthz", get(|| async { "ok" }))
        .layer(axum::middleware::from_fn(observe))
}

async fn observe(req: Request, next: Next) -> Response {
    let path = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| req.uri().path().to_string());
    let method = req.method().to_string();
    // Named as a trace viewer lists it: a gRPC call by its method (the URI's path, as the
    // route is a wildcard: "paysys.v1.PaymentProvider/Start"), an HTTP request by method and
    // route ("POST /").
    let grpc = req
        .headers()
        .get(http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"));
    let name = if grpc {
        req.uri().path().trim_start_matches('/').to_string()
    } else {
        format!("{method} {path}")
    };
    let span =
        tracing::info_span!("request", %method, %path, otel.name = %name, otel.kind = "server");
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
    use axum::serve::ListenerExt;
    // Without TCP_NODELAY, a response written in more than one piece (a gRPC answer's trailers
    // after its data) waits for the peer's delayed ACK: 40 ms per call, measured by make bench.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    axum::serve(listener, router)
        .with_graceful_shutdown(async move { shutdown.wait().await })
        .await?;
    Ok(())
}

/// gRPC health service plus its reporter (set a service serving once it is ready). Served
/// through [`finish`], it also answers `NOT_SERVING` while the service's readiness check fails.
pub fn grpc_health() -> (
    tonic_health::server::HealthReporter,
    tonic_health::pb::health_server::HealthServer<impl tonic_health::pb::health_server::Health>,
) {
    let reporter = tonic_health::server::HealthReporter::new();
    let service = tonic_health::server::HealthService::from_health_reporter(reporter.clone());
    (reporter, HealthServer::new(FollowingHealth(service)))
}

/// Readiness of a service whose work needs its database: the database answers within
/// [`READY_TIMEOUT`] (the pool would otherwise wait its 10 s acquire timeout).
pub fn db_ready(pool: sqlx::PgPool) -> ReadyCheck {
    Arc::new(move || {
        let pool = pool.clone();
        Box::pin(async move {
            tokio::time::timeout(READY_TIMEOUT, crate::db::ping(&pool))
                .await
                .unwrap_or(false)
        })
    })
}

/// How long a readiness check may take before it counts as failed.
pub const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// How often gRPC health re-runs the readiness check.
pub const HEALTH_INTERVAL: Duration = Duration::from_secs(3);

/// The last readiness the background task saw, handed to gRPC health with each request.
#[derive(Clone)]
struct Readiness(watch::Receiver<bool>);

/// Runs `ready` every [`HEALTH_INTERVAL`] until the router holding the receiver is gone.
fn follow_readiness(ready: ReadyCheck) -> Option<Readiness> {
    let runtime = tokio::runtime::Handle::try_current().ok()?;
    let (tx, rx) = watch::channel(true);
    runtime.spawn(async move {
        loop {
            let now = ready().await;
            let changed = tx.send_if_modified(|was| std::mem::replace(was, now) != now);
            if changed {
                if now {
                    tracing::info!("ready again: gRPC health SERVING");
                } else {
                    tracing::warn!("not ready (database unreachable?): gRPC health NOT_SERVING");
                }
            }
            tokio::select! {
                _ = tx.closed() => return,
                _ = tokio::time::sleep(HEALTH_INTERVAL) => {}
            }
        }
    });
    Some(Readiness(rx))
}

/// tonic-health's service, answering `NOT_SERVING` for every service while not ready.
struct FollowingHealth(tonic_health::server::HealthService);

fn not_serving() -> HealthCheckResponse {
    HealthCheckResponse {
        status: ServingStatus::NotServing as i32,
    }
}

type HealthStream =
    Pin<Box<dyn futures::Stream<Item = Result<HealthCheckResponse, tonic::Status>> + Send>>;

#[tonic::async_trait]
impl Health for FollowingHealth {
    async fn check(
        &self,
        request: tonic::Request<HealthCheckRequest>,
    ) -> Result<tonic::Response<HealthCheckResponse>, tonic::Status> {
        let readiness = request.extensions().get::<Readiness>().cloned();
        let answer = self.0.check(request).await?;
        match readiness {
            Some(r) if !*r.0.borrow() => Ok(tonic::Response::new(not_serving())),
            _ => Ok(answer),
        }
    }

    type WatchStream = HealthStream;

    async fn watch(
        &self,
        request: tonic::Request<HealthCheckRequest>,
    ) -> Result<tonic::Response<HealthStream>, tonic::Status> {
        let readiness = request.extensions().get::<Readiness>().cloned();
        let inner = self.0.watch(request).await?.into_inner();
        let Some(Readiness(rx)) = readiness else {
            return Ok(tonic::Response::new(Box::pin(inner)));
        };
        // Each update is the service's own status, or NOT_SERVING while not ready; repeats are
        // not sent (the protocol sends changes).
        struct State<S> {
            inner: S,
            rx: watch::Receiver<bool>,
            reported: Option<i32>,
            sent: Option<i32>,
        }
        let state = State {
            inner,
            rx,
            reported: None,
            sent: None,
        };
        let stream = futures::stream::unfold(state, |mut s| async move {
            use futures::StreamExt;
            loop {
                if let Some(reported) = s.reported {
                    let effective = if *s.rx.borrow_and_update() {
                        reported
                    } else {
                        ServingStatus::NotServing as i32
                    };
                    if s.sent != Some(effective) {
                        s.sent = Some(effective);
                        return Some((Ok(HealthCheckResponse { status: effective }), s));
                    }
                }
                tokio::select! {
                    item = s.inner.next() => match item {
                        Some(Ok(r)) => s.reported = Some(r.status),
                        Some(Err(e)) => return Some((Err(e), s)),
                        None => return None,
                    },
                    changed = s.rx.changed(), if s.reported.is_some() => {
                        if changed.is_err() {
                            return None;
                        }
                    }
                }
            }
        });
        Ok(tonic::Response::new(Box::pin(stream)))
    }
}
