use super::*;
use crate::test_keys::{generate_test_identity, TestIdentity};
use std::sync::OnceLock;

fn identity() -> &'static TestIdentity {
    static ID: OnceLock<TestIdentity> = OnceLock::new();
    ID.get_or_init(|| generate_test_identity("netopia-unit").unwrap())
}

fn other_identity() -> &'static TestIdentity {
    static ID: OnceLock<TestIdentity> = OnceLock::new();
    ID.get_or_init(|| generate_test_identity("someone-else").unwrap())
}

fn keys() -> (SealingKey, OpeningKey) {
    let id = identity();
    (
        SealingKey::from_certificate_pem(&id.certificate_pem).unwrap(),
        OpeningKey::from_pem(&id.private_key_pem).unwrap(),
    )
}

fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

#[test]
fn seals_and_opens_both_ciphers_at_every_length() {
    let (sealing, opening) = keys();
    for cipher in [Cipher::Rc4, Cipher::Aes256Cbc] {
        for len in [0usize, 1, 15, 16, 17, 1000] {
            let plain: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            let env = sealing.seal(&plain, cipher).unwrap();
            assert_eq!(env.cipher, cipher);
            assert_eq!(env.iv.is_some(), cipher == Cipher::Aes256Cbc);
            assert_eq!(opening.open(&env).unwrap(), plain, "{cipher} {len}");
            // A fresh key every time: sealing twice never gives the same data. (Checked from 16
            // bytes on: two random keystreams agree on a 1-byte message once in 256 tries.)
            if len >= 16 {
                assert_ne!(sealing.seal(&plain, cipher).unwrap().data, env.data);
            }
        }
    }
}

#[test]
fn the_free_functions_take_pem() {
    let id = identity();
    let env = seal(b"<order/>", &id.certificate_pem, Cipher::Aes256Cbc).unwrap();
    assert_eq!(open(&env, &id.private_key_pem).unwrap(), b"<order/>");
}

#[test]
fn accepts_pkcs1_private_keys_and_bare_public_keys() {
    let id = identity();
    let blocks = pem::parse_blocks(&id.private_key_pem).unwrap();
    let pkcs1 = der::pkcs1_from_pkcs8(&blocks[0].der).unwrap();
    let pkcs1_pem = pem::encode("RSA PRIVATE KEY", &pkcs1);
    let opening = OpeningKey::from_pem(&pkcs1_pem).unwrap();

    let cert = pem::parse_blocks(&id.certificate_pem).unwrap();
    let spki = der::spki_from_certificate(&cert[0].der).unwrap();
    let sealing = SealingKey::from_certificate_pem(&pem::encode("PUBLIC KEY", spki)).unwrap();
    let env = sealing.seal(b"pkcs1", Cipher::Rc4).unwrap();
    assert_eq!(opening.open(&env).unwrap(), b"pkcs1");
}

#[test]
fn key_loading_errors_say_what_is_wrong() {
    let id = identity();
    assert!(matches!(
        SealingKey::from_certificate_pem("not pem"),
        Err(EnvelopeError::Certificate(_))
    ));
    assert!(matches!(
        SealingKey::from_certificate_pem(&id.private_key_pem),
        Err(EnvelopeError::Certificate(_))
    ));
    let truncated = pem::encode("CERTIFICATE", &[0x30, 0x82, 0x05, 0x00, 0x30]);
    assert!(matches!(
        SealingKey::from_certificate_pem(&truncated),
        Err(EnvelopeError::Certificate(_))
    ));
    assert!(matches!(
        OpeningKey::from_pem(&id.certificate_pem),
        Err(EnvelopeError::PrivateKey(_))
    ));
    let encrypted = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAAA\n-----END RSA PRIVATE KEY-----\n";
    let err = OpeningKey::from_pem(encrypted).unwrap_err();
    assert!(err.to_string().contains("password-protected"), "{err}");
    let junk = pem::encode("PRIVATE KEY", b"junk");
    assert!(matches!(
        OpeningKey::from_pem(&junk),
        Err(EnvelopeError::PrivateKey(_))
    ));
}

