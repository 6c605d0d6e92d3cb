//! The callbackUrl redirection (seed 004): after the payment form MoCoPay sends the user's
//! browser to `{callbackUrl}?sid=..&sessionId=..&requestId=..&referenceId=..&status=..`.
//! Unsigned and carried by the browser, so the adapter never believes it: it only says which
//! session to ask verifyPayment about and where to send the user next. The simulator builds it
//! with [`CallbackRedirect::url`].

use crate::query::{self, check, ParamError, Params};
use crate::session::SessionStatus;

const MAX_ID: usize = 128;

/// The redirect's parameters. `sid` and `sessionId` both carry the session id (the seed sends
/// both, equal); they are folded into `session_id`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallbackRedirect {
    /// initPayment's `requestId`.
    pub request_id: String,
    /// `sessionId` (or `sid`).
    pub session_id: String,
    /// initPayment's `referenceId`, empty if none was sent.
    pub reference_id: String,
    /// "Status of executed payment"; `None` when absent.
    pub status: Option<SessionStatus>,
}

impl CallbackRedirect {
    /// Reads the redirect's query. Every parameter is optional, but at least one of `sessionId`
    /// / `sid`, `requestId`, `referenceId` must be there (else there is nothing to look up), and
    /// `sid` and `sessionId` must agree when both are sent. Unknown parameters (the merchant's
    /// own, already on the callbackUrl) are ignored.
    pub fn from_params(p: &Params) -> Result<Self, ParamError> {
        let id = |name: &str| -> Result<String, ParamError> {
            query::opt_checked(p, name, |v| check::token(v, MAX_ID))
        };
        let sid = id("sid")?;
        let session_id = id("sessionId")?;
        if !sid.is_empty() && !session_id.is_empty() && sid != session_id {
            return Err(ParamError::new("sid", "differs from sessionId"));
        }
        let r = Self {
            request_id: id("requestId")?,
            session_id: if session_id.is_empty() {
                sid
            } else {
                session_id
            },
            reference_id: query::opt_checked(p, "referenceId", |v| check::text(v, MAX_ID))?,
            status: query::opt_parsed(p, "status", |v| {
                check::token(v, 64).map(|_| SessionStatus::from(v))
            })?,
        };
        if r.session_id.is_empty() && r.request_id.is_empty() && r.reference_id.is_empty() {
            return Err(ParamError::new(
                "sessionId",
                "one of sessionId, sid, requestId, referenceId is required",
            ));
        }
        Ok(r)
    }

    /// The raw query of the redirected request (text after `?`).
    pub fn from_query(raw_query: &str) -> Result<Self, ParamError> {
        Self::from_params(&Params::from_query(raw_query)?)
    }

    /// The parameters in the seed's order (`sid`, `sessionId`, `requestId`, `referenceId`,
    /// `status`), empty ones left out.
    pub fn to_query(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        query::push_opt(&mut out, "sid", &self.session_id);
        query::push_opt(&mut out, "sessionId", &self.session_id);
        query::push_opt(&mut out, "requestId", &self.request_id);
        query::push_opt(&mut out, "referenceId", &self.reference_id);
        if let Some(s) = &self.status {
            out.push(("status", s.as_str().to_string()));
        }
        out
    }

    /// The `Location` of the simulator's `302 Found`: `callback_url` with the parameters
    /// appended (after any query it already has).
    pub fn url(&self, callback_url: &str) -> Result<String, ParamError> {
        let base =
            query::http_url(callback_url).map_err(|why| ParamError::new("callbackUrl", why))?;
        Ok(query::append_query(&base, &self.to_query()).to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed() -> CallbackRedirect {
        CallbackRedirect {
            request_id: "9bf849fd215542088fa5c98b99a185a2".into(),
            session_id: "8903cf28aa3940f0b31d699fea5aa7ff".into(),
            reference_id: "20162016".into(),
            status: Some(SessionStatus::PaymentComplete),
        }
    }

    #[test]
    fn seed_redirect_parses_and_is_rebuilt_verbatim() {
        let (base, q) = crate::seed::CALLBACK_LOCATION.split_once('?').unwrap();
        assert_eq!(CallbackRedirect::from_query(q).unwrap(), seed());
        assert_eq!(seed().url(base).unwrap(), crate::seed::CALLBACK_LOCATION);
    }

    #[test]
    fn sid_alone_or_session_id_alone() {
        let r = CallbackRedirect::from_query("sid=abc&status=Failed").unwrap();
        assert_eq!(r.session_id, "abc");
        assert_eq!(r.status, Some(SessionStatus::Failed));
        let r = CallbackRedirect::from_query("sessionId=abc").unwrap();
        assert_eq!(r.session_id, "abc");
        assert_eq!(r.status, None);
        let r = CallbackRedirect::from_query("referenceId=20162016&merchantParam=1").unwrap();
        assert_eq!(r.reference_id, "20162016");
    }

    #[test]
    fn errors_name_the_parameter() {
        assert_eq!(
            CallbackRedirect::from_query("sid=a&sessionId=b")
                .unwrap_err()
                .param,
            "sid"
        );
        assert_eq!(
            CallbackRedirect::from_query("status=PaymentComplete")
                .unwrap_err()
                .param,
            "sessionId"
        );
        assert_eq!(
            CallbackRedirect::from_query("sessionId=a&status=a%20b")
                .unwrap_err()
                .param,
            "status"
        );
        assert_eq!(
            CallbackRedirect::from_query("sessionId=a&sessionId=a")
                .unwrap_err()
                .param,
            "sessionId"
        );
        assert_eq!(seed().url("/relative").unwrap_err().param, "callbackUrl");
    }

    #[test]
    fn the_merchant_query_is_kept() {
        let u = seed()
            .url("https://gw.example/mocopay/return?order=7")
            .unwrap();
        assert!(u.starts_with("https://gw.example/mocopay/return?order=7&sid=8903"));
        let q = u.split_once('?').unwrap().1;
        assert_eq!(CallbackRedirect::from_query(q).unwrap(), seed());
    }
}
