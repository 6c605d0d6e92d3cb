//! Faults make the simulated Mobiltek misbehave on request (DESIGN 7), and its callbacks behave
//! like a real provider's: resent on 5xx, never after a 4xx.

use crate::helpers::*;
use serde_json::json;
use std::time::{Duration, Instant};

async fn active_subscription(sb: &TestSandbox, tid: &str) {
    sb.complete(&link(sb, tid, 10, true, "30576"), "success")
        .await;
}

#[tokio::test]
async fn duplicate_callbacks_sends_every_notification_twice() {
    let sb = spawn_sandbox(&[]).await;
    sb.fault("duplicate_callbacks").await;
    let v = sb
        .complete(
            &link(&sb, "1000000000000101", 10, false, "30576"),
            "success",
        )
        .await;
    assert_eq!(v["notifications"], json!(["PAYMENT"]));
    let got = sb.adapter.notifications();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0], got[1], "the same notification (same id) twice");

    sb.fault("none").await;
    sb.complete(
        &link(&sb, "1000000000000102", 10, false, "30576"),
        "success",
    )
    .await;
    assert_eq!(sb.adapter.notifications().len(), 3);
}

#[tokio::test]
async fn error_and_timeout_break_the_unsubscribe_api() {
    let sb = spawn_sandbox(&[]).await;
    let tid = "1000000000000103";
    active_subscription(&sb, tid).await;

    sb.fault("error").await;
    let (status, _) = sb.unsubscribe("30576", tid, "48501123123").await;
    assert_eq!(status, 500);

    // `timeout` hangs (fault_timeout_secs = 1 in tests) and unsubscribes nobody.
    sb.fault("timeout").await;
    let started = Instant::now();
    let (status, _) = sb.unsubscribe("30576", tid, "48501123123").await;
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(status, 504);
    assert_eq!(sb.adapter.kinds(), ["REGISTRATION", "CHARGE"]);

    sb.fault("none").await;
    let (status, answer) = sb.unsubscribe("30576", tid, "48501123123").await;
    assert_eq!(
        (status, answer.as_str()),
        (200, "OK\n2302:Subscriber unregistered")
    );
}

#[tokio::test]
async fn unknown_faults_are_refused_naming_the_field() {
    let sb = spawn_sandbox(&[]).await;
    for (body, field) in [
        (json!({"provider": "paypal", "mode": "error"}), "provider"),
        (json!({"provider": "mobiltek", "mode": "explode"}), "mode"),
    ] {
        let (status, v) = sb.post("/_sandbox/faults", body).await;
        assert_eq!((status, v["error"]["field"].as_str()), (400, Some(field)));
    }
}

#[tokio::test]
async fn callbacks_are_resent_on_5xx_but_not_after_4xx() {
    let sb = spawn_sandbox(&[]).await;
    sb.adapter.answer_next(&[500, 503]);
    let v = sb
        .complete(
            &link(&sb, "1000000000000104", 10, false, "30576"),
            "success",
        )
        .await;
    assert_eq!(v["deliveries"][0]["attempts"], 3);
    assert_eq!(v["deliveries"][0]["status"], 200);
    let got = sb.adapter.notifications();
    assert_eq!(got.len(), 3);
    assert!(got.iter().all(|n| n == &got[0]), "resent unchanged");

    sb.adapter.answer_next(&[401]);
    let v = sb
        .complete(
            &link(&sb, "1000000000000105", 10, false, "30576"),
            "success",
        )
        .await;
    assert_eq!(v["deliveries"][0]["attempts"], 1);
    assert_eq!(v["deliveries"][0]["status"], 401);
    assert_eq!(sb.adapter.notifications().len(), 4);
}

#[tokio::test]
async fn unsubscribe_checks_its_hash_and_the_subscriber() {
    let sb = spawn_sandbox(&[]).await;
    let tid = "1000000000000106";
    active_subscription(&sb, tid).await;
    // Someone else's number, or another service: not this subscriber.
    let (_, answer) = sb.unsubscribe("30576", tid, "48999999999").await;
    assert_eq!(answer, "ERROR\n4321:Subscriber not found");
    let (_, answer) = sb.unsubscribe("1", tid, "48501123123").await;
    assert_eq!(answer, "ERROR\n4321:Subscriber not found");
    // A forged hash.
    let r = sb
        .http
        .post(format!("{}/mobiltek/unsubscribe", sb.url))
        .form(&[
            ("service_id", "30576"),
            ("transaction_id", tid),
            ("msisdn", "48501123123"),
            ("hash", &"0".repeat(128)),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(sb.adapter.kinds(), ["REGISTRATION", "CHARGE"]);
}
