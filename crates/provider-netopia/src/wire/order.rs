//! The v1 card order, `<order type="card">`, that the merchant seals for mobilPay's payment page
//! and that comes back, with `<mobilpay>` added, in every IPN.
//!
//! The shape follows mobilPay's PHP SDK (`Mobilpay_Payment_Request_Card::_prepare`,
//! `Mobilpay_Payment_Invoice`, `Mobilpay_Payment_Address`):
//!
//! ```xml
//! <?xml version="1.0" encoding="utf-8"?>
//! <order type="card" id="ord-42" timestamp="20260314103000">
//!   <signature>XXXX-XXXX-XXXX-XXXX-XXXX</signature>
//!   <invoice currency="RON" amount="12.34">
//!     <details>Abonament+lunar</details>
//!     <contact_info><billing type="person"><first_name>Ana</first_name>...</billing></contact_info>
//!   </invoice>
//!   <recurrence payments_no="12" interval_day="30"/>
//!   <ipn_cipher>aes-256-cbc</ipn_cipher>
//!   <params><param><name>merchant_order</name><value>A-1</value></param></params>
//!   <url><confirm>https://.../netopia/ipn</confirm><return>https://.../back</return></url>
//! </order>
//! ```
//!
//! Quirks kept on purpose:
//! - `details`, the contact fields and param values are PHP-`urlencode`d inside the element (the
//!   SDK writes them so and `urldecode`s them when reading), so "Ana Maria" travels as `Ana+Maria`.
//! - Recurrence (seed 003: two integer attributes, `payments_no` and `interval_day`) is written as
//!   `<recurrence payments_no=".." interval_day=".."/>`, a child of `<order>` after `<invoice>`.
//!   The seed names the attributes but not their element, and mobilPay's public PHP_CARD SDK has
//!   no recurrence support; this is where the Omnipay mobilPay gateway (`PaymentRecurrence::
//!   createXmlElement`, appended by `Card::prepare` after the invoice) and the `Mobilpay_Payment_
//!   Recurrence` class its code refers to put them. Reading also accepts the two attributes
//!   directly on `<order>`, the other reading of the seed.
//! - `ipn_cipher` asks mobilPay to seal the IPN with that cipher (the SDK sends the request's own).

use super::amount::{format_amount, parse_amount};
use super::envelope::Cipher;
use super::error::WireError;
use super::urlcoding::{php_urldecode, php_urlencode};
use super::xml::{self, Element, XmlWriter};
use chrono::NaiveDateTime;
use paysys_platform::money::{Currency, Money};

/// `YYYYmmddHHiiss` (PHP `date('YmdHis')`), the `timestamp` of `<order>` and `<mobilpay>`.
pub const TIMESTAMP_FORMAT: &str = "%Y%m%d%H%M%S";

/// A card order (`<order type="card">`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    /// `id`: the merchant's order id, unique per seller account, at most 64 characters.
    pub id: String,
    /// `timestamp`: when the order was made, Romanian local time (mobilPay's clock).
    pub timestamp: NaiveDateTime,
    /// `<signature>`: the seller account id, `XXXX-XXXX-XXXX-XXXX-XXXX`.
    pub signature: String,
    pub invoice: Invoice,
    /// `<recurrence payments_no interval_day>`: present for a subscription (seed 003).
    pub recurrence: Option<Recurrence>,
    /// `<ipn_cipher>`: the cipher mobilPay should seal IPNs with.
    pub ipn_cipher: Option<Cipher>,
    /// `<params>`: name/value pairs mobilPay echoes back in the IPN, in order.
    pub params: Vec<(String, String)>,
    /// `<url><confirm>`: where mobilPay posts IPNs (else the account's configured URL).
    pub confirm_url: Option<String>,
    /// `<url><return>`: where the payment page sends the user back.
    pub return_url: Option<String>,
}

