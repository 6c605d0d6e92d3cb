//! The IPN (instant payment notification): mobilPay POSTs an envelope to the order's confirm URL;
//! opened, it is the original `<order>` with a `<mobilpay>` element added
//! (`Mobilpay_Payment_Request_Notify` in the PHP SDK reads and writes it):
//!
//! ```xml
//! <mobilpay timestamp="20260314103512" crc="9f1c...">
//!   <action>confirmed</action>
//!   <customer type="person"><first_name>Ana</first_name>...</customer>
//!   <purchase>1234567</purchase>
//!   <original_amount>12.34</original_amount>
//!   <processed_amount>12.34</processed_amount>
//!   <current_payment_count>1</current_payment_count>
//!   <pan_masked>9****5098</pan_masked>
//!   <payment_instrument_id>42</payment_instrument_id>
//!   <token_id>tok</token_id>
//!   <token_expiration_date>2027-03-31 00:00:00</token_expiration_date>
//!   <rrn>123456789012</rrn>
//!   <error code="0">Tranzactia aprobata</error>
//! </mobilpay>
//! ```
//!
//! `confirmed` with error 0 is money taken; `paid` is an authorisation only. Seed 003:
//! `current_payment_count` in the first IPN of a recurring order is 1 when the recurrence was
//! scheduled and 0 when it could not be (a 3-D Secure card); later IPNs carry n for the n-th payment.
//! The merchant answers every IPN with a `<crc>` document ([`super::crc`]).

use super::amount::{format_amount, parse_amount};
use super::error::WireError;
use super::order::{parse_timestamp, Contact, Order, TIMESTAMP_FORMAT};
use super::xml::{self, Element, XmlWriter};
use chrono::NaiveDateTime;
use paysys_platform::money::{Currency, Money};
use std::fmt;

/// `<action>`: where the payment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// `new`: created, nothing decided yet.
    New,
    /// `paid_pending`: authorisation under review; do not deliver.
    PaidPending,
    /// `confirmed_pending`: capture under antifraud review; do not deliver.
    ConfirmedPending,
    /// `paid`: authorised (money reserved, not taken).
    Paid,
    /// `confirmed`: captured; with error code 0 the money is taken.
    Confirmed,
    /// `credit`: refunded to the card holder.
    Credit,
    /// `canceled`: cancelled (mobilPay's spelling).
    Canceled,
}

impl Action {
    pub const ALL: [Action; 7] = [
        Action::New,
        Action::PaidPending,
        Action::ConfirmedPending,
        Action::Paid,
        Action::Confirmed,
        Action::Credit,
        Action::Canceled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::New => "new",
            Action::PaidPending => "paid_pending",
            Action::ConfirmedPending => "confirmed_pending",
            Action::Paid => "paid",
            Action::Confirmed => "confirmed",
            Action::Credit => "credit",
            Action::Canceled => "canceled",
        }
    }

    pub fn parse(text: &str) -> Option<Action> {
        let text = text.trim();
        Action::ALL.into_iter().find(|a| a.as_str() == text)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `code` of `<error>`: 0 approved, anything else why the card payment failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ErrorCode(pub u32);

impl ErrorCode {
    pub const APPROVED: ErrorCode = ErrorCode(0);
    pub const RISK: ErrorCode = ErrorCode(16);
    pub const BAD_CARD_NUMBER: ErrorCode = ErrorCode(17);
    pub const EXPIRED: ErrorCode = ErrorCode(19);
    pub const INSUFFICIENT_FUNDS: ErrorCode = ErrorCode(20);
    pub const BAD_CVV: ErrorCode = ErrorCode(21);
    pub const NOT_PERMITTED: ErrorCode = ErrorCode(34);
    pub const DECLINED: ErrorCode = ErrorCode(35);
    pub const ANTIFRAUD: ErrorCode = ErrorCode(36);
    pub const DUPLICATE: ErrorCode = ErrorCode(56);
    pub const GENERIC: ErrorCode = ErrorCode(99);

    /// Every code mobilPay documents (PHP_CARD README appendix), with its meaning.
    pub const TABLE: [(u32, &'static str); 25] = [
        (0, "approved"),
        (16, "card has a risk (e.g. stolen card)"),
        (17, "card number is incorrect"),
        (18, "closed card"),
        (19, "card is expired"),
        (20, "insufficient funds"),
        (21, "CVV2 code incorrect"),
        (22, "issuer is unavailable"),
        (32, "amount is incorrect"),
        (33, "currency is incorrect"),
        (34, "transaction not permitted to cardholder"),
        (35, "transaction declined"),
        (36, "transaction rejected by antifraud filters"),
        (37, "transaction declined (breaking the law)"),
        (38, "transaction declined"),
        (48, "invalid request"),
        (49, "duplicate PREAUTH"),
        (50, "duplicate AUTH"),
        (51, "you can only CANCEL a preauth order"),
        (52, "you can only CONFIRM a preauth order"),
        (53, "you can only CREDIT a confirmed order"),
        (54, "credit amount is higher than auth amount"),
        (55, "capture amount is higher than preauth amount"),
        (56, "duplicate request"),
        (99, "generic error"),
    ];

    pub fn is_approved(self) -> bool {
        self == ErrorCode::APPROVED
    }

    /// A human-readable reason, for a `payment_failed` notification's `failure_reason`.
    pub fn reason(self) -> &'static str {
        ErrorCode::TABLE
            .iter()
            .find(|(code, _)| *code == self.0)
            .map(|(_, reason)| *reason)
            .unwrap_or("unknown mobilPay error code")
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.0, self.reason())
    }
}

