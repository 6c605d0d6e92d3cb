//! mobilPay's envelope: PHP's `openssl_seal`/`openssl_open` as the mobilPay SDK calls them
//! (`Mobilpay_Payment_Request_Abstract::encrypt` / `factoryFromEncrypted`).
//!
//! A fresh random key encrypts the XML (RC4 with a 16-byte key, or AES-256-CBC with a 32-byte key,
//! a 16-byte IV and PKCS#7 padding); the key itself is RSA-encrypted with PKCS#1 v1.5 padding
//! under the recipient certificate's public key. On the wire (a browser form to the payment page,
//! a form-urlencoded POST for an IPN) that is `env_key` and `data`, both base64, plus `cipher`
//! (`rc4` when absent) and, for AES, `iv`.
//!
//! RSA runs in aws-lc-rs, not the `rsa` crate: the adapter decrypts envelopes anyone can post, and
//! the `rsa` crate's PKCS#1 v1.5 decryption is not constant-time (RUSTSEC-2023-0071, Marvin).
//! For the same reason every cryptographic failure of [`OpeningKey::open`] is the single
//! [`EnvelopeError::Undecryptable`], reached by the same path whether the RSA step or the data
//! failed: a caller cannot be turned into a padding oracle.
//!
//! An envelope is confidentiality, not authentication: anyone holding the recipient certificate
//! can seal a message to it. Treat an opened IPN as a claim to check against the stored order.

use super::der;
use super::pem;
use aws_lc_rs::rsa::{
    Pkcs1PrivateDecryptingKey, Pkcs1PublicEncryptingKey, PrivateDecryptingKey, PublicEncryptingKey,
};
use base64::engine::general_purpose::{GeneralPurpose, STANDARD};
use base64::engine::{DecodePaddingMode, GeneralPurposeConfig};
use base64::{alphabet, Engine};
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use rc4::{consts::U16, KeyInit, StreamCipher};
use std::collections::HashMap;
use std::fmt;

/// Base64 as PHP's `base64_decode` reads it, minus its habit of skipping junk: padding optional.
const B64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The symmetric cipher of an envelope, named on the wire as OpenSSL names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cipher {
    /// `rc4`: mobilPay's default when the `cipher` field is absent (OpenSSL 3 keeps RC4 in its
    /// legacy provider; PHP needs `OPENSSL_CONF` enabling it, see docs/providers/netopia.md).
    Rc4,
    /// `aes-256-cbc`: what the PHP SDK picks on PHP 7+ with OpenSSL 1.0+.
    Aes256Cbc,
}

impl Cipher {
    /// mobilPay's default, used when a form has no (or an empty) `cipher` field.
    pub const DEFAULT: Cipher = Cipher::Rc4;

    /// The wire name: `rc4` or `aes-256-cbc`.
    pub fn as_str(self) -> &'static str {
        match self {
            Cipher::Rc4 => "rc4",
            Cipher::Aes256Cbc => "aes-256-cbc",
        }
    }

    /// Reads a wire name. The PHP SDK sends OpenSSL's spelling, lower or upper case depending on
    /// what `openssl_get_cipher_methods()` listed (`aes-256-cbc` or `AES-256-CBC`).
    pub fn parse(name: &str) -> Option<Cipher> {
        let name = name.trim();
        if name.eq_ignore_ascii_case("rc4") {
            Some(Cipher::Rc4)
        } else if name.eq_ignore_ascii_case("aes-256-cbc") {
            Some(Cipher::Aes256Cbc)
        } else {
            None
        }
    }

    /// Bytes of the random key sealed into `env_key` (OpenSSL's `EVP_CIPHER_key_length`).
    pub fn key_len(self) -> usize {
        match self {
            Cipher::Rc4 => 16,
            Cipher::Aes256Cbc => 32,
        }
    }

    /// Bytes of the IV (`iv` field); RC4 has none.
    pub fn iv_len(self) -> usize {
        match self {
            Cipher::Rc4 => 0,
            Cipher::Aes256Cbc => 16,
        }
    }
}

