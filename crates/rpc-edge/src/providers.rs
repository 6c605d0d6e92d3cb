//! gRPC clients of the provider adapters, one per configured provider. Flow code asks for a
//! provider by name and never knows which one it talks to.

use crate::jsonrpc::RpcError;
use paysys_platform::grpc::{lazy_channel, TracedChannel};
use paysys_proto::payment_provider_client::PaymentProviderClient;
use std::collections::BTreeMap;
use std::time::Duration;

pub type Client = PaymentProviderClient<TracedChannel>;

#[derive(Clone)]
pub struct Providers {
    clients: BTreeMap<String, Client>,
}

impl Providers {
    pub fn new(urls: &BTreeMap<String, String>, timeout: Duration) -> anyhow::Result<Self> {
        let mut clients = BTreeMap::new();
        for (name, url) in urls {
            let ch = lazy_channel(url, timeout)
                .map_err(|e| anyhow::anyhow!("edge.providers.{name}: {e}"))?;
            clients.insert(name.clone(), PaymentProviderClient::new(ch));
        }
        Ok(Self { clients })
    }

    /// The adapter of `provider`, or a `-32602` naming the channel when none is built/configured.
    pub fn get(
        &self,
        provider: &str,
        channel_field: &str,
        channel_id: &str,
    ) -> Result<Client, RpcError> {
        self.clients.get(provider).cloned().ok_or_else(|| {
            RpcError::invalid_field(
                channel_field,
                format!("channel {channel_id} uses provider {provider}, which this PaySystem does not support yet"),
            )
        })
    }
}

/// Maps an adapter failure to a JSON-RPC error: bad input stays `-32602`, the rest is internal.
/// An unreachable provider is reported with what the merchant can safely do next.
pub fn status_to_rpc(provider: &str, s: tonic::Status) -> RpcError {
    status_to_rpc_for(provider, s, "retrying the same request is safe")
}

/// As [`status_to_rpc`] for a call that may have taken effect at the provider although no answer
/// came back (unsubscribe): the merchant is told so instead of "retry".
pub fn status_to_rpc_uncertain(provider: &str, s: tonic::Status) -> RpcError {
    status_to_rpc_for(
        provider,
        s,
        "the provider may have acted without answering; check get_transaction_status before retrying",
    )
}

fn status_to_rpc_for(provider: &str, s: tonic::Status, advice: &str) -> RpcError {
    match s.code() {
        tonic::Code::InvalidArgument => {
            let msg = s.message();
            match msg.split_once(": ") {
                Some((field, why)) if !field.contains(' ') => RpcError::invalid_field(field, why),
                _ => RpcError::invalid_field("params", msg),
            }
        }
        tonic::Code::Unavailable | tonic::Code::DeadlineExceeded => {
            RpcError::internal(format!("provider {provider} is unavailable; {advice}"))
        }
        _ => RpcError::internal(format!("provider {provider} failed: {}", s.message())),
    }
}
