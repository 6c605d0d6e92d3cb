//! MoCoPay's payment session: the object `verifyPayment` answers (seed 004), typed with serde,
//! plus the enums shared with the notifications and the callbackUrl redirect (session type,
//! session status, transaction status). Amounts are integers in MINOR units of `currencyCode`
//! (seed: `"lastChargedAmount" : 10`); a fractional amount fails the parse instead of rounding.
//!
//! Every field but `sessionId` and `status` may be missing (and is then left out again when the
//! simulator serializes a session); unknown fields are ignored. `referenceId`, `requestId` and
//! `transaction` are our additions (docs/providers/mocopay.md), absent from the seed's sample.

use crate::currency::{CurrencyError, MocoCurrency};
use serde::{Deserialize, Serialize};
use std::fmt;

/// `type` of a session, `sessionType` of a notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionType {
    /// `onetime`: one charge.
    OneTime,
    /// `subscription`: recurring charges, each its own MoCoPay transaction.
    Subscription,
}

impl SessionType {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::OneTime => "onetime",
            Self::Subscription => "subscription",
        }
    }

    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "onetime" => Ok(Self::OneTime),
            "subscription" => Ok(Self::Subscription),
            _ => Err("must be onetime or subscription".into()),
        }
    }
}

/// A session's `status`. Seed 004 shows `Authorized` (a subscription being charged) and
/// `PaymentComplete` (the callbackUrl redirect after a one-time payment); the others are our
/// definition of the rest of the life cycle. A status we do not know is kept verbatim in `Other`
/// rather than failing a whole answer.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum SessionStatus {
    /// Created by initPayment; the user has not paid (yet).
    Init,
    /// The user authorized the payment. For a subscription: active, charged every period (seed).
    Authorized,
    /// A one-time payment is charged (seed: callbackUrl `status=PaymentComplete`).
    PaymentComplete,
    /// The payment could not be made (operator refusal, no funds, wrong SMS answer).
    Failed,
    /// The user cancelled on the payment form, or the subscription was cancelled.
    Cancelled,
    /// The session ended without the user finishing (or a subscription ran out).
    Expired,
    /// Anything else MoCoPay sends, verbatim.
    Other(String),
}

impl SessionStatus {
    pub fn as_str(&self) -> &str {
        match self {
            Self::Init => "Init",
            Self::Authorized => "Authorized",
            Self::PaymentComplete => "PaymentComplete",
            Self::Failed => "Failed",
            Self::Cancelled => "Cancelled",
            Self::Expired => "Expired",
            Self::Other(s) => s,
        }
    }

    /// A status no further payment can come from (`Failed`, `Cancelled`, `Expired`).
    pub fn is_final_without_money(&self) -> bool {
        matches!(self, Self::Failed | Self::Cancelled | Self::Expired)
    }
}

impl From<String> for SessionStatus {
    fn from(s: String) -> Self {
        match s.as_str() {
            "Init" => Self::Init,
            "Authorized" => Self::Authorized,
            "PaymentComplete" => Self::PaymentComplete,
            "Failed" => Self::Failed,
            "Cancelled" => Self::Cancelled,
            "Expired" => Self::Expired,
            _ => Self::Other(s),
        }
    }
}

impl From<&str> for SessionStatus {
    fn from(s: &str) -> Self {
        Self::from(s.to_string())
    }
}

impl From<SessionStatus> for String {
    fn from(s: SessionStatus) -> String {
        s.as_str().to_string()
    }
}

