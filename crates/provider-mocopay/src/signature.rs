//! MoCoPay's request signature (PROVIDERS.md "MoCoPay", seed 004; docs/providers/mocopay.md
//! "Signature"), used by the adapter to sign its calls and by provider-sandbox to check them:
//!
//! `sig = base64(MD5(api_secret + request_uri + "?" + params sorted by name, joined "k=v&k=v"))`,
//! sent as the header `Signature: ApiKey <api-key>:<sig>` or as the parameter
//! `signature=<api-key>:<sig>`.
//!
//! What the published vector fixes (secret `this.is.a.secret`, signed string
//! `this.is.a.secret/v1/payment/initPayment/?mcc=228&mnc=01&pid=12000&userId=123456789`,
//! answer `app1:WETDyNQLx0+8BJ16vDgiVg==`):
//! - `request_uri` is the method's API path WITH its trailing slash (`/v1/payment/initPayment/`),
//!   no scheme, host or query; `"?"` follows it even though the path already ends in `/`
//!   (without the slash the digest is `HpG3HgNCrp06rF0FkBIBiA==`, which is not the vector).
//! - names sort in ASCII byte order (`pid` < `userId`; upper case before lower case);
//! - the digest is standard base64 (with `+`, `/`, `=` padding) of the 16 MD5 bytes.
//!
//! What the vector cannot tell (no value in it needs encoding) and we define: the signed string
//! carries the DECODED values, byte for byte, not their percent-encoded form. A verifier rebuilds
//! it from the parameters it decoded, so however a client or proxy encodes the query (`%20` or
//! `+`, `%7E` or `~`) the signature holds. Our `request_uri` is the MoCoPay path of the method,
//! not whatever prefix the base URL carries (the sandbox's `/mocopay`): both sides know it
//! without knowing how the other is mounted.
//!
//! The `signature` parameter is never part of the signed string. Seed 004's sample headers carry
//! 20-byte digests (SHA-1 size) while its text and the published vector say MD5: we follow the
//! vector, and the digest lives in [`digest`] alone so it can change in one place.

use base64::Engine;
use md5::{Digest, Md5};
use paysys_platform::signing::ct_eq;

/// The HTTP header that carries the signature.
pub const HEADER: &str = "Signature";
/// The query parameter that may carry it instead.
pub const PARAM: &str = "signature";
/// The scheme word of the header value.
const SCHEME: &str = "ApiKey";

/// THE digest of the scheme: MD5, the published vector's (seed 004's headers suggest SHA-1).
fn digest(data: &[u8]) -> Vec<u8> {
    Md5::digest(data).to_vec()
}

/// The string that is digested: `secret + request_uri + "?" + k=v&k=v`, the parameters (minus
/// `signature`) sorted by name in ASCII byte order, then by value for a name given twice (which
/// our parsers refuse anyway), values as decoded text, an empty value as `k=`.
pub fn signed_string<K: AsRef<str>, V: AsRef<str>>(
    secret: &str,
    request_uri: &str,
    params: &[(K, V)],
) -> String {
    let mut pairs: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_ref(), v.as_ref()))
        .filter(|(k, _)| *k != PARAM)
        .collect();
    pairs.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()).then(a.1.cmp(b.1)));
    let joined = pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    format!("{secret}{request_uri}?{joined}")
}

/// The signature (base64 digest, e.g. `WETDyNQLx0+8BJ16vDgiVg==`) of a request to `request_uri`
/// (`/v1/payment/initPayment/`) with these decoded parameters.
pub fn sign<K: AsRef<str>, V: AsRef<str>>(
    secret: &str,
    request_uri: &str,
    params: &[(K, V)],
) -> String {
    let s = signed_string(secret, request_uri, params);
    base64::engine::general_purpose::STANDARD.encode(digest(s.as_bytes()))
}

/// Checks `sig` against the parameters in constant time. `params` may include `signature`.
pub fn verify<K: AsRef<str>, V: AsRef<str>>(
    secret: &str,
    request_uri: &str,
    params: &[(K, V)],
    sig: &str,
) -> bool {
    ct_eq(&sign(secret, request_uri, params), sig)
}

/// `<api-key>:<sig>`: the value of the `signature` parameter, and of the header after `ApiKey `.
pub fn credential(api_key: &str, sig: &str) -> String {
    format!("{api_key}:{sig}")
}

/// The `Signature` header value: `ApiKey <api-key>:<sig>`.
pub fn header_value(api_key: &str, sig: &str) -> String {
    format!("{SCHEME} {}", credential(api_key, sig))
}

/// Why a request's signature could not be read or did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no Signature header and no signature parameter")]
    Missing,
    #[error("both a Signature header and a signature parameter")]
    Both,
    #[error("malformed signature: {0}")]
    Malformed(&'static str),
    #[error("unknown api key")]
    UnknownApiKey,
    #[error("signature does not verify")]
    Mismatch,
}

