use super::*;
use chrono::NaiveDate;

fn date() -> chrono::NaiveDateTime {
    NaiveDate::from_ymd_opt(2011, 9, 18)
        .unwrap()
        .and_hms_opt(11, 0, 0)
        .unwrap()
}

fn requests() -> Vec<SoapRequest> {
    vec![
        SoapRequest::LogIn(LogInRequest {
            username: "sandbox".into(),
            password: " p&ss <word> ".into(),
        }),
        SoapRequest::CancelRecurrence(CancelRecurrenceRequest {
            session_id: "s-1".into(),
            sac_id: "XXXX-XXXX".into(),
            order_id: "ord-42".into(),
        }),
        SoapRequest::ModifyRecurrencePrice(ModifyRecurrencePriceRequest {
            session_id: "s-1".into(),
            sac_id: "XXXX-XXXX".into(),
            order_id: "ord-42".into(),
            price_minor: 1234,
        }),
        SoapRequest::MoveRecurrence(MoveRecurrenceRequest {
            session_id: "s-1".into(),
            sac_id: "XXXX-XXXX".into(),
            order_id: "ord-42".into(),
            recurrence_date: date(),
        }),
    ]
}

#[test]
fn request_envelopes_have_the_documented_shape() {
    let move_request = &requests()[3];
    assert_eq!(
        move_request.to_envelope().unwrap(),
        concat!(
            r#"<?xml version="1.0" encoding="utf-8"?>"#,
            r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>"#,
            r#"<moveRecurrence xmlns="https://www.mobilpay.ro/api/payment/"><request>"#,
            r#"<sessionId>s-1</sessionId><sacId>XXXX-XXXX</sacId><orderId>ord-42</orderId>"#,
            r#"<recurrenceDate>2011-09-18 11:00:00</recurrenceDate>"#,
            r#"</request></moveRecurrence></soap:Body></soap:Envelope>"#,
        )
    );
    assert!(requests()[2]
        .to_envelope()
        .unwrap()
        .contains("<price>12.34</price>"));
    assert_eq!(
        Operation::MoveRecurrence.soap_action(),
        "https://www.mobilpay.ro/api/payment/#moveRecurrence"
    );
}

#[test]
fn requests_round_trip() {
    for request in requests() {
        let xml = request.to_envelope().unwrap();
        assert_eq!(SoapRequest::from_envelope(&xml).unwrap(), request);
    }
}

#[test]
fn reads_requests_as_zeep_writes_them() {
    let zeep = r#"<soap-env:Envelope xmlns:soap-env="http://schemas.xmlsoap.org/soap/envelope/"><soap-env:Body><ns0:modifyRecurrencePrice xmlns:ns0="https://www.mobilpay.ro/api/payment/"><ns0:request><ns0:sessionId>s</ns0:sessionId><ns0:sacId>a</ns0:sacId><ns0:orderId>o</ns0:orderId><ns0:price>9.900</ns0:price></ns0:request></ns0:modifyRecurrencePrice></soap-env:Body></soap-env:Envelope>"#;
    let SoapRequest::ModifyRecurrencePrice(r) = SoapRequest::from_envelope(zeep).unwrap() else {
        panic!("wrong operation");
    };
    assert_eq!(r.price_minor, 990);
}

#[test]
fn request_errors_name_the_field() {
    let good = requests()[3].to_envelope().unwrap();
    let cases = [
        (
            "<sessionId>s-1</sessionId>",
            "",
            "moveRecurrence.request.sessionId",
        ),
        (
            "<sacId>XXXX-XXXX</sacId>",
            "",
            "moveRecurrence.request.sacId",
        ),
        (
            "<orderId>ord-42</orderId>",
            "",
            "moveRecurrence.request.orderId",
        ),
        (
            "2011-09-18 11:00:00",
            "18.09.2011 11:00",
            "moveRecurrence.request.recurrenceDate",
        ),
        (
            "2011-09-18 11:00:00",
            "2011-09-18T11:00:00+03:00",
            "moveRecurrence.request.recurrenceDate",
        ),
        ("request>", "req>", "moveRecurrence.request"),
        ("moveRecurrence", "dance", "dance"),
    ];
    for (from, to, field) in cases {
        let bad = good.replace(from, to);
        match SoapRequest::from_envelope(&bad) {
            Err(SoapError::Malformed(e)) => assert_eq!(e.field, field, "{from}: {e}"),
            other => panic!("{from}: {other:?}"),
        }
    }
    let price = requests()[2].to_envelope().unwrap();
    for bad_price in ["12.345", "-1", "abc", "1e2", ""] {
        let bad = price.replace("12.34", bad_price);
        match SoapRequest::from_envelope(&bad) {
            Err(SoapError::Malformed(e)) => {
                assert_eq!(
                    e.field, "modifyRecurrencePrice.request.price",
                    "{bad_price}"
                )
            }
            other => panic!("{bad_price}: {other:?}"),
        }
    }
    let negative = SoapRequest::ModifyRecurrencePrice(ModifyRecurrencePriceRequest {
        session_id: "s".into(),
        sac_id: "a".into(),
        order_id: "o".into(),
        price_minor: -5,
    });
    assert_eq!(
        negative.to_envelope().unwrap_err().field,
        "modifyRecurrencePrice.request.price"
    );
    for (bad, field) in [
        ("<html/>", "Envelope"),
        ("<Envelope/>", "Envelope.Body"),
        ("<Envelope><Body/></Envelope>", "Body"),
        ("nonsense", "xml"),
    ] {
        match SoapRequest::from_envelope(bad) {
            Err(SoapError::Malformed(e)) => assert_eq!(e.field, field, "{bad}"),
            other => panic!("{bad}: {other:?}"),
        }
    }
}

