//! Merchant authentication: the `secret` parameter (seed 001), or an HMAC-SHA256 of the raw body
//! in `X-PaySys-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, so the
//! secret never travels. An unknown merchant and a wrong secret are the same error.
//!
//! Failing is cheap and bounded. A call is authenticated before its params are read. What one
//! HTTP request learns about a credential is kept for that request ([`RequestAuth`]), so the
//! calls of a batch cost one lookup per distinct credential, not one per call; a request that
//! has had [`MAX_FAILED_CREDENTIALS`] credentials refused gets no further lookups. A signature
//! header is checked for shape and time before anything is looked up, verified once per request
//! and then remembered until it expires, so it is accepted once (no replays inside its window).
//!
//! At rest (`edge.merchants`) a secret is a keyed digest, which finds the merchant, and a copy
//! sealed for that merchant's row, which is the HMAC key and the final comparison: a sealed
//! value copied to another merchant's row does not open there.
//!
//! Credentials come from [`Directory`]: kept in memory until the database notifies a change,
//! never refused on the cache's word (cached credentials that do not verify are read again), and
//! a cached lookup is a lookup all the same. Accepted signatures are remembered in the database,
//! never in memory.

use crate::directory::{Credentials, Directory};
use crate::jsonrpc::{CallContext, RpcError};
use crate::params::Fields;
use crate::store;
use paysys_platform::sealed::DataKey;
use paysys_platform::signing::{ct_eq, hmac_sha256_hex};
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use sha2::Digest;
use sqlx::PgPool;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::OnceCell;

pub const SIGNATURE_HEADER: &str = "x-paysys-signature";
/// Credentials one HTTP request may have refused; further ones are refused without a lookup.
pub const MAX_FAILED_CREDENTIALS: usize = 2;
/// A longer `secret` is refused without a lookup.
const MAX_SECRET_LEN: usize = 256;
/// A longer signature header is refused without a lookup.
const MAX_HEADER_LEN: usize = 256;

/// The header value a merchant sends for `body` (also used by tests, the CLI and the bench).
pub fn sign_body(secret: &str, timestamp: i64, body: &[u8]) -> String {
    format!("t={timestamp},v1={}", body_mac(secret, timestamp, body))
}

fn body_mac(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut msg = timestamp.to_string().into_bytes();
    msg.push(b'.');
    msg.extend_from_slice(body);
    hmac_sha256_hex(secret.as_bytes(), &msg)
}

/// A signature header that has the right shape and a timestamp inside the window.
#[derive(Debug, Clone, PartialEq)]
struct Signature {
    t: i64,
    /// Lower-case hex, 64 digits.
    v1: String,
    /// When it stops being accepted (unix seconds).
    expires_at: i64,
}

/// Reads the header and checks its time against `now`, with checked arithmetic: a timestamp
/// far in the past or future (negative, `i64::MAX`) is refused, never overflowed.
fn parse_signature(header: &str, now: i64, max_age: i64) -> Option<Signature> {
    if header.len() > MAX_HEADER_LEN || max_age < 0 {
        return None;
    }
    let (mut t, mut v1) = (None, None);
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", x)) if !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit()) => {
                t = x.parse::<i64>().ok()
            }
            Some(("v1", x))
                if x.len() == 64 && x.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) =>
            {
                v1 = Some(x.to_string())
            }
            _ => {}
        }
    }
    let (t, v1) = (t?, v1?);
    let window = now.checked_sub(max_age)?..=now.checked_add(max_age)?;
    let expires_at = t.checked_add(max_age)?;
    (t > 0 && window.contains(&t)).then_some(Signature { t, v1, expires_at })
}

/// Whether `header` is a valid signature of `body` by `secret` at `now` (no replay check).
#[cfg(test)]
fn header_ok(secret: &str, header: &str, body: &[u8], max_age: i64) -> bool {
    parse_signature(header, chrono::Utc::now().timestamp(), max_age)
        .is_some_and(|s| ct_eq(&body_mac(secret, s.t, body), &s.v1))
}

/// A refused signature: the same answer whatever was wrong (unknown merchant, bad MAC, outside
/// the window, already used), naming the header.
fn bad_signature() -> RpcError {
    RpcError::unauthorized().with_data(json!({
        "X-PaySys-Signature":
            "not accepted: unknown merchant, or a signature that is wrong, outside the time window or already used (sign every request anew)"
    }))
}

type Outcome<T> = Result<T, RpcError>;
type Memo<T> = Arc<OnceCell<Outcome<T>>>;
/// A `secret` presented: the merchant_id named with it (if any) and the secret's digest.
type SecretKey = (Option<String>, String);

