//! The envelope against the real thing: PHP's `openssl_seal`/`openssl_open`, called the way
//! mobilPay's PHP SDK calls them, with the form fields going through form encoding both ways.
//!
//! (a) Rust seals an order, PHP opens it (`parse_str` of the posted form, `openssl_open` with the
//!     posted `cipher`/`iv`, then reads the XML with DOM + `urldecode` like the SDK).
//! (b) PHP builds an IPN with DOM like the SDK (CDATA, `urlencode`), seals it with
//!     `openssl_seal`, posts `http_build_query`; Rust reads the form, opens and parses it.
//!
//! Both for RC4 and AES-256-CBC. OpenSSL 3 (Debian bookworm's PHP 8.2) keeps RC4 in its legacy
//! provider, so PHP runs with an `OPENSSL_CONF` that activates `default` and `legacy`; without
//! it `openssl_seal(..., 'rc4')` fails with "digital envelope routines::unsupported".
//! Needs `php` (scripts/test-deps.sh installs php-cli); without it these tests fail.

mod common;

use chrono::NaiveDate;
use common::{run_peer, Scratch};
use paysys_platform::money::{Currency, Money};
use provider_netopia::test_keys::{generate_test_identity, TestIdentity};
use provider_netopia::wire::{
    Action, Cipher, Contact, Envelope, ErrorCode, Invoice, Ipn, OpeningKey, Order, Recurrence,
    SealingKey,
};
use std::collections::HashMap;
use std::process::Command;
use std::sync::OnceLock;

const OPENSSL_LEGACY_CONF: &str = "\
openssl_conf = openssl_init
[openssl_init]
providers = provider_sect
[provider_sect]
default = default_sect
legacy = legacy_sect
[default_sect]
activate = 1
[legacy_sect]
activate = 1
";

/// cardConfirm.php's reading of the POST, then the SDK's factoryFromEncrypted and XML parsing.
const PHP_OPEN: &str = r#"<?php
[, $keyFile] = $argv;
parse_str(stream_get_contents(STDIN), $post);
$cipher = array_key_exists('cipher', $post) ? $post['cipher'] : 'rc4';
$iv = array_key_exists('iv', $post) ? $post['iv'] : null;
$key = openssl_pkey_get_private(file_get_contents($keyFile));
if ($key === false) { fwrite(STDERR, "private key: " . openssl_error_string() . "\n"); exit(2); }
$ok = openssl_open(base64_decode($post['data']), $xml, base64_decode($post['env_key']), $key, $cipher, base64_decode((string)$iv));
if ($ok === false) { while ($e = openssl_error_string()) fwrite(STDERR, "$e\n"); exit(3); }
$doc = new DOMDocument();
if (!$doc->loadXML($xml)) { fwrite(STDERR, "not XML\n"); exit(4); }
$order = $doc->getElementsByTagName('order')->item(0);
$invoice = $doc->getElementsByTagName('invoice')->item(0);
$rec = $doc->getElementsByTagName('recurrence')->item(0);
echo "id=", $order->getAttribute('id'), "\n";
echo "amount=", $invoice->getAttribute('amount'), " ", $invoice->getAttribute('currency'), "\n";
echo "details=", urldecode($doc->getElementsByTagName('details')->item(0)->nodeValue), "\n";
echo "first_name=", urldecode($doc->getElementsByTagName('first_name')->item(0)->nodeValue), "\n";
echo "param=", urldecode($doc->getElementsByTagName('value')->item(0)->nodeValue), "\n";
echo "recurrence=", $rec->getAttribute('payments_no'), "/", $rec->getAttribute('interval_day'), "\n";
echo "sha1=", sha1($xml), "\n";
"#;

