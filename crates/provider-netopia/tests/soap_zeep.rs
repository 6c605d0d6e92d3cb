//! The SOAP service against an off-the-shelf client: Python zeep loads our WSDL from a tiny
//! axum server that answers with our response builders, and calls logIn, moveRecurrence,
//! modifyRecurrencePrice and cancelRecurrence; zeep's own deserializer then checks that the
//! request envelopes the adapter sends fit the same WSDL.
//!
//! Needs `python3` with `zeep` (scripts/test-deps.sh installs it); without them this test fails.

mod common;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use chrono::NaiveDate;
use common::{run_peer, Scratch};
use provider_netopia::wire::soap::{
    self, CancelRecurrenceRequest, ErrorDetail, LogInRequest, LogInResult,
    ModifyRecurrencePriceRequest, MoveRecurrenceRequest, Operation, RecurrenceResult, ResultCode,
    SoapError, SoapFault, SoapRequest,
};
use std::collections::HashMap;
use std::process::Command;
use std::sync::{Arc, Mutex};

const SESSION: &str = "sess-7f3a";

const ZEEP_SCRIPT: &str = r#"
import pathlib, sys
from decimal import Decimal

import zeep
from lxml import etree
from zeep.helpers import serialize_object

url, envelopes = sys.argv[1], pathlib.Path(sys.argv[2])
client = zeep.Client(url + "?wsdl")
service = client.service

def show(key, *values):
    print(key + "=" + "|".join(str(v) for v in values))

def result(key, r):
    details = r.details.item if r.details is not None else []
    show(key, r.action, r.code, r.message, len(details),
         *[d.code + ":" + d.message for d in details])

try:
    service.logIn(request={"username": "sandbox", "password": "wrong"})
    show("bad_login", "no fault")
except zeep.exceptions.Fault as fault:
    code = fault.detail.find("code") if fault.detail is not None else None
    show("bad_login", fault.code, fault.message, code.text if code is not None else "")

# zeep unwraps single-child wrappers twice: logInResponse/logInResult/id comes back as the id.
session = service.logIn(request={"username": "sandbox", "password": "sandbox"})
show("session", session)
result("move", service.moveRecurrence(request={
    "sessionId": session, "sacId": "SAC-1", "orderId": "ord-42",
    "recurrenceDate": "2026-09-18 11:00:00"}))
result("price", service.modifyRecurrencePrice(request={
    "sessionId": session, "sacId": "SAC-1", "orderId": "ord-42", "price": Decimal("12.34")}))
result("cancel_unknown", service.cancelRecurrence(request={
    "sessionId": session, "sacId": "SAC-1", "orderId": "unknown"}))
result("cancel_bad_session", service.cancelRecurrence(request={
    "sessionId": "forged", "sacId": "SAC-1", "orderId": "ord-42"}))
result("cancel", service.cancelRecurrence(request={
    "sessionId": session, "sacId": "SAC-1", "orderId": "ord-42"}))

# The adapter's own request envelopes, read by zeep against the WSDL (strict mode).
for path in sorted(envelopes.glob("*.xml")):
    operation = client.service._binding._operations[path.stem]
    value = serialize_object(operation.input.deserialize(etree.fromstring(path.read_bytes())))
    fields = value["request"] if "request" in value else value
    show("ours_" + path.stem, *[k + ":" + str(v) for k, v in fields.items()])
"#;

#[derive(Default)]
struct FakeMobilpay {
    url: String,
    seen: Mutex<Vec<SoapRequest>>,
}

impl FakeMobilpay {
    fn answer(&self, request: &SoapRequest) -> Result<String, SoapFault> {
        let recurrence = |op: Operation, session: &str, order: &str| {
            let mut result = if session != SESSION {
                RecurrenceResult::new(op, ResultCode::InvalidUser)
            } else if order == "unknown" {
                RecurrenceResult::new(op, ResultCode::PurchaseNotFound)
            } else {
                RecurrenceResult::new(op, ResultCode::Ok)
            };
            if result.code == ResultCode::PurchaseNotFound {
                result.details.push(ErrorDetail {
                    code: ResultCode::PurchaseNotFound.wire_text(),
                    message: format!("no recurring purchase {order} & co"),
                });
            }
            result.to_envelope(op)
        };
        Ok(match request {
            SoapRequest::LogIn(r) if r.username == "sandbox" && r.password == "sandbox" => {
                LogInResult { id: SESSION.into() }.to_envelope()
            }
            SoapRequest::LogIn(_) => return Err(SoapFault::client(ResultCode::InvalidUser)),
            SoapRequest::CancelRecurrence(r) => {
                recurrence(Operation::CancelRecurrence, &r.session_id, &r.order_id)
            }
            SoapRequest::ModifyRecurrencePrice(r) => {
                recurrence(Operation::ModifyRecurrencePrice, &r.session_id, &r.order_id)
            }
            SoapRequest::MoveRecurrence(r) => {
                recurrence(Operation::MoveRecurrence, &r.session_id, &r.order_id)
            }
        })
    }
}

async fn wsdl(State(service): State<Arc<FakeMobilpay>>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, soap::CONTENT_TYPE)],
        soap::wsdl(&service.url),
    )
}

