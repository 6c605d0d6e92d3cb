//! The books, without I/O: the chart of accounts, the platform fee and the lines of the one
//! transfer a successful charge becomes. Balanced by construction; the property test below and
//! the database trigger (migrations/ledger) check it anyway.

use std::fmt;

/// Basis points of the platform fee, 0..=10000 (300 = 3 %). The constructor is the validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "i64")]
pub struct FeeBps(u16);

impl FeeBps {
    pub const MAX: u16 = 10_000;

    pub fn new(bps: i64) -> Result<Self, String> {
        u16::try_from(bps)
            .ok()
            .filter(|b| *b <= Self::MAX)
            .map(FeeBps)
            .ok_or_else(|| format!("ledger.fee_bps must be 0..=10000 basis points, got {bps}"))
    }

    pub fn get(self) -> u16 {
        self.0
    }
}

impl TryFrom<i64> for FeeBps {
    type Error = String;
    fn try_from(bps: i64) -> Result<Self, String> {
        FeeBps::new(bps)
    }
}

/// The book a transfer and its lines live in. The test book holds the charges of test orders
/// (the provider's test environment) and never mixes with the live one: balances, statements
/// and the debits = credits invariant are per book (and currency).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Book {
    #[default]
    Live,
    Test,
}

impl Book {
    /// The test book when `test`, the live one otherwise (the `--test` of queries).
    pub fn of(test: bool) -> Book {
        if test {
            Book::Test
        } else {
            Book::Live
        }
    }

    /// What the `book` columns hold.
    pub fn as_str(self) -> &'static str {
        match self {
            Book::Live => "live",
            Book::Test => "test",
        }
    }
}

impl fmt::Display for Book {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An account of the chart. Its name is what the `entries.account` column holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Account {
    /// What a provider owes the platform for the charges it collected (debit-normal).
    ProviderReceivable(String),
    /// What the platform owes a merchant: the charges less the fee (credit-normal).
    MerchantPayable(String),
    /// The platform's fee income (credit-normal).
    PlatformFeeRevenue,
}

const RECEIVABLE: &str = "provider_receivable:";
const PAYABLE: &str = "merchant_payable:";
const REVENUE: &str = "platform_fee_revenue";

impl Account {
    pub fn parse(name: &str) -> Option<Account> {
        if let Some(p) = name.strip_prefix(RECEIVABLE) {
            Some(Account::ProviderReceivable(p.to_string()))
        } else if let Some(m) = name.strip_prefix(PAYABLE) {
            Some(Account::MerchantPayable(m.to_string()))
        } else if name == REVENUE {
            Some(Account::PlatformFeeRevenue)
        } else {
            None
        }
    }

    /// The side on which this account grows.
    pub fn normal_side(&self) -> Side {
        match self {
            Account::ProviderReceivable(_) => Side::Debit,
            Account::MerchantPayable(_) | Account::PlatformFeeRevenue => Side::Credit,
        }
    }

    /// The balance in the account's normal direction (positive when owed or earned).
    pub fn balance(&self, debits: i64, credits: i64) -> Option<i64> {
        match self.normal_side() {
            Side::Debit => debits.checked_sub(credits),
            Side::Credit => credits.checked_sub(debits),
        }
    }
}

impl fmt::Display for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Account::ProviderReceivable(p) => write!(f, "{RECEIVABLE}{p}"),
            Account::MerchantPayable(m) => write!(f, "{PAYABLE}{m}"),
            Account::PlatformFeeRevenue => f.write_str(REVENUE),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Debit,
    Credit,
}

/// One entry of a transfer; `amount` is always positive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub account: Account,
    pub side: Side,
    pub amount: i64,
}

impl Line {
    /// (debit, credit) as the entries table stores them.
    pub fn debit_credit(&self) -> (i64, i64) {
        match self.side {
            Side::Debit => (self.amount, 0),
            Side::Credit => (0, self.amount),
        }
    }
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PostingError {
    #[error("amount_minor must be positive, got {0}")]
    NonPositiveAmount(i64),
    #[error("fee of {amount} at {bps} bps overflows")]
    Overflow { amount: i64, bps: u16 },
}

/// The platform fee of `amount`: amount * bps / 10000, rounded down.
pub fn fee(amount: i64, bps: FeeBps) -> Result<i64, PostingError> {
    if amount <= 0 {
        return Err(PostingError::NonPositiveAmount(amount));
    }
    let fee = i128::from(amount)
        .checked_mul(i128::from(bps.get()))
        .map(|p| p / i128::from(FeeBps::MAX));
    fee.and_then(|f| i64::try_from(f).ok())
        .ok_or(PostingError::Overflow {
            amount,
            bps: bps.get(),
        })
}

/// The transfer of one successful charge: the provider owes the gross amount, the merchant is
/// owed it less the fee, the platform earns the fee. Zero lines are left out.
pub fn transfer_lines(
    amount: i64,
    bps: FeeBps,
    provider: &str,
    merchant_id: &str,
) -> Result<Transfer, PostingError> {
    let fee = fee(amount, bps)?;
    // fee <= amount because bps <= 10000, so this cannot underflow.
    let net = amount - fee;
    let candidates = [
        (
            Account::ProviderReceivable(provider.into()),
            Side::Debit,
            amount,
        ),
        (
            Account::MerchantPayable(merchant_id.into()),
            Side::Credit,
            net,
        ),
        (Account::PlatformFeeRevenue, Side::Credit, fee),
    ];
    let lines = candidates
        .into_iter()
        .filter(|(_, _, amount)| *amount > 0)
        .map(|(account, side, amount)| Line {
            account,
            side,
            amount,
        })
        .collect();
    Ok(Transfer { fee, lines })
}

/// The lines of a transfer and the fee they include.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    pub fee: i64,
    pub lines: Vec<Line>,
}