/// `<invoice>`: what is paid, and by whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invoice {
    /// `currency` and `amount` (`%.02f`).
    pub amount: Money,
    /// `<details>`: the description shown on the payment page.
    pub details: Option<String>,
    /// `token_id` attribute: charge a stored card token instead of asking for a card.
    pub token_id: Option<String>,
    /// `<contact_info><billing>`.
    pub billing: Option<Contact>,
    /// `<contact_info><shipping>`.
    pub shipping: Option<Contact>,
}

/// `type` of a `<billing>`, `<shipping>` or `<customer>` element.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ContactKind {
    #[default]
    Person,
    Company,
}

impl ContactKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ContactKind::Person => "person",
            ContactKind::Company => "company",
        }
    }

    pub fn parse(text: &str) -> Option<ContactKind> {
        match text.trim() {
            "person" => Some(ContactKind::Person),
            "company" => Some(ContactKind::Company),
            _ => None,
        }
    }
}

/// A billing/shipping address or the IPN's `<customer>`: every field optional, as in the SDK.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Contact {
    pub kind: ContactKind,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub address: Option<String>,
    pub email: Option<String>,
    pub mobile_phone: Option<String>,
}

/// Seed 003's recurrence request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Recurrence {
    /// Total number of payments, the first (this order) included: 5 = this one and 4 more.
    /// `0` = unlimited.
    pub payments_no: u32,
    /// Days between payments; at least 1.
    pub interval_day: u32,
}

impl Order {
    /// mobilPay's limit on `id` (`string(64)` in the SDK).
    pub const MAX_ID_LEN: usize = 64;

    /// An order with no recurrence, params, URLs or contact data.
    pub fn new(
        id: impl Into<String>,
        timestamp: NaiveDateTime,
        signature: impl Into<String>,
        invoice: Invoice,
    ) -> Order {
        Order {
            id: id.into(),
            timestamp,
            signature: signature.into(),
            invoice,
            recurrence: None,
            ipn_cipher: None,
            params: Vec::new(),
            confirm_url: None,
            return_url: None,
        }
    }

    /// The XML document to seal. Fails (naming the field) on values mobilPay would refuse: an
    /// empty or over-long id, an empty signature, a negative amount, `interval_day` 0.
    pub fn to_xml(&self) -> Result<String, WireError> {
        let mut w = XmlWriter::document();
        self.write(&mut w, |_| Ok(()))?;
        Ok(w.finish())
    }

    /// Reads an order (a payment-page POST, once opened). Every error names its field.
    pub fn from_xml(xml: &str) -> Result<Order, WireError> {
        Order::from_element(&xml::parse(xml)?)
    }

    /// Writes `<order>`; `inner` adds elements before `</order>` (the IPN's `<mobilpay>`).
    pub(crate) fn write(
        &self,
        w: &mut XmlWriter,
        inner: impl FnOnce(&mut XmlWriter) -> Result<(), WireError>,
    ) -> Result<(), WireError> {
        self.validate()?;
        let timestamp = self.timestamp.format(TIMESTAMP_FORMAT).to_string();
        w.open(
            "order",
            &[
                ("type", "card"),
                ("id", &self.id),
                ("timestamp", &timestamp),
            ],
        );
        w.leaf("signature", &self.signature);
        self.invoice.write(w)?;
        if let Some(r) = &self.recurrence {
            w.empty(
                "recurrence",
                &[
                    ("payments_no", &r.payments_no.to_string()),
                    ("interval_day", &r.interval_day.to_string()),
                ],
            );
        }
        if let Some(cipher) = self.ipn_cipher {
            w.leaf("ipn_cipher", cipher.as_str());
        }
        if !self.params.is_empty() {
            w.open("params", &[]);
            for (name, value) in &self.params {
                w.open("param", &[])
                    .leaf("name", name.trim())
                    .leaf("value", &php_urlencode(value))
                    .close("param");
            }
            w.close("params");
        }
        if self.confirm_url.is_some() || self.return_url.is_some() {
            w.open("url", &[])
                .opt_leaf("confirm", self.confirm_url.as_deref())
                .opt_leaf("return", self.return_url.as_deref())
                .close("url");
        }
        inner(w)?;
        w.close("order");
        Ok(())
    }

