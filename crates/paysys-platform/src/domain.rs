//! Values every service parses the same way (parse, don't validate): the edge when a merchant
//! sends them, the adapters when the edge passes them on. One rule each, so an order id or a
//! phone number the edge accepted is never refused by an adapter with another limit.

use serde::Serialize;

/// The merchant's own order id (`trans_ext_id`): unique per merchant, 1..=64 characters of
/// `[A-Za-z0-9_.:-]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct OrderId(String);

impl OrderId {
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.is_empty() || s.len() > 64 {
            return Err("must be 1 to 64 characters".into());
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.:-".contains(&b))
        {
            return Err("may contain only letters, digits and _ . : -".into());
        }
        Ok(Self(s.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A mobile number in international form, digits only (seed 000: 48501123123); a leading `+`
/// and surrounding blanks are dropped.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Msisdn(String);

impl Msisdn {
    pub fn parse(s: &str) -> Result<Self, String> {
        let d = s.trim().trim_start_matches('+');
        if d.len() < 9 || d.len() > 15 || !d.bytes().all(|b| b.is_ascii_digit()) {
            return Err(
                "must be an international phone number of 9 to 15 digits, e.g. 48501123123".into(),
            );
        }
        Ok(Self(d.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What an order is: a one-time payment or a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderKind {
    OneTime,
    Subscription,
}

impl OrderKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::OneTime => "one_time",
            Self::Subscription => "subscription",
        }
    }
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "one_time" => Ok(Self::OneTime),
            "subscription" => Ok(Self::Subscription),
            _ => Err(format!("unknown order kind {s:?}")),
        }
    }
    pub fn describe(&self) -> &'static str {
        match self {
            Self::OneTime => "one-time payment",
            Self::Subscription => "subscription",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_ids_follow_one_rule() {
        assert!(OrderId::parse("cab3131a-dec7-49cc-8607-0121a61d3427").is_ok());
        assert!(OrderId::parse("test_sym_tele_subs_11").is_ok());
        assert!(OrderId::parse("").is_err());
        assert!(OrderId::parse(&"a".repeat(65)).is_err());
        assert!(OrderId::parse("a b").is_err());
        assert!(OrderId::parse("żółw").is_err());
    }

    #[test]
    fn msisdns_are_digits_in_international_form() {
        assert_eq!(
            Msisdn::parse(" +48501123123 ").unwrap().as_str(),
            "48501123123"
        );
        assert!(Msisdn::parse("501-123-123").is_err());
        assert!(Msisdn::parse("12345678").is_err());
        assert!(Msisdn::parse("1234567890123456").is_err());
    }

    #[test]
    fn kinds_round_trip() {
        for k in [OrderKind::OneTime, OrderKind::Subscription] {
            assert_eq!(OrderKind::parse(k.as_str()), Ok(k));
        }
        assert!(OrderKind::parse("x").is_err());
    }
}
