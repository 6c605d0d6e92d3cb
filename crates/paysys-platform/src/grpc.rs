//! gRPC clients: lazily connected channels with a deadline, and an interceptor that puts the
//! internal bearer token and the current trace context into the request metadata.

use std::time::Duration;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

/// Adds `authorization: Bearer <internal token>` and the trace context to every call.
#[derive(Clone)]
pub struct TraceInterceptor {
    authorization: tonic::metadata::MetadataValue<tonic::metadata::Ascii>,
}

impl TraceInterceptor {
    pub fn new(token: &crate::internal::InternalToken) -> anyhow::Result<Self> {
        let mut authorization: tonic::metadata::MetadataValue<tonic::metadata::Ascii> = token
            .bearer()
            .parse()
            .map_err(|_| anyhow::anyhow!("internal.token must be printable ASCII"))?;
        authorization.set_sensitive(true);
        Ok(Self { authorization })
    }
}

impl tonic::service::Interceptor for TraceInterceptor {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        req.metadata_mut()
            .insert("authorization", self.authorization.clone());
        for (k, v) in crate::telemetry::current_context_headers() {
            if let (Ok(k), Ok(v)) = (
                tonic::metadata::MetadataKey::from_bytes(k.as_bytes()),
                v.parse(),
            ) {
                req.metadata_mut().insert(k, v);
            }
        }
        Ok(req)
    }
}

pub type TracedChannel = InterceptedService<Channel, TraceInterceptor>;

/// A channel that connects on first use and reconnects by itself; every call carries `token`.
pub fn lazy_channel(
    url: &str,
    timeout: Duration,
    token: &crate::internal::InternalToken,
) -> anyhow::Result<TracedChannel> {
    let ch = Endpoint::from_shared(url.to_string())
        .map_err(|e| anyhow::anyhow!("bad gRPC url {url:?}: {e}"))?
        .connect_timeout(Duration::from_secs(3))
        .timeout(timeout)
        .tcp_nodelay(true)
        .connect_lazy();
    Ok(InterceptedService::new(ch, TraceInterceptor::new(token)?))
}

/// A connected channel carrying `token` (the CLI and tests: fails at once when nothing listens).
pub async fn connect(
    url: &str,
    token: &crate::internal::InternalToken,
) -> anyhow::Result<TracedChannel> {
    let ch = Endpoint::from_shared(url.to_string())
        .map_err(|e| anyhow::anyhow!("bad gRPC url {url:?}: {e}"))?
        .connect_timeout(Duration::from_secs(3))
        .tcp_nodelay(true)
        .connect()
        .await
        .map_err(|e| anyhow::anyhow!("cannot reach {url}: {e}"))?;
    Ok(InterceptedService::new(ch, TraceInterceptor::new(token)?))
}
