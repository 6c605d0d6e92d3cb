//! The broker as an operator watches it, from every service that talks to it:
//! `paysys_broker_connected` (1 while RabbitMQ answers, 0 when it does not) and
//! `paysys_dead_letters{queue}` (the depth of `<exchange>.dead`, read with a passive declare, so
//! nothing is created or taken). One watcher per process and exchange, started by the first
//! consumer or outbox relay, polling every [`POLL_INTERVAL`] on a connection of its own.
//! Queues registered with [`watch_queue`] (a service's own consumed queues) are read the same
//! way into `paysys_queue_messages{queue}` (messages ready, waiting for a consumer).

use crate::broker::{dead_letter_queue, set_connected};
use crate::config::AmqpSettings;
use crate::shutdown::Shutdown;
use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use lapin::{Channel, Connection, ConnectionProperties};
use secrecy::ExposeSecret;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// How often the watcher looks (the alert rules wait minutes, so this is plenty).
pub const POLL_INTERVAL: Duration = Duration::from_secs(15);

/// How long one look may take before the broker counts as unreachable.
const LOOK_TIMEOUT: Duration = Duration::from_secs(5);

fn running() -> &'static Mutex<HashSet<String>> {
    static RUNNING: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    RUNNING.get_or_init(Default::default)
}

/// Queues whose depth each watcher reports, by watcher (its dead-letter queue).
fn watched() -> &'static Mutex<BTreeMap<String, BTreeSet<String>>> {
    static WATCHED: OnceLock<Mutex<BTreeMap<String, BTreeSet<String>>>> = OnceLock::new();
    WATCHED.get_or_init(Default::default)
}

/// Has the watcher of `settings`' broker report the depth of `queue` (a queue this service
/// consumes and may declare) as `paysys_queue_messages{queue}`, from its next look on. Calling
/// it again for the same queue changes nothing.
pub fn watch_queue(settings: &AmqpSettings, queue: &str) {
    if let Ok(mut map) = watched().lock() {
        map.entry(dead_letter_queue(settings))
            .or_default()
            .insert(queue.to_string());
    }
}

fn watched_queues(dead: &str) -> Vec<String> {
    watched()
        .lock()
        .map(|map| map.get(dead).into_iter().flatten().cloned().collect())
        .unwrap_or_default()
}

/// Forgets the watcher when its task ends (shutdown, or its runtime dropped in tests).
struct Registered(String);

impl Drop for Registered {
    fn drop(&mut self) {
        if let Ok(mut set) = running().lock() {
            set.remove(&self.0);
        }
    }
}

/// Starts the watcher of `settings`' broker unless this process runs one already.
pub fn ensure_running(settings: &AmqpSettings, shutdown: &Shutdown) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let key = dead_letter_queue(settings);
    let fresh = running()
        .lock()
        .map(|mut set| set.insert(key.clone()))
        .unwrap_or(false);
    if fresh {
        let registered = Registered(key);
        let (settings, shutdown) = (settings.clone(), shutdown.clone());
        runtime.spawn(async move {
            let _registered = registered;
            watch(settings, POLL_INTERVAL, shutdown).await
        });
    }
}

/// Looks at the broker every `every` until shutdown, setting both gauges.
pub async fn watch(settings: AmqpSettings, every: Duration, shutdown: Shutdown) {
    let dead = dead_letter_queue(&settings);
    let mut link: Option<(Connection, Option<Channel>)> = None;
    // The first look waits a round too, so the consumers have declared the queue by then.
    loop {
        tokio::select! {
            _ = shutdown.wait() => break,
            _ = tokio::time::sleep(every) => {}
        }
        look(&settings, &dead, &mut link).await;
    }
    if let Some((conn, _)) = link {
        let _ = conn.close(200, "bye".into()).await;
    }
}