impl fmt::Display for Cipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A sealed message as it travels in a form: every binary value base64 (standard alphabet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The symmetric key, RSA-encrypted for the recipient (form field `env_key`).
    pub env_key: String,
    /// The encrypted XML (form field `data`).
    pub data: String,
    /// Form field `cipher`.
    pub cipher: Cipher,
    /// Form field `iv`: present for AES-256-CBC, `None` for RC4.
    pub iv: Option<String>,
}

impl Envelope {
    /// Reads the form fields of a payment-page POST or an IPN (`env_key`, `data`, `cipher`, `iv`).
    ///
    /// `cipher` absent or empty means `rc4`, as in mobilPay's `cardConfirm.php`. An `iv` with RC4
    /// is ignored: the PHP SDK always posts the field, empty when the cipher has no IV.
    pub fn from_form(fields: &HashMap<String, String>) -> Result<Envelope, EnvelopeError> {
        let get = |name: &str| fields.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
        let env_key = get("env_key").ok_or(EnvelopeError::MissingField("env_key"))?;
        decode_field("env_key", env_key)?;
        let data = get("data").ok_or(EnvelopeError::MissingField("data"))?;
        decode_field("data", data)?;
        let cipher = match get("cipher") {
            None => Cipher::DEFAULT,
            Some(name) => Cipher::parse(name).ok_or_else(|| EnvelopeError::InvalidField {
                field: "cipher",
                reason: format!("unknown cipher {name:?} (expected rc4 or aes-256-cbc)"),
            })?,
        };
        let iv = match cipher {
            Cipher::Rc4 => None,
            Cipher::Aes256Cbc => {
                let iv = get("iv").ok_or(EnvelopeError::MissingField("iv"))?;
                decode_iv(iv, cipher)?;
                Some(iv.to_string())
            }
        };
        Ok(Envelope {
            env_key: env_key.to_string(),
            data: data.to_string(),
            cipher,
            iv,
        })
    }

    /// The form fields to post, in mobilPay's order: `env_key`, `data`, `cipher`, then `iv` when
    /// the cipher has one.
    pub fn form_fields(&self) -> Vec<(&'static str, String)> {
        let mut fields = vec![
            ("env_key", self.env_key.clone()),
            ("data", self.data.clone()),
            ("cipher", self.cipher.as_str().to_string()),
        ];
        if let Some(iv) = &self.iv {
            fields.push(("iv", iv.clone()));
        }
        fields
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("{0}: missing")]
    MissingField(&'static str),
    #[error("{field}: {reason}")]
    InvalidField { field: &'static str, reason: String },
    #[error("recipient certificate: {0}")]
    Certificate(String),
    #[error("private key: {0}")]
    PrivateKey(String),
    /// The RSA step, the key length or the padding failed; deliberately not saying which.
    #[error("the envelope does not open with this private key")]
    Undecryptable,
    #[error("sealing failed: {0}")]
    Seal(String),
}

impl EnvelopeError {
    /// The form field at fault, for a "400 field: why" style answer.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            EnvelopeError::MissingField(f) | EnvelopeError::InvalidField { field: f, .. } => {
                Some(f)
            }
            _ => None,
        }
    }
}

/// A recipient's public key, read once from its X.509 certificate.
pub struct SealingKey {
    key: Pkcs1PublicEncryptingKey,
}

impl fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealingKey(RSA-{})", self.key.key_size_bits())
    }
}

impl SealingKey {
    /// Reads the first `CERTIFICATE` block of a PEM text (a bare `PUBLIC KEY` block is accepted
    /// too). The key must be RSA of 2048 to 8192 bits: aws-lc-rs refuses smaller keys.
    pub fn from_certificate_pem(pem_text: &str) -> Result<SealingKey, EnvelopeError> {
        let bad = EnvelopeError::Certificate;
        let blocks = pem::parse_blocks(pem_text).map_err(bad)?;
        let block = blocks
            .iter()
            .find(|b| {
                matches!(
                    b.label.as_str(),
                    "CERTIFICATE" | "X509 CERTIFICATE" | "TRUSTED CERTIFICATE" | "PUBLIC KEY"
                )
            })
            .ok_or_else(|| bad("no CERTIFICATE block".into()))?;
        let spki = if block.label == "PUBLIC KEY" {
            block.der.as_slice()
        } else {
            der::spki_from_certificate(&block.der).map_err(bad)?
        };
        let public = PublicEncryptingKey::from_der(spki)
            .map_err(|e| bad(format!("not a usable RSA public key ({e}; 2048-8192 bits)")))?;
        let key = Pkcs1PublicEncryptingKey::new(public).map_err(|e| bad(e.to_string()))?;
        Ok(SealingKey { key })
    }