#[test]
fn results_round_trip_and_read_either_code_notation() {
    let login = LogInResult {
        id: "sess-9".into(),
    };
    assert_eq!(
        LogInResult::from_envelope(&login.to_envelope()).unwrap(),
        login
    );

    let mut result =
        RecurrenceResult::new(Operation::CancelRecurrence, ResultCode::PurchaseNotFound);
    result.details.push(ErrorDetail {
        code: "0x4004".into(),
        message: "no recurring purchase for ord-42".into(),
    });
    let xml = result.to_envelope(Operation::CancelRecurrence);
    assert!(xml.contains("<code>16388</code>"), "{xml}");
    assert!(xml.contains("<cancelRecurrenceResponse xmlns=\"https://www.mobilpay.ro/api/payment/\"><cancelRecurrenceResult><action>cancelRecurrence</action>"));
    let back = RecurrenceResult::from_envelope(&xml, Operation::CancelRecurrence).unwrap();
    assert_eq!(back, result);
    assert_eq!(back.code, ResultCode::PurchaseNotFound);

    let hex = RecurrenceResult::new(Operation::MoveRecurrence, ResultCode::Ok)
        .to_envelope(Operation::MoveRecurrence)
        .replace("<code>20480</code>", "<code>0x5000</code>");
    let ok = RecurrenceResult::from_envelope(&hex, Operation::MoveRecurrence).unwrap();
    assert!(ok.code.is_ok());
    assert!(ok.details.is_empty());

    // The seed's example reads `$result->code` straight off the response.
    let flat = r#"<Envelope><Body><moveRecurrenceResponse><action>moveRecurrence</action><code>20480</code><message>OK</message></moveRecurrenceResponse></Body></Envelope>"#;
    assert!(
        RecurrenceResult::from_envelope(flat, Operation::MoveRecurrence)
            .unwrap()
            .code
            .is_ok()
    );
}

#[test]
fn result_errors() {
    let xml = RecurrenceResult::new(Operation::MoveRecurrence, ResultCode::Ok)
        .to_envelope(Operation::MoveRecurrence);
    match RecurrenceResult::from_envelope(&xml, Operation::CancelRecurrence) {
        Err(SoapError::Malformed(e)) => assert_eq!(e.field, "moveRecurrenceResponse"),
        other => panic!("{other:?}"),
    }
    let bad = xml.replace("<code>20480</code>", "<code>OK</code>");
    match RecurrenceResult::from_envelope(&bad, Operation::MoveRecurrence) {
        Err(SoapError::Malformed(e)) => {
            assert_eq!(e.field, "moveRecurrenceResponse.moveRecurrenceResult.code")
        }
        other => panic!("{other:?}"),
    }
    let empty = LogInResult { id: String::new() }.to_envelope();
    assert!(LogInResult::from_envelope(&empty).is_err());
}

#[test]
fn faults_carry_the_result_code() {
    let fault = SoapFault::client(ResultCode::InvalidUser);
    let xml = fault.to_envelope();
    assert!(xml.contains("<soap:Fault><faultcode>soap:Client</faultcode><faultstring>invalid user</faultstring><detail><code>4096</code></detail></soap:Fault>"), "{xml}");
    match LogInResult::from_envelope(&xml) {
        Err(SoapError::Fault(f)) => {
            assert_eq!(f, fault);
            assert_eq!(f.result_code, Some(ResultCode::InvalidUser));
            assert!(f.to_string().contains("0x1000 invalid user"), "{f}");
        }
        other => panic!("{other:?}"),
    }
    let server = SoapFault::server("boom");
    assert!(matches!(
        SoapRequest::from_envelope(&server.to_envelope()),
        Err(SoapError::Fault(f)) if f.result_code.is_none() && f.fault_string == "boom"
    ));
}

#[test]
fn the_wsdl_is_well_formed_and_names_every_operation() {
    let doc = wsdl("http://127.0.0.1:9090/netopia/api/payment?a=1&b=2");
    let root = crate::wire::xml::parse(&doc).unwrap();
    assert_eq!(root.name, "definitions");
    assert_eq!(root.attr("targetNamespace"), Some(NAMESPACE));
    let port_type = root.req_child("portType").unwrap();
    let names: Vec<_> = port_type
        .children_named("operation")
        .map(|o| o.attr("name").unwrap().to_string())
        .collect();
    assert_eq!(
        names,
        [
            "logIn",
            "cancelRecurrence",
            "modifyRecurrencePrice",
            "moveRecurrence"
        ]
    );
    let address = root
        .req_child("service")
        .unwrap()
        .req_child("port")
        .unwrap()
        .req_child("address")
        .unwrap();
    assert_eq!(
        address.attr("location"),
        Some("http://127.0.0.1:9090/netopia/api/payment?a=1&b=2")
    );
}