    fn validate(&self) -> Result<(), WireError> {
        let id_len = self.id.chars().count();
        if id_len == 0 || id_len > Order::MAX_ID_LEN {
            return Err(WireError::new(
                "order.id",
                format!("must be 1 to {} characters, is {id_len}", Order::MAX_ID_LEN),
            ));
        }
        if self.signature.trim().is_empty() {
            return Err(WireError::missing("order.signature"));
        }
        if let Some(r) = &self.recurrence {
            if r.interval_day == 0 {
                return Err(WireError::new(
                    "order.recurrence.interval_day",
                    "must be at least 1",
                ));
            }
        }
        Ok(())
    }

    pub(crate) fn from_element(root: &Element) -> Result<Order, WireError> {
        if root.name != "order" {
            return Err(WireError::new(
                "order",
                format!("the document's root is <{}>", root.name),
            ));
        }
        let kind = root.req_attr("type")?;
        if kind != "card" {
            return Err(WireError::new(
                root.field("type"),
                format!("{kind:?} is not a card order"),
            ));
        }
        let id = root.req_attr("id")?.trim().to_string();
        let id_len = id.chars().count();
        if id_len == 0 || id_len > Order::MAX_ID_LEN {
            return Err(WireError::new(
                root.field("id"),
                format!("must be 1 to {} characters", Order::MAX_ID_LEN),
            ));
        }
        let timestamp = parse_timestamp(root, "timestamp")?
            .ok_or_else(|| WireError::missing(root.field("timestamp")))?;
        let signature = root.req_child("signature")?.text().to_string();
        if signature.is_empty() {
            return Err(WireError::new(root.field("signature"), "is empty"));
        }
        let invoice = Invoice::from_element(root.req_child("invoice")?)?;
        let recurrence = match root.child("recurrence")? {
            Some(r) => Some(Recurrence::from_attrs(r, true)?),
            None if root.attr("payments_no").is_some() || root.attr("interval_day").is_some() => {
                Some(Recurrence::from_attrs(root, false)?)
            }
            None => None,
        };
        let ipn_cipher = match root.child("ipn_cipher")? {
            Some(e) => Some(Cipher::parse(e.text()).ok_or_else(|| {
                WireError::new(&e.path, format!("unknown cipher {:?}", e.text()))
            })?),
            None => None,
        };
        let mut params = Vec::new();
        if let Some(list) = root.child("params")? {
            for param in list.children_named("param") {
                let name = param.req_child("name")?.text().to_string();
                let value = param.req_child("value")?;
                params.push((name, decoded(value)?));
            }
        }
        let (confirm_url, return_url) = match root.child("url")? {
            Some(url) => (
                url.child_text("confirm")?.map(str::to_string),
                url.child_text("return")?.map(str::to_string),
            ),
            None => (None, None),
        };
        Ok(Order {
            id,
            timestamp,
            signature,
            invoice,
            recurrence,
            ipn_cipher,
            params,
            confirm_url,
            return_url,
        })
    }
}

impl Invoice {
    pub fn new(amount: Money) -> Invoice {
        Invoice {
            amount,
            details: None,
            token_id: None,
            billing: None,
            shipping: None,
        }
    }

    fn write(&self, w: &mut XmlWriter) -> Result<(), WireError> {
        let amount = format_amount(&self.amount)
            .map_err(|e| WireError::new("order.invoice.amount", e.to_string()))?;
        let mut attrs = vec![
            ("currency", self.amount.currency.as_str()),
            ("amount", &amount),
        ];
        if let Some(token) = &self.token_id {
            attrs.push(("token_id", token));
        }
        w.open("invoice", &attrs);
        if let Some(details) = &self.details {
            w.leaf("details", &php_urlencode(details));
        }
        if self.billing.is_some() || self.shipping.is_some() {
            w.open("contact_info", &[]);
            if let Some(billing) = &self.billing {
                billing.write(w, "billing");
            }
            if let Some(shipping) = &self.shipping {
                shipping.write(w, "shipping");
            }
            w.close("contact_info");
        }
        w.close("invoice");
        Ok(())
    }

