//! Mobiltek's hashes against fixed answers computed outside Rust (openssl), so a bug in the hash
//! code the adapter and these tests share cannot pass unseen: the PPE link the adapter emits,
//! the notifications it accepts, the unsubscribe request it sends, and the `signed` helper the
//! other stories use to play Mobiltek all agree with them.
//!
//! Every answer here is `printf '%s' 'CANONICAL' | openssl dgst -sha512 -hmac mobiltek-test-secret`
//! over the canonical string written next to it (docs/providers/mobiltek.md, "Hashes"; values
//! percent-encoded per RFC 3986, as `python3 -c "from urllib.parse import quote;
//! print(quote(VALUE, safe='-._~'))"` prints them).

use crate::helpers::*;
use paysys_platform::money::Money;
use provider_mobiltek::hash;
use provider_mobiltek::wire::{self, Notification, NotificationError, PpeLink};
use std::collections::HashMap;

/// Seed 000's link query up to `&hash=`, which is also its canonical string.
const SEED_QUERY: &str = "msisdn=48690112325&transaction_id=1000014896266637&service_id=30576&price=0.1&product=P%C5%82atno%C5%9B%C4%87%20w%20serwisie%20Mediaklub&user_ip=127.0.0.1&user_id=&return_url=http%3A%2F%2Fonet.pl&error_url=http%3A%2F%2Fonet.pl";
/// openssl over [`SEED_QUERY`].
const SEED_ONE_TIME_HASH: &str = "4d9185ba1b3e8247d7f5a77763d65f8fe90c651b1f52b14f13f4d8a7123398b3287d95adb861a69943588b35b189f915b65da1ec1aea3623691bd4488473620d";
/// openssl over [`SEED_QUERY`] + `&mode=subscription`.
const SEED_SUBSCRIPTION_HASH: &str = "93d1e27c9a175f5af48f381cd8dbc27a7eaa96788b15f4d4a994c721361a68bae022034b5994d6a00d60675b385853910079dead0fc43db1295966d2c3142725";

/// A PAYMENT notification; openssl over
/// `notification_id=n-1&transaction_id=1000014896266637&service_id=30576&msisdn=48501123123&operator_id=26001&type=PAYMENT&amount=0.1&charge_id=c-1&reason=&timestamp=1700000000`.
const PAYMENT: [(&str, &str); 9] = [
    ("notification_id", "n-1"),
    ("transaction_id", "1000014896266637"),
    ("service_id", "30576"),
    ("msisdn", "48501123123"),
    ("operator_id", "26001"),
    ("type", "PAYMENT"),
    ("amount", "0.1"),
    ("charge_id", "c-1"),
    ("timestamp", "1700000000"),
];
const PAYMENT_HASH: &str = "af64d116a7095f5c09dec105c189d9e92e605309a71d3f29271b446c0a38701b71e43a407136e166285969dadb70083b606ae9560ed64c64d65bcd978f3b0836";

/// A PAYMENT_FAILED whose reason needs encoding (space, non-ASCII, parentheses, `%`); openssl over
/// `notification_id=n-2&transaction_id=1000014896266637&service_id=30576&msisdn=48501123123&operator_id=26001&type=PAYMENT_FAILED&amount=&charge_id=c-2&reason=Brak%20%C5%9Brodk%C3%B3w%20na%20koncie%20%28limit%20100%25%29&timestamp=1700000001`.
const FAILED: [(&str, &str); 9] = [
    ("notification_id", "n-2"),
    ("transaction_id", "1000014896266637"),
    ("service_id", "30576"),
    ("msisdn", "48501123123"),
    ("operator_id", "26001"),
    ("type", "PAYMENT_FAILED"),
    ("charge_id", "c-2"),
    ("reason", "Brak środków na koncie (limit 100%)"),
    ("timestamp", "1700000001"),
];
const FAILED_HASH: &str = "585d84211fce85f50dd28971579c7ad05790ceeebf75cb08fbc32c2f8e867d3beb199e3a6910e6492f94a49d82defe96d10520ca6d4de771601f0780af4c9aaa";

fn form(fields: &[(&str, &str)], hash: &str) -> HashMap<String, String> {
    fields
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .chain([("hash".to_string(), hash.to_string())])
        .collect()
}

fn get<'a>(fields: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> String + 'a {
    move |k| {
        fields
            .iter()
            .find(|(f, _)| *f == k)
            .map(|(_, v)| v.to_string())
            .unwrap_or_default()
    }
}

