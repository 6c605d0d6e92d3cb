//! `paysys ledger balance|statement|totals [--test]`: the real binary against a Ledger gRPC
//! service that keeps a live and a test book; without `--test` the CLI asks for the live book,
//! with it for the test book, and says which book it shows.

use paysys_platform::Shutdown;
use paysys_proto::ledger_server::{Ledger, LedgerServer};
use paysys_proto::{
    AccountBalance, BalanceRequest, BalanceResponse, Charge, CurrencyTotals, StatementRequest,
    StatementResponse, SubscriptionChargesRequest, TotalsRequest, TotalsResponse,
};
use serde_json::Value;
use std::process::Command;
use tonic::{Request, Response, Status};

/// Two books of merchant 19: a live charge of 1000 PLN and a test charge of 100 PLN.
struct TwoBooks;

fn amount(test: bool) -> i64 {
    if test {
        100
    } else {
        1000
    }
}

#[tonic::async_trait]
impl Ledger for TwoBooks {
    async fn balance(
        &self,
        req: Request<BalanceRequest>,
    ) -> Result<Response<BalanceResponse>, Status> {
        let test = req.into_inner().test;
        Ok(Response::new(BalanceResponse {
            accounts: vec![AccountBalance {
                account: "provider_receivable:teleaudio".into(),
                currency: "PLN".into(),
                balance_minor: amount(test),
            }],
        }))
    }

    async fn statement(
        &self,
        req: Request<StatementRequest>,
    ) -> Result<Response<StatementResponse>, Status> {
        let test = req.into_inner().test;
        Ok(Response::new(StatementResponse {
            charges: vec![Charge {
                order_id: if test { "test-order" } else { "live-order" }.into(),
                amount: amount(test),
                currency: "PLN".into(),
                kind: "recurring".into(),
                sequence: 1,
                provider: "teleaudio".into(),
                occurred_at: "2026-11-30T10:00:00.000Z".into(),
                charge_id: "c-1".into(),
                status: "posted".into(),
                test,
            }],
        }))
    }

    async fn subscription_charges(
        &self,
        _req: Request<SubscriptionChargesRequest>,
    ) -> Result<Response<StatementResponse>, Status> {
        Err(Status::unimplemented("not used by the CLI"))
    }

    async fn totals(
        &self,
        req: Request<TotalsRequest>,
    ) -> Result<Response<TotalsResponse>, Status> {
        let test = req.into_inner().test;
        Ok(Response::new(TotalsResponse {
            totals: vec![CurrencyTotals {
                currency: "PLN".into(),
                debits: amount(test),
                credits: amount(test),
            }],
        }))
    }
}

fn paysys(ledger_url: &str, args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_paysys"))
        .env(
            "PAYSYS__INTERNAL__TOKEN",
            paysys_platform::testing::INTERNAL_TOKEN,
        )
        .args(["--ledger-url", ledger_url, "--json", "ledger"])
        .args(args)
        .output()
        .expect("run paysys");
    assert!(
        out.status.success(),
        "paysys ledger {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON output")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ledger_queries_read_the_live_book_unless_test_is_given() {
    let listener = paysys_platform::server::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!(
        "http://127.0.0.1:{}",
        listener.local_addr().expect("addr").port()
    );
    let shutdown = Shutdown::new();
    let router = tonic::service::Routes::new(LedgerServer::new(TwoBooks)).into_axum_router();
    let server = tokio::spawn(paysys_platform::server::serve(
        listener,
        router,
        shutdown.clone(),
    ));

    let url2 = url.clone();
    let outputs = tokio::task::spawn_blocking(move || {
        let url = url2.as_str();
        [
            paysys(url, &["balance", "--merchant", "19"]),
            paysys(url, &["balance", "--merchant", "19", "--test"]),
            paysys(url, &["statement", "--merchant", "19"]),
            paysys(url, &["statement", "--merchant", "19", "--test"]),
            paysys(url, &["totals"]),
            paysys(url, &["totals", "--test"]),
        ]
    })
    .await
    .expect("the CLI ran");
    let [live_balance, test_balance, live_statement, test_statement, live_totals, test_totals] =
        outputs;

    assert_eq!(live_balance["book"], "live", "{live_balance}");
    assert_eq!(live_balance["accounts"][0]["balance"], 1000);
    assert_eq!(test_balance["book"], "test", "{test_balance}");
    assert_eq!(test_balance["accounts"][0]["balance"], 100);

    assert_eq!(
        live_statement[0]["order_id"], "live-order",
        "{live_statement}"
    );
    assert_eq!(live_statement[0]["book"], "live");
    assert_eq!(
        test_statement[0]["order_id"], "test-order",
        "{test_statement}"
    );
    assert_eq!(test_statement[0]["book"], "test");
    assert_eq!(test_statement[0]["amount"], 100);

    assert_eq!(live_totals[0]["book"], "live", "{live_totals}");
    assert_eq!(live_totals[0]["debits"], 1000);
    assert_eq!(test_totals[0]["book"], "test", "{test_totals}");
    assert_eq!(test_totals[0]["credits"], 100);
    assert_eq!(test_totals[0]["balanced"], true);

    // Without --json the operator is told which book is shown.
    let human = Command::new(env!("CARGO_BIN_EXE_paysys"))
        .env(
            "PAYSYS__INTERNAL__TOKEN",
            paysys_platform::testing::INTERNAL_TOKEN,
        )
        .args([
            "--ledger-url",
            &url,
            "ledger",
            "statement",
            "--merchant",
            "19",
            "--test",
        ])
        .output()
        .expect("run paysys");
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(text.starts_with("test book of merchant 19"), "{text}");
    assert!(text.contains("test-order"), "{text}");

    shutdown.trigger();
    server
        .await
        .expect("server task")
        .expect("server stopped cleanly");
}