/// What one HTTP request has learnt about its credentials (shared by the calls of a batch).
#[derive(Clone, Default)]
pub struct RequestAuth(Arc<RequestAuthInner>);

#[derive(Default)]
struct RequestAuthInner {
    /// (merchant_id if named, digest of the secret) -> the merchant, or why not.
    secrets: Mutex<HashMap<SecretKey, Memo<String>>>,
    /// merchant_id -> whether the request's signature header is that merchant's.
    signatures: Mutex<HashMap<String, Memo<()>>>,
    failures: AtomicUsize,
    lookups: AtomicUsize,
    /// A request looks up one credential at a time, so the calls of a batch running at once
    /// cannot each spend a lookup before the first failure is counted.
    turn: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for RequestAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestAuth")
            .field("lookups", &self.lookups())
            .field("failures", &self.0.failures.load(Ordering::Relaxed))
            .finish()
    }
}

impl RequestAuth {
    /// Merchant lookups this request has made (tests, and `paysys_edge_auth_lookups_total`).
    pub fn lookups(&self) -> usize {
        self.0.lookups.load(Ordering::Relaxed)
    }

    fn memo<K: std::hash::Hash + Eq, T>(map: &Mutex<HashMap<K, Memo<T>>>, key: K) -> Memo<T> {
        // A poisoned lock only means another call panicked mid-insert; the map is still whole.
        let mut m = map.lock().unwrap_or_else(|p| p.into_inner());
        m.entry(key).or_default().clone()
    }

    fn spent(&self) -> bool {
        self.0.failures.load(Ordering::Relaxed) >= MAX_FAILED_CREDENTIALS
    }

    fn failed(&self) {
        self.0.failures.fetch_add(1, Ordering::Relaxed);
    }

    fn looked_up(&self) {
        self.0.lookups.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("paysys_edge_auth_lookups_total").increment(1);
    }
}

/// Authenticates merchants' calls (both transports).
#[derive(Clone)]
pub struct Authenticator {
    pub pool: PgPool,
    pub key: DataKey,
    /// `edge.signature_max_age_secs`.
    pub signature_max_age: i64,
    /// Merchants' credentials, cached until they change (never refused on the cache's word).
    pub directory: Directory,
}

impl Authenticator {
    /// The merchant making the call with `params`: `merchant_id` proved by the `secret`
    /// parameter or the signature header; without `merchant_id`, the merchant whose secret
    /// `secret` is (seeds 000 and 002 leave it out of `unsubscribe` and
    /// `confirm_teleaudio_payment`). A signed body must name its merchant.
    pub async fn merchant(&self, params: &Value, ctx: &CallContext) -> Result<String, RpcError> {
        if !params.is_object() {
            return Err(RpcError::invalid_field("params", "must be an object"));
        }
        let secret = params.get("secret").and_then(Value::as_str);
        if params.get("merchant_id").is_none() {
            if let Some(secret) = secret {
                return self.by_secret(None, secret, ctx).await;
            }
        }
        let mut f = Fields::new();
        let id = f.string(params, "merchant_id", "merchant_id", 64);
        f.finish()?;
        let id = id.unwrap_or_default();
        match (secret, ctx.signature_header.as_deref()) {
            (Some(secret), _) => self.by_secret(Some(&id), secret, ctx).await,
            (None, Some(header)) => self.by_signature(&id, header, ctx).await.map(|()| id),
            (None, None) => Err(RpcError::unauthorized()),
        }
    }

    async fn by_secret(
        &self,
        merchant_id: Option<&str>,
        secret: &str,
        ctx: &CallContext,
    ) -> Outcome<String> {
        if secret.is_empty() || secret.len() > MAX_SECRET_LEN {
            return Err(RpcError::unauthorized());
        }
        let digest = self.key.digest(secret, store::SECRET_DIGEST_PURPOSE);
        let memo = RequestAuth::memo(
            &ctx.auth.0.secrets,
            (merchant_id.map(str::to_string), digest.clone()),
        );
        memo.get_or_init(|| async {
            let _turn = ctx.auth.0.turn.lock().await;
            if ctx.auth.spent() {
                return Err(RpcError::unauthorized());
            }
            ctx.auth.looked_up();
            let lookup = match merchant_id {
                Some(id) => Credentials::Id(id),
                None => Credentials::Digest(&digest),
            };
            // The digest found the row; the comparisons are in constant time, and the sealed
            // copy must open for this very row and hold this very secret.
            let verify = |c: &store::MerchantCredentials| {
                ct_eq(&c.digest, &digest)
                    && self
                        .key
                        .open(&c.sealed, &store::secret_context(&c.id))
                        .is_ok_and(|s| ct_eq(s.expose_secret(), secret))
            };
            let found = self
                .directory
                .verified_credentials(&self.pool, lookup, verify)
                .await
                .map_err(RpcError::database)?;
            match found {
                Some(c) => Ok(c.id),
                None => {
                    ctx.auth.failed();
                    Err(RpcError::unauthorized())
                }
            }
        })
        .await
        .clone()
    }

