//! MoCoPay's notifications (seed 004: "payment notification (both session and transaction) to
//! the service provider's notification URL"): `GET {notifyUrl}?<parameters>`, one session
//! notification per session change and one transaction notification per charge attempt
//! (unlimited for a subscription). PROVIDERS.md lists the session notification's parameters;
//! the transaction notification's, and the rule telling them apart (a `transactionId` makes it
//! a transaction notification), are ours (docs/providers/mocopay.md "Notifications").
//!
//! Notifications are unsigned hints: the adapter believes one only after verifyPayment agrees.
//! They are parsed strictly all the same (required parameters present, every value well formed,
//! a repeated name refused); parameters we do not know are ignored, since MoCoPay's list ends
//! in "...". The simulator builds them with `to_query` / `url`.

use crate::query::{
    self, check, opt_checked, opt_parsed, req_checked, req_parsed, ParamError, Params,
};
use crate::session::{SessionStatus, SessionType, TransactionStatus};

const MAX_ID: usize = 128;

fn id(v: &str) -> Result<(), String> {
    check::token(v, MAX_ID)
}

fn text(v: &str) -> Result<(), String> {
    check::text(v, MAX_ID)
}

fn reason(v: &str) -> Result<(), String> {
    check::text(v, 512)
}

/// A session's status as a notification carries it: any non-empty token (unknown ones are kept
/// in `SessionStatus::Other`).
fn status(v: &str) -> Result<SessionStatus, String> {
    check::token(v, 64).map(|_| SessionStatus::from(v))
}

/// The parameters both kinds share, `None`/empty ones omitted.
struct Common<'a> {
    session_id: &'a str,
    request_id: &'a str,
    reference_id: &'a str,
    session_type: SessionType,
    series: Option<i64>,
    user_id: &'a str,
    phone: &'a str,
    mcc: &'a str,
    mnc: &'a str,
    service_code: &'a str,
    pid: &'a str,
    lang: &'a str,
}

