//! What the run proves, checked from outside only: the merchant API (`get_transaction_status`
//! of every order), the ledger's gRPC (statements and totals), the sandbox's report of what it
//! charged, the merchant's endpoint (what arrived, with which `webhook-id`) and the operator CLI
//! (`paysys dlq list`, `paysys notifications list --status dead`).

use crate::load::{Load, Order};
use crate::merchant::{Note, MERCHANTS};
use crate::system::System;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

/// Everything found wrong, and what was counted.
#[derive(Debug, Default)]
pub struct Findings {
    pub orders: usize,
    pub performed: usize,
    pub posted: usize,
    /// Performed by the sandbox, not posted: (when its order was created, if known; what).
    pub lost: Vec<(Option<f64>, String)>,
    /// Posted twice, or posted without being performed.
    pub doubled: Vec<(Option<f64>, String)>,
    /// Posted with another amount or currency than performed.
    pub mismatched: Vec<String>,
    /// Orders in a non-final state, or whose edge and adapter disagree: (created at, why).
    pub stuck: Vec<(f64, String)>,
    pub notifications_expected: usize,
    pub notifications_received: usize,
    pub deliveries: usize,
    pub notif_missing: Vec<String>,
    /// One notification that came with more than one webhook-id.
    pub notif_doubled: Vec<String>,
    /// A notification of an event the order does not show.
    pub notif_unexpected: Vec<String>,
    pub bad_signatures: usize,
    pub unbalanced: Vec<String>,
    pub currencies: Vec<String>,
    pub dead_letters: Option<usize>,
    pub dead_notifications: Option<usize>,
    pub errors: Vec<String>,
}

impl Findings {
    pub fn failures(&self) -> usize {
        self.lost.len()
            + self.doubled.len()
            + self.mismatched.len()
            + self.stuck.len()
            + self.notif_missing.len()
            + self.notif_doubled.len()
            + self.notif_unexpected.len()
            + self.bad_signatures
            + self.unbalanced.len()
            + self.dead_letters.unwrap_or(1)
            + self.dead_notifications.unwrap_or(1)
            + self.errors.len()
    }
}

type Statuses = HashMap<String, Value>;

