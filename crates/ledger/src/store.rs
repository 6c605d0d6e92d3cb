//! The ledger's tables (schema `ledger`): posting a transfer and recording a failed charge inside
//! the consumer's transaction, and the read queries behind the gRPC service. Every row is in
//! the book of its charge (live or test); every read is of one book, except an order's history.

use crate::charge::Charge;
use crate::domain::{Book, Transfer};
use chrono::{DateTime, Utc};
use sqlx::{PgPool, Postgres, Row, Transaction};
use uuid::Uuid;

/// Writes the transfer of a successful charge and its lines, in the charge's book. `None` when
/// the charge was posted before in that book (same provider charge, perhaps under another event
/// id): nothing is written then.
pub async fn post_transfer(
    tx: &mut Transaction<'_, Postgres>,
    event_id: Uuid,
    charge: &Charge,
    transfer: &Transfer,
) -> sqlx::Result<Option<Uuid>> {
    let id = Uuid::now_v7();
    let inserted = sqlx::query(
        "INSERT INTO transfers (id, event_id, charge_id, provider, merchant_id, order_id, channel_id,
                                kind, sequence, amount_minor, fee_minor, currency, occurred_at, book)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
         ON CONFLICT (book, charge_key) DO NOTHING",
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
    .execute(&mut **tx)
    .await?;
    if inserted.rows_affected() == 0 {
        return Ok(None);
    }
    let mut accounts = Vec::new();
    let mut debits = Vec::new();
    let mut credits = Vec::new();
    for line in &transfer.lines {
        let (d, c) = line.debit_credit();
        accounts.push(line.account.to_string());
        debits.push(d);
        credits.push(c);
    }
    sqlx::query(
        "INSERT INTO entries (transfer_id, account, debit, credit, currency, book)
         SELECT $1, a, d, c, $5, $6 FROM UNNEST($2::text[], $3::bigint[], $4::bigint[]) AS l(a, d, c)",
    )
    .bind(id)
    .bind(&accounts)
    .bind(&debits)
    .bind(&credits)
    .bind(charge.currency.as_str())
    .bind(charge.book.as_str())
    .execute(&mut **tx)
    .await?;
    Ok(Some(id))
}

/// Whether the stored lines of a transfer balance, as read back inside the transaction.
pub async fn is_balanced(
    tx: &mut Transaction<'_, Postgres>,
    transfer_id: Uuid,
) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "SELECT COALESCE(SUM(debit), 0) = COALESCE(SUM(credit), 0) AND COUNT(*) > 0
         FROM entries WHERE transfer_id = $1",
    )
    .bind(transfer_id)
    .fetch_one(&mut **tx)
    .await
}

/// Records a failed charge (never posted); false when this event was recorded before.
pub async fn record_failure(
    tx: &mut Transaction<'_, Postgres>,
    event_id: Uuid,
    charge: &Charge,
) -> sqlx::Result<bool> {
    let r = sqlx::query(
        "INSERT INTO failed_charges (event_id, merchant_id, order_id, provider, charge_id, kind,
                                     sequence, amount_minor, currency, reason, occurred_at, book)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         ON CONFLICT (event_id) DO NOTHING",
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
    .execute(&mut **tx)
    .await?;
    Ok(r.rows_affected() == 1)
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