impl Transfer {
    /// (sum of debits, sum of credits), wide enough never to overflow.
    pub fn sums(&self) -> (i128, i128) {
        self.lines.iter().fold((0, 0), |(d, c), l| {
            let (ld, lc) = l.debit_credit();
            (d + i128::from(ld), c + i128::from(lc))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn bps(b: i64) -> FeeBps {
        FeeBps::new(b).unwrap()
    }

    #[test]
    fn three_percent_of_1000_is_30() {
        let t = transfer_lines(1000, bps(300), "mobiltek", "34801").unwrap();
        assert_eq!(t.fee, 30);
        let lines: Vec<(String, (i64, i64))> = t
            .lines
            .iter()
            .map(|l| (l.account.to_string(), l.debit_credit()))
            .collect();
        assert_eq!(
            lines,
            vec![
                ("provider_receivable:mobiltek".to_string(), (1000, 0)),
                ("merchant_payable:34801".to_string(), (0, 970)),
                ("platform_fee_revenue".to_string(), (0, 30)),
            ]
        );
    }

    #[test]
    fn fee_rounds_down_and_zero_lines_are_left_out() {
        assert_eq!(fee(999, bps(300)).unwrap(), 29);
        // Seed 000: a 10 grosz charge earns no fee at 3 %, so no revenue line.
        let t = transfer_lines(10, bps(300), "mobiltek", "1").unwrap();
        assert_eq!(t.fee, 0);
        assert_eq!(t.lines.len(), 2);
        // All of it is fee: the merchant is owed nothing, so no payable line.
        let t = transfer_lines(10, bps(10_000), "mobiltek", "1").unwrap();
        assert_eq!(t.lines.len(), 2);
        assert!(t
            .lines
            .iter()
            .all(|l| l.account != Account::MerchantPayable("1".into())));
    }

    #[test]
    fn non_positive_amounts_are_refused() {
        assert_eq!(fee(0, bps(300)), Err(PostingError::NonPositiveAmount(0)));
        assert!(transfer_lines(-5, bps(300), "mobiltek", "1").is_err());
    }

    #[test]
    fn largest_amount_does_not_overflow() {
        let t = transfer_lines(i64::MAX, bps(10_000), "p", "m").unwrap();
        assert_eq!(t.fee, i64::MAX);
        let t = transfer_lines(i64::MAX, bps(9_999), "p", "m").unwrap();
        assert_eq!(t.sums().0, t.sums().1);
    }

    #[test]
    fn fee_bps_is_validated_naming_the_setting() {
        assert!(FeeBps::new(0).is_ok());
        assert!(FeeBps::new(10_000).is_ok());
        for bad in [-1, 10_001, 70_000] {
            assert!(FeeBps::new(bad).unwrap_err().contains("ledger.fee_bps"));
        }
    }

    #[test]
    fn account_names_round_trip_and_balance_in_their_normal_direction() {
        for a in [
            Account::ProviderReceivable("mobiltek".into()),
            Account::MerchantPayable("34801".into()),
            Account::PlatformFeeRevenue,
        ] {
            assert_eq!(Account::parse(&a.to_string()), Some(a));
        }
        assert_eq!(Account::parse("cash"), None);
        assert_eq!(
            Account::ProviderReceivable("p".into()).balance(1000, 0),
            Some(1000)
        );
        assert_eq!(
            Account::MerchantPayable("m".into()).balance(0, 970),
            Some(970)
        );
        assert_eq!(Account::PlatformFeeRevenue.balance(0, 30), Some(30));
    }

    #[test]
    fn books_are_live_unless_test() {
        assert_eq!(Book::default(), Book::Live);
        assert_eq!(Book::of(false), Book::Live);
        assert_eq!(Book::of(true), Book::Test);
        assert_eq!(
            (Book::Live.as_str(), Book::Test.to_string()),
            ("live", "test".into())
        );
    }

    proptest! {
        #[test]
        fn every_transfer_balances(amount in 1..=i64::MAX / 2, b in 0i64..=10_000) {
            let t = transfer_lines(amount, bps(b), "mobiltek", "34801").unwrap();
            let (debits, credits) = t.sums();
            prop_assert_eq!(debits, credits);
            prop_assert_eq!(debits, i128::from(amount));
            prop_assert!(t.lines.iter().all(|l| l.amount > 0));
            prop_assert!(t.fee >= 0 && t.fee <= amount);
            prop_assert!(!t.lines.is_empty() && t.lines.len() <= 3);
        }
    }
}
