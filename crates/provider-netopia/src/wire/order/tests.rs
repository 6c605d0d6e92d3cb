use super::*;
use chrono::NaiveDate;

fn ron(minor: i64) -> Money {
    Money::new(minor, Currency::parse("RON").unwrap())
}

fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(y, mo, d)
        .unwrap()
        .and_hms_opt(h, mi, s)
        .unwrap()
}

pub(crate) fn sample_order() -> Order {
    let mut invoice = Invoice::new(ron(1234));
    invoice.details = Some("Abonament lunar 100% <premium> & más".into());
    invoice.billing = Some(Contact {
        kind: ContactKind::Person,
        first_name: Some("Ana Maria".into()),
        last_name: Some("Popescu-Ștefănescu".into()),
        address: Some("Str. Lungă nr. 1+2".into()),
        email: Some("ana+test@example.ro".into()),
        mobile_phone: Some("0722000000".into()),
    });
    let mut order = Order::new(
        "ord-42",
        at(2026, 3, 14, 10, 30, 0),
        "XXXX-XXXX-XXXX-XXXX-XXXX",
        invoice,
    );
    order.recurrence = Some(Recurrence {
        payments_no: 12,
        interval_day: 30,
    });
    order.ipn_cipher = Some(Cipher::Aes256Cbc);
    order.params = vec![
        ("merchant_order".into(), "A-1 & B".into()),
        ("lang".into(), "ro".into()),
    ];
    order.confirm_url = Some("https://pay.example/netopia/ipn?x=1&y=2".into());
    order.return_url = Some("https://shop.example/back".into());
    order
}

#[test]
fn builds_the_documented_shape() {
    let xml = sample_order().to_xml().unwrap();
    let expected = concat!(
        r#"<?xml version="1.0" encoding="utf-8"?>"#,
        r#"<order type="card" id="ord-42" timestamp="20260314103000">"#,
        r#"<signature>XXXX-XXXX-XXXX-XXXX-XXXX</signature>"#,
        r#"<invoice currency="RON" amount="12.34">"#,
        r#"<details>Abonament+lunar+100%25+%3Cpremium%3E+%26+m%C3%A1s</details>"#,
        r#"<contact_info><billing type="person">"#,
        r#"<first_name>Ana+Maria</first_name>"#,
        r#"<last_name>Popescu-%C8%98tef%C4%83nescu</last_name>"#,
        r#"<address>Str.+Lung%C4%83+nr.+1%2B2</address>"#,
        r#"<email>ana%2Btest%40example.ro</email>"#,
        r#"<mobile_phone>0722000000</mobile_phone>"#,
        r#"</billing></contact_info></invoice>"#,
        r#"<recurrence payments_no="12" interval_day="30"/>"#,
        r#"<ipn_cipher>aes-256-cbc</ipn_cipher>"#,
        r#"<params><param><name>merchant_order</name><value>A-1+%26+B</value></param>"#,
        r#"<param><name>lang</name><value>ro</value></param></params>"#,
        r#"<url><confirm>https://pay.example/netopia/ipn?x=1&amp;y=2</confirm>"#,
        r#"<return>https://shop.example/back</return></url>"#,
        r#"</order>"#,
    );
    assert_eq!(xml, expected);
}

