//! Money on mobilPay's wire: a decimal string with two fraction digits, `sprintf('%.02f')` in
//! the PHP SDK (`<invoice amount="12.34">`, `<processed_amount>`, the SOAP `price`). Converted
//! here exactly with integer arithmetic (formatting through [`Money::to_decimal_fixed`]), never a float.

use paysys_platform::money::{Currency, Money};

/// mobilPay's amounts always carry two decimals (RON, EUR, USD, MDL all have minor units of 1/100).
const WIRE_DECIMALS: u32 = 2;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("is empty")]
    Empty,
    #[error("{0:?} is negative")]
    Negative(String),
    #[error("{0:?} is not a decimal amount (digits, optionally '.' and 1 or 2 digits)")]
    Malformed(String),
    #[error("{0:?} has more than 2 decimals")]
    TooManyDecimals(String),
    #[error("{0:?} is too large")]
    Overflow(String),
    #[error("currency {0} does not have 2 decimals, which mobilPay's amounts always have")]
    UnsupportedCurrency(Currency),
}

/// `%.02f` of `money`: 1234 minor units -> `"12.34"`, 5 -> `"0.05"`, 100 -> `"1.00"`.
pub fn format_amount(money: &Money) -> Result<String, AmountError> {
    check_currency(money.currency)?;
    if money.minor < 0 {
        return Err(AmountError::Negative(money.to_decimal_fixed()));
    }
    Ok(money.to_decimal_fixed())
}

/// Parses `12`, `12.3` or `12.30` (surrounding whitespace ignored) into exact minor units.
/// A sign, an exponent, a comma, `.5`, `5.` or a third decimal are errors, never a rounding.
pub fn parse_amount(text: &str, currency: Currency) -> Result<Money, AmountError> {
    check_currency(currency)?;
    Ok(Money::new(parse_hundredths(text)?, currency))
}

/// [`format_amount`] for a bare count of hundredths (the SOAP `price`, whose currency is the
/// recurring order's).
pub fn format_hundredths(minor: i64) -> Result<String, AmountError> {
    if minor < 0 {
        return Err(AmountError::Negative(minor.to_string()));
    }
    Ok(format!("{}.{:02}", minor / 100, minor % 100))
}

/// [`parse_amount`] into a bare count of hundredths.
pub fn parse_hundredths(text: &str) -> Result<i64, AmountError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(AmountError::Empty);
    }
    if t.starts_with('-') {
        return Err(AmountError::Negative(t.to_string()));
    }
    let (int, frac) = match t.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (t, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || frac.is_some_and(|f| !digits(f)) {
        return Err(AmountError::Malformed(t.to_string()));
    }
    let frac = frac.unwrap_or("");
    if frac.len() > WIRE_DECIMALS as usize {
        return Err(AmountError::TooManyDecimals(t.to_string()));
    }
    let overflow = || AmountError::Overflow(t.to_string());
    let units: i64 = int.parse().map_err(|_| overflow())?;
    let cents = frac
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(WIRE_DECIMALS as usize)
        .fold(0i64, |acc, b| acc * 10 + i64::from(b - b'0'));
    units
        .checked_mul(100)
        .and_then(|m| m.checked_add(cents))
        .ok_or_else(overflow)
}

fn check_currency(currency: Currency) -> Result<(), AmountError> {
    if currency.exponent() == WIRE_DECIMALS {
        Ok(())
    } else {
        Err(AmountError::UnsupportedCurrency(currency))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ron() -> Currency {
        Currency::parse("RON").unwrap()
    }

    #[test]
    fn formats_like_sprintf_02f() {
        let cases = [
            (0, "0.00"),
            (5, "0.05"),
            (100, "1.00"),
            (1234, "12.34"),
            (1230, "12.30"),
        ];
        for (minor, text) in cases {
            assert_eq!(format_amount(&Money::new(minor, ron())).unwrap(), text);
        }
        assert_eq!(
            format_amount(&Money::new(i64::MAX, ron())).unwrap(),
            "92233720368547758.07"
        );
        assert!(matches!(
            format_amount(&Money::new(-1, ron())),
            Err(AmountError::Negative(_))
        ));
        let jpy = Currency::parse("JPY").unwrap();
        assert!(matches!(
            format_amount(&Money::new(1, jpy)),
            Err(AmountError::UnsupportedCurrency(_))
        ));
    }

    #[test]
    fn parses_exactly() {
        for (text, minor) in [
            ("12", 1200),
            ("12.3", 1230),
            ("12.30", 1230),
            ("12.34", 1234),
            (" 0.05\n", 5),
            ("0", 0),
            ("007.1", 710),
            ("92233720368547758.07", i64::MAX),
        ] {
            assert_eq!(
                parse_amount(text, ron()).unwrap(),
                Money::new(minor, ron()),
                "{text}"
            );
        }
    }

    #[test]
    fn rejects_what_is_not_exact() {
        use AmountError::*;
        type Check = fn(&AmountError) -> bool;
        let cases: [(&str, Check); 14] = [
            ("", |e| *e == Empty),
            ("  ", |e| *e == Empty),
            ("-1.00", |e| matches!(e, Negative(_))),
            ("12.345", |e| matches!(e, TooManyDecimals(_))),
            ("12.300", |e| matches!(e, TooManyDecimals(_))),
            ("+1", |e| matches!(e, Malformed(_))),
            ("1e3", |e| matches!(e, Malformed(_))),
            ("1,50", |e| matches!(e, Malformed(_))),
            (".5", |e| matches!(e, Malformed(_))),
            ("5.", |e| matches!(e, Malformed(_))),
            ("1.2.3", |e| matches!(e, Malformed(_))),
            ("NaN", |e| matches!(e, Malformed(_))),
            ("92233720368547758.08", |e| matches!(e, Overflow(_))),
            ("99999999999999999999", |e| matches!(e, Overflow(_))),
        ];
        for (text, check) in cases {
            let err = parse_amount(text, ron()).unwrap_err();
            assert!(check(&err), "{text:?} gave {err:?}");
        }
    }

    #[test]
    fn round_trips() {
        for minor in [0i64, 1, 9, 10, 99, 100, 101, 123_456_789, i64::MAX] {
            let m = Money::new(minor, ron());
            assert_eq!(parse_amount(&format_amount(&m).unwrap(), ron()).unwrap(), m);
        }
    }
}
