//! The envelope of MoCoPay's two API methods (docs/providers/mocopay.md): where they live, the
//! signed request the adapter sends (URL with query + `Signature` header), and the receiving
//! side the simulator uses: authenticate the query first, then hand out its parameters.
//! The methods themselves are in `init_payment.rs` and `verify_payment.rs`.

use crate::query::{self, ParamError, Params};
use crate::response::{ErrorBody, ErrorCode};
use crate::signature::{self, SignatureError};

/// initPayment's path, and its `request_uri` in the signature (trailing slash: the vector's).
pub const INIT_PAYMENT_PATH: &str = "/v1/payment/initPayment/";
/// verifyPayment's path, and its `request_uri` in the signature.
pub const VERIFY_PAYMENT_PATH: &str = "/v1/payment/verifyPayment/";

/// The HTTP method of a MoCoPay call (seed 004: initPayment GET, verifyPayment POST).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpMethod {
    Get,
    Post,
}

/// A call ready to send: `method` `url` with the header `Signature: <signature>` (and for POST
/// an empty body, `Content-Length: 0`), `Accept: application/json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedRequest {
    pub method: HttpMethod,
    /// Absolute URL including the query.
    pub url: String,
    /// The `Signature` header value, `ApiKey <api-key>:<sig>`.
    pub signature: String,
}

impl SignedRequest {
    /// `("Signature", "ApiKey ...")`.
    pub fn signature_header(&self) -> (&'static str, &str) {
        (signature::HEADER, &self.signature)
    }
}

/// Why a request could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("MoCoPay base URL {0:?} must be an http(s) URL")]
    BaseUrl(String),
    #[error(transparent)]
    Param(#[from] ParamError),
}

/// `{base_url}{path}`. `base_url` is where MoCoPay's `/v1/payment/` API lives: the origin of the
/// real provider (`http://payment.mocopay.com`) or the sandbox's prefix
/// (`http://127.0.0.1:9090/mocopay`). A base already ending in `/v1/payment` (PROVIDERS.md
/// writes the base URL so) is accepted and not repeated.
pub fn endpoint(base_url: &str, path: &str) -> Result<url::Url, RequestError> {
    let bad = || RequestError::BaseUrl(base_url.to_string());
    let base = query::http_url(base_url).map_err(|_| bad())?;
    if base.query().is_some() || base.fragment().is_some() {
        return Err(bad());
    }
    let trimmed = base.as_str().trim_end_matches('/');
    let trimmed = trimmed.strip_suffix("/v1/payment").unwrap_or(trimmed);
    url::Url::parse(&format!("{trimmed}{path}")).map_err(|_| bad())
}

/// Signs `params` for `path` and puts them on the URL.
pub(crate) fn signed_request(
    method: HttpMethod,
    base_url: &str,
    path: &str,
    params: &[(&'static str, String)],
    api_key: &str,
    secret: &str,
) -> Result<SignedRequest, RequestError> {
    let url = query::append_query(&endpoint(base_url, path)?, params);
    let sig = signature::sign(secret, path, params);
    Ok(SignedRequest {
        method,
        url: url.to_string(),
        signature: signature::header_value(api_key, &sig),
    })
}

/// A request MoCoPay (the simulator) refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InboundError {
    #[error(transparent)]
    Signature(#[from] SignatureError),
    #[error(transparent)]
    Param(#[from] ParamError),
}

impl InboundError {
    /// The answer in our error shape (`INVALID_SIGNATURE` 401, `INVALID_PARAMETER` 400).
    pub fn error_body(&self) -> ErrorBody {
        match self {
            Self::Signature(e) => ErrorBody::new(ErrorCode::InvalidSignature, e.to_string()),
            Self::Param(e) => ErrorBody::invalid_parameter(e),
        }
    }
}

/// The receiving side of a call to `path` (`INIT_PAYMENT_PATH` or `VERIFY_PAYMENT_PATH`): the
/// raw query (text after `?`) and the `Signature` header if any. Authenticates FIRST (nothing
/// about an unsigned request is read, not even which parameter is wrong), then refuses repeated
/// names. Returns the api key and the parameters (`signature` among them, if sent so).
pub fn authenticate_query(
    secret_of: impl Fn(&str) -> Option<String>,
    path: &str,
    signature_header: Option<&str>,
    raw_query: &str,
) -> Result<(String, Params), InboundError> {
    let pairs = query::parse_query(raw_query);
    let api_key = signature::authenticate(secret_of, path, signature_header, &pairs)?;
    Ok((api_key, Params::from_pairs(pairs)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_joins_base_and_path() {
        for base in [
            "http://payment.mocopay.com",
            "http://payment.mocopay.com/",
            "http://payment.mocopay.com/v1/payment/",
            "http://payment.mocopay.com/v1/payment",
        ] {
            assert_eq!(
                endpoint(base, INIT_PAYMENT_PATH).unwrap().as_str(),
                "http://payment.mocopay.com/v1/payment/initPayment/",
                "{base}"
            );
        }
        assert_eq!(
            endpoint("http://127.0.0.1:9090/mocopay", VERIFY_PAYMENT_PATH)
                .unwrap()
                .as_str(),
            "http://127.0.0.1:9090/mocopay/v1/payment/verifyPayment/"
        );
        for bad in ["", "payment.mocopay.com", "ftp://x", "http://x/?a=1"] {
            assert!(endpoint(bad, INIT_PAYMENT_PATH).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_signed_path_is_the_method_path_not_the_mount_prefix() {
        let params = vec![("pid", "12000".to_string())];
        let r = signed_request(
            HttpMethod::Get,
            "http://127.0.0.1:9090/mocopay",
            INIT_PAYMENT_PATH,
            &params,
            "app1",
            "this.is.a.secret",
        )
        .unwrap();
        let sig = signature::sign("this.is.a.secret", INIT_PAYMENT_PATH, &params);
        assert_eq!(r.signature, format!("ApiKey app1:{sig}"));
        assert_eq!(
            r.url,
            "http://127.0.0.1:9090/mocopay/v1/payment/initPayment/?pid=12000"
        );
    }

    #[test]
    fn inbound_errors_map_to_our_error_shape() {
        let e = InboundError::from(SignatureError::Mismatch).error_body();
        assert_eq!(e.error_code, ErrorCode::InvalidSignature);
        assert_eq!(e.http_status(), 401);
        let e = InboundError::from(ParamError::new("mcc", "must be 3 digits")).error_body();
        assert_eq!(e.parameter.as_deref(), Some("mcc"));
        assert_eq!(e.http_status(), 400);
    }

    #[test]
    fn authentication_comes_before_parameter_checks() {
        let secrets = |k: &str| (k == "app1").then(|| "s3cret".to_string());
        // a repeated parameter in an unsigned request: the signature is what is reported
        assert_eq!(
            authenticate_query(secrets, INIT_PAYMENT_PATH, None, "pid=1&pid=2"),
            Err(InboundError::Signature(SignatureError::Missing))
        );
        let pairs = [("pid", "1"), ("pid", "2")];
        let sig = signature::sign("s3cret", INIT_PAYMENT_PATH, &pairs);
        let header = signature::header_value("app1", &sig);
        assert_eq!(
            authenticate_query(secrets, INIT_PAYMENT_PATH, Some(&header), "pid=1&pid=2"),
            Err(InboundError::Param(ParamError::new(
                "pid",
                "given more than once"
            )))
        );
    }
}
