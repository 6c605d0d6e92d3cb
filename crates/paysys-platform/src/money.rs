//! Money is integer minor units plus an ISO 4217 currency, never a float. Decimal strings
//! (Mobiltek's `price=0.1`, Netopia's `amount="12.34"`) are produced and parsed only here, exactly.

use serde::{Deserialize, Serialize};
use std::fmt;

/// ISO 4217 codes PaySystem accepts, with their minor-unit exponent.
const CURRENCIES: &[(&str, u32)] = &[
    ("PLN", 2),
    ("RON", 2),
    ("EUR", 2),
    ("USD", 2),
    ("GBP", 2),
    ("CZK", 2),
    ("HUF", 2),
    ("BGN", 2),
    ("CHF", 2),
    ("SEK", 2),
    ("NOK", 2),
    ("DKK", 2),
    ("RSD", 2),
    ("JPY", 0),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

impl Currency {
    pub fn parse(s: &str) -> Result<Self, String> {
        let up = s.trim();
        CURRENCIES
            .iter()
            .find(|(c, _)| *c == up)
            .map(|(c, _)| {
                let b = c.as_bytes();
                Currency([b[0], b[1], b[2]])
            })
            .ok_or_else(|| format!("unknown ISO 4217 currency {s:?}"))
    }
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("???")
    }
    pub fn exponent(&self) -> u32 {
        CURRENCIES
            .iter()
            .find(|(c, _)| *c == self.as_str())
            .map(|(_, e)| *e)
            .unwrap_or(2)
    }
}

impl TryFrom<String> for Currency {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Currency::parse(&s)
    }
}
impl From<Currency> for String {
    fn from(c: Currency) -> String {
        c.as_str().to_string()
    }
}
impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    pub minor: i64,
    pub currency: Currency,
}

impl Money {
    pub fn new(minor: i64, currency: Currency) -> Self {
        Self { minor, currency }
    }

    /// Major units as a decimal string without trailing zeros: 10 grosz -> "0.1", 100 -> "1".
    /// Mobiltek's PPE `price` uses this form (seed 000: price "10" becomes `price=0.1`).
    pub fn to_decimal_trimmed(&self) -> String {
        let s = self.to_decimal_fixed();
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    }

    /// Major units with exactly the currency's exponent: 1234 -> "12.34" (Netopia's `%.02f`).
    pub fn to_decimal_fixed(&self) -> String {
        let exp = self.currency.exponent();
        let neg = self.minor < 0;
        let abs = self.minor.unsigned_abs();
        if exp == 0 {
            return format!("{}{}", if neg { "-" } else { "" }, abs);
        }
        let div = 10u64.pow(exp);
        format!(
            "{}{}.{:0width$}",
            if neg { "-" } else { "" },
            abs / div,
            abs % div,
            width = exp as usize
        )
    }

    /// Parses a decimal major-unit string exactly ("0.1", "12.34"); more fraction digits than the
    /// currency has is an error, never a rounding.
    pub fn parse_decimal(s: &str, currency: Currency) -> Result<Self, String> {
        let exp = currency.exponent() as usize;
        let t = s.trim();
        let (neg, t) = match t.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, t),
        };
        let (int, frac) = match t.split_once('.') {
            Some((i, f)) => (i, f),
            None => (t, ""),
        };
        if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("{s:?} is not a decimal amount"));
        }
        if !frac.bytes().all(|b| b.is_ascii_digit()) || frac.len() > exp {
            return Err(format!("{s:?} has more than {exp} fraction digits"));
        }
        let too_large = || format!("{s:?} is too large");
        let int: i128 = int.parse().map_err(|_| too_large())?;
        let mut frac_val: i128 = 0;
        for i in 0..exp {
            let d = frac
                .as_bytes()
                .get(i)
                .map(|b| i128::from(b - b'0'))
                .unwrap_or(0);
            frac_val = frac_val * 10 + d;
        }
        let magnitude = int
            .checked_mul(10i128.pow(exp as u32))
            .and_then(|m| m.checked_add(frac_val))
            .ok_or_else(too_large)?;
        // The sign is applied before the range check: i64::MIN has no positive twin, and
        // `to_decimal_fixed` writes it (fuzz target `money`).
        let minor =
            i64::try_from(if neg { -magnitude } else { magnitude }).map_err(|_| too_large())?;
        Ok(Money::new(minor, currency))
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.to_decimal_fixed(), self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pln() -> Currency {
        Currency::parse("PLN").unwrap()
    }

    #[test]
    fn seed_000_price_ten_grosz_is_zero_point_one() {
        assert_eq!(Money::new(10, pln()).to_decimal_trimmed(), "0.1");
        assert_eq!(Money::new(100, pln()).to_decimal_trimmed(), "1");
        assert_eq!(Money::new(1234, pln()).to_decimal_trimmed(), "12.34");
        assert_eq!(Money::new(5, pln()).to_decimal_fixed(), "0.05");
        assert_eq!(Money::new(-5, pln()).to_decimal_fixed(), "-0.05");
    }

    #[test]
    fn decimal_round_trip_is_exact() {
        for minor in [0i64, 1, 9, 10, 99, 100, 101, 123456789, i64::MAX / 1000] {
            let m = Money::new(minor, pln());
            assert_eq!(
                Money::parse_decimal(&m.to_decimal_fixed(), pln()).unwrap(),
                m
            );
            assert_eq!(
                Money::parse_decimal(&m.to_decimal_trimmed(), pln()).unwrap(),
                m
            );
        }
    }

    /// Found by `make fuzz` (target `money`): the most negative amount formatted to a string
    /// that did not parse back ("-92233720368547758.08" is too large), since the magnitude was
    /// range-checked before the sign was applied.
    #[test]
    fn fuzz_regression_i64_min_round_trips() {
        for c in ["RON", "JPY"] {
            let c = Currency::parse(c).unwrap();
            for minor in [i64::MIN, i64::MIN + 1, i64::MAX] {
                let m = Money::new(minor, c);
                assert_eq!(Money::parse_decimal(&m.to_decimal_fixed(), c), Ok(m));
                assert_eq!(Money::parse_decimal(&m.to_decimal_trimmed(), c), Ok(m));
            }
        }
        assert_eq!(
            Money::parse_decimal("-92233720368547758.08", pln())
                .unwrap()
                .minor,
            i64::MIN
        );
        assert!(Money::parse_decimal("-92233720368547758.09", pln()).is_err());
        assert!(Money::parse_decimal("92233720368547758.08", pln()).is_err());
        assert!(Money::parse_decimal(&"9".repeat(60), pln()).is_err());
    }

    #[test]
    fn parse_rejects_rounding_and_garbage() {
        assert!(Money::parse_decimal("0.001", pln()).is_err());
        assert!(Money::parse_decimal("abc", pln()).is_err());
        assert!(Money::parse_decimal(".5", pln()).is_err());
        assert!(Money::parse_decimal("99999999999999999999", pln()).is_err());
    }

    #[test]
    fn currency_is_validated() {
        assert!(Currency::parse("PLN").is_ok());
        assert!(Currency::parse("pln").is_err());
        assert!(Currency::parse("XXX").is_err());
    }
}
