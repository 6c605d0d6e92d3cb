//! Test support: `spawn_app` (fresh database, unique exchange and queue names, port 0), charge
//! events as a provider adapter publishes them, the gRPC client, and polling with a deadline.

use ledger::{Application, Settings};
use paysys_platform::broker::{Outgoing, Publisher};
use paysys_platform::{events, testing, Shutdown};
use paysys_proto::ledger_client::LedgerClient;
use paysys_proto::{Charge, Event};
use prost::Message as _;
use sqlx::PgPool;
use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;
use tokio::task::JoinHandle;

pub const FEE_BPS: i64 = 300;

pub struct TestApp {
    pub settings: Settings,
    pub port: u16,
    pub pool: PgPool,
    pub shutdown: Shutdown,
    pub handle: JoinHandle<anyhow::Result<()>>,
    publisher: Publisher,
}

/// A ledger on its own database and broker names. Prefetch 1 makes the consumer take events in
/// publishing order, so "a later event was applied" means "every earlier one was handled".
pub async fn spawn_app() -> TestApp {
    let db = testing::fresh_database()
        .await
        .expect("create test database");
    let prefix = testing::unique_prefix();
    let settings: Settings = paysys_platform::config::load_with(|b| {
        b.set_override("database.url", testing::expose(&db))
            .unwrap()
            .set_override("database.max_connections", 4)
            .unwrap()
            .set_override("amqp.url", testing::amqp_url())
            .unwrap()
            .set_override("amqp.exchange", format!("{prefix}events"))
            .unwrap()
            .set_override("amqp.queue_prefix", prefix.clone())
            .unwrap()
            .set_override("amqp.prefetch", 1)
            .unwrap()
            .set_override("amqp.queue_expires_ms", 120_000)
            .unwrap()
            .set_override("ledger.listen", "127.0.0.1:0")
            .unwrap()
            .set_override("ledger.fee_bps", FEE_BPS)
            .unwrap()
            .set_override("internal.token", testing::INTERNAL_TOKEN)
            .unwrap()
    })
    .expect("test settings");
    let shutdown = Shutdown::new();
    let app = Application::build(settings.clone(), shutdown.clone())
        .await
        .expect("build the ledger");
    let port = app.port();
    let pool = app.pool().clone();
    let handle = tokio::spawn(app.run_until_stopped());
    let publisher = Publisher::new(settings.amqp.clone(), vec![], Shutdown::new());
    TestApp {
        settings,
        port,
        pool,
        shutdown,
        handle,
        publisher,
    }
}

impl TestApp {
    pub async fn grpc(&self) -> LedgerClient<paysys_platform::grpc::TracedChannel> {
        LedgerClient::new(
            paysys_platform::grpc::connect(
                &format!("http://127.0.0.1:{}", self.port),
                &paysys_platform::testing::internal_token(),
            )
            .await
            .expect("connect to the Ledger gRPC service"),
        )
    }

    /// Publishes events in order as a producer's outbox relay would, retrying until the
    /// ledger's queue is bound (the broker returns unroutable messages until then).
    pub async fn publish(&self, batch: &[Event]) {
        let encoded: Vec<(uuid::Uuid, Vec<u8>)> = batch
            .iter()
            .map(|e| {
                // Poison events may carry a bad id; the message id still has to be a UUID.
                let id =
                    uuid::Uuid::parse_str(&e.event_id).unwrap_or_else(|_| uuid::Uuid::now_v7());
                (id, e.encode_to_vec())
            })
            .collect();
        let headers = BTreeMap::new();
        eventually("the ledger's queue to route the events", || async {
            let outgoing: Vec<Outgoing<'_>> = batch
                .iter()
                .zip(&encoded)
                .map(|(e, (id, payload))| Outgoing {
                    exchange: &self.settings.amqp.exchange,
                    routing_key: &e.kind,
                    message_id: *id,
                    payload,
                    headers: &headers,
                })
                .collect();
            match self.publisher.publish_batch(&outgoing).await {
                Ok(routed) if routed.iter().all(|r| *r) => Some(()),
                _ => None,
            }
        })
        .await
    }