    /// Seals `plaintext` for this recipient with a fresh key (and IV).
    pub fn seal(&self, plaintext: &[u8], cipher: Cipher) -> Result<Envelope, EnvelopeError> {
        let mut key = vec![0u8; cipher.key_len()];
        let mut iv = vec![0u8; cipher.iv_len()];
        random(&mut key)?;
        random(&mut iv)?;
        let data = match cipher {
            Cipher::Rc4 => rc4_apply(&key, plaintext.to_vec()),
            Cipher::Aes256Cbc => cbc::Encryptor::<aes::Aes256>::new_from_slices(&key, &iv)
                .map_err(|e| EnvelopeError::Seal(e.to_string()))?
                .encrypt_padded_vec_mut::<Pkcs7>(plaintext),
        };
        let mut sealed_key = vec![0u8; self.key.ciphertext_size()];
        let sealed_key = self
            .key
            .encrypt(&key, &mut sealed_key)
            .map_err(|_| EnvelopeError::Seal("RSA encryption failed".into()))?;
        Ok(Envelope {
            env_key: STANDARD.encode(sealed_key),
            data: STANDARD.encode(data),
            cipher,
            iv: (cipher.iv_len() > 0).then(|| STANDARD.encode(&iv)),
        })
    }
}

/// The recipient's RSA private key, read once from PEM.
pub struct OpeningKey {
    key: Pkcs1PrivateDecryptingKey,
}

impl fmt::Debug for OpeningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OpeningKey(RSA-{})", self.key.key_size_bits())
    }
}

impl OpeningKey {
    /// Reads the first private key of a PEM text: `PRIVATE KEY` (PKCS#8) or `RSA PRIVATE KEY`
    /// (PKCS#1). Password-protected keys are refused; decrypt them with `openssl` first.
    pub fn from_pem(pem_text: &str) -> Result<OpeningKey, EnvelopeError> {
        let bad = EnvelopeError::PrivateKey;
        let blocks = pem::parse_blocks(pem_text).map_err(bad)?;
        let block = blocks
            .iter()
            .find(|b| b.label.ends_with("PRIVATE KEY"))
            .ok_or_else(|| bad("no PRIVATE KEY block".into()))?;
        if block.encrypted || block.label == "ENCRYPTED PRIVATE KEY" {
            return Err(bad(
                "the key is password-protected; store it decrypted (openssl pkey -in key.pem -out plain.pem)".into(),
            ));
        }
        let pkcs8 = match block.label.as_str() {
            "PRIVATE KEY" => block.der.clone(),
            "RSA PRIVATE KEY" => der::pkcs8_from_pkcs1(&block.der),
            other => return Err(bad(format!("{other} is not an RSA key"))),
        };
        let private = PrivateDecryptingKey::from_pkcs8(&pkcs8).map_err(|e| {
            bad(format!(
                "not a usable RSA private key ({e}; 2048-8192 bits)"
            ))
        })?;
        let key = Pkcs1PrivateDecryptingKey::new(private).map_err(|e| bad(e.to_string()))?;
        Ok(OpeningKey { key })
    }

