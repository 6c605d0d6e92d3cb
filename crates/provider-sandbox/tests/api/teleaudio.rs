//! The simulated Teleaudio as an adapter and a user meet it (docs/providers/teleaudio.md): signed
//! calls, a subscription confirmed through `/_sandbox/complete` and renewed by the clock until
//! cancelled, webbilling's SMS code with three tries, and its faults. Every callback must carry
//! a valid `X-Teleaudio-Signature`.

use crate::helpers::*;
use paysys_platform::signing::hmac_sha256_hex;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const SECRET: &str = "teleaudio-test-secret";

/// A sandbox whose Teleaudio calls back `receiver`.
async fn sandbox() -> (TestSandbox, JsonReceiver) {
    let (receiver, url) = JsonReceiver::start("/teleaudio/notify").await;
    let sb = spawn_sandbox(&[
        ("sandbox.teleaudio.notify_url", json!(url)),
        ("sandbox.teleaudio.secret", json!(SECRET)),
        ("sandbox.teleaudio.services.511.period_secs", json!(3600)),
        ("sandbox.teleaudio.services.511.amount_minor", json!(100)),
    ])
    .await;
    (sb, receiver)
}

/// A Teleaudio API call as the adapter makes it: `body` signed with `secret`.
async fn call(sb: &TestSandbox, path: &str, body: Value, secret: &str) -> (u16, Value) {
    let body = body.to_string();
    let r = sb
        .http
        .post(format!("{}/teleaudio{path}", sb.url))
        .header("content-type", "application/json")
        .header(
            "x-teleaudio-signature",
            hmac_sha256_hex(secret.as_bytes(), body.as_bytes()),
        )
        .body(body)
        .send()
        .await
        .expect("sandbox reachable");
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

fn all_signed(receiver: &JsonReceiver) {
    for (headers, body) in receiver.requests() {
        assert_eq!(
            headers["x-teleaudio-signature"],
            hmac_sha256_hex(SECRET.as_bytes(), body.as_bytes()).as_str()
        );
    }
}

#[tokio::test]
async fn a_confirmed_subscription_is_renewed_until_cancelled() {
    let (sb, receiver) = sandbox().await;
    let start = json!({"reference": "order-1", "service_id": "511", "msisdn": "48519532621"});
    let (status, _) = call(&sb, "/subscriptions", start.clone(), "forged").await;
    assert_eq!(status, 401);
    let (status, v) = call(&sb, "/subscriptions", start.clone(), SECRET).await;
    assert_eq!(status, 200, "{v}");
    let id = v["subscription_id"].as_str().unwrap().to_string();
    let confirm_url = v["confirm_url"].as_str().unwrap().replace(
        "http://127.0.0.1:9090",
        &sb.url, // the default public_url; the test sandbox listens elsewhere
    );
    let (_, again) = call(&sb, "/subscriptions", start, SECRET).await;
    assert_eq!(again["subscription_id"], id.as_str(), "same reference");
    let page = sb.http.get(&confirm_url).send().await.unwrap();
    assert_eq!(page.status(), 200);

    let v = sb.complete(&confirm_url, "success").await;
    assert_eq!(v["provider"], "teleaudio");
    assert_eq!(
        v["notifications"],
        json!(["SUBSCRIPTION_STARTED", "CHARGE_SUCCESS"])
    );
    let (status, v) = sb
        .post(
            "/_sandbox/complete",
            json!({"redirect_url": confirm_url, "outcome": "success"}),
        )
        .await;
    assert_eq!(
        (status, v["error"]["field"].as_str()),
        (400, Some("redirect_url"))
    );

    assert_eq!(sb.advance(2 * 3600).await["charges"], 2);
    let bodies = receiver.bodies();
    assert_eq!(bodies.len(), 4);
    assert!(bodies[1..].iter().all(|b| b["type"] == "CHARGE_SUCCESS"
        && b["amount"] == 100
        && b["reference"] == "order-1"
        && b["provider_id"] == id.as_str()));
    assert_eq!(
        bodies[3]["timestamp"].as_i64().unwrap() - bodies[2]["timestamp"].as_i64().unwrap(),
        3600
    );
    let state = sb.get_json("/_sandbox/state").await;
    assert_eq!(state["teleaudio"]["subscriptions"][0]["status"], "active");
    assert_eq!(state["teleaudio"]["subscriptions"][0]["charges"], 3);

    let cancel = format!("/subscriptions/{id}/cancel");
    let (status, v) = call(&sb, &cancel, json!({"reference": "order-1"}), SECRET).await;
    assert_eq!((status, v["status"].as_str()), (200, Some("OK")));
    assert_eq!(receiver.kinds().last().unwrap(), "SUBSCRIPTION_CANCELLED");
    let (_, v) = call(&sb, &cancel, json!({"reference": "order-1"}), SECRET).await;
    assert_eq!(v["code"], "404");
    assert_eq!(sb.advance(10 * 3600).await["charges"], 0);
    assert_eq!(receiver.bodies().len(), 5);
    all_signed(&receiver);
}

#[tokio::test]
async fn refused_subscriptions_and_failing_renewals() {
    let (sb, receiver) = sandbox().await;
    let mut urls = Vec::new();
    for reference in ["order-2", "order-3"] {
        let (_, v) = call(
            &sb,
            "/subscriptions",
            json!({"reference": reference, "service_id": "511", "msisdn": "48519532621"}),
            SECRET,
        )
        .await;
        urls.push(format!(
            "{}/teleaudio/confirm/{}",
            sb.url,
            v["subscription_id"].as_str().unwrap()
        ));
    }
    let v = sb.complete(&urls[0], "failure").await;
    assert_eq!(v["notifications"], json!(["CHARGE_FAILED"]));
    let (status, v) = sb
        .post(
            "/_sandbox/complete",
            json!({"redirect_url": urls[1], "outcome": "success", "charges": "fail"}),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(sb.advance(2 * 3600).await["charges"], 2);
    let bodies = receiver.bodies();
    assert_eq!(bodies[3]["type"], "CHARGE_FAILED");
    assert_eq!(bodies[3]["reason"], "insufficient funds");
    assert_eq!(bodies[3]["charge_id"], "");
    let (status, v) = sb
        .post(
            "/_sandbox/complete",
            json!({"redirect_url": format!("{}/teleaudio/confirm/TAS0", sb.url), "outcome": "success"}),
        )
        .await;
    assert_eq!(
        (status, v["error"]["field"].as_str()),
        (400, Some("redirect_url"))
    );
}

#[tokio::test]
async fn webbilling_texts_a_code_and_allows_three_tries() {
    let (sb, receiver) = sandbox().await;
    let start = json!({"reference": "wb-1", "msisdn": "48519532621", "amount": 500});
    let (status, v) = call(&sb, "/webbilling", start.clone(), SECRET).await;
    assert_eq!(status, 200, "{v}");
    let id = v["transaction_id"].as_str().unwrap().to_string();
    let (_, again) = call(&sb, "/webbilling", start, SECRET).await;
    assert_eq!(again["transaction_id"], id.as_str());
    let sms = sb.get_json("/_sandbox/sms?phone=48519532621").await;
    assert_eq!(sms["messages"].as_array().unwrap().len(), 1, "one SMS");
    assert_eq!(sms["messages"][0]["from"], "Teleaudio");

    let confirm = format!("/webbilling/{id}/confirm");
    for expected in ["BADTOKEN", "BADTOKEN", "TRYEXCEEDED"] {
        let (_, v) = call(&sb, &confirm, json!({"code": "x"}), SECRET).await;
        assert_eq!(v["code"], expected);
    }
    assert_eq!(receiver.kinds(), ["PAYMENT_FAILED"]);
    let (_, v) = call(&sb, &confirm, json!({"code": "x"}), SECRET).await;
    assert_eq!(v["code"], "TRYEXCEEDED");

    let (_, v) = call(
        &sb,
        "/webbilling",
        json!({"reference": "wb-2", "msisdn": "48519532622", "amount": 500}),
        SECRET,
    )
    .await;
    let id = v["transaction_id"].as_str().unwrap().to_string();
    let sms = sb.get_json("/_sandbox/sms?phone=48519532622").await;
    let text = sms["messages"][0]["text"].as_str().unwrap();
    assert!(text.contains("5.00 PLN"), "{text}");
    let code = &text["Your payment code: ".len()..][..6];
    let confirm = format!("/webbilling/{id}/confirm");
    let (_, v) = call(&sb, &confirm, json!({"code": code}), SECRET).await;
    assert_eq!(v["status"], "OK");
    assert_eq!(receiver.kinds(), ["PAYMENT_FAILED", "PAYMENT_SUCCESS"]);
    let (_, v) = call(&sb, &confirm, json!({"code": code}), SECRET).await;
    assert_eq!(v["code"], "BADTRANSACTION", "already paid");
    let (_, v) = call(
        &sb,
        "/webbilling/TAW0/confirm",
        json!({"code": code}),
        SECRET,
    )
    .await;
    assert_eq!(v["code"], "BADTRANSACTION");
    let (status, _) = call(&sb, &confirm, json!({"token": code}), SECRET).await;
    assert_eq!(status, 400);
    all_signed(&receiver);
}

#[tokio::test]
async fn faults_break_teleaudio_alone() {
    let (sb, _receiver) = sandbox().await;
    let start = json!({"reference": "wb-3", "msisdn": "48519532623", "amount": 500});
    let set = |mode: &'static str| {
        sb.post(
            "/_sandbox/faults",
            json!({"provider": "teleaudio", "mode": mode}),
        )
    };
    set("error").await;
    let (status, v) = call(&sb, "/webbilling", start.clone(), SECRET).await;
    assert_eq!((status, v["code"].as_str()), (500, Some("500")));
    // Mobiltek is not affected.
    sb.complete(
        &link(&sb, "1000000000000401", 10, false, "30576"),
        "success",
    )
    .await;

    set("timeout").await;
    let started = Instant::now();
    let (status, _) = call(&sb, "/webbilling", start.clone(), SECRET).await;
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(status, 504);
    let sms = sb.get_json("/_sandbox/sms?phone=48519532623").await;
    assert_eq!(sms["messages"].as_array().unwrap().len(), 0, "nothing done");

    set("none").await;
    let (status, _) = call(&sb, "/webbilling", start, SECRET).await;
    assert_eq!(status, 200);
}