/// Notify URL + parameters, after the builder's own validation (the simulator must never send
/// what the adapter would refuse, except on purpose through raw queries).
fn join_notify_url(
    notify_url: &str,
    params: &[(&'static str, String)],
) -> Result<String, ParamError> {
    let base = query::http_url(notify_url).map_err(|why| ParamError::new("notifyUrl", why))?;
    Ok(query::append_query(&base, params).to_string())
}

impl Common<'_> {
    /// Pushes the shared parameters, `status` right after `sessionType`.
    fn push(&self, out: &mut Vec<(&'static str, String)>, status: &str) {
        query::push_opt(out, "sessionId", self.session_id);
        query::push_opt(out, "requestId", self.request_id);
        query::push_opt(out, "referenceId", self.reference_id);
        out.push(("sessionType", self.session_type.as_str().to_string()));
        out.push(("status", status.to_string()));
        if let Some(s) = self.series {
            out.push(("series", s.to_string()));
        }
        query::push_opt(out, "userId", self.user_id);
        query::push_opt(out, "phone", self.phone);
        query::push_opt(out, "mcc", self.mcc);
        query::push_opt(out, "mnc", self.mnc);
        query::push_opt(out, "serviceCode", self.service_code);
        query::push_opt(out, "pid", self.pid);
        query::push_opt(out, "lang", self.lang);
    }
}

/// A session notification: the session's state after a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionNotification {
    /// Required.
    pub session_id: String,
    /// initPayment's `requestId` (ours; optional).
    pub request_id: String,
    /// initPayment's `referenceId`, empty if none was sent.
    pub reference_id: String,
    /// `sessionType`, required.
    pub session_type: SessionType,
    /// Required.
    pub status: SessionStatus,
    pub series: Option<i64>,
    pub user_id: String,
    pub phone: String,
    pub mcc: String,
    pub mnc: String,
    pub service_code: String,
    /// Required.
    pub pid: String,
    pub lang: String,
    /// Required when an amount is present.
    pub currency_code: String,
    /// Amounts in minor units of `currency_code`, as in the session object.
    pub charged_amount: Option<i64>,
    pub failed_amount: Option<i64>,
    pub total_charged_amount: Option<i64>,
    pub total_failed_amount: Option<i64>,
    /// When the change happened, `YYYY-MM-DD HH:MM:SS` (ours; optional).
    pub time: String,
}

impl SessionNotification {
    fn common(&self) -> Common<'_> {
        Common {
            session_id: &self.session_id,
            request_id: &self.request_id,
            reference_id: &self.reference_id,
            session_type: self.session_type,
            series: self.series,
            user_id: &self.user_id,
            phone: &self.phone,
            mcc: &self.mcc,
            mnc: &self.mnc,
            service_code: &self.service_code,
            pid: &self.pid,
            lang: &self.lang,
        }
    }

    /// The parameters by wire name, empty ones left out.
    pub fn to_query(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        self.common().push(&mut out, self.status.as_str());
        query::push_opt(&mut out, "currencyCode", &self.currency_code);
        for (name, amount) in [
            ("chargedAmount", self.charged_amount),
            ("failedAmount", self.failed_amount),
            ("totalChargedAmount", self.total_charged_amount),
            ("totalFailedAmount", self.total_failed_amount),
        ] {
            if let Some(a) = amount {
                out.push((name, a.to_string()));
            }
        }
        query::push_opt(&mut out, "time", &self.time);
        out
    }

    /// `{notify_url}?...` (the simulator's GET), validated like the adapter parses it.
    pub fn url(&self, notify_url: &str) -> Result<String, ParamError> {
        let q = self.to_query();
        Self::from_params(&Params::from_pairs(q.iter().map(|(k, v)| (*k, v.clone())))?)?;
        join_notify_url(notify_url, &q)
    }

    pub fn from_params(p: &Params) -> Result<Self, ParamError> {
        let n = Self {
            session_id: req_checked(p, "sessionId", id)?,
            request_id: opt_checked(p, "requestId", id)?,
            reference_id: opt_checked(p, "referenceId", text)?,
            session_type: req_parsed(p, "sessionType", SessionType::parse)?,
            status: req_parsed(p, "status", status)?,
            series: opt_parsed(p, "series", check::integer)?,
            user_id: opt_checked(p, "userId", text)?,
            phone: opt_checked(p, "phone", check::phone)?,
            mcc: opt_checked(p, "mcc", check::mcc)?,
            mnc: opt_checked(p, "mnc", check::mnc)?,
            service_code: opt_checked(p, "serviceCode", id)?,
            pid: req_checked(p, "pid", id)?,
            lang: opt_checked(p, "lang", check::lang)?,
            currency_code: opt_checked(p, "currencyCode", check::currency_code)?,
            charged_amount: opt_parsed(p, "chargedAmount", check::amount)?,
            failed_amount: opt_parsed(p, "failedAmount", check::amount)?,
            total_charged_amount: opt_parsed(p, "totalChargedAmount", check::amount)?,
            total_failed_amount: opt_parsed(p, "totalFailedAmount", check::amount)?,
            time: opt_checked(p, "time", check::time)?,
        };
        let has_amount = [
            n.charged_amount,
            n.failed_amount,
            n.total_charged_amount,
            n.total_failed_amount,
        ]
        .iter()
        .any(Option::is_some);
        if has_amount && n.currency_code.is_empty() {
            return Err(ParamError::new("currencyCode", "required with an amount"));
        }
        Ok(n)
    }
}

