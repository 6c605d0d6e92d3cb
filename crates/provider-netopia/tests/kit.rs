//! The adapter test kit's stories (crates/paysys-adapter/src/testkit.rs) told by Netopia: IPNs
//! sealed for the seller's certificate with keys made for this test, answered in `<crc>` XML.

use paysys_adapter::testkit::{self, Call, Fixture};
use paysys_platform::money::{Currency, Money};
use paysys_platform::testing;
use paysys_proto::{Customer, OrderKind, StartRequest};
use provider_netopia::test_keys::{generate_test_identity, TestIdentity};
use provider_netopia::wire::{
    Action, Cipher, Invoice, Ipn, Notify, Order, PaymentError, SealingKey,
};
use provider_netopia::{Netopia, Settings};

const ACCOUNT: &str = "ABCD-1234-EFGH-5678-IJKL";

struct NetopiaFixture {
    netopia: TestIdentity,
    seller: TestIdentity,
}

#[async_trait::async_trait]
impl Fixture for NetopiaFixture {
    type Adapter = Netopia;

    async fn settings(&self, database_url: &str) -> Settings {
        testing::settings(
            database_url,
            &[
                ("netopia.listen", "127.0.0.1:0".into()),
                (
                    "netopia.netopia_certificate_pem",
                    self.netopia.certificate_pem.as_str().into(),
                ),
                (
                    "netopia.seller_private_key_pem",
                    self.seller.private_key_pem.as_str().into(),
                ),
            ],
        )
    }

    fn one_time(&self, order_id: &str) -> StartRequest {
        StartRequest {
            merchant_id: "40".into(),
            order_id: order_id.into(),
            channel_id: "7001".into(),
            kind: OrderKind::OneTime as i32,
            amount_minor: 1234,
            currency: "RON".into(),
            product_name: "abonament".into(),
            return_url: "https://merchant.example/back".into(),
            customer: Some(Customer {
                email: "ion@example.ro".into(),
                firstname: "Ion".into(),
                lastname: "Popescu".into(),
                ..Default::default()
            }),
            channel_config: [("signature".to_string(), ACCOUNT.to_string())].into(),
            ..Default::default()
        }
    }

    fn paid(&self, reference: &str, _provider_ref: &str, id: &str, amount_minor: i64) -> Call {
        let ron = Currency::parse("RON").unwrap();
        let order = Order::new(
            reference,
            chrono::NaiveDate::from_ymd_opt(2026, 11, 30)
                .unwrap()
                .and_hms_opt(12, 0, 0)
                .unwrap(),
            ACCOUNT,
            Invoice::new(Money::new(amount_minor, ron)),
        );
        let mut notify = Notify::new(Action::Confirmed, PaymentError::approved());
        notify.purchase = Some(id.to_string());
        notify.processed_amount = Some(Money::new(amount_minor, ron));
        let xml = Ipn { order, notify }.to_xml().expect("IPN XML");
        let sealed = SealingKey::from_certificate_pem(&self.seller.certificate_pem)
            .expect("seller certificate")
            .seal(xml.as_bytes(), Cipher::Aes256Cbc)
            .expect("seal");
        let form: Vec<(&str, String)> = sealed.form_fields();
        Call {
            method: reqwest::Method::POST,
            path: "/netopia/ipn".into(),
            headers: vec![(
                "content-type".into(),
                "application/x-www-form-urlencoded".into(),
            )],
            body: url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(form)
                .finish()
                .into_bytes(),
        }
    }

    /// Sealed for another certificate: it does not open.
    fn tampered(&self, call: &Call) -> Call {
        let body = String::from_utf8(call.body.clone()).unwrap();
        let form: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
            .into_owned()
            .collect();
        let mut c = call.clone();
        let other = generate_test_identity("someone else").unwrap();
        let plain = provider_netopia::wire::open(
            &provider_netopia::wire::Envelope::from_form(&form.into_iter().collect()).unwrap(),
            &self.seller.private_key_pem,
        )
        .unwrap();
        let resealed = SealingKey::from_certificate_pem(&other.certificate_pem)
            .unwrap()
            .seal(&plain, Cipher::Aes256Cbc)
            .unwrap();
        c.body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(resealed.form_fields())
            .finish()
            .into_bytes();
        c
    }

    fn accepted(&self, status: u16, body: &str) -> bool {
        status == 200 && body.contains("<crc>") && !body.contains("error_type")
    }

    fn refused(&self, status: u16, body: &str) -> bool {
        status == 200 && body.contains("error_type=\"2\"")
    }
}

#[tokio::test]
async fn netopia_tells_every_story_of_the_adapter_kit() {
    testkit::run(NetopiaFixture {
        netopia: generate_test_identity("mobilpay sandbox").unwrap(),
        seller: generate_test_identity("seller").unwrap(),
    })
    .await;
}
