//! `paysys reconcile`: the ledger's live book against what a provider says it charged.
//!
//! The provider's side is its report: the sandbox's `GET /_sandbox/report?provider=P&since=T`
//! (or another URL answering the same JSON), or a CSV file with the header
//! `charge_key,order_reference,amount_minor,currency,charged_at`. `charge_key` is the ledger's
//! `transfers.charge_id` of the charge (Mobiltek and Teleaudio: the callback's `charge_id`;
//! Netopia `netopia:<purchase>`; MoCoPay `mocopay:<transactionId>`).
//!
//! The ledger's side is read with SQL from `ledger.transfers`: the live book's transfers of
//! the provider that occurred at or after `since`, plus any transfer (in either book) with a
//! key the provider reports, so a charge near `since` is never called missing only because the
//! two clocks differ. A reported charge found only in the test book is listed apart, not as a
//! difference (the provider's test environment).

use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::{PgPool, Row};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

/// One charge the provider reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reported {
    pub charge_key: String,
    #[serde(default)]
    pub order_reference: String,
    pub amount_minor: i64,
    pub currency: String,
    pub charged_at: Option<DateTime<Utc>>,
}

/// One transfer of the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Posted {
    pub charge_key: String,
    pub merchant_id: String,
    pub order_id: String,
    pub amount_minor: i64,
    pub currency: String,
    pub occurred_at: DateTime<Utc>,
    pub book: String,
}

/// The header line of the CSV report.
pub const CSV_HEADER: &str = "charge_key,order_reference,amount_minor,currency,charged_at";

/// Parses the CSV report (no quoting: none of the fields holds a comma); rows before `since`
/// are left out. Errors name the line.
pub fn parse_csv(text: &str, since: DateTime<Utc>) -> anyhow::Result<Vec<Reported>> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    match lines.next() {
        Some((_, h)) if h.trim().trim_start_matches('\u{feff}') == CSV_HEADER => {}
        _ => bail!("the first line must be the header {CSV_HEADER}"),
    }
    let mut out = Vec::new();
    for (i, line) in lines {
        let n = i + 1;
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        if f.len() != 5 {
            bail!("line {n}: 5 fields expected, found {}", f.len());
        }
        if f[0].is_empty() {
            bail!("line {n}: charge_key is empty");
        }
        let amount_minor: i64 = f[2]
            .parse()
            .with_context(|| format!("line {n}: amount_minor {:?} is not an integer", f[2]))?;
        let charged_at = DateTime::parse_from_rfc3339(f[4])
            .with_context(|| format!("line {n}: charged_at {:?} is not RFC 3339", f[4]))?
            .with_timezone(&Utc);
        if charged_at < since {
            continue;
        }
        out.push(Reported {
            charge_key: f[0].to_string(),
            order_reference: f[1].to_string(),
            amount_minor,
            currency: f[3].to_uppercase(),
            charged_at: Some(charged_at),
        });
    }
    Ok(out)
}

#[derive(Deserialize)]
struct ReportAnswer {
    charges: Vec<Reported>,
}

/// Asks the provider's report endpoint (`report_url?provider=P&since=T`).
pub async fn fetch_report(
    http: &reqwest::Client,
    report_url: &str,
    provider: &str,
    since: DateTime<Utc>,
) -> anyhow::Result<Vec<Reported>> {
    let resp = http
        .get(report_url)
        .query(&[("provider", provider), ("since", &since.to_rfc3339())])
        .send()
        .await
        .with_context(|| format!("cannot reach the provider report at {report_url}"))?;
    let status = resp.status();
    if !status.is_success() {
        let body = resp.text().await.unwrap_or_default();
        bail!("the provider report answered {status}: {body}");
    }
    let r: ReportAnswer = resp
        .json()
        .await
        .context("the provider report is not {\"charges\": [..]} JSON")?;
    Ok(r.charges
        .into_iter()
        .filter(|c| c.charged_at.is_none_or(|t| t >= since))
        .collect())
}

