//! Query strings as MoCoPay uses them: every MoCoPay message (initPayment, verifyPayment, the
//! notifications, the callbackUrl redirect) is a list of query parameters. This module decodes
//! a query into a name → value map that refuses repeated names, appends parameters to a URL,
//! and holds the small value checks and the `ParamError` that names the offending parameter.

use std::collections::HashMap;
use std::net::IpAddr;

/// A malformed, missing, repeated or unknown parameter; `param` is its wire name (`userId`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{param}: {why}")]
pub struct ParamError {
    pub param: String,
    pub why: String,
}

impl ParamError {
    pub fn new(param: impl Into<String>, why: impl Into<String>) -> Self {
        Self {
            param: param.into(),
            why: why.into(),
        }
    }
}

/// Decodes the text after `?` (`application/x-www-form-urlencoded` rules: `+` is a space,
/// `%XX` a byte) into the ordered list of decoded parameters.
pub fn parse_query(query: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.trim_start_matches('?').as_bytes())
        .into_owned()
        .collect()
}

/// Decoded parameters by name. Construction refuses a name given twice: which of two values a
/// reader would pick is exactly the kind of ambiguity a signed or believed message must not have.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(HashMap<String, String>);

impl Params {
    pub fn from_pairs<K, V>(pairs: impl IntoIterator<Item = (K, V)>) -> Result<Self, ParamError>
    where
        K: Into<String>,
        V: Into<String>,
    {
        let mut map = HashMap::new();
        for (k, v) in pairs {
            let k = k.into();
            if map.contains_key(&k) {
                return Err(ParamError::new(k, "given more than once"));
            }
            map.insert(k, v.into());
        }
        Ok(Self(map))
    }

    /// [`parse_query`] then [`Params::from_pairs`].
    pub fn from_query(query: &str) -> Result<Self, ParamError> {
        Self::from_pairs(parse_query(query))
    }

    /// The value, `None` when absent or empty (MoCoPay omits empty optional parameters, and an
    /// empty one means the same as an absent one).
    pub fn opt(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// Like [`Params::opt`], the empty string when absent.
    pub fn text(&self, name: &str) -> String {
        self.opt(name).unwrap_or_default().to_string()
    }

    pub fn required(&self, name: &str) -> Result<&str, ParamError> {
        self.opt(name)
            .ok_or_else(|| ParamError::new(name, "required"))
    }

    /// Refuses any parameter whose name is not in `known` (the simulator's strictness: a
    /// misspelt `callbackURL` must fail loudly, not be ignored).
    pub fn only(&self, known: &[&str]) -> Result<(), ParamError> {
        let mut names: Vec<&String> = self.0.keys().collect();
        names.sort();
        match names.into_iter().find(|n| !known.contains(&n.as_str())) {
            Some(n) => Err(ParamError::new(n.as_str(), "unknown parameter")),
            None => Ok(()),
        }
    }

    pub fn contains(&self, name: &str) -> bool {
        self.opt(name).is_some()
    }
}

/// `base` with `params` appended to its query (after any query it already has), encoded with
/// `application/x-www-form-urlencoded` rules (a `+` in a value becomes `%2B`).
pub fn append_query(base: &url::Url, params: &[(&str, String)]) -> url::Url {
    let mut url = base.clone();
    if !params.is_empty() {
        let mut q = url.query_pairs_mut();
        for (k, v) in params {
            q.append_pair(k, v);
        }
    }
    url
}

/// An http(s) URL with a host.
pub fn http_url(s: &str) -> Result<url::Url, String> {
    match url::Url::parse(s) {
        Ok(u) if (u.scheme() == "http" || u.scheme() == "https") && u.has_host() => Ok(u),
        Ok(_) => Err("must be an http(s) URL".into()),
        Err(e) => Err(format!("not a URL: {e}")),
    }
}

/// Pushes `(name, value)` unless the value is empty (MoCoPay's optional parameters are
/// omitted, never sent empty).
pub fn push_opt(out: &mut Vec<(&'static str, String)>, name: &'static str, value: &str) {
    if !value.is_empty() {
        out.push((name, value.to_string()));
    }
}

fn digits(s: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
}

/// Checks of the values MoCoPay exchanges; each returns why a value is wrong.
pub mod check {
    use super::*;

    /// An identifier: 1 to `max` visible ASCII characters, no spaces (seed: `PP27638049`,
    /// `518ec5708a8842dba19993f01ef863b5`, `PS-000-002`).
    pub fn token(s: &str, max: usize) -> Result<(), String> {
        if s.is_empty() || s.len() > max || !s.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(format!(
                "must be 1 to {max} visible ASCII characters without spaces"
            ));
        }
        Ok(())
    }

    /// Free text from a customer (`userId`, `referenceId`): 1 to `max` bytes, no control characters.
    pub fn text(s: &str, max: usize) -> Result<(), String> {
        if s.is_empty() || s.len() > max || s.chars().any(char::is_control) {
            return Err(format!(
                "must be 1 to {max} bytes without control characters"
            ));
        }
        Ok(())
    }

    /// Mobile country code: 3 digits (seed: `999`, `228`).
    pub fn mcc(s: &str) -> Result<(), String> {
        if digits(s, 3, 3) {
            Ok(())
        } else {
            Err("must be 3 digits".into())
        }
    }

    /// Mobile network code: 2 or 3 digits, leading zeros kept (seed: `99`, `01`).
    pub fn mnc(s: &str) -> Result<(), String> {
        if digits(s, 2, 3) {
            Ok(())
        } else {
            Err("must be 2 or 3 digits".into())
        }
    }

    /// ISO 3166-1 alpha-2, upper case (`HR`).
    pub fn country(s: &str) -> Result<(), String> {
        if s.len() == 2 && s.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(())
        } else {
            Err("must be an ISO 3166-1 alpha-2 code in upper case".into())
        }
    }

