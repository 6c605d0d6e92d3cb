//! How the simulated MoCoPay's records read on the wire (docs/providers/mocopay.md, "Sandbox"):
//! the session object verifyPayment answers (every field of seed 004, plus ours) and the session
//! and transaction notifications, built as provider-mocopay's own types so that the adapter's
//! parsers accept them.

use super::sim::{SimSession, SimTransaction};
use chrono::{DateTime, Utc};
use provider_mocopay::{
    EndUser, Notification, ParamError, Session, SessionNotification, SessionType,
    TransactionNotification, TransactionStatus,
};
use std::collections::BTreeMap;

/// MoCoPay's time format (seed 004: `2014-04-02 14:34:53`), on the sandbox clock, UTC.
pub fn wire_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// Seed 004's test network (`999`/`99`), reported for test sessions.
const TEST_NETWORK: (&str, &str) = ("999", "99");
/// The network of a live session whose initPayment named none: Hrvatski Telekom (the seed's
/// language is `hr`).
const LIVE_NETWORK: (&str, &str) = ("219", "01");
/// The form's language when initPayment asked for none.
const DEFAULT_LANG: &str = "en";

/// A notification to send: GET `notify_url` with the notification's parameters.
#[derive(Debug, Clone)]
pub struct Notice {
    pub notify_url: String,
    pub notification: Notification,
}

impl Notice {
    /// `session:<status>` or `transaction:<status>` (the delivery log's kind).
    pub fn kind(&self) -> String {
        match &self.notification {
            Notification::Session(n) => format!("session:{}", n.status),
            Notification::Transaction(n) => format!("transaction:{}", n.status.as_str()),
        }
    }

    /// The session id, or the transaction id.
    pub fn reference(&self) -> &str {
        match &self.notification {
            Notification::Session(n) => &n.session_id,
            Notification::Transaction(n) => &n.transaction_id,
        }
    }

    /// The URL of the GET, validated like the adapter parses it.
    pub fn url(&self) -> Result<String, ParamError> {
        match &self.notification {
            Notification::Session(n) => n.url(&self.notify_url),
            Notification::Transaction(n) => n.url(&self.notify_url),
        }
    }
}

/// Amounts of a session's transactions (minor units of its currency code).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Amounts {
    /// The latest attempt's outcome: what it charged, what it failed to charge.
    charged: i64,
    failed: i64,
    last_charged: i64,
    last_failed: i64,
    total_charged: i64,
    total_failed: i64,
}

impl SimSession {
    /// MoCoPay's code of its money: `TES` in the test environment.
    pub fn currency_code(&self) -> &str {
        if self.test {
            provider_mocopay::currency::TEST_CODE
        } else {
            &self.currency
        }
    }

    fn network(&self) -> (String, String) {
        let (mcc, mnc) = if self.test {
            TEST_NETWORK
        } else {
            LIVE_NETWORK
        };
        if self.init.mcc.is_empty() {
            (mcc.into(), mnc.into())
        } else {
            (self.init.mcc.clone(), self.init.mnc.clone())
        }
    }

    /// initPayment's userId, else the phone (MoCoPay knows a buyer by their number).
    pub fn user_id(&self) -> &str {
        if self.init.user_id.is_empty() {
            &self.phone
        } else {
            &self.init.user_id
        }
    }

    fn lang(&self) -> &str {
        if self.init.lang.is_empty() {
            DEFAULT_LANG
        } else {
            &self.init.lang
        }
    }

    fn amounts(&self, transactions: &BTreeMap<String, SimTransaction>) -> Amounts {
        let mut a = Amounts::default();
        for t in self
            .transactions
            .iter()
            .filter_map(|id| transactions.get(id))
        {
            let ok = t.status == TransactionStatus::Success;
            (a.charged, a.failed) = if ok {
                (t.amount_minor, 0)
            } else {
                (0, t.amount_minor)
            };
            if ok {
                a.last_charged = t.amount_minor;
                a.total_charged += t.amount_minor;
            } else {
                a.last_failed = t.amount_minor;
                a.total_failed += t.amount_minor;
            }
        }
        a
    }