/// An IPN as Mobilpay_Payment_Request_Notify::createXmlElement writes one, sealed like
/// Mobilpay_Payment_Request_Abstract::encrypt, posted as a form.
const PHP_SEAL_IPN: &str = r#"<?php
[, $certFile, $cipher] = $argv;
$doc = new DOMDocument('1.0', 'utf-8');
$order = $doc->createElement('order');
$order->setAttribute('type', 'card');
$order->setAttribute('id', 'php-7');
$order->setAttribute('timestamp', '20260314103000');
$order->appendChild($doc->createElement('signature', 'XXXX-XXXX-XXXX-XXXX-XXXX'));
$invoice = $doc->createElement('invoice');
$invoice->setAttribute('currency', 'RON');
$invoice->setAttribute('amount', sprintf('%.02f', 49.9));
$details = $doc->createElement('details');
$details->appendChild($doc->createCDATASection(urlencode('Abonament lunar – Ștefan & Co 100%')));
$invoice->appendChild($details);
$order->appendChild($invoice);
$m = $doc->createElement('mobilpay');
$m->setAttribute('timestamp', '20260314103512');
$m->setAttribute('crc', md5('fixed'));
$m->appendChild($doc->createElement('action', 'confirmed'));
$customer = $doc->createElement('customer');
$customer->setAttribute('type', 'person');
$fn = $doc->createElement('first_name');
$fn->appendChild($doc->createCDATASection(urlencode('Ana Maria')));
$customer->appendChild($fn);
$m->appendChild($customer);
$m->appendChild($doc->createElement('purchase', '9001'));
$m->appendChild($doc->createElement('original_amount', '49.90'));
$m->appendChild($doc->createElement('processed_amount', '49.9'));
$m->appendChild($doc->createElement('current_payment_count', '1'));
$m->appendChild($doc->createElement('pan_masked', '9****5098'));
$err = $doc->createElement('error');
$err->setAttribute('code', '0');
$err->appendChild($doc->createCDATASection('Tranzacţia aprobată'));
$m->appendChild($err);
$order->appendChild($m);
$doc->appendChild($order);
$src = $doc->saveXML();
$pub = openssl_pkey_get_public(file_get_contents($certFile));
if ($pub === false) { fwrite(STDERR, "certificate: " . openssl_error_string() . "\n"); exit(2); }
$iv = null;
$ok = openssl_seal($src, $sealed, $keys, [$pub], $cipher, $iv);
if ($ok === false) { while ($e = openssl_error_string()) fwrite(STDERR, "$e\n"); exit(3); }
echo http_build_query(['env_key' => base64_encode($keys[0]), 'data' => base64_encode($sealed),
    'cipher' => $cipher, 'iv' => strlen($iv) > 0 ? base64_encode($iv) : '']);
"#;

fn identity() -> &'static TestIdentity {
    static ID: OnceLock<TestIdentity> = OnceLock::new();
    ID.get_or_init(|| generate_test_identity("php-interop").unwrap())
}

fn php(scratch: &Scratch, script: &str, args: &[&str], stdin: Option<&str>) -> String {
    let script_path = scratch.write("script.php", script);
    let conf = scratch.write("openssl-legacy.cnf", OPENSSL_LEGACY_CONF);
    let mut command = Command::new("php");
    command
        .arg(&script_path)
        .args(args)
        .env("OPENSSL_CONF", &conf);
    match stdin {
        Some(input) => {
            let input_path = scratch.write("stdin.txt", input);
            command.stdin(std::fs::File::open(input_path).unwrap());
        }
        None => {
            command.stdin(std::process::Stdio::null());
        }
    }
    run_peer(command, "php")
}

