//! The adapter test kit's stories (crates/paysys-adapter/src/testkit.rs) told by Mobiltek.

use crate::helpers::{seed_one_time, signed, SECRET};
use paysys_adapter::testkit::{self, Call, Fixture};
use paysys_platform::testing;
use paysys_proto::StartRequest;
use provider_mobiltek::{Mobiltek, Settings};

struct MobiltekFixture;

#[async_trait::async_trait]
impl Fixture for MobiltekFixture {
    type Adapter = Mobiltek;

    async fn settings(&self, database_url: &str) -> Settings {
        testing::settings(
            database_url,
            &[
                ("mobiltek.listen", "127.0.0.1:0".into()),
                ("mobiltek.base_url", "https://pay.mobiltek.pl".into()),
                ("mobiltek.secret", SECRET.into()),
            ],
        )
    }

    fn one_time(&self, order_id: &str) -> StartRequest {
        seed_one_time(order_id)
    }

    fn paid(&self, reference: &str, _provider_ref: &str, id: &str, amount_minor: i64) -> Call {
        let amount = format!("{}.{:02}", amount_minor / 100, amount_minor % 100);
        let form = signed(
            SECRET,
            &[
                ("notification_id", id),
                ("transaction_id", reference),
                ("service_id", "30576"),
                ("msisdn", "48690112325"),
                ("operator_id", "26001"),
                ("type", "PAYMENT"),
                ("amount", &amount),
                ("charge_id", &format!("charge-{id}")),
                ("reason", ""),
                ("timestamp", "1700000000"),
            ],
        );
        Call {
            method: reqwest::Method::POST,
            path: "/mobiltek/notify".into(),
            headers: vec![(
                "content-type".into(),
                "application/x-www-form-urlencoded".into(),
            )],
            body: serde_urlencoded::to_string(&form)
                .expect("form")
                .into_bytes(),
        }
    }

    fn tampered(&self, call: &Call) -> Call {
        let mut c = call.clone();
        let body = String::from_utf8(c.body).expect("utf-8");
        c.body = body.replace("26001", "26002").into_bytes();
        c
    }
}

#[tokio::test]
async fn mobiltek_tells_every_story_of_the_adapter_kit() {
    testkit::run(MobiltekFixture).await;
}

/// Seed 000 sends `"test"`: a test order goes to Mobiltek's test environment, and where none is
/// configured (an empty `mobiltek.test_base_url` switches it off) it is refused naming `test`.
#[tokio::test]
async fn a_test_order_needs_a_test_environment() {
    let db = testing::fresh_database().await.expect("database");
    for (test_base_url, want_refused) in [("", true), ("https://test.mobiltek.example", false)] {
        let settings: Settings = testing::settings(
            &testing::expose(&db),
            &[
                ("mobiltek.listen", "127.0.0.1:0".into()),
                ("mobiltek.base_url", "https://pay.mobiltek.pl".into()),
                ("mobiltek.test_base_url", test_base_url.into()),
                ("mobiltek.secret", SECRET.into()),
            ],
        );
        let shutdown = paysys_platform::Shutdown::new();
        let app = provider_mobiltek::Application::build(settings, shutdown.clone())
            .await
            .expect("adapter");
        let port = app.port();
        tokio::spawn(app.run_until_stopped());
        let mut grpc = paysys_proto::payment_provider_client::PaymentProviderClient::new(
            paysys_platform::grpc::connect(
                &format!("http://127.0.0.1:{port}"),
                &paysys_platform::testing::internal_token(),
            )
            .await
            .expect("gRPC"),
        );
        let mut req = seed_one_time(&format!("test-order-{want_refused}"));
        req.test = true;
        let answer = grpc.start(req).await;
        if want_refused {
            let e = answer.expect_err("no test environment");
            assert_eq!(e.code(), tonic::Code::InvalidArgument);
            assert!(e.message().starts_with("test:"), "{}", e.message());
        } else {
            let url = answer.expect("test order").into_inner().redirect_url;
            assert!(
                url.starts_with("https://test.mobiltek.example/ppe?"),
                "{url}"
            );
        }
        shutdown.trigger();
    }
}