async fn look(
    settings: &AmqpSettings,
    dead: &str,
    link: &mut Option<(Connection, Option<Channel>)>,
) {
    if !link.as_ref().is_some_and(|(c, _)| c.status().connected()) {
        *link = None;
        let connect = Connection::connect(
            settings.url.expose_secret(),
            ConnectionProperties::default(),
        );
        match tokio::time::timeout(LOOK_TIMEOUT, connect).await {
            Ok(Ok(conn)) => *link = Some((conn, None)),
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "broker watcher cannot connect");
                set_connected(false);
                return;
            }
            Err(_) => {
                set_connected(false);
                return;
            }
        }
    }
    let Some((conn, channel)) = link.as_mut() else {
        return;
    };
    set_connected(true);
    match depth(conn, channel, dead).await {
        Ok(n) => {
            // Not declared yet (no consumer ran): none are dead.
            metrics::gauge!("paysys_dead_letters", "queue" => dead.to_string())
                .set(f64::from(n.unwrap_or(0)));
        }
        Err(()) => {
            set_connected(false);
            *link = None;
            return;
        }
    }
    for queue in watched_queues(dead) {
        match depth(conn, channel, &queue).await {
            // Not declared yet (its consumer has not connected): nothing waits in it.
            Ok(n) => metrics::gauge!("paysys_queue_messages", "queue" => queue)
                .set(f64::from(n.unwrap_or(0))),
            Err(()) => {
                set_connected(false);
                *link = None;
                return;
            }
        }
    }
}

/// Messages ready in `queue`, read with a passive declare on `channel`: None when the queue is
/// not declared (the broker closes the channel then: a new one replaces it), Err when the broker
/// does not answer.
async fn depth(
    conn: &Connection,
    channel: &mut Option<Channel>,
    queue: &str,
) -> Result<Option<u32>, ()> {
    if !channel.as_ref().is_some_and(|c| c.status().connected()) {
        *channel = match tokio::time::timeout(LOOK_TIMEOUT, conn.create_channel()).await {
            Ok(Ok(c)) => Some(c),
            _ => return Err(()),
        };
    }
    let Some(ch) = channel.as_ref() else {
        return Err(());
    };
    let passive = QueueDeclareOptions {
        passive: true,
        ..Default::default()
    };
    match tokio::time::timeout(
        LOOK_TIMEOUT,
        ch.queue_declare(queue.into(), passive, FieldTable::default()),
    )
    .await
    {
        Ok(Ok(q)) => Ok(Some(q.message_count())),
        Ok(Err(e)) if conn.status().connected() => {
            tracing::debug!(error = %e, queue, "queue not declared yet");
            *channel = None;
            Ok(None)
        }
        _ => Err(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn metric(series: &str) -> Option<f64> {
        let text = crate::server::metrics_handle().render();
        text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
            let (name, value) = l.rsplit_once(' ')?;
            (name == series).then(|| value.parse().ok()).flatten()
        })
    }

    /// A watched queue's depth is reported; one never declared counts 0 and does not keep the
    /// queues after it (or the dead letters) from being read. Needs the test RabbitMQ.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn watched_queues_report_their_depth() {
        crate::server::metrics_handle();
        let settings = crate::testing::amqp_settings(&crate::testing::unique_prefix());
        let conn = Connection::connect(&crate::testing::amqp_url(), Default::default())
            .await
            .unwrap();
        let ch = conn.create_channel().await.unwrap();
        crate::broker::declare_exchanges(&ch, &settings)
            .await
            .unwrap();
        let (missing, real) = (settings.queue("a.missing"), settings.queue("b.real"));
        crate::broker::declare_queue(&ch, &settings, &real, &[])
            .await
            .unwrap();
        for i in 0..3u8 {
            ch.basic_publish(
                "".into(),
                real.as_str().into(),
                Default::default(),
                &[i],
                Default::default(),
            )
            .await
            .unwrap()
            .await
            .unwrap();
        }
        watch_queue(&settings, &missing);
        watch_queue(&settings, &real);
        watch_queue(&settings, &real);
        let shutdown = Shutdown::new();
        tokio::spawn(watch(
            settings.clone(),
            Duration::from_millis(200),
            shutdown.clone(),
        ));
        let (real_series, missing_series, dead_series) = (
            format!("paysys_queue_messages{{queue=\"{real}\"}}"),
            format!("paysys_queue_messages{{queue=\"{missing}\"}}"),
            format!(
                "paysys_dead_letters{{queue=\"{}\"}}",
                dead_letter_queue(&settings)
            ),
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        while metric(&real_series) != Some(3.0) {
            assert!(
                Instant::now() < deadline,
                "{real_series} = {:?}",
                metric(&real_series)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(metric(&missing_series), Some(0.0));
        assert_eq!(metric(&dead_series), Some(0.0));
        shutdown.trigger();
        let _ = conn.close(200, "bye".into()).await;
    }
}