/// A transaction notification (ours): one charge attempt of a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionNotification {
    /// Required: MoCoPay's id of the charge, the key of its one ledger transfer.
    pub transaction_id: String,
    /// Required.
    pub session_id: String,
    pub request_id: String,
    pub reference_id: String,
    /// `sessionType`, required.
    pub session_type: SessionType,
    /// `success` | `failed`, required.
    pub status: TransactionStatus,
    /// Required: minor units of `currency_code`; for `failed`, the amount attempted.
    pub amount: i64,
    /// Required.
    pub currency_code: String,
    pub series: Option<i64>,
    pub user_id: String,
    pub phone: String,
    pub mcc: String,
    pub mnc: String,
    pub service_code: String,
    /// Required.
    pub pid: String,
    pub lang: String,
    /// When the charge was made, `YYYY-MM-DD HH:MM:SS`.
    pub time: String,
    /// Why a `failed` charge failed (free text).
    pub reason: String,
}

impl TransactionNotification {
    fn common(&self) -> Common<'_> {
        Common {
            session_id: &self.session_id,
            request_id: &self.request_id,
            reference_id: &self.reference_id,
            session_type: self.session_type,
            series: self.series,
            user_id: &self.user_id,
            phone: &self.phone,
            mcc: &self.mcc,
            mnc: &self.mnc,
            service_code: &self.service_code,
            pid: &self.pid,
            lang: &self.lang,
        }
    }

    /// The parameters by wire name, empty ones left out.
    pub fn to_query(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![("transactionId", self.transaction_id.clone())];
        self.common().push(&mut out, self.status.as_str());
        out.push(("amount", self.amount.to_string()));
        out.push(("currencyCode", self.currency_code.clone()));
        query::push_opt(&mut out, "time", &self.time);
        query::push_opt(&mut out, "reason", &self.reason);
        out
    }

    /// `{notify_url}?...` (the simulator's GET), validated like the adapter parses it.
    pub fn url(&self, notify_url: &str) -> Result<String, ParamError> {
        let q = self.to_query();
        Self::from_params(&Params::from_pairs(q.iter().map(|(k, v)| (*k, v.clone())))?)?;
        join_notify_url(notify_url, &q)
    }

    pub fn from_params(p: &Params) -> Result<Self, ParamError> {
        Ok(Self {
            transaction_id: req_checked(p, "transactionId", id)?,
            session_id: req_checked(p, "sessionId", id)?,
            request_id: opt_checked(p, "requestId", id)?,
            reference_id: opt_checked(p, "referenceId", text)?,
            session_type: req_parsed(p, "sessionType", SessionType::parse)?,
            status: req_parsed(p, "status", TransactionStatus::parse)?,
            amount: req_parsed(p, "amount", check::amount)?,
            currency_code: req_checked(p, "currencyCode", check::currency_code)?,
            series: opt_parsed(p, "series", check::integer)?,
            user_id: opt_checked(p, "userId", text)?,
            phone: opt_checked(p, "phone", check::phone)?,
            mcc: opt_checked(p, "mcc", check::mcc)?,
            mnc: opt_checked(p, "mnc", check::mnc)?,
            service_code: opt_checked(p, "serviceCode", id)?,
            pid: req_checked(p, "pid", id)?,
            lang: opt_checked(p, "lang", check::lang)?,
            time: opt_checked(p, "time", check::time)?,
            reason: opt_checked(p, "reason", reason)?,
        })
    }
}

/// Either notification, as received on the notify URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notification {
    Session(SessionNotification),
    Transaction(TransactionNotification),
}

impl Notification {
    /// A `transactionId` makes it a transaction notification; otherwise a session one.
    pub fn from_params(p: &Params) -> Result<Self, ParamError> {
        if p.contains("transactionId") {
            TransactionNotification::from_params(p).map(Self::Transaction)
        } else {
            SessionNotification::from_params(p).map(Self::Session)
        }
    }

    /// The raw query of the GET (text after `?`).
    pub fn from_query(raw_query: &str) -> Result<Self, ParamError> {
        Self::from_params(&Params::from_query(raw_query)?)
    }

    pub fn session_id(&self) -> &str {
        match self {
            Self::Session(n) => &n.session_id,
            Self::Transaction(n) => &n.session_id,
        }
    }

