//! Merchants' credentials and channels, read on every merchant request, kept in memory
//! ([`paysys_platform::cache`]) and emptied when PostgreSQL says they changed: migration
//! `20261205000000_directory_notify` makes every statement that changes `merchants` or
//! `channels` notify [`CHANNEL`] when it commits, and [`Directory::listen`] empties every cache
//! when the notification arrives (milliseconds). Until the listener is connected, and whenever
//! it is not, nothing is served from memory.
//!
//! Only found rows are kept: an unknown merchant or channel always asks the database. The cache
//! never has the last word on a refusal: cached credentials that do not verify what a request
//! presents, or a cached channel that does not fit its request, are forgotten and the database
//! asked again, so a secret rotated (or a channel changed) a moment ago works at once; only
//! what the database says is refused. What a change takes away (an old secret, a channel's old
//! currency) can still be accepted until its notification has arrived.
//!
//! Replay protection (`store::remember_signature`) is never cached. Nothing here logs a value.

use crate::store::{self, Channel, MerchantCredentials};
use paysys_platform::cache::{self, Cache, Invalidate};
use paysys_platform::Shutdown;
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;

/// The `NOTIFY` channel of changes to `edge.merchants` and `edge.channels`.
pub const CHANNEL: &str = "paysys_edge_directory";

/// How a merchant's credentials are looked up.
#[derive(Debug, Clone, Copy)]
pub enum Credentials<'a> {
    /// By the `merchant_id` a request names.
    Id(&'a str),
    /// By the digest of the secret (`store::SECRET_DIGEST_PURPOSE`), when no id is named.
    Digest(&'a str),
}

/// The caches of merchants' credentials and channels (cheap to clone: the clones share them).
#[derive(Clone)]
pub struct Directory {
    /// merchant id -> its credentials.
    by_id: Arc<Cache<String, MerchantCredentials>>,
    /// digest of a secret -> the credentials of the merchant whose secret it is.
    by_digest: Arc<Cache<String, MerchantCredentials>>,
    /// (merchant id, channel id) -> that merchant's channel.
    channels: Arc<Cache<(String, String), Channel>>,
}

impl Default for Directory {
    fn default() -> Self {
        Self::new(cache::DEFAULT_TTL, cache::DEFAULT_MAX_ENTRIES)
    }
}

impl Directory {
    /// Empty caches that serve nothing until [`Directory::listen`] has connected (one that
    /// never listens always asks the database).
    pub fn new(ttl: Duration, max_entries: usize) -> Self {
        Self {
            by_id: Cache::new("edge_merchant_credentials", ttl, max_entries),
            by_digest: Cache::new("edge_merchant_credentials_by_digest", ttl, max_entries),
            channels: Cache::new("edge_channels", ttl, max_entries),
        }
    }

    /// Empties the caches whenever `edge.merchants` or `edge.channels` change, until shutdown
    /// (spawn it). It listens on a connection of its own, outside `pool`, so serving requests
    /// keeps every connection of the pool.
    pub fn listen(
        &self,
        pool: &PgPool,
        shutdown: Shutdown,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        let caches: Vec<Arc<dyn Invalidate>> = vec![
            self.by_id.clone(),
            self.by_digest.clone(),
            self.channels.clone(),
        ];
        cache::listen(pool, CHANNEL, caches, shutdown)
    }

    /// The credentials `lookup` finds, if `verify` accepts them: cached ones it refuses are
    /// forgotten and the database asked again, so only the database's credentials are refused.
    pub async fn verified_credentials(
        &self,
        pool: &PgPool,
        lookup: Credentials<'_>,
        verify: impl Fn(&MerchantCredentials) -> bool,
    ) -> sqlx::Result<Option<MerchantCredentials>> {
        let (cache, key) = match lookup {
            Credentials::Id(id) => (&self.by_id, id),
            Credentials::Digest(digest) => (&self.by_digest, digest),
        };
        let found = cache
            .get_or_load_accepted(&key.to_string(), &verify, || async {
                match lookup {
                    Credentials::Id(id) => store::merchant_credentials(pool, id).await,
                    Credentials::Digest(digest) => store::merchant_by_digest(pool, digest).await,
                }
            })
            .await?;
        Ok(found.filter(|(_, verified)| *verified).map(|(c, _)| c))
    }

    /// Merchant `merchant_id`'s channel `id` (another merchant's is as unknown as a missing
    /// one), as the database has it: a cached one `fits` refuses is forgotten and read again.
    pub async fn channel(
        &self,
        pool: &PgPool,
        merchant_id: &str,
        id: &str,
        fits: impl Fn(&Channel) -> bool,
    ) -> sqlx::Result<Option<Channel>> {
        let key = (merchant_id.to_string(), id.to_string());
        let found = self
            .channels
            .get_or_load_accepted(&key, &fits, || store::channel(pool, merchant_id, id))
            .await?;
        Ok(found.map(|(c, _)| c))
    }
}
