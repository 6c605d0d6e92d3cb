//! `paysys reconcile` against the whole system (`paysys_tests::spawn_system`: real PostgreSQL
//! and RabbitMQ, the sandbox) and the real binary: a live Teleaudio subscription agrees after
//! its charges; a renewal whose callback never reached the adapter (provider-teleaudio down)
//! is missing from the ledger (exit 3); `--replay` has the sandbox deliver it again, it is posted
//! once (a second replay posts nothing), and the two sides agree; a CSV report with a wrong
//! amount and an unknown charge shows both differences; a Mobiltek payment agrees too.

use paysys_tests::*;
use serde_json::{json, Value};

const PHONE: &str = "48519532621";
const MONTH: u64 = 2_592_000;

/// Seed 001's subscription, live (no `"test": "True"`): its charges go to the live book.
fn live_subscription(trans_ext_id: &str) -> Value {
    json!({
        "trans_ext_id": trans_ext_id, "merchant_id": "19", "invoice_required": false,
        "payment": { "channel_id": "9041", "amount": "0", "currency": "PLN" },
        "articles": [{ "prod_id": "511", "sap_index": "45000437", "vat_rate": "23", "name": "test product", "quantity": "1", "price": "100",
            "config": [{ "name": "teleaudio_service_id", "value": "511" }] }],
        "customer": { "ext_id": "1234qwera", "name": "test", "firstname": "tester", "lastname": "testowski", "email": "test@test.pl",
            "street": "blotna", "city": "krakow", "phone": PHONE, "postcode": "31-620" },
        "next_url": "https://sympatia.onet.pl", "secret": MERCHANT_19.1
    })
}

/// Runs `paysys --json <args>` against the system: (exit status, JSON output).
async fn paysys(sys: &TestSystem, args: &[&str]) -> (i32, Value) {
    let mut all: Vec<String> = vec![
        "--database-url".into(),
        sys.database_url.clone(),
        "--sandbox-url".into(),
        sys.sandbox_url.clone(),
        "--json".into(),
    ];
    all.extend(args.iter().map(|a| a.to_string()));
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_paysys"))
            .args(&all)
            .output()
            .expect("run paysys")
    })
    .await
    .unwrap();
    let code = out.status.code().unwrap_or(-1);
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "exit {code}, not JSON: {} {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (code, v)
}