    fn from_element(e: &Element) -> Result<Invoice, WireError> {
        let currency_text = e.req_attr("currency")?;
        let currency = Currency::parse(currency_text)
            .map_err(|why| WireError::new(e.field("currency"), why))?;
        let amount = parse_amount(e.req_attr("amount")?, currency)
            .map_err(|why| WireError::new(e.field("amount"), why.to_string()))?;
        let details = match e.child("details")? {
            Some(d) => Some(decoded(d)?),
            None => None,
        };
        let (billing, shipping) = match e.child("contact_info")? {
            Some(info) => (
                info.child("billing")?
                    .map(Contact::from_element)
                    .transpose()?,
                info.child("shipping")?
                    .map(Contact::from_element)
                    .transpose()?,
            ),
            None => (None, None),
        };
        Ok(Invoice {
            amount,
            details,
            token_id: e.attr("token_id").map(str::to_string),
            billing,
            shipping,
        })
    }
}

impl Contact {
    pub(crate) fn write(&self, w: &mut XmlWriter, element: &str) {
        w.open(element, &[("type", self.kind.as_str())]);
        for (name, value) in self.fields() {
            if let Some(value) = value {
                w.leaf(name, &php_urlencode(value));
            }
        }
        w.close(element);
    }

    fn fields(&self) -> [(&'static str, Option<&String>); 5] {
        [
            ("first_name", self.first_name.as_ref()),
            ("last_name", self.last_name.as_ref()),
            ("address", self.address.as_ref()),
            ("email", self.email.as_ref()),
            ("mobile_phone", self.mobile_phone.as_ref()),
        ]
    }

    pub(crate) fn from_element(e: &Element) -> Result<Contact, WireError> {
        // The SDK reads a missing type as "person".
        let kind = match e.attr("type") {
            None => ContactKind::Person,
            Some(t) => ContactKind::parse(t).ok_or_else(|| {
                WireError::new(
                    e.field("type"),
                    format!("{t:?} is neither person nor company"),
                )
            })?,
        };
        let field = |name: &str| -> Result<Option<String>, WireError> {
            e.child(name)?.map(decoded).transpose()
        };
        Ok(Contact {
            kind,
            first_name: field("first_name")?,
            last_name: field("last_name")?,
            address: field("address")?,
            email: field("email")?,
            mobile_phone: field("mobile_phone")?,
        })
    }
}

impl Recurrence {
    fn from_attrs(e: &Element, own_element: bool) -> Result<Recurrence, WireError> {
        let path = |name: &str| {
            if own_element {
                e.field(name)
            } else {
                format!("order.{name}")
            }
        };
        let number = |name: &str| -> Result<u32, WireError> {
            let text = e.attr(name).ok_or_else(|| WireError::missing(path(name)))?;
            text.trim()
                .parse::<u32>()
                .map_err(|_| WireError::new(path(name), format!("{text:?} is not a whole number")))
        };
        let recurrence = Recurrence {
            payments_no: number("payments_no")?,
            interval_day: number("interval_day")?,
        };
        if recurrence.interval_day == 0 {
            return Err(WireError::new(path("interval_day"), "must be at least 1"));
        }
        Ok(recurrence)
    }
}

/// Text of an element the SDK urlencodes (`details`, contact fields, param values).
fn decoded(e: &Element) -> Result<String, WireError> {
    php_urldecode(e.text()).ok_or_else(|| WireError::new(&e.path, "urlencoded bytes are not UTF-8"))
}

/// A `YYYYmmddHHiiss` attribute of `e`, if present.
pub(crate) fn parse_timestamp(e: &Element, name: &str) -> Result<Option<NaiveDateTime>, WireError> {
    let Some(text) = e.attr(name) else {
        return Ok(None);
    };
    let text = text.trim();
    let bad = || WireError::new(e.field(name), format!("{text:?} is not YYYYmmddHHiiss"));
    if text.len() != 14 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    NaiveDateTime::parse_from_str(text, TIMESTAMP_FORMAT)
        .map(Some)
        .map_err(|_| bad())
}

#[cfg(test)]
pub(crate) mod tests;