fn seed_link(subscription: bool) -> PpeLink {
    PpeLink {
        msisdn: "48690112325".into(),
        transaction_id: "1000014896266637".into(),
        service_id: "30576".into(),
        price: Money::new(10, wire::pln()),
        product: "Płatność w serwisie Mediaklub".into(),
        user_ip: "127.0.0.1".into(),
        user_id: "".into(),
        return_url: "http://onet.pl".into(),
        error_url: "http://onet.pl".into(),
        subscription,
    }
}

#[test]
fn ppe_links_carry_the_openssl_hash() {
    assert_eq!(
        seed_link(false).url("https://pay.mobiltek.pl", SECRET),
        format!("https://pay.mobiltek.pl/ppe?{SEED_QUERY}&hash={SEED_ONE_TIME_HASH}")
    );
    assert_eq!(
        seed_link(true).url("https://pay.mobiltek.pl", SECRET),
        format!(
            "https://pay.mobiltek.pl/ppe?{SEED_QUERY}&mode=subscription&hash={SEED_SUBSCRIPTION_HASH}"
        )
    );
    // What Mobiltek would check: the links as openssl signed them verify; another hash does not.
    assert!(wire::verify_ppe_query(
        SECRET,
        &format!("{SEED_QUERY}&hash={SEED_ONE_TIME_HASH}")
    ));
    assert!(!wire::verify_ppe_query(
        SECRET,
        &format!("{SEED_QUERY}&hash={SEED_SUBSCRIPTION_HASH}")
    ));
}

#[test]
fn notification_hashes_are_the_openssl_ones() {
    assert_eq!(hash::notification_hash(SECRET, get(&PAYMENT)), PAYMENT_HASH);
    assert_eq!(hash::notification_hash(SECRET, get(&FAILED)), FAILED_HASH);

    let paid = Notification::authenticate(SECRET, &form(&PAYMENT, PAYMENT_HASH))
        .expect("the openssl-signed notification is authentic");
    assert_eq!(paid.notification_id, "n-1");
    let failed = Notification::authenticate(SECRET, &form(&FAILED, FAILED_HASH))
        .expect("the openssl-signed notification is authentic");
    assert_eq!(failed.reason, "Brak środków na koncie (limit 100%)");

    // One hash for the other message, or uppercase hex: refused.
    assert!(matches!(
        Notification::authenticate(SECRET, &form(&PAYMENT, FAILED_HASH)),
        Err(NotificationError::BadHash)
    ));
    assert!(matches!(
        Notification::authenticate(SECRET, &form(&PAYMENT, &PAYMENT_HASH.to_uppercase())),
        Err(NotificationError::BadHash)
    ));
}

/// The helper the notification stories sign with agrees with openssl, so those stories do not
/// only check the adapter against itself.
#[test]
fn the_tests_signing_helper_is_the_openssl_one() {
    let hash_of = |fields: &[(&str, &str)]| {
        signed(SECRET, fields)
            .into_iter()
            .find(|(k, _)| k == "hash")
            .expect("a hash")
            .1
    };
    assert_eq!(hash_of(&PAYMENT), PAYMENT_HASH);
    assert_eq!(hash_of(&FAILED), FAILED_HASH);
}

/// openssl over `service_id=30576&transaction_id=1000014896266637&msisdn=48501123123`.
#[test]
fn unsubscribe_hash_is_the_openssl_one() {
    assert_eq!(
        hash::unsubscribe_hash(SECRET, "30576", "1000014896266637", "48501123123"),
        "a282b9a4cc90fc05c7b9fb8c638e31e95668286acbf0905f5e03b1625150db95dd78b27470d53f84e4f00c5d3020de5da60d4959abbb9f2965974f888fd8443b"
    );
}

/// Over HTTP: the adapter authenticates the openssl-signed notification (then finds no such
/// transaction: 404) and refuses it with a hash one digit off (401).
#[tokio::test]
async fn the_adapter_accepts_the_openssl_signed_notification() {
    let app = spawn_app().await;
    let as_form = |hash: &str| -> Vec<(String, String)> {
        let mut f: Vec<(String, String)> = PAYMENT
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        f.push(("hash".into(), hash.into()));
        f
    };
    assert_eq!(app.notify_form(&as_form(PAYMENT_HASH)).await.0, 404);
    let off_by_one = format!("{}0", &PAYMENT_HASH[..127]);
    assert_ne!(off_by_one, PAYMENT_HASH);
    assert_eq!(app.notify_form(&as_form(&off_by_one)).await.0, 401);
    app.stop().await;
}
