//! A user on the simulated PPE page: the link is checked like Mobiltek does, the PIN arrives by
//! SMS, the right PIN pays and sends the user back to the merchant.

use crate::helpers::*;

#[tokio::test]
async fn a_user_pays_with_the_sms_pin() {
    let sb = spawn_sandbox(&[]).await;
    let url = link(&sb, "1000000000000201", 10, false, "30576");
    let page = sb.http.get(&url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("test product"), "{html}");
    assert!(html.contains("0.10 PLN"), "{html}");

    let sms = sb.get_json("/_sandbox/sms?phone=48501123123").await;
    assert_eq!(sms["phone"], "48501123123");
    let text = sms["messages"][0]["text"].as_str().unwrap().to_string();
    assert_eq!(sms["messages"][0]["from"], "Mobiltek");
    let pin: String = text
        .split("PIN is ")
        .nth(1)
        .unwrap()
        .chars()
        .take(4)
        .collect();

    let query = url.split_once('?').unwrap().1;
    let confirm = |pin: String| {
        sb.http
            .post(format!("{}/mobiltek/ppe/confirm", sb.url))
            .form(&[
                ("link", query),
                ("pin", pin.as_str()),
                ("action", "confirm"),
            ])
            .send()
    };
    let wrong = confirm("none".into()).await.unwrap();
    assert_eq!(wrong.status(), 200);
    assert!(wrong.text().await.unwrap().contains("Wrong PIN"));
    assert!(sb.adapter.notifications().is_empty());

    let paid = confirm(pin).await.unwrap();
    assert_eq!(paid.status(), 303);
    assert_eq!(paid.headers()["location"], "http://onet.pl");
    assert_eq!(sb.adapter.kinds(), ["PAYMENT"]);
}

#[tokio::test]
async fn three_wrong_pins_fail_the_payment() {
    let sb = spawn_sandbox(&[]).await;
    let url = link(&sb, "1000000000000202", 10, false, "30576");
    sb.http.get(&url).send().await.unwrap();
    let query = url.split_once('?').unwrap().1;
    let mut last = None;
    for _ in 0..3 {
        last = Some(
            sb.http
                .post(format!("{}/mobiltek/ppe/confirm", sb.url))
                .form(&[("link", query), ("pin", "x"), ("action", "confirm")])
                .send()
                .await
                .unwrap(),
        );
    }
    let last = last.unwrap();
    assert_eq!(last.status(), 303);
    assert_eq!(last.headers()["location"], "http://onet.pl/error");
    assert_eq!(sb.adapter.kinds(), ["PAYMENT_FAILED"]);
}

#[tokio::test]
async fn tampered_links_are_refused_and_echoed_values_escaped() {
    let sb = spawn_sandbox(&[]).await;
    let url = link(&sb, "1000000000000203", 10, false, "30576");
    let cheaper = url.replace("price=0.1", "price=0.01");
    assert_eq!(sb.http.get(&cheaper).send().await.unwrap().status(), 403);
    let unsigned = url.split("&hash=").next().unwrap().to_string();
    assert_eq!(sb.http.get(&unsigned).send().await.unwrap().status(), 403);

    // A product name with markup, signed by the adapter: shown as text, never as HTML.
    let evil = provider_mobiltek::wire::PpeLink {
        msisdn: String::new(),
        transaction_id: "1000000000000204".into(),
        service_id: "30576".into(),
        price: paysys_platform::money::Money::new(
            10,
            paysys_platform::money::Currency::parse("PLN").unwrap(),
        ),
        product: "<script>alert(1)</script>\"".into(),
        user_ip: String::new(),
        user_id: String::new(),
        return_url: String::new(),
        error_url: String::new(),
        subscription: false,
    }
    .url(&format!("{}/mobiltek", sb.url), SECRET);
    let html = sb
        .http
        .get(&evil)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!html.contains("<script>"), "{html}");
    assert!(html.contains("&lt;script&gt;"), "{html}");
    // No phone in the link: no PIN until the user gives a number.
    let sms = sb.get_json("/_sandbox/sms?phone=48501123123").await;
    assert_eq!(sms["messages"].as_array().unwrap().len(), 0);
}
