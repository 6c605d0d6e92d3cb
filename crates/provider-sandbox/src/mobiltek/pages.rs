//! Mobiltek's HTTP surface: the PPE page a user is redirected to (seed 000: phone number, SMS
//! PIN, confirm), and the `unsubscribe` API with seed 000's plain-text answers. Everything echoed
//! into HTML is escaped: the link's values come from merchants and users.

use super::protocol::{self, Link};
use super::sim::{Records, SimTransaction, Status};
use super::Mobiltek;
use crate::faults::{self, Outage};
use crate::App;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use html_escape::{encode_double_quoted_attribute as attr, encode_text as text};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Arc;

/// Wrong PINs before the page gives up and the payment fails.
const MAX_WRONG_PINS: u32 = 3;

fn forbidden(why: &str) -> Response {
    (
        StatusCode::FORBIDDEN,
        Html(format!(
            "<!doctype html><meta charset=\"utf-8\"><title>Mobiltek</title><h1>Mobiltek</h1><p>Invalid payment link: {}</p>",
            text(why)
        )),
    )
        .into_response()
}

/// Texts a fresh PIN to the transaction's phone.
fn issue_pin(state: &mut crate::state::State, transaction_id: &str) {
    let pin = format!("{:04}", rand::random::<u16>() % 10_000);
    let Some(t) = state
        .records::<Records>()
        .transactions
        .get_mut(transaction_id)
    else {
        return;
    };
    t.pin = Some(pin.clone());
    let price = paysys_platform::money::Money::new(t.price_minor, protocol::pln());
    let sms = format!(
        "Mobiltek: your PIN is {pin}. It confirms {} PLN for {}{}.",
        price.to_decimal_fixed(),
        t.product,
        if t.subscription {
            " (subscription)"
        } else {
            ""
        }
    );
    let msisdn = t.msisdn.clone();
    state.send_sms(&msisdn, "Mobiltek", sms);
}

fn page(app: &App, query: &str, t: &SimTransaction, notice: &str) -> Response {
    let base = app.settings.public_url.trim_end_matches('/');
    let price = paysys_platform::money::Money::new(t.price_minor, protocol::pln());
    let terms = if t.subscription {
        let amount = paysys_platform::money::Money::new(t.charge_amount_minor, protocol::pln());
        format!(
            "<p>Subscription: {} PLN every {} days, charged by your operator until you unsubscribe.</p>",
            amount.to_decimal_fixed(),
            t.period_secs as f64 / 86_400.0
        )
    } else {
        String::new()
    };
    let body = if t.status != Status::Pending {
        "<p>This payment is finished. You can close this window.</p>".to_string()
    } else {
        format!(
            "<form method=\"post\" action=\"{base}/mobiltek/ppe/pin\">\
               <input type=\"hidden\" name=\"link\" value=\"{link}\">\
               <label>Phone number <input name=\"msisdn\" value=\"{msisdn}\" inputmode=\"numeric\"></label>\
               <button>Send PIN</button></form>\
             <form method=\"post\" action=\"{base}/mobiltek/ppe/confirm\">\
               <input type=\"hidden\" name=\"link\" value=\"{link}\">\
               <label>SMS PIN <input name=\"pin\" inputmode=\"numeric\" autocomplete=\"one-time-code\"></label>\
               <button name=\"action\" value=\"confirm\">Confirm</button>\
               <button name=\"action\" value=\"cancel\">Cancel</button></form>",
            base = attr(base),
            link = attr(query),
            msisdn = attr(&t.msisdn),
        )
    };
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Mobiltek payment</title></head><body>\
         <h1>Mobiltek payment (sandbox)</h1><p><strong>{product}</strong>: {price} PLN</p>{terms}\
         <p class=\"notice\">{notice}</p>{body}\
         <p><small>Sandbox: the PIN is in GET /_sandbox/sms?phone=&lt;number&gt;; tests finish with POST /_sandbox/complete.</small></p>\
         </body></html>",
        product = text(&t.product),
        price = price.to_decimal_fixed(),
        notice = text(notice),
    ))
    .into_response()
}

/// `GET /mobiltek/ppe?<link>`: checks the link, records the transaction, texts the PIN when the
/// phone is known, shows the page.
pub async fn ppe(
    State(app): State<App>,
    Extension(mt): Extension<Arc<Mobiltek>>,
    RawQuery(query): RawQuery,
) -> Response {
    let query = query.unwrap_or_default();
    let link = match protocol::parse_link(&mt.settings.secret, &query) {
        Ok(l) => l,
        Err(e) => return forbidden(&e),
    };
    let mut state = app.state.lock().await;
    let now = state.now();
    let t = state.records::<Records>().open(&mt.settings, &link, now);
    let notice = if t.status == Status::Pending && t.pin.is_none() && !t.msisdn.is_empty() {
        let msisdn = t.msisdn.clone();
        issue_pin(&mut state, &link.transaction_id);
        format!("We sent a PIN to {msisdn}.")
    } else {
        String::new()
    };
    match state
        .records::<Records>()
        .transactions
        .get(&link.transaction_id)
    {
        Some(t) => page(&app, &query, t, &notice),
        None => forbidden("unknown transaction"),
    }
}

#[derive(Deserialize)]
pub struct PinForm {
    link: String,
    msisdn: String,
}

