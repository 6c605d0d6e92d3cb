//! The simulators' signatures against answers computed outside Rust, so the sandbox does not
//! only agree with the adapters (both sides share `paysys_platform::signing`):
//!
//! - Mobiltek: `printf '%s' 'CANONICAL' | openssl dgst -sha512 -hmac mobiltek-test-secret`, over
//!   the canonical strings written below (docs/providers/mobiltek.md, "Hashes");
//! - Teleaudio: `printf '%s' "$BODY" | openssl dgst -sha256 -hmac teleaudio-test-secret`.

use crate::helpers::*;
use provider_sandbox::mobiltek::protocol::{self, Notification};
use serde_json::{json, Value};
use std::collections::HashMap;

const MOBILTEK_SECRET: &str = "mobiltek-test-secret";
/// Seed 000's link query up to `&hash=` (its canonical string).
const SEED_QUERY: &str = "msisdn=48690112325&transaction_id=1000014896266637&service_id=30576&price=0.1&product=P%C5%82atno%C5%9B%C4%87%20w%20serwisie%20Mediaklub&user_ip=127.0.0.1&user_id=&return_url=http%3A%2F%2Fonet.pl&error_url=http%3A%2F%2Fonet.pl";
/// openssl over [`SEED_QUERY`].
const SEED_HASH: &str = "4d9185ba1b3e8247d7f5a77763d65f8fe90c651b1f52b14f13f4d8a7123398b3287d95adb861a69943588b35b189f915b65da1ec1aea3623691bd4488473620d";

#[test]
fn the_mobiltek_page_accepts_the_openssl_signed_link() {
    let link = protocol::parse_link(MOBILTEK_SECRET, &format!("{SEED_QUERY}&hash={SEED_HASH}"))
        .expect("the openssl-signed seed link is genuine");
    assert_eq!(link.product, "Płatność w serwisie Mediaklub");
    let off_by_one = format!("{}0", &SEED_HASH[..127]);
    assert_ne!(off_by_one, SEED_HASH);
    assert!(
        protocol::parse_link(MOBILTEK_SECRET, &format!("{SEED_QUERY}&hash={off_by_one}")).is_err()
    );
}

/// openssl over `notification_id=n-2&transaction_id=1000014896266637&service_id=30576&msisdn=48501123123&operator_id=26001&type=PAYMENT_FAILED&amount=&charge_id=c-2&reason=Brak%20%C5%9Brodk%C3%B3w%20na%20koncie%20%28limit%20100%25%29&timestamp=1700000001`.
#[test]
fn mobiltek_notifications_carry_the_openssl_hash() {
    let n = Notification(
        [
            ("notification_id", "n-2"),
            ("transaction_id", "1000014896266637"),
            ("service_id", "30576"),
            ("msisdn", "48501123123"),
            ("operator_id", "26001"),
            ("type", "PAYMENT_FAILED"),
            ("amount", ""),
            ("charge_id", "c-2"),
            ("reason", "Brak środków na koncie (limit 100%)"),
            ("timestamp", "1700000001"),
        ]
        .into_iter()
        .map(|(k, v)| (k, v.to_string()))
        .collect(),
    );
    let form = n.signed_form(MOBILTEK_SECRET);
    assert_eq!(
        form.last().map(|(k, v)| (*k, v.as_str())),
        Some(("hash", "585d84211fce85f50dd28971579c7ad05790ceeebf75cb08fbc32c2f8e867d3beb199e3a6910e6492f94a49d82defe96d10520ca6d4de771601f0780af4c9aaa"))
    );
}

/// openssl over `service_id=30576&transaction_id=1000014896266637&msisdn=48501123123`.
#[test]
fn the_mobiltek_api_accepts_the_openssl_signed_unsubscribe() {
    let form = |hash: &str| -> HashMap<String, String> {
        [
            ("service_id", "30576"),
            ("transaction_id", "1000014896266637"),
            ("msisdn", "48501123123"),
            ("hash", hash),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    };
    let hash = "a282b9a4cc90fc05c7b9fb8c638e31e95668286acbf0905f5e03b1625150db95dd78b27470d53f84e4f00c5d3020de5da60d4959abbb9f2965974f888fd8443b";
    assert!(protocol::verify_unsubscribe(MOBILTEK_SECRET, &form(hash)));
    assert!(!protocol::verify_unsubscribe(
        MOBILTEK_SECRET,
        &form(&hash.to_uppercase())
    ));
}

/// The simulated Teleaudio takes a call signed by openssl:
/// BODY = `{"reference":"order-vector","service_id":"511","msisdn":"48519532621"}` gives
/// `8f02992740b1c376a8588a7c49d7b7c05fd8f76d1902f5ad4ec40b540a802d88`.
#[tokio::test]
async fn the_teleaudio_api_accepts_an_openssl_signed_call() {
    let sb = spawn_sandbox(&[("sandbox.teleaudio.secret", json!("teleaudio-test-secret"))]).await;
    let body = r#"{"reference":"order-vector","service_id":"511","msisdn":"48519532621"}"#;
    let call = |signature: &'static str| {
        sb.http
            .post(format!("{}/teleaudio/subscriptions", sb.url))
            .header("content-type", "application/json")
            .header("x-teleaudio-signature", signature)
            .body(body)
            .send()
    };
    let r = call("8f02992740b1c376a8588a7c49d7b7c05fd8f76d1902f5ad4ec40b540a802d88")
        .await
        .expect("sandbox reachable");
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = r.json().await.expect("JSON");
    assert!(v["subscription_id"].is_string(), "{v}");
    let forged = call("8f02992740b1c376a8588a7c49d7b7c05fd8f76d1902f5ad4ec40b540a802d80")
        .await
        .expect("sandbox reachable");
    assert_eq!(forged.status().as_u16(), 401);
}