    /// Waits until the ledger claimed the event (applied it, or found nothing to do).
    pub async fn wait_consumed(&self, event: &Event) {
        let id = uuid::Uuid::parse_str(&event.event_id).expect("event id");
        eventually(&format!("event {id} to be consumed"), || async {
            let n: i64 = sqlx::query_scalar("SELECT count(*) FROM inbox WHERE message_id = $1")
                .bind(id)
                .fetch_one(&self.pool)
                .await
                .expect("query inbox");
            (n == 1).then_some(())
        })
        .await
    }

    /// The merchant's statement of the live book.
    pub async fn statement(&self, merchant_id: &str) -> Vec<Charge> {
        self.statement_of(merchant_id, false).await
    }

    /// The merchant's statement of the test book (`test`) or the live one.
    pub async fn statement_of(&self, merchant_id: &str, test: bool) -> Vec<Charge> {
        self.grpc()
            .await
            .statement(paysys_proto::StatementRequest {
                merchant_id: merchant_id.into(),
                test,
            })
            .await
            .expect("Statement")
            .into_inner()
            .charges
    }

    /// Waits until the merchant's live statement lists `n` charges.
    pub async fn wait_statement(&self, merchant_id: &str, n: usize) -> Vec<Charge> {
        self.wait_statement_of(merchant_id, false, n).await
    }

    /// Waits until the merchant's statement of the test or live book lists `n` charges.
    pub async fn wait_statement_of(&self, merchant_id: &str, test: bool, n: usize) -> Vec<Charge> {
        eventually(
            &format!("{n} charges of merchant {merchant_id} (test book: {test})"),
            || async {
                let charges = self.statement_of(merchant_id, test).await;
                (charges.len() >= n).then_some(charges)
            },
        )
        .await
    }

    pub async fn order_charges(&self, merchant_id: &str, order_id: &str) -> Vec<Charge> {
        self.grpc()
            .await
            .subscription_charges(paysys_proto::SubscriptionChargesRequest {
                merchant_id: merchant_id.into(),
                order_id: order_id.into(),
            })
            .await
            .expect("SubscriptionCharges")
            .into_inner()
            .charges
    }

    /// (account, currency) -> balance in the account's normal direction, live book.
    pub async fn balances(&self, merchant_id: &str) -> BTreeMap<(String, String), i64> {
        self.balances_of(merchant_id, false).await
    }

    /// (account, currency) -> balance in the test book (`test`) or the live one.
    pub async fn balances_of(
        &self,
        merchant_id: &str,
        test: bool,
    ) -> BTreeMap<(String, String), i64> {
        self.grpc()
            .await
            .balance(paysys_proto::BalanceRequest {
                merchant_id: merchant_id.into(),
                test,
            })
            .await
            .expect("Balance")
            .into_inner()
            .accounts
            .into_iter()
            .map(|a| ((a.account, a.currency), a.balance_minor))
            .collect()
    }

    /// Currency -> (debits, credits) over the whole live book.
    pub async fn totals(&self) -> BTreeMap<String, (i64, i64)> {
        self.totals_of(false).await
    }

    /// Currency -> (debits, credits) over the whole test book (`test`) or the live one.
    pub async fn totals_of(&self, test: bool) -> BTreeMap<String, (i64, i64)> {
        self.grpc()
            .await
            .totals(paysys_proto::TotalsRequest { test })
            .await
            .expect("Totals")
            .into_inner()
            .totals
            .into_iter()
            .map(|t| (t.currency, (t.debits, t.credits)))
            .collect()
    }

    /// Debits equal credits in every currency, and something was posted.
    pub async fn assert_balanced(&self) {
        let totals = self.totals().await;
        assert!(!totals.is_empty(), "nothing was posted");
        for (currency, (debits, credits)) in totals {
            assert_eq!(debits, credits, "ledger unbalanced in {currency}");
        }
    }

    /// Graceful stop: triggers the Shutdown and expects run_until_stopped to return Ok.
    pub async fn stop(self) {
        self.shutdown.trigger();
        tokio::time::timeout(Duration::from_secs(15), self.handle)
            .await
            .expect("the ledger stops within its grace period")
            .expect("the ledger task did not panic")
            .expect("the ledger stopped cleanly");
    }
}