#[test]
fn the_wrong_key_does_not_open() {
    let (sealing, _) = keys();
    let other = OpeningKey::from_pem(&other_identity().private_key_pem).unwrap();
    for cipher in [Cipher::Rc4, Cipher::Aes256Cbc] {
        let env = sealing.seal(b"secret", cipher).unwrap();
        assert_eq!(other.open(&env), Err(EnvelopeError::Undecryptable));
    }
}

#[test]
fn tampering_truncation_and_bad_lengths_are_undecryptable_not_panics() {
    let (sealing, opening) = keys();
    let plain = [b'x'; 32]; // two full blocks: PKCS#7 padding is one block of 16s
    let env = sealing.seal(&plain, Cipher::Aes256Cbc).unwrap();
    let data = STANDARD.decode(&env.data).unwrap();

    // Flipping a bit of the second ciphertext block's predecessor flips the padding byte.
    let mut flipped = data.clone();
    flipped[31] ^= 1;
    let tampered = Envelope {
        data: b64(&flipped),
        ..env.clone()
    };
    assert_eq!(opening.open(&tampered), Err(EnvelopeError::Undecryptable));

    for cut in [1usize, 16, data.len()] {
        let short = Envelope {
            data: b64(&data[..data.len() - cut]),
            ..env.clone()
        };
        assert!(opening.open(&short).is_err(), "cut {cut}");
    }

    let sealed_key = STANDARD.decode(&env.env_key).unwrap();
    let short_key = Envelope {
        env_key: b64(&sealed_key[..100]),
        ..env.clone()
    };
    assert_eq!(opening.open(&short_key), Err(EnvelopeError::Undecryptable));
    let mut bent_key = sealed_key.clone();
    bent_key[0] ^= 0x80;
    let bent = Envelope {
        env_key: b64(&bent_key),
        ..env.clone()
    };
    assert_eq!(opening.open(&bent), Err(EnvelopeError::Undecryptable));

    // A correctly sealed key of the wrong length (20 bytes for RC4's 16).
    let mut wrong = vec![0u8; sealing.key.ciphertext_size()];
    let wrong = sealing
        .key
        .encrypt(&[7u8; 20], &mut wrong)
        .unwrap()
        .to_vec();
    let rc4 = sealing.seal(b"hello", Cipher::Rc4).unwrap();
    let wrong_len = Envelope {
        env_key: b64(&wrong),
        ..rc4
    };
    assert_eq!(opening.open(&wrong_len), Err(EnvelopeError::Undecryptable));
}

#[test]
fn malformed_fields_are_named() {
    let (sealing, opening) = keys();
    let env = sealing.seal(b"x", Cipher::Aes256Cbc).unwrap();
    let cases = [
        (
            Envelope {
                env_key: "***".into(),
                ..env.clone()
            },
            "env_key",
        ),
        (
            Envelope {
                data: "a".into(),
                ..env.clone()
            },
            "data",
        ),
        (
            Envelope {
                iv: None,
                ..env.clone()
            },
            "iv",
        ),
        (
            Envelope {
                iv: Some(b64(&[0u8; 8])),
                ..env.clone()
            },
            "iv",
        ),
    ];
    for (bad, field) in cases {
        assert_eq!(opening.open(&bad).unwrap_err().field(), Some(field));
    }
}

