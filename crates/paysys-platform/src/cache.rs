//! A read-through cache of rows that rarely change (merchants' credentials, channels,
//! notification endpoints), invalidated by PostgreSQL `LISTEN`/`NOTIFY`: a trigger on the
//! cached tables notifies a channel when a transaction that changed them commits, and
//! [`listen`] empties every cache of that channel when the notification arrives.
//!
//! Nothing stale is kept past an invalidation, even when a read races it. Each cache has a
//! generation, bumped with every invalidation; a loader reads the generation *before* it asks
//! the database, and its answer is kept only if the generation is still the same when it comes
//! back. A cache serves nothing while its listener is not connected (at start, after a lost
//! connection: the notifications of that gap are gone), and every entry also expires after
//! `ttl`, which bounds staleness if a connection dies without anyone noticing.
//!
//! Only found rows are kept: an unknown key always asks the database, so a stranger cannot fill
//! the cache, and a row created a moment ago is found at once. A full cache keeps no more.

use crate::Shutdown;
use sqlx::postgres::PgListener;
use sqlx::PgPool;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long an entry is believed at most, notification or not.
pub const DEFAULT_TTL: Duration = Duration::from_secs(30);
/// Entries a cache keeps at most.
pub const DEFAULT_MAX_ENTRIES: usize = 100_000;

/// Something [`listen`] empties when its channel is notified.
pub trait Invalidate: Send + Sync {
    /// Drops every entry; `live` says whether notifications will arrive from now on.
    fn invalidate(&self, live: bool);
}

struct State<K, V> {
    generation: u64,
    /// Whether the listener is connected: otherwise nothing is served or kept.
    live: bool,
    entries: HashMap<K, (V, Instant)>,
}

/// A cache of `K -> V`, emptied by [`listen`] (see the module).
pub struct Cache<K, V> {
    name: &'static str,
    ttl: Duration,
    max_entries: usize,
    state: Mutex<State<K, V>>,
}

