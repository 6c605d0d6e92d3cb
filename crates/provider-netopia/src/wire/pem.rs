//! PEM armour (RFC 7468) for the keys and certificates mobilPay hands out: `CERTIFICATE`,
//! `PUBLIC KEY`, `PRIVATE KEY` (PKCS#8) and `RSA PRIVATE KEY` (PKCS#1, what `openssl genrsa`
//! wrote for years and what many mobilPay merchant kits contain).

use base64::engine::general_purpose::GeneralPurpose;
use base64::engine::{DecodePaddingMode, GeneralPurposeConfig};
use base64::{alphabet, Engine};

const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

pub(crate) struct PemBlock {
    pub label: String,
    pub der: Vec<u8>,
    /// Legacy OpenSSL encryption (`Proc-Type: 4,ENCRYPTED`): the body is not DER.
    pub encrypted: bool,
}

/// Every block in `text`, in order; text outside the blocks (a bundle's comments) is ignored.
pub(crate) fn parse_blocks(text: &str) -> Result<Vec<PemBlock>, String> {
    let mut blocks = Vec::new();
    let mut lines = text.lines().map(str::trim);
    while let Some(line) = lines.next() {
        let Some(label) = armour_label(line, "-----BEGIN ") else {
            continue;
        };
        let mut body = String::new();
        let mut encrypted = false;
        let mut closed = false;
        for line in lines.by_ref() {
            if let Some(end) = armour_label(line, "-----END ") {
                if end != label {
                    return Err(format!("PEM block BEGIN {label} ends with END {end}"));
                }
                closed = true;
                break;
            }
            if line.contains(':') {
                encrypted |= line.starts_with("Proc-Type:") && line.contains("ENCRYPTED");
                continue;
            }
            body.push_str(line);
        }
        if !closed {
            return Err(format!("PEM block {label} has no END line"));
        }
        let der = LENIENT
            .decode(body.as_bytes())
            .map_err(|e| format!("PEM block {label} is not valid base64: {e}"))?;
        blocks.push(PemBlock {
            label: label.to_string(),
            der,
            encrypted,
        });
    }
    if blocks.is_empty() {
        return Err("no PEM block (-----BEGIN ...-----) found".into());
    }
    Ok(blocks)
}

/// `-----BEGIN label-----` wrapped at 64 columns, as OpenSSL writes it.
#[cfg_attr(not(any(test, feature = "test-keys")), allow(dead_code))]
pub(crate) fn encode(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn armour_label<'a>(line: &'a str, prefix: &str) -> Option<&'a str> {
    line.strip_prefix(prefix)?.strip_suffix("-----")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_bundle() {
        let a = encode("CERTIFICATE", &[1, 2, 3]);
        let b = encode("PRIVATE KEY", &[0u8; 100]);
        let bundle = format!("comment\r\n{a}\n{}", b.replace('\n', "\r\n"));
        let blocks = parse_blocks(&bundle).unwrap();
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[0].label, "CERTIFICATE");
        assert_eq!(blocks[0].der, vec![1, 2, 3]);
        assert_eq!(blocks[1].der, vec![0u8; 100]);
        assert!(!blocks[1].encrypted);
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse_blocks("hello").is_err());
        assert!(parse_blocks("-----BEGIN X-----\nAAAA\n").is_err());
        assert!(parse_blocks("-----BEGIN X-----\n!!!!\n-----END X-----\n").is_err());
        assert!(parse_blocks("-----BEGIN X-----\nAAAA\n-----END Y-----\n").is_err());
    }

    #[test]
    fn notices_legacy_encryption() {
        let pem = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAAA\n-----END RSA PRIVATE KEY-----\n";
        assert!(parse_blocks(pem).unwrap()[0].encrypted);
    }
}
