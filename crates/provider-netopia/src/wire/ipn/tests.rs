use super::*;
use crate::wire::order::tests::sample_order;
use chrono::NaiveDate;

fn ron(minor: i64) -> Money {
    Money::new(minor, Currency::parse("RON").unwrap())
}

fn sample_ipn() -> Ipn {
    let mut notify = Notify::new(Action::Confirmed, PaymentError::approved());
    notify.crc = "9f1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e".into();
    notify.timestamp = NaiveDate::from_ymd_opt(2026, 3, 14)
        .unwrap()
        .and_hms_opt(10, 35, 12);
    notify.customer = Some(Contact {
        first_name: Some("Ana Maria".into()),
        email: Some("ana@example.ro".into()),
        ..Contact::default()
    });
    notify.purchase = Some("1234567".into());
    notify.original_amount = Some(ron(1234));
    notify.processed_amount = Some(ron(1234));
    notify.current_payment_count = Some(1);
    notify.pan_masked = Some("9****5098".into());
    notify.payment_instrument_id = Some("42".into());
    notify.token_id = Some("tok-1".into());
    notify.token_expiration_date = Some("2027-03-31 00:00:00".into());
    notify.rrn = Some("123456789012".into());
    Ipn {
        order: sample_order(),
        notify,
    }
}

#[test]
fn builds_order_then_mobilpay() {
    let xml = sample_ipn().to_xml().unwrap();
    let order_xml = sample_order().to_xml().unwrap();
    // The IPN is the order with <mobilpay> added before </order>.
    let (head, tail) = xml.split_once("<mobilpay ").unwrap();
    assert_eq!(format!("{head}</order>"), order_xml);
    assert_eq!(
        format!("<mobilpay {tail}"),
        concat!(
            r#"<mobilpay timestamp="20260314103512" crc="9f1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e">"#,
            r#"<action>confirmed</action>"#,
            r#"<customer type="person"><first_name>Ana+Maria</first_name><email>ana%40example.ro</email></customer>"#,
            r#"<purchase>1234567</purchase>"#,
            r#"<original_amount>12.34</original_amount><processed_amount>12.34</processed_amount>"#,
            r#"<current_payment_count>1</current_payment_count>"#,
            r#"<pan_masked>9****5098</pan_masked><payment_instrument_id>42</payment_instrument_id>"#,
            r#"<token_id>tok-1</token_id><token_expiration_date>2027-03-31 00:00:00</token_expiration_date>"#,
            r#"<rrn>123456789012</rrn>"#,
            r#"<error code="0">Tranzactia aprobata</error>"#,
            r#"</mobilpay></order>"#,
        )
    );
}

#[test]
fn round_trips() {
    let ipn = sample_ipn();
    let back = Ipn::from_xml(&ipn.to_xml().unwrap()).unwrap();
    assert_eq!(back, ipn);
    assert!(back.money_taken());
    assert_eq!(
        Ipn::from_bytes(ipn.to_xml().unwrap().as_bytes()).unwrap(),
        ipn
    );

    let bare = Ipn {
        order: sample_order(),
        notify: Notify::new(
            Action::Canceled,
            PaymentError::from_code(ErrorCode::EXPIRED),
        ),
    };
    let back = Ipn::from_xml(&bare.to_xml().unwrap()).unwrap();
    assert_eq!(back, bare);
    assert!(!back.money_taken());
    assert_eq!(back.notify.error.message, "card is expired");
}

