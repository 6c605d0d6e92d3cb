//! The typed `paysys.v1.PaySystem` RPCs against the whole system: seed 000's one-time payment
//! through `SetTransactionSync`, the same order as JSON-RPC sees it, field errors as
//! INVALID_ARGUMENT with `google.rpc.BadRequest` details, a wrong secret as UNAUTHENTICATED. Then
//! an off-the-shelf client: Python grpcio generates its stubs from `proto/` with
//! `grpc_tools.protoc`, calls the typed RPCs, and lists every server's services through gRPC server
//! reflection.
//!
//! Needs `python3` with `grpcio`, `grpcio-tools` and `grpcio-reflection` (scripts/test-deps.sh
//! installs them); without them this test fails.

use paysys_proto::pay_system_client::PaySystemClient;
use paysys_proto::{
    GetChannelsListRequest, GetTransactionStatusRequest, MerchantArticle, MerchantCustomer,
    MerchantPayment, TransactionRequest,
};
use paysys_tests::{seed_000_one_time, spawn_system, MERCHANT_1};
use std::path::PathBuf;
use std::process::Command;
use tonic::Code;
use tonic_types::StatusExt;

/// Seed 000's `set_transaction_sync`, typed.
fn seed_000_typed(trans_ext_id: &str) -> TransactionRequest {
    TransactionRequest {
        merchant_id: MERCHANT_1.0.into(),
        secret: MERCHANT_1.1.into(),
        trans_ext_id: trans_ext_id.into(),
        payment: Some(MerchantPayment {
            channel_id: "18912".into(),
            currency: "PLN".into(),
            ..Default::default()
        }),
        articles: vec![MerchantArticle {
            prod_id: "55555".into(),
            sap_index: "45000437".into(),
            vat_rate: "23".into(),
            name: "test product".into(),
            quantity: 1,
            price: 10,
            ..Default::default()
        }],
        customer: Some(MerchantCustomer {
            ext_id: "1234qwera".into(),
            company: "test".into(),
            firstname: "tester".into(),
            lastname: "testowski".into(),
            email: "tomek@test.pl".into(),
            street: "piękna".into(),
            city: "krk".into(),
            phone: "48501123123".into(),
            postcode: "31-620".into(),
            country: "PL".into(),
        }),
        client_ip: "127.0.0.1".into(),
        test: false,
        next_url: "http://onet.pl".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_grpc_runs_the_merchant_handlers_and_names_bad_fields() {
    let sys = spawn_system().await;
    // Without the internal token, the typed API is not there for a caller.
    let mut bare = PaySystemClient::connect(sys.edge_url.trim_end_matches('/').to_string())
        .await
        .expect("gRPC on the edge port");
    let refused = bare
        .set_transaction_sync(seed_000_typed("grpc-typed-no-token"))
        .await
        .expect_err("no token");
    assert_eq!(refused.code(), tonic::Code::Unauthenticated, "{refused:?}");
    let mut client = sys.pay_system().await;

    let started = client
        .set_transaction_sync(seed_000_typed("grpc-typed-1"))
        .await
        .expect("seed 000 over typed gRPC")
        .into_inner();
    assert_eq!(started.status, "1");
    assert_eq!(started.action_type, "REDIRECT_USER");
    assert!(started.redirect_url.contains("/ppe?"), "{started:?}");

    // One handler: the same order retried as JSON-RPC gets the same stored answer.
    let json = sys
        .rpc("set_transaction_sync", seed_000_one_time("grpc-typed-1"))
        .await;
    assert_eq!(
        json["result"]["data"]["redirect_url"], started.redirect_url,
        "{json}"
    );

    let status = client
        .get_transaction_status(GetTransactionStatusRequest {
            merchant_id: MERCHANT_1.0.into(),
            secret: MERCHANT_1.1.into(),
            trans_ext_id: "grpc-typed-1".into(),
            ..Default::default()
        })
        .await
        .expect("status")
        .into_inner();
    assert_eq!(
        (
            status.trans_ext_id.as_str(),
            status.channel_id.as_str(),
            status.amount,
            status.currency.as_str(),
            status.kind.as_str(),
            status.test
        ),
        ("grpc-typed-1", "18912", 10, "PLN", "one_time", false)
    );
    assert_eq!(status.redirect_url, started.redirect_url);
    let details: serde_json::Value = serde_json::from_str(&status.details_json).unwrap();
    assert!(details["events"].is_array(), "{details}");

    let channels = client
        .get_channels_list(GetChannelsListRequest {
            merchant_id: MERCHANT_1.0.into(),
            secret: MERCHANT_1.1.into(),
        })
        .await
        .expect("channels")
        .into_inner();
    assert!(
        channels
            .channels
            .iter()
            .any(|c| c.id == "18912" && c.currency == "PLN" && c.kind == "one_time"),
        "{channels:?}"
    );

    // Bad fields: INVALID_ARGUMENT naming each by its JSON path.
    let mut bad = seed_000_typed("grpc-typed-2");
    bad.articles[0].price = -1;
    bad.payment.as_mut().unwrap().currency = "XYZ".into();
    let err = client.set_transaction_sync(bad).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    let fields: Vec<String> = err
        .get_details_bad_request()
        .expect("google.rpc.BadRequest details")
        .field_violations
        .into_iter()
        .map(|v| v.field)
        .collect();
    for f in ["articles[0].price", "payment.currency"] {
        assert!(fields.iter().any(|x| x == f), "{f} not in {fields:?}");
    }

    // A wrong secret.
    let mut wrong = seed_000_typed("grpc-typed-3");
    wrong.secret = "not-the-secret".into();
    let err = client.set_transaction_sync(wrong).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");
    let err = client
        .get_channels_list(GetChannelsListRequest {
            merchant_id: MERCHANT_1.0.into(),
            secret: "bad".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");

    // Untyped Invoke still answers.
    let r = client
        .invoke(paysys_proto::InvokeRequest {
            method: "get_channels_list".into(),
            params_json: serde_json::json!({"merchant_id": "1", "secret": MERCHANT_1.1})
                .to_string(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.error_code, 0, "{r:?}");
    sys.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_grpcio_calls_typed_rpcs_and_lists_services_by_reflection() {
    let sys = spawn_system().await;
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let script = here.join("tests/python/typed_client.py");
    let proto = here.join("../../proto");
    let host = |url: &str| {
        url.trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string()
    };
    let out = tokio::task::spawn_blocking({
        let (edge, ledger, notifier, mobiltek) = (
            host(&sys.edge_url),
            host(&sys.ledger_url),
            host(&sys.notifier_url),
            host(&sys.mobiltek_grpc_url),
        );
        move || {
            Command::new("python3")
                .env(
                    "PAYSYS_INTERNAL_TOKEN",
                    paysys_platform::testing::INTERNAL_TOKEN,
                )
                .arg(&script)
                .arg(&proto)
                .arg(&edge)
                .arg(MERCHANT_1.1)
                .arg("grpc-python-1")
                .arg(format!("ledger={ledger}"))
                .arg(format!("notifier={notifier}"))
                .arg(format!("adapter={mobiltek}"))
                .output()
                .expect("python3 runs (scripts/test-deps.sh installs the test's Python packages)")
        }
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        out.status.success(),
        "python client failed (run scripts/test-deps.sh for grpcio, grpcio-tools, grpcio-reflection)\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    let line = |key: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("no {key}= in\n{stdout}\n{stderr}"))
            .to_string()
    };
    assert!(line("channels").split(',').any(|c| c == "18912:PLN"));
    let redirect = line("redirect");
    assert!(redirect.contains("/ppe?"), "{redirect}");
    assert_eq!(line("bad_field"), "INVALID_ARGUMENT");
    assert_eq!(line("bad_secret"), "UNAUTHENTICATED");
    // A caller without the internal token: refused, reflection too; health answers.
    assert_eq!(line("no_token"), "UNAUTHENTICATED");
    assert_ne!(line("no_token_reflection"), "OK");
    assert_eq!(line("no_token_health"), "1"); // SERVING
    let edge: Vec<String> = line("services_edge").split(',').map(String::from).collect();
    for s in [
        "paysys.v1.PaySystem",
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
    ] {
        assert!(edge.iter().any(|x| x == s), "{s} not in {edge:?}");
    }
    // Each server lists what it serves, not every service of proto/.
    assert!(!edge.iter().any(|x| x == "paysys.v1.Ledger"), "{edge:?}");
    assert!(line("pay_system_methods").contains("SetTransactionSync"));
    for (server, service) in [
        ("ledger", "paysys.v1.Ledger"),
        ("notifier", "paysys.v1.Notifier"),
        ("adapter", "paysys.v1.PaymentProvider"),
    ] {
        let listed = line(&format!("services_{server}"));
        for s in [service, "grpc.health.v1.Health"] {
            assert!(
                listed.split(',').any(|x| x == s),
                "{server}: {s} not in {listed}"
            );
        }
    }
    // The payment the Python client started is an ordinary order.
    let status = sys
        .rpc(
            "get_transaction_status",
            serde_json::json!({"merchant_id": "1", "secret": MERCHANT_1.1, "trans_ext_id": "grpc-python-1"}),
        )
        .await;
    assert_eq!(
        status["result"]["data"]["redirect_url"],
        redirect.as_str(),
        "{status}"
    );
    sys.stop().await;
}
