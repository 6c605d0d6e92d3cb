//! The simulated MoCoPay's API as an adapter meets it (docs/providers/mocopay.md): the published
//! signature vector is accepted on both paths and as a parameter; a wrong or missing signature
//! is refused with INVALID_SIGNATURE before anything else and creates nothing; an unknown pid,
//! a bad parameter, an unknown session; the `error` and `timeout` faults.

use crate::helpers::*;
use crate::mocopay_support::*;
use provider_mocopay::{InitPaymentResponse, VerifyPayment};
use serde_json::{json, Value};

/// The published vector's request (PROVIDERS.md): pid 12000, mcc 228, mnc 01, userId 123456789.
const VECTOR_QUERY: &str = "mcc=228&mnc=01&pid=12000&userId=123456789";
const VECTOR_HEADER: &str = "ApiKey app1:WETDyNQLx0+8BJ16vDgiVg==";
/// The same credential as the `signature` parameter (`:`, `+`, `=` percent-encoded).
const VECTOR_PARAM: &str = "app1%3AWETDyNQLx0%2B8BJ16vDgiVg%3D%3D";

async fn get(sb: &TestSandbox, path_and_query: &str, signature: Option<&str>) -> (u16, Value) {
    let mut r = sb.http.get(format!("{}{path_and_query}", sb.url));
    if let Some(s) = signature {
        r = r.header("Signature", s);
    }
    let resp = r.send().await.expect("sandbox reachable");
    let status = resp.status().as_u16();
    let content_type = resp.headers()["content-type"].to_str().unwrap().to_string();
    assert_eq!(content_type, "application/json");
    (status, resp.json().await.unwrap())
}

#[tokio::test]
async fn the_published_vector_is_accepted_and_bad_signatures_create_nothing() {
    let (sb, _, _) = mocopay_sandbox().await;
    for path in [
        "/mocopay/v1/payment/initPayment/",
        "/mocopay/v1/payment/initPayment",
    ] {
        let (status, v) = get(&sb, &format!("{path}?{VECTOR_QUERY}"), Some(VECTOR_HEADER)).await;
        assert_eq!(status, 200, "{path}: {v}");
        let answer = InitPaymentResponse::parse(200, v.to_string().as_bytes()).unwrap();
        assert!(answer.redirect_url.contains("/mocopay/checkout/"), "{v}");
    }
    // The same signature as a parameter (`+` and `=` percent-encoded).
    let (status, v) = get(
        &sb,
        &format!("/mocopay/v1/payment/initPayment/?{VECTOR_QUERY}&signature={VECTOR_PARAM}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(sessions(&sb).await.len(), 3);

    for (query, signature) in [
        (VECTOR_QUERY, None),
        (VECTOR_QUERY, Some("ApiKey app1:AAAAAAAAAAAAAAAAAAAAAA==")),
        (VECTOR_QUERY, Some("ApiKey other:WETDyNQLx0+8BJ16vDgiVg==")),
        (
            "mcc=228&mnc=01&pid=12001&userId=123456789",
            Some(VECTOR_HEADER),
        ),
        // Unsigned AND malformed: the signature is what is reported.
        ("pid=12000&pid=1&mcc=1", None),
    ] {
        let (status, v) = get(
            &sb,
            &format!("/mocopay/v1/payment/initPayment/?{query}"),
            signature,
        )
        .await;
        assert_eq!(status, 401, "{query} {signature:?}: {v}");
        assert_eq!(v["errorCode"], "INVALID_SIGNATURE", "{v}");
    }
    let (status, v) = sb
        .http
        .post(format!(
            "{}/mocopay/v1/payment/verifyPayment/?sessionId=abc",
            sb.url
        ))
        .header("content-length", "0")
        .send()
        .await
        .map(|r| (r.status().as_u16(), r))
        .unwrap();
    assert_eq!(status, 401);
    assert_eq!(
        v.json::<Value>().await.unwrap()["errorCode"],
        "INVALID_SIGNATURE"
    );
    assert_eq!(
        sessions(&sb).await.len(),
        3,
        "a refused call created something"
    );
}

#[tokio::test]
async fn unknown_products_parameters_and_sessions_are_named() {
    let (sb, _, notify_url) = mocopay_sandbox().await;
    let (status, v) = init_payment(&sb, &order("NOPE", "ref-1", &notify_url), MOCO_SECRET).await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["errorCode"], "UNKNOWN_PID");
    assert_eq!(v["parameter"], "pid");

    // A misspelt parameter, correctly signed: named.
    let params = [("pid", "12000"), ("callbackURL", "http://x.example/")];
    let sig = provider_mocopay::signature::sign(MOCO_SECRET, "/v1/payment/initPayment/", &params);
    let (status, v) = get(
        &sb,
        "/mocopay/v1/payment/initPayment/?pid=12000&callbackURL=http%3A%2F%2Fx.example%2F",
        Some(&format!("ApiKey {MOCO_KEY}:{sig}")),
    )
    .await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["errorCode"], "INVALID_PARAMETER");
    assert_eq!(v["parameter"], "callbackURL");

    for q in [
        VerifyPayment::SessionId("0123456789abcdef0123456789abcdef".into()),
        VerifyPayment::TransactionId("0123456789abcdef0123456789abcdef".into()),
        VerifyPayment::UserId("nobody".into()),
    ] {
        let (status, v) = verify(&sb, &q).await;
        assert_eq!(status, 404, "{v}");
        assert_eq!(v["errorCode"], "NOT_FOUND");
    }
    assert!(sessions(&sb).await.is_empty());
}

#[tokio::test]
async fn the_same_reference_is_the_same_checkout() {
    let (sb, _, notify_url) = mocopay_sandbox().await;
    let o = order("12000", "ref-1", &notify_url);
    let (_, first) = init_payment(&sb, &o, MOCO_SECRET).await;
    let (status, again) = init_payment(&sb, &o, MOCO_SECRET).await;
    assert_eq!(status, 200);
    assert_eq!(first, again);
    let (status, v) = init_payment(&sb, &order("SUB1", "ref-1", &notify_url), MOCO_SECRET).await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["parameter"], "referenceId");
}

#[tokio::test]
async fn faults_make_the_api_fail_without_acting() {
    let (sb, _, notify_url) = mocopay_sandbox().await;
    let set = |mode: &'static str| {
        let sb = &sb;
        async move {
            let (status, v) = sb
                .post(
                    "/_sandbox/faults",
                    json!({"provider": "mocopay", "mode": mode}),
                )
                .await;
            assert_eq!(status, 200, "{v}");
        }
    };
    set("error").await;
    let (status, v) = init_payment(&sb, &order("12000", "ref-1", &notify_url), MOCO_SECRET).await;
    assert_eq!(
        (status, v["errorCode"].as_str()),
        (500, Some("INTERNAL_ERROR"))
    );
    let (status, _) = verify(&sb, &VerifyPayment::SessionId("abc".into())).await;
    assert_eq!(status, 500);
    set("timeout").await;
    let started = std::time::Instant::now();
    let (status, _) = init_payment(&sb, &order("12000", "ref-1", &notify_url), MOCO_SECRET).await;
    assert_eq!(status, 500);
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(1),
        "it hung first"
    );
    assert!(sessions(&sb).await.is_empty());
    set("none").await;
    let (status, _) = init_payment(&sb, &order("12000", "ref-1", &notify_url), MOCO_SECRET).await;
    assert_eq!(status, 200);
}
