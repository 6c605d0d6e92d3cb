//! verifyPayment (seed 004): `POST {base}/v1/payment/verifyPayment/?sessionId=..` (or `userId=..`
//! or `transactionId=..`), empty body, signed like initPayment; answered by the session object
//! (`session.rs`). This is the adapter's only source of truth about money: a notification or a
//! redirect is believed once verifyPayment agrees with it.

use crate::query::{check, ParamError, Params};
use crate::response::{self, ResponseError};
use crate::session::Session;
use crate::wire::{self, HttpMethod, RequestError, SignedRequest, VERIFY_PAYMENT_PATH};

/// What verifyPayment asks about: exactly one of the three (the seed calls each mandatory
/// unless another is given; we refuse two at once, which would be ambiguous).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyPayment {
    /// `sessionId`: that session.
    SessionId(String),
    /// `userId`: the buyer's most recent session (ours: the seed does not say which).
    UserId(String),
    /// `transactionId`: the session holding that transaction, with (ours) the `transaction`
    /// object describing it.
    TransactionId(String),
}

const NAMES: [&str; 3] = ["sessionId", "userId", "transactionId"];
const MAX_ID: usize = 128;

impl VerifyPayment {
    /// `(name, value)` of the one parameter.
    pub fn param(&self) -> (&'static str, &str) {
        match self {
            Self::SessionId(v) => ("sessionId", v),
            Self::UserId(v) => ("userId", v),
            Self::TransactionId(v) => ("transactionId", v),
        }
    }

    pub fn to_query(&self) -> Vec<(&'static str, String)> {
        let (k, v) = self.param();
        vec![(k, v.to_string())]
    }

    pub fn validate(&self) -> Result<(), ParamError> {
        let (k, v) = self.param();
        match self {
            Self::UserId(_) => check::text(v, MAX_ID),
            _ => check::token(v, MAX_ID),
        }
        .map_err(|why| ParamError::new(k, why))
    }

    /// The signed `POST {base_url}/v1/payment/verifyPayment/?<one parameter>`, empty body.
    pub fn request(
        &self,
        base_url: &str,
        api_key: &str,
        secret: &str,
    ) -> Result<SignedRequest, RequestError> {
        self.validate()?;
        wire::signed_request(
            HttpMethod::Post,
            base_url,
            VERIFY_PAYMENT_PATH,
            &self.to_query(),
            api_key,
            secret,
        )
    }

    /// The simulator's side, after [`wire::authenticate_query`].
    pub fn from_params(p: &Params) -> Result<Self, ParamError> {
        p.only(&[
            "sessionId",
            "userId",
            "transactionId",
            crate::signature::PARAM,
        ])?;
        let given: Vec<&str> = NAMES.into_iter().filter(|n| p.contains(n)).collect();
        let r = match given.as_slice() {
            [] => {
                return Err(ParamError::new(
                    "sessionId",
                    "one of sessionId, userId, transactionId is required",
                ))
            }
            ["sessionId"] => Self::SessionId(p.text("sessionId")),
            ["userId"] => Self::UserId(p.text("userId")),
            ["transactionId"] => Self::TransactionId(p.text("transactionId")),
            [_, second, ..] => {
                return Err(ParamError::new(
                    *second,
                    "give only one of sessionId, userId, transactionId",
                ))
            }
            [other] => return Err(ParamError::new(*other, "unknown parameter")),
        };
        r.validate()?;
        Ok(r)
    }

    /// [`Params::from_query`] then [`VerifyPayment::from_params`], for a query already authenticated.
    pub fn from_query(raw_query: &str) -> Result<Self, ParamError> {
        Self::from_params(&Params::from_query(raw_query)?)
    }

