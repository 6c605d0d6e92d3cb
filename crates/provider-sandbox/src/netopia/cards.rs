//! mobilPay's published sandbox test cards and what each does (PROVIDERS.md, docs/providers/
//! netopia.md), plus one card of ours enrolled in 3-D Secure: it pays, but recurrence cannot be
//! scheduled on it (seed 003: `current_payment_count` 0). Any other number is not a sandbox card.

use provider_netopia::wire::ErrorCode;

/// What paying with a card does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardOutcome {
    /// Approved (the approved card wants CVV [`APPROVED_CVV`], else error 21).
    Approved,
    /// Approved, but the card is enrolled in 3-D Secure: no recurrence.
    Approved3ds,
    /// Declined with this error code.
    Declined(ErrorCode),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TestCard {
    pub number: &'static str,
    pub outcome: CardOutcome,
    /// What the card page lists it as.
    pub label: &'static str,
}

/// The CVV of the approved card.
pub const APPROVED_CVV: &str = "111";

/// The approved card (`/_sandbox/complete`'s default).
pub const APPROVED: &str = "9900004810225098";

/// Ours: a 3-D Secure enrolled card (`"card": "3ds"` in `/_sandbox/complete`).
pub const THREE_DS: &str = "9900300000000006";

pub const CARDS: [TestCard; 8] = [
    TestCard {
        number: APPROVED,
        outcome: CardOutcome::Approved,
        label: "approved (CVV 111)",
    },
    TestCard {
        number: "9900541631437790",
        outcome: CardOutcome::Declined(ErrorCode::EXPIRED),
        label: "expired card (19)",
    },
    TestCard {
        number: "9900518572831942",
        outcome: CardOutcome::Declined(ErrorCode::INSUFFICIENT_FUNDS),
        label: "insufficient funds (20)",
    },
    TestCard {
        number: "9900827979991500",
        outcome: CardOutcome::Declined(ErrorCode::BAD_CVV),
        label: "CVV error (21)",
    },
    TestCard {
        number: "9900576270414197",
        outcome: CardOutcome::Declined(ErrorCode::DECLINED),
        label: "declined (35)",
    },
    TestCard {
        number: "9900334791085173",
        outcome: CardOutcome::Declined(ErrorCode::RISK),
        label: "high risk (16)",
    },
    TestCard {
        number: "9900130597497640",
        outcome: CardOutcome::Declined(ErrorCode::GENERIC),
        label: "bank error (99)",
    },
    TestCard {
        number: THREE_DS,
        outcome: CardOutcome::Approved3ds,
        label: "3-D Secure enrolled: approved, no recurrence (sandbox only)",
    },
];

/// The test card with this number (spaces and dashes ignored).
pub fn find(number: &str) -> Option<&'static TestCard> {
    let digits: String = number.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    CARDS.iter().find(|c| c.number == digits)
}

/// What the card does with this CVV: the approved card checks it, the others do not.
pub fn decide(card: &TestCard, cvv: &str) -> CardOutcome {
    match card.outcome {
        CardOutcome::Approved if cvv.trim() != APPROVED_CVV => {
            CardOutcome::Declined(ErrorCode::BAD_CVV)
        }
        other => other,
    }
}

/// mobilPay's `pan_masked`: the first digit, stars, the last four (`9****5098`).
pub fn mask(number: &str) -> String {
    let first = &number[..1.min(number.len())];
    let last = &number[number.len().saturating_sub(4)..];
    format!("{first}****{last}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn luhn(number: &str) -> bool {
        let sum: u32 = number
            .bytes()
            .rev()
            .enumerate()
            .map(|(i, b)| {
                let d = u32::from(b - b'0');
                match (i % 2 == 1, d * 2) {
                    (true, dd) if dd > 9 => dd - 9,
                    (true, dd) => dd,
                    (false, _) => d,
                }
            })
            .sum();
        sum.is_multiple_of(10)
    }

    #[test]
    fn every_card_is_a_sixteen_digit_luhn_number() {
        for c in CARDS {
            assert_eq!(c.number.len(), 16, "{}", c.number);
            assert!(luhn(c.number), "{}", c.number);
        }
    }

    #[test]
    fn the_approved_card_checks_its_cvv() {
        let card = find("9900 0048 1022 5098").unwrap();
        assert_eq!(decide(card, "111"), CardOutcome::Approved);
        assert_eq!(
            decide(card, "123"),
            CardOutcome::Declined(ErrorCode::BAD_CVV)
        );
        assert_eq!(
            decide(find("9900541631437790").unwrap(), "111"),
            CardOutcome::Declined(ErrorCode::EXPIRED)
        );
        assert!(find("4111111111111111").is_none());
        assert_eq!(mask(APPROVED), "9****5098");
    }
}
