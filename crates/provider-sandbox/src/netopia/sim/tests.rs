//! The simulated mobilPay's decisions, without HTTP: the first IPN per card and order kind,
//! recurring payments until `payments_no`, and the SOAP recurrence changes with seed 003's codes.

use super::*;
use crate::netopia::cards::{self, CardOutcome};
use chrono::Duration;
use paysys_platform::money::Currency;
use provider_netopia::wire::Invoice;

const ACCOUNT: &str = "SAND-BOX0-SELL-ER00-0001";

fn order(id: &str, recurrence: Option<Recurrence>) -> Order {
    let mut o = Order::new(
        id,
        romanian(Utc::now()),
        ACCOUNT,
        Invoice::new(Money::new(1234, Currency::parse("RON").unwrap())),
    );
    o.recurrence = recurrence;
    o.confirm_url = Some("http://127.0.0.1:1/netopia/ipn".into());
    o
}

fn card(number: &str) -> Choice {
    let c = cards::find(number).unwrap();
    Choice::Card {
        outcome: cards::decide(c, cards::APPROVED_CVV),
        pan_masked: cards::mask(c.number),
    }
}

fn key(id: &str) -> (String, String) {
    (ACCOUNT.to_string(), id.to_string())
}

fn summary(o: &Outgoing) -> (Action, u32, Option<u32>, Option<i64>) {
    let n = &o.ipn.notify;
    (
        n.action,
        n.error.code.0,
        n.current_payment_count,
        n.processed_amount.map(|m| m.minor),
    )
}

fn every(payments_no: u32, interval_day: u32) -> Option<Recurrence> {
    Some(Recurrence {
        payments_no,
        interval_day,
    })
}

#[test]
fn one_time_orders_by_card() {
    let mut r = Records::default();
    let now = Utc::now();
    r.open(order("a", None), Cipher::Aes256Cbc, now);
    let ipn = r
        .pay(&key("a"), &card(cards::APPROVED), false, now)
        .unwrap();
    assert_eq!(summary(&ipn), (Action::Confirmed, 0, None, Some(1234)));
    assert_eq!(ipn.ipn.notify.pan_masked.as_deref(), Some("9****5098"));
    assert!(ipn.ipn.notify.rrn.is_some());
    assert!(
        r.pay(&key("a"), &card(cards::APPROVED), false, now)
            .is_err(),
        "twice"
    );

    r.open(order("b", None), Cipher::Rc4, now);
    let ipn = r
        .pay(&key("b"), &card("9900518572831942"), false, now)
        .unwrap();
    assert_eq!(summary(&ipn), (Action::Confirmed, 20, None, Some(1234)));
    assert_eq!(ipn.cipher, Cipher::Rc4);

    r.open(order("c", None), Cipher::Rc4, now);
    let ipn = r.pay(&key("c"), &Choice::Abandon, false, now).unwrap();
    assert_eq!(summary(&ipn), (Action::Canceled, 99, None, None));
    assert_eq!(ipn.kind(), "canceled:99");

    let ids: BTreeSet<_> = r
        .orders
        .values()
        .flat_map(|o| o.purchases.clone())
        .collect();
    assert_eq!(ids.len(), 3, "a new purchase id per payment");
}

#[test]
fn a_recurrence_charges_every_interval_until_payments_no() {
    let mut r = Records::default();
    let t0 = Utc::now();
    r.open(order("s", every(3, 30)), Cipher::Aes256Cbc, t0);
    let first = r.pay(&key("s"), &card(cards::APPROVED), false, t0).unwrap();
    assert_eq!(summary(&first), (Action::Confirmed, 0, Some(1), Some(1234)));
    assert!(r
        .due(t0 + Duration::days(30) - Duration::seconds(1))
        .is_empty());
    let due = r.due(t0 + Duration::days(365));
    let counts: Vec<_> = due.iter().map(|(_, o)| summary(o).2).collect();
    assert_eq!(counts, [Some(2), Some(3)], "payments 2 and 3, then no more");
    assert_eq!(due[0].0, t0 + Duration::days(30));
    assert_eq!(due[1].0, t0 + Duration::days(60));
    let o = &r.orders[&key("s")];
    assert_eq!(o.status, Status::Paid);
    assert!(o.end_reason.as_deref().unwrap().starts_with("completed"));
    assert!(r.due(t0 + Duration::days(3650)).is_empty());
}

