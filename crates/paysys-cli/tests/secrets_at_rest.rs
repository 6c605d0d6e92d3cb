//! `paysys merchant add` keeps secrets out of argv (`--secret-env VAR`, or `--secret -` and
//! `--notify-secret -` read from stdin, one line each) and out of the database in clear: the API
//! secret is digested and sealed in `edge.merchants`, the notification secret sealed in
//! `notifier.endpoints`, with the key of the configuration. The merchant still authenticates by
//! secret and by body signature, the notifier opens its secret, and a secret another merchant
//! has is refused naming the flag. Real PostgreSQL and RabbitMQ, the real binary.

use paysys_platform::{testing, Shutdown};
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use std::process::{Output, Stdio};
use tokio::io::AsyncWriteExt;

const API_SECRET: &str = "api-secret-of-81";
const NOTIFY_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const NOTIFY_URL: &str = "https://merchant.example/notify";

/// Runs the binary with the test data key, `env` and `stdin`.
async fn paysys(args: &[&str], env: &[(&str, &str)], stdin: &str) -> Output {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_paysys"))
        .env("PAYSYS__SECRETS__DATA_KEY", testing::DATA_KEY)
        .envs(env.iter().copied())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run paysys");
    let mut input = child.stdin.take().expect("stdin");
    input
        .write_all(stdin.as_bytes())
        .await
        .expect("write stdin");
    drop(input);
    child.wait_with_output().await.expect("paysys output")
}

fn settings<T: serde::de::DeserializeOwned>(db: &str, prefix: &str) -> T {
    paysys_platform::config::load_with(|b| {
        b.set_override("database.url", db)
            .and_then(|b| b.set_override("database.max_connections", 3))
            .and_then(|b| b.set_override("amqp.url", testing::amqp_url()))
            .and_then(|b| b.set_override("amqp.exchange", format!("{prefix}events")))
            .and_then(|b| b.set_override("amqp.queue_prefix", prefix))
            .and_then(|b| b.set_override("amqp.queue_expires_ms", 120_000))
            .and_then(|b| b.set_override("edge.listen", "127.0.0.1:0"))
            .and_then(|b| b.set_override("notifier.listen", "127.0.0.1:0"))
            .and_then(|b| b.set_override("internal.token", testing::INTERNAL_TOKEN))
            .and_then(|b| b.set_override("secrets.data_key", testing::DATA_KEY))
            .expect("test overrides")
    })
    .expect("test settings")
}

/// A fresh database with the edge running on it and the notifier's schema migrated.
struct System {
    db: String,
    edge_url: String,
    edge_pool: sqlx::PgPool,
    notifier_pool: sqlx::PgPool,
    shutdown: Shutdown,
}

async fn system() -> System {
    let db = testing::expose(&testing::fresh_database().await.expect("database"));
    let prefix = testing::unique_prefix();
    let shutdown = Shutdown::new();
    let edge = rpc_edge::Application::build(settings(&db, &prefix), shutdown.clone())
        .await
        .expect("edge");
    let edge_url = format!("http://127.0.0.1:{}/", edge.port());
    let edge_pool = edge.pool();
    tokio::spawn(edge.run_until_stopped());
    // Built for its migrations and its key: the store opens what the CLI sealed.
    let notifier = notifier::Application::build(settings(&db, &prefix), shutdown.clone())
        .await
        .expect("notifier");
    System {
        db,
        edge_url,
        edge_pool,
        notifier_pool: notifier.pool().clone(),
        shutdown,
    }
}

async fn rows(pool: &sqlx::PgPool, table: &str) -> Vec<String> {
    sqlx::query_scalar(&format!("SELECT row_to_json(t)::text FROM {table} t"))
        .fetch_all(pool)
        .await
        .expect("rows")
}

