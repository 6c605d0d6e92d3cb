//! What the outage tests share: a TCP proxy in front of PostgreSQL that a test can cut (every
//! connection dropped, new ones refused) and restore, a wait helper, and reading a metric.
#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};

/// PostgreSQL behind a switch.
pub struct DbProxy {
    port: u16,
    up: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl DbProxy {
    /// A proxy to the test PostgreSQL (`PAYSYS_TEST_DATABASE_URL`'s host and port).
    pub async fn start() -> Self {
        let admin = url::Url::parse(&paysys_platform::testing::admin_database_url()).unwrap();
        let target = format!(
            "{}:{}",
            admin.host_str().unwrap_or("127.0.0.1"),
            admin.port().unwrap_or(5432)
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let connections = Arc::new(Mutex::new(Vec::new()));
        let (up2, conns2) = (up.clone(), connections.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                if !up2.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let target = target.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                conns2.lock().unwrap().push(task.abort_handle());
            }
        });
        Self {
            port,
            up,
            connections,
        }
    }

    /// `url` (a database URL) through the proxy.
    pub fn url(&self, url: &str) -> String {
        let mut u = url::Url::parse(url).unwrap();
        u.set_host(Some("127.0.0.1")).unwrap();
        u.set_port(Some(self.port)).unwrap();
        u.to_string()
    }

    /// The database becomes unreachable: open connections drop, new ones are closed at once.
    pub fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for c in self.connections.lock().unwrap().drain(..) {
            c.abort();
        }
    }

    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

/// Waits up to `secs` for `f`, polling every 50 ms.
pub async fn wait_until(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The value of one series in this process's Prometheus text (`name` with its labels, e.g.
/// `paysys_dead_letters{queue="x"}`).
pub fn metric(series: &str) -> Option<f64> {
    let text = paysys_platform::server::metrics_handle().render();
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        let (name, value) = l.rsplit_once(' ')?;
        (name == series).then(|| value.parse().ok()).flatten()
    })
}

/// Messages waiting in the dead-letter queue of `settings` (0 when it was never declared).
pub async fn dead_letters(settings: &paysys_platform::config::AmqpSettings) -> u32 {
    let conn =
        lapin::Connection::connect(&paysys_platform::testing::amqp_url(), Default::default())
            .await
            .unwrap();
    let ch = conn.create_channel().await.unwrap();
    let q = ch
        .queue_declare(
            paysys_platform::broker::dead_letter_queue(settings).into(),
            lapin::options::QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            Default::default(),
        )
        .await;
    let n = q.map(|q| q.message_count()).unwrap_or(0);
    let _ = conn.close(200, "bye".into()).await;
    n
}