    async fn by_signature(
        &self,
        merchant_id: &str,
        header: &str,
        ctx: &CallContext,
    ) -> Outcome<()> {
        let memo = RequestAuth::memo(&ctx.auth.0.signatures, merchant_id.to_string());
        memo.get_or_init(|| async {
            let now = chrono::Utc::now().timestamp();
            // Shape and time first: a stale or garbled header costs no lookup.
            let Some(sig) = parse_signature(header, now, self.signature_max_age) else {
                return Err(bad_signature());
            };
            let _turn = ctx.auth.0.turn.lock().await;
            if ctx.auth.spent() {
                return Err(bad_signature());
            }
            ctx.auth.looked_up();
            let verify = |c: &store::MerchantCredentials| {
                self.key
                    .open(&c.sealed, &store::secret_context(&c.id))
                    .is_ok_and(|s| {
                        ct_eq(&body_mac(s.expose_secret(), sig.t, &ctx.raw_body), &sig.v1)
                    })
            };
            let found = self
                .directory
                .verified_credentials(&self.pool, Credentials::Id(merchant_id), verify)
                .await
                .map_err(RpcError::database)?;
            if found.is_none() {
                ctx.auth.failed();
                return Err(bad_signature());
            }
            // Accepted once: the MAC covers the timestamp and the whole body, so it names this
            // request; a second use inside the window finds it remembered.
            let hash = hex::encode(sha2::Sha256::digest(sig.v1.as_bytes()));
            let (Some(expires_at), Some(prune_before)) = (
                chrono::DateTime::from_timestamp(sig.expires_at, 0),
                now.checked_sub(self.signature_max_age)
                    .and_then(|s| chrono::DateTime::from_timestamp(s, 0)),
            ) else {
                return Err(bad_signature());
            };
            let first = store::remember_signature(&self.pool, &hash, expires_at, prune_before)
                .await
                .map_err(RpcError::database)?;
            if first {
                Ok(())
            } else {
                metrics::counter!("paysys_edge_signature_replays_total").increment(1);
                Err(bad_signature())
            }
        })
        .await
        .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_round_trip_and_tamper() {
        let now = chrono::Utc::now().timestamp();
        let h = sign_body("s3cret", now, b"{\"a\":1}");
        assert!(header_ok("s3cret", &h, b"{\"a\":1}", 300));
        assert!(!header_ok("s3cret", &h, b"{\"a\":2}", 300));
        assert!(!header_ok("other", &h, b"{\"a\":1}", 300));
        let old = sign_body("s3cret", now - 1000, b"x");
        assert!(!header_ok("s3cret", &old, b"x", 300));
        let future = sign_body("s3cret", now + 1000, b"x");
        assert!(!header_ok("s3cret", &future, b"x", 300));
        assert!(!header_ok("s3cret", "garbage", b"x", 300));
        assert!(!header_ok("s3cret", &h.to_uppercase(), b"{\"a\":1}", 300));
    }

    #[test]
    fn absurd_timestamps_are_refused_without_overflow() {
        let now = chrono::Utc::now().timestamp();
        let v1 = "0".repeat(64);
        for t in [
            i64::MIN.to_string(),
            i64::MAX.to_string(),
            "-1".into(),
            "0".into(),
            "+5".into(),
            "99999999999999999999999".into(),
            "".into(),
        ] {
            let header = format!("t={t},v1={v1}");
            assert_eq!(parse_signature(&header, now, 300), None, "{header}");
            assert_eq!(parse_signature(&header, now, i64::MAX), None, "{header}");
        }
        // The clock itself at the ends of i64.
        let header = format!("t={now},v1={v1}");
        assert_eq!(parse_signature(&header, i64::MIN, 300), None);
        assert_eq!(parse_signature(&header, i64::MAX, 300), None);
        assert!(parse_signature(&header, now, 300).is_some());
        assert_eq!(
            parse_signature(&header, now, 300).map(|s| s.expires_at),
            Some(now + 300)
        );
        assert_eq!(parse_signature(&"x".repeat(1000), now, 300), None);
    }
}
