//! Issue 11 point 5: secrets are never printed. The whole system runs in this process with every
//! log line captured at debug level; merchants pay, are notified, use the HMAC header, send wrong
//! secrets and bad signatures; then every captured line and the Prometheus page are searched
//! for every secret the system was given.

use paysys_tests::*;
use serde_json::json;
use std::io::Write;
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_a_log_line_or_the_metrics() {
    let captured = Captured::default();
    // Installed before the harness's own (which then does nothing): JSON lines, debug level,
    // the shape production logs have, with every span's fields.
    tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_span_list(true)
        .with_env_filter("debug,h2=info,hyper=info,hyper_util=info,tower=info,reqwest=debug")
        .with_writer(captured.clone())
        .init();

    let sys = spawn_system().await;
    // A paid one-time order: authenticated by secret, the provider called, its signed callback
    // believed, the merchant notified with a Standard Webhooks signature.
    let resp = sys
        .rpc("set_transaction_sync", seed_000_one_time("secrets-1"))
        .await;
    let url = resp["result"]["data"]["redirect_url"]
        .as_str()
        .expect("redirect")
        .to_string();
    sys.complete(&url, "success").await;
    sys.inbox.wait_for("1", "new_payment", 1).await;
    sys.statement("1", 1).await;
    // The HMAC header, a wrong secret, a bad signature and the same signature twice.
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "get_channels_list",
                      "params": {"merchant_id": "1"}})
    .to_string();
    let ts = chrono::Utc::now().timestamp();
    let sig = rpc_edge::auth::sign_body(MERCHANT_1.1, ts, body.as_bytes());
    for header in [sig.clone(), sig, format!("t={ts},v1={}", "0".repeat(64))] {
        sys.http
            .post(&sys.edge_url)
            .header("content-type", "application/json")
            .header("X-PaySys-Signature", header)
            .body(body.clone())
            .send()
            .await
            .unwrap();
    }
    let wrong = sys
        .rpc(
            "get_channels_list",
            json!({"merchant_id": "1", "secret": "merchant-34801-secret"}),
        )
        .await;
    assert!(wrong.get("error").is_some(), "{wrong}");
    let metrics = sys
        .http
        .get(format!("{}metrics", sys.edge_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    sys.stop().await;

    let logs = String::from_utf8_lossy(&captured.0.lock().unwrap()).to_string();
    // Positive evidence that capture worked: the story is in the log.
    assert!(
        logs.contains("callback applied"),
        "the log was not captured"
    );
    assert!(
        logs.contains("notification delivered"),
        "the log was not captured"
    );
    assert!(
        metrics.contains("paysys_http_requests_total"),
        "no metrics page"
    );

    let notify_key = |whsec: &str| {
        String::from_utf8(paysys_platform::signing::decode_whsec(whsec).unwrap()).unwrap()
    };
    let mut secrets: Vec<(String, String)> = vec![
        (
            "internal token".into(),
            paysys_platform::testing::INTERNAL_TOKEN.into(),
        ),
        ("data key".into(), paysys_platform::testing::DATA_KEY.into()),
        ("mobiltek secret".into(), "mobiltek-sandbox-secret".into()),
        ("teleaudio secret".into(), "teleaudio-sandbox-secret".into()),
        ("mocopay secret".into(), "mocopay-sandbox-secret".into()),
    ];
    for (id, secret, whsec) in [
        MERCHANT_1,
        MERCHANT_19,
        MERCHANT_34801,
        MERCHANT_40,
        MERCHANT_50,
    ] {
        secrets.push((format!("merchant {id} API secret"), secret.into()));
        secrets.push((format!("merchant {id} notification secret"), whsec.into()));
        secrets.push((format!("merchant {id} notification key"), notify_key(whsec)));
    }
    for (name, value) in &secrets {
        for (place, text) in [("logs", &logs), ("metrics", &metrics)] {
            if let Some(at) = text.find(value.as_str()) {
                let line = text[..at].rsplit('\n').next().unwrap_or("");
                panic!(
                    "the {name} is in the {place}: ...{}",
                    &line[line.len().saturating_sub(200)..]
                );
            }
        }
    }
}