    /// ISO 639-1, lower case (seed: `hr`).
    pub fn lang(s: &str) -> Result<(), String> {
        if s.len() == 2 && s.bytes().all(|b| b.is_ascii_lowercase()) {
            Ok(())
        } else {
            Err("must be an ISO 639-1 code in lower case".into())
        }
    }

    /// A phone number: 5 to 20 digits, an optional leading `+` (seed: `0099923026`).
    pub fn phone(s: &str) -> Result<(), String> {
        if digits(s.strip_prefix('+').unwrap_or(s), 5, 20) {
            Ok(())
        } else {
            Err("must be 5 to 20 digits, optionally after a +".into())
        }
    }

    pub fn ip(s: &str) -> Result<(), String> {
        s.parse::<IpAddr>()
            .map(|_| ())
            .map_err(|_| "must be an IPv4 or IPv6 address".into())
    }

    pub fn url(s: &str) -> Result<(), String> {
        http_url(s).map(|_| ())
    }

    /// Three upper-case letters (`EUR`, MoCoPay's test currency `TES`).
    pub fn currency_code(s: &str) -> Result<(), String> {
        if s.len() == 3 && s.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(())
        } else {
            Err("must be 3 upper-case letters".into())
        }
    }

    /// An amount in minor units: decimal digits only (no sign, no fraction), fitting an i64.
    pub fn amount(s: &str) -> Result<i64, String> {
        if !digits(s, 1, 19) {
            return Err("must be a whole number of minor units (digits only)".into());
        }
        s.parse::<i64>()
            .map_err(|_| "must be a whole number of minor units".into())
    }

    /// A whole number, possibly negative (`series`).
    pub fn integer(s: &str) -> Result<i64, String> {
        let body = s.strip_prefix('-').unwrap_or(s);
        if !digits(body, 1, 19) {
            return Err("must be a whole number".into());
        }
        s.parse::<i64>()
            .map_err(|_| "must be a whole number".into())
    }

    /// MoCoPay's time format `YYYY-MM-DD HH:MM:SS` (seed: `2014-04-02 14:34:53`).
    pub fn time(s: &str) -> Result<(), String> {
        let b = s.as_bytes();
        let shape = b.len() == 19
            && b.iter().enumerate().all(|(i, c)| match i {
                4 | 7 => *c == b'-',
                10 => *c == b' ',
                13 | 16 => *c == b':',
                _ => c.is_ascii_digit(),
            });
        if shape {
            Ok(())
        } else {
            Err("must be YYYY-MM-DD HH:MM:SS".into())
        }
    }
}

