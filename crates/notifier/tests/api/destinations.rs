//! Notifications cannot be turned against us (issue 9): a merchant URL that points into our own
//! network, by address or by a name resolving there, is refused before any connection, and the
//! refusal is a failed attempt on the normal schedule; http:// is refused when HTTPS is
//! required; and what a merchant answers never lands in `last_error`.

use crate::helpers::*;
use paysys_platform::events;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A port that only counts the TCP connections made to it (on 127.0.0.1, and on ::1 when the
/// host has IPv6 loopback), answering none of them.
struct Doorbell {
    port: u16,
    rings: Arc<AtomicUsize>,
}

impl Doorbell {
    async fn start() -> Doorbell {
        let v4 = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind doorbell");
        let port = v4.local_addr().unwrap().port();
        let rings = Arc::new(AtomicUsize::new(0));
        let mut listeners = vec![v4];
        if let Ok(v6) = tokio::net::TcpListener::bind(("::1", port)).await {
            listeners.push(v6);
        }
        for listener in listeners {
            let rings = rings.clone();
            tokio::spawn(async move {
                while let Ok((_socket, _)) = listener.accept().await {
                    rings.fetch_add(1, Ordering::SeqCst);
                }
            });
        }
        Doorbell { port, rings }
    }

    fn rings(&self) -> usize {
        self.rings.load(Ordering::SeqCst)
    }
}

/// Waits until the order's notification has at least `n` attempts and a last_error.
async fn wait_for_attempts(app: &TestApp, order_id: &str, n: i32) -> NotificationRow {
    eventually(
        &format!("{n} failed attempt(s) of the notification of {order_id}"),
        || async {
            app.notification(order_id)
                .await
                .filter(|row| row.attempts >= n && row.last_error.is_some())
        },
    )
    .await
}

#[tokio::test]
async fn a_loopback_address_is_never_connected_to_and_each_attempt_is_a_failure_on_schedule() {
    let app = spawn_app(&Options {
        schedule_secs: vec![0, 1, 1, 1],
        allow_private_destinations: false,
        ..Options::default()
    })
    .await;
    let doorbell = Doorbell::start().await;
    app.configure_merchant(
        MERCHANT,
        &format!("http://127.0.0.1:{}/notify", doorbell.port),
    )
    .await;

    app.publish(&event(events::PAYMENT_SUCCEEDED, "order-loopback"))
        .await;

    let dead = app.wait_for_status("order-loopback", "dead").await;
    assert_eq!(dead.attempts, 4, "one refused attempt per schedule entry");
    assert_eq!(
        dead.last_error.as_deref(),
        Some(
            "connect refused: destination 127.0.0.1 is a loopback address \
             (notifier.allow_private_destinations is false)"
        )
    );
    assert_eq!(
        app.attempt_statuses(&dead.id).await,
        vec![None, None, None, None]
    );
    assert_eq!(doorbell.rings(), 0, "the notifier connected to 127.0.0.1");
}

#[tokio::test]
async fn a_name_resolving_to_loopback_is_refused_when_connecting() {
    let app = spawn_app(&Options {
        allow_private_destinations: false,
        ..Options::default()
    })
    .await;
    let doorbell = Doorbell::start().await;
    app.configure_merchant(
        MERCHANT,
        &format!("http://localhost:{}/notify", doorbell.port),
    )
    .await;

    app.publish(&event(events::PAYMENT_SUCCEEDED, "order-localhost"))
        .await;

    let failed = wait_for_attempts(&app, "order-localhost", 1).await;
    let error = failed.last_error.unwrap_or_default();
    assert!(
        error.starts_with("connect refused: destination ")
            && error.contains("is a loopback address")
            && error.contains("notifier.allow_private_destinations is false"),
        "{error}"
    );
    assert_eq!(failed.status, "pending", "a refusal is retried");
    assert_eq!(doorbell.rings(), 0, "the notifier connected to localhost");
}

#[tokio::test]
async fn an_http_url_is_refused_when_https_is_required() {
    let app = spawn_app(&Options {
        require_https: true,
        ..Options::default()
    })
    .await;
    let doorbell = Doorbell::start().await;
    app.configure_merchant(
        MERCHANT,
        &format!("http://127.0.0.1:{}/notify", doorbell.port),
    )
    .await;

    app.publish(&event(events::SUBSCRIPTION_STARTED, "order-plain-http"))
        .await;

    let failed = wait_for_attempts(&app, "order-plain-http", 1).await;
    assert_eq!(
        failed.last_error.as_deref(),
        Some("connect refused: the notification URL is http:// (notifier.require_https is true)")
    );
    assert_eq!(doorbell.rings(), 0, "the notifier sent over plain http");
}

#[tokio::test]
async fn what_a_failing_merchant_answers_is_not_recorded() {
    let app = spawn_app(&Options::default()).await;
    let merchant = Merchant::start(vec![], Reply::StatusWithBody(500, "SECRET-BODY-TEXT")).await;
    app.configure_merchant(MERCHANT, &merchant.url).await;

    app.publish(&event(events::PAYMENT_FAILED, "order-secret-body"))
        .await;

    let failed = wait_for_attempts(&app, "order-secret-body", 2).await;
    assert!(!merchant.received().is_empty());
    assert_eq!(
        failed.last_error.as_deref(),
        Some("HTTP 500 Internal Server Error")
    );
    let errors = app.attempt_errors(&failed.id).await;
    assert!(errors.len() >= 2, "{errors:?}");
    for error in errors {
        let error = error.unwrap_or_default();
        assert!(!error.contains("SECRET-BODY-TEXT"), "{error}");
    }
}
