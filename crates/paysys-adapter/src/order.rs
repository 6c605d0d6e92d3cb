//! A Start request parsed once into values that cannot be invalid (the same rules as the edge:
//! `paysys_platform::domain`), every bad field named by the merchant's path.

use crate::error::ProviderError;
use paysys_platform::domain::{Msisdn, OrderId, OrderKind};
use paysys_platform::money::{Currency, Money};
use paysys_proto::StartRequest;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::net::IpAddr;

#[derive(Debug, Clone, Default)]
pub struct Customer {
    pub ext_id: String,
    pub email: String,
    pub phone: Option<Msisdn>,
    pub firstname: String,
    pub lastname: String,
}

/// A validated `StartRequest`.
#[derive(Debug, Clone)]
pub struct StartOrder {
    pub merchant_id: String,
    pub order_id: OrderId,
    pub channel_id: String,
    pub kind: OrderKind,
    pub price: Money,
    pub product_name: String,
    pub client_ip: Option<IpAddr>,
    /// As the merchant wrote it (seed 000 signs `http://onet.pl`, not a normalised form).
    pub return_url: Option<String>,
    pub customer: Customer,
    pub channel_config: BTreeMap<String, String>,
    pub article_config: BTreeMap<String, String>,
    pub order_config: BTreeMap<String, String>,
    pub test: bool,
}

impl StartOrder {
    /// Parses `r`, collecting every bad field.
    pub fn parse(r: &StartRequest) -> Result<Self, ProviderError> {
        let mut bad: Vec<(String, String)> = Vec::new();
        let mut fail = |f: &str, w: String| bad.push((f.to_string(), w));
        let kind = match paysys_proto::OrderKind::try_from(r.kind) {
            Ok(paysys_proto::OrderKind::OneTime) => Some(OrderKind::OneTime),
            Ok(paysys_proto::OrderKind::Subscription) => Some(OrderKind::Subscription),
            _ => {
                fail("kind", "must be one-time or subscription".into());
                None
            }
        };
        if r.merchant_id.is_empty() || r.merchant_id.len() > 64 {
            fail("merchant_id", "required, at most 64 characters".into());
        }
        let order_id = OrderId::parse(&r.order_id)
            .map_err(|e| fail("trans_ext_id", e))
            .ok();
        if r.channel_id.is_empty() {
            fail("payment.channel_id", "required".into());
        }
        let currency = Currency::parse(&r.currency)
            .map_err(|e| fail("payment.currency", e))
            .ok();
        if r.amount_minor < 0 {
            fail("articles", "the amount must not be negative".into());
        }
        if kind == Some(OrderKind::OneTime) && r.amount_minor == 0 {
            fail(
                "articles",
                "the amount to pay must be greater than zero".into(),
            );
        }
        let c = r.customer.clone().unwrap_or_default();
        let phone = if c.phone.trim().is_empty() {
            None
        } else {
            Msisdn::parse(&c.phone)
                .map_err(|e| fail("customer.phone", e))
                .ok()
        };
        let client_ip = match r.client_ip.trim() {
            "" => None,
            ip => ip
                .parse::<IpAddr>()
                .map_err(|_| fail("client_ip", "must be an IPv4 or IPv6 address".into()))
                .ok(),
        };
        let return_url = match r.return_url.trim() {
            "" => None,
            u if url::Url::parse(u).is_ok_and(|u| matches!(u.scheme(), "http" | "https")) => {
                Some(u.to_string())
            }
            _ => {
                fail("next_url", "must be an http(s) URL".into());
                None
            }
        };
        if !bad.is_empty() {
            return Err(ProviderError::Invalid(bad));
        }
        let (Some(kind), Some(order_id), Some(currency)) = (kind, order_id, currency) else {
            return Err(ProviderError::invalid("params", "incomplete"));
        };
        Ok(Self {
            merchant_id: r.merchant_id.clone(),
            order_id,
            channel_id: r.channel_id.clone(),
            kind,
            price: Money::new(r.amount_minor, currency),
            product_name: r.product_name.clone(),
            client_ip,
            return_url,
            customer: Customer {
                ext_id: c.ext_id,
                email: c.email,
                phone,
                firstname: c.firstname,
                lastname: c.lastname,
            },
            channel_config: r.channel_config.clone().into_iter().collect(),
            article_config: r.article_config.clone().into_iter().collect(),
            order_config: r.order_config.clone().into_iter().collect(),
            test: r.test,
        })
    }

