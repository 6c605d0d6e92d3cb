//! Turns charge events (queue `ledger.events`) into the books: one statement per event (one
//! round trip, one commit) holds the inbox claim and either the posted transfer or the recorded
//! failure, so a redelivery, a duplicate or a replay under a new event id changes nothing.

use crate::charge::{Charge, Outcome};
use crate::domain::{self, FeeBps};
use crate::store::{self, Applied};
use paysys_platform::broker::{HandleError, Handler, Message};
use paysys_platform::events::decode;
use sqlx::PgPool;
use std::sync::Arc;

/// Database errors are retried (with backoff, while the database is down), except integrity
/// violations (class 23: a CHECK, the balance trigger) and data exceptions (class 22), which
/// would fail the same way every time ([`HandleError::database`]).
fn db_error(e: sqlx::Error) -> HandleError {
    match HandleError::database(e) {
        HandleError::Poison(e) => HandleError::Poison(e.context("ledger database")),
        HandleError::Transient(e) => HandleError::Transient(e.context("ledger database")),
    }
}

fn poison(e: impl Into<anyhow::Error>) -> HandleError {
    HandleError::Poison(e.into())
}

#[derive(Clone)]
pub struct Consumer {
    pool: PgPool,
    fee_bps: FeeBps,
}

impl Consumer {
    pub fn new(pool: PgPool, fee_bps: FeeBps) -> Self {
        Self { pool, fee_bps }
    }

    pub fn handler(self) -> Handler {
        Arc::new(move |msg| {
            let me = self.clone();
            Box::pin(async move { me.handle(msg).await })
        })
    }

    pub async fn handle(&self, msg: Message) -> Result<(), HandleError> {
        let (event_id, event) = decode(&msg)?;
        let Some(charge) = Charge::from_event(&event).map_err(poison)? else {
            tracing::debug!(kind = %event.kind, "not a charge; ignored");
            return Ok(());
        };
        // Computed before the transaction: an amount the books cannot hold is poison, not a retry.
        let transfer = match charge.outcome {
            Outcome::Succeeded => Some(
                domain::transfer_lines(
                    charge.amount_minor,
                    self.fee_bps,
                    &charge.provider,
                    &charge.merchant_id,
                )
                .map_err(poison)?,
            ),
            Outcome::Failed => None,
        };
        let applied = match transfer {
            Some(transfer) => {
                // Balanced before it is written: a bug, not bad input, is dead-lettered so the
                // event can be replayed after the fix. The database checks again at commit.
                let (debits, credits) = transfer.sums();
                if debits != credits || debits <= 0 {
                    return Err(poison(anyhow::anyhow!(
                        "the transfer of charge {}:{} would be unbalanced",
                        charge.provider,
                        charge.charge_id
                    )));
                }
                store::post_transfer(&self.pool, event_id, &charge, &transfer)
                    .await
                    .map_err(db_error)?
            }
            None => store::record_failure(&self.pool, event_id, &charge)
                .await
                .map_err(db_error)?,
        };
        let result = match applied {
            Applied::Redelivered => {
                metrics::counter!("paysys_ledger_events_total", "result" => "redelivered")
                    .increment(1);
                return Ok(());
            }
            Applied::Posted => "posted",
            Applied::DuplicateCharge => "duplicate_charge",
            Applied::FailureRecorded => "failed_recorded",
        };
        tracing::info!(
            %event_id,
            merchant_id = %charge.merchant_id,
            order_id = %charge.order_id,
            book = %charge.book,
            charge_id = %charge.charge_id,
            result,
            "charge event applied"
        );
        let book = charge.book.as_str();
        metrics::counter!("paysys_ledger_events_total", "result" => result, "book" => book)
            .increment(1);
        Ok(())
    }
}