impl<K: Eq + Hash + Clone, V: Clone> Cache<K, V> {
    /// An empty cache that serves nothing until [`listen`] has connected.
    pub fn new(name: &'static str, ttl: Duration, max_entries: usize) -> Arc<Self> {
        Arc::new(Self {
            name,
            ttl,
            max_entries,
            state: Mutex::new(State {
                generation: 0,
                live: false,
                entries: HashMap::new(),
            }),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State<K, V>> {
        // A poisoned lock only means a panic elsewhere mid-operation; the map is still whole.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The cached value, if any and fresh.
    pub fn get(&self, key: &K) -> Option<V> {
        let s = self.state();
        let hit = s
            .entries
            .get(key)
            .filter(|(_, at)| s.live && at.elapsed() < self.ttl)
            .map(|(v, _)| v.clone());
        drop(s);
        let outcome = if hit.is_some() { "hit" } else { "miss" };
        metrics::counter!("paysys_cache_lookups_total", "cache" => self.name, "outcome" => outcome)
            .increment(1);
        hit
    }

    /// The generation to hand to [`Cache::keep`] (read before asking the database).
    pub fn generation(&self) -> u64 {
        self.state().generation
    }

    /// Keeps `value` if nothing was invalidated since `generation` was read.
    pub fn keep(&self, generation: u64, key: K, value: V) {
        let mut s = self.state();
        if !s.live || s.generation != generation {
            return;
        }
        if s.entries.len() >= self.max_entries && !s.entries.contains_key(&key) {
            let ttl = self.ttl;
            s.entries.retain(|_, (_, at)| at.elapsed() < ttl);
            if s.entries.len() >= self.max_entries {
                return;
            }
        }
        s.entries.insert(key, (value, Instant::now()));
    }

    /// Drops `key` (its value turned out wrong for a caller: the next read asks the database).
    pub fn forget(&self, key: &K) {
        self.state().entries.remove(key);
    }

    /// The value of `key`: cached, or loaded and kept when found.
    pub async fn get_or_load<E, F, Fut>(&self, key: &K, load: F) -> Result<Option<V>, E>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Option<V>, E>>,
    {
        Ok(self
            .get_or_load_accepted(key, |_| true, load)
            .await?
            .map(|(v, _)| v))
    }

    /// As [`Cache::get_or_load`], but a cached value `accept` refuses is not believed: it is
    /// forgotten and loaded again (it may have changed a moment ago, its notification still on
    /// the way). The value found, and whether `accept` takes it.
    pub async fn get_or_load_accepted<E, F, Fut>(
        &self,
        key: &K,
        accept: impl Fn(&V) -> bool,
        load: F,
    ) -> Result<Option<(V, bool)>, E>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Option<V>, E>>,
    {
        if let Some(v) = self.get(key) {
            if accept(&v) {
                return Ok(Some((v, true)));
            }
            self.forget(key);
        }
        let generation = self.generation();
        let Some(v) = load().await? else {
            return Ok(None);
        };
        self.keep(generation, key.clone(), v.clone());
        let accepted = accept(&v);
        Ok(Some((v, accepted)))
    }

    /// Entries held now (tests).
    pub fn len(&self) -> usize {
        self.state().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<K: Send, V: Send> Invalidate for Cache<K, V> {
    fn invalidate(&self, live: bool) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.generation = s.generation.wrapping_add(1);
        s.live = live;
        s.entries.clear();
    }
}

/// Listens on `channel` until shutdown and empties `caches` on every notification. While not
/// connected the caches serve nothing; it reconnects with a backoff of up to 5 s. It listens on
/// a connection of its own (with `pool`'s settings), so the service keeps every connection of
/// `pool` for its work.
pub fn listen(
    pool: &PgPool,
    channel: &'static str,
    caches: Vec<Arc<dyn Invalidate>>,
    shutdown: Shutdown,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    let own = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .min_connections(0)
        .max_lifetime(None)
        .idle_timeout(None)
        .connect_lazy_with((*pool.connect_options()).clone());
    listen_on(own, channel, caches, shutdown)
}

async fn listen_on(
    pool: PgPool,
    channel: &'static str,
    caches: Vec<Arc<dyn Invalidate>>,
    shutdown: Shutdown,
) {
    let invalidate = |live: bool| caches.iter().for_each(|c| c.invalidate(live));
    let mut backoff = Duration::from_millis(100);
    while !shutdown.is_triggered() {
        let connected = async {
            let mut l = PgListener::connect_with(&pool).await?;
            l.listen(channel).await?;
            Ok::<_, sqlx::Error>(l)
        };
        let mut listener = tokio::select! {
            _ = shutdown.wait() => break,
            r = connected => match r {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(channel, error = %e, "cache listener cannot connect; serving from the database");
                    tokio::select! {
                        _ = shutdown.wait() => break,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    continue;
                }
            },
        };
        // Connected: from here on every change is heard.
        invalidate(true);
        backoff = Duration::from_millis(100);
        tracing::debug!(channel, "cache listener connected");
        loop {
            tokio::select! {
                _ = shutdown.wait() => break,
                r = listener.try_recv() => match r {
                    Ok(Some(_)) => invalidate(true),
                    // The connection is gone, and with it the notifications of the gap.
                    Ok(None) | Err(_) => {
                        invalidate(false);
                        tracing::warn!(channel, "cache listener lost its connection; serving from the database until it is back");
                        break;
                    }
                },
            }
        }
    }
    invalidate(false);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_nothing_until_live_and_keeps_nothing_across_an_invalidation() {
        let c: Arc<Cache<String, i32>> = Cache::new("t", DEFAULT_TTL, 10);
        let g = c.generation();
        c.keep(g, "a".into(), 1);
        assert_eq!(c.get(&"a".into()), None, "not live: nothing kept");
        c.invalidate(true);
        let g = c.generation();
        c.keep(g, "a".into(), 1);
        assert_eq!(c.get(&"a".into()), Some(1));
        // A read that began before an invalidation is not kept after it.
        let g = c.generation();
        c.invalidate(true);
        c.keep(g, "b".into(), 2);
        assert_eq!(c.get(&"b".into()), None);
        assert_eq!(c.get(&"a".into()), None, "invalidation empties");
        c.invalidate(false);
        let g = c.generation();
        c.keep(g, "c".into(), 3);
        assert_eq!(c.get(&"c".into()), None, "not live again");
    }

    #[test]
    fn entries_expire_and_a_full_cache_keeps_no_more() {
        let c: Arc<Cache<u32, u32>> = Cache::new("t", Duration::from_millis(30), 2);
        c.invalidate(true);
        for k in 0..5 {
            c.keep(c.generation(), k, k);
        }
        assert_eq!(c.len(), 2);
        assert_eq!(c.get(&0), Some(0));
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(c.get(&0), None, "expired");
        c.keep(c.generation(), 9, 9);
        assert_eq!(c.get(&9), Some(9), "expired entries make room");
        c.forget(&9);
        assert_eq!(c.get(&9), None);
    }
}