    /// What makes two Starts of one order the same payment: a retry with another kind, price,
    /// channel, per-order settings or test flag is a different payment under a reused id.
    pub fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        for part in [
            self.kind.as_str(),
            &self.price.minor.to_string(),
            self.price.currency.as_str(),
            &self.channel_id,
            if self.test { "test" } else { "live" },
        ] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        for (k, v) in &self.order_config {
            h.update(k.as_bytes());
            h.update([1]);
            h.update(v.as_bytes());
            h.update([0]);
        }
        hex::encode(h.finalize())
    }

    /// A setting the channel (operator) or the article (seed 001: `teleaudio_service_id`) names.
    pub fn setting(&self, key: &str) -> Option<&str> {
        self.article_config
            .get(key)
            .or_else(|| self.channel_config.get(key))
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use paysys_proto::Customer as WireCustomer;

    pub fn seed_000() -> StartRequest {
        StartRequest {
            merchant_id: "1".into(),
            order_id: "cab3131a-dec7-49cc-8607-0121a61d3427".into(),
            channel_id: "18912".into(),
            kind: paysys_proto::OrderKind::OneTime as i32,
            amount_minor: 10,
            currency: "PLN".into(),
            product_name: "test product".into(),
            client_ip: "127.0.0.1".into(),
            return_url: "http://onet.pl".into(),
            customer: Some(WireCustomer {
                ext_id: "1234qwera".into(),
                phone: "48501123123".into(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn fields(r: StartRequest) -> Vec<String> {
        match StartOrder::parse(&r) {
            Err(ProviderError::Invalid(f)) => f.into_iter().map(|(f, _)| f).collect(),
            other => panic!("expected invalid, got {other:?}"),
        }
    }

    #[test]
    fn seed_000_parses() {
        let o = StartOrder::parse(&seed_000()).unwrap();
        assert_eq!(o.price.to_decimal_trimmed(), "0.1");
        assert_eq!(o.customer.phone.unwrap().as_str(), "48501123123");
        assert_eq!(o.return_url.unwrap(), "http://onet.pl");
    }

    #[test]
    fn every_bad_field_is_named() {
        let mut r = seed_000();
        r.amount_minor = 0;
        r.currency = "PL".into();
        r.customer.as_mut().unwrap().phone = "501-123".into();
        r.client_ip = "localhost".into();
        r.return_url = "javascript:alert(1)".into();
        r.order_id = "a b".into();
        r.kind = 0;
        assert_eq!(
            fields(r),
            [
                "kind",
                "trans_ext_id",
                "payment.currency",
                "customer.phone",
                "client_ip",
                "next_url"
            ]
        );
        let mut r = seed_000();
        r.amount_minor = 0;
        assert_eq!(fields(r), ["articles"]);
    }

    #[test]
    fn fingerprints_tell_payments_apart() {
        let a = StartOrder::parse(&seed_000()).unwrap();
        let mut r = seed_000();
        r.amount_minor = 11;
        let b = StartOrder::parse(&r).unwrap();
        let mut r = seed_000();
        r.test = true;
        let c = StartOrder::parse(&r).unwrap();
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert_ne!(a.fingerprint(), c.fingerprint());
        assert_eq!(
            a.fingerprint(),
            StartOrder::parse(&seed_000()).unwrap().fingerprint()
        );
    }
}
