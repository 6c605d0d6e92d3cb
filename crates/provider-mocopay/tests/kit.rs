//! The adapter test kit's stories (crates/paysys-adapter/src/testkit.rs) told by MoCoPay, against
//! a fake MoCoPay that checks our signatures and answers verifyPayment from what it charged. A
//! "tampered" notification here is one verifyPayment does not confirm (notifications are
//! unsigned: believed only after verifyPayment agrees).

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Json;
use paysys_adapter::testkit::{self, Call, Fixture};
use paysys_platform::testing;
use paysys_proto::{Customer, OrderKind, StartRequest};
use provider_mocopay::{
    authenticate_query, Mocopay, Session, SessionStatus, SessionTransaction, SessionType, Settings,
    TransactionStatus, VerifyPayment,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

const KEY: &str = "kit-app";
const SECRET: &str = "kit-secret-123";

/// Transaction id -> (our reference, amount in minor units): what the fake MoCoPay charged.
type Charged = Arc<Mutex<HashMap<String, (String, i64)>>>;

struct MocopayFixture {
    fake_url: String,
    charged: Charged,
}

fn secret_of(key: &str) -> Option<String> {
    (key == KEY).then(|| SECRET.to_string())
}

async fn init(headers: HeaderMap, RawQuery(q): RawQuery) -> impl IntoResponse {
    let sig = headers.get("signature").and_then(|v| v.to_str().ok());
    match authenticate_query(
        secret_of,
        "/v1/payment/initPayment/",
        sig,
        q.as_deref().unwrap_or(""),
    ) {
        Ok((_, p)) => (
            StatusCode::OK,
            Json(serde_json::json!({
                "requestId": format!("req-{}", p.text("referenceId")),
                "redirectUrl": "http://checkout.mocopay.test/paymentService/init.html?trn=1",
            })),
        ),
        Err(e) => (
            StatusCode::UNAUTHORIZED,
            Json(serde_json::to_value(e.error_body()).unwrap()),
        ),
    }
}

async fn verify(
    State(charged): State<Charged>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> axum::response::Response {
    let sig = headers.get("signature").and_then(|v| v.to_str().ok());
    let p = match authenticate_query(
        secret_of,
        "/v1/payment/verifyPayment/",
        sig,
        q.as_deref().unwrap_or(""),
    ) {
        Ok((_, p)) => p,
        Err(e) => {
            return (
                StatusCode::UNAUTHORIZED,
                Json(serde_json::to_value(e.error_body()).unwrap()),
            )
                .into_response()
        }
    };
    let Ok(VerifyPayment::TransactionId(id)) = VerifyPayment::from_params(&p) else {
        return (StatusCode::BAD_REQUEST, "transactionId only").into_response();
    };
    let Some((reference, amount)) = charged.lock().unwrap().get(&id).cloned() else {
        return (
            StatusCode::NOT_FOUND,
            Json(serde_json::json!({"errorCode": "NOT_FOUND", "errorMessage": "no such transaction"})),
        )
            .into_response();
    };
    let mut s = Session::new(format!("s-{reference}"), SessionStatus::PaymentComplete);
    s.reference_id = Some(reference);
    s.pid = Some("P-KIT".into());
    s.session_type = Some(SessionType::OneTime);
    s.currency_code = Some("PLN".into());
    s.transactions = vec![id.clone()];
    s.transaction = Some(SessionTransaction {
        transaction_id: id,
        status: TransactionStatus::Success,
        amount,
        currency_code: "PLN".into(),
        time: None,
    });
    Json(s).into_response()
}

async fn fake_mocopay(charged: Charged) -> String {
    let app = axum::Router::new()
        .route("/v1/payment/initPayment/", get(init))
        .route("/v1/payment/verifyPayment/", post(verify))
        .with_state(charged);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

#[async_trait::async_trait]
impl Fixture for MocopayFixture {
    type Adapter = Mocopay;

    async fn settings(&self, database_url: &str) -> Settings {
        testing::settings(
            database_url,
            &[
                ("mocopay.listen", "127.0.0.1:0".into()),
                ("mocopay.base_url", self.fake_url.as_str().into()),
                ("mocopay.api_key", KEY.into()),
                ("mocopay.api_secret", SECRET.into()),
            ],
        )
    }

    fn one_time(&self, order_id: &str) -> StartRequest {
        StartRequest {
            merchant_id: "50".into(),
            order_id: order_id.into(),
            channel_id: "8001".into(),
            kind: OrderKind::OneTime as i32,
            amount_minor: 199,
            currency: "PLN".into(),
            product_name: "ringtone".into(),
            customer: Some(Customer {
                ext_id: "u-1".into(),
                ..Default::default()
            }),
            channel_config: [("pid".to_string(), "P-KIT".to_string())].into(),
            ..Default::default()
        }
    }

    fn paid(&self, reference: &str, _provider_ref: &str, id: &str, amount_minor: i64) -> Call {
        self.charged
            .lock()
            .unwrap()
            .insert(id.to_string(), (reference.to_string(), amount_minor));
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("transactionId", id),
                ("sessionId", &format!("s-{reference}")),
                ("referenceId", reference),
                ("sessionType", "onetime"),
                ("status", "success"),
                ("amount", &amount_minor.to_string()),
                ("currencyCode", "PLN"),
                ("pid", "P-KIT"),
            ])
            .finish();
        Call {
            method: reqwest::Method::GET,
            path: format!("/mocopay/notify?{query}"),
            headers: vec![],
            body: vec![],
        }
    }

    /// A notification of a transaction MoCoPay never made.
    fn tampered(&self, call: &Call) -> Call {
        let mut c = call.clone();
        c.path = c
            .path
            .replace("transactionId=kit-", "transactionId=forged-");
        c
    }
}

#[tokio::test]
async fn mocopay_tells_every_story_of_the_adapter_kit() {
    let charged = Charged::default();
    let fake_url = fake_mocopay(charged.clone()).await;
    testkit::run(MocopayFixture { fake_url, charged }).await;
}
