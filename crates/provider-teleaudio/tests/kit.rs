//! The adapter test kit's stories (crates/paysys-adapter/src/testkit.rs) told by Teleaudio,
//! against a tiny fake Teleaudio that starts webbilling payments.

use axum::routing::post;
use axum::Json;
use paysys_adapter::testkit::{self, Call, Fixture};
use paysys_platform::testing;
use paysys_proto::{Customer, OrderKind, StartRequest};
use provider_teleaudio::{Settings, Teleaudio};

const SECRET: &str = "teleaudio-test-secret";

struct TeleaudioFixture {
    fake_url: String,
}

/// `POST /webbilling` answers a transaction id, as Teleaudio does (docs/providers/teleaudio.md).
async fn fake_teleaudio() -> String {
    let app = axum::Router::new().route(
        "/webbilling",
        post(|Json(v): Json<serde_json::Value>| async move {
            Json(serde_json::json!({ "transaction_id": format!("wb-{}", v["reference"].as_str().unwrap_or("")) }))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

#[async_trait::async_trait]
impl Fixture for TeleaudioFixture {
    type Adapter = Teleaudio;

    async fn settings(&self, database_url: &str) -> Settings {
        testing::settings(
            database_url,
            &[
                ("teleaudio.listen", "127.0.0.1:0".into()),
                ("teleaudio.base_url", self.fake_url.as_str().into()),
                ("teleaudio.secret", SECRET.into()),
            ],
        )
    }

    /// Seed 002's webbilling payment.
    fn one_time(&self, order_id: &str) -> StartRequest {
        StartRequest {
            merchant_id: "19".into(),
            order_id: order_id.into(),
            channel_id: "9042".into(),
            kind: OrderKind::OneTime as i32,
            amount_minor: 250,
            currency: "PLN".into(),
            product_name: "test product".into(),
            customer: Some(Customer {
                phone: "48519532621".into(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn paid(&self, reference: &str, provider_ref: &str, id: &str, amount_minor: i64) -> Call {
        let body = serde_json::json!({
            "event_id": id,
            "type": "PAYMENT_SUCCESS",
            "reference": reference,
            "provider_id": provider_ref,
            "msisdn": "48519532621",
            "amount": amount_minor,
            "currency": "PLN",
            "charge_id": format!("charge-{id}"),
            "timestamp": 1700000000,
        })
        .to_string();
        // Signed as docs/providers/teleaudio.md says: hex HMAC-SHA256 of the body.
        let sig = paysys_platform::signing::hmac_sha256_hex(SECRET.as_bytes(), body.as_bytes());
        Call {
            method: reqwest::Method::POST,
            path: "/teleaudio/notify".into(),
            headers: vec![
                ("content-type".into(), "application/json".into()),
                ("x-teleaudio-signature".into(), sig),
            ],
            body: body.into_bytes(),
        }
    }

    fn tampered(&self, call: &Call) -> Call {
        let mut c = call.clone();
        let body = String::from_utf8(c.body).expect("utf-8");
        c.body = body.replace("48519532621", "48519532622").into_bytes();
        c
    }
}

#[tokio::test]
async fn teleaudio_tells_every_story_of_the_adapter_kit() {
    let fake_url = fake_teleaudio().await;
    testkit::run(TeleaudioFixture { fake_url }).await;
}