/// `<error code="N">message</error>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentError {
    pub code: ErrorCode,
    /// mobilPay's own text (Romanian), e.g. `Tranzactia aprobata`.
    pub message: String,
}

impl PaymentError {
    pub fn approved() -> PaymentError {
        PaymentError {
            code: ErrorCode::APPROVED,
            message: "Tranzactia aprobata".into(),
        }
    }

    /// A failure with the table's reason as its message.
    pub fn from_code(code: ErrorCode) -> PaymentError {
        PaymentError {
            code,
            message: code.reason().into(),
        }
    }
}

/// The `<mobilpay>` element: what mobilPay says happened to the order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notify {
    /// `timestamp` attribute (Romanian local time).
    pub timestamp: Option<NaiveDateTime>,
    /// `crc` attribute: a nonce the merchant's answer echoes (`<crc>{crc}</crc>`).
    pub crc: String,
    pub action: Action,
    /// `<customer>`: the card holder as mobilPay knows them.
    pub customer: Option<Contact>,
    /// `<purchase>`: mobilPay's id of this payment (a new one for every recurring charge).
    pub purchase: Option<String>,
    /// `<original_amount>`, read in the invoice's currency.
    pub original_amount: Option<Money>,
    /// `<processed_amount>`, read in the invoice's currency.
    pub processed_amount: Option<Money>,
    /// `<current_payment_count>` (seed 003): 1 in the first IPN = recurrence scheduled, 0 = it
    /// could not be; n in later IPNs. Absent when the SDK sender had none (the PHP SDK then
    /// assumes 1).
    pub current_payment_count: Option<u32>,
    /// `<pan_masked>`, e.g. `9****5098`.
    pub pan_masked: Option<String>,
    pub payment_instrument_id: Option<String>,
    pub token_id: Option<String>,
    /// `<token_expiration_date>`, `YYYY-MM-DD HH:MM:SS` as sent.
    pub token_expiration_date: Option<String>,
    /// `<rrn>`: the acquirer's retrieval reference number.
    pub rrn: Option<String>,
    pub error: PaymentError,
}

impl Notify {
    /// A notification with a fresh crc and nothing optional filled in.
    pub fn new(action: Action, error: PaymentError) -> Notify {
        Notify {
            timestamp: None,
            crc: new_crc(),
            action,
            customer: None,
            purchase: None,
            original_amount: None,
            processed_amount: None,
            current_payment_count: None,
            pan_masked: None,
            payment_instrument_id: None,
            token_id: None,
            token_expiration_date: None,
            rrn: None,
            error,
        }
    }

    fn write(&self, w: &mut XmlWriter) -> Result<(), WireError> {
        if self.crc.trim().is_empty() {
            return Err(WireError::missing("order.mobilpay.crc"));
        }
        let timestamp = self
            .timestamp
            .map(|t| t.format(TIMESTAMP_FORMAT).to_string());
        let mut attrs = Vec::new();
        if let Some(t) = &timestamp {
            attrs.push(("timestamp", t.as_str()));
        }
        attrs.push(("crc", self.crc.as_str()));
        w.open("mobilpay", &attrs);
        w.leaf("action", self.action.as_str());
        if let Some(customer) = &self.customer {
            customer.write(w, "customer");
        }
        w.opt_leaf("purchase", self.purchase.as_deref());
        for (name, amount) in [
            ("original_amount", &self.original_amount),
            ("processed_amount", &self.processed_amount),
        ] {
            if let Some(money) = amount {
                let text = format_amount(money)
                    .map_err(|e| WireError::new(format!("order.mobilpay.{name}"), e.to_string()))?;
                w.leaf(name, &text);
            }
        }
        if let Some(count) = self.current_payment_count {
            w.leaf("current_payment_count", &count.to_string());
        }
        w.opt_leaf("pan_masked", self.pan_masked.as_deref())
            .opt_leaf(
                "payment_instrument_id",
                self.payment_instrument_id.as_deref(),
            )
            .opt_leaf("token_id", self.token_id.as_deref())
            .opt_leaf(
                "token_expiration_date",
                self.token_expiration_date.as_deref(),
            )
            .opt_leaf("rrn", self.rrn.as_deref());
        let code = self.error.code.0.to_string();
        w.leaf_with("error", &[("code", &code)], &self.error.message);
        w.close("mobilpay");
        Ok(())
    }