#[test]
fn three_ds_cards_and_declines_schedule_no_recurrence() {
    let mut r = Records::default();
    let t0 = Utc::now();
    r.open(order("3ds", every(0, 1)), Cipher::Aes256Cbc, t0);
    let ipn = r
        .pay(&key("3ds"), &card(cards::THREE_DS), false, t0)
        .unwrap();
    assert_eq!(summary(&ipn), (Action::Confirmed, 0, Some(0), Some(1234)));
    r.open(order("declined", every(0, 1)), Cipher::Aes256Cbc, t0);
    let ipn = r
        .pay(&key("declined"), &card("9900576270414197"), false, t0)
        .unwrap();
    assert_eq!(summary(&ipn), (Action::Confirmed, 35, Some(0), Some(1234)));
    assert!(r.due(t0 + Duration::days(100)).is_empty());
    assert_eq!(
        cards::decide(cards::find(cards::THREE_DS).unwrap(), "000"),
        CardOutcome::Approved3ds
    );
}

#[test]
fn failing_charges_decline_with_insufficient_funds() {
    let mut r = Records::default();
    let t0 = Utc::now();
    r.open(order("f", every(0, 10)), Cipher::Aes256Cbc, t0);
    r.pay(&key("f"), &card(cards::APPROVED), true, t0).unwrap();
    let due = r.due(t0 + Duration::days(20));
    let got: Vec<_> = due.iter().map(|(_, o)| summary(o)).collect();
    assert_eq!(
        got,
        [
            (Action::Confirmed, 20, Some(2), Some(1234)),
            (Action::Confirmed, 20, Some(3), Some(1234))
        ]
    );
}

#[test]
fn soap_changes_answer_the_seeds_codes() {
    let mut r = Records::default();
    let t0 = Utc::now();
    let known = |a: &str| a == ACCOUNT;
    let code = |a: Answer| a.0;
    assert_eq!(
        code(r.change(known, "nope", ACCOUNT, "s", Change::Cancel, t0)),
        ResultCode::InvalidUser
    );
    let session = r.new_session();
    let ask = |r: &mut Records, sac: &str, id: &str, c: Change| {
        code(r.change(known, &session, sac, id, c, t0))
    };
    assert_eq!(
        ask(&mut r, "AAAA-AAAA-AAAA-AAAA-AAAA", "s", Change::Cancel),
        ResultCode::InvalidSellerAccount
    );
    assert_eq!(
        ask(&mut r, ACCOUNT, "s", Change::Cancel),
        ResultCode::PurchaseNotFound
    );
    r.open(order("s", every(0, 30)), Cipher::Aes256Cbc, t0);
    assert_eq!(
        ask(&mut r, ACCOUNT, "s", Change::Price(500)),
        ResultCode::TransactionInvalidAction,
        "not paid yet"
    );
    r.pay(&key("s"), &card(cards::APPROVED), false, t0).unwrap();
    assert_eq!(
        ask(&mut r, ACCOUNT, "s", Change::Price(0)),
        ResultCode::WrongDataFormat
    );
    assert_eq!(
        ask(&mut r, ACCOUNT, "s", Change::Price(500)),
        ResultCode::Ok
    );
    let past = romanian(t0 - Duration::days(1));
    assert_eq!(
        ask(&mut r, ACCOUNT, "s", Change::Move(past)),
        ResultCode::WrongDataFormat
    );
    // Moved from day 30 to day 45.
    let moved = romanian(t0 + Duration::days(45));
    assert_eq!(
        ask(&mut r, ACCOUNT, "s", Change::Move(moved)),
        ResultCode::Ok
    );
    assert!(r.due(t0 + Duration::days(44)).is_empty());
    let due = r.due(t0 + Duration::days(46));
    assert_eq!(due.len(), 1);
    assert_eq!(
        summary(&due[0].1),
        (Action::Confirmed, 0, Some(2), Some(500))
    );
    assert_eq!(ask(&mut r, ACCOUNT, "s", Change::Cancel), ResultCode::Ok);
    assert!(r.due(t0 + Duration::days(3650)).is_empty());
    assert_eq!(
        ask(&mut r, ACCOUNT, "s", Change::Cancel),
        ResultCode::TransactionInvalidAction,
        "cancelled already"
    );
}

#[test]
fn romanian_time_round_trips() {
    let t = chrono::DateTime::parse_from_rfc3339("2026-07-01T09:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    assert_eq!(from_romanian(romanian(t)), Some(t));
    // 2026-03-29 03:30 does not exist in Bucharest (clocks jump from 03:00 to 04:00).
    let gap = chrono::NaiveDate::from_ymd_opt(2026, 3, 29)
        .unwrap()
        .and_hms_opt(3, 30, 0)
        .unwrap();
    assert!(from_romanian(gap).is_some());
}