/// The ledger's transfers of `provider`: the live book's since `since`, and any with a key
/// in `keys`.
pub async fn ledger_charges(
    pool: &PgPool,
    provider: &str,
    since: DateTime<Utc>,
    keys: &[String],
) -> anyhow::Result<Vec<Posted>> {
    let rows = sqlx::query(
        "SELECT charge_id, merchant_id, order_id, amount_minor, currency, occurred_at, book
         FROM ledger.transfers
         WHERE provider = $1 AND ((book = 'live' AND occurred_at >= $2) OR charge_id = ANY($3))
         ORDER BY occurred_at, charge_id",
    )
    .bind(provider)
    .bind(since)
    .bind(keys)
    .fetch_all(pool)
    .await
    .context("reading ledger.transfers (is the ledger migrated? run `make up`)")?;
    rows.iter()
        .map(|r| {
            Ok(Posted {
                charge_key: r.try_get("charge_id")?,
                merchant_id: r.try_get("merchant_id")?,
                order_id: r.try_get("order_id")?,
                amount_minor: r.try_get("amount_minor")?,
                currency: r.try_get::<String, _>("currency")?.trim().to_string(),
                occurred_at: r.try_get("occurred_at")?,
                book: r.try_get("book")?,
            })
        })
        .collect()
}

/// What differs between the two sides.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Comparison {
    /// Charges the provider reports.
    pub provider_charges: usize,
    /// Live-book transfers of the provider since `since`.
    pub ledger_charges: usize,
    /// In both, same amount and currency.
    pub matched: usize,
    /// Reported by the provider, not in the ledger's live book.
    pub missing_in_ledger: Vec<Reported>,
    /// In the ledger's live book since `since`, not reported by the provider.
    pub missing_at_provider: Vec<Posted>,
    /// In both, with another amount or currency.
    pub mismatched: Vec<Value>,
    /// Reported and found only in the test book (the provider's test environment): not a
    /// difference.
    pub test_book: Vec<Reported>,
}

impl Comparison {
    pub fn agree(&self) -> bool {
        self.missing_in_ledger.is_empty()
            && self.missing_at_provider.is_empty()
            && self.mismatched.is_empty()
    }
}

pub fn compare(reported: &[Reported], posted: &[Posted], since: DateTime<Utc>) -> Comparison {
    let live: HashMap<&str, &Posted> = posted
        .iter()
        .filter(|p| p.book == "live")
        .map(|p| (p.charge_key.as_str(), p))
        .collect();
    let test: HashSet<&str> = posted
        .iter()
        .filter(|p| p.book != "live")
        .map(|p| p.charge_key.as_str())
        .collect();
    let mut c = Comparison {
        provider_charges: reported.len(),
        ..Default::default()
    };
    // The provider's report, once per key (a duplicated row is one charge).
    let mut by_key: BTreeMap<&str, &Reported> = BTreeMap::new();
    for r in reported {
        by_key.entry(r.charge_key.as_str()).or_insert(r);
    }
    for (key, r) in &by_key {
        match live.get(key) {
            Some(p) if p.amount_minor == r.amount_minor && p.currency == r.currency => {
                c.matched += 1
            }
            Some(p) => c.mismatched.push(json!({
                "charge_key": key,
                "order_reference": r.order_reference,
                "provider": {"amount_minor": r.amount_minor, "currency": r.currency},
                "ledger": {"amount_minor": p.amount_minor, "currency": p.currency,
                           "merchant_id": p.merchant_id, "order_id": p.order_id},
            })),
            None if test.contains(key) => c.test_book.push((*r).clone()),
            None => c.missing_in_ledger.push((*r).clone()),
        }
    }
    for p in posted
        .iter()
        .filter(|p| p.book == "live" && p.occurred_at >= since)
    {
        c.ledger_charges += 1;
        if !by_key.contains_key(p.charge_key.as_str()) {
            c.missing_at_provider.push(p.clone());
        }
    }
    c
}

/// Asks the provider to deliver a charge's callback again; the JSON answer.
pub async fn replay(
    http: &reqwest::Client,
    replay_url: &str,
    provider: &str,
    charge_key: &str,
) -> anyhow::Result<Value> {
    let resp = http
        .post(replay_url)
        .json(&json!({"provider": provider, "charge_key": charge_key}))
        .send()
        .await
        .with_context(|| format!("cannot reach {replay_url}"))?;
    let status = resp.status();
    let v: Value = resp.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        bail!("{replay_url} answered {status}: {v}");
    }
    Ok(v)
}