async fn live_transfers(sys: &TestSystem, key: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM ledger.transfers WHERE provider = 'teleaudio' AND book = 'live' AND charge_id = $1",
    )
    .bind(key)
    .fetch_one(&sys.edge_pool)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_finds_a_lost_charge_replays_it_once_and_shows_a_wrong_amount() {
    let sys = spawn_system().await;
    let since = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    let reconcile = ["reconcile", "--provider", "teleaudio", "--since", &since];

    // Normal charges: the first and one renewal.
    let resp = sys
        .rpc("set_subscription", live_subscription("reconcile-1"))
        .await;
    let url = resp["result"]["data"]["redirect_url"]
        .as_str()
        .unwrap_or_else(|| panic!("{resp}"))
        .to_string();
    sys.complete(&url, "success").await;
    sys.inbox
        .wait_for("19", "subscription_charge_success", 1)
        .await;
    sys.advance(MONTH).await;
    sys.statement("19", 2).await;
    let (code, r) = paysys(&sys, &reconcile).await;
    assert_eq!(code, 0, "{r}");
    assert_eq!(r["agree"], true, "{r}");
    assert_eq!(
        (r["provider_charges"].as_u64(), r["matched"].as_u64()),
        (Some(2), Some(2)),
        "{r}"
    );

    // The adapter is down while Teleaudio renews: the callback is given up, the money taken.
    sys.stop_teleaudio().await;
    sys.advance(MONTH).await;
    sys.start_teleaudio().await;
    let (code, r) = paysys(&sys, &reconcile).await;
    assert_eq!(code, 3, "{r}");
    assert_eq!(r["agree"], false);
    let missing = r["missing_in_ledger"].as_array().unwrap();
    assert_eq!(missing.len(), 1, "{r}");
    let lost = missing[0]["charge_key"].as_str().unwrap().to_string();
    assert_eq!(
        (
            missing[0]["amount_minor"].as_i64(),
            missing[0]["currency"].as_str()
        ),
        (Some(100), Some("PLN"))
    );
    assert_eq!(live_transfers(&sys, &lost).await, 0);

    // --replay: delivered again through the adapter, posted, and then the sides agree.
    let mut args = reconcile.to_vec();
    args.push("--replay");
    let (code, r) = paysys(&sys, &args).await;
    assert_eq!(code, 0, "{r}");
    assert_eq!(r["agree"], true, "{r}");
    assert_eq!(r["replayed"][0]["charge_key"], lost.as_str(), "{r}");
    assert_eq!(r["replayed"][0]["outcome"], "delivered", "{r}");
    assert_eq!(r["matched"], 3, "{r}");
    assert_eq!(live_transfers(&sys, &lost).await, 1);
    sys.inbox
        .wait_for("19", "subscription_charge_success", 3)
        .await;

    // Replaying twice posts once. The sandbox answers once the adapter acknowledged the
    // callback; the adapter stored it no second time, and it writes an event only together with
    // a stored callback, so nothing more can reach the ledger or the merchant.
    let stored = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM teleaudio.callbacks")
            .fetch_one(&sys.edge_pool)
            .await
            .unwrap()
    };
    let stored_before = stored().await;
    let again = sys
        .sandbox(
            "/_sandbox/report/replay",
            json!({"provider": "teleaudio", "charge_key": lost}),
        )
        .await;
    assert_eq!(again["ok"], true, "{again}");
    assert_eq!(
        stored().await,
        stored_before,
        "the replayed callback was applied again"
    );
    assert_eq!(live_transfers(&sys, &lost).await, 1);
    assert_eq!(sys.statement("19", 3).await.len(), 3);
    assert_eq!(sys.inbox.of("19", "subscription_charge_success").len(), 3);
    let (code, r) = paysys(&sys, &reconcile).await;
    assert_eq!((code, r["matched"].as_u64()), (0, Some(3)), "{r}");
    // An unknown charge cannot be replayed.
    let unknown = sys
        .http
        .post(format!("{}/_sandbox/report/replay", sys.sandbox_url))
        .json(&json!({"provider": "teleaudio", "charge_key": "no-such-charge"}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status().as_u16(), 404);

    // A CSV report: one amount wrong, one charge the ledger never saw, one left out.
    let report: Value = sys
        .http
        .get(format!("{}/_sandbox/report", sys.sandbox_url))
        .query(&[("provider", "teleaudio"), ("since", since.as_str())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let charges = report["charges"].as_array().unwrap();
    assert_eq!(charges.len(), 3, "{report}");
    let mut csv = String::from("charge_key,order_reference,amount_minor,currency,charged_at\n");
    let row = |c: &Value, amount: i64| {
        format!(
            "{},{},{amount},{},{}\n",
            c["charge_key"].as_str().unwrap(),
            c["order_reference"].as_str().unwrap(),
            c["currency"].as_str().unwrap(),
            c["charged_at"].as_str().unwrap()
        )
    };
    csv += &row(&charges[0], 100);
    csv += &row(&charges[1], 150);
    csv += &format!(
        "tc-unknown,ref-x,100,PLN,{}\n",
        chrono::Utc::now().to_rfc3339()
    );
    let file = std::env::temp_dir().join(format!("paysys-reconcile-{}.csv", uuid::Uuid::new_v4()));
    std::fs::write(&file, csv).unwrap();
    let mut args = reconcile.to_vec();
    let path = file.display().to_string();
    args.extend(["--csv", path.as_str()]);
    let (code, r) = paysys(&sys, &args).await;
    let _ = std::fs::remove_file(&file);
    assert_eq!(code, 3, "{r}");
    assert_eq!(r["matched"], 1, "{r}");
    let m = &r["mismatched"][0];
    assert_eq!(m["charge_key"], charges[1]["charge_key"], "{r}");
    assert_eq!(
        (
            m["provider"]["amount_minor"].as_i64(),
            m["ledger"]["amount_minor"].as_i64()
        ),
        (Some(150), Some(100))
    );
    assert_eq!(r["missing_in_ledger"][0]["charge_key"], "tc-unknown", "{r}");
    assert_eq!(
        r["missing_at_provider"][0]["charge_key"], charges[2]["charge_key"],
        "{r}"
    );

    // Mobiltek: the report's key is the ledger's (the callback's `charge_id`).
    let resp = sys
        .rpc(
            "set_transaction_sync",
            seed_000_one_time("reconcile-mobiltek"),
        )
        .await;
    let url = resp["result"]["data"]["redirect_url"]
        .as_str()
        .unwrap_or_else(|| panic!("{resp}"))
        .to_string();
    sys.complete(&url, "success").await;
    sys.statement("1", 1).await;
    let (code, r) = paysys(
        &sys,
        &["reconcile", "--provider", "mobiltek", "--since", &since],
    )
    .await;
    assert_eq!(code, 0, "{r}");
    assert_eq!(
        (r["provider_charges"].as_u64(), r["matched"].as_u64()),
        (Some(1), Some(1)),
        "{r}"
    );
    sys.assert_ledger_balanced().await;
    sys.stop().await;
}
