//! A merchant's choice of notifications (DESIGN section 5): which of the six methods it receives
//! and, per method, a URL other than its default one. Methods not chosen are logged `skipped`.

use std::collections::BTreeMap;

/// Every method a merchant can receive, in the order DESIGN section 5 lists them; the default
/// choice.
pub use paysys_platform::events::NOTIFICATION_METHODS as METHODS;

/// Which methods a merchant receives and where some of them go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// Methods delivered; the others are logged `skipped`.
    pub events: Vec<String>,
    /// Method -> URL used instead of the endpoint's default URL.
    pub urls: BTreeMap<String, String>,
}

impl Default for Choice {
    /// Every method, all at the default URL.
    fn default() -> Self {
        Self {
            events: METHODS.iter().map(|m| m.to_string()).collect(),
            urls: BTreeMap::new(),
        }
    }
}

impl Choice {
    /// A checked choice: known methods only, no duplicates, http(s) URLs. Errors say what is
    /// wrong in the operator's terms.
    pub fn new(events: Vec<String>, urls: BTreeMap<String, String>) -> Result<Self, String> {
        let mut seen = Vec::new();
        for e in &events {
            check_method(e)?;
            if seen.contains(&e) {
                return Err(format!("event {e:?} is listed twice"));
            }
            seen.push(e);
        }
        for (method, url) in &urls {
            check_method(method)?;
            check_url(url)?;
        }
        Ok(Self { events, urls })
    }

    pub fn wants(&self, method: &str) -> bool {
        self.events.iter().any(|e| e == method)
    }

    /// Where `method` is POSTed: its own URL, else `default`.
    pub fn url_for<'a>(&'a self, method: &str, default: &'a str) -> &'a str {
        self.urls.get(method).map(String::as_str).unwrap_or(default)
    }
}

fn check_method(method: &str) -> Result<(), String> {
    if METHODS.contains(&method) {
        Ok(())
    } else {
        Err(format!(
            "unknown event {method:?}; events are {}",
            METHODS.join(", ")
        ))
    }
}

/// A notification URL: absolute http(s) with a host.
pub fn check_url(url: &str) -> Result<(), String> {
    match reqwest::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => Ok(()),
        _ => Err(format!("{url:?} is not an http(s) URL")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::method_for_kind;
    use paysys_platform::events;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_methods_are_those_of_the_notified_event_kinds() {
        let mut from_kinds: Vec<_> = events::ALL
            .iter()
            .filter_map(|k| method_for_kind(k))
            .collect();
        let mut methods = METHODS.to_vec();
        from_kinds.sort();
        methods.sort();
        assert_eq!(from_kinds, methods);
    }

    #[test]
    fn the_default_wants_everything_at_the_default_url() {
        let c = Choice::default();
        assert!(METHODS.iter().all(|m| c.wants(m)));
        assert_eq!(c.url_for("new_payment", "http://a/"), "http://a/");
    }

    #[test]
    fn a_per_event_url_applies_to_its_event_only() {
        let c = Choice::new(
            strings(&["new_payment", "subscription_cancel"]),
            [("subscription_cancel".into(), "https://b/cancel".into())].into(),
        )
        .unwrap();
        assert!(c.wants("new_payment") && !c.wants("payment_failed"));
        assert_eq!(
            c.url_for("subscription_cancel", "http://a/"),
            "https://b/cancel"
        );
        assert_eq!(c.url_for("new_payment", "http://a/"), "http://a/");
    }

    #[test]
    fn unknown_events_duplicates_and_bad_urls_are_refused() {
        let err = Choice::new(strings(&["new_paymnet"]), BTreeMap::new()).unwrap_err();
        assert!(
            err.contains("new_paymnet") && err.contains("subscription_cancel"),
            "{err}"
        );
        assert!(
            Choice::new(strings(&["new_payment", "new_payment"]), BTreeMap::new())
                .unwrap_err()
                .contains("twice")
        );
        for url in ["ftp://a/", "not a url", "http://", "/relative"] {
            let urls = [("new_payment".to_string(), url.to_string())].into();
            assert!(
                Choice::new(strings(&["new_payment"]), urls).is_err(),
                "{url}"
            );
        }
        let urls = [("refund".to_string(), "http://a/".to_string())].into();
        assert!(Choice::new(vec![], urls).unwrap_err().contains("refund"));
    }
}
