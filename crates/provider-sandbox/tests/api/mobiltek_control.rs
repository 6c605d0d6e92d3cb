//! The control endpoints drive the simulated Mobiltek: a completed page becomes signed
//! notifications to the adapter, the clock brings each period's charge, unsubscribing stops them.

use crate::helpers::*;
use serde_json::json;

#[tokio::test]
async fn a_completed_one_time_page_notifies_a_signed_payment() {
    let sb = spawn_sandbox(&[]).await;
    let url = link(&sb, "1000000000000001", 10, false, "30576");
    let v = sb.complete(&url, "success").await;
    assert_eq!(v["ok"], true);
    assert_eq!(v["notifications"], json!(["PAYMENT"]));
    // Answered only after the adapter answered: the notification is already there.
    let got = sb.adapter.notifications();
    assert_eq!(got.len(), 1);
    let n = &got[0];
    assert_eq!(n.transaction_id, "1000000000000001");
    assert_eq!(
        (n.service_id.as_str(), n.msisdn.as_str()),
        ("30576", "48501123123")
    );
    assert_eq!(n.amount.map(|m| m.minor), Some(10));
    assert!(!n.charge_id.is_empty());
    assert!(!n.operator_id.is_empty());

    // Finished pages cannot be finished again.
    let (status, v) = sb
        .post(
            "/_sandbox/complete",
            json!({"redirect_url": url, "outcome": "failure"}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(v["error"]["field"], "redirect_url");

    // An abandoned page: PAYMENT_FAILED, with a charge id and a reason.
    let other = link(&sb, "1000000000000002", 10, false, "30576");
    assert_eq!(
        sb.complete(&other, "failure").await["notifications"],
        json!(["PAYMENT_FAILED"])
    );
    let failed = &sb.adapter.notifications()[1];
    assert!(!failed.charge_id.is_empty());
    assert_ne!(failed.charge_id, n.charge_id);
    assert!(!failed.reason.is_empty());
}

#[tokio::test]
async fn a_subscription_is_charged_once_per_period_until_unsubscribed() {
    // Service 40001's terms, as Mobiltek would have them configured: hourly, 0.25 PLN.
    let sb = spawn_sandbox(&[
        ("sandbox.mobiltek.services.40001.period_secs", json!(3600)),
        ("sandbox.mobiltek.services.40001.amount_minor", json!(25)),
    ])
    .await;
    let tid = "1000000000000003";
    let url = link(&sb, tid, 10, true, "40001");
    let v = sb.complete(&url, "success").await;
    assert_eq!(v["notifications"], json!(["REGISTRATION", "CHARGE"]));
    let first = &sb.adapter.notifications()[1];
    assert_eq!(
        first.amount.map(|m| m.minor),
        Some(25),
        "the service's amount, not the link's"
    );

    // Half a period: nothing. Three periods: three charges, one per period, in order.
    assert_eq!(sb.advance(1800).await["charges"], 0);
    let v = sb.advance(3 * 3600).await;
    assert_eq!(v["charges"], 3);
    assert!(v["now"].is_string());
    let all = sb.adapter.notifications();
    assert_eq!(
        sb.adapter.kinds(),
        ["REGISTRATION", "CHARGE", "CHARGE", "CHARGE", "CHARGE"]
    );
    let stamps: Vec<i64> = all[1..].iter().map(|n| n.timestamp).collect();
    for pair in stamps.windows(2) {
        assert_eq!(
            pair[1] - pair[0],
            3600,
            "charges one period apart: {stamps:?}"
        );
    }
    let mut ids: Vec<&str> = all[1..].iter().map(|n| n.charge_id.as_str()).collect();
    ids.dedup();
    assert_eq!(ids.len(), 4, "every charge has its own id");

    // Unsubscribe: seed 000's success answer, the UNREGISTRATION already delivered.
    let (status, answer) = sb.unsubscribe("40001", tid, "48501123123").await;
    assert_eq!(
        (status, answer.as_str()),
        (200, "OK\n2302:Subscriber unregistered")
    );
    assert_eq!(sb.adapter.kinds().last(), Some(&"UNREGISTRATION"));
    // No more charges, ever; a second unsubscribe finds no subscriber (seed 000's error).
    assert_eq!(sb.advance(10 * 3600).await["charges"], 0);
    let (_, again) = sb.unsubscribe("40001", tid, "48501123123").await;
    assert_eq!(again, "ERROR\n4321:Subscriber not found");
    assert_eq!(sb.adapter.notifications().len(), 6);
}

#[tokio::test]
async fn several_subscriptions_are_charged_in_due_order() {
    let sb = spawn_sandbox(&[
        ("sandbox.mobiltek.services.1.period_secs", json!(100)),
        ("sandbox.mobiltek.services.1.amount_minor", json!(1)),
        ("sandbox.mobiltek.services.2.period_secs", json!(150)),
        ("sandbox.mobiltek.services.2.amount_minor", json!(2)),
    ])
    .await;
    sb.complete(&link(&sb, "1000000000000010", 5, true, "1"), "success")
        .await;
    sb.complete(&link(&sb, "1000000000000020", 5, true, "2"), "success")
        .await;
    let before = sb.adapter.notifications().len();
    // Due: A at 100, B at 150, A at 200, A at 300, B at 300 (same second: either order).
    assert_eq!(sb.advance(300).await["charges"], 5);
    let charged: Vec<i64> = sb.adapter.notifications()[before..]
        .iter()
        .map(|n| n.amount.unwrap().minor)
        .collect();
    assert_eq!(&charged[..3], &[1, 2, 1]);
}

/// `callback_concurrency`: a clock advance sends different subscriptions' charges at once (the
/// fake adapter sees several in flight, never more than the setting), each subscription's still
/// in order, and none lost or sent twice; the default sends one at a time.
#[tokio::test]
async fn callback_concurrency_overlaps_subscriptions_and_keeps_each_in_order() {
    for (width, expect_overlap) in [(6usize, true), (1, false)] {
        let sb = spawn_sandbox(&[
            ("sandbox.mobiltek.services.1.period_secs", json!(100)),
            ("sandbox.mobiltek.services.1.amount_minor", json!(1)),
            ("sandbox.callback_concurrency", json!(width)),
        ])
        .await;
        let subscriptions: Vec<String> = (0..12).map(|i| format!("10000000000001{i:02}")).collect();
        for tid in &subscriptions {
            sb.complete(&link(&sb, tid, 5, true, "1"), "success").await;
        }
        let before = sb.adapter.notifications().len();
        sb.adapter.slow_down(30);
        assert_eq!(sb.advance(300).await["charges"], 36, "width {width}");
        let charges = &sb.adapter.notifications()[before..];
        assert_eq!(
            charges.len(),
            36,
            "every charge delivered once (width {width})"
        );
        for tid in &subscriptions {
            let stamps: Vec<i64> = charges
                .iter()
                .filter(|n| &n.transaction_id == tid)
                .map(|n| n.timestamp)
                .collect();
            assert_eq!(stamps.len(), 3, "{tid}: three periods, three charges");
            assert!(
                stamps.windows(2).all(|w| w[1] - w[0] == 100),
                "{tid}: charges in order, one period apart: {stamps:?}"
            );
        }
        let max = sb.adapter.max_in_flight();
        assert!(max <= width, "at most {width} at once, saw {max}");
        assert_eq!(max > 1, expect_overlap, "width {width}: {max} at once");
    }
}

#[tokio::test]
async fn failed_registrations_and_failing_recurring_charges() {
    let sb = spawn_sandbox(&[]).await;
    let url = link(&sb, "1000000000000004", 10, true, "30576");
    assert_eq!(
        sb.complete(&url, "failure").await["notifications"],
        json!(["CHARGE_FAILED"])
    );
    assert!(sb.adapter.notifications()[0]
        .reason
        .contains("registration"));
    assert_eq!(sb.advance(90 * 86_400).await["charges"], 0);

    // Extension: "charges": "fail" makes every later charge fail (CHARGE_FAILED each period).
    let url = link(&sb, "1000000000000005", 10, true, "777");
    let (status, v) = sb
        .post(
            "/_sandbox/complete",
            json!({"redirect_url": url, "outcome": "success", "charges": "fail"}),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["notifications"], json!(["REGISTRATION", "CHARGE"]));
    assert_eq!(sb.advance(2 * 86_400).await["charges"], 2);
    assert_eq!(&sb.adapter.kinds()[3..], ["CHARGE_FAILED", "CHARGE_FAILED"]);
    assert_eq!(sb.adapter.notifications()[3].reason, "insufficient funds");
}

#[tokio::test]
async fn control_requests_are_validated_with_named_fields() {
    let sb = spawn_sandbox(&[]).await;
    let url = link(&sb, "1000000000000006", 10, false, "30576");
    let cases = [
        (json!({"redirect_url": url, "outcome": "maybe"}), "outcome"),
        (
            json!({"redirect_url": url, "outcome": "success", "charges": "sometimes"}),
            "charges",
        ),
        (
            json!({"redirect_url": "not a url", "outcome": "success"}),
            "redirect_url",
        ),
        (
            json!({"redirect_url": "http://example.com/pay", "outcome": "success"}),
            "redirect_url",
        ),
        (
            json!({"redirect_url": url.replace("price=0.1", "price=0.01"), "outcome": "success"}),
            "redirect_url",
        ),
        (json!({"outcome": "success"}), "body"),
    ];
    for (body, field) in cases {
        let (status, v) = sb.post("/_sandbox/complete", body.clone()).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(v["ok"], false);
        assert_eq!(v["error"]["field"], field, "{body}: {v}");
    }
    let (status, v) = sb
        .post("/_sandbox/clock/advance", json!({"seconds": -1}))
        .await;
    assert_eq!(
        (status, v["error"]["field"].as_str()),
        (400, Some("seconds"))
    );
    assert!(sb.adapter.notifications().is_empty());
}

#[tokio::test]
async fn the_state_dump_and_health_endpoints() {
    let sb = spawn_sandbox(&[]).await;
    sb.complete(&link(&sb, "1000000000000007", 10, true, "30576"), "success")
        .await;
    let state = sb.get_json("/_sandbox/state").await;
    let t = &state["mobiltek"]["transactions"][0];
    assert_eq!(t["transaction_id"], "1000000000000007");
    assert_eq!(t["status"], "active");
    assert_eq!(t["charges"], 1);
    assert!(t.get("pin").is_none(), "PINs are not dumped");
    assert_eq!(state["deliveries"][0]["kind"], "REGISTRATION");
    assert_eq!(state["deliveries"][0]["status"], 200);
    for path in ["/healthz", "/readyz", "/metrics"] {
        let r = sb
            .http
            .get(format!("{}{path}", sb.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
}