    pub fn reference_id(&self) -> &str {
        match self {
            Self::Session(n) => &n.reference_id,
            Self::Transaction(n) => &n.reference_id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session_n() -> SessionNotification {
        SessionNotification {
            session_id: "518ec5708a8842dba19993f01ef863b5".into(),
            request_id: "9bf849fd215542088fa5c98b99a185a2".into(),
            reference_id: "20162016".into(),
            session_type: SessionType::Subscription,
            status: SessionStatus::Authorized,
            series: Some(120),
            user_id: "359276053656628".into(),
            phone: "0099923026".into(),
            mcc: "999".into(),
            mnc: "99".into(),
            service_code: "PS-000-002".into(),
            pid: "PP27638049".into(),
            lang: "hr".into(),
            currency_code: "TES".into(),
            charged_amount: Some(10),
            failed_amount: Some(0),
            total_charged_amount: Some(10),
            total_failed_amount: Some(0),
            time: "2014-04-02 14:35:30".into(),
        }
    }

    fn transaction_n() -> TransactionNotification {
        TransactionNotification {
            transaction_id: "e83ebf6c4eed42cbb2d4188cd6aa4c43".into(),
            session_id: "518ec5708a8842dba19993f01ef863b5".into(),
            request_id: String::new(),
            reference_id: "20162016".into(),
            session_type: SessionType::Subscription,
            status: TransactionStatus::Success,
            amount: 10,
            currency_code: "TES".into(),
            series: Some(120),
            user_id: "359276053656628".into(),
            phone: "0099923026".into(),
            mcc: "999".into(),
            mnc: "99".into(),
            service_code: "PS-000-002".into(),
            pid: "PP27638049".into(),
            lang: "hr".into(),
            time: "2014-04-02 14:35:30".into(),
            reason: String::new(),
        }
    }

    fn query_of(url: &str) -> &str {
        url.split_once('?').unwrap().1
    }

    #[test]
    fn session_notification_round_trips() {
        let n = session_n();
        let url = n.url("https://gw.example/mocopay/notify").unwrap();
        assert!(url.starts_with(
            "https://gw.example/mocopay/notify?sessionId=518ec5708a8842dba19993f01ef863b5&requestId=9bf849fd215542088fa5c98b99a185a2&referenceId=20162016&sessionType=subscription&status=Authorized&series=120"
        ), "{url}");
        assert_eq!(
            Notification::from_query(query_of(&url)).unwrap(),
            Notification::Session(n)
        );
    }

    #[test]
    fn transaction_notification_round_trips() {
        let mut n = transaction_n();
        n.status = TransactionStatus::Failed;
        n.reason = "insufficient funds & more".into();
        let url = n
            .url("https://gw.example/mocopay/notify?channel=7")
            .unwrap();
        assert!(url.starts_with("https://gw.example/mocopay/notify?channel=7&transactionId="));
        let back = Notification::from_query(query_of(&url)).unwrap();
        assert_eq!(back.session_id(), "518ec5708a8842dba19993f01ef863b5");
        assert_eq!(back.reference_id(), "20162016");
        assert_eq!(back, Notification::Transaction(n));
    }

    #[test]
    fn minimal_notifications_parse_and_unknown_parameters_are_ignored() {
        let n = Notification::from_query(
            "sessionId=s1&sessionType=onetime&status=PaymentComplete&pid=P1&futureField=x",
        )
        .unwrap();
        let Notification::Session(n) = n else {
            panic!()
        };
        assert_eq!(n.status, SessionStatus::PaymentComplete);
        assert_eq!(n.session_type, SessionType::OneTime);
        assert_eq!(n.charged_amount, None);

        let t = Notification::from_query(
            "transactionId=t1&sessionId=s1&sessionType=onetime&status=success&amount=250&currencyCode=EUR&pid=P1",
        )
        .unwrap();
        let Notification::Transaction(t) = t else {
            panic!()
        };
        assert_eq!(t.amount, 250);
    }

    #[test]
    fn session_notification_errors_name_the_parameter() {
        let good = "sessionId=s1&sessionType=onetime&status=Init&pid=P1";
        assert!(Notification::from_query(good).is_ok());
        for (extra_or_bad, param) in [
            ("sessionType=onetime&status=Init&pid=P1", "sessionId"),
            ("sessionId=s1&status=Init&pid=P1", "sessionType"),
            (
                "sessionId=s1&sessionType=weekly&status=Init&pid=P1",
                "sessionType",
            ),
            ("sessionId=s1&sessionType=onetime&pid=P1", "status"),
            ("sessionId=s1&sessionType=onetime&status=Init", "pid"),
            (
                "sessionId=s%201&sessionType=onetime&status=Init&pid=P1",
                "sessionId",
            ),
            (&format!("{good}&series=abc"), "series"),
            (&format!("{good}&mcc=9999"), "mcc"),
            (&format!("{good}&mnc=9"), "mnc"),
            (&format!("{good}&phone=x"), "phone"),
            (&format!("{good}&lang=HR"), "lang"),
            (
                &format!("{good}&chargedAmount=10&currencyCode=TES&chargedAmount=20"),
                "chargedAmount",
            ),
            (
                &format!("{good}&chargedAmount=10.5&currencyCode=EUR"),
                "chargedAmount",
            ),
            (
                &format!("{good}&chargedAmount=-1&currencyCode=EUR"),
                "chargedAmount",
            ),
            (&format!("{good}&chargedAmount=10"), "currencyCode"),
            (&format!("{good}&currencyCode=eur"), "currencyCode"),
            (&format!("{good}&time=yesterday"), "time"),
        ] {
            assert_eq!(
                Notification::from_query(extra_or_bad).unwrap_err().param,
                param,
                "{extra_or_bad}"
            );
        }
    }

    #[test]
    fn transaction_notification_errors_name_the_parameter() {
        let good = transaction_n().to_query();
        let q = |drop: &str, set: Option<(&'static str, &str)>| {
            let mut v: Vec<(&str, String)> =
                good.iter().filter(|(k, _)| *k != drop).cloned().collect();
            if let Some((k, val)) = set {
                v.retain(|(kk, _)| *kk != k);
                v.push((k, val.to_string()));
            }
            Notification::from_params(&Params::from_pairs(v).unwrap())
        };
        assert!(q("", None).is_ok());
        for required in [
            "sessionId",
            "sessionType",
            "status",
            "amount",
            "currencyCode",
            "pid",
        ] {
            assert_eq!(q(required, None).unwrap_err().param, required);
        }
        assert_eq!(q("", Some(("status", "ok"))).unwrap_err().param, "status");
        assert_eq!(q("", Some(("amount", "1e3"))).unwrap_err().param, "amount");
        assert_eq!(q("", Some(("amount", ""))).unwrap_err().param, "amount");
        assert_eq!(
            q("", Some(("currencyCode", "EURO"))).unwrap_err().param,
            "currencyCode"
        );
        assert_eq!(
            q("", Some(("transactionId", "a b"))).unwrap_err().param,
            "transactionId"
        );
        // the kind is decided by transactionId alone: without it, this is a session notification
        // (whose status `success` is no session status we know, so kept verbatim)
        let n = q("transactionId", None).unwrap();
        assert!(
            matches!(n, Notification::Session(s) if s.status == SessionStatus::Other("success".into()))
        );
    }

    #[test]
    fn builders_refuse_what_the_parser_would_refuse() {
        let mut n = transaction_n();
        n.mcc = "1".into();
        assert_eq!(n.url("https://gw.example/n").unwrap_err().param, "mcc");
        assert_eq!(
            transaction_n().url("not a url").unwrap_err().param,
            "notifyUrl"
        );
        let mut s = session_n();
        s.currency_code.clear();
        assert_eq!(
            s.url("https://gw.example/n").unwrap_err().param,
            "currencyCode"
        );
    }
}