    /// Opens an envelope sealed for this key. Malformed fields are reported by name; anything
    /// cryptographic (wrong key, tampered data, bad padding) is [`EnvelopeError::Undecryptable`].
    pub fn open(&self, envelope: &Envelope) -> Result<Vec<u8>, EnvelopeError> {
        let sealed_key = decode_field("env_key", &envelope.env_key)?;
        // Empty data is what sealing an empty plaintext with RC4 gives; a form never has it.
        let mut data = if envelope.data.trim().is_empty() {
            Vec::new()
        } else {
            decode_field("data", &envelope.data)?
        };
        let cipher = envelope.cipher;
        let iv = match cipher {
            Cipher::Rc4 => Vec::new(),
            Cipher::Aes256Cbc => decode_iv(
                envelope
                    .iv
                    .as_deref()
                    .ok_or(EnvelopeError::MissingField("iv"))?,
                cipher,
            )?,
        };
        if sealed_key.len() != self.key.key_size_bytes() {
            return Err(EnvelopeError::Undecryptable);
        }

        // Whatever the RSA step yields, the data is decrypted with some key of the right length
        // (a random one on failure) and only then is the failure reported.
        let mut buffer = vec![0u8; self.key.min_output_size()];
        let mut key = vec![0u8; cipher.key_len()];
        let mut failed = match self.key.decrypt(&sealed_key, &mut buffer) {
            Ok(plain) if plain.len() == key.len() => {
                key.copy_from_slice(plain);
                false
            }
            _ => true,
        };
        if failed {
            failed |= random(&mut key).is_err();
        }
        let plaintext = match cipher {
            Cipher::Rc4 => Ok(rc4_apply(&key, std::mem::take(&mut data))),
            Cipher::Aes256Cbc => cbc::Decryptor::<aes::Aes256>::new_from_slices(&key, &iv)
                .map_err(|_| EnvelopeError::Undecryptable)
                .and_then(|d| {
                    d.decrypt_padded_vec_mut::<Pkcs7>(&data)
                        .map_err(|_| EnvelopeError::Undecryptable)
                }),
        };
        match plaintext {
            Ok(plain) if !failed => Ok(plain),
            _ => Err(EnvelopeError::Undecryptable),
        }
    }
}

/// Seals `plaintext` for the holder of `recipient_certificate_pem` (see [`SealingKey::seal`]).
pub fn seal(
    plaintext: &[u8],
    recipient_certificate_pem: &str,
    cipher: Cipher,
) -> Result<Envelope, EnvelopeError> {
    SealingKey::from_certificate_pem(recipient_certificate_pem)?.seal(plaintext, cipher)
}

/// Opens `envelope` with `private_key_pem` (see [`OpeningKey::open`]). Parsing the key costs more
/// than opening; a long-lived caller keeps an [`OpeningKey`].
pub fn open(envelope: &Envelope, private_key_pem: &str) -> Result<Vec<u8>, EnvelopeError> {
    OpeningKey::from_pem(private_key_pem)?.open(envelope)
}

fn rc4_apply(key: &[u8], mut data: Vec<u8>) -> Vec<u8> {
    // Key length is Cipher::Rc4.key_len() (16) by construction at every call site.
    if let Ok(mut rc4) = rc4::Rc4::<U16>::new_from_slice(key) {
        rc4.apply_keystream(&mut data);
    }
    data
}

fn decode_field(field: &'static str, value: &str) -> Result<Vec<u8>, EnvelopeError> {
    // Line breaks are harmless (PHP's base64_decode skips them); anything else is an error.
    let compact: String = value.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    if compact.is_empty() {
        return Err(EnvelopeError::MissingField(field));
    }
    B64.decode(compact.as_bytes())
        .map_err(|e| EnvelopeError::InvalidField {
            field,
            reason: format!("not valid base64 ({e})"),
        })
}

fn decode_iv(value: &str, cipher: Cipher) -> Result<Vec<u8>, EnvelopeError> {
    let iv = decode_field("iv", value)?;
    if iv.len() != cipher.iv_len() {
        return Err(EnvelopeError::InvalidField {
            field: "iv",
            reason: format!("{} bytes, {cipher} needs {}", iv.len(), cipher.iv_len()),
        });
    }
    Ok(iv)
}

fn random(buf: &mut [u8]) -> Result<(), EnvelopeError> {
    aws_lc_rs::rand::fill(buf).map_err(|_| EnvelopeError::Seal("no system randomness".into()))
}

#[cfg(test)]
mod tests;
