//! gRPC `Ledger`: balances of a merchant's accounts, its statement, the charge history of one
//! order (e.g. the n-th charge of a subscription) and the debits = credits invariant. Balances,
//! statements and totals are of the live book unless the request sets `test`.

use crate::domain::{Account, Book};
use crate::store::{self, ChargeRow};
use paysys_proto::ledger_server::Ledger;
use paysys_proto::{
    AccountBalance, BalanceRequest, BalanceResponse, Charge, CurrencyTotals, StatementRequest,
    StatementResponse, SubscriptionChargesRequest, TotalsRequest, TotalsResponse,
};
use sqlx::PgPool;
use tonic::{Request, Response, Status};

pub struct LedgerService {
    pool: PgPool,
}

impl LedgerService {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

fn internal(e: sqlx::Error) -> Status {
    tracing::error!(error = %e, "ledger query failed");
    Status::internal("ledger query failed")
}

fn required(field: &str, v: &str) -> Result<(), Status> {
    if v.trim().is_empty() {
        Err(Status::invalid_argument(format!(
            "{field} must not be empty"
        )))
    } else {
        Ok(())
    }
}

fn charge(r: ChargeRow) -> Charge {
    Charge {
        order_id: r.order_id,
        amount: r.amount_minor,
        currency: r.currency,
        kind: r.kind,
        // Stored from a u32 and checked >= 0 by the table.
        sequence: u32::try_from(r.sequence).unwrap_or_default(),
        provider: r.provider,
        occurred_at: r
            .occurred_at
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        charge_id: r.charge_id,
        status: r.status,
        test: r.test,
    }
}

#[tonic::async_trait]
impl Ledger for LedgerService {
    async fn balance(
        &self,
        req: Request<BalanceRequest>,
    ) -> Result<Response<BalanceResponse>, Status> {
        let BalanceRequest { merchant_id, test } = req.into_inner();
        required("merchant_id", &merchant_id)?;
        let sums = store::merchant_sums(&self.pool, &merchant_id, Book::of(test))
            .await
            .map_err(internal)?;
        let accounts = sums
            .into_iter()
            .map(|s| {
                let balance = Account::parse(&s.account)
                    .and_then(|a| a.balance(s.debits, s.credits))
                    .ok_or_else(|| {
                        Status::internal(format!("account {} cannot be reported", s.account))
                    })?;
                Ok(AccountBalance {
                    account: s.account,
                    currency: s.currency,
                    balance_minor: balance,
                })
            })
            .collect::<Result<_, Status>>()?;
        Ok(Response::new(BalanceResponse { accounts }))
    }

    async fn statement(
        &self,
        req: Request<StatementRequest>,
    ) -> Result<Response<StatementResponse>, Status> {
        let StatementRequest { merchant_id, test } = req.into_inner();
        required("merchant_id", &merchant_id)?;
        let rows = store::statement(&self.pool, &merchant_id, Book::of(test))
            .await
            .map_err(internal)?;
        Ok(Response::new(StatementResponse {
            charges: rows.into_iter().map(charge).collect(),
        }))
    }

    async fn subscription_charges(
        &self,
        req: Request<SubscriptionChargesRequest>,
    ) -> Result<Response<StatementResponse>, Status> {
        let req = req.into_inner();
        required("merchant_id", &req.merchant_id)?;
        required("order_id", &req.order_id)?;
        let rows = store::order_charges(&self.pool, &req.merchant_id, &req.order_id)
            .await
            .map_err(internal)?;
        Ok(Response::new(StatementResponse {
            charges: rows.into_iter().map(charge).collect(),
        }))
    }

    async fn totals(
        &self,
        req: Request<TotalsRequest>,
    ) -> Result<Response<TotalsResponse>, Status> {
        let book = Book::of(req.into_inner().test);
        let totals = store::totals(&self.pool, book)
            .await
            .map_err(internal)?
            .into_iter()
            .map(|(currency, debits, credits)| CurrencyTotals {
                currency,
                debits,
                credits,
            })
            .collect();
        Ok(Response::new(TotalsResponse { totals }))
    }
}
