//! A consumer whose broker connection is reset again and again while messages flow (some
//! resets land while a message is handled, acknowledged, or the consumer is setting up) always
//! reconnects and goes on consuming. Found by `make chaos`: after a RabbitMQ restart the
//! notifier never consumed again, because acknowledging the message it was handling when the
//! connection died waited forever (lapin resolves that acknowledgement only through the dead
//! connection's I/O loop; the consumer's setup steps and `close` can wait the same way). The
//! consumer reaches RabbitMQ through a TCP proxy of this test, which resets only its own
//! connections: nothing else on the broker is disturbed. Without the bounds in
//! `broker::consume_with` this failed about one run in four.

use paysys_platform::broker::{self, HandleError, Handler, Message};
use paysys_platform::outbox::{self, OutboxSignal};
use paysys_platform::{testing, Shutdown};
use secrecy::SecretString;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};

/// Forwards every connection to RabbitMQ until `cut` resets the ones open at that moment.
#[derive(Clone, Default)]
struct Proxy {
    cut: Arc<tokio::sync::Notify>,
}

impl Proxy {
    async fn start(&self, upstream: String) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let cut = self.cut.clone();
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let (upstream, cut) = (upstream.clone(), cut.clone());
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let cut = cut.notified();
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut => {
                            // A reset, as when the broker goes away (stop_app, a crash).
                            let _ = client.set_zero_linger();
                            let _ = server.set_zero_linger();
                        }
                    }
                });
            }
        });
        port
    }

    /// Resets every connection open now.
    fn cut(&self) {
        self.cut.notify_waiters();
    }
}

async fn wait_until(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_cut_off_while_handling_a_message_reconnects() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("info,lapin=warn")
        .try_init();
    let prefix = testing::unique_prefix();
    let settings = testing::amqp_settings(&prefix);
    let broker_url = url::Url::parse(&testing::amqp_url()).unwrap();
    let upstream = format!(
        "{}:{}",
        broker_url.host_str().unwrap(),
        broker_url.port().unwrap_or(5672)
    );
    let proxy = Proxy::default();
    let port = proxy.start(upstream).await;
    let mut via_proxy = broker_url.clone();
    via_proxy.set_port(Some(port)).unwrap();
    let mut consumer_settings = settings.clone();
    consumer_settings.url = SecretString::from(via_proxy.to_string());

    let pool = testing::messaging_pool().await.unwrap();
    let relay_pool = pool.clone();
    let shutdown = Shutdown::new();
    let signal = OutboxSignal::default();
    let publisher = Arc::new(broker::Publisher::new(
        settings.clone(),
        vec![],
        shutdown.clone(),
    ));
    tokio::spawn(outbox::relay(
        relay_pool,
        publisher,
        signal.clone(),
        shutdown.clone(),
    ));

    // Messages flow all the time, each handled in a few milliseconds, and the connection is
    // reset again and again: some resets land while a message is being handled or acknowledged.
    let done = Arc::new(Mutex::new(Vec::<uuid::Uuid>::new()));
    let d2 = done.clone();
    let handler: Handler = Arc::new(move |m: Message| {
        let done = d2.clone();
        Box::pin(async move {
            let id = m
                .message_id
                .ok_or_else(|| HandleError::Poison(anyhow::anyhow!("no id")))?;
            tokio::time::sleep(Duration::from_millis(5)).await;
            done.lock().unwrap().push(id);
            Ok(())
        })
    });
    tokio::spawn(broker::consume_in_order(
        consumer_settings.clone(),
        consumer_settings.queue("cut"),
        vec!["#".into()],
        handler,
        shutdown.clone(),
    ));

    let emit = move |id: uuid::Uuid| {
        let (pool, settings, signal) = (pool.clone(), settings.clone(), signal.clone());
        async move {
            let mut tx = pool.begin().await.unwrap();
            outbox::enqueue(&mut tx, &settings.exchange, "thing.happened", id, b"x")
                .await
                .unwrap();
            tx.commit().await.unwrap();
            signal.notify();
        }
    };
    // The queue exists once the consumer declared it: wait for a first message through.
    let first = uuid::Uuid::now_v7();
    emit(first).await;
    wait_until("the first message", 30, || {
        done.lock().unwrap().contains(&first)
    })
    .await;
    let flowing = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let stream = {
        let (flowing, emit) = (flowing.clone(), emit.clone());
        tokio::spawn(async move {
            while flowing.load(std::sync::atomic::Ordering::SeqCst) {
                emit(uuid::Uuid::now_v7()).await;
                tokio::time::sleep(Duration::from_millis(3)).await;
            }
        })
    };
    for round in 0..20u64 {
        tokio::time::sleep(Duration::from_millis(150 + (round * 37) % 200)).await;
        proxy.cut();
    }
    flowing.store(false, std::sync::atomic::Ordering::SeqCst);
    stream.await.unwrap();

    // After the last reset the consumer must reconnect and take the next message (within the
    // consumer's own bounds: an ack 10 s, a setup 60 s).
    let after = uuid::Uuid::now_v7();
    emit(after).await;
    wait_until("a message after the connection was reset", 90, || {
        done.lock().unwrap().contains(&after)
    })
    .await;
    shutdown.trigger();
}