/// Splits `<api-key>:<sig>` (at the first `:`; an api key has none, base64 has none). A space
/// in the signature is read as `+`: a base64 `+` sent unencoded in a query decodes to a space,
/// and base64 never contains spaces.
pub fn parse_credential(value: &str) -> Result<(String, String), SignatureError> {
    let (key, sig) = value
        .trim()
        .split_once(':')
        .ok_or(SignatureError::Malformed("expected <api-key>:<signature>"))?;
    let sig = sig.replace(' ', "+");
    if key.is_empty() || key.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(SignatureError::Malformed("empty or invalid api key"));
    }
    if sig.is_empty()
        || !sig
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=')
    {
        return Err(SignatureError::Malformed("signature must be base64"));
    }
    Ok((key.to_string(), sig))
}

/// Parses a `Signature` header value `ApiKey <api-key>:<sig>` (the scheme word in any case, as
/// HTTP authentication schemes are) into `(api_key, sig)`.
pub fn parse_header(value: &str) -> Result<(String, String), SignatureError> {
    let value = value.trim();
    let (scheme, rest) = value.split_once(' ').ok_or(SignatureError::Malformed(
        "expected ApiKey <api-key>:<signature>",
    ))?;
    if !scheme.eq_ignore_ascii_case(SCHEME) {
        return Err(SignatureError::Malformed("scheme must be ApiKey"));
    }
    parse_credential(rest)
}