fn lines(output: &str) -> HashMap<String, String> {
    output
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn sha1_hex(bytes: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, bytes);
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

fn order() -> Order {
    let ron = Currency::parse("RON").unwrap();
    let mut invoice = Invoice::new(Money::new(4990, ron));
    invoice.details = Some("Abonament lunar – Ștefan & Co 100% <premium>".into());
    invoice.billing = Some(Contact {
        first_name: Some("Ana Maria".into()),
        email: Some("ana+x@example.ro".into()),
        ..Contact::default()
    });
    let mut order = Order::new(
        "rust-42",
        NaiveDate::from_ymd_opt(2026, 3, 14)
            .unwrap()
            .and_hms_opt(10, 30, 0)
            .unwrap(),
        "XXXX-XXXX-XXXX-XXXX-XXXX",
        invoice,
    );
    order.recurrence = Some(Recurrence {
        payments_no: 5,
        interval_day: 30,
    });
    order.params = vec![("cart".into(), "a+b c%".into())];
    order.confirm_url = Some("http://127.0.0.1:8102/netopia/ipn".into());
    order
}

fn rust_seals_php_opens(cipher: Cipher) {
    let scratch = Scratch::new("php-open");
    let id = identity();
    let key_file = scratch.write("private.pem", &id.private_key_pem);
    let xml = order().to_xml().unwrap();
    // Long enough for many RC4/AES blocks; the order itself is the first part.
    let envelope = SealingKey::from_certificate_pem(&id.certificate_pem)
        .unwrap()
        .seal(xml.as_bytes(), cipher)
        .unwrap();
    let form = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(envelope.form_fields())
        .finish();

    let out = lines(&php(
        &scratch,
        PHP_OPEN,
        &[key_file.to_str().unwrap()],
        Some(&form),
    ));
    assert_eq!(
        out["sha1"],
        sha1_hex(xml.as_bytes()),
        "PHP opened other bytes"
    );
    assert_eq!(out["id"], "rust-42");
    assert_eq!(out["amount"], "49.90 RON");
    assert_eq!(
        out["details"],
        "Abonament lunar – Ștefan & Co 100% <premium>"
    );
    assert_eq!(out["first_name"], "Ana Maria");
    assert_eq!(out["param"], "a+b c%");
    assert_eq!(out["recurrence"], "5/30");
}

fn php_seals_rust_opens(cipher: Cipher) {
    let scratch = Scratch::new("php-seal");
    let id = identity();
    let cert_file = scratch.write("certificate.pem", &id.certificate_pem);
    let form = php(
        &scratch,
        PHP_SEAL_IPN,
        &[cert_file.to_str().unwrap(), cipher.as_str()],
        None,
    );
    let fields: HashMap<String, String> = url::form_urlencoded::parse(form.trim().as_bytes())
        .into_owned()
        .collect();
    let envelope = Envelope::from_form(&fields).unwrap();
    assert_eq!(envelope.cipher, cipher);
    let plain = OpeningKey::from_pem(&id.private_key_pem)
        .unwrap()
        .open(&envelope)
        .unwrap();
    let ipn = Ipn::from_bytes(&plain).unwrap();
    assert_eq!(ipn.order.id, "php-7");
    assert_eq!(ipn.order.invoice.amount.minor, 4990);
    assert_eq!(
        ipn.order.invoice.details.as_deref(),
        Some("Abonament lunar – Ștefan & Co 100%")
    );
    assert_eq!(ipn.notify.action, Action::Confirmed);
    assert_eq!(ipn.notify.error.code, ErrorCode::APPROVED);
    assert_eq!(ipn.notify.error.message, "Tranzacţia aprobată");
    assert_eq!(ipn.notify.processed_amount.map(|m| m.minor), Some(4990));
    assert_eq!(ipn.notify.current_payment_count, Some(1));
    assert_eq!(
        ipn.notify
            .customer
            .as_ref()
            .and_then(|c| c.first_name.as_deref()),
        Some("Ana Maria")
    );
    assert!(ipn.money_taken());
}

#[test]
fn rust_seals_rc4_php_opens() {
    rust_seals_php_opens(Cipher::Rc4);
}

#[test]
fn rust_seals_aes_256_cbc_php_opens() {
    rust_seals_php_opens(Cipher::Aes256Cbc);
}

#[test]
fn php_seals_rc4_rust_opens() {
    php_seals_rust_opens(Cipher::Rc4);
}

#[test]
fn php_seals_aes_256_cbc_rust_opens() {
    php_seals_rust_opens(Cipher::Aes256Cbc);
}

#[test]
fn php_sealed_for_another_key_does_not_open() {
    let scratch = Scratch::new("php-other");
    let other = generate_test_identity("someone-else").unwrap();
    let cert_file = scratch.write("certificate.pem", &other.certificate_pem);
    let form = php(
        &scratch,
        PHP_SEAL_IPN,
        &[cert_file.to_str().unwrap(), "aes-256-cbc"],
        None,
    );
    let fields: HashMap<String, String> = url::form_urlencoded::parse(form.trim().as_bytes())
        .into_owned()
        .collect();
    let envelope = Envelope::from_form(&fields).unwrap();
    let opened = OpeningKey::from_pem(&identity().private_key_pem)
        .unwrap()
        .open(&envelope);
    assert_eq!(
        opened,
        Err(provider_netopia::wire::EnvelopeError::Undecryptable)
    );
}
