//! Merchant requests parsed once into values that cannot be invalid (parse, don't validate).
//! `OrderRequest` is the body of `set_transaction_sync`, `set_transaction` and `set_subscription`
//! in the seeds' shape (000, 001, 002, 004).

use crate::jsonrpc::RpcError;
use crate::params::Fields;
use paysys_platform::money::{Currency, Money};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

pub use paysys_platform::domain::{Msisdn, OrderId as TransExtId};

#[derive(Debug, Clone, Serialize)]
pub struct Article {
    pub prod_id: String,
    pub sap_index: Option<String>,
    pub vat_rate: Option<String>,
    pub name: String,
    pub quantity: i64,
    /// Gross unit price in minor units.
    pub price: i64,
    pub config: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Customer {
    pub ext_id: Option<String>,
    pub email: Option<String>,
    pub phone: Option<Msisdn>,
    pub firstname: Option<String>,
    pub lastname: Option<String>,
    pub company: Option<String>,
    pub street: Option<String>,
    pub city: Option<String>,
    pub postcode: Option<String>,
    pub country: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct OrderRequest {
    pub merchant_id: String,
    pub trans_ext_id: TransExtId,
    pub channel_id: String,
    pub currency: Currency,
    /// `payment.amount`: already paid (seed 001: "0 if payment is to be started").
    pub already_paid: i64,
    pub articles: Vec<Article>,
    pub customer: Customer,
    pub client_ip: Option<String>,
    pub next_url: Option<String>,
    pub test: bool,
    pub payment_config: BTreeMap<String, String>,
    /// `payment.validity_time` (seed 001), seconds; left out of the fingerprint when absent, so
    /// orders stored before it existed keep theirs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validity_time: Option<i64>,
}

impl OrderRequest {
    /// Parses `params`; `-32602` naming every bad field otherwise.
    pub fn parse(params: &Value) -> Result<Self, RpcError> {
        let mut f = Fields::new();
        if !params.is_object() {
            return Err(RpcError::invalid_field("params", "must be an object"));
        }
        let merchant_id = f.string(params, "merchant_id", "merchant_id", 64);
        let trans_ext_id = f
            .string(params, "trans_ext_id", "trans_ext_id", 64)
            .and_then(|s| {
                TransExtId::parse(&s)
                    .map_err(|e| f.fail("trans_ext_id", e))
                    .ok()
            });
        let mut channel_id = None;
        let mut currency = None;
        let mut already_paid = 0;
        let mut payment_config = BTreeMap::new();
        let mut validity_time = None;
        if let Some(p) = f.object(params, "payment", "payment") {
            let p = Value::Object(p.clone());
            channel_id = f.string(&p, "channel_id", "payment.channel_id", 64);
            currency = f
                .string(&p, "currency", "payment.currency", 3)
                .and_then(|c| {
                    Currency::parse(&c)
                        .map_err(|e| f.fail("payment.currency", e))
                        .ok()
                });
            if let Some(a) = f.opt_integer(&p, "amount", "payment.amount") {
                if a < 0 {
                    f.fail("payment.amount", "must not be negative");
                }
                already_paid = a;
            }
            payment_config = config_map(&mut f, p.get("config"), "payment.config");
            if let Some(v) = f.opt_integer(&p, "validity_time", "payment.validity_time") {
                if !(1..=MAX_VALIDITY_SECS).contains(&v) {
                    f.fail(
                        "payment.validity_time",
                        format!("must be from 1 to {MAX_VALIDITY_SECS} seconds"),
                    );
                }
                validity_time = Some(v);
            }
        }
        let mut articles = Vec::new();
        match params.get("articles") {
            Some(Value::Array(items)) if !items.is_empty() && items.len() <= 100 => {
                for (i, a) in items.iter().enumerate() {
                    let path = |k: &str| format!("articles[{i}].{k}");
                    if !a.is_object() {
                        f.fail(&format!("articles[{i}]"), "must be an object");
                        continue;
                    }
                    let prod_id = f.string(a, "prod_id", &path("prod_id"), 64);
                    let sap_index = f.opt_string(a, "sap_index", &path("sap_index"), 64);
                    let vat_rate = match a.get("vat_rate") {
                        None | Some(Value::Null) => None,
                        Some(_) => f.decimal(a, "vat_rate", &path("vat_rate")).and_then(|v| {
                            let whole: f64 = v.parse().unwrap_or(1000.0);
                            // VAT is a percentage, not money: comparing as a number is fine.
                            if whole > 100.0 {
                                f.fail(&path("vat_rate"), "must be a percentage between 0 and 100");
                                None
                            } else {
                                Some(v)
                            }
                        }),
                    };
                    let name = f.string(a, "name", &path("name"), 255);
                    let quantity = f.integer(a, "quantity", &path("quantity")).and_then(|q| {
                        if (1..=10_000).contains(&q) {
                            Some(q)
                        } else {
                            f.fail(&path("quantity"), "must be between 1 and 10000");
                            None
                        }
                    });
                    let price = f.integer(a, "price", &path("price")).and_then(|p| {
                        if (0..=100_000_000).contains(&p) {
                            Some(p)
                        } else {
                            f.fail(
                                &path("price"),
                                "must be a gross unit price in minor units between 0 and 100000000",
                            );
                            None
                        }
                    });
                    let config = config_map(&mut f, a.get("config"), &path("config"));
                    if let (Some(prod_id), Some(name), Some(quantity), Some(price)) =
                        (prod_id, name, quantity, price)
                    {
                        articles.push(Article {
                            prod_id,
                            sap_index,
                            vat_rate,
                            name,
                            quantity,
                            price,
                            config,
                        });
                    }
                }
            }
            Some(Value::Array(items)) if items.is_empty() => {
                f.fail("articles", "must hold at least one article")
            }
            Some(Value::Array(_)) => f.fail("articles", "must hold at most 100 articles"),
            None | Some(Value::Null) => f.fail("articles", "required"),
            Some(_) => f.fail("articles", "must be an array"),
        }
        let mut customer = Customer::default();
        if let Some(c) = f.object(params, "customer", "customer") {
            let c = Value::Object(c.clone());
            customer.ext_id = f.opt_string(&c, "ext_id", "customer.ext_id", 64);
            customer.email = f
                .opt_string(&c, "email", "customer.email", 254)
                .and_then(|e| {
                    let ok = e.split_once('@').is_some_and(|(l, d)| {
                        !l.is_empty() && d.contains('.') && !d.starts_with('.') && !d.ends_with('.')
                    });
                    if ok {
                        Some(e)
                    } else {
                        f.fail("customer.email", "must be an e-mail address");
                        None
                    }
                });
            customer.phone = f
                .opt_string(&c, "phone", "customer.phone", 20)
                .and_then(|p| {
                    Msisdn::parse(&p)
                        .map_err(|e| f.fail("customer.phone", e))
                        .ok()
                });
            customer.firstname = f.opt_string(&c, "firstname", "customer.firstname", 100);
            customer.lastname = f.opt_string(&c, "lastname", "customer.lastname", 100);
            customer.company = f
                .opt_string(&c, "company", "customer.company", 200)
                .or_else(|| f.opt_string(&c, "name", "customer.name", 200));
            customer.street = f.opt_string(&c, "street", "customer.street", 200);
            customer.city = f.opt_string(&c, "city", "customer.city", 100);
            customer.postcode = f.opt_string(&c, "postcode", "customer.postcode", 20);
            customer.country = f
                .opt_string(&c, "country", "customer.country", 2)
                .and_then(|c| {
                    if c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic()) {
                        Some(c.to_ascii_uppercase())
                    } else {
                        f.fail("customer.country", "must be an ISO 3166 two-letter code");
                        None
                    }
                });
        }
        let client_ip = f
            .opt_string(params, "client_ip", "client_ip", 45)
            .and_then(|ip| {
                ip.parse::<std::net::IpAddr>()
                    .map(|_| ip)
                    .map_err(|_| f.fail("client_ip", "must be an IPv4 or IPv6 address"))
                    .ok()
            });
        let next_url = f
            .opt_string(params, "next_url", "next_url", 2048)
            .and_then(|u| match url::Url::parse(&u) {
                Ok(p) if p.scheme() == "http" || p.scheme() == "https" => Some(u),
                _ => {
                    f.fail("next_url", "must be an http(s) URL");
                    None
                }
            });
        let test = f.opt_bool(params, "test", "test").unwrap_or(false);
        f.opt_bool(params, "invoice_required", "invoice_required");
        for k in ["seller_id", "user_agreements", "invoice_series_id"] {
            f.opt_string(params, k, k, 64);
        }
        let total = articles.iter().try_fold(0i64, |acc, a| {
            a.price
                .checked_mul(a.quantity)
                .and_then(|x| acc.checked_add(x))
        });
        match total {
            None => f.fail("articles", "total is too large"),
            Some(t) if !f.has_errors() && already_paid > t => {
                f.fail("payment.amount", "exceeds the articles' total")
            }
            _ => {}
        }
        f.finish()?;
        match (merchant_id, trans_ext_id, channel_id, currency) {
            (Some(merchant_id), Some(trans_ext_id), Some(channel_id), Some(currency)) => Ok(Self {
                merchant_id,
                trans_ext_id,
                channel_id,
                currency,
                already_paid,
                articles,
                customer,
                client_ip,
                next_url,
                test,
                payment_config,
                validity_time,
            }),
            _ => Err(RpcError::internal(
                "parameters passed validation but are incomplete",
            )),
        }
    }

    /// What the end user pays now: sum of price x quantity less what is already paid.
    pub fn amount(&self) -> Money {
        let total: i64 = self.articles.iter().map(|a| a.price * a.quantity).sum();
        Money::new(total - self.already_paid, self.currency)
    }

    /// Fingerprint of the request's content, to tell an identical retry from a reused id.
    pub fn fingerprint(&self, method: &str) -> String {
        let canonical = serde_json::to_string(&(method, self)).unwrap_or_default();
        hex::encode(Sha256::digest(canonical.as_bytes()))
    }

    /// Product name shown to the end user: the first article's name (+ "and N more").
    pub fn product_name(&self) -> String {
        match self.articles.len() {
            0 => String::new(),
            1 => self.articles[0].name.clone(),
            n => format!("{} and {} more", self.articles[0].name, n - 1),
        }
    }

    /// Article-level config merged (seed 001: `teleaudio_service_id`).
    pub fn article_config(&self) -> BTreeMap<String, String> {
        self.articles
            .iter()
            .flat_map(|a| a.config.clone())
            .collect()
    }
}

/// The longest name and value of a `config` entry.
const CONFIG_NAME_MAX: usize = 64;
const CONFIG_VALUE_MAX: usize = 255;

/// Why a `config` name or value cannot be handed to a provider: too long, or with control or
/// bidirectional control characters (as every other text parameter).
fn config_text(s: &str, max: usize) -> Option<String> {
    if s.chars().count() > max {
        Some(format!("must be at most {max} characters"))
    } else if s.chars().any(char::is_control) {
        Some("must not contain control characters".into())
    } else if s.chars().any(crate::params::is_bidi_control) {
        Some("must not contain bidirectional control characters".into())
    } else {
        None
    }
}

/// `config` as seed 001 writes it (`[{"name": .., "value": ..}]`) or as a plain object. Names are
/// 1 to 64 characters, values at most 255.
fn config_map(f: &mut Fields, v: Option<&Value>, path: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let scalar = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    let name_problem = |n: &str| {
        if n.is_empty() {
            Some("names must not be empty".to_string())
        } else {
            config_text(n, CONFIG_NAME_MAX).map(|why| format!("names {why}"))
        }
    };
    match v {
        None | Some(Value::Null) => {}
        Some(Value::Object(o)) => {
            for (k, v) in o {
                if let Some(why) = name_problem(k) {
                    f.fail(path, why);
                    continue;
                }
                match scalar(v) {
                    Some(s) => match config_text(&s, CONFIG_VALUE_MAX) {
                        Some(why) => f.fail(&format!("{path}.{k}"), why),
                        None => {
                            out.insert(k.clone(), s);
                        }
                    },
                    None => f.fail(&format!("{path}.{k}"), "must be a string or number"),
                }
            }
        }
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let at = format!("{path}[{i}]");
                match (
                    item.get("name").and_then(|n| n.as_str()),
                    item.get("value").and_then(scalar),
                ) {
                    (Some(n), Some(v)) if !n.is_empty() => {
                        match name_problem(n).or_else(|| config_text(&v, CONFIG_VALUE_MAX)) {
                            Some(why) => f.fail(&at, why),
                            None => {
                                out.insert(n.to_string(), v);
                            }
                        }
                    }
                    _ => f.fail(&at, "must be {\"name\": string, \"value\": string}"),
                }
            }
        }
        Some(_) => f.fail(path, "must be an object or a list of {name, value}"),
    }
    out
}