fn form(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn form_fields_round_trip() {
    let (sealing, opening) = keys();
    for cipher in [Cipher::Rc4, Cipher::Aes256Cbc] {
        let env = sealing.seal(b"form", cipher).unwrap();
        let fields = env.form_fields();
        let names: Vec<_> = fields.iter().map(|(k, _)| *k).collect();
        match cipher {
            Cipher::Rc4 => assert_eq!(names, ["env_key", "data", "cipher"]),
            Cipher::Aes256Cbc => assert_eq!(names, ["env_key", "data", "cipher", "iv"]),
        }
        let map: HashMap<String, String> = fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        let back = Envelope::from_form(&map).unwrap();
        assert_eq!(back, env);
        assert_eq!(opening.open(&back).unwrap(), b"form");
    }
}

#[test]
fn form_parsing_follows_mobilpay() {
    let (sealing, _) = keys();
    let rc4 = sealing.seal(b"x", Cipher::Rc4).unwrap();
    let aes = sealing.seal(b"x", Cipher::Aes256Cbc).unwrap();
    let iv = aes.iv.clone().unwrap();

    // No cipher (or an empty one, as an HTML form posts it) is RC4; an empty iv goes with it.
    let plain = Envelope::from_form(&form(&[("env_key", &rc4.env_key), ("data", &rc4.data)]));
    assert_eq!(plain.unwrap().cipher, Cipher::Rc4);
    let php = form(&[
        ("env_key", &rc4.env_key),
        ("data", &rc4.data),
        ("cipher", ""),
        ("iv", ""),
    ]);
    assert_eq!(Envelope::from_form(&php).unwrap(), rc4);
    let upper = form(&[
        ("env_key", &aes.env_key),
        ("data", &aes.data),
        ("cipher", "AES-256-CBC"),
        ("iv", &iv),
    ]);
    assert_eq!(Envelope::from_form(&upper).unwrap(), aes);

    let field = |pairs: &[(&str, &str)]| Envelope::from_form(&form(pairs)).unwrap_err().field();
    assert_eq!(field(&[("data", &rc4.data)]), Some("env_key"));
    assert_eq!(field(&[("env_key", &rc4.env_key)]), Some("data"));
    assert_eq!(
        field(&[("env_key", "%%%"), ("data", &rc4.data)]),
        Some("env_key")
    );
    assert_eq!(
        field(&[("env_key", &rc4.env_key), ("data", "QUJD$")]),
        Some("data")
    );
    assert_eq!(
        field(&[
            ("env_key", &rc4.env_key),
            ("data", &rc4.data),
            ("cipher", "des")
        ]),
        Some("cipher")
    );
    assert_eq!(
        field(&[
            ("env_key", &aes.env_key),
            ("data", &aes.data),
            ("cipher", "aes-256-cbc")
        ]),
        Some("iv")
    );
    assert_eq!(
        field(&[
            ("env_key", &aes.env_key),
            ("data", &aes.data),
            ("cipher", "aes-256-cbc"),
            ("iv", "AAAA")
        ]),
        Some("iv")
    );
}

#[test]
fn base64_with_line_breaks_and_without_padding_is_read() {
    let (sealing, opening) = keys();
    let env = sealing.seal(b"wrapped", Cipher::Rc4).unwrap();
    let wrapped: String = env
        .env_key
        .as_bytes()
        .chunks(76)
        .map(|c| String::from_utf8_lossy(c).into_owned() + "\r\n")
        .collect();
    let unpadded = env.data.trim_end_matches('=').to_string();
    let env2 = Envelope {
        env_key: wrapped,
        data: unpadded,
        ..env
    };
    assert_eq!(opening.open(&env2).unwrap(), b"wrapped");
}

#[test]
fn cipher_names() {
    assert_eq!(Cipher::parse(" rc4 "), Some(Cipher::Rc4));
    assert_eq!(Cipher::parse("RC4"), Some(Cipher::Rc4));
    assert_eq!(Cipher::parse("aes-256-cbc"), Some(Cipher::Aes256Cbc));
    assert_eq!(Cipher::parse("aes-128-cbc"), None);
    assert_eq!(Cipher::Aes256Cbc.to_string(), "aes-256-cbc");
    assert_eq!(Cipher::DEFAULT, Cipher::Rc4);
}