/// `get_transaction_status` of these orders, 8 at a time; an order the edge does not know
/// (the merchant gave up before it was ever stored) is left out.
async fn statuses(load: &Load, orders: &[Order], errors: &mut Vec<String>) -> Statuses {
    use futures::StreamExt;
    let results: Vec<(String, Result<Value, String>)> = futures::stream::iter(orders.iter())
        .map(|o| async move {
            let deadline = Instant::now() + Duration::from_secs(30);
            (
                o.id.clone(),
                load.api.status(o.merchant, &o.id, deadline).await,
            )
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let mut out = Statuses::new();
    for (id, r) in results {
        match r {
            Ok(v) => {
                out.insert(id, v);
            }
            Err(e) if e.contains("no such order") || e.contains("-32602") => {}
            Err(e) => errors.push(e),
        }
    }
    out
}

/// Every charge the ledger posted (live book) per charge id, from each merchant's statement.
async fn ledger(sys: &System) -> Result<Vec<paysys_proto::Charge>, String> {
    let ch = paysys_platform::grpc::connect(
        &sys.ports.url("ledger"),
        &paysys_platform::internal::InternalToken::new(sys.setup.token.clone()),
    )
    .await
    .map_err(|e| format!("ledger: {e:#}"))?;
    let mut client = paysys_proto::ledger_client::LedgerClient::new(ch);
    let mut all = Vec::new();
    for m in MERCHANTS {
        let r = client
            .statement(paysys_proto::StatementRequest {
                merchant_id: m.0.into(),
                test: false,
            })
            .await
            .map_err(|e| format!("ledger statement {}: {e}", m.0))?;
        all.extend(
            r.into_inner()
                .charges
                .into_iter()
                .filter(|c| c.status == "posted"),
        );
    }
    Ok(all)
}

async fn totals(sys: &System, f: &mut Findings) {
    let ch = match paysys_platform::grpc::connect(
        &sys.ports.url("ledger"),
        &paysys_platform::internal::InternalToken::new(sys.setup.token.clone()),
    )
    .await
    {
        Ok(ch) => ch,
        Err(e) => {
            f.errors.push(format!("ledger: {e:#}"));
            return;
        }
    };
    let mut client = paysys_proto::ledger_client::LedgerClient::new(ch);
    for test in [false, true] {
        match client.totals(paysys_proto::TotalsRequest { test }).await {
            Ok(r) => {
                for t in r.into_inner().totals {
                    if !test {
                        f.currencies.push(t.currency.clone());
                    }
                    if t.debits != t.credits {
                        f.unbalanced.push(format!(
                            "{} book {}: debits {} credits {}",
                            if test { "test" } else { "live" },
                            t.currency,
                            t.debits,
                            t.credits
                        ));
                    }
                }
            }
            Err(e) => f.errors.push(format!("ledger totals: {e}")),
        }
    }
}

/// The logical notification an event makes: (merchant, order, method, charge sequence).
type NotifKey = (String, String, String, i64);

fn expected_notifications(orders: &[Order], st: &Statuses) -> BTreeMap<NotifKey, usize> {
    let mut expected = BTreeMap::new();
    for o in orders {
        let Some(v) = st.get(&o.id) else { continue };
        for e in v["events"].as_array().into_iter().flatten() {
            let kind = e["kind"].as_str().unwrap_or("");
            if let Some(method) = paysys_platform::events::notification_method(kind) {
                let key = (
                    o.merchant.0.to_string(),
                    o.id.clone(),
                    method.to_string(),
                    e["sequence"].as_i64().unwrap_or(0),
                );
                *expected.entry(key).or_insert(0) += 1;
            }
        }
    }
    expected
}

/// Compares what happened with what should have, once.
fn evaluate(
    orders: &[Order],
    st: &Statuses,
    posted: &[paysys_proto::Charge],
    load: &Load,
    notes: &[Note],
) -> Findings {
    let mut f = Findings {
        orders: st.len(),
        ..Default::default()
    };
    // Charges: what the sandbox performed against what the ledger posted.
    let performed = load.performed.lock().expect("performed").clone();
    f.performed = performed.len();
    f.posted = posted.len();
    let mut by_id: HashMap<&str, Vec<&paysys_proto::Charge>> = HashMap::new();
    for c in posted {
        by_id.entry(c.charge_id.as_str()).or_default().push(c);
    }
    let performed_keys: BTreeSet<&str> = performed.keys().map(|(_, k)| k.as_str()).collect();
    // Which order a charge belongs to, as the edge and the adapter tell (for the table).
    let created: HashMap<&str, f64> = orders.iter().map(|o| (o.id.as_str(), o.created)).collect();
    let mut charge_created: HashMap<String, f64> = HashMap::new();
    for o in orders {
        let Some(v) = st.get(&o.id) else { continue };
        let ids = v["events"]
            .as_array()
            .into_iter()
            .flatten()
            .chain(
                v["provider_view"]["charges"]
                    .as_array()
                    .into_iter()
                    .flatten(),
            )
            .filter_map(|c| c["charge_id"].as_str());
        for id in ids {
            charge_created.insert(id.to_string(), o.created);
        }
    }
    for ((provider, key), p) in &performed {
        match by_id.get(key.as_str()) {
            None => f.lost.push((
                charge_created.get(key).copied(),
                format!(
                    "{provider} charge {key} ({} {}, provider order {}) performed, never posted",
                    p.amount, p.currency, p.order_reference
                ),
            )),
            Some(cs) => {
                let c = cs[0];
                if c.amount != p.amount || c.currency != p.currency || c.provider != *provider {
                    f.mismatched.push(format!(
                        "{provider} charge {key}: performed {} {}, posted {} {} ({})",
                        p.amount, p.currency, c.amount, c.currency, c.provider
                    ));
                }
            }
        }
    }
    for (id, cs) in &by_id {
        let at = created.get(cs[0].order_id.as_str()).copied();
        if cs.len() > 1 {
            f.doubled.push((
                at,
                format!(
                    "charge {id} posted {} times (order {})",
                    cs.len(),
                    cs[0].order_id
                ),
            ));
        }
        if !performed_keys.contains(id) {
            f.doubled.push((
                at,
                format!(
                    "charge {id} of order {} ({} {} {}) posted, never performed by the sandbox",
                    cs[0].order_id, cs[0].provider, cs[0].amount, cs[0].currency
                ),
            ));
        }
    }
    // Orders: final, and the edge agrees with the adapter.
    for o in orders {
        let Some(v) = st.get(&o.id) else { continue };
        let state = v["state"].as_str().unwrap_or("");
        let adapter = v["provider_view"]["state"].as_str().unwrap_or("");
        if !crate::load::is_final(state) {
            f.stuck
                .push((o.created, format!("{} ({:?}) is {state}", o.id, o.flow)));
        } else if !adapter.is_empty() && adapter != state {
            f.stuck.push((
                o.created,
                format!(
                    "{} ({:?}): edge says {state}, adapter {adapter}",
                    o.id, o.flow
                ),
            ));
        }
    }
    // Notifications: each expected one arrived (answered 2xx) under one stable webhook-id.
    let expected = expected_notifications(orders, st);
    let mut ids: BTreeMap<NotifKey, (BTreeSet<String>, BTreeSet<String>)> = BTreeMap::new();
    for n in notes {
        let key = (
            n.merchant.clone(),
            n.order_id.clone(),
            n.method.clone(),
            n.seq,
        );
        let e = ids.entry(key).or_default();
        e.0.insert(n.webhook_id.clone());
        if n.answered {
            e.1.insert(n.webhook_id.clone());
        }
        if !n.signed {
            f.bad_signatures += 1;
        }
    }
    f.deliveries = notes.len();
    f.notifications_expected = expected.values().sum();
    for (key, want) in &expected {
        let (all, answered) = ids.get(key).cloned().unwrap_or_default();
        f.notifications_received += answered.len().min(*want);
        if answered.len() < *want {
            f.notif_missing.push(format!(
                "{} {} seq {} for merchant {}: {} of {want} arrived",
                key.2,
                key.1,
                key.3,
                key.0,
                answered.len()
            ));
        }
        if all.len() > *want {
            f.notif_doubled.push(format!(
                "{} {} seq {}: {want} event(s), {} webhook-ids {:?}",
                key.2,
                key.1,
                key.3,
                all.len(),
                all
            ));
        }
    }
    let known: BTreeSet<&str> = st.keys().map(String::as_str).collect();
    for key in ids.keys() {
        if known.contains(key.1.as_str()) && !expected.contains_key(key) {
            f.notif_unexpected.push(format!(
                "{} {} seq {} arrived, but the order shows no such event",
                key.2, key.1, key.3
            ));
        }
    }
    f
}

/// Waits (at most `within`) for positive evidence that the system settled: every order final,
/// every performed charge posted, every notification arrived; then checks everything once more
/// on fresh data. Returns the findings and how long it waited.
pub async fn drain_and_check(sys: &System, load: &Load, within: Duration) -> (Findings, Duration) {
    let started = Instant::now();
    let orders = load.orders.lock().expect("orders").clone();
    let mut errors = Vec::new();
    let mut st = statuses(load, &orders, &mut errors).await;
    loop {
        let posted = ledger(sys).await.unwrap_or_default();
        let f = evaluate(&orders, &st, &posted, load, &load.receiver.all());
        let settled = f.lost.is_empty()
            && f.stuck.is_empty()
            && f.notif_missing.is_empty()
            && f.errors.is_empty();
        if settled || started.elapsed() > within {
            break;
        }
        println!(
            "[chaos] draining ({:.0}s): {} charges not posted yet, {} orders not final, {} notifications not arrived{}",
            started.elapsed().as_secs_f64(),
            f.lost.len(),
            f.stuck.len(),
            f.notif_missing.len(),
            f.stuck
                .first()
                .map(|(_, why)| format!(" (e.g. {why})"))
                .unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_secs(3)).await;
        // Only the orders still moving are asked again; the final pass asks all.
        let moving: BTreeSet<String> = f
            .stuck
            .iter()
            .filter_map(|(_, why)| why.split(' ').next().map(str::to_string))
            .chain(
                f.notif_missing
                    .iter()
                    .filter_map(|m| m.split(' ').nth(1).map(str::to_string)),
            )
            .collect();
        let again: Vec<Order> = orders
            .iter()
            .filter(|o| moving.contains(&o.id))
            .cloned()
            .collect();
        st.extend(statuses(load, &again, &mut Vec::new()).await);
    }
    let waited = started.elapsed();
    // The final pass, on fresh data.
    let mut errors = Vec::new();
    let st = statuses(load, &orders, &mut errors).await;
    let mut f = match ledger(sys).await {
        Ok(posted) => evaluate(&orders, &st, &posted, load, &load.receiver.all()),
        Err(e) => Findings {
            errors: vec![e],
            ..Default::default()
        },
    };
    f.errors.extend(errors);
    totals(sys, &mut f).await;
    let notifier = sys.ports.url("notifier");
    f.dead_letters = match sys.cli(&["dlq", "list", "--json"], "").await {
        Ok(out) => serde_json::from_str::<Value>(&out)
            .ok()
            .and_then(|v| v.as_array().map(Vec::len)),
        Err(e) => {
            f.errors.push(format!("paysys dlq list: {e:#}"));
            None
        }
    };
    f.dead_notifications = match sys
        .cli(
            &[
                "--notifier-url",
                &notifier,
                "notifications",
                "list",
                "--status",
                "dead",
                "--json",
            ],
            "",
        )
        .await
    {
        Ok(out) => serde_json::from_str::<Value>(&out)
            .ok()
            .and_then(|v| v.as_array().map(Vec::len)),
        Err(e) => {
            f.errors.push(format!("paysys notifications list: {e:#}"));
            None
        }
    };
    (f, waited)
}
