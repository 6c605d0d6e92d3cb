//! Delivery worker (svix style): a plain loop over the persisted notification log. It leases
//! due notifications (committed before sending, so a crash mid-delivery only delays a retry),
//! POSTs each stored body with Standard Webhooks headers to the merchant's URL for its method,
//! records the attempt, and schedules the next one or dead-letters the notification. Skipped
//! notifications are never leased (only pending ones are); a replay makes them pending.
//! Only checked destinations are connected to (`destination`), and nothing a merchant answers
//! beyond its status code is recorded or logged.

use crate::body;
use crate::config::NotifierSettings;
use crate::consumer::{bad_secret, no_endpoint};
use crate::destination::{self, GuardedResolver, Policy};
use crate::schedule;
use crate::store::{self, AttemptResult, Endpoints, Leased, Next};
use paysys_platform::{signing, Shutdown};
use prost::Message as _;
use secrecy::ExposeSecret;
use sqlx::PgPool;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;
use tracing::Instrument;

pub struct Worker {
    pool: PgPool,
    endpoints: Endpoints,
    client: reqwest::Client,
    policy: Policy,
    settings: NotifierSettings,
    wake: Arc<Notify>,
}

impl Worker {
    pub fn new(
        pool: PgPool,
        endpoints: Endpoints,
        settings: NotifierSettings,
        wake: Arc<Notify>,
    ) -> anyhow::Result<Self> {
        let policy = Policy::from_settings(&settings);
        let client = reqwest::Client::builder()
            .timeout(settings.request_timeout())
            // A redirect would turn the POST into a GET elsewhere, to a destination nobody
            // checked: count it as a failure.
            .redirect(reqwest::redirect::Policy::none())
            // Every name is resolved and checked by us; a proxy from the environment would
            // resolve it instead.
            .no_proxy()
            .dns_resolver(GuardedResolver::new(policy))
            .user_agent(concat!("PaySystem-Notifier/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            pool,
            endpoints,
            client,
            policy,
            settings,
            wake,
        })
    }

