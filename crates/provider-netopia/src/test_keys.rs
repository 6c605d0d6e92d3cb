//! Throwaway identities for tests and the sandbox (feature `test-keys`): an RSA-2048 key and a
//! self-signed certificate made at run time, so no private key that production could pick up is
//! ever committed. The sandbox makes its own at start-up and serves them at
//! `GET /_sandbox/netopia/keys` (DESIGN 7).

use crate::wire::pem;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeySize, PrivateDecryptingKey};

/// A private key and the certificate carrying its public half, both PEM.
#[derive(Clone)]
pub struct TestIdentity {
    /// `-----BEGIN PRIVATE KEY-----` (PKCS#8), for [`crate::wire::OpeningKey::from_pem`].
    pub private_key_pem: String,
    /// `-----BEGIN CERTIFICATE-----`, self-signed, for [`crate::wire::SealingKey::from_certificate_pem`].
    pub certificate_pem: String,
}

impl std::fmt::Debug for TestIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestIdentity")
            .field("certificate_pem", &self.certificate_pem)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("generating a test identity: {0}")]
pub struct TestKeyError(String);

/// Generates an RSA-2048 key and a self-signed certificate whose subject CN is `common_name`.
pub fn generate_test_identity(common_name: &str) -> Result<TestIdentity, TestKeyError> {
    let err = |e: &dyn std::fmt::Display| TestKeyError(e.to_string());
    // aws-lc-rs generates the RSA key (rcgen's default ring backend cannot); rcgen signs with it.
    let private = PrivateDecryptingKey::generate(KeySize::Rsa2048).map_err(|e| err(&e))?;
    let pkcs8 = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&private).map_err(|e| err(&e))?;
    let key_pair = rcgen::KeyPair::try_from(pkcs8.as_ref()).map_err(|e| err(&e))?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(|e| err(&e))?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, common_name);
    let certificate = params.self_signed(&key_pair).map_err(|e| err(&e))?;
    Ok(TestIdentity {
        private_key_pem: pem::encode("PRIVATE KEY", pkcs8.as_ref()),
        certificate_pem: certificate.pem(),
    })
}
