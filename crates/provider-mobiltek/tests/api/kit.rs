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
