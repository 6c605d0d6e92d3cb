//! Test support for the simulated mobilPay: throwaway keys (mobilPay's and the seller's), a
//! sandbox holding them, orders sealed like the adapter seals them (through
//! `provider_netopia::wire`), and a fake merchant that serves the page behind a `redirect_url`
//! and opens every IPN with the seller's private key, answering `<crc>` as scripted.

use crate::helpers::{spawn_sandbox, TestSandbox};
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use paysys_platform::money::{Currency, Money};
use provider_netopia::test_keys::{generate_test_identity, TestIdentity};
use provider_netopia::wire::{
    crc_error, crc_ok, Cipher, Envelope, ErrorType, Invoice, Ipn, OpeningKey, Order, Recurrence,
    SealingKey,
};
use serde_json::json;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};

pub const ACCOUNT: &str = "SAND-BOX0-SELL-ER00-0001";

pub struct Keys {
    pub netopia: TestIdentity,
    pub seller: TestIdentity,
}

/// One pair each per test binary (key generation is slow in debug builds).
pub fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| Keys {
        netopia: generate_test_identity("mobilPay test").unwrap(),
        seller: generate_test_identity("seller test").unwrap(),
    })
}

/// How the fake merchant answers the next IPN.
#[derive(Debug, Clone, Copy)]
pub enum Answer {
    Crc,
    Temporary,
    Permanent,
    /// HTTP 500 with an HTML page (no crc document).
    Broken,
}

/// The merchant's side: its pay pages and the IPNs it opened, with the cipher each came in.
#[derive(Clone, Default)]
pub struct FakeMerchant {
    pub url: String,
    received: Arc<Mutex<Vec<(Cipher, Ipn)>>>,
    script: Arc<Mutex<VecDeque<Answer>>>,
    pages: Arc<Mutex<HashMap<String, String>>>,
}

async fn ipn(State(m): State<FakeMerchant>, body: String) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let envelope = Envelope::from_form(&form).expect("an IPN envelope");
    let opening = OpeningKey::from_pem(&keys().seller.private_key_pem).unwrap();
    let ipn = Ipn::from_bytes(&opening.open(&envelope).expect("sealed for the seller"))
        .expect("an IPN document");
    let crc = ipn.notify.crc.clone();
    m.received.lock().unwrap().push((envelope.cipher, ipn));
    let answer = m.script.lock().unwrap().pop_front().unwrap_or(Answer::Crc);
    let xml = |body: String| {
        (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/xml")],
            body,
        )
            .into_response()
    };
    match answer {
        Answer::Crc => xml(crc_ok(&crc)),
        Answer::Temporary => xml(crc_error(ErrorType::Temporary, 3, "try again")),
        Answer::Permanent => xml(crc_error(ErrorType::Permanent, 5, "never")),
        Answer::Broken => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Html("<h1>Internal Server Error</h1>"),
        )
            .into_response(),
    }
}

async fn page(State(m): State<FakeMerchant>, Path(reference): Path<String>) -> Response {
    match m.pages.lock().unwrap().get(&reference) {
        Some(html) => Html(html.clone()).into_response(),
        None => (StatusCode::NOT_FOUND, "no such payment").into_response(),
    }
}

impl FakeMerchant {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let merchant = FakeMerchant {
            url: format!("http://{}", listener.local_addr().unwrap()),
            ..Default::default()
        };
        let router = axum::Router::new()
            .route("/netopia/ipn", axum::routing::post(ipn))
            .route("/netopia/pay/{reference}", axum::routing::get(page))
            .with_state(merchant.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        merchant
    }