/// `POST /mobiltek/ppe/pin`: the user gives (or corrects) the phone; a PIN is texted to it.
pub async fn send_pin(
    State(app): State<App>,
    Extension(mt): Extension<Arc<Mobiltek>>,
    Form(f): Form<PinForm>,
) -> Response {
    let link = match protocol::parse_link(&mt.settings.secret, &f.link) {
        Ok(l) => l,
        Err(e) => return forbidden(&e),
    };
    let msisdn = f.msisdn.trim().trim_start_matches('+').to_string();
    let mut state = app.state.lock().await;
    let now = state.now();
    let t = state.records::<Records>().open(&mt.settings, &link, now);
    let notice = if t.status != Status::Pending {
        String::new()
    } else if !((9..=15).contains(&msisdn.len()) && msisdn.bytes().all(|b| b.is_ascii_digit())) {
        "Enter your phone number with the country code, e.g. 48501123123.".to_string()
    } else {
        t.set_msisdn(&msisdn);
        issue_pin(&mut state, &link.transaction_id);
        format!("We sent a PIN to {msisdn}.")
    };
    match state
        .records::<Records>()
        .transactions
        .get(&link.transaction_id)
    {
        Some(t) => page(&app, &f.link, t, &notice),
        None => forbidden("unknown transaction"),
    }
}

#[derive(Deserialize)]
pub struct ConfirmForm {
    link: String,
    #[serde(default)]
    pin: String,
    #[serde(default)]
    action: String,
}

/// Where the user goes once the page is finished: the merchant's URL, else a closing page.
fn leave(url: &str, done: &str) -> Response {
    if url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https")) {
        Redirect::to(url).into_response()
    } else {
        Html(format!(
            "<!doctype html><meta charset=\"utf-8\"><title>Mobiltek</title><p>{}</p>",
            text(done)
        ))
        .into_response()
    }
}

/// `POST /mobiltek/ppe/confirm`: the PIN confirms the payment (or the user cancels); then the
/// adapter is notified and the user goes to `return_url` (`error_url` when it failed).
pub async fn confirm(
    State(app): State<App>,
    Extension(mt): Extension<Arc<Mobiltek>>,
    Form(f): Form<ConfirmForm>,
) -> Response {
    let link: Link = match protocol::parse_link(&mt.settings.secret, &f.link) {
        Ok(l) => l,
        Err(e) => return forbidden(&e),
    };
    let verdict = {
        let mut state = app.state.lock().await;
        let now = state.now();
        let t = state.records::<Records>().open(&mt.settings, &link, now);
        if t.status != Status::Pending {
            return page(&app, &f.link, t, "");
        }
        if f.action == "cancel" {
            (false, "user cancelled")
        } else if t.pin.as_deref() == Some(f.pin.trim()) {
            (true, "")
        } else {
            t.wrong_pins += 1;
            if t.wrong_pins >= MAX_WRONG_PINS {
                (false, "wrong PIN entered three times")
            } else {
                return page(&app, &f.link, t, "Wrong PIN, try again.");
            }
        }
    };
    let (success, reason) = verdict;
    let finished = {
        let _in_order = app.callback_order.lock().await;
        mt.finish(&app, &f.link, success, false, reason).await
    };
    if let Err(e) = finished {
        return forbidden(&e);
    }
    if success {
        leave(
            &link.return_url,
            "Payment confirmed. You can close this window.",
        )
    } else {
        leave(
            &link.error_url,
            "Payment cancelled. You can close this window.",
        )
    }
}

fn plain(status: StatusCode, body: &str) -> Response {
    (
        status,
        [("content-type", "text/plain; charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}

/// `POST /mobiltek/unsubscribe` (form: service_id, transaction_id, msisdn, hash). Seed 000's
/// answers verbatim: `OK\n2302:Subscriber unregistered` for an active subscription (then the
/// UNREGISTRATION notification, and no more charges), else `ERROR\n4321:Subscriber not found`.
/// The UNREGISTRATION is delivered before answering, so a caller that got `OK` can rely on the
/// adapter having recorded the cancellation (the protocol does not promise that order).
pub async fn unsubscribe(
    State(app): State<App>,
    Extension(mt): Extension<Arc<Mobiltek>>,
    body: axum::body::Bytes,
) -> Response {
    match faults::outage(&app, Mobiltek::NAME).await {
        // Hung, and answers an error without unsubscribing: the caller has long given up.
        Some(Outage::TimedOut) => return plain(StatusCode::GATEWAY_TIMEOUT, "ERROR\n5040:Timeout"),
        Some(Outage::Error) => {
            return plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                "ERROR\n5000:Internal error",
            )
        }
        None => {}
    }
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    if !protocol::verify_unsubscribe(&mt.settings.secret, &form) {
        return plain(StatusCode::FORBIDDEN, "ERROR\n4010:Invalid hash");
    }
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    let _in_order = app.callback_order.lock().await;
    let note = {
        let mut state = app.state.lock().await;
        let now = state.now();
        match state
            .records::<Records>()
            .transactions
            .get_mut(get("transaction_id"))
        {
            Some(t)
                if t.subscription
                    && t.status == Status::Active
                    && t.service_id == get("service_id")
                    && t.msisdn == get("msisdn") =>
            {
                Some(t.unregister(now))
            }
            _ => None,
        }
    };
    match note {
        Some(n) => {
            mt.notify(&app, vec![n]).await;
            plain(StatusCode::OK, "OK\n2302:Subscriber unregistered")
        }
        None => plain(StatusCode::OK, "ERROR\n4321:Subscriber not found"),
    }
}
