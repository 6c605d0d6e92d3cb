//! A call between services costs what its work costs, not a delayed ACK: the servers set
//! TCP_NODELAY on every accepted connection. Without it, an answer written in pieces (an HTTP/2
//! WINDOW_UPDATE first, the gRPC answer once the handler is done; here, a body in two chunks)
//! waited for the caller's delayed ACK, 40 ms on Linux, on every call: `make bench` measured
//! 48 ms per `set_transaction_sync` one at a time, 2.4 ms with it.

use axum::body::Body;
use paysys_platform::{server, Shutdown};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[tokio::test]
async fn an_answer_written_in_pieces_does_not_wait_for_a_delayed_ack() {
    let shutdown = Shutdown::new();
    let app = axum::Router::new().route(
        "/pieces",
        axum::routing::get(|| async {
            let pieces = futures::stream::unfold(0, |i| async move {
                match i {
                    0 => Some((Ok::<_, std::io::Error>("first piece"), 1)),
                    1 => {
                        // The second piece is written after the first left.
                        tokio::time::sleep(Duration::from_millis(2)).await;
                        Some((Ok("second piece"), 2))
                    }
                    _ => None,
                }
            });
            Body::from_stream(pieces)
        }),
    );
    let always: server::ReadyCheck = Arc::new(|| Box::pin(async { true }));
    let router = server::finish(app, None, always);
    let listener = server::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://127.0.0.1:{}/pieces",
        listener.local_addr().unwrap().port()
    );
    tokio::spawn(server::serve(listener, router, shutdown.clone()));

    // One kept-alive connection, past TCP's quick-ACK start.
    let http = reqwest::Client::new();
    let mut took = Vec::new();
    for i in 0..43 {
        let started = Instant::now();
        let body = http.get(&url).send().await.unwrap().text().await.unwrap();
        assert_eq!(body, "first piecesecond piece");
        if i >= 3 {
            took.push(started.elapsed());
        }
    }
    took.sort();
    let median = took[took.len() / 2];
    // Each answer takes about 2 ms here; a delayed ACK makes it 40 ms or more. The bound leaves
    // room for a loaded CI machine.
    assert!(
        median < Duration::from_millis(25),
        "median answer {median:?} (of {took:?}): waiting for delayed ACKs?"
    );
    shutdown.trigger();
}