impl fmt::Display for SessionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The outcome of one MoCoPay transaction (one charge attempt). Ours: `success` | `failed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TransactionStatus {
    Success,
    Failed,
}

impl TransactionStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "success" => Ok(Self::Success),
            "failed" => Ok(Self::Failed),
            _ => Err("must be success or failed".into()),
        }
    }
}

/// `endUser` of a session (seed 004).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndUser {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mcc: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mnc: Option<String>,
}

/// Ours: the transaction a `verifyPayment?transactionId=..` asked about, so one charge can be
/// confirmed with its own outcome and amount (the seed's `transactions` lists ids only, and its
/// three ids against a total of 10 show the list holds more than the successful charges).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionTransaction {
    pub transaction_id: String,
    pub status: TransactionStatus,
    /// Minor units of `currencyCode`.
    pub amount: i64,
    pub currency_code: String,
    /// `YYYY-MM-DD HH:MM:SS`, MoCoPay's clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
}

/// The session object of seed 004 (`verifyPayment`'s answer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    pub session_id: String,
    /// Ours: the initPayment `requestId` that opened the session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Ours: the initPayment `referenceId`, so the adapter can tie a session to ITS order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_id: Option<String>,
    /// MoCoPay's service (seed: `PS-000-002`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_code: Option<String>,
    /// The payment product of initPayment (seed: `PP27638049`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<String>,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub session_type: Option<SessionType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_user: Option<EndUser>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
    /// As MoCoPay sends it (seed: `120`); the seed does not say what it counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series: Option<i64>,
    pub status: SessionStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charged_amount: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_amount: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_charged_amount: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failed_amount: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_charged_amount: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_failed_amount: Option<i64>,
    /// MoCoPay's code: ISO 4217 or `TES` (see [`crate::currency`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recurrent: Option<bool>,
    /// Seconds until the session expires, negative once past. The seed's Authorized
    /// subscription shows `-115392`: do not infer the status from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<i64>,
    /// `YYYY-MM-DD HH:MM:SS`, MoCoPay's clock (time zone unstated by the seed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_init: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_authorized: Option<String>,
    /// The wire name is spelt `timeLastSuccessfullPayment` (sic, seed 004).
    #[serde(
        rename = "timeLastSuccessfullPayment",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub time_last_successful_payment: Option<String>,
    /// Ids of the session's transactions (charge attempts), oldest first.
    #[serde(default)]
    pub transactions: Vec<String>,
    /// Ours: present when the request was `verifyPayment?transactionId=..`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction: Option<SessionTransaction>,
}

impl Session {
    /// A new session as the simulator creates it: everything else empty.
    pub fn new(session_id: impl Into<String>, status: SessionStatus) -> Self {
        Self {
            session_id: session_id.into(),
            request_id: None,
            reference_id: None,
            service_code: None,
            pid: None,
            session_type: None,
            end_user: None,
            lang: None,
            series: None,
            status,
            charged_amount: None,
            failed_amount: None,
            last_charged_amount: None,
            last_failed_amount: None,
            total_charged_amount: None,
            total_failed_amount: None,
            currency_code: None,
            recurrent: None,
            expires_in: None,
            time_init: None,
            time_authorized: None,
            time_last_successful_payment: None,
            transactions: Vec::new(),
            transaction: None,
        }
    }

    /// The session's currency, `None` when MoCoPay did not say.
    pub fn currency(&self) -> Result<Option<MocoCurrency>, CurrencyError> {
        self.currency_code
            .as_deref()
            .map(MocoCurrency::parse)
            .transpose()
    }

    /// Whether `transaction_id` is one of this session's transactions.
    pub fn has_transaction(&self, transaction_id: &str) -> bool {
        self.transactions.iter().any(|t| t == transaction_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::seed::SESSION as SEED_SESSION;

    #[test]
    fn seed_session_parses_field_by_field() {
        let s: Session = serde_json::from_str(SEED_SESSION).unwrap();
        assert_eq!(s.session_id, "518ec5708a8842dba19993f01ef863b5");
        assert_eq!(s.service_code.as_deref(), Some("PS-000-002"));
        assert_eq!(s.pid.as_deref(), Some("PP27638049"));
        assert_eq!(s.session_type, Some(SessionType::Subscription));
        assert_eq!(
            s.end_user,
            Some(EndUser {
                user_id: Some("359276053656628".into()),
                phone: Some("0099923026".into()),
                mcc: Some("999".into()),
                mnc: Some("99".into()),
            })
        );
        assert_eq!(s.lang.as_deref(), Some("hr"));
        assert_eq!(s.series, Some(120));
        assert_eq!(s.status, SessionStatus::Authorized);
        assert_eq!(s.charged_amount, Some(0));
        assert_eq!(s.failed_amount, Some(0));
        assert_eq!(s.last_charged_amount, Some(10));
        assert_eq!(s.last_failed_amount, Some(0));
        assert_eq!(s.total_charged_amount, Some(10));
        assert_eq!(s.total_failed_amount, Some(0));
        assert_eq!(s.currency_code.as_deref(), Some("TES"));
        assert_eq!(s.currency().unwrap(), Some(MocoCurrency::Test));
        assert_eq!(s.recurrent, Some(true));
        assert_eq!(s.expires_in, Some(-115392));
        assert_eq!(s.time_init.as_deref(), Some("2014-04-02 14:34:53"));
        assert_eq!(s.time_authorized.as_deref(), Some("2014-04-02 14:35:29"));
        assert_eq!(
            s.time_last_successful_payment.as_deref(),
            Some("2014-04-02 14:35:30")
        );
        assert_eq!(s.transactions.len(), 3);
        assert!(s.has_transaction("076fbc5879584b1bb538497f3d772f21"));
        assert!(!s.has_transaction("076fbc5879584b1bb538497f3d772f2"));
        assert_eq!(s.reference_id, None);
        assert_eq!(s.transaction, None);
    }

    #[test]
    fn serializing_round_trips_with_the_seed_spelling() {
        let s: Session = serde_json::from_str(SEED_SESSION).unwrap();
        let json = serde_json::to_string(&s).unwrap();
        assert!(json.contains(r#""timeLastSuccessfullPayment":"2014-04-02 14:35:30""#));
        assert!(json.contains(r#""type":"subscription""#));
        assert!(!json.contains("referenceId"), "absent fields stay absent");
        let again: Session = serde_json::from_str(&json).unwrap();
        assert_eq!(again, s);
        let seed: serde_json::Value = serde_json::from_str(SEED_SESSION).unwrap();
        let ours: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(seed, ours, "the seed's object serializes back to itself");
    }

    #[test]
    fn a_minimal_session_parses() {
        let s: Session =
            serde_json::from_str(r#"{"sessionId":"abc","status":"Init","somethingNew":1}"#)
                .unwrap();
        assert_eq!(s, Session::new("abc", SessionStatus::Init));
        assert_eq!(s.currency().unwrap(), None);
    }

    #[test]
    fn required_and_malformed_fields_fail() {
        assert!(serde_json::from_str::<Session>(r#"{"status":"Init"}"#).is_err());
        assert!(serde_json::from_str::<Session>(r#"{"sessionId":"a"}"#).is_err());
        // money is never a float
        assert!(serde_json::from_str::<Session>(
            r#"{"sessionId":"a","status":"Init","chargedAmount":10.5}"#
        )
        .is_err());
        assert!(serde_json::from_str::<Session>(
            r#"{"sessionId":"a","status":"Init","type":"weekly"}"#
        )
        .is_err());
    }

    #[test]
    fn statuses_round_trip_and_unknown_ones_are_kept() {
        for s in [
            "Init",
            "Authorized",
            "PaymentComplete",
            "Failed",
            "Cancelled",
            "Expired",
            "Refunded",
        ] {
            assert_eq!(SessionStatus::from(s).as_str(), s);
        }
        assert_eq!(
            SessionStatus::from("Refunded"),
            SessionStatus::Other("Refunded".into())
        );
        assert_eq!(
            SessionStatus::from("authorized"),
            SessionStatus::Other("authorized".into())
        );
        assert!(SessionStatus::Expired.is_final_without_money());
        assert!(!SessionStatus::Authorized.is_final_without_money());
    }

    #[test]
    fn our_transaction_object_parses() {
        let s: Session = serde_json::from_str(
            r#"{"sessionId":"s1","status":"Authorized","referenceId":"ord-1",
                "transaction":{"transactionId":"t1","status":"success","amount":10,"currencyCode":"EUR","time":"2014-04-02 14:35:30"}}"#,
        )
        .unwrap();
        let t = s.transaction.unwrap();
        assert_eq!(t.status, TransactionStatus::Success);
        assert_eq!(t.amount, 10);
        assert_eq!(s.reference_id.as_deref(), Some("ord-1"));
    }
}