    /// Delivers until shutdown, then lets the deliveries in flight finish (each is bounded by
    /// the request timeout). Dropping this future aborts them instead; their leases expire and
    /// another worker retries them.
    pub async fn run(self, shutdown: Shutdown) {
        let me = Arc::new(self);
        let slots = Arc::new(Semaphore::new(me.settings.concurrency));
        let poll = Duration::from_millis(me.settings.poll_ms);
        let mut in_flight = JoinSet::new();
        loop {
            while in_flight.try_join_next().is_some() {}
            let free = slots.available_permits();
            let mut maybe_more = false;
            if free > 0 {
                match store::lease_due(&me.pool, free, me.settings.lease()).await {
                    Ok(batch) => {
                        maybe_more = batch.len() == free;
                        for leased in batch {
                            let Ok(permit) = slots.clone().acquire_owned().await else {
                                return;
                            };
                            let me = me.clone();
                            in_flight.spawn(async move {
                                me.deliver(leased).await;
                                drop(permit);
                            });
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot lease due notifications"),
                }
            }
            if maybe_more && !shutdown.is_triggered() {
                continue;
            }
            tokio::select! {
                _ = shutdown.wait() => break,
                _ = me.wake.notified() => {}
                _ = tokio::time::sleep(poll) => {}
                Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
            }
        }
        while in_flight.join_next().await.is_some() {}
    }

    async fn deliver(&self, leased: Leased) {
        // A delivery runs later, from the notification's row: it continues the trace of the
        // event the notification was made from, attempt by attempt.
        let span = tracing::info_span!("deliver", id = %leased.id, method = %leased.method, attempt = leased.attempts + 1,
            otel.name = %format!("deliver {}", leased.method), otel.kind = "client");
        paysys_platform::telemetry::set_parent_from(&span, &leased.trace_context);
        if let Err(e) = self.try_deliver(&leased).instrument(span).await {
            // The lease runs out and the notification is tried again.
            tracing::warn!(id = %leased.id, error = %format!("{e:#}"), "delivery bookkeeping failed");
        }
    }

    async fn try_deliver(&self, leased: &Leased) -> anyhow::Result<()> {
        let Some(endpoint) = self.endpoints.get(&leased.merchant_id).await? else {
            return self.dead(leased, &no_endpoint(&leased.merchant_id)).await;
        };
        let Ok(key) = signing::decode_whsec(endpoint.secret.expose_secret()) else {
            return self.dead(leased, &bad_secret(&leased.merchant_id)).await;
        };
        let body = match &leased.body {
            Some(b) => b.clone(),
            None => {
                let event = paysys_proto::Event::decode(leased.event.as_slice())?;
                let built =
                    body::build(&event, &leased.method, &key, chrono::Utc::now().timestamp());
                store::fix_body(&self.pool, leased.id, &built).await?
            }
        };
        // A method with its own URL goes there; a replayed skipped one too.
        let url = endpoint.choice.url_for(&leased.method, &endpoint.url);
        let result = self.post(leased, url, &key, body).await;
        let delivered = result.error.is_none();
        let failures = leased.attempts.max(0) as usize + 1;
        let next = if delivered {
            Next::Delivered
        } else {
            match schedule::next_delay(&self.settings.schedule_secs, failures, self.settings.jitter)
            {
                Some(d) => Next::RetryIn(d),
                None => Next::Dead,
            }
        };
        store::record_attempt(&self.pool, leased, &result, next).await?;
        metrics::histogram!("paysys_notifier_attempt_duration_seconds")
            .record(result.duration.as_secs_f64());
        match next {
            Next::Delivered => {
                metrics::counter!("paysys_notifier_deliveries_total", "outcome" => "delivered")
                    .increment(1);
                let latency = (chrono::Utc::now() - leased.created_at)
                    .to_std()
                    .unwrap_or_default();
                metrics::histogram!("paysys_notifier_delivery_latency_seconds")
                    .record(latency.as_secs_f64());
                tracing::info!(id = %leased.id, method = %leased.method, attempt = failures, "notification delivered");
            }
            Next::RetryIn(d) => {
                metrics::counter!("paysys_notifier_deliveries_total", "outcome" => "failed")
                    .increment(1);
                tracing::warn!(id = %leased.id, attempt = failures, error = result.error.as_deref().unwrap_or(""),
                    retry_in_s = d.as_secs_f64(), "notification attempt failed");
            }
            Next::Dead => {
                metrics::counter!("paysys_notifier_deliveries_total", "outcome" => "failed")
                    .increment(1);
                metrics::counter!("paysys_notifier_deliveries_total", "outcome" => "dead")
                    .increment(1);
                tracing::warn!(id = %leased.id, attempt = failures, error = result.error.as_deref().unwrap_or(""),
                    "notification dead-lettered after its last attempt");
            }
        }
        Ok(())
    }

    async fn dead(&self, leased: &Leased, reason: &str) -> anyhow::Result<()> {
        store::mark_dead(&self.pool, leased, reason).await?;
        metrics::counter!("paysys_notifier_deliveries_total", "outcome" => "dead").increment(1);
        tracing::warn!(id = %leased.id, %reason, "notification dead-lettered");
        Ok(())
    }

    /// One HTTP attempt. The URL is never logged or recorded: merchants put tokens in it. Nor
    /// is the merchant's answer beyond its status: it could be anything, an internal page
    /// included, and `last_error` is shown to operators.
    async fn post(&self, leased: &Leased, url: &str, key: &[u8], body: String) -> AttemptResult {
        let start = Instant::now();
        let (http_status, error) = match self.send(leased, url, key, body).await {
            Ok(status) if status.is_success() => (Some(status.as_u16()), None),
            Ok(status) if status.is_redirection() => (
                Some(status.as_u16()),
                Some(format!("HTTP {status} (redirects are not followed)")),
            ),
            Ok(status) => (Some(status.as_u16()), Some(format!("HTTP {status}"))),
            Err(error) => (None, Some(error)),
        };
        AttemptResult {
            http_status,
            error,
            duration: start.elapsed(),
        }
    }

    /// Sends to a checked destination; the status, or what went wrong in our words.
    async fn send(
        &self,
        leased: &Leased,
        url: &str,
        key: &[u8],
        body: String,
    ) -> Result<reqwest::StatusCode, String> {
        let parsed = reqwest::Url::parse(url)
            .map_err(|_| "connect refused: the notification URL is not a valid URL".to_string())?;
        self.policy
            .check_url(&parsed)
            .map_err(|r| format!("connect refused: {r}"))?;
        let id = leased.id.to_string();
        let timestamp = chrono::Utc::now().timestamp();
        let signature = signing::standard_webhooks_signature(key, &id, timestamp, body.as_bytes());
        let sent = self
            .client
            .post(parsed)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await;
        match sent {
            // The body is dropped unread.
            Ok(resp) => Ok(resp.status()),
            Err(e) if e.is_timeout() => Err(format!(
                "no answer within {} ms",
                self.settings.request_timeout_ms
            )),
            Err(e) => match destination::refusal_in(&e) {
                Some(refused) => Err(format!("connect refused: {refused}")),
                None => Err(format!("{:#}", anyhow::Error::from(e.without_url()))),
            },
        }
    }
}