/// The receiving side in one call (provider-sandbox): reads the credential from the header or
/// the `signature` parameter (exactly one of them), looks the api key's secret up, and verifies
/// the decoded `params` (the `signature` parameter among them is skipped) against `request_uri`,
/// the MoCoPay path of the method called (`/v1/payment/verifyPayment/`). Returns the api key.
pub fn authenticate<K: AsRef<str>, V: AsRef<str>>(
    secret_of: impl Fn(&str) -> Option<String>,
    request_uri: &str,
    header: Option<&str>,
    params: &[(K, V)],
) -> Result<String, SignatureError> {
    let mut in_params = params
        .iter()
        .filter(|(k, _)| k.as_ref() == PARAM)
        .map(|(_, v)| v.as_ref());
    let param = in_params.next();
    if in_params.next().is_some() {
        return Err(SignatureError::Malformed("signature parameter given twice"));
    }
    let (api_key, sig) = match (header, param) {
        (Some(_), Some(_)) => return Err(SignatureError::Both),
        (None, None) => return Err(SignatureError::Missing),
        (Some(h), None) => parse_header(h)?,
        (None, Some(p)) => parse_credential(p)?,
    };
    let secret = secret_of(&api_key).ok_or(SignatureError::UnknownApiKey)?;
    if verify(&secret, request_uri, params, &sig) {
        Ok(api_key)
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "this.is.a.secret";
    const URI: &str = "/v1/payment/initPayment/";

    /// Deliberately out of order: sorting is part of what the vector checks.
    fn vector_params() -> Vec<(&'static str, &'static str)> {
        vec![
            ("userId", "123456789"),
            ("pid", "12000"),
            ("mnc", "01"),
            ("mcc", "228"),
        ]
    }

    /// The published vector (PROVIDERS.md). Independently:
    /// `python3 -c 'import hashlib,base64;print(base64.b64encode(hashlib.md5(b"this.is.a.secret/v1/payment/initPayment/?mcc=228&mnc=01&pid=12000&userId=123456789").digest()).decode())'`
    /// prints `WETDyNQLx0+8BJ16vDgiVg==`.
    #[test]
    fn published_vector() {
        assert_eq!(
            signed_string(SECRET, URI, &vector_params()),
            "this.is.a.secret/v1/payment/initPayment/?mcc=228&mnc=01&pid=12000&userId=123456789"
        );
        let sig = sign(SECRET, URI, &vector_params());
        assert_eq!(sig, "WETDyNQLx0+8BJ16vDgiVg==");
        assert_eq!(credential("app1", &sig), "app1:WETDyNQLx0+8BJ16vDgiVg==");
        assert_eq!(
            header_value("app1", &sig),
            "ApiKey app1:WETDyNQLx0+8BJ16vDgiVg=="
        );
        assert!(verify(
            SECRET,
            URI,
            &vector_params(),
            "WETDyNQLx0+8BJ16vDgiVg=="
        ));
    }

    /// The trailing slash is part of request_uri: without it the vector does not come out.
    #[test]
    fn request_uri_keeps_its_trailing_slash() {
        let sig = sign(SECRET, "/v1/payment/initPayment", &vector_params());
        assert_eq!(sig, "HpG3HgNCrp06rF0FkBIBiA==");
        assert!(!verify(
            SECRET,
            "/v1/payment/initPayment",
            &vector_params(),
            "WETDyNQLx0+8BJ16vDgiVg=="
        ));
    }

    /// Runs Python's hashlib on the same string when python3 is present (skips otherwise).
    #[test]
    fn python_agrees_when_available() {
        let s = signed_string(SECRET, URI, &[("phone", "+385 99"), ("pid", "X")]);
        let script = "import hashlib,base64,sys;print(base64.b64encode(hashlib.md5(sys.argv[1].encode()).digest()).decode())";
        let Ok(out) = std::process::Command::new("python3")
            .args(["-c", script, &s])
            .output()
        else {
            return;
        };
        if !out.status.success() {
            return;
        }
        let py = String::from_utf8(out.stdout).unwrap();
        assert_eq!(
            py.trim(),
            sign(SECRET, URI, &[("phone", "+385 99"), ("pid", "X")])
        );
    }

    #[test]
    fn ascii_order_puts_upper_case_first_and_skips_signature() {
        let s = signed_string(
            "s",
            "/p/",
            &[("b", "1"), ("a", "2"), ("Z", "3"), ("signature", "k:x")],
        );
        assert_eq!(s, "s/p/?Z=3&a=2&b=1");
    }

    #[test]
    fn values_are_signed_decoded() {
        let s = signed_string(
            "s",
            "/p/",
            &[
                ("callbackUrl", "http://www.client.com/app1?a=1&b=2"),
                ("phone", "+1 2"),
            ],
        );
        assert_eq!(
            s,
            "s/p/?callbackUrl=http://www.client.com/app1?a=1&b=2&phone=+1 2"
        );
    }

    #[test]
    fn any_change_breaks_it() {
        let sig = sign(SECRET, URI, &vector_params());
        let mut changed = vector_params();
        changed[0].1 = "123456780";
        assert!(!verify(SECRET, URI, &changed, &sig));
        assert!(!verify("other.secret", URI, &vector_params(), &sig));
        assert!(!verify(
            SECRET,
            "/v1/payment/verifyPayment/",
            &vector_params(),
            &sig
        ));
        assert!(!verify(SECRET, URI, &vector_params(), ""));
    }

    #[test]
    fn header_round_trip_and_errors() {
        assert_eq!(
            parse_header("ApiKey app1:WETDyNQLx0+8BJ16vDgiVg==").unwrap(),
            ("app1".to_string(), "WETDyNQLx0+8BJ16vDgiVg==".to_string())
        );
        assert_eq!(
            parse_header("apikey DEMOKEYSTANDARD:IyiEcGCKRZcbUwmt5Nf7Jyfn1NY=")
                .unwrap()
                .0,
            "DEMOKEYSTANDARD"
        );
        assert!(parse_header("Bearer app1:abc=").is_err());
        assert!(parse_header("ApiKey app1").is_err());
        assert!(parse_header("ApiKey :abc=").is_err());
        assert!(parse_header("ApiKey app1:").is_err());
        assert!(parse_header("ApiKey app1:not base64!").is_err());
        assert!(parse_header("").is_err());
    }

    #[test]
    fn a_plus_turned_space_in_the_parameter_is_repaired() {
        assert_eq!(
            parse_credential("app1:WETDyNQLx0 8BJ16vDgiVg==").unwrap().1,
            "WETDyNQLx0+8BJ16vDgiVg=="
        );
    }

    fn secrets(key: &str) -> Option<String> {
        (key == "app1").then(|| SECRET.to_string())
    }

    #[test]
    fn authenticate_by_header_or_parameter() {
        let params = vector_params();
        let h = "ApiKey app1:WETDyNQLx0+8BJ16vDgiVg==";
        assert_eq!(
            authenticate(secrets, URI, Some(h), &params).unwrap(),
            "app1"
        );

        let mut with_param = params.clone();
        with_param.push(("signature", "app1:WETDyNQLx0+8BJ16vDgiVg=="));
        assert_eq!(
            authenticate(secrets, URI, None, &with_param).unwrap(),
            "app1"
        );

        assert_eq!(
            authenticate(secrets, URI, Some(h), &with_param),
            Err(SignatureError::Both)
        );
        assert_eq!(
            authenticate(secrets, URI, None, &params),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            authenticate(
                secrets,
                URI,
                Some("ApiKey app2:WETDyNQLx0+8BJ16vDgiVg=="),
                &params
            ),
            Err(SignatureError::UnknownApiKey)
        );
        assert_eq!(
            authenticate(
                secrets,
                URI,
                Some("ApiKey app1:AAAAAAAAAAAAAAAAAAAAAA=="),
                &params
            ),
            Err(SignatureError::Mismatch)
        );
    }
}