    fn from_element(e: &Element, currency: Currency) -> Result<Notify, WireError> {
        let crc = e.req_attr("crc")?.trim().to_string();
        if crc.is_empty() {
            return Err(WireError::new(e.field("crc"), "is empty"));
        }
        let action_element = e.req_child("action")?;
        let action = Action::parse(action_element.text()).ok_or_else(|| {
            WireError::new(
                &action_element.path,
                format!("unknown action {:?}", action_element.text()),
            )
        })?;
        let text = |name: &str| -> Result<Option<String>, WireError> {
            Ok(e.child_text(name)?
                .filter(|t| !t.is_empty())
                .map(str::to_string))
        };
        let amount = |name: &str| -> Result<Option<Money>, WireError> {
            match e.child(name)? {
                Some(a) => parse_amount(a.text(), currency)
                    .map(Some)
                    .map_err(|why| WireError::new(&a.path, why.to_string())),
                None => Ok(None),
            }
        };
        let current_payment_count = match e.child("current_payment_count")? {
            Some(c) => Some(c.text().parse::<u32>().map_err(|_| {
                WireError::new(&c.path, format!("{:?} is not a whole number", c.text()))
            })?),
            None => None,
        };
        let error_element = e.req_child("error")?;
        let code_text = error_element.req_attr("code")?;
        let code = code_text.trim().parse::<u32>().map_err(|_| {
            WireError::new(
                error_element.field("code"),
                format!("{code_text:?} is not a whole number"),
            )
        })?;
        Ok(Notify {
            timestamp: parse_timestamp(e, "timestamp")?,
            crc,
            action,
            customer: e
                .child("customer")?
                .map(Contact::from_element)
                .transpose()?,
            purchase: text("purchase")?,
            original_amount: amount("original_amount")?,
            processed_amount: amount("processed_amount")?,
            current_payment_count,
            pan_masked: text("pan_masked")?,
            payment_instrument_id: text("payment_instrument_id")?,
            token_id: text("token_id")?,
            token_expiration_date: text("token_expiration_date")?,
            rrn: text("rrn")?,
            error: PaymentError {
                code: ErrorCode(code),
                message: error_element.text().to_string(),
            },
        })
    }
}

/// An opened IPN: the order as the merchant sent it, and mobilPay's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ipn {
    pub order: Order,
    pub notify: Notify,
}

impl Ipn {
    /// Reads the XML of an opened IPN. Every error names its element, e.g.
    /// `order.mobilpay.error.code: "x" is not a whole number`.
    pub fn from_xml(xml: &str) -> Result<Ipn, WireError> {
        let root = xml::parse(xml)?;
        let order = Order::from_element(&root)?;
        let notify =
            Notify::from_element(root.req_child("mobilpay")?, order.invoice.amount.currency)?;
        Ok(Ipn { order, notify })
    }

    /// [`Ipn::from_xml`] for the bytes [`super::OpeningKey::open`] returns.
    pub fn from_bytes(bytes: &[u8]) -> Result<Ipn, WireError> {
        let xml = std::str::from_utf8(bytes)
            .map_err(|e| WireError::new("xml", format!("not UTF-8: {e}")))?;
        Ipn::from_xml(xml)
    }

    /// The IPN document (what the sandbox seals and posts): the order, then `<mobilpay>`.
    pub fn to_xml(&self) -> Result<String, WireError> {
        let mut w = XmlWriter::document();
        self.order.write(&mut w, |w| self.notify.write(w))?;
        Ok(w.finish())
    }

    /// `confirmed` with error 0: the money is taken (an authorisation alone is `paid`).
    pub fn money_taken(&self) -> bool {
        self.notify.action == Action::Confirmed && self.notify.error.code.is_approved()
    }
}

/// A fresh `crc` nonce: 32 hex digits, like the SDK's `md5(rand() . time())` but from the OS RNG.
pub fn new_crc() -> String {
    let mut bytes = [0u8; 16];
    if aws_lc_rs::rand::fill(&mut bytes).is_err() {
        // Only a nonce for the answer to echo; uniqueness from the clock is enough here.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        bytes = nanos.to_be_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests;
