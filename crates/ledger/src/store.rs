//! The ledger's tables (schema `ledger`): posting a transfer and recording a failed charge inside
//! the consumer's transaction, and the read queries behind the gRPC service. Every row is in
//! the book of its charge (live or test); every read is of one book, except an order's history.

use crate::charge::Charge;
use crate::domain::{Book, Transfer};
use chrono::{DateTime, Utc};
use sqlx::{PgPool, Row};
use uuid::Uuid;

/// What became of a charge event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The event was claimed before (a redelivery): nothing written.
    Redelivered,
    /// Posted: the transfer and its lines written.
    Posted,
    /// The charge was posted before in its book (same provider charge, perhaps under another
    /// event id): only the event's claim written.
    DuplicateCharge,
    /// A failed charge, recorded (never posted).
    FailureRecorded,
}

/// Claims the event in the inbox and writes the transfer of a successful charge with its lines,
/// in the charge's book, in ONE statement (one round trip, one commit). The database checks at
/// commit that the lines balance per currency (the deferred trigger `entries_balanced`).
pub async fn post_transfer(
    pool: &PgPool,
    event_id: Uuid,
    charge: &Charge,
    transfer: &Transfer,
) -> sqlx::Result<Applied> {
    let id = Uuid::now_v7();
    let mut accounts = Vec::new();
    let mut debits = Vec::new();
    let mut credits = Vec::new();
    for line in &transfer.lines {
        let (d, c) = line.debit_credit();
        accounts.push(line.account.to_string());
        debits.push(d);
        credits.push(c);
    }
    let (claimed, transfer_id): (bool, Option<Uuid>) = sqlx::query_as(
        "WITH claimed AS (
             INSERT INTO inbox (message_id) VALUES ($2) ON CONFLICT DO NOTHING RETURNING message_id),
         t AS (
             INSERT INTO transfers (id, event_id, charge_id, provider, merchant_id, order_id, channel_id,
                                    kind, sequence, amount_minor, fee_minor, currency, occurred_at, book)
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14 FROM claimed
             ON CONFLICT (book, charge_key) DO NOTHING RETURNING id),
         e AS (
             INSERT INTO entries (transfer_id, account, debit, credit, currency, book)
             SELECT t.id, a, d, c, $12, $14
             FROM t, UNNEST($15::text[], $16::bigint[], $17::bigint[]) AS l(a, d, c))
         SELECT EXISTS (SELECT 1 FROM claimed), (SELECT id FROM t)",
    )
    .bind(id)
    .bind(event_id)
    .bind(&charge.charge_id)
    .bind(&charge.provider)
    .bind(&charge.merchant_id)
    .bind(&charge.order_id)
    .bind(&charge.channel_id)
    .bind(charge.kind.as_str())
    .bind(charge.sequence)
    .bind(charge.amount_minor)
    .bind(transfer.fee)
    .bind(charge.currency.as_str())
    .bind(charge.occurred_at)
    .bind(charge.book.as_str())
    .bind(&accounts)
    .bind(&debits)
    .bind(&credits)
    .fetch_one(pool)
    .await?;
    Ok(match (claimed, transfer_id) {
        (false, _) => Applied::Redelivered,
        (true, Some(_)) => Applied::Posted,
        (true, None) => Applied::DuplicateCharge,
    })
}

/// Claims the event and records a failed charge (never posted), in one statement.
pub async fn record_failure(
    pool: &PgPool,
    event_id: Uuid,
    charge: &Charge,
) -> sqlx::Result<Applied> {
    let claimed: bool = sqlx::query_scalar(
        "WITH claimed AS (
             INSERT INTO inbox (message_id) VALUES ($1) ON CONFLICT DO NOTHING RETURNING message_id),
         f AS (
             INSERT INTO failed_charges (event_id, merchant_id, order_id, provider, charge_id, kind,
                                         sequence, amount_minor, currency, reason, occurred_at, book)
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12 FROM claimed
             ON CONFLICT (event_id) DO NOTHING)
         SELECT EXISTS (SELECT 1 FROM claimed)",
    )
    .bind(event_id)
    .bind(&charge.merchant_id)
    .bind(&charge.order_id)
    .bind(&charge.provider)
    .bind(&charge.charge_id)
    .bind(charge.kind.as_str())
    .bind(charge.sequence)
    .bind(charge.amount_minor)
    .bind(charge.currency.as_str())
    .bind(&charge.failure_reason)
    .bind(charge.occurred_at)
    .bind(charge.book.as_str())
    .fetch_one(pool)
    .await?;
    Ok(if claimed {
        Applied::FailureRecorded
    } else {
        Applied::Redelivered
    })
}