    /// The IPNs opened so far, in arrival order.
    pub fn ipns(&self) -> Vec<Ipn> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .map(|(_, i)| i.clone())
            .collect()
    }

    pub fn ciphers(&self) -> Vec<Cipher> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .map(|(c, _)| *c)
            .collect()
    }

    /// `(action, error code, current_payment_count)` of every IPN.
    pub fn summary(&self) -> Vec<(String, u32, Option<u32>)> {
        self.ipns()
            .iter()
            .map(|i| {
                let n = &i.notify;
                (
                    n.action.to_string(),
                    n.error.code.0,
                    n.current_payment_count,
                )
            })
            .collect()
    }

    pub fn answer_next(&self, answers: &[Answer]) {
        self.script.lock().unwrap().extend(answers);
    }

    /// An order as the adapter makes it: 12.34 RON, IPNs to this merchant, back to its shop.
    pub fn order(&self, id: &str, recurrence: Option<(u32, u32)>) -> Order {
        let mut invoice = Invoice::new(Money::new(1234, Currency::parse("RON").unwrap()));
        invoice.details = Some("Abonament <premium> & more".into());
        // mobilPay's clock: Romanian local time, whole seconds (`YYYYmmddHHiiss`).
        let now = provider_netopia::provider::romanian(chrono::Utc::now());
        let now = chrono::Timelike::with_nanosecond(&now, 0).unwrap();
        let mut o = Order::new(id, now, ACCOUNT, invoice);
        o.recurrence = recurrence.map(|(payments_no, interval_day)| Recurrence {
            payments_no,
            interval_day,
        });
        o.confirm_url = Some(format!("{}/netopia/ipn", self.url));
        o.return_url = Some("http://shop.example/back".into());
        o
    }

    /// The merchant's pay page for `order`, sealed for `certificate_pem`, posting to `card_url`.
    /// Returns its URL (the `redirect_url` a merchant gets).
    pub fn publish(&self, order: &Order, certificate_pem: &str, card_url: &str) -> String {
        let form = seal(order, certificate_pem, Cipher::Aes256Cbc);
        let inputs: String = form
            .iter()
            .map(|(k, v)| {
                format!(
                    "<input type=\"hidden\" name=\"{k}\" value=\"{}\">\n",
                    html_escape::encode_double_quoted_attribute(v)
                )
            })
            .collect();
        let html = format!(
            "<!doctype html><html><body onload=\"document.getElementById('pay').submit()\">\
             <form id=\"pay\" method=\"post\" action=\"{card_url}\">\n{inputs}<button>Pay</button></form></body></html>"
        );
        self.pages.lock().unwrap().insert(order.id.clone(), html);
        format!("{}/netopia/pay/{}", self.url, order.id)
    }
}

/// The form fields of `order` sealed for `certificate_pem`.
pub fn seal(order: &Order, certificate_pem: &str, cipher: Cipher) -> Vec<(&'static str, String)> {
    SealingKey::from_certificate_pem(certificate_pem)
        .unwrap()
        .seal(order.to_xml().unwrap().as_bytes(), cipher)
        .unwrap()
        .form_fields()
}

/// A port free right now (the sandbox's WSDL must name the port it listens on).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A sandbox with the test keys, its public URL its own address, and a fake merchant.
pub async fn netopia_sandbox() -> (TestSandbox, FakeMerchant) {
    let merchant = FakeMerchant::start().await;
    let port = free_port();
    let k = keys();
    let sb = spawn_sandbox(&[
        ("sandbox.listen", json!(format!("127.0.0.1:{port}"))),
        (
            "sandbox.public_url",
            json!(format!("http://127.0.0.1:{port}")),
        ),
        (
            "sandbox.netopia.private_key_pem",
            json!(k.netopia.private_key_pem),
        ),
        (
            "sandbox.netopia.certificate_pem",
            json!(k.netopia.certificate_pem),
        ),
        (
            "sandbox.netopia.seller_certificate_pem",
            json!(k.seller.certificate_pem),
        ),
    ])
    .await;
    (sb, merchant)
}

impl TestSandbox {
    /// A form POST to the sandbox; returns the status, the `location` header and the body.
    pub async fn post_form(
        &self,
        path: &str,
        fields: &[(&str, String)],
    ) -> (u16, Option<String>, String) {
        let r = self
            .http
            .post(format!("{}{path}", self.url))
            .form(fields)
            .send()
            .await
            .expect("sandbox reachable");
        let location = r
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        (r.status().as_u16(), location, r.text().await.unwrap())
    }
}
