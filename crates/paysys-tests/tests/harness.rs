//! The harness itself can fail a test: a service of the system that returns an error, panics or
//! ends on its own is reported with its name, by the wait helpers at once and by `stop`; and the
//! balanced-ledger check does not pass on an empty ledger.

use futures::FutureExt;
use paysys_tests::*;
use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

/// Runs `fut` to its end and returns its panic message (None when it did not panic).
async fn panic_of<F>(fut: F) -> Option<String>
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    match tokio::spawn(fut).await {
        Ok(()) => None,
        Err(e) => Some(panic_message(e.into_panic().as_ref())),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_service_fails_the_test_naming_it() {
    let mut sys = spawn_system().await;
    assert!(sys.crashes.all().is_empty(), "{:?}", sys.crashes.all());
    // An empty ledger is balanced, but a test expecting postings does not pass on it.
    sys.assert_ledger_balanced_allow_empty().await;
    let empty = AssertUnwindSafe(sys.assert_ledger_balanced())
        .catch_unwind()
        .await
        .expect_err("an empty ledger fails assert_ledger_balanced");
    let empty = panic_message(empty.as_ref());
    assert!(empty.contains("the ledger is empty"), "{empty}");

    sys.spawn_service("failing-service", async {
        anyhow::bail!("the database went away")
    });
    sys.spawn_service("panicking-service", async { panic!("index out of bounds") });
    sys.spawn_service("quitting-service", async { Ok(()) });
    let deadline = Instant::now() + Duration::from_secs(10);
    while sys.crashes.all().len() < 3 {
        assert!(Instant::now() < deadline, "{:?}", sys.crashes.all());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // A wait helper gives up at once (not after its 20 s), naming each service and its error.
    let inbox = sys.inbox.clone();
    let started = Instant::now();
    let waited = panic_of(async move {
        inbox.wait_for("1", "new_payment", 1).await;
    })
    .await
    .expect("waiting for a notification panics");
    assert!(started.elapsed() < Duration::from_secs(5), "{waited}");
    for expected in [
        "failing-service stopped with an error: the database went away",
        "panicking-service panicked: index out of bounds",
        "quitting-service ended before shutdown was triggered",
    ] {
        assert!(waited.contains(expected), "{expected:?} not in {waited:?}");
    }

    // And so does stop, after stopping everything.
    let stopped = panic_of(sys.stop()).await.expect("stop panics");
    assert!(
        stopped.contains("failing-service stopped with an error"),
        "{stopped}"
    );
}