/// Summed lines of one account in one currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountSums {
    pub account: String,
    pub currency: String,
    pub debits: i64,
    pub credits: i64,
}

/// Sums per (account, currency) over the entries of a merchant's transfers in one book.
pub async fn merchant_sums(
    pool: &PgPool,
    merchant_id: &str,
    book: Book,
) -> sqlx::Result<Vec<AccountSums>> {
    let rows = sqlx::query(
        "SELECT e.account, e.currency, SUM(e.debit)::BIGINT AS debits, SUM(e.credit)::BIGINT AS credits
         FROM entries e JOIN transfers t ON t.id = e.transfer_id AND t.book = e.book
         WHERE t.merchant_id = $1 AND t.book = $2
         GROUP BY e.account, e.currency ORDER BY e.account, e.currency",
    )
    .bind(merchant_id)
    .bind(book.as_str())
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(AccountSums {
                account: r.try_get("account")?,
                currency: r.try_get("currency")?,
                debits: r.try_get("debits")?,
                credits: r.try_get("credits")?,
            })
        })
        .collect()
}

/// Total debits and credits per currency over every entry of one book.
pub async fn totals(pool: &PgPool, book: Book) -> sqlx::Result<Vec<(String, i64, i64)>> {
    let rows = sqlx::query(
        "SELECT currency, SUM(debit)::BIGINT AS debits, SUM(credit)::BIGINT AS credits
         FROM entries WHERE book = $1 GROUP BY currency ORDER BY currency",
    )
    .bind(book.as_str())
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("currency")?,
                r.try_get("debits")?,
                r.try_get("credits")?,
            ))
        })
        .collect()
}

/// A charge as the read side lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeRow {
    pub order_id: String,
    pub amount_minor: i64,
    pub currency: String,
    pub kind: String,
    pub sequence: i32,
    pub provider: String,
    pub occurred_at: DateTime<Utc>,
    pub charge_id: String,
    /// posted | failed
    pub status: String,
    /// Accounted in the test book.
    pub test: bool,
}

const POSTED: &str =
    "SELECT order_id, amount_minor, currency, kind, sequence, provider, occurred_at,
                             charge_id, 'posted' AS status, book = 'test' AS test
                      FROM transfers";
const FAILED: &str =
    "SELECT order_id, amount_minor, currency, kind, sequence, provider, occurred_at,
                             charge_id, 'failed' AS status, book = 'test' AS test
                      FROM failed_charges";

/// A merchant's posted charges in one book, in the order they happened.
pub async fn statement(
    pool: &PgPool,
    merchant_id: &str,
    book: Book,
) -> sqlx::Result<Vec<ChargeRow>> {
    let sql = format!(
        "{POSTED} WHERE merchant_id = $1 AND book = $2 ORDER BY occurred_at, sequence, posted_at"
    );
    let rows = sqlx::query(&sql)
        .bind(merchant_id)
        .bind(book.as_str())
        .fetch_all(pool)
        .await?;
    rows.iter().map(charge_row).collect()
}

/// Every charge attempt of one order, posted or failed, by sequence, whichever its book (an
/// order is a test order or not; each row says which).
pub async fn order_charges(
    pool: &PgPool,
    merchant_id: &str,
    order_id: &str,
) -> sqlx::Result<Vec<ChargeRow>> {
    let sql = format!(
        "SELECT * FROM ({POSTED} WHERE merchant_id = $1 AND order_id = $2
                        UNION ALL
                        {FAILED} WHERE merchant_id = $1 AND order_id = $2) c
         ORDER BY sequence, occurred_at, status DESC"
    );
    let rows = sqlx::query(&sql)
        .bind(merchant_id)
        .bind(order_id)
        .fetch_all(pool)
        .await?;
    rows.iter().map(charge_row).collect()
}

fn charge_row(r: &sqlx::postgres::PgRow) -> sqlx::Result<ChargeRow> {
    Ok(ChargeRow {
        order_id: r.try_get("order_id")?,
        amount_minor: r.try_get("amount_minor")?,
        currency: r.try_get("currency")?,
        kind: r.try_get("kind")?,
        sequence: r.try_get("sequence")?,
        provider: r.try_get("provider")?,
        occurred_at: r.try_get("occurred_at")?,
        charge_id: r.try_get("charge_id")?,
        status: r.try_get("status")?,
        test: r.try_get("test")?,
    })
}
