//! The simulated Mobiltek (docs/providers/mobiltek.md): the PPE page behind a redirect link
//! (hash checked like the real provider), `unsubscribe` with seed 000's plain-text answers, and
//! signed notifications to the adapter: PAYMENT, PAYMENT_FAILED, REGISTRATION, CHARGE,
//! CHARGE_FAILED, UNREGISTRATION. Subscriptions are charged by the service's configured period
//! and amount as the sandbox clock moves.

use crate::config::{SandboxSettings, ServiceTerms};
use crate::state::{Fault, State};
use crate::App;
use axum::extract::{RawQuery, State as AxState};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::Form;
use paysys_platform::money::{Currency, Money};
use paysys_platform::signing::{ct_eq, hmac_sha512_hex};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// Mobiltek's fields of a notification, hashed in this order (as provider-mobiltek checks).
pub const NOTIFICATION_FIELDS: [&str; 10] = [
    "notification_id",
    "transaction_id",
    "service_id",
    "msisdn",
    "operator_id",
    "type",
    "amount",
    "charge_id",
    "reason",
    "timestamp",
];

#[derive(Debug, Clone, Serialize)]
pub struct SimTransaction {
    pub transaction_id: String,
    pub service_id: String,
    pub msisdn: String,
    pub subscription: bool,
    /// Price of the link, grosz.
    pub price_minor: i64,
    /// pending | paid | failed | active | cancelled
    pub status: String,
    pub period_secs: u64,
    pub charge_amount_minor: i64,
    pub next_charge_at: Option<chrono::DateTime<chrono::Utc>>,
    pub charges: u32,
    /// Extension for tests: recurring charges of this subscription fail.
    pub charges_fail: bool,
}

#[derive(Debug, Default)]
pub struct Records {
    pub transactions: BTreeMap<String, SimTransaction>,
}

/// One notification to send to the adapter (fields without the hash).
pub type Notification = Vec<(&'static str, String)>;

fn pln() -> Currency {
    Currency::parse("PLN").expect("PLN")
}

/// Parses and authenticates a PPE link query; Err is a message for the user/test.
pub fn parse_link(secret: &str, query: &str) -> Result<HashMap<String, String>, String> {
    let (signed, hash) = query.rsplit_once("&hash=").ok_or("the link has no hash")?;
    if !ct_eq(&hmac_sha512_hex(secret.as_bytes(), signed.as_bytes()), hash) {
        return Err("the link's hash does not verify".into());
    }
    let params: HashMap<String, String> = url::form_urlencoded::parse(signed.as_bytes())
        .into_owned()
        .collect();
    for k in ["transaction_id", "service_id", "price"] {
        if params.get(k).is_none_or(|v| v.is_empty()) {
            return Err(format!("the link has no {k}"));
        }
    }
    Ok(params)
}

/// The transaction behind a verified link, created on first sight.
fn transaction<'a>(
    settings: &SandboxSettings,
    records: &'a mut Records,
    p: &HashMap<String, String>,
) -> Result<&'a mut SimTransaction, String> {
    let price = Money::parse_decimal(&p["price"], pln()).map_err(|e| format!("price: {e}"))?;
    let service_id = p["service_id"].clone();
    let terms = settings
        .mobiltek_services
        .get(&service_id)
        .copied()
        .unwrap_or(ServiceTerms {
            period_secs: settings.mobiltek_default_period_secs,
            amount_minor: price.minor,
        });
    let id = p["transaction_id"].clone();
    Ok(records
        .transactions
        .entry(id.clone())
        .or_insert_with(|| SimTransaction {
            transaction_id: id,
            service_id,
            msisdn: p
                .get("msisdn")
                .cloned()
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| "48500000000".into()),
            subscription: p.get("mode").map(|m| m == "subscription").unwrap_or(false),
            price_minor: price.minor,
            status: "pending".into(),
            period_secs: terms.period_secs.max(1),
            charge_amount_minor: terms.amount_minor,
            next_charge_at: None,
            charges: 0,
            charges_fail: false,
        }))
}

