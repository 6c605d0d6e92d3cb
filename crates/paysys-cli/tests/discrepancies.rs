//! `paysys discrepancies list`: an authenticated callback that does not fit its order (here a
//! second, validly signed Mobiltek PAYMENT with fresh ids for a paid order) is refused by the
//! adapter and listed by the operator CLI, with the reason. Real PostgreSQL, the real binary.

use paysys_platform::{testing, Shutdown};
use paysys_proto::payment_provider_client::PaymentProviderClient;
use paysys_proto::{Customer, OrderKind, StartRequest};
use std::process::Command;

const SECRET: &str = "mobiltek-test-secret";

/// Signed as docs/providers/mobiltek.md says: HMAC-SHA512 over the canonical fields.
fn signed(fields: &[(&str, &str)]) -> String {
    const ORDER: [&str; 10] = [
        "notification_id",
        "transaction_id",
        "service_id",
        "msisdn",
        "operator_id",
        "type",
        "amount",
        "charge_id",
        "reason",
        "timestamp",
    ];
    let value = |k: &str| {
        fields
            .iter()
            .find(|(f, _)| *f == k)
            .map(|(_, v)| v.to_string())
            .unwrap_or_default()
    };
    let canonical = ORDER
        .iter()
        .map(|k| format!("{k}={}", urlencoding_encode(&value(k))))
        .collect::<Vec<_>>()
        .join("&");
    let hash = paysys_platform::signing::hmac_sha512_hex(SECRET.as_bytes(), canonical.as_bytes());
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in fields {
        form.append_pair(k, v);
    }
    form.append_pair("hash", &hash);
    form.finish()
}

/// RFC 3986 unreserved characters stay, everything else is %XX.
fn urlencoding_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn a_second_payment_is_refused_and_listed_for_operators() {
    let db = testing::fresh_database().await.expect("database");
    let url = testing::expose(&db);
    let settings: provider_mobiltek::Settings = testing::settings(
        &url,
        &[
            ("mobiltek.listen", "127.0.0.1:0".into()),
            ("mobiltek.secret", SECRET.into()),
        ],
    );
    let shutdown = Shutdown::new();
    let app = provider_mobiltek::Application::build(settings, shutdown.clone())
        .await
        .expect("adapter");
    let port = app.port();
    let callback_port = app.callback_port();
    tokio::spawn(app.run_until_stopped());
    let mut grpc = PaymentProviderClient::new(
        paysys_platform::grpc::connect(
            &format!("http://127.0.0.1:{port}"),
            &paysys_platform::testing::internal_token(),
        )
        .await
        .unwrap(),
    );
    let started = grpc
        .start(StartRequest {
            merchant_id: "1".into(),
            order_id: "twice-paid".into(),
            channel_id: "18912".into(),
            kind: OrderKind::OneTime as i32,
            amount_minor: 10,
            currency: "PLN".into(),
            customer: Some(Customer {
                phone: "48501123123".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let http = reqwest::Client::new();
    let notify = |id: &'static str, charge: &'static str| {
        signed(&[
            ("notification_id", id),
            ("transaction_id", &started.provider_ref),
            ("service_id", "30576"),
            ("msisdn", "48501123123"),
            ("operator_id", "26001"),
            ("type", "PAYMENT"),
            ("amount", "0.10"),
            ("charge_id", charge),
            ("reason", ""),
            ("timestamp", "1700000000"),
        ])
    };
    for (id, charge, want) in [("n-1", "c-1", 200), ("n-2", "c-2", 400)] {
        let r = http
            .post(format!("http://127.0.0.1:{callback_port}/mobiltek/notify"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(notify(id, charge))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), want, "{id}");
    }

    let out = Command::new(env!("CARGO_BIN_EXE_paysys"))
        .args([
            "--database-url",
            url.as_str(),
            "--json",
            "discrepancies",
            "list",
        ])
        .output()
        .expect("run paysys");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let listed = listed.as_array().expect("a list");
    assert_eq!(listed.len(), 1, "{listed:?}");
    let d = &listed[0];
    assert_eq!(d["provider"], "mobiltek");
    assert_eq!(d["order_id"], "twice-paid");
    assert_eq!(d["claim"], "paid");
    assert_eq!(
        (d["amount_minor"].as_i64(), d["currency"].as_str()),
        (Some(10), Some("PLN"))
    );
    assert!(
        d["reason"]
            .as_str()
            .unwrap()
            .contains("does not fit an order that is paid"),
        "{d}"
    );
    assert_eq!(d["callback"]["notification_id"], "n-2");
    shutdown.trigger();
}
