//! `[sandbox.mocopay]`: the api key and secret every call must be signed with (the adapter's
//! `[mocopay] api_key` / `api_secret`), and the products of that key. initPayment carries no
//! amount (seed 004): what a `pid` costs, in which currency, and for a subscription how often
//! it renews, is MoCoPay's own configuration, kept here per pid.

use crate::config::SandboxSettings;
use paysys_platform::money::Currency;
use provider_mocopay::SessionType;
use serde::Deserialize;
use std::collections::BTreeMap;

/// One product (`pid`) as MoCoPay's control box would define it.
#[derive(Debug, Clone, Deserialize)]
pub struct Product {
    /// `onetime` (default) or `subscription`: what kind of session an initPayment opens.
    #[serde(rename = "type", default = "onetime")]
    pub kind: SessionType,
    /// Price of the payment, or of each charge of a subscription, in minor units.
    pub amount_minor: i64,
    /// ISO 4217 code of the price (a test session reports MoCoPay's `TES` instead).
    pub currency: String,
    /// Renewal period of a subscription; `default_period_secs` when absent.
    #[serde(default)]
    pub period_secs: Option<u64>,
}

fn onetime() -> SessionType {
    SessionType::OneTime
}

/// The section as read.
#[derive(Debug, Clone, Deserialize)]
pub struct MocopaySettings {
    pub api_key: String,
    pub api_secret: String,
    /// Renewal period of a subscription product without its own `period_secs`.
    pub default_period_secs: u64,
    /// The short code the checkout page tells the user to text.
    #[serde(default = "short_code")]
    pub short_code: String,
    /// MoCoPay's service of this api key (`serviceCode`; seed: `PS-000-002`).
    #[serde(default = "service_code")]
    pub service_code: String,
    /// How long a checkout stays valid: only reported as the session's `expiresIn`.
    #[serde(default = "checkout_ttl")]
    pub checkout_ttl_secs: i64,
    #[serde(default)]
    pub products: BTreeMap<String, Product>,
}

fn short_code() -> String {
    "8686".into()
}
fn service_code() -> String {
    "PS-000-002".into()
}
fn checkout_ttl() -> i64 {
    3600
}

impl MocopaySettings {
    /// Reads and checks `[sandbox.mocopay]`; Err names the bad key.
    pub fn load(sandbox: &SandboxSettings, name: &str) -> Result<Self, String> {
        let s: Self = sandbox.section(name)?;
        let key = |k: &str| format!("sandbox.{name}.{k}");
        if s.api_key.is_empty() || s.api_key.contains(':') || s.api_key.contains(' ') {
            return Err(format!(
                "{} must be non-empty, without ':' or spaces",
                key("api_key")
            ));
        }
        if s.api_secret.is_empty() {
            return Err(format!("{} must not be empty", key("api_secret")));
        }
        if s.default_period_secs == 0 {
            return Err(format!(
                "{} must be greater than 0",
                key("default_period_secs")
            ));
        }
        provider_mocopay::query::check::token(&s.service_code, 128)
            .map_err(|why| format!("{}: {why}", key("service_code")))?;
        if s.short_code.is_empty() {
            return Err(format!("{} must not be empty", key("short_code")));
        }
        for (pid, p) in &s.products {
            let at = key(&format!("products.{pid}"));
            provider_mocopay::query::check::token(pid, 128)
                .map_err(|why| format!("{at}: {why}"))?;
            if p.amount_minor <= 0 {
                return Err(format!("{at}.amount_minor must be greater than 0"));
            }
            Currency::parse(&p.currency).map_err(|e| format!("{at}.currency: {e}"))?;
            if p.period_secs == Some(0) {
                return Err(format!("{at}.period_secs must be greater than 0"));
            }
        }
        Ok(s)
    }

    /// The secret of `api_key`, if it is ours.
    pub fn secret_of(&self, api_key: &str) -> Option<String> {
        (api_key == self.api_key).then(|| self.api_secret.clone())
    }

    pub fn product(&self, pid: &str) -> Option<&Product> {
        self.products.get(pid)
    }

    /// The renewal period of `product`.
    pub fn period_secs(&self, product: &Product) -> u64 {
        product
            .period_secs
            .unwrap_or(self.default_period_secs)
            .max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(overrides: &[(&str, &str)]) -> Result<MocopaySettings, String> {
        let s: crate::Settings = paysys_platform::config::load_with(|mut b| {
            for (k, v) in overrides {
                b = b.set_override(*k, *v).unwrap();
            }
            b
        })
        .expect("settings");
        MocopaySettings::load(&s.sandbox, "mocopay")
    }

    #[test]
    fn the_default_products_are_the_fixtures_channels() {
        let s = load(&[]).unwrap();
        assert_eq!(s.api_key, "sandbox-app");
        let one = s.product("CHMIBSUB").expect("pid keeps its case");
        assert_eq!((one.kind, one.amount_minor), (SessionType::OneTime, 199));
        let sub = s.product("PP27638049").unwrap();
        assert_eq!(sub.kind, SessionType::Subscription);
        assert_eq!((sub.amount_minor, sub.currency.as_str()), (500, "EUR"));
        assert_eq!(s.period_secs(sub), 2_592_000);
        assert!(s.secret_of("sandbox-app").is_some() && s.secret_of("other").is_none());
    }

    #[test]
    fn bad_keys_are_named() {
        let err = load(&[("sandbox.mocopay.products.CHMIBSUB.currency", "euro")]).unwrap_err();
        assert!(err.contains("sandbox.mocopay.products.CHMIBSUB"), "{err}");
        let err = load(&[("sandbox.mocopay.api_key", "a:b")]).unwrap_err();
        assert!(err.contains("sandbox.mocopay.api_key"), "{err}");
        let err = load(&[("sandbox.mocopay.products.CHMIBSUB.type", "weekly")]).unwrap_err();
        assert!(err.contains("sandbox.mocopay"), "{err}");
    }
}