async fn call(State(service): State<Arc<FakeMobilpay>>, body: String) -> impl IntoResponse {
    let (status, body) = match SoapRequest::from_envelope(&body) {
        Ok(request) => {
            let answer = service.answer(&request);
            service.seen.lock().unwrap().push(request);
            match answer {
                Ok(envelope) => (StatusCode::OK, envelope),
                Err(fault) => (StatusCode::INTERNAL_SERVER_ERROR, fault.to_envelope()),
            }
        }
        Err(SoapError::Malformed(e)) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            SoapFault {
                fault_code: "soap:Client".into(),
                fault_string: e.to_string(),
                result_code: Some(ResultCode::InvalidRequest),
            }
            .to_envelope(),
        ),
        Err(SoapError::Fault(_)) => (StatusCode::BAD_REQUEST, String::new()),
    };
    (status, [(header::CONTENT_TYPE, soap::CONTENT_TYPE)], body)
}

fn adapter_requests() -> Vec<SoapRequest> {
    vec![
        SoapRequest::LogIn(LogInRequest {
            username: "sandbox".into(),
            password: "s&cret <x>".into(),
        }),
        SoapRequest::CancelRecurrence(CancelRecurrenceRequest {
            session_id: SESSION.into(),
            sac_id: "SAC-1".into(),
            order_id: "ord-42".into(),
        }),
        SoapRequest::ModifyRecurrencePrice(ModifyRecurrencePriceRequest {
            session_id: SESSION.into(),
            sac_id: "SAC-1".into(),
            order_id: "ord-42".into(),
            price_minor: 990,
        }),
        SoapRequest::MoveRecurrence(MoveRecurrenceRequest {
            session_id: SESSION.into(),
            sac_id: "SAC-1".into(),
            order_id: "ord-42".into(),
            recurrence_date: NaiveDate::from_ymd_opt(2026, 9, 18)
                .unwrap()
                .and_hms_opt(11, 0, 0)
                .unwrap(),
        }),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn zeep_loads_the_wsdl_and_calls_every_operation() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/netopia/api/payment",
        listener.local_addr().unwrap()
    );
    let service = Arc::new(FakeMobilpay {
        url: url.clone(),
        ..FakeMobilpay::default()
    });
    let app = Router::new()
        .route("/netopia/api/payment", get(wsdl).post(call))
        .with_state(service.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let scratch = Scratch::new("zeep");
    let script = scratch.write("client.py", ZEEP_SCRIPT);
    let envelopes = scratch.path().join("envelopes");
    std::fs::create_dir_all(&envelopes).unwrap();
    for request in adapter_requests() {
        let path = envelopes.join(format!("{}.xml", request.operation().name()));
        std::fs::write(path, request.to_envelope().unwrap()).unwrap();
    }

    let mut command = Command::new("python3");
    command.arg(&script).arg(&url).arg(&envelopes);
    let output = tokio::task::spawn_blocking(move || run_peer(command, "python3 with zeep"))
        .await
        .unwrap();
    let out: HashMap<&str, &str> = output.lines().filter_map(|l| l.split_once('=')).collect();

    // A wrong password is a fault carrying 0x1000.
    assert_eq!(
        out["bad_login"], "soap:Client|invalid user|4096",
        "{output}"
    );
    assert_eq!(out["session"], SESSION);
    // Codes travel as decimal strings (20480 = 0x5000); `action` echoes the operation.
    assert_eq!(out["move"], "moveRecurrence|20480|OK|0");
    assert_eq!(out["price"], "modifyRecurrencePrice|20480|OK|0");
    assert_eq!(
        out["cancel_unknown"],
        "cancelRecurrence|16388|purchase not found|1|16388:no recurring purchase unknown & co"
    );
    assert_eq!(
        out["cancel_bad_session"],
        "cancelRecurrence|4096|invalid user|0"
    );
    assert_eq!(out["cancel"], "cancelRecurrence|20480|OK|0");

    // What zeep sent, as our server-side parser read it.
    let seen = service.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 7, "{seen:?}");
    match &seen[3] {
        SoapRequest::ModifyRecurrencePrice(r) => assert_eq!(r.price_minor, 1234),
        other => panic!("{other:?}"),
    }
    match &seen[2] {
        SoapRequest::MoveRecurrence(r) => {
            assert_eq!(r.recurrence_date.to_string(), "2026-09-18 11:00:00");
            assert_eq!(
                (r.sac_id.as_str(), r.order_id.as_str()),
                ("SAC-1", "ord-42")
            );
        }
        other => panic!("{other:?}"),
    }

    // What we send, as zeep reads it against the WSDL.
    assert_eq!(
        out["ours_logIn"], "username:sandbox|password:s&cret <x>",
        "{output}"
    );
    assert_eq!(
        out["ours_cancelRecurrence"],
        format!("sessionId:{SESSION}|sacId:SAC-1|orderId:ord-42")
    );
    assert_eq!(
        out["ours_modifyRecurrencePrice"],
        format!("sessionId:{SESSION}|sacId:SAC-1|orderId:ord-42|price:9.90")
    );
    assert_eq!(
        out["ours_moveRecurrence"],
        format!(
            "sessionId:{SESSION}|sacId:SAC-1|orderId:ord-42|recurrenceDate:2026-09-18 11:00:00"
        )
    );

    // And the answers the adapter gets back parse with the client-side readers.
    let ok = RecurrenceResult::new(Operation::MoveRecurrence, ResultCode::Ok)
        .to_envelope(Operation::MoveRecurrence);
    assert!(
        RecurrenceResult::from_envelope(&ok, Operation::MoveRecurrence)
            .unwrap()
            .code
            .is_ok()
    );
}
