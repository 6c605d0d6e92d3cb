//! gRPC clients: lazily connected channels with a deadline, and an interceptor that puts the
//! current trace context into the request metadata.

use std::time::Duration;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

#[derive(Clone, Copy)]
pub struct TraceInterceptor;

impl tonic::service::Interceptor for TraceInterceptor {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
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

/// A channel that connects on first use and reconnects by itself.
pub fn lazy_channel(url: &str, timeout: Duration) -> anyhow::Result<TracedChannel> {
    let ch = Endpoint::from_shared(url.to_string())
        .map_err(|e| anyhow::anyhow!("bad gRPC url {url:?}: {e}"))?
        .connect_timeout(Duration::from_secs(3))
        .timeout(timeout)
        .tcp_nodelay(true)
        .connect_lazy();
    Ok(InterceptedService::new(ch, TraceInterceptor))
}
