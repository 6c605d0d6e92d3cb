//! gRPC clients of the provider adapters, one per configured provider, and what each adapter
//! declared it can do (`Describe`). Flow code asks for a provider by name and its capabilities;
//! it never names a provider. Capabilities are learned at start-up (retried in the background
//! while an adapter is down) and kept in `edge.provider_capabilities`, so a restarted edge knows
//! them even while the adapter is away.

use crate::jsonrpc::RpcError;
use paysys_platform::grpc::{lazy_channel, TracedChannel};
use paysys_platform::Shutdown;
use paysys_proto::payment_provider_client::PaymentProviderClient;
use paysys_proto::{Capabilities, DescribeRequest};
use prost::Message as _;
use sqlx::PgPool;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tonic_types::StatusExt;

pub type Client = PaymentProviderClient<TracedChannel>;

#[derive(Clone)]
pub struct Providers {
    clients: BTreeMap<String, Client>,
    known: Arc<RwLock<HashMap<String, Capabilities>>>,
    pool: PgPool,
}

impl Providers {
    pub fn new(
        urls: &BTreeMap<String, String>,
        timeout: Duration,
        pool: PgPool,
        token: &paysys_platform::internal::InternalToken,
    ) -> anyhow::Result<Self> {
        let mut clients = BTreeMap::new();
        for (name, url) in urls {
            let ch = lazy_channel(url, timeout, token)
                .map_err(|e| anyhow::anyhow!("edge.providers.{name}: {e}"))?;
            clients.insert(name.clone(), PaymentProviderClient::new(ch));
        }
        Ok(Self {
            clients,
            known: Arc::default(),
            pool,
        })
    }

    pub fn names(&self) -> impl Iterator<Item = &String> {
        self.clients.keys()
    }

    /// The adapter of `provider`, or a `-32602` naming the channel when none is configured.
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

    /// What `provider` can do: remembered, else stored, else asked now.
    pub async fn capabilities(&self, provider: &str) -> Result<Capabilities, RpcError> {
        if let Some(c) = self
            .known
            .read()
            .ok()
            .and_then(|k| k.get(provider).cloned())
        {
            return Ok(c);
        }
        let stored: Option<Vec<u8>> = sqlx::query_scalar(
            "SELECT capabilities FROM provider_capabilities WHERE provider = $1",
        )
        .bind(provider)
        .fetch_optional(&self.pool)
        .await
        .map_err(RpcError::database)?;
        if let Some(c) = stored.and_then(|b| Capabilities::decode(b.as_slice()).ok()) {
            self.remember(provider, &c);
            return Ok(c);
        }
        self.learn(provider).await.map_err(|e| {
            RpcError::internal(format!(
                "provider {provider} has not told what it can do yet ({e}); retrying the same request is safe"
            ))
        })
    }

    fn remember(&self, provider: &str, c: &Capabilities) {
        if let Ok(mut k) = self.known.write() {
            k.insert(provider.to_string(), c.clone());
        }
    }

    /// Asks the adapter and keeps the answer.
    async fn learn(&self, provider: &str) -> anyhow::Result<Capabilities> {
        let mut client = self
            .clients
            .get(provider)
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("not configured"))?;
        let c = client.describe(DescribeRequest {}).await?.into_inner();
        if c.provider != provider {
            anyhow::bail!(
                "edge.providers.{provider} points at the {} adapter",
                c.provider
            );
        }
        sqlx::query(
            "INSERT INTO provider_capabilities (provider, capabilities) VALUES ($1, $2)
             ON CONFLICT (provider) DO UPDATE SET capabilities = EXCLUDED.capabilities, learned_at = now()",
        )
        .bind(provider)
        .bind(c.encode_to_vec())
        .execute(&self.pool)
        .await?;
        self.remember(provider, &c);
        tracing::info!(provider, ?c, "provider capabilities learned");
        Ok(c)
    }

    /// Learns every adapter's capabilities, retrying each until it answers once (an adapter
    /// may start after the edge, or be upgraded: what it says now replaces what was stored).
    pub async fn learn_all(self, shutdown: Shutdown) {
        let names: Vec<String> = self.clients.keys().cloned().collect();
        let tasks = names.into_iter().map(|name| {
            let me = self.clone();
            let shutdown = shutdown.clone();
            async move {
                let mut delay = Duration::from_millis(200);
                loop {
                    match me.learn(&name).await {
                        Ok(_) => return,
                        Err(e) => {
                            tracing::debug!(provider = %name, error = %e, "provider not describable yet")
                        }
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = shutdown.wait() => return,
                    }
                    delay = (delay * 2).min(Duration::from_secs(2));
                }
            }
        });
        futures::future::join_all(tasks).await;
    }
}

/// Maps an adapter failure to a JSON-RPC error: bad input stays `-32602` naming each field
/// (`google.rpc.BadRequest` details), what the provider cannot do is `-32602` naming
/// `unsupported_field`, the rest is internal. An unreachable provider is reported with what
/// the merchant can safely do next.
pub fn status_to_rpc(provider: &str, s: tonic::Status) -> RpcError {
    status_to_rpc_for(provider, s, "retrying the same request is safe", "params")
}

/// As [`status_to_rpc`] for a call that may have taken effect at the provider although no answer
/// came back (unsubscribe): the merchant is told so instead of "retry".
pub fn status_to_rpc_uncertain(provider: &str, s: tonic::Status) -> RpcError {
    status_to_rpc_for(
        provider,
        s,
        "the provider may have acted without answering; check get_transaction_status before retrying",
        "order_ext_id",
    )
}

pub fn status_to_rpc_for(
    provider: &str,
    s: tonic::Status,
    advice: &str,
    unsupported_field: &str,
) -> RpcError {
    match s.code() {
        tonic::Code::InvalidArgument => {
            let fields: Vec<(String, String)> = s
                .get_details_bad_request()
                .map(|b| {
                    b.field_violations
                        .into_iter()
                        .map(|v| (v.field, v.description))
                        .collect()
                })
                .unwrap_or_default();
            if fields.is_empty() {
                RpcError::invalid_field("params", s.message())
            } else {
                RpcError::invalid_fields(fields)
            }
        }
        tonic::Code::Unimplemented => RpcError::invalid_field(unsupported_field, s.message()),
        tonic::Code::Unavailable | tonic::Code::DeadlineExceeded => {
            RpcError::internal(format!("provider {provider} is unavailable; {advice}"))
        }
        tonic::Code::FailedPrecondition => {
            RpcError::internal(format!("provider {provider} refused: {}", s.message()))
        }
        _ => RpcError::internal(format!("provider {provider} failed: {}", s.message())),
    }
}
