//! `X-Teleaudio-Signature` (docs/providers/teleaudio.md: hex HMAC-SHA256 of the raw body) against
//! an answer computed outside Rust, so a bug in the HMAC code the adapter and the other tests
//! share cannot pass unseen:
//!
//! `printf '%s' "$BODY" | openssl dgst -sha256 -hmac teleaudio-test-secret`, with `$BODY` the
//! [`CALLBACK`] below, prints `69af5d45830f8a59c4fc3941f04710ff346261028a69a89ea49e4307cd887358`.

use paysys_platform::{testing, Shutdown};
use provider_teleaudio::{wire, Application, Settings};

const SECRET: &str = "teleaudio-test-secret";
const CALLBACK: &str = r#"{"event_id":"ta-evt-1","type":"PAYMENT_SUCCESS","reference":"no-such-reference","provider_id":"ta-tx-1","msisdn":"48519532621","amount":100,"currency":"PLN","charge_id":"ta-charge-1","timestamp":1700000000}"#;
const CALLBACK_SIGNATURE: &str = "69af5d45830f8a59c4fc3941f04710ff346261028a69a89ea49e4307cd887358";

#[test]
fn the_signature_is_the_openssl_one() {
    assert_eq!(wire::sign(SECRET, CALLBACK.as_bytes()), CALLBACK_SIGNATURE);
    assert!(wire::verify(
        SECRET,
        CALLBACK.as_bytes(),
        CALLBACK_SIGNATURE
    ));
    assert!(!wire::verify(
        SECRET,
        CALLBACK.replace("100", "101").as_bytes(),
        CALLBACK_SIGNATURE
    ));
    assert!(!wire::verify(
        SECRET,
        CALLBACK.as_bytes(),
        &CALLBACK_SIGNATURE.to_uppercase()
    ));
}

/// Over HTTP: the adapter authenticates the openssl-signed callback (then knows no such
/// reference: 404) and refuses it with one digit changed, or with the body changed (401).
#[tokio::test]
async fn the_adapter_accepts_the_openssl_signed_callback() {
    let db = testing::fresh_database().await.expect("database");
    let settings: Settings = testing::settings(
        &testing::expose(&db),
        &[
            ("teleaudio.listen", "127.0.0.1:0".into()),
            ("teleaudio.callback_listen", "127.0.0.1:0".into()),
            ("teleaudio.base_url", "http://127.0.0.1:9/teleaudio".into()),
            ("teleaudio.secret", SECRET.into()),
        ],
    );
    let shutdown = Shutdown::new();
    let app = Application::build(settings, shutdown.clone())
        .await
        .expect("adapter");
    let callback_port = app.callback_port();
    let handle = tokio::spawn(app.run_until_stopped());
    let http = reqwest::Client::new();
    let post = |body: String, signature: String| {
        http.post(format!("http://127.0.0.1:{callback_port}/teleaudio/notify"))
            .header("content-type", "application/json")
            .header(wire::SIGNATURE_HEADER, signature)
            .body(body)
            .send()
    };

    let status = |r: reqwest::Response| r.status().as_u16();
    assert_eq!(
        status(
            post(CALLBACK.into(), CALLBACK_SIGNATURE.into())
                .await
                .unwrap()
        ),
        404,
        "authenticated, then an unknown reference"
    );
    let off_by_one = format!("{}0", &CALLBACK_SIGNATURE[..63]);
    assert_ne!(off_by_one, CALLBACK_SIGNATURE);
    assert_eq!(
        status(post(CALLBACK.into(), off_by_one).await.unwrap()),
        401
    );
    assert_eq!(
        status(
            post(CALLBACK.replace("100", "101"), CALLBACK_SIGNATURE.into())
                .await
                .unwrap()
        ),
        401
    );
    shutdown.trigger();
    handle
        .await
        .expect("the adapter did not panic")
        .expect("the adapter stopped cleanly");
}