    /// The session object of seed 004, every field filled, as verifyPayment answers it.
    pub fn to_wire(
        &self,
        transactions: &BTreeMap<String, SimTransaction>,
        now: DateTime<Utc>,
    ) -> Session {
        let a = self.amounts(transactions);
        let (mcc, mnc) = self.network();
        let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
        let mut w = Session::new(
            self.session_id.clone().unwrap_or_default(),
            self.status.clone(),
        );
        w.request_id = Some(self.request_id.clone());
        w.reference_id = opt(&self.init.reference_id);
        w.service_code = Some(self.service_code.clone());
        w.pid = Some(self.init.pid.clone());
        w.session_type = Some(self.kind);
        w.end_user = Some(EndUser {
            user_id: opt(self.user_id()),
            phone: opt(&self.phone),
            mcc: Some(mcc),
            mnc: Some(mnc),
        });
        w.lang = Some(self.lang().into());
        w.series = Some(self.series);
        w.charged_amount = Some(a.charged);
        w.failed_amount = Some(a.failed);
        w.last_charged_amount = Some(a.last_charged);
        w.last_failed_amount = Some(a.last_failed);
        w.total_charged_amount = Some(a.total_charged);
        w.total_failed_amount = Some(a.total_failed);
        w.currency_code = Some(self.currency_code().into());
        w.recurrent = Some(self.kind == SessionType::Subscription);
        w.expires_in = Some((self.expires_at - now).num_seconds());
        w.time_init = Some(wire_time(self.time_init));
        w.time_authorized = self.time_authorized.map(wire_time);
        w.time_last_successful_payment = self.time_last_success.map(wire_time);
        w.transactions = self.transactions.clone();
        w
    }

    /// The session notification of the session as it is now.
    pub(super) fn session_notice(
        &self,
        transactions: &BTreeMap<String, SimTransaction>,
        now: DateTime<Utc>,
    ) -> Notice {
        let a = self.amounts(transactions);
        let (mcc, mnc) = self.network();
        Notice {
            notify_url: self.init.notify_url.clone(),
            notification: Notification::Session(SessionNotification {
                session_id: self.session_id.clone().unwrap_or_default(),
                request_id: self.request_id.clone(),
                reference_id: self.init.reference_id.clone(),
                session_type: self.kind,
                status: self.status.clone(),
                series: Some(self.series),
                user_id: self.user_id().into(),
                phone: self.phone.clone(),
                mcc,
                mnc,
                service_code: self.service_code.clone(),
                pid: self.init.pid.clone(),
                lang: self.lang().into(),
                currency_code: self.currency_code().into(),
                charged_amount: Some(a.charged),
                failed_amount: Some(a.failed),
                total_charged_amount: Some(a.total_charged),
                total_failed_amount: Some(a.total_failed),
                time: wire_time(now),
            }),
        }
    }

    /// The transaction notification of `t`.
    pub(super) fn transaction_notice(&self, t: &SimTransaction) -> Notice {
        let (mcc, mnc) = self.network();
        Notice {
            notify_url: self.init.notify_url.clone(),
            notification: Notification::Transaction(TransactionNotification {
                transaction_id: t.transaction_id.clone(),
                session_id: self.session_id.clone().unwrap_or_default(),
                request_id: self.request_id.clone(),
                reference_id: self.init.reference_id.clone(),
                session_type: self.kind,
                status: t.status,
                amount: t.amount_minor,
                currency_code: t.currency_code.clone(),
                series: Some(t.series),
                user_id: self.user_id().into(),
                phone: self.phone.clone(),
                mcc,
                mnc,
                service_code: self.service_code.clone(),
                pid: self.init.pid.clone(),
                lang: self.lang().into(),
                time: wire_time(t.at),
                reason: t.reason.clone(),
            }),
        }
    }
}
