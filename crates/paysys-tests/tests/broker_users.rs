//! Issue 9 point 5: least privilege in RabbitMQ. scripts/amqp-users.sh (what `make up` runs)
//! gives each service its own user: it may declare and read only its own queues and publish only
//! the routing keys it produces. A service runs as its user; a stolen ledger password cannot
//! forge a payment event, and an adapter's cannot read the ledger's queue.

use lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection, ConnectionProperties};
use paysys_platform::{testing, Shutdown};
use std::process::Command;
use std::time::{Duration, Instant};

fn amqp_url_of(user: &str, password: &str) -> String {
    let mut u = url::Url::parse(&testing::amqp_url()).unwrap();
    u.set_username(user).unwrap();
    u.set_password(Some(password)).unwrap();
    u.to_string()
}

/// Publishes one message; Ok when the broker confirmed it, Err with the broker's refusal.
async fn publish(url: &str, exchange: &str, key: &str) -> Result<(), String> {
    let conn = Connection::connect(url, ConnectionProperties::default())
        .await
        .map_err(|e| e.to_string())?;
    let ch = conn.create_channel().await.map_err(|e| e.to_string())?;
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    let confirm = ch
        .basic_publish(
            exchange.into(),
            key.into(),
            BasicPublishOptions::default(),
            b"probe",
            BasicProperties::default(),
        )
        .await
        .map_err(|e| e.to_string())?
        .await
        .map_err(|e| e.to_string())?;
    let _ = conn.close(200, "bye".into()).await;
    if confirm.is_ack() {
        Ok(())
    } else {
        Err(format!("not acknowledged: {confirm:?}"))
    }
}

async fn consume(url: &str, queue: &str) -> Result<(), String> {
    let conn = Connection::connect(url, ConnectionProperties::default())
        .await
        .map_err(|e| e.to_string())?;
    let ch = conn.create_channel().await.map_err(|e| e.to_string())?;
    ch.basic_consume(
        queue.into(),
        "probe".into(),
        BasicConsumeOptions::default(),
        FieldTable::default(),
    )
    .await
    .map_err(|e| e.to_string())?;
    let _ = conn.close(200, "bye".into()).await;
    Ok(())
}

/// Consumers of `queue`, as the admin sees them (0 when it does not exist yet).
async fn consumers(queue: &str) -> u32 {
    let Ok(conn) = Connection::connect(&testing::amqp_url(), ConnectionProperties::default()).await
    else {
        return 0;
    };
    let n = match conn.create_channel().await {
        Ok(ch) => ch
            .queue_declare(
                queue.into(),
                QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .map(|q| q.consumer_count())
            .unwrap_or(0),
        Err(_) => 0,
    };
    let _ = conn.close(200, "bye".into()).await;
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_service_has_its_own_broker_user_limited_to_its_queues_and_routing_keys() {
    let prefix = testing::unique_prefix();
    let exchange = format!("{prefix}events");
    let users = format!("{}-", prefix.trim_end_matches('.'));
    let dir = std::env::temp_dir().join(format!("paysys-amqp-{users}"));
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/amqp-users.sh");
    let out = Command::new("bash")
        .arg(script)
        .args([&exchange, &prefix, &users])
        .arg(&dir)
        .args(["ledger", "provider-mobiltek", "rpc-edge"])
        .output()
        .expect("run amqp-users.sh");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let url = |service: &str| {
        let user = format!("{users}{service}");
        let pw = std::fs::read_to_string(dir.join(&user)).expect("password file");
        amqp_url_of(&user, pw.trim())
    };

    // The ledger runs as its own user: it declares, binds and consumes its queue.
    let db = testing::fresh_database().await.unwrap();
    let settings: ledger::Settings = testing::settings(
        &testing::expose(&db),
        &[
            ("amqp.url", url("ledger").into()),
            ("amqp.exchange", exchange.clone().into()),
            ("amqp.queue_prefix", prefix.clone().into()),
        ],
    );
    let shutdown = Shutdown::new();
    let app = ledger::Application::build(settings, shutdown.clone())
        .await
        .unwrap();
    let running = tokio::spawn(app.run_until_stopped());
    let queue = format!("{prefix}ledger.events");
    let deadline = Instant::now() + Duration::from_secs(30);
    while consumers(&queue).await == 0 {
        assert!(
            Instant::now() < deadline,
            "the ledger never consumed {queue} as its own user"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // An adapter publishes its events; the ledger's user cannot forge one.
    publish(&url("mobiltek"), &exchange, "payment.succeeded")
        .await
        .expect("an adapter publishes payment events");
    let forged = publish(&url("ledger"), &exchange, "payment.succeeded").await;
    assert!(
        forged.as_ref().is_err_and(|e| e.contains("ACCESS_REFUSED")),
        "the ledger's user published an event: {forged:?}"
    );
    // Nor may an adapter publish what is not an event, or read another service's queue.
    let command = publish(&url("mobiltek"), &exchange, "provider.mobiltek.commands").await;
    assert!(command.is_err_and(|e| e.contains("ACCESS_REFUSED")));
    let read = consume(&url("mobiltek"), &queue).await;
    assert!(
        read.is_err_and(|e| e.contains("ACCESS_REFUSED")),
        "an adapter read the ledger's queue"
    );
    // rpc-edge sends commands through the default exchange, and no events.
    publish(
        &url("rpc-edge"),
        "",
        &format!("{prefix}provider.mobiltek.commands"),
    )
    .await
    .expect("rpc-edge publishes commands");
    let event = publish(&url("rpc-edge"), &exchange, "payment.succeeded").await;
    assert!(event.is_err_and(|e| e.contains("ACCESS_REFUSED")));

    shutdown.trigger();
    let _ = tokio::time::timeout(Duration::from_secs(10), running).await;
    for service in ["ledger", "mobiltek", "rpc-edge"] {
        let _ = Command::new("rabbitmqctl")
            .args(["-q", "delete_user", &format!("{users}{service}")])
            .output();
    }
    let _ = std::fs::remove_dir_all(&dir);
}