    /// Reads the answer to THIS question: the session must be the one asked about (same
    /// `sessionId`; for `transactionId`, a session listing it, and a `transaction` object, when
    /// present, about it; for `userId`, an `endUser.userId`, when present, equal to it).
    pub fn parse_response(&self, status: u16, body: &[u8]) -> Result<Session, ResponseError> {
        let s: Session = response::parse(status, body)?;
        let fits = match self {
            Self::SessionId(id) => s.session_id == *id,
            Self::UserId(id) => s
                .end_user
                .as_ref()
                .and_then(|u| u.user_id.as_ref())
                .is_none_or(|u| u == id),
            Self::TransactionId(id) => match &s.transaction {
                Some(t) => t.transaction_id == *id,
                None => s.has_transaction(id),
            },
        };
        if !fits {
            let (k, v) = self.param();
            return Err(ResponseError::Malformed {
                status,
                why: format!("the session answered is not the one for {k}={v}"),
            });
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::SessionStatus;
    use crate::signature;
    use crate::wire::authenticate_query;

    fn secrets(k: &str) -> Option<String> {
        (k == "DEMOKEYSTANDARD").then(|| "demo-secret".to_string())
    }

    #[test]
    fn request_is_a_signed_post_with_one_parameter() {
        let q = VerifyPayment::UserId("359276053656628".into());
        let r = q
            .request(
                "http://payment.mocopay.com",
                "DEMOKEYSTANDARD",
                "demo-secret",
            )
            .unwrap();
        assert_eq!(r.method, HttpMethod::Post);
        assert_eq!(
            r.url,
            "http://payment.mocopay.com/v1/payment/verifyPayment/?userId=359276053656628"
        );
        let sig = signature::sign(
            "demo-secret",
            "/v1/payment/verifyPayment/",
            &[("userId", "359276053656628")],
        );
        assert_eq!(r.signature, format!("ApiKey DEMOKEYSTANDARD:{sig}"));

        let (_, params) = authenticate_query(
            secrets,
            VERIFY_PAYMENT_PATH,
            Some(&r.signature),
            r.url.split_once('?').unwrap().1,
        )
        .unwrap();
        assert_eq!(VerifyPayment::from_params(&params).unwrap(), q);
    }

    /// The worked example of docs/providers/mocopay.md ("verifyPayment").
    #[test]
    fn documented_example() {
        let r = VerifyPayment::SessionId("518ec5708a8842dba19993f01ef863b5".into())
            .request("http://payment.mocopay.com", "app1", "this.is.a.secret")
            .unwrap();
        assert_eq!(
            r.url,
            "http://payment.mocopay.com/v1/payment/verifyPayment/?sessionId=518ec5708a8842dba19993f01ef863b5"
        );
        assert_eq!(r.signature, "ApiKey app1:q/bPzNA2FrIVAUIMAjetQg==");
    }

    #[test]
    fn exactly_one_parameter() {
        assert_eq!(
            VerifyPayment::from_query("sessionId=abc").unwrap(),
            VerifyPayment::SessionId("abc".into())
        );
        assert_eq!(
            VerifyPayment::from_query("transactionId=t1&signature=k%3Ax").unwrap(),
            VerifyPayment::TransactionId("t1".into())
        );
        assert_eq!(
            VerifyPayment::from_query("").unwrap_err().param,
            "sessionId"
        );
        assert_eq!(
            VerifyPayment::from_query("sessionId=a&transactionId=b")
                .unwrap_err()
                .param,
            "transactionId"
        );
        assert_eq!(VerifyPayment::from_query("sid=a").unwrap_err().param, "sid");
        assert_eq!(
            VerifyPayment::from_query("sessionId=a%20b")
                .unwrap_err()
                .param,
            "sessionId"
        );
        assert!(VerifyPayment::SessionId(String::new())
            .request("http://h", "k", "s")
            .is_err());
    }

    #[test]
    fn seed_answer_is_accepted_for_its_own_questions() {
        let body = crate::seed::SESSION.as_bytes();
        for q in [
            VerifyPayment::SessionId("518ec5708a8842dba19993f01ef863b5".into()),
            VerifyPayment::UserId("359276053656628".into()),
            VerifyPayment::TransactionId("e83ebf6c4eed42cbb2d4188cd6aa4c43".into()),
        ] {
            let s = q.parse_response(200, body).unwrap();
            assert_eq!(s.status, SessionStatus::Authorized);
        }
    }

    #[test]
    fn an_answer_about_another_session_is_refused() {
        let body = crate::seed::SESSION.as_bytes();
        for q in [
            VerifyPayment::SessionId("8903cf28aa3940f0b31d699fea5aa7ff".into()),
            VerifyPayment::UserId("1".into()),
            VerifyPayment::TransactionId("ffffffffffffffffffffffffffffffff".into()),
        ] {
            assert!(matches!(
                q.parse_response(200, body),
                Err(ResponseError::Malformed { status: 200, .. })
            ));
        }
    }

    #[test]
    fn not_found_is_a_refusal() {
        let e = VerifyPayment::SessionId("x".into())
            .parse_response(
                404,
                br#"{"errorCode":"NOT_FOUND","errorMessage":"no such session"}"#,
            )
            .unwrap_err();
        assert!(matches!(e, ResponseError::Refused { status: 404, .. }));
    }
}
