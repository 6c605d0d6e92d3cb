//! The merchant's answer to an IPN (`Content-Type: application/xml`), which decides whether
//! mobilPay sends the IPN again:
//!
//! - `<crc>{the IPN's crc}</crc>`: recorded, do not resend.
//! - `<crc error_type="1" error_code="N">message</crc>`: temporary failure, mobilPay resends
//!   later (up to about 20 times).
//! - `<crc error_type="2" error_code="N">message</crc>`: permanent failure, no resend.
//!
//! Real merchants answer more loosely than that, and [`parse_crc_answer`] reads them as mobilPay
//! must: the PHP SDK's `cardConfirm.php` puts its (empty) message in a success `<crc>` rather than
//! the crc, and the netopia-card Node package sends `error_code` without `error_type`.

use super::error::WireError;
use super::xml::{self, XmlWriter};

/// `error_type` of a failed answer (`CONFIRM_ERROR_TYPE_*` in the PHP SDK).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorType {
    /// `1`: mobilPay resends the IPN later.
    Temporary,
    /// `2`: mobilPay gives up on this IPN.
    Permanent,
}

impl ErrorType {
    pub fn code(self) -> u8 {
        match self {
            ErrorType::Temporary => 1,
            ErrorType::Permanent => 2,
        }
    }
}

/// The success answer: `<?xml version="1.0" encoding="utf-8"?><crc>{crc}</crc>`.
pub fn crc_ok(crc: &str) -> String {
    XmlWriter::document().leaf("crc", crc).finish()
}

/// A failure answer: `<crc error_type="1|2" error_code="N">message</crc>`. `code` is the
/// merchant's own (the SDK uses its exception codes, e.g. `0x300000f3`, sent in decimal).
pub fn crc_error(error_type: ErrorType, code: i64, message: &str) -> String {
    let error_type = error_type.code().to_string();
    let code = code.to_string();
    XmlWriter::document()
        .leaf_with(
            "crc",
            &[("error_type", &error_type), ("error_code", &code)],
            message,
        )
        .finish()
}

/// A merchant's answer as mobilPay (the sandbox) reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CrcAnswer {
    /// Recorded. `text` is the element's text: the crc by the book, anything in practice.
    Accepted { text: String },
    /// Not recorded.
    Failed {
        error_type: ErrorType,
        error_code: i64,
        message: String,
    },
}

impl CrcAnswer {
    /// Whether mobilPay sends the IPN again: only after a temporary failure.
    pub fn should_resend(&self) -> bool {
        matches!(
            self,
            CrcAnswer::Failed {
                error_type: ErrorType::Temporary,
                ..
            }
        )
    }
}

/// Reads a merchant's answer. `error_code` 0 or absent is success whatever `error_type` says
/// (mobilPay's README: "If error_code is 0, then everything went fine"); a non-zero code
/// without `error_type` is taken as temporary, so a notification is resent rather than lost.
/// Anything that is not a `<crc>` document is an error; a sender should resend after it too.
pub fn parse_crc_answer(body: &str) -> Result<CrcAnswer, WireError> {
    let root = xml::parse(body)?;
    if root.name != "crc" {
        return Err(WireError::new(
            "crc",
            format!("the answer's root is <{}>", root.name),
        ));
    }
    let text = root.text().to_string();
    let error_code = match root.attr("error_code").map(str::trim) {
        None | Some("") => 0,
        Some(code) => code.parse::<i64>().map_err(|_| {
            WireError::new("crc.error_code", format!("{code:?} is not a whole number"))
        })?,
    };
    if error_code == 0 {
        return Ok(CrcAnswer::Accepted { text });
    }
    let error_type = match root.attr("error_type").map(str::trim) {
        None | Some("") | Some("1") => ErrorType::Temporary,
        Some("2") => ErrorType::Permanent,
        Some(other) => {
            return Err(WireError::new(
                "crc.error_type",
                format!("{other:?} is neither 1 (temporary) nor 2 (permanent)"),
            ))
        }
    };
    Ok(CrcAnswer::Failed {
        error_type,
        error_code,
        message: text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_the_documented_answers() {
        assert_eq!(
            crc_ok("9f1c2d"),
            r#"<?xml version="1.0" encoding="utf-8"?><crc>9f1c2d</crc>"#
        );
        assert_eq!(
            crc_error(ErrorType::Temporary, 0x300000f3, "db <down> & out"),
            r#"<?xml version="1.0" encoding="utf-8"?><crc error_type="1" error_code="805306611">db &lt;down&gt; &amp; out</crc>"#
        );
        assert!(crc_error(ErrorType::Permanent, 5, "x").contains(r#"error_type="2""#));
    }

    #[test]
    fn reads_its_own_answers() {
        assert_eq!(
            parse_crc_answer(&crc_ok("abc")).unwrap(),
            CrcAnswer::Accepted { text: "abc".into() }
        );
        let temp = parse_crc_answer(&crc_error(ErrorType::Temporary, 42, "later")).unwrap();
        assert_eq!(
            temp,
            CrcAnswer::Failed {
                error_type: ErrorType::Temporary,
                error_code: 42,
                message: "later".into()
            }
        );
        assert!(temp.should_resend());
        let perm = parse_crc_answer(&crc_error(ErrorType::Permanent, -1, "never")).unwrap();
        assert!(!perm.should_resend());
    }

    #[test]
    fn reads_what_real_merchants_send() {
        // PHP SDK cardConfirm.php on success: the (empty) message, a newline after the declaration.
        let php = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<crc></crc>";
        assert!(!parse_crc_answer(php).unwrap().should_resend());
        // netopia-card (Node): error_code without error_type.
        let node = r#"<?xml version="1.0" encoding="utf-8" ?><crc error_code="35">declined</crc>"#;
        assert!(parse_crc_answer(node).unwrap().should_resend());
        // error_code 0 with a type is still success.
        let zero = r#"<crc error_type="1" error_code="0">ok</crc>"#;
        assert_eq!(
            parse_crc_answer(zero).unwrap(),
            CrcAnswer::Accepted { text: "ok".into() }
        );
    }

    #[test]
    fn anything_else_is_an_error_naming_what() {
        assert_eq!(
            parse_crc_answer("<html>oops</html>").unwrap_err().field,
            "crc"
        );
        assert_eq!(
            parse_crc_answer("Internal Server Error").unwrap_err().field,
            "xml"
        );
        assert_eq!(
            parse_crc_answer(r#"<crc error_code="x"/>"#)
                .unwrap_err()
                .field,
            "crc.error_code"
        );
        assert_eq!(
            parse_crc_answer(r#"<crc error_type="3" error_code="1"/>"#)
                .unwrap_err()
                .field,
            "crc.error_type"
        );
    }
}
