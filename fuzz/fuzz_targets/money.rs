//! The money parsers: `paysys_platform::money` (decimal major units <-> minor units, currencies)
//! and Netopia's `%.02f` amounts (`provider_netopia::wire::amount`). Invariants:
//! - whatever parses formats back to a string that parses to the same money, both in the fixed
//!   (`12.30`) and the trimmed (`12.3`) form;
//! - every i64 of minor units formats to a string that parses back to itself (fixed and trimmed),
//!   with exactly the currency's number of fraction digits in the fixed form;
//! - Netopia's amounts: every non-negative count of hundredths round-trips, and a parsed amount
//!   is never negative.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paysys_platform::money::{Currency, Money};
use provider_netopia::wire::amount::{format_hundredths, parse_hundredths};
use provider_netopia::wire::{format_amount, parse_amount};

const CODES: [&str; 4] = ["PLN", "RON", "EUR", "JPY"];

fn round_trips(m: Money) {
    let fixed = m.to_decimal_fixed();
    let exp = m.currency.exponent() as usize;
    match fixed.split_once('.') {
        Some((_, frac)) => assert_eq!(frac.len(), exp, "{fixed}"),
        None => assert_eq!(exp, 0, "{fixed}"),
    }
    assert_eq!(
        Money::parse_decimal(&fixed, m.currency),
        Ok(m),
        "fixed {fixed:?}"
    );
    let trimmed = m.to_decimal_trimmed();
    assert_eq!(
        Money::parse_decimal(&trimmed, m.currency),
        Ok(m),
        "trimmed {trimmed:?}"
    );
    let _ = m.to_string();
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let currency =
        Currency::parse(CODES[usize::from(selector) % CODES.len()]).expect("a known currency");

    // Any 8 bytes as minor units.
    if let Some(raw) = rest.get(..8) {
        let minor = i64::from_le_bytes(raw.try_into().expect("8 bytes"));
        round_trips(Money::new(minor, currency));
        match format_hundredths(minor) {
            Ok(text) => assert_eq!(parse_hundredths(&text), Ok(minor), "{text}"),
            Err(_) => assert!(minor < 0),
        }
        if currency.exponent() == 2 {
            if let Ok(text) = format_amount(&Money::new(minor, currency)) {
                assert_eq!(
                    parse_amount(&text, currency),
                    Ok(Money::new(minor, currency))
                );
            }
        }
    }

    // The rest as text.
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    if let Ok(m) = Money::parse_decimal(text, currency) {
        assert_eq!(m.currency, currency);
        round_trips(m);
    }
    if let Ok(hundredths) = parse_hundredths(text) {
        assert!(hundredths >= 0, "{text:?} parsed to {hundredths}");
        assert_eq!(
            format_hundredths(hundredths).map(|t| parse_hundredths(&t)),
            Ok(Ok(hundredths))
        );
    }
    if let Ok(m) = parse_amount(text, currency) {
        assert_eq!(
            Money::parse_decimal(text, currency),
            Ok(m),
            "Netopia and the platform disagree on {text:?}"
        );
    }
    if let Ok(c) = Currency::parse(text) {
        assert_eq!(Currency::parse(c.as_str()), Ok(c));
    }
});
