//! A signed request (`X-PaySys-Signature`) is accepted once inside its window: the same request
//! again is refused like a bad signature, naming the header. A batch is one request, verified
//! once. Timestamps at the ends of i64 are refused, never overflowed.

use crate::helpers::*;
use rpc_edge::auth::sign_body;
use serde_json::{json, Value};

fn refused(answer: &Value) {
    assert_eq!(answer["error"]["code"], -32001, "{answer}");
    assert!(
        answer["error"]["data"]
            .as_object()
            .is_some_and(|d| d.contains_key("X-PaySys-Signature")),
        "names the header: {answer}"
    );
}

/// `sign_body` (what merchants are told to compute, and what every signed test sends) against
/// an answer from outside Rust: `printf '%s' '1700000000.{"jsonrpc":"2.0","id":1,"method":
/// "get_channels_list","params":{"merchant_id":"m-1"}}' | openssl dgst -sha256 -hmac m-1-api-secret`
/// (the body on one line, as below) prints the `v1`.
#[test]
fn sign_body_is_the_openssl_one() {
    let body =
        r#"{"jsonrpc":"2.0","id":1,"method":"get_channels_list","params":{"merchant_id":"m-1"}}"#;
    assert_eq!(
        sign_body(SECRET, 1700000000, body.as_bytes()),
        "t=1700000000,v1=05643f05532635fd26ec8d47a1ac7e56c225342375d9c91a013f78553093d4e7"
    );
}

#[tokio::test]
async fn a_signed_request_is_accepted_once() {
    let edge = spawn_edge(&[]).await;
    let body = call(1, "get_channels_list", json!({ "merchant_id": MERCHANT })).to_string();
    let signature = sign_body(SECRET, now(), body.as_bytes());

    let (status, first) = edge.post(&body, Some(&signature)).await;
    assert_eq!(status, 200);
    assert_eq!(first["result"]["data"][0]["id"], CHANNEL, "{first}");

    let (status, again) = edge.post(&body, Some(&signature)).await;
    assert_eq!(status, 200);
    refused(&again);

    // Signed anew (another timestamp), the same body is a new request.
    let resigned = sign_body(SECRET, now() - 1, body.as_bytes());
    let (_, answer) = edge.post(&body, Some(&resigned)).await;
    assert_eq!(answer["result"]["status"], "1", "{answer}");

    // Another merchant's secret, a tampered body: refused the same way.
    let (_, answer) = edge
        .post(
            &body,
            Some(&sign_body(OTHER_SECRET, now(), body.as_bytes())),
        )
        .await;
    refused(&answer);
    let tampered = body.replace(MERCHANT, OTHER);
    let (_, answer) = edge
        .post(&tampered, Some(&sign_body(SECRET, now(), body.as_bytes())))
        .await;
    refused(&answer);
    edge.shutdown.trigger();
}

#[tokio::test]
async fn a_batch_signed_once_runs_every_call_and_is_verified_once() {
    let edge = spawn_edge(&[]).await;
    let calls: Vec<Value> = (0..100)
        .map(|i| {
            if i % 2 == 0 {
                call(i, "get_channels_list", json!({ "merchant_id": MERCHANT }))
            } else {
                call(
                    i,
                    "get_transaction_status",
                    json!({ "merchant_id": MERCHANT, "trans_ext_id": "none-such" }),
                )
            }
        })
        .collect();
    let body = Value::Array(calls).to_string();

    let signature = sign_body(SECRET, now(), body.as_bytes());
    let (answers, lookups) = edge.handle(&body, Some(signature.clone())).await;
    let answers = answers.as_array().expect("batch answer").clone();
    assert_eq!(answers.len(), 100);
    for (i, a) in answers.iter().enumerate() {
        if i % 2 == 0 {
            assert_eq!(a["result"]["status"], "1", "{a}");
        } else {
            assert_eq!(
                a["error"]["code"], -32602,
                "authenticated, then not found: {a}"
            );
        }
    }
    assert_eq!(lookups, 1, "one verification for the whole batch");
    let remembered: i64 = sqlx::query_scalar("SELECT count(*) FROM edge.accepted_signatures")
        .fetch_one(&edge.pool)
        .await
        .unwrap();
    assert_eq!(remembered, 1);

    // Replayed, every call is refused, still with one lookup.
    let (answers, lookups) = edge.handle(&body, Some(signature)).await;
    for a in answers.as_array().expect("batch answer") {
        refused(a);
    }
    assert_eq!(lookups, 1);

    // A wrong signature over a hundred calls: one lookup.
    let wrong = sign_body("not-the-secret", now(), body.as_bytes());
    let (answers, lookups) = edge.handle(&body, Some(wrong)).await;
    assert!(answers
        .as_array()
        .unwrap()
        .iter()
        .all(|a| a["error"]["code"] == -32001));
    assert_eq!(lookups, 1);
    edge.shutdown.trigger();
}

#[tokio::test]
async fn absurd_timestamps_are_refused_without_a_lookup_or_a_panic() {
    let edge = spawn_edge(&[]).await;
    let body = call(1, "get_channels_list", json!({ "merchant_id": MERCHANT })).to_string();
    let mac_for = |t: &str| {
        paysys_platform::signing::hmac_sha256_hex(
            SECRET.as_bytes(),
            format!("{t}.{body}").as_bytes(),
        )
    };
    let n = now();
    for t in [
        i64::MAX.to_string(),
        i64::MIN.to_string(),
        "-1".into(),
        "0".into(),
        "99999999999999999999999999".into(),
        (n - 400).to_string(),
        (n + 400).to_string(),
        // (±400 s, not ±301: a loaded machine can take seconds to get here, and n + 301 would
        // drift into the 300 s window.)
    ] {
        let header = format!("t={t},v1={}", mac_for(&t));
        let (answer, lookups) = edge.handle(&body, Some(header.clone())).await;
        refused(&answer);
        assert_eq!(lookups, 0, "refused before any lookup: {header}");
        let (status, answer) = edge.post(&body, Some(&header)).await;
        assert_eq!(status, 200);
        refused(&answer);
    }
    // Inside the window it is accepted.
    let t = (n - 200).to_string();
    let (_, answer) = edge
        .post(&body, Some(&format!("t={t},v1={}", mac_for(&t))))
        .await;
    assert_eq!(answer["result"]["status"], "1", "{answer}");
    edge.shutdown.trigger();
}

#[tokio::test]
async fn remembered_signatures_are_pruned_once_long_expired() {
    let edge = spawn_edge(&[]).await;
    sqlx::query(
        "INSERT INTO edge.accepted_signatures (signature_hash, expires_at)
         VALUES ('old', now() - interval '1 day'), ('recent', now() - interval '1 second')",
    )
    .execute(&edge.pool)
    .await
    .unwrap();
    let body = call(1, "get_channels_list", json!({ "merchant_id": MERCHANT })).to_string();
    let (_, answer) = edge
        .post(&body, Some(&sign_body(SECRET, now(), body.as_bytes())))
        .await;
    assert_eq!(answer["result"]["status"], "1", "{answer}");
    let left: Vec<String> = sqlx::query_scalar(
        "SELECT signature_hash FROM edge.accepted_signatures WHERE signature_hash IN ('old', 'recent')",
    )
    .fetch_all(&edge.pool)
    .await
    .unwrap();
    // Kept a window past its expiry (edges' clocks may differ), then gone.
    assert_eq!(left, vec!["recent".to_string()]);
    edge.shutdown.trigger();
}