/// Reads an optional parameter and checks it: `Ok("")` when absent.
pub fn opt_checked(
    p: &Params,
    name: &str,
    check: impl Fn(&str) -> Result<(), String>,
) -> Result<String, ParamError> {
    match p.opt(name) {
        None => Ok(String::new()),
        Some(v) => check(v)
            .map(|_| v.to_string())
            .map_err(|why| ParamError::new(name, why)),
    }
}

/// Reads a required parameter and checks it.
pub fn req_checked(
    p: &Params,
    name: &str,
    check: impl Fn(&str) -> Result<(), String>,
) -> Result<String, ParamError> {
    let v = p.required(name)?;
    check(v)
        .map(|_| v.to_string())
        .map_err(|why| ParamError::new(name, why))
}

/// Reads an optional parameter and converts it.
pub fn opt_parsed<T>(
    p: &Params,
    name: &str,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Option<T>, ParamError> {
    p.opt(name)
        .map(|v| parse(v).map_err(|why| ParamError::new(name, why)))
        .transpose()
}

/// Reads a required parameter and converts it.
pub fn req_parsed<T>(
    p: &Params,
    name: &str,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<T, ParamError> {
    parse(p.required(name)?).map_err(|why| ParamError::new(name, why))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_names_are_refused_naming_the_parameter() {
        let e = Params::from_query("pid=1&mcc=228&pid=2").unwrap_err();
        assert_eq!(e.param, "pid");
    }

    #[test]
    fn empty_is_absent() {
        let p = Params::from_query("pid=&mcc=228").unwrap();
        assert_eq!(p.opt("pid"), None);
        assert_eq!(p.required("pid").unwrap_err().param, "pid");
        assert_eq!(p.opt("mcc"), Some("228"));
    }

    #[test]
    fn plus_and_percent_decode() {
        let p = Params::from_query("a=x+y&b=x%2By&c=%C5%82").unwrap();
        assert_eq!(p.opt("a"), Some("x y"));
        assert_eq!(p.opt("b"), Some("x+y"));
        assert_eq!(p.opt("c"), Some("ł"));
    }

    #[test]
    fn unknown_names_are_refused_when_asked() {
        let p = Params::from_query("pid=1&callbackURL=x").unwrap();
        assert_eq!(p.only(&["pid"]).unwrap_err().param, "callbackURL");
        assert!(p.only(&["pid", "callbackURL"]).is_ok());
    }

    #[test]
    fn checks() {
        assert!(check::mcc("228").is_ok() && check::mcc("22").is_err());
        assert!(check::mnc("01").is_ok() && check::mnc("1").is_err());
        assert!(check::phone("0099923026").is_ok() && check::phone("+385991234567").is_ok());
        assert!(check::phone("12 34").is_err());
        assert!(check::amount("10") == Ok(10) && check::amount("-1").is_err());
        assert!(check::amount("1.5").is_err() && check::amount("99999999999999999999").is_err());
        assert_eq!(check::amount("9223372036854775807"), Ok(i64::MAX));
        assert!(check::amount("9223372036854775808").is_err());
        assert!(check::amount("").is_err() && check::amount("+1").is_err());
        assert!(check::integer("-115392") == Ok(-115392));
        assert_eq!(check::integer("-9223372036854775808"), Ok(i64::MIN));
        assert!(check::time("2014-04-02 14:34:53").is_ok());
        assert!(check::time("2014-04-02T14:34:53").is_err());
        assert!(check::url("http://www.client.com/app1").is_ok());
        assert!(check::url("javascript:alert(1)").is_err());
        assert!(check::ip("10.0.0.1").is_ok() && check::ip("::1").is_ok());
        assert!(check::ip("10.0.0").is_err());
    }

    #[test]
    fn append_keeps_an_existing_query() {
        let base = url::Url::parse("http://www.client.com/app1?x=1").unwrap();
        let u = append_query(
            &base,
            &[("status", "PaymentComplete".into()), ("b", "a+b".into())],
        );
        assert_eq!(
            u.as_str(),
            "http://www.client.com/app1?x=1&status=PaymentComplete&b=a%2Bb"
        );
    }
}