#[test]
fn reads_a_mobilpay_style_notification() {
    // As the PHP SDK's Notify::createXmlElement writes it: CDATA message, pretty-printed.
    let xml = r#"<?xml version="1.0" encoding="utf-8"?>
<order type="card" id="abc" timestamp="20260314103000">
  <signature>XXXX-XXXX-XXXX-XXXX-XXXX</signature>
  <invoice currency="RON" amount="1.00"><details>Plata</details></invoice>
  <url><confirm>http://x/confirm</confirm><return>http://x/return</return></url>
  <mobilpay timestamp="20260314103512" crc="abc123">
    <action>paid</action>
    <purchase>777</purchase>
    <original_amount>1.00</original_amount>
    <processed_amount>1</processed_amount>
    <current_payment_count>0</current_payment_count>
    <pan_masked>4****1111</pan_masked>
    <error code="20"><![CDATA[Fonduri insuficiente]]></error>
  </mobilpay>
</order>"#;
    let ipn = Ipn::from_xml(xml).unwrap();
    assert_eq!(ipn.order.id, "abc");
    assert_eq!(ipn.order.invoice.amount, ron(100));
    assert_eq!(ipn.notify.action, Action::Paid);
    assert_eq!(ipn.notify.crc, "abc123");
    assert_eq!(ipn.notify.processed_amount, Some(ron(100)));
    assert_eq!(ipn.notify.current_payment_count, Some(0));
    assert_eq!(ipn.notify.error.code, ErrorCode::INSUFFICIENT_FUNDS);
    assert_eq!(ipn.notify.error.message, "Fonduri insuficiente");
    assert_eq!(ipn.notify.customer, None);
    assert_eq!(ipn.notify.rrn, None);
    assert!(!ipn.money_taken());
}

#[test]
fn every_parse_error_names_its_element() {
    let good = sample_ipn().to_xml().unwrap();
    let cases = [
        (
            r#" crc="9f1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e""#,
            "",
            "order.mobilpay.crc",
        ),
        (
            r#"crc="9f1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e""#,
            r#"crc=" ""#,
            "order.mobilpay.crc",
        ),
        (
            "<action>confirmed</action>",
            "<action>approved</action>",
            "order.mobilpay.action",
        ),
        ("<action>confirmed</action>", "", "order.mobilpay.action"),
        (
            "<original_amount>12.34</original_amount>",
            "<original_amount>-12.34</original_amount>",
            "order.mobilpay.original_amount",
        ),
        (
            "<processed_amount>12.34</processed_amount>",
            "<processed_amount>12,34</processed_amount>",
            "order.mobilpay.processed_amount",
        ),
        (
            "<current_payment_count>1</current_payment_count>",
            "<current_payment_count>one</current_payment_count>",
            "order.mobilpay.current_payment_count",
        ),
        (
            r#"<error code="0">"#,
            r#"<error code="zero">"#,
            "order.mobilpay.error.code",
        ),
        (
            r#"<error code="0">"#,
            "<error>",
            "order.mobilpay.error.code",
        ),
        (
            r#"<error code="0">Tranzactia aprobata</error>"#,
            "",
            "order.mobilpay.error",
        ),
        (
            r#"timestamp="20260314103512""#,
            r#"timestamp="yesterday""#,
            "order.mobilpay.timestamp",
        ),
        (
            r#"<customer type="person">"#,
            r#"<customer type="x">"#,
            "order.mobilpay.customer.type",
        ),
    ];
    for (from, to, field) in cases {
        assert!(good.contains(from), "{from}");
        let err = Ipn::from_xml(&good.replacen(from, to, 1)).unwrap_err();
        assert_eq!(err.field, field, "{from} -> {to}: {err}");
    }
    let order_only = sample_order().to_xml().unwrap();
    assert_eq!(
        Ipn::from_xml(&order_only).unwrap_err().field,
        "order.mobilpay"
    );
    assert_eq!(
        Ipn::from_bytes(b"\xff\xfe<order/>").unwrap_err().field,
        "xml"
    );
}

#[test]
fn error_codes_have_reasons() {
    for (code, words) in [
        (0, "approved"),
        (16, "risk"),
        (17, "card number"),
        (19, "expired"),
        (20, "insufficient funds"),
        (21, "CVV2"),
        (34, "not permitted"),
        (35, "declined"),
        (36, "antifraud"),
        (56, "duplicate"),
        (99, "generic"),
    ] {
        assert!(ErrorCode(code).reason().contains(words), "{code}");
    }
    assert_eq!(ErrorCode(12345).reason(), "unknown mobilPay error code");
    assert_eq!(ErrorCode::DECLINED.to_string(), "35 (transaction declined)");
    assert!(ErrorCode::APPROVED.is_approved());
    assert!(!ErrorCode::GENERIC.is_approved());
}

#[test]
fn actions_and_crcs() {
    for action in Action::ALL {
        assert_eq!(Action::parse(action.as_str()), Some(action));
    }
    assert_eq!(Action::parse("cancelled"), None);
    let (a, b) = (new_crc(), new_crc());
    assert_eq!(a.len(), 32);
    assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
    assert_ne!(a, b);
}