/// The edge's answer to `get_channels_list` of `merchant`, by secret or by body signature.
async fn channels(sys: &System, merchant: &str, secret: &str, signed: bool) -> Value {
    let mut params = json!({ "merchant_id": merchant });
    if !signed {
        params["secret"] = json!(secret);
    }
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "get_channels_list", "params": params})
        .to_string();
    let mut req = reqwest::Client::new()
        .post(&sys.edge_url)
        .header("content-type", "application/json")
        .body(body.clone());
    if signed {
        let t = chrono::Utc::now().timestamp();
        req = req.header(
            "x-paysys-signature",
            rpc_edge::auth::sign_body(secret, t, body.as_bytes()),
        );
    }
    req.send().await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn secrets_come_from_stdin_or_the_environment_and_are_never_stored_in_clear() {
    let sys = system().await;
    let db = sys.db.as_str();
    // From stdin: the API secret's line, then the notification secret's.
    let out = paysys(
        &[
            "--database-url",
            db,
            "merchant",
            "add",
            "--id",
            "81",
            "--secret",
            "-",
            "--notify-url",
            NOTIFY_URL,
            "--notify-secret",
            "-",
        ],
        &[],
        &format!("{API_SECRET}\n{NOTIFY_SECRET}\n"),
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // From the environment.
    let out = paysys(
        &[
            "--database-url",
            db,
            "merchant",
            "add",
            "--id",
            "82",
            "--secret-env",
            "API",
            "--notify-url",
            NOTIFY_URL,
            "--notify-secret-env",
            "WHSEC",
        ],
        &[("API", "api-secret-of-82"), ("WHSEC", NOTIFY_SECRET)],
        "",
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let whsec_key = NOTIFY_SECRET.trim_start_matches("whsec_");
    for row in rows(&sys.edge_pool, "edge.merchants").await {
        assert!(
            !row.contains(API_SECRET) && !row.contains("api-secret-of-82"),
            "{row}"
        );
        assert!(row.contains("\"secret\":null"), "{row}");
    }
    for row in rows(&sys.notifier_pool, "notifier.endpoints").await {
        assert!(!row.contains(whsec_key), "{row}");
        assert!(row.contains("\"secret\":null"), "{row}");
    }

    // The edge authenticates them by secret and by signature; the notifier opens its secret.
    for (id, secret) in [("81", API_SECRET), ("82", "api-secret-of-82")] {
        for signed in [false, true] {
            let v = channels(&sys, id, secret, signed).await;
            assert_eq!(v["result"]["status"], "1", "{id} signed={signed}: {v}");
        }
        let v = channels(&sys, id, "not-the-secret", false).await;
        assert_eq!(v["error"]["code"], -32001, "{v}");
        let endpoint = notifier::store::endpoint(&sys.notifier_pool, id)
            .await
            .unwrap()
            .expect("endpoint");
        assert_eq!(endpoint.secret.expose_secret(), NOTIFY_SECRET);
        assert_eq!(endpoint.url, NOTIFY_URL);
    }
    sys.shutdown.trigger();
}

#[tokio::test]
async fn a_secret_another_merchant_has_is_refused_naming_the_flag() {
    let sys = system().await;
    let db = sys.db.as_str();
    let add = |id: &'static str| async move {
        let args = [
            "--database-url",
            db,
            "merchant",
            "add",
            "--id",
            id,
            "--secret",
            API_SECRET,
            "--notify-url",
            NOTIFY_URL,
            "--notify-secret",
            NOTIFY_SECRET,
        ];
        paysys(&args, &[], "").await
    };
    assert!(add("91").await.status.success());
    // The same merchant again with its own secret is an update.
    assert!(add("91").await.status.success());
    let out = add("92").await;
    assert_eq!(out.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--secret") && stderr.contains("another merchant"),
        "{stderr}"
    );
    assert!(!stderr.contains(API_SECRET), "{stderr}");
    // Nothing of 92 was saved, in either schema.
    let n: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM edge.merchants WHERE id = '92')
              + (SELECT count(*) FROM notifier.endpoints WHERE merchant_id = '92')",
    )
    .fetch_one(&sys.edge_pool)
    .await
    .unwrap();
    assert_eq!(n, 0);
    sys.shutdown.trigger();
}

#[tokio::test]
async fn secrets_missing_from_stdin_or_the_environment_are_usage_errors() {
    // Checked before any connection: the database URL is never used.
    let db = "postgres://nobody@127.0.0.1:1/none";
    let base = [
        "--database-url",
        db,
        "merchant",
        "add",
        "--id",
        "93",
        "--notify-url",
        NOTIFY_URL,
    ];
    for (flags, stdin, names) in [
        (
            &["--secret", "-", "--notify-secret", "-"][..],
            "only-one-line\n",
            "--notify-secret",
        ),
        (
            &["--secret", "-", "--notify-secret", NOTIFY_SECRET],
            "",
            "--secret",
        ),
        (
            &[
                "--secret-env",
                "PAYSYS_TEST_UNSET_VAR",
                "--notify-secret",
                NOTIFY_SECRET,
            ],
            "",
            "--secret-env",
        ),
        (
            &["--secret", "short", "--notify-secret", NOTIFY_SECRET],
            "",
            "--secret",
        ),
        (
            &["--secret", API_SECRET, "--notify-secret", "-"],
            "not-a-whsec\n",
            "--notify-secret",
        ),
    ] {
        let args: Vec<&str> = base.iter().chain(flags).copied().collect();
        let out = paysys(&args, &[], stdin).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(64), "{flags:?}: {stderr}");
        assert!(stderr.contains(names), "{flags:?}: {stderr}");
    }
    // Both ways at once is clap's usage error.
    let args: Vec<&str> = base
        .iter()
        .chain(&[
            "--secret",
            API_SECRET,
            "--secret-env",
            "X",
            "--notify-secret",
            NOTIFY_SECRET,
        ])
        .copied()
        .collect();
    assert!(!paysys(&args, &[], "").await.status.success());
}
