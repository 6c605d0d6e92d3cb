//! PHP's `urlencode`/`urldecode`. mobilPay's own SDK (`Mobilpay_Payment_Invoice`,
//! `Mobilpay_Payment_Address`) urlencodes `details` and the contact fields into the order XML and
//! urldecodes them, and `<param><value>`, when reading; mobilPay's side is that same PHP code, so
//! we encode the same way to have a name like "Ana+Maria" or "100%" arrive unchanged.

/// `urlencode()`: ASCII letters, digits and `-_.` stay, a space becomes `+`, every other byte
/// of the UTF-8 text becomes `%XX` (uppercase).
pub(crate) fn php_urlencode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for &b in text.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => out.push(b as char),
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push(hex_digit(b >> 4));
                out.push(hex_digit(b & 0x0f));
            }
        }
    }
    out
}

/// `urldecode()`: `+` is a space, `%XX` a byte; a `%` not followed by two hex digits stays as it
/// is (PHP does the same). `None` when the bytes are not UTF-8.
pub(crate) fn php_urldecode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match (hex_value(bytes[i + 1]), hex_value(bytes[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push(h << 4 | l);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

fn hex_digit(n: u8) -> char {
    char::from(b"0123456789ABCDEF"[usize::from(n & 0x0f)])
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_php() {
        // php -r 'echo urlencode("Ana Maria-Ioana_x.y ~ 100% & Ş");'
        assert_eq!(
            php_urlencode("Ana Maria-Ioana_x.y ~ 100% & Ş"),
            "Ana+Maria-Ioana_x.y+%7E+100%25+%26+%C5%9E"
        );
    }

    #[test]
    fn decodes_like_php() {
        assert_eq!(
            php_urldecode("Ana+Maria+%C5%9E%").as_deref(),
            Some("Ana Maria Ş%")
        );
        assert_eq!(php_urldecode("100%zz%4").as_deref(), Some("100%zz%4"));
        assert_eq!(php_urldecode("%ff"), None);
        for s in ["", "a b", "ĂÂÎȘȚ ăâîșț <&>\"'", "%+%2"] {
            assert_eq!(php_urldecode(&php_urlencode(s)).as_deref(), Some(s));
        }
    }
}