#[test]
fn round_trips() {
    let order = sample_order();
    assert_eq!(Order::from_xml(&order.to_xml().unwrap()).unwrap(), order);

    let minimal = Order::new("1", at(2026, 1, 1, 0, 0, 0), "SIG", Invoice::new(ron(5)));
    let xml = minimal.to_xml().unwrap();
    assert!(xml.contains(r#"amount="0.05""#), "{xml}");
    assert_eq!(Order::from_xml(&xml).unwrap(), minimal);
}

#[test]
fn reads_sdk_variants() {
    // Pretty-printed (Python SDK), CDATA (PHP SDK), recurrence as attributes of <order>,
    // amount without decimals, contact without type.
    let xml = r#"<?xml version="1.0" encoding="utf-8"?>
<order type="card" id="A1" timestamp="20260314103000" payments_no="0" interval_day="7">
	<signature>
		SIG-1
	</signature>
	<invoice currency="EUR" amount="12">
		<details><![CDATA[Plata+online]]></details>
		<contact_info><billing><first_name><![CDATA[Ion]]></first_name></billing></contact_info>
	</invoice>
</order>"#;
    let order = Order::from_xml(xml).unwrap();
    assert_eq!(order.signature, "SIG-1");
    assert_eq!(order.invoice.amount.minor, 1200);
    assert_eq!(order.invoice.amount.currency.as_str(), "EUR");
    assert_eq!(order.invoice.details.as_deref(), Some("Plata online"));
    let billing = order.invoice.billing.unwrap();
    assert_eq!(billing.kind, ContactKind::Person);
    assert_eq!(billing.first_name.as_deref(), Some("Ion"));
    assert_eq!(
        order.recurrence,
        Some(Recurrence {
            payments_no: 0,
            interval_day: 7
        })
    );
}

#[test]
fn every_parse_error_names_its_field() {
    let good = sample_order().to_xml().unwrap();
    let cases = [
        ("<orders/>", "order"),
        (r#"type="card""#, "order.type"),
        (r#"id="ord-42""#, "order.id"),
        (r#"timestamp="20260314103000""#, "order.timestamp"),
        (
            "<signature>XXXX-XXXX-XXXX-XXXX-XXXX</signature>",
            "order.signature",
        ),
        (r#"currency="RON""#, "order.invoice.currency"),
        (r#"amount="12.34""#, "order.invoice.amount"),
        (r#"payments_no="12""#, "order.recurrence.payments_no"),
        (r#"interval_day="30""#, "order.recurrence.interval_day"),
        ("<ipn_cipher>aes-256-cbc</ipn_cipher>", "order.ipn_cipher"),
        (
            r#"<billing type="person">"#,
            "order.invoice.contact_info.billing.type",
        ),
        ("<name>lang</name>", "order.params.param.name"),
        (
            "<first_name>Ana+Maria</first_name>",
            "order.invoice.contact_info.billing.first_name",
        ),
    ];
    let replacements = [
        ("<orders/>", "<orders/>"),
        (r#"type="card""#, r#"type="sms""#),
        (r#"id="ord-42""#, r#"id="""#),
        (r#"timestamp="20260314103000""#, r#"timestamp="2026-03-14""#),
        (
            "<signature>XXXX-XXXX-XXXX-XXXX-XXXX</signature>",
            "<signature> </signature>",
        ),
        (r#"currency="RON""#, r#"currency="XYZ""#),
        (r#"amount="12.34""#, r#"amount="12.345""#),
        (r#"payments_no="12""#, r#"payments_no="-1""#),
        (r#"interval_day="30""#, r#"interval_day="0""#),
        (
            "<ipn_cipher>aes-256-cbc</ipn_cipher>",
            "<ipn_cipher>des</ipn_cipher>",
        ),
        (r#"<billing type="person">"#, r#"<billing type="robot">"#),
        ("<name>lang</name>", ""),
        (
            "<first_name>Ana+Maria</first_name>",
            "<first_name>%FF</first_name>",
        ),
    ];
    for ((from, field), (_, to)) in cases.iter().zip(replacements.iter()) {
        let bad = if *from == "<orders/>" {
            to.to_string()
        } else {
            assert!(good.contains(from), "{from}");
            good.replacen(from, to, 1)
        };
        let err = Order::from_xml(&bad).unwrap_err();
        assert_eq!(err.field, *field, "{from} -> {to}: {err}");
    }
    let long_id = good.replace(r#"id="ord-42""#, &format!(r#"id="{}""#, "x".repeat(65)));
    assert_eq!(Order::from_xml(&long_id).unwrap_err().field, "order.id");
    let no_invoice = Order::from_xml(
        r#"<order type="card" id="1" timestamp="20260101000000"><signature>S</signature></order>"#,
    );
    assert_eq!(no_invoice.unwrap_err().field, "order.invoice");
    let no_amount = good.replace(r#" amount="12.34""#, "");
    assert_eq!(
        Order::from_xml(&no_amount).unwrap_err().field,
        "order.invoice.amount"
    );
    let twice = good.replace(
        "</invoice>",
        "</invoice><invoice currency=\"RON\" amount=\"1\"/>",
    );
    assert_eq!(Order::from_xml(&twice).unwrap_err().field, "order.invoice");
    assert_eq!(Order::from_xml("<order").unwrap_err().field, "xml");
}

#[test]
fn building_refuses_what_mobilpay_would() {
    let mut order = sample_order();
    order.id = "x".repeat(65);
    assert_eq!(order.to_xml().unwrap_err().field, "order.id");
    order.id = "ș".repeat(64); // 64 characters, 128 bytes: fine
    assert!(order.to_xml().is_ok());
    order.id.clear();
    assert_eq!(order.to_xml().unwrap_err().field, "order.id");

    let mut order = sample_order();
    order.signature = " ".into();
    assert_eq!(order.to_xml().unwrap_err().field, "order.signature");

    let mut order = sample_order();
    order.invoice.amount = ron(-1);
    assert_eq!(order.to_xml().unwrap_err().field, "order.invoice.amount");

    let mut order = sample_order();
    order.recurrence = Some(Recurrence {
        payments_no: 3,
        interval_day: 0,
    });
    assert_eq!(
        order.to_xml().unwrap_err().field,
        "order.recurrence.interval_day"
    );
}