fn notification(
    t: &SimTransaction,
    kind: &str,
    amount_minor: Option<i64>,
    reason: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Notification {
    let charge = matches!(
        kind,
        "PAYMENT" | "PAYMENT_FAILED" | "CHARGE" | "CHARGE_FAILED"
    );
    vec![
        ("notification_id", uuid::Uuid::new_v4().to_string()),
        ("transaction_id", t.transaction_id.clone()),
        ("service_id", t.service_id.clone()),
        ("msisdn", t.msisdn.clone()),
        ("operator_id", "26001".into()),
        ("type", kind.into()),
        (
            "amount",
            amount_minor
                .map(|m| Money::new(m, pln()).to_decimal_trimmed())
                .unwrap_or_default(),
        ),
        (
            "charge_id",
            if charge {
                format!("{}-{}", t.transaction_id, uuid::Uuid::new_v4().simple())
            } else {
                String::new()
            },
        ),
        ("reason", reason.into()),
        ("timestamp", now.timestamp().to_string()),
    ]
}

/// The user finished (or abandoned) the page behind `query`. Returns the notifications to send.
pub fn complete(
    settings: &SandboxSettings,
    state: &mut State,
    query: &str,
    success: bool,
    charges_fail: bool,
) -> Result<Vec<Notification>, String> {
    let p = parse_link(&settings.mobiltek_secret, query)?;
    let now = state.now();
    let t = transaction(settings, &mut state.mobiltek, &p)?;
    if t.status != "pending" {
        return Err(format!(
            "transaction {} is already {}",
            t.transaction_id, t.status
        ));
    }
    t.charges_fail = charges_fail;
    let mut out = Vec::new();
    match (t.subscription, success) {
        (false, true) => {
            t.status = "paid".into();
            t.charges = 1;
            out.push(notification(t, "PAYMENT", Some(t.price_minor), "", now));
        }
        (false, false) => {
            t.status = "failed".into();
            out.push(notification(
                t,
                "PAYMENT_FAILED",
                Some(t.price_minor),
                "user abandoned the payment",
                now,
            ));
        }
        (true, true) => {
            t.status = "active".into();
            out.push(notification(t, "REGISTRATION", None, "", now));
            t.charges = 1;
            out.push(notification(
                t,
                "CHARGE",
                Some(t.charge_amount_minor),
                "",
                now,
            ));
            t.next_charge_at = Some(now + chrono::Duration::seconds(t.period_secs as i64));
        }
        (true, false) => {
            t.status = "failed".into();
            out.push(notification(
                t,
                "CHARGE_FAILED",
                Some(t.charge_amount_minor),
                "registration not confirmed",
                now,
            ));
        }
    }
    Ok(out)
}

/// Every recurring charge due at the sandbox's `now`, in due order.
pub fn due_charges(state: &mut State) -> Vec<Notification> {
    let now = state.now();
    let mut due: Vec<(chrono::DateTime<chrono::Utc>, Notification)> = Vec::new();
    for t in state.mobiltek.transactions.values_mut() {
        while t.status == "active" && t.next_charge_at.is_some_and(|at| at <= now) {
            let at = t.next_charge_at.unwrap_or(now);
            let n = if t.charges_fail {
                notification(
                    t,
                    "CHARGE_FAILED",
                    Some(t.charge_amount_minor),
                    "insufficient funds",
                    at,
                )
            } else {
                t.charges += 1;
                notification(t, "CHARGE", Some(t.charge_amount_minor), "", at)
            };
            due.push((at, n));
            t.next_charge_at = Some(at + chrono::Duration::seconds(t.period_secs as i64));
        }
    }
    due.sort_by_key(|(at, _)| *at);
    due.into_iter().map(|(_, n)| n).collect()
}

/// `GET /mobiltek/ppe`: the page the user sees (phone number, SMS PIN, confirm).
pub async fn ppe_page(AxState(app): AxState<App>, RawQuery(q): RawQuery) -> Response {
    let q = q.unwrap_or_default();
    let p = match parse_link(&app.settings.mobiltek_secret, &q) {
        Ok(p) => p,
        Err(e) => {
            return (
                StatusCode::FORBIDDEN,
                Html(format!(
                    "<h1>Mobiltek</h1><p>{}</p>",
                    html_escape::encode_text(&e)
                )),
            )
                .into_response()
        }
    };
    let esc =
        |k: &str| html_escape::encode_text(p.get(k).map(String::as_str).unwrap_or("")).into_owned();
    let mut state = app.state.lock().await;
    if let Ok(t) = transaction(&app.settings, &mut state.mobiltek, &p) {
        let msisdn = t.msisdn.clone();
        state.send_sms(
            &msisdn,
            "Mobiltek",
            format!("Your PIN: {:04}", rand::random::<u16>() % 10000),
        );
    }
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Mobiltek</title></head><body>\
         <h1>Mobiltek payment (sandbox)</h1><p>{product}: {price} PLN{sub}</p>\
         <form><label>Phone <input name=\"msisdn\" value=\"{msisdn}\"></label> \
         <label>SMS PIN <input name=\"pin\"></label> <button>Confirm</button></form>\
         <p>Sandbox: finish with POST /_sandbox/complete {{\"redirect_url\": this page's URL, \"outcome\": \"success\"}}.</p></body></html>",
        product = esc("product"),
        price = esc("price"),
        msisdn = esc("msisdn"),
        sub = if p.get("mode").map(|m| m == "subscription").unwrap_or(false) { " per period (subscription)" } else { "" },
    ))
    .into_response()
}

/// `POST /mobiltek/unsubscribe`: seed 000's answers, verbatim.
pub async fn unsubscribe(
    AxState(app): AxState<App>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let fault = app.state.lock().await.fault("mobiltek");
    match fault {
        Fault::Timeout => tokio::time::sleep(std::time::Duration::from_secs(30)).await,
        Fault::Error => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                "ERROR\n5000:Internal error",
            )
                .into_response()
        }
        _ => {}
    }
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    let canonical = format!(
        "{}|{}|{}",
        get("service_id"),
        get("transaction_id"),
        get("msisdn")
    );
    if !ct_eq(
        &hmac_sha512_hex(
            app.settings.mobiltek_secret.as_bytes(),
            canonical.as_bytes(),
        ),
        &get("hash"),
    ) {
        return (StatusCode::OK, "ERROR\n4010:Bad hash").into_response();
    }
    let notify = {
        let mut state = app.state.lock().await;
        let now = state.now();
        match state.mobiltek.transactions.get_mut(&get("transaction_id")) {
            Some(t) if t.subscription && t.status == "active" => {
                t.status = "cancelled".into();
                t.next_charge_at = None;
                Some(notification(t, "UNREGISTRATION", None, "unsubscribed", now))
            }
            _ => None,
        }
    };
    match notify {
        Some(n) => {
            // Mobiltek confirms at once and notifies the unregistration right after.
            let app2 = app.clone();
            tokio::spawn(async move { app2.deliver_mobiltek(vec![n]).await });
            (StatusCode::OK, "OK\n2302:Subscriber unregistered").into_response()
        }
        None => (StatusCode::OK, "ERROR\n4321:Subscriber not found").into_response(),
    }
}
