//! The simulated mobilPay's SOAP recurrence service (seed 003) against an off-the-shelf client:
//! Python zeep loads the sandbox's WSDL and calls logIn (a wrong password is a fault carrying
//! 0x1000), then changes a subscription paid through `/_sandbox/complete` and gets the seed's
//! codes back (0x4004 for an unknown order, 0x4005 for another seller account, 0x5000 OK, 0x3000
//! once cancelled). Needs `python3` with `zeep` (scripts/test-deps.sh installs it); without them
//! this test fails, it does not skip.

use crate::netopia_support::*;
use serde_json::json;
use std::collections::HashMap;
use std::process::Command;

const ZEEP_SCRIPT: &str = r#"
import sys
from decimal import Decimal

import zeep

url, order, account, date = sys.argv[1:5]
service = zeep.Client(url + "?wsdl").service

def show(key, *values):
    print(key + "=" + "|".join(str(v) for v in values))

def result(key, r):
    details = r.details.item if r.details is not None else []
    show(key, r.action, r.code, r.message, *[d.code + ":" + d.message for d in details])

try:
    service.logIn(request={"username": "sandbox", "password": "wrong"})
    show("bad_login", "no fault")
except zeep.exceptions.Fault as fault:
    code = fault.detail.find("code") if fault.detail is not None else None
    show("bad_login", fault.code, fault.message, code.text if code is not None else "")

session = service.logIn(request={"username": "sandbox", "password": "sandbox"})
show("session", len(session))
result("unknown_order", service.cancelRecurrence(request={
    "sessionId": session, "sacId": account, "orderId": "no-such-order"}))
result("forged_session", service.cancelRecurrence(request={
    "sessionId": "forged", "sacId": account, "orderId": order}))
result("other_seller", service.cancelRecurrence(request={
    "sessionId": session, "sacId": "OTHE-RSEL-LERA-CCOU-NT00", "orderId": order}))
result("price", service.modifyRecurrencePrice(request={
    "sessionId": session, "sacId": account, "orderId": order, "price": Decimal("9.90")}))
result("move", service.moveRecurrence(request={
    "sessionId": session, "sacId": account, "orderId": order, "recurrenceDate": date}))
result("cancel", service.cancelRecurrence(request={
    "sessionId": session, "sacId": account, "orderId": order}))
result("cancel_again", service.cancelRecurrence(request={
    "sessionId": session, "sacId": account, "orderId": order}))
"#;

fn zeep(args: &[&str]) -> String {
    let output = Command::new("python3")
        .arg("-c")
        .arg(ZEEP_SCRIPT)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("python3 could not be started ({e}); install the test peers with scripts/test-deps.sh")
        });
    assert!(
        output.status.success(),
        "python3 with zeep failed ({}):\n{}\n{}\n(install the test peers with scripts/test-deps.sh)",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    String::from_utf8(output.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn zeep_logs_in_and_changes_a_recurrence_with_the_seeds_codes() {
    let (sb, merchant) = netopia_sandbox().await;
    let k = keys();
    let card_url = format!("{}/netopia/card", sb.url);
    let order = merchant.order("sub-soap", Some((0, 30)));
    let redirect = merchant.publish(&order, &k.netopia.certificate_pem, &card_url);
    sb.complete(&redirect, "success").await;
    // mobilPay's clock is Romanian local time; 40 days on is after any DST change too.
    let now = chrono::Utc::now() + chrono::Duration::days(40);
    let date = provider_netopia::provider::romanian(now)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string();

    let url = format!("{}/netopia/api/payment", sb.url);
    let args = [url.as_str(), "sub-soap", ACCOUNT, date.as_str()];
    let output = tokio::task::spawn_blocking({
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        move || zeep(&args.iter().map(String::as_str).collect::<Vec<_>>())
    })
    .await
    .unwrap();
    let out: HashMap<&str, &str> = output.lines().filter_map(|l| l.split_once('=')).collect();

    assert_eq!(
        out["bad_login"], "soap:Client|invalid user|4096",
        "{output}"
    );
    assert_eq!(out["session"], "32", "{output}");
    assert!(
        out["unknown_order"].starts_with("cancelRecurrence|16388|purchase not found|16388:"),
        "{output}"
    );
    assert!(
        out["forged_session"].starts_with("cancelRecurrence|4096|invalid user"),
        "{output}"
    );
    assert!(
        out["other_seller"].starts_with("cancelRecurrence|16389|invalid seller account"),
        "{output}"
    );
    assert_eq!(out["price"], "modifyRecurrencePrice|20480|OK", "{output}");
    assert_eq!(out["move"], "moveRecurrence|20480|OK", "{output}");
    assert_eq!(out["cancel"], "cancelRecurrence|20480|OK", "{output}");
    assert!(
        out["cancel_again"].starts_with("cancelRecurrence|12288|invalid action"),
        "{output}"
    );

    // What the calls did: the new price and date were kept, then the recurrence cancelled.
    let state = sb.get_json("/_sandbox/state").await;
    let o = &state["netopia"]["orders"][0];
    assert_eq!(o["status"], "cancelled", "{o}");
    assert_eq!(o["recurrence"]["price_minor"], 990);
    assert_eq!(sb.advance(365 * 86_400).await["charges"], 0);
    assert_eq!(merchant.ipns().len(), 1);
}

#[tokio::test]
async fn the_service_describes_itself_and_refuses_what_does_not_parse() {
    let (sb, _) = netopia_sandbox().await;
    let wsdl = sb
        .http
        .get(format!("{}/netopia/api/payment?wsdl", sb.url))
        .send()
        .await
        .unwrap();
    assert_eq!(wsdl.status(), 200);
    let wsdl = wsdl.text().await.unwrap();
    assert!(
        wsdl.contains(&format!("location=\"{}/netopia/api/payment\"", sb.url)),
        "{wsdl}"
    );

    let post = |body: &'static str| {
        sb.http
            .post(format!("{}/netopia/api/payment", sb.url))
            .header("content-type", "text/xml; charset=utf-8")
            .body(body)
            .send()
    };
    let bad = r#"<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><moveRecurrence><request><sessionId>s</sessionId><sacId>a</sacId><orderId>o</orderId><recurrenceDate>18.09.2026</recurrenceDate></request></moveRecurrence></soap:Body></soap:Envelope>"#;
    let r = post(bad).await.unwrap();
    assert_eq!(r.status(), 500);
    let body = r.text().await.unwrap();
    assert!(body.contains("<code>8192</code>"), "{body}");
    assert!(body.contains("recurrenceDate"), "{body}");

    // Under the `error` fault the service fails without a SOAP answer (the adapter: unavailable).
    let (status, _) = sb
        .post(
            "/_sandbox/faults",
            json!({"provider": "netopia", "mode": "error"}),
        )
        .await;
    assert_eq!(status, 200);
    let r = post(bad).await.unwrap();
    assert_eq!(r.status(), 500);
    assert!(!r.text().await.unwrap().contains("Fault"));
    // Under `timeout` it hangs (`fault_timeout_secs`, 1 s here) before a bare 504.
    let (status, _) = sb
        .post(
            "/_sandbox/faults",
            json!({"provider": "netopia", "mode": "timeout"}),
        )
        .await;
    assert_eq!(status, 200);
    let asked = std::time::Instant::now();
    let r = post(bad).await.unwrap();
    assert_eq!(r.status(), 504);
    assert!(asked.elapsed() >= std::time::Duration::from_secs(1));
}