/// Waits (at most `wait`) until the live book holds every key of `keys`: a replayed callback
/// reaches the ledger through the event bus.
pub async fn wait_posted(pool: &PgPool, provider: &str, keys: &[String], wait: Duration) {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(DISTINCT charge_id) FROM ledger.transfers
             WHERE provider = $1 AND book = 'live' AND charge_id = ANY($2)",
        )
        .bind(provider)
        .bind(keys)
        .fetch_one(pool)
        .await
        .unwrap_or(0);
        if n as usize >= keys.len() || tokio::time::Instant::now() >= deadline {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The human table of a comparison.
pub fn print_table(provider: &str, since: DateTime<Utc>, c: &Comparison, replayed: &[Value]) {
    println!(
        "{provider} since {}: provider {} charges, ledger (live) {} charges, {} matched",
        since.to_rfc3339(),
        c.provider_charges,
        c.ledger_charges,
        c.matched
    );
    for r in replayed {
        println!(
            "replayed     {:<44} {}",
            r["charge_key"].as_str().unwrap_or(""),
            r["outcome"].as_str().unwrap_or("")
        );
    }
    let at = |t: &Option<DateTime<Utc>>| t.map(|t| t.to_rfc3339()).unwrap_or_default();
    for r in &c.missing_in_ledger {
        println!(
            "NOT IN LEDGER {:<44} {:>10} {} order {} at {}",
            r.charge_key,
            r.amount_minor,
            r.currency,
            r.order_reference,
            at(&r.charged_at)
        );
    }
    for p in &c.missing_at_provider {
        println!(
            "NOT REPORTED  {:<44} {:>10} {} merchant {} order {} at {}",
            p.charge_key,
            p.amount_minor,
            p.currency,
            p.merchant_id,
            p.order_id,
            p.occurred_at.to_rfc3339()
        );
    }
    for m in &c.mismatched {
        println!(
            "DIFFERS       {:<44} provider {} {}, ledger {} {}",
            m["charge_key"].as_str().unwrap_or(""),
            m["provider"]["amount_minor"],
            m["provider"]["currency"].as_str().unwrap_or(""),
            m["ledger"]["amount_minor"],
            m["ledger"]["currency"].as_str().unwrap_or("")
        );
    }
    for r in &c.test_book {
        println!(
            "test book     {:<44} {:>10} {} (the provider's test environment; not compared)",
            r.charge_key, r.amount_minor, r.currency
        );
    }
    if c.agree() {
        println!("ledger and provider agree");
    } else {
        println!(
            "{} differences",
            c.missing_in_ledger.len() + c.missing_at_provider.len() + c.mismatched.len()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn csv_rows_since_are_read_and_bad_lines_named() {
        let text = format!(
            "{CSV_HEADER}\nk1,o1,100,pln,2026-01-02T00:00:00Z\nk0,o0,5,PLN,2025-12-31T00:00:00Z\n"
        );
        let rows = parse_csv(&text, t("2026-01-01T00:00:00Z")).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(
            (rows[0].charge_key.as_str(), rows[0].amount_minor),
            ("k1", 100)
        );
        assert_eq!(rows[0].currency, "PLN");
        let err = parse_csv(
            &format!("{CSV_HEADER}\nk1,o1,x,PLN,2026-01-02T00:00:00Z"),
            t("2026-01-01T00:00:00Z"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
        assert!(parse_csv("a,b\n", t("2026-01-01T00:00:00Z")).is_err());
    }

    #[test]
    fn differences_are_sorted_out() {
        let since = t("2026-01-01T00:00:00Z");
        let rep = |k: &str, a: i64| Reported {
            charge_key: k.into(),
            order_reference: "o".into(),
            amount_minor: a,
            currency: "PLN".into(),
            charged_at: Some(since),
        };
        let post = |k: &str, a: i64, book: &str| Posted {
            charge_key: k.into(),
            merchant_id: "1".into(),
            order_id: "o".into(),
            amount_minor: a,
            currency: "PLN".into(),
            occurred_at: since,
            book: book.into(),
        };
        let c = compare(
            &[
                rep("same", 1),
                rep("lost", 2),
                rep("differs", 3),
                rep("test", 4),
            ],
            &[
                post("same", 1, "live"),
                post("differs", 30, "live"),
                post("extra", 5, "live"),
                post("test", 4, "test"),
            ],
            since,
        );
        assert_eq!(c.matched, 1);
        assert_eq!(c.missing_in_ledger[0].charge_key, "lost");
        assert_eq!(c.missing_at_provider[0].charge_key, "extra");
        assert_eq!(c.mismatched[0]["charge_key"], "differs");
        assert_eq!(c.test_book[0].charge_key, "test");
        assert_eq!((c.provider_charges, c.ledger_charges), (4, 3));
        assert!(!c.agree());
    }
}