/// The balance map key of an account in PLN.
pub fn pln(account: &str) -> (String, String) {
    (account.to_string(), "PLN".to_string())
}

/// A charge event as a provider adapter publishes it.
pub fn event(kind: &str, merchant_id: &str, order_id: &str, charge_id: &str, amount: i64) -> Event {
    Event {
        merchant_id: merchant_id.into(),
        order_id: order_id.into(),
        provider: "mobiltek".into(),
        channel_id: "18912".into(),
        amount_minor: amount,
        currency: "PLN".into(),
        charge_id: charge_id.into(),
        user_id: "1234qwera".into(),
        ..events::new_event(kind)
    }
}

pub fn payment(merchant_id: &str, order_id: &str, charge_id: &str, amount: i64) -> Event {
    event(
        events::PAYMENT_SUCCEEDED,
        merchant_id,
        order_id,
        charge_id,
        amount,
    )
}

/// The same event as a provider adapter publishes it for a test order.
pub fn test_order(e: Event) -> Event {
    let mut e = e;
    e.provider_fields.insert("test".into(), "true".into());
    e
}

/// The n-th charge of a subscription; `ok` false makes it a failed one.
pub fn recurring(merchant_id: &str, order_id: &str, sequence: u32, amount: i64, ok: bool) -> Event {
    let kind = if ok {
        events::SUBSCRIPTION_CHARGED
    } else {
        events::SUBSCRIPTION_CHARGE_FAILED
    };
    Event {
        sequence,
        channel_id: "18913".into(),
        failure_reason: if ok { "" } else { "insufficient funds" }.into(),
        ..event(
            kind,
            merchant_id,
            order_id,
            &format!("{order_id}-charge-{sequence}"),
            amount,
        )
    }
}

/// Polls `probe` every 50 ms until it yields a value; panics naming `what` after 20 s.
pub async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits for the message `message_id` in the dead-letter queue; returns why it died
/// (`rejected` by a handler, or `delivery_limit` after too many requeues).
pub async fn dead_letter_reason(settings: &Settings, message_id: uuid::Uuid) -> String {
    use lapin::options::BasicGetOptions;
    use lapin::types::AMQPValue;
    let amqp = &settings.amqp;
    let conn = lapin::Connection::connect(&testing::amqp_url(), Default::default())
        .await
        .expect("connect to RabbitMQ");
    let ch = conn.create_channel().await.expect("channel");
    let queue = amqp.queue(&format!("{}.dead", amqp.exchange));
    eventually(&format!("{message_id} in {queue}"), || async {
        let got = ch
            .basic_get(queue.clone().into(), BasicGetOptions { no_ack: true })
            .await
            .expect("basic.get")?;
        let props = &got.delivery.properties;
        if props.message_id().as_ref().map(|m| m.to_string()) != Some(message_id.to_string()) {
            return None;
        }
        let headers = props.headers().clone().unwrap_or_default();
        let string = |v: &AMQPValue| match v {
            AMQPValue::LongString(s) => Some(s.to_string()),
            AMQPValue::ShortString(s) => Some(s.to_string()),
            _ => None,
        };
        let first = headers
            .inner()
            .iter()
            .find(|(k, _)| k.as_str() == "x-first-death-reason")
            .and_then(|(_, v)| string(v));
        let from_x_death = headers
            .inner()
            .iter()
            .find(|(k, _)| k.as_str() == "x-death")
            .and_then(|(_, v)| match v {
                AMQPValue::FieldArray(deaths) => deaths.as_slice().first().cloned(),
                _ => None,
            })
            .and_then(|death| match death {
                AMQPValue::FieldTable(t) => t
                    .inner()
                    .iter()
                    .find(|(k, _)| k.as_str() == "reason")
                    .and_then(|(_, v)| string(v)),
                _ => None,
            });
        Some(
            first
                .or(from_x_death)
                .unwrap_or_else(|| format!("no reason in {headers:?}")),
        )
    })
    .await
}
