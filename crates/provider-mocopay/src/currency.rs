//! MoCoPay currency codes → ISO 4217 (docs/providers/mocopay.md "Currency"). Seed 004's session
//! says `"currencyCode" : "TES"`, which is no ISO 4217 code: it is MoCoPay's TEST currency (the
//! same sample has test MCC/MNC `999`/`99`). Our rule:
//!
//! - an ISO 4217 code PaySystem accepts (`paysys_platform::money::Currency`: `EUR`, `PLN`, ...)
//!   maps to itself;
//! - `TES` maps to the ORDER's currency, and only for an order in test mode: test money is
//!   accounted in the separate test book (DESIGN 4, `test: "True"`) in the currency the merchant
//!   asked for, amounts read as that currency's minor units. For a live order `TES` is an error,
//!   which the adapter treats as a currency mismatch (no money believed);
//! - anything else is an error value, never a panic.

use paysys_platform::money::Currency;
use std::fmt;

/// MoCoPay's test currency code (seed 004).
pub const TEST_CODE: &str = "TES";

/// A currency code as MoCoPay writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MocoCurrency {
    /// An ISO 4217 currency PaySystem accepts.
    Iso(Currency),
    /// `TES`: MoCoPay's test currency, no real money.
    Test,
}

/// Why a MoCoPay currency code cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CurrencyError {
    #[error("unknown MoCoPay currency code {0:?}")]
    Unknown(String),
    #[error("MoCoPay test currency TES on a live order")]
    TestCurrencyOnLiveOrder,
}

impl MocoCurrency {
    /// `TES` or an ISO 4217 code PaySystem accepts (exact, upper case); else `Unknown`.
    pub fn parse(code: &str) -> Result<Self, CurrencyError> {
        if code == TEST_CODE {
            return Ok(Self::Test);
        }
        Currency::parse(code)
            .map(Self::Iso)
            .map_err(|_| CurrencyError::Unknown(code.to_string()))
    }

    /// The code on the wire (`TES`, `EUR`).
    pub fn as_str(&self) -> &str {
        match self {
            Self::Iso(c) => c.as_str(),
            Self::Test => TEST_CODE,
        }
    }

    /// The ISO 4217 currency of money reported in this code for an order in `order_currency`:
    /// itself, or for `TES` the order's currency when the order is a test order. The caller still
    /// compares the result with the order's currency (an ISO code may differ from it).
    pub fn to_iso(
        &self,
        order_currency: Currency,
        test_mode: bool,
    ) -> Result<Currency, CurrencyError> {
        match self {
            Self::Iso(c) => Ok(*c),
            Self::Test if test_mode => Ok(order_currency),
            Self::Test => Err(CurrencyError::TestCurrencyOnLiveOrder),
        }
    }
}

impl fmt::Display for MocoCurrency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// [`MocoCurrency::parse`] then [`MocoCurrency::to_iso`], for a code read off the wire.
pub fn to_iso(
    code: &str,
    order_currency: Currency,
    test_mode: bool,
) -> Result<Currency, CurrencyError> {
    MocoCurrency::parse(code)?.to_iso(order_currency, test_mode)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur() -> Currency {
        Currency::parse("EUR").unwrap()
    }

    #[test]
    fn seed_test_currency_follows_a_test_order_only() {
        assert_eq!(MocoCurrency::parse("TES").unwrap(), MocoCurrency::Test);
        assert_eq!(to_iso("TES", eur(), true).unwrap(), eur());
        assert_eq!(
            to_iso("TES", eur(), false),
            Err(CurrencyError::TestCurrencyOnLiveOrder)
        );
    }

    #[test]
    fn iso_codes_map_to_themselves_in_both_modes() {
        let pln = Currency::parse("PLN").unwrap();
        assert_eq!(to_iso("PLN", eur(), false).unwrap(), pln);
        assert_eq!(to_iso("PLN", eur(), true).unwrap(), pln);
        assert_eq!(MocoCurrency::Iso(pln).as_str(), "PLN");
        assert_eq!(MocoCurrency::Test.to_string(), "TES");
    }

    #[test]
    fn unknown_codes_are_errors() {
        for code in ["XYZ", "eur", "", "TEST", "tes", "€"] {
            assert_eq!(
                MocoCurrency::parse(code),
                Err(CurrencyError::Unknown(code.to_string()))
            );
        }
    }
}
