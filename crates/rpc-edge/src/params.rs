//! Reading merchant parameters the way the seeds write them: numbers as JSON numbers or decimal
//! strings (`"price": "10"`), booleans as JSON booleans or `"True"`/`"False"`. Every problem is
//! collected under its path (`articles[0].price`) so one `-32602` names them all.

use crate::jsonrpc::RpcError;
use serde_json::{Map, Value};

/// The bidirectional embedding, override and isolate controls (U+202A to U+202E, U+2066 to
/// U+2069): invisible, they reorder how the text around them is shown, so a product name, a
/// customer field or an id could read differently on a payment page, in a notification or a log
/// than what was stored (Trojan Source, CVE-2021-42574). Right-to-left text needs none of them;
/// the marks U+200E/U+200F stay allowed.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[derive(Default)]
pub struct Fields {
    errors: Map<String, Value>,
}

impl Fields {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn fail(&mut self, path: &str, why: impl Into<String>) {
        self.errors
            .entry(path.to_string())
            .or_insert_with(|| Value::String(why.into()));
    }

    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// Ok when nothing failed, else the `-32602` naming every bad field.
    pub fn finish(self) -> Result<(), RpcError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(RpcError::invalid_params(self.errors))
        }
    }

    /// A required object (the params themselves, `payment`, `customer`).
    pub fn object<'a>(
        &mut self,
        parent: &'a Value,
        key: &str,
        path: &str,
    ) -> Option<&'a Map<String, Value>> {
        match parent.get(key) {
            Some(Value::Object(o)) => Some(o),
            None | Some(Value::Null) => {
                self.fail(path, "required");
                None
            }
            Some(_) => {
                self.fail(path, "must be an object");
                None
            }
        }
    }

    /// A required non-empty string (numbers are accepted and rendered, as ids often are).
    pub fn string(
        &mut self,
        parent: &Value,
        key: &str,
        path: &str,
        max_len: usize,
    ) -> Option<String> {
        match self.opt_string(parent, key, path, max_len) {
            Some(s) => Some(s),
            None => {
                if !self.errors.contains_key(path) {
                    self.fail(path, "required");
                }
                None
            }
        }
    }

    /// An optional string; empty counts as absent.
    pub fn opt_string(
        &mut self,
        parent: &Value,
        key: &str,
        path: &str,
        max_len: usize,
    ) -> Option<String> {
        let s = match parent.get(key) {
            None | Some(Value::Null) => return None,
            Some(Value::String(s)) => s.trim().to_string(),
            Some(Value::Number(n)) => n.to_string(),
            Some(_) => {
                self.fail(path, "must be a string");
                return None;
            }
        };
        if s.is_empty() {
            return None;
        }
        if s.chars().count() > max_len {
            self.fail(path, format!("must be at most {max_len} characters"));
            return None;
        }
        if s.chars().any(|c| c.is_control()) {
            self.fail(path, "must not contain control characters");
            return None;
        }
        if s.chars().any(is_bidi_control) {
            self.fail(path, "must not contain bidirectional control characters");
            return None;
        }
        Some(s)
    }

    /// A required integer given as a JSON integer or a decimal string of one.
    pub fn integer(&mut self, parent: &Value, key: &str, path: &str) -> Option<i64> {
        match parent.get(key) {
            None | Some(Value::Null) => {
                self.fail(path, "required");
                None
            }
            Some(v) => self.integer_value(v, path),
        }
    }

    pub fn opt_integer(&mut self, parent: &Value, key: &str, path: &str) -> Option<i64> {
        match parent.get(key) {
            None | Some(Value::Null) => None,
            Some(v) => self.integer_value(v, path),
        }
    }

    fn integer_value(&mut self, v: &Value, path: &str) -> Option<i64> {
        let parsed = match v {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => {
                let t = s.trim();
                if !t.is_empty()
                    && t.strip_prefix('-')
                        .unwrap_or(t)
                        .bytes()
                        .all(|b| b.is_ascii_digit())
                {
                    t.parse::<i64>().ok()
                } else {
                    None
                }
            }
            _ => None,
        };
        if parsed.is_none() {
            self.fail(
                path,
                "must be an integer (a JSON number or a decimal string such as \"10\")",
            );
        }
        parsed
    }

    /// A decimal number (VAT rate "23" or "23.5"), kept as the merchant wrote it.
    pub fn decimal(&mut self, parent: &Value, key: &str, path: &str) -> Option<String> {
        let ok = |s: &str| {
            let (i, f) = s.split_once('.').unwrap_or((s, "0"));
            !i.is_empty()
                && i.bytes().all(|b| b.is_ascii_digit())
                && !f.is_empty()
                && f.bytes().all(|b| b.is_ascii_digit())
        };
        match parent.get(key) {
            None | Some(Value::Null) => {
                self.fail(path, "required");
                None
            }
            Some(Value::Number(n)) if ok(&n.to_string()) => Some(n.to_string()),
            Some(Value::String(s)) if ok(s.trim()) => Some(s.trim().to_string()),
            Some(_) => {
                self.fail(path, "must be a non-negative decimal number");
                None
            }
        }
    }

    /// An optional boolean: JSON boolean or the strings "True"/"False" (any case), "1"/"0".
    pub fn opt_bool(&mut self, parent: &Value, key: &str, path: &str) -> Option<bool> {
        match parent.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "1" => Some(true),
                "false" | "0" => Some(false),
                _ => {
                    self.fail(path, "must be a boolean (true/false or \"True\"/\"False\")");
                    None
                }
            },
            Some(Value::Number(n)) if n.as_i64() == Some(0) || n.as_i64() == Some(1) => {
                Some(n.as_i64() == Some(1))
            }
            Some(_) => {
                self.fail(path, "must be a boolean (true/false or \"True\"/\"False\")");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn seed_spellings_are_accepted() {
        let v = json!({"price": "10", "qty": 2, "test": "False", "t2": true, "neg": "-5"});
        let mut f = Fields::new();
        assert_eq!(f.integer(&v, "price", "price"), Some(10));
        assert_eq!(f.integer(&v, "qty", "qty"), Some(2));
        assert_eq!(f.integer(&v, "neg", "neg"), Some(-5));
        assert_eq!(f.opt_bool(&v, "test", "test"), Some(false));
        assert_eq!(f.opt_bool(&v, "t2", "t2"), Some(true));
        assert!(f.finish().is_ok());
    }

    #[test]
    fn every_bad_field_is_named_by_path() {
        let v = json!({"price": "10.5", "qty": "x", "test": "maybe", "name": ""});
        let mut f = Fields::new();
        f.integer(&v, "price", "articles[0].price");
        f.integer(&v, "qty", "articles[0].quantity");
        f.opt_bool(&v, "test", "test");
        f.string(&v, "name", "articles[0].name", 10);
        f.string(&v, "missing", "customer.email", 10);
        let e = f.finish().unwrap_err();
        assert_eq!(e.code, -32602);
        let data = e.data.unwrap();
        for k in [
            "articles[0].price",
            "articles[0].quantity",
            "test",
            "articles[0].name",
            "customer.email",
        ] {
            assert!(data.get(k).is_some(), "{k} not named in {data}");
        }
    }

    #[test]
    fn overlong_and_control_characters_are_refused() {
        let v = json!({"a": "x".repeat(11), "b": "a\u{0}b"});
        let mut f = Fields::new();
        assert_eq!(f.string(&v, "a", "a", 10), None);
        assert_eq!(f.string(&v, "b", "b", 10), None);
        assert!(f.has_errors());
    }

    #[test]
    fn bidi_controls_are_refused_but_right_to_left_text_is_not() {
        let v = json!({"rlo": "test \u{202e}gnp.exe", "rli": "a\u{2067}b\u{2069}",
            "hebrew": "\u{5e9}\u{5dc}\u{5d5}\u{5dd}", "rlm": "a\u{200f}b", "emoji": "\u{1f468}\u{200d}\u{1f469}"});
        let mut f = Fields::new();
        assert_eq!(f.string(&v, "rlo", "rlo", 64), None);
        assert_eq!(f.string(&v, "rli", "rli", 64), None);
        assert!(f.string(&v, "hebrew", "hebrew", 64).is_some());
        assert!(f.string(&v, "rlm", "rlm", 64).is_some());
        assert!(f.string(&v, "emoji", "emoji", 64).is_some());
        let data = f.finish().unwrap_err().data.unwrap();
        assert!(
            data.get("rlo").is_some() && data.get("rli").is_some(),
            "{data}"
        );
    }
}
