//! The two bits of ASN.1 DER the envelope needs, walked by hand rather than pulling in an X.509
//! crate: the SubjectPublicKeyInfo inside a certificate (what aws-lc-rs takes as a public key),
//! and wrapping a PKCS#1 `RSAPrivateKey` into PKCS#8 (the only private-key form aws-lc-rs parses).

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const OCTET_STRING: u8 = 0x04;
const VERSION_TAG: u8 = 0xa0; // [0] EXPLICIT Version in TBSCertificate

/// rsaEncryption (1.2.840.113549.1.1.1) with NULL parameters.
const RSA_ALGORITHM_ID: &[u8] = &[
    0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
];

struct Tlv<'a> {
    tag: u8,
    content: &'a [u8],
    whole: &'a [u8],
}

fn read_tlv(input: &[u8]) -> Result<(Tlv<'_>, &[u8]), String> {
    let (&tag, rest) = input.split_first().ok_or("truncated DER")?;
    if tag & 0x1f == 0x1f {
        return Err("unsupported DER high tag number".into());
    }
    let (&first, rest) = rest.split_first().ok_or("truncated DER length")?;
    let (len, rest) = match first {
        0..=0x7f => (usize::from(first), rest),
        0x81..=0x84 => {
            let n = usize::from(first & 0x7f);
            if rest.len() < n {
                return Err("truncated DER length".into());
            }
            let len = rest[..n]
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            (len, &rest[n..])
        }
        _ => return Err("unsupported DER length form".into()),
    };
    if rest.len() < len {
        return Err("truncated DER value".into());
    }
    let header = input.len() - rest.len();
    let tlv = Tlv {
        tag,
        content: &rest[..len],
        whole: &input[..header + len],
    };
    Ok((tlv, &rest[len..]))
}

fn expect<'a>(input: &'a [u8], tag: u8, what: &str) -> Result<(Tlv<'a>, &'a [u8]), String> {
    let (tlv, rest) = read_tlv(input)?;
    if tlv.tag != tag {
        return Err(format!("expected {what}, found DER tag 0x{:02x}", tlv.tag));
    }
    Ok((tlv, rest))
}

/// Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { [0] version OPTIONAL, serialNumber,
/// signature, issuer, validity, subject, subjectPublicKeyInfo, ... }, ... } (RFC 5280 4.1).
pub(crate) fn spki_from_certificate(cert: &[u8]) -> Result<&[u8], String> {
    let (certificate, _) = expect(cert, SEQUENCE, "Certificate SEQUENCE")?;
    let (tbs, _) = expect(certificate.content, SEQUENCE, "TBSCertificate SEQUENCE")?;
    let mut rest = tbs.content;
    let (first, after) = read_tlv(rest)?;
    if first.tag == VERSION_TAG {
        rest = after;
    }
    let (_, rest) = expect(rest, INTEGER, "serialNumber")?;
    let (_, rest) = expect(rest, SEQUENCE, "signature AlgorithmIdentifier")?;
    let (_, rest) = expect(rest, SEQUENCE, "issuer Name")?;
    let (_, rest) = expect(rest, SEQUENCE, "validity")?;
    let (_, rest) = expect(rest, SEQUENCE, "subject Name")?;
    let (spki, _) = expect(rest, SEQUENCE, "subjectPublicKeyInfo")?;
    Ok(spki.whole)
}

/// PrivateKeyInfo ::= SEQUENCE { version 0, rsaEncryption, OCTET STRING { RSAPrivateKey } }.
pub(crate) fn pkcs8_from_pkcs1(pkcs1: &[u8]) -> Vec<u8> {
    let mut body = vec![INTEGER, 0x01, 0x00];
    body.extend_from_slice(RSA_ALGORITHM_ID);
    body.push(OCTET_STRING);
    push_len(&mut body, pkcs1.len());
    body.extend_from_slice(pkcs1);
    let mut out = vec![SEQUENCE];
    push_len(&mut out, body.len());
    out.extend_from_slice(&body);
    out
}

fn push_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
        return;
    }
    let bytes = len.to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count();
    out.push(0x80 | (bytes.len() - skip) as u8);
    out.extend_from_slice(&bytes[skip..]);
}

/// The inverse of [`pkcs8_from_pkcs1`], for tests that need a `BEGIN RSA PRIVATE KEY` file.
#[cfg(test)]
pub(crate) fn pkcs1_from_pkcs8(pkcs8: &[u8]) -> Result<Vec<u8>, String> {
    let (info, _) = expect(pkcs8, SEQUENCE, "PrivateKeyInfo")?;
    let (_, rest) = expect(info.content, INTEGER, "version")?;
    let (_, rest) = expect(rest, SEQUENCE, "privateKeyAlgorithm")?;
    let (key, _) = expect(rest, OCTET_STRING, "privateKey")?;
    Ok(key.content.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_round_trip() {
        for len in [0usize, 1, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000] {
            let mut v = vec![OCTET_STRING];
            push_len(&mut v, len);
            v.extend(std::iter::repeat_n(7u8, len));
            let (tlv, rest) = read_tlv(&v).unwrap();
            assert_eq!(tlv.content.len(), len);
            assert!(rest.is_empty());
        }
    }

    #[test]
    fn truncation_is_an_error_not_a_panic() {
        let cert = [0x30, 0x82, 0x01];
        assert!(spki_from_certificate(&cert).is_err());
        assert!(spki_from_certificate(&[]).is_err());
        assert!(spki_from_certificate(&[0x30, 0x03, 0x02, 0x01, 0x00]).is_err());
        assert!(spki_from_certificate(&[0x30, 0x80]).is_err());
    }
}
