//! Seed 003's result codes (`Code_OK = 0x5000` ...). mobilPay's `code` is a string: compare it
//! numerically, and accept it as decimal (`20480`, what a PHP server sends for an int) or as hex
//! (`0x5000`, how the seed writes it).

use std::fmt;
use std::hash::{Hash, Hasher};

/// A SOAP result code. Equality is numeric: `ResultCode::Other(0x5000)` equals `ResultCode::Ok`.
#[derive(Debug, Clone, Copy)]
pub enum ResultCode {
    /// `0x1000` Code_Invalid_User: bad credentials or session.
    InvalidUser,
    /// `0x1001` Code_Restricted_Usage.
    RestrictedUsage,
    /// `0x2000` Code_Invalid_Request.
    InvalidRequest,
    /// `0x3000` Code_Transaction_Invalid_Action: e.g. no recurrence to act on.
    TransactionInvalidAction,
    /// `0x4001` Code_Database_Error.
    DatabaseError,
    /// `0x4002` Code_Wrong_Data_Format, which the seed also names Code_Invalid_Data.
    WrongDataFormat,
    /// `0x4004` Code_Purchase_Not_Found.
    PurchaseNotFound,
    /// `0x4005` Code_Invalid_Seller_Account.
    InvalidSellerAccount,
    /// `0x5000` Code_OK.
    Ok,
    /// A code the seed does not list.
    Other(u32),
}

impl ResultCode {
    /// The seed gives Code_Invalid_Data the same value as Code_Wrong_Data_Format.
    pub const INVALID_DATA: ResultCode = ResultCode::WrongDataFormat;

    const KNOWN: [(ResultCode, u32, &'static str); 9] = [
        (ResultCode::InvalidUser, 0x1000, "invalid user"),
        (ResultCode::RestrictedUsage, 0x1001, "restricted usage"),
        (ResultCode::InvalidRequest, 0x2000, "invalid request"),
        (
            ResultCode::TransactionInvalidAction,
            0x3000,
            "invalid action",
        ),
        (ResultCode::DatabaseError, 0x4001, "database error"),
        (ResultCode::WrongDataFormat, 0x4002, "wrong data format"),
        (ResultCode::PurchaseNotFound, 0x4004, "purchase not found"),
        (
            ResultCode::InvalidSellerAccount,
            0x4005,
            "invalid seller account",
        ),
        (ResultCode::Ok, 0x5000, "OK"),
    ];

    pub fn value(self) -> u32 {
        match self {
            ResultCode::InvalidUser => 0x1000,
            ResultCode::RestrictedUsage => 0x1001,
            ResultCode::InvalidRequest => 0x2000,
            ResultCode::TransactionInvalidAction => 0x3000,
            ResultCode::DatabaseError => 0x4001,
            ResultCode::WrongDataFormat => 0x4002,
            ResultCode::PurchaseNotFound => 0x4004,
            ResultCode::InvalidSellerAccount => 0x4005,
            ResultCode::Ok => 0x5000,
            ResultCode::Other(v) => v,
        }
    }

    /// The named variant for a known value, else `Other`.
    pub fn from_value(value: u32) -> ResultCode {
        ResultCode::KNOWN
            .iter()
            .find(|(_, v, _)| *v == value)
            .map(|(code, _, _)| *code)
            .unwrap_or(ResultCode::Other(value))
    }

    /// Reads `20480`, `0x5000` or `0X5000` (whitespace around it ignored).
    pub fn parse(text: &str) -> Option<ResultCode> {
        let t = text.trim();
        let value = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
            Some(hex) if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
                u32::from_str_radix(hex, 16).ok()?
            }
            Some(_) => return None,
            None if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) => t.parse().ok()?,
            None => return None,
        };
        Some(ResultCode::from_value(value))
    }

    pub fn is_ok(self) -> bool {
        self.value() == 0x5000
    }

    /// What the seed calls it, in words: `OK`, `purchase not found`, ...
    pub fn description(self) -> &'static str {
        let value = self.value();
        ResultCode::KNOWN
            .iter()
            .find(|(_, v, _)| *v == value)
            .map(|(_, _, d)| *d)
            .unwrap_or("unknown result code")
    }

    /// The `code` text we send: decimal, so PHP's `$result->code != 0x5000` (the seed's own
    /// example) compares as numbers; the string "0x5000" would not equal 20480 in PHP.
    pub fn wire_text(self) -> String {
        self.value().to_string()
    }
}

impl PartialEq for ResultCode {
    fn eq(&self, other: &Self) -> bool {
        self.value() == other.value()
    }
}

impl Eq for ResultCode {}

impl Hash for ResultCode {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.value().hash(state);
    }
}

impl fmt::Display for ResultCode {
    /// `0x5000 OK`, the form the merchant API hands back (DESIGN 4).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#06x} {}", self.value(), self.description())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_table() {
        let table = [
            (ResultCode::InvalidUser, 0x1000),
            (ResultCode::RestrictedUsage, 0x1001),
            (ResultCode::InvalidRequest, 0x2000),
            (ResultCode::TransactionInvalidAction, 0x3000),
            (ResultCode::DatabaseError, 0x4001),
            (ResultCode::WrongDataFormat, 0x4002),
            (ResultCode::INVALID_DATA, 0x4002),
            (ResultCode::PurchaseNotFound, 0x4004),
            (ResultCode::InvalidSellerAccount, 0x4005),
            (ResultCode::Ok, 0x5000),
        ];
        for (code, value) in table {
            assert_eq!(code.value(), value);
            assert_eq!(ResultCode::from_value(value), code);
            assert_eq!(ResultCode::parse(&format!("{value:#x}")), Some(code));
            assert_eq!(ResultCode::parse(&value.to_string()), Some(code));
        }
    }

    #[test]
    fn compares_numerically_in_either_notation() {
        assert_eq!(ResultCode::parse("20480"), Some(ResultCode::Ok));
        assert_eq!(ResultCode::parse(" 0x5000 "), Some(ResultCode::Ok));
        assert_eq!(ResultCode::parse("0X5000"), Some(ResultCode::Ok));
        assert_eq!(ResultCode::Other(0x5000), ResultCode::Ok);
        assert!(ResultCode::parse("20480").unwrap().is_ok());
        assert_eq!(ResultCode::parse("7"), Some(ResultCode::Other(7)));
        assert_eq!(ResultCode::Other(7).description(), "unknown result code");
        for bad in ["", "0x", "0xg", "-1", "5000h", "1e3", "99999999999"] {
            assert_eq!(ResultCode::parse(bad), None, "{bad}");
        }
        assert_eq!(ResultCode::Ok.to_string(), "0x5000 OK");
        assert_eq!(ResultCode::PurchaseNotFound.wire_text(), "16388");
    }
}
