//! Issue 9 point 3: internal gRPC is not public. The adapter serves two listeners: the internal
//! one (gRPC PaymentProvider behind the bearer token, /readyz, /metrics) and the public one
//! (Mobiltek's notification route only), so an ingress can expose exactly the callbacks.

use crate::helpers::spawn_app;
use paysys_proto::payment_provider_client::PaymentProviderClient;
use paysys_proto::DescribeRequest;
use tonic::Code;

async fn channel(url: &str) -> tonic::transport::Channel {
    tonic::transport::Endpoint::from_shared(url.to_string())
        .unwrap()
        .connect()
        .await
        .expect("connect")
}

#[tokio::test]
async fn grpc_needs_the_internal_token_and_health_does_not() {
    let app = spawn_app().await;
    let url = app.url("");

    // No token, a wrong token, a token without "Bearer ": refused before the service runs.
    let mut bare = PaymentProviderClient::new(channel(&url).await);
    let err = bare.describe(DescribeRequest {}).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");
    for value in [
        "Bearer wrong-token-wrong-token-wrong-token-0000".to_string(),
        paysys_platform::testing::INTERNAL_TOKEN.to_string(),
        format!("Bearer {}x", paysys_platform::testing::INTERNAL_TOKEN),
    ] {
        let mut req = tonic::Request::new(DescribeRequest {});
        req.metadata_mut()
            .insert("authorization", value.parse().unwrap());
        let err = bare.describe(req).await.unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated, "{value}: {err:?}");
    }
    let unauthenticated: u64 =
        metric(&app.url("/metrics"), "paysys_grpc_unauthenticated_total").await;
    assert!(
        unauthenticated >= 4,
        "refusals are counted: {unauthenticated}"
    );

    // The right token: served.
    let described = app
        .grpc()
        .await
        .describe(DescribeRequest {})
        .await
        .expect("Describe with the token")
        .into_inner();
    assert_eq!(described.provider, "mobiltek");

    // gRPC health answers without a token (kubelet's gRPC probes send no metadata).
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel(&url).await);
    let status = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("health without a token")
        .into_inner()
        .status;
    assert_eq!(
        status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
    app.stop().await;
}

#[tokio::test]
async fn the_public_listener_serves_only_the_callback_route() {
    let app = spawn_app().await;
    let http = reqwest::Client::new();
    let status = |r: reqwest::Response| r.status().as_u16();

    // Public: the notification route exists (an unsigned post is refused by it, not a 404),
    // nothing else does: no gRPC, no metrics, no readiness.
    let unsigned = http
        .post(app.callback_url("/mobiltek/notify"))
        .form(&[("transaction_id", "x")])
        .send()
        .await
        .unwrap();
    assert_ne!(status(unsigned), 404);
    for path in ["/metrics", "/readyz", "/paysys.v1.PaymentProvider/Describe"] {
        let r = http.post(app.callback_url(path)).send().await.unwrap();
        assert_eq!(status(r), 404, "public {path}");
        let r = http.get(app.callback_url(path)).send().await.unwrap();
        assert!(matches!(status(r), 404 | 405), "public GET {path}");
    }
    let mut over_public = PaymentProviderClient::new(channel(&app.callback_url("")).await);
    let mut req = tonic::Request::new(DescribeRequest {});
    req.metadata_mut().insert(
        "authorization",
        format!("Bearer {}", paysys_platform::testing::INTERNAL_TOKEN)
            .parse()
            .unwrap(),
    );
    assert!(
        over_public.describe(req).await.is_err(),
        "no gRPC on the public port"
    );

    // Internal: no callback route there.
    let r = http
        .post(app.url("/mobiltek/notify"))
        .form(&[("transaction_id", "x")])
        .send()
        .await
        .unwrap();
    // What answers there is gRPC's router (a gRPC status, here UNAUTHENTICATED), never the
    // callback handler.
    assert!(
        r.status() == 404 || r.headers().contains_key("grpc-status"),
        "the callback route is not on the internal port: {r:?}"
    );
    let r = http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(status(r), 200);
    app.stop().await;
}

async fn metric(url: &str, name: &str) -> u64 {
    let body = reqwest::get(url).await.unwrap().text().await.unwrap();
    body.lines()
        .filter(|l| l.starts_with(name))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|v| v as u64)
        .sum()
}
