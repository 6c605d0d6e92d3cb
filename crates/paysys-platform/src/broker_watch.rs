//! The broker as an operator watches it, from every service that talks to it:
//! `paysys_broker_connected` (1 while RabbitMQ answers, 0 when it does not) and
//! `paysys_dead_letters{queue}` (the depth of `<exchange>.dead`, read with a passive declare, so
//! nothing is created or taken). One watcher per process and exchange, started by the first
//! consumer or outbox relay, polling every [`POLL_INTERVAL`] on a connection of its own.

use crate::broker::{dead_letter_queue, set_connected};
use crate::config::AmqpSettings;
use crate::shutdown::Shutdown;
use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use lapin::{Channel, Connection, ConnectionProperties};
use secrecy::ExposeSecret;
use std::collections::HashSet;
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
    if !channel.as_ref().is_some_and(|c| c.status().connected()) {
        *channel = match tokio::time::timeout(LOOK_TIMEOUT, conn.create_channel()).await {
            Ok(Ok(c)) => Some(c),
            _ => {
                set_connected(false);
                *link = None;
                return;
            }
        };
    }
    let Some(ch) = channel.as_ref() else {
        return;
    };
    let passive = QueueDeclareOptions {
        passive: true,
        ..Default::default()
    };
    match tokio::time::timeout(
        LOOK_TIMEOUT,
        ch.queue_declare(dead.into(), passive, FieldTable::default()),
    )
    .await
    {
        Ok(Ok(q)) => {
            metrics::gauge!("paysys_dead_letters", "queue" => dead.to_string())
                .set(f64::from(q.message_count()));
        }
        // Not declared yet (no consumer ran): the broker closed this channel; none are dead.
        Ok(Err(e)) if conn.status().connected() => {
            tracing::debug!(error = %e, queue = dead, "dead-letter queue not declared yet");
            metrics::gauge!("paysys_dead_letters", "queue" => dead.to_string()).set(0.0);
        }
        _ => {
            set_connected(false);
            *link = None;
        }
    }
}
