//! Reading MoCoPay's JSON answers, and OUR error shape. Seed 004 shows only successful answers
//! (HTTP 200 with JSON); for a refused call we define (docs/providers/mocopay.md "Errors"):
//!
//! HTTP 4xx/5xx, `Content-Type: application/json`,
//! `{"errorCode": "INVALID_PARAMETER", "errorMessage": "pid: required", "parameter": "pid"}`
//! (`parameter` only when one parameter is at fault).
//!
//! The simulator answers exactly this; the adapter reads it, and anything else that is not 2xx
//! (a proxy's HTML 502, an empty body) as a `Malformed` answer carrying the HTTP status.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::fmt;

/// `errorCode` values (ours). Unknown codes are kept verbatim.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum ErrorCode {
    /// 401: missing, malformed or wrong signature, or an unknown api key.
    InvalidSignature,
    /// 400: a parameter is missing, malformed, repeated or unknown (`parameter` names it).
    InvalidParameter,
    /// 400: `pid` is not a product of this api key.
    UnknownPid,
    /// 404: verifyPayment found no session for the session, user or transaction id.
    NotFound,
    /// 500: MoCoPay's own failure; the call may be retried.
    InternalError,
    Other(String),
}

impl ErrorCode {
    pub fn as_str(&self) -> &str {
        match self {
            Self::InvalidSignature => "INVALID_SIGNATURE",
            Self::InvalidParameter => "INVALID_PARAMETER",
            Self::UnknownPid => "UNKNOWN_PID",
            Self::NotFound => "NOT_FOUND",
            Self::InternalError => "INTERNAL_ERROR",
            Self::Other(s) => s,
        }
    }

    /// The HTTP status MoCoPay (the simulator) answers with this code.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::InvalidSignature => 401,
            Self::InvalidParameter | Self::UnknownPid => 400,
            Self::NotFound => 404,
            Self::InternalError | Self::Other(_) => 500,
        }
    }
}

impl From<String> for ErrorCode {
    fn from(s: String) -> Self {
        match s.as_str() {
            "INVALID_SIGNATURE" => Self::InvalidSignature,
            "INVALID_PARAMETER" => Self::InvalidParameter,
            "UNKNOWN_PID" => Self::UnknownPid,
            "NOT_FOUND" => Self::NotFound,
            "INTERNAL_ERROR" => Self::InternalError,
            _ => Self::Other(s),
        }
    }
}

impl From<ErrorCode> for String {
    fn from(c: ErrorCode) -> String {
        c.as_str().to_string()
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The body of a refused call (our shape, see the module comment).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    pub error_code: ErrorCode,
    #[serde(default)]
    pub error_message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameter: Option<String>,
}

impl ErrorBody {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            error_code: code,
            error_message: message.into(),
            parameter: None,
        }
    }

    /// `INVALID_PARAMETER` for a parameter error (the simulator's answer to a bad query).
    pub fn invalid_parameter(e: &crate::query::ParamError) -> Self {
        Self {
            error_code: ErrorCode::InvalidParameter,
            error_message: e.to_string(),
            parameter: Some(e.param.clone()),
        }
    }

    /// The HTTP status to answer with.
    pub fn http_status(&self) -> u16 {
        self.error_code.http_status()
    }

    /// The JSON body.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| {
            r#"{"errorCode":"INTERNAL_ERROR","errorMessage":"unserializable error"}"#.into()
        })
    }
}

/// A MoCoPay answer the adapter cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResponseError {
    /// MoCoPay refused the call in our error shape.
    #[error("MoCoPay answered HTTP {status}: {} {}", error.error_code, error.error_message)]
    Refused { status: u16, error: ErrorBody },
    /// Not what the protocol says (wrong JSON, HTML error page, empty body).
    #[error("MoCoPay answered HTTP {status} with an unreadable body: {why}")]
    Malformed { status: u16, why: String },
}

impl ResponseError {
    pub fn status(&self) -> u16 {
        match self {
            Self::Refused { status, .. } | Self::Malformed { status, .. } => *status,
        }
    }

    /// Whether the same call may succeed later (5xx, 408, 429). The adapter still retries only
    /// calls that are safe to repeat (verifyPayment; initPayment under the same referenceId).
    pub fn is_transient(&self) -> bool {
        let s = self.status();
        s >= 500 || s == 408 || s == 429
    }
}

/// Reads an answer: 2xx must be `T` as JSON, anything else our [`ErrorBody`].
pub fn parse<T: DeserializeOwned>(status: u16, body: &[u8]) -> Result<T, ResponseError> {
    if (200..300).contains(&status) {
        serde_json::from_slice(body).map_err(|e| ResponseError::Malformed {
            status,
            why: e.to_string(),
        })
    } else {
        match serde_json::from_slice::<ErrorBody>(body) {
            Ok(error) => Err(ResponseError::Refused { status, error }),
            Err(e) => Err(ResponseError::Malformed {
                status,
                why: format!("not a MoCoPay error: {e}"),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::ParamError;

    #[test]
    fn error_shape_round_trips() {
        let e = ErrorBody::invalid_parameter(&ParamError::new("pid", "required"));
        assert_eq!(
            e.to_json(),
            r#"{"errorCode":"INVALID_PARAMETER","errorMessage":"pid: required","parameter":"pid"}"#
        );
        assert_eq!(e.http_status(), 400);
        let back = parse::<serde_json::Value>(400, e.to_json().as_bytes()).unwrap_err();
        assert_eq!(
            back,
            ResponseError::Refused {
                status: 400,
                error: e
            }
        );
    }

    #[test]
    fn unknown_codes_and_missing_message_are_tolerated() {
        let e = parse::<serde_json::Value>(403, br#"{"errorCode":"QUOTA"}"#).unwrap_err();
        match e {
            ResponseError::Refused { status, error } => {
                assert_eq!(status, 403);
                assert_eq!(error.error_code, ErrorCode::Other("QUOTA".into()));
                assert_eq!(error.error_message, "");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn html_and_garbage_are_malformed_with_their_status() {
        let e = parse::<serde_json::Value>(502, b"<html>Bad Gateway</html>").unwrap_err();
        assert!(matches!(e, ResponseError::Malformed { status: 502, .. }));
        assert!(e.is_transient());
        let e = parse::<crate::session::Session>(200, b"{}").unwrap_err();
        assert!(matches!(e, ResponseError::Malformed { status: 200, .. }));
        assert!(!e.is_transient());
    }

    #[test]
    fn codes_map_to_statuses() {
        assert_eq!(ErrorCode::InvalidSignature.http_status(), 401);
        assert_eq!(ErrorCode::NotFound.http_status(), 404);
        assert_eq!(ErrorCode::InternalError.http_status(), 500);
        assert_eq!(
            ErrorCode::from("NOT_FOUND".to_string()),
            ErrorCode::NotFound
        );
    }
}
