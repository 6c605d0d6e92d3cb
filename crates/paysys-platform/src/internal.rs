//! Internal gRPC is not public. Every gRPC call to `PaymentProvider`, `Ledger`, `Notifier` and
//! `PaySystem` (reflection included) carries `authorization: Bearer <internal token>`; only
//! `grpc.health.v1.Health` answers without it, because kubelet's gRPC probes send no metadata.
//! The token is `[internal] token` (`PAYSYS__INTERNAL__TOKEN`); `make up` generates one into
//! `.run/paysys.toml`, Kubernetes reads it from a Secret. It has no default: a service refuses to
//! start without one.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use subtle::ConstantTimeEq;

/// `[internal]` of config/default.toml.
#[derive(Debug, Clone, Deserialize)]
pub struct InternalSettings {
    /// Bearer token of internal gRPC, at least 32 characters.
    pub token: SecretString,
}

/// The smallest token accepted: 32 characters (`make up` generates 64 hex digits).
pub const MIN_TOKEN_LEN: usize = 32;

impl InternalSettings {
    /// The error names the setting and never shows the value.
    pub fn validate(&self) -> Result<(), String> {
        let t = self.token.expose_secret();
        if t.trim().is_empty() {
            return Err("internal.token is not set (PAYSYS__INTERNAL__TOKEN); `make up` generates one into .run/paysys.toml".into());
        }
        if t.len() < MIN_TOKEN_LEN {
            return Err(format!(
                "internal.token must be at least {MIN_TOKEN_LEN} characters"
            ));
        }
        if t.contains("REPLACE") {
            return Err("internal.token is a placeholder (REPLACE...)".into());
        }
        if !t.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("internal.token must be printable ASCII without spaces".into());
        }
        Ok(())
    }

    pub fn token(&self) -> InternalToken {
        InternalToken(self.token.clone())
    }
}

/// The token, for the server check and the clients' interceptor.
#[derive(Clone)]
pub struct InternalToken(SecretString);

impl std::fmt::Debug for InternalToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InternalToken([redacted])")
    }
}

impl InternalToken {
    pub fn new(token: impl Into<String>) -> Self {
        Self(SecretString::from(token.into()))
    }

    /// The `authorization` header value.
    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.0.expose_secret())
    }

    /// Constant time: the comparison does not tell how much of a guess was right.
    pub fn admits(&self, authorization: Option<&[u8]>) -> bool {
        let Some(value) = authorization else {
            return false;
        };
        let Some(presented) = value.strip_prefix(b"Bearer ") else {
            return false;
        };
        let expected = self.0.expose_secret().as_bytes();
        // An unset token admits nobody (a service built without validation still refuses).
        !expected.is_empty()
            && presented.len() == expected.len()
            && bool::from(presented.ct_eq(expected))
    }
}

/// gRPC paths that answer without the token.
fn open_path(path: &str) -> bool {
    path.starts_with("/grpc.health.v1.Health/")
}

/// Axum middleware over the gRPC routes: `UNAUTHENTICATED` without the right bearer token.
pub async fn require_token(
    axum::extract::State(token): axum::extract::State<InternalToken>,
    req: Request,
    next: Next,
) -> Response {
    if open_path(req.uri().path())
        || token.admits(
            req.headers()
                .get(http::header::AUTHORIZATION)
                .map(|v| v.as_bytes()),
        )
    {
        return next.run(req).await;
    }
    metrics::counter!("paysys_grpc_unauthenticated_total").increment(1);
    tonic::Status::unauthenticated(
        "internal gRPC requires `authorization: Bearer <internal token>`",
    )
    .into_http()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(t: &str) -> InternalSettings {
        InternalSettings {
            token: SecretString::from(t.to_string()),
        }
    }

    #[test]
    fn a_token_must_be_set_long_and_not_a_placeholder() {
        assert!(settings("")
            .validate()
            .unwrap_err()
            .contains("internal.token"));
        assert!(settings("short").validate().unwrap_err().contains("32"));
        assert!(settings("REPLACE-with-a-random-token-of-64-hex-digits")
            .validate()
            .unwrap_err()
            .contains("placeholder"));
        assert!(settings(&"a".repeat(64)).validate().is_ok());
    }

    #[test]
    fn only_the_exact_bearer_token_is_admitted() {
        let t = InternalToken::new("x".repeat(40));
        assert!(t.admits(Some(format!("Bearer {}", "x".repeat(40)).as_bytes())));
        assert!(!t.admits(None));
        assert!(!t.admits(Some("x".repeat(40).as_bytes())));
        assert!(!t.admits(Some(format!("Bearer {}", "x".repeat(39)).as_bytes())));
        assert!(!t.admits(Some(format!("Bearer {}y", "x".repeat(40)).as_bytes())));
        assert!(!t.admits(Some(format!("Basic {}", "x".repeat(40)).as_bytes())));
        assert!(!format!("{t:?}").contains('x'));
        assert!(!InternalToken::new("").admits(Some(b"Bearer ")));
    }
}