/// The longest `payment.validity_time` accepted: 30 days.
pub const MAX_VALIDITY_SECS: i64 = 30 * 86_400;

/// `move_subscription_payment`'s `date` (seed 003: `YYYY-MM-dd HH:mm:ss`, Romanian local time,
/// as Netopia reads it), or ISO 8601 / RFC 3339 with an offset. A local time the clocks skip
/// (spring forward) is refused; one they pass twice (autumn) is the first.
pub fn parse_recurrence_date(s: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    let s = s.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&chrono::Utc));
    }
    let local = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").map_err(|_| {
        "must be YYYY-MM-DD HH:MM:SS (Romanian local time) or ISO 8601 with an offset".to_string()
    })?;
    match local.and_local_timezone(chrono_tz::Europe::Bucharest) {
        chrono::LocalResult::Single(t) => Ok(t.with_timezone(&chrono::Utc)),
        chrono::LocalResult::Ambiguous(first, _) => Ok(first.with_timezone(&chrono::Utc)),
        chrono::LocalResult::None => {
            Err("does not exist in Romanian local time (the clocks skip it)".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn seed_000() -> Value {
        json!({ "trans_ext_id": "cab3131a-dec7-49cc-8607-0121a61d3427", "seller_id": "34801", "merchant_id": "1",
            "user_agreements": "2", "invoice_series_id": "1",
            "payment":{ "channel_id": "18912", "currency": "PLN" },
            "articles":[ { "prod_id": "55555", "sap_index": "45000437", "vat_rate": "23", "name": "test product", "quantity": "1", "price": "10" } ],
            "customer":{ "ext_id": "1234qwera", "company": "test", "firstname": "tester", "lastname": "testowski", "email": "tomek@test.pl",
                "street": "piękna", "city": "krk", "phone": "48501123123", "postcode": "31-620", "country": "PL" },
            "client_ip": "127.0.0.1", "test": "False", "next_url": "http://onet.pl" })
    }

    #[test]
    fn seed_000_parses() {
        let r = OrderRequest::parse(&seed_000()).unwrap();
        assert_eq!(r.amount().minor, 10);
        assert_eq!(r.customer.phone.as_ref().unwrap().as_str(), "48501123123");
        assert!(!r.test);
    }

    #[test]
    fn seed_001_config_list_and_paid_amount_parse() {
        let mut v = seed_000();
        v["payment"]["amount"] = json!("0");
        v["articles"][0]["config"] = json!([{"name": "teleaudio_service_id", "value": "511"}]);
        let r = OrderRequest::parse(&v).unwrap();
        assert_eq!(
            r.article_config().get("teleaudio_service_id").unwrap(),
            "511"
        );
    }

    #[test]
    fn every_bad_field_is_named() {
        let mut v = seed_000();
        v["articles"][0]["price"] = json!("ten");
        v["articles"][0]["quantity"] = json!(0);
        v["payment"]["currency"] = json!("XYZ");
        v["customer"]["email"] = json!("nope");
        v["customer"]["phone"] = json!("12");
        v["client_ip"] = json!("localhost");
        v["next_url"] = json!("javascript:alert(1)");
        v["trans_ext_id"] = json!("has space");
        v["test"] = json!("perhaps");
        let e = OrderRequest::parse(&v).unwrap_err();
        let data = e.data.unwrap();
        for k in [
            "articles[0].price",
            "articles[0].quantity",
            "payment.currency",
            "customer.email",
            "customer.phone",
            "client_ip",
            "next_url",
            "trans_ext_id",
            "test",
        ] {
            assert!(data.get(k).is_some(), "{k} missing in {data}");
        }
    }

    #[test]
    fn config_names_and_values_are_checked_like_other_text() {
        for (config, path) in [
            (
                json!([{"name": "note", "value": "a\u{0}b"}]),
                "articles[0].config[0]",
            ),
            (
                json!([{"name": "n\u{202e}te", "value": "1"}]),
                "articles[0].config[0]",
            ),
            (json!({"note": "x".repeat(256)}), "articles[0].config.note"),
            (json!({"note": "\u{1b}[2J"}), "articles[0].config.note"),
            (json!({"k".repeat(65): "1"}), "articles[0].config"),
        ] {
            let mut v = seed_000();
            v["articles"][0]["config"] = config.clone();
            let data = OrderRequest::parse(&v).unwrap_err().data.unwrap();
            assert!(data.get(path).is_some(), "{config}: {data}");
        }
        let mut v = seed_000();
        v["articles"][0]["config"] = json!({"note": "x".repeat(255), "k".repeat(64): 1});
        assert!(OrderRequest::parse(&v).is_ok());
    }

    #[test]
    fn fingerprint_ignores_spelling_but_not_content() {
        let a = OrderRequest::parse(&seed_000()).unwrap();
        let mut v = seed_000();
        v["articles"][0]["price"] = json!(10);
        let b = OrderRequest::parse(&v).unwrap();
        assert_eq!(a.fingerprint("m"), b.fingerprint("m"));
        v["articles"][0]["price"] = json!(11);
        let c = OrderRequest::parse(&v).unwrap();
        assert_ne!(a.fingerprint("m"), c.fingerprint("m"));
    }

    #[test]
    fn recurrence_dates_are_romanian_local_or_carry_an_offset() {
        let utc = |s: &str| parse_recurrence_date(s).unwrap().to_rfc3339();
        // Seed 003's example: EEST (UTC+3) in September.
        assert_eq!(utc("2011-09-18 11:00:00"), "2011-09-18T08:00:00+00:00");
        // EET (UTC+2) in winter.
        assert_eq!(utc("2026-12-01 10:00:00"), "2026-12-01T08:00:00+00:00");
        assert_eq!(
            utc("2026-12-01T10:00:00+01:00"),
            "2026-12-01T09:00:00+00:00"
        );
        // 03:30 on the last Sunday of March 2026 does not exist in Bucharest.
        assert!(parse_recurrence_date("2026-03-29 03:30:00").is_err());
        assert!(parse_recurrence_date("18.09.2011").is_err());
    }
}
