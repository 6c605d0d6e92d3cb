//! mobilPay's card page as the sandbox plays it: `POST /netopia/card` takes the sealed order a
//! browser posts (anything that does not open with mobilPay's key, or is not an order mobilPay
//! would take, is an error page, 400, and nothing happens) and shows the order with a card form;
//! `POST /netopia/card/pay` pays (or abandons) with a test card, sends the IPN and sends the user
//! to the order's return URL. `GET /_sandbox/netopia/keys` serves the sandbox's keys. Everything
//! echoed into HTML is escaped: orders come from merchants, forms from users.

use super::cards::{self, CARDS};
use super::sim::{Choice, Records, SimOrder};
use super::Netopia;
use crate::lifecycle::Status;
use crate::App;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Json};
use chrono::{DateTime, Datelike, Utc};
use html_escape::{encode_double_quoted_attribute as attr, encode_text as text};
use std::collections::HashMap;
use std::sync::Arc;

const HEAD: &str = "<!doctype html><html><head><meta charset=\"utf-8\"><title>mobilPay card payment (sandbox)</title></head><body><h1>mobilPay card payment (sandbox)</h1>";

/// The card page refuses the post: 400, nothing recorded.
pub fn refused(why: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Html(format!(
            "{HEAD}<p>This payment request cannot be processed: {}</p></body></html>",
            text(why)
        )),
    )
        .into_response()
}

/// A browser form's fields, whatever `Content-Type` claims: anything else reads as no fields
/// (and is refused for its missing envelope, with the card page's own error page).
fn form_fields(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

/// The envelope fields of a post, carried on to the pay step (which opens them again).
fn hidden_envelope(form: &HashMap<String, String>) -> String {
    ["env_key", "data", "cipher", "iv"]
        .iter()
        .filter_map(|k| form.get(*k).map(|v| (k, v)))
        .map(|(k, v)| format!("<input type=\"hidden\" name=\"{k}\" value=\"{}\">", attr(v)))
        .collect()
}

fn test_cards() -> String {
    let rows: String = CARDS
        .iter()
        .map(|c| {
            format!(
                "<tr><td><code>{}</code></td><td>{}</td></tr>",
                c.number,
                text(c.label)
            )
        })
        .collect();
    format!(
        "<details><summary>Sandbox test cards</summary><table>{rows}</table>\
         <p>Any future expiry date, any name; CVV 111 for the approved card.</p></details>"
    )
}

fn page(app: &App, form: &HashMap<String, String>, o: &SimOrder, notice: &str) -> Response {
    let base = app.settings.public_url.trim_end_matches('/');
    let amount = o.order.invoice.amount;
    let terms = match o.order.recurrence {
        Some(r) if r.payments_no == 0 => format!(
            "<p>Recurring: charged again every {} days until cancelled.</p>",
            r.interval_day
        ),
        Some(r) => format!(
            "<p>Recurring: {} payments in all, one every {} days.</p>",
            r.payments_no, r.interval_day
        ),
        None => String::new(),
    };
    let body = if o.status != Status::Pending {
        format!(
            "<p>This order is already {}. You can close this window.</p>",
            o.status
        )
    } else {
        format!(
            "<form method=\"post\" action=\"{base}/netopia/card/pay\">{hidden}\
               <p><label>Card number <input name=\"card_number\" inputmode=\"numeric\" autocomplete=\"cc-number\"></label></p>\
               <p><label>Expiry (MM/YY) <input name=\"expiry\" autocomplete=\"cc-exp\"></label></p>\
               <p><label>CVV <input name=\"cvv\" inputmode=\"numeric\" autocomplete=\"cc-csc\"></label></p>\
               <p><label>Name on card <input name=\"name\" autocomplete=\"cc-name\"></label></p>\
               <button name=\"action\" value=\"pay\">Pay</button> \
               <button name=\"action\" value=\"cancel\">Cancel</button></form>{cards}",
            base = attr(base),
            hidden = hidden_envelope(form),
            cards = test_cards(),
        )
    };
    Html(format!(
        "{HEAD}<p>Order <code>{id}</code>: <strong>{amount} {currency}</strong></p>\
         <p>{details}</p>{terms}<p class=\"notice\">{notice}</p>{body}\
         <p><small>Sandbox: tests finish with POST /_sandbox/complete.</small></p></body></html>",
        id = text(&o.order.id),
        amount = amount.to_decimal_fixed(),
        currency = amount.currency.as_str(),
        details = text(o.order.invoice.details.as_deref().unwrap_or("")),
        notice = text(notice),
    ))
    .into_response()
}

/// `POST /netopia/card` (`env_key`, `data`, `cipher`, `iv`): the order, recorded on first sight,
/// and the card form.
pub async fn card(
    State(app): State<App>,
    Extension(netopia): Extension<Arc<Netopia>>,
    body: axum::body::Bytes,
) -> Response {
    let form = form_fields(&body);
    let (order, cipher) = match netopia.accept(&form) {
        Ok(accepted) => accepted,
        Err(why) => return refused(&why),
    };
    let mut state = app.state.lock().await;
    let now = state.now();
    let o = state.records::<Records>().open(order, cipher, now);
    page(&app, &form, o, "")
}

/// `MM/YY` or `MM/YYYY`, not before the sandbox clock's month.
fn valid_expiry(expiry: &str, now: DateTime<Utc>) -> bool {
    let Some((m, y)) = expiry.trim().split_once('/') else {
        return false;
    };
    let (Ok(month), Ok(year)) = (m.trim().parse::<u32>(), y.trim().parse::<i32>()) else {
        return false;
    };
    let year = if y.trim().len() == 2 {
        2000 + year
    } else {
        year
    };
    (1..=12).contains(&month) && (year, month) >= (now.year(), now.month())
}

/// The card the user typed, checked like a payment form does; Err is the notice to show.
fn card_choice(form: &HashMap<String, String>, now: DateTime<Utc>) -> Result<Choice, String> {
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or("").trim();
    let card = cards::find(get("card_number"))
        .ok_or("That is not a sandbox test card: use one of the numbers listed below.")?;
    if !valid_expiry(get("expiry"), now) {
        return Err("Enter the card's expiry date as MM/YY (not in the past).".into());
    }
    let cvv = get("cvv");
    if !(3..=4).contains(&cvv.len()) || !cvv.bytes().all(|b| b.is_ascii_digit()) {
        return Err("Enter the 3-digit CVV from the back of the card.".into());
    }
    Ok(Choice::Card {
        outcome: cards::decide(card, cvv),
        pan_masked: cards::mask(card.number),
    })
}

/// Where the user goes once the page is finished: the order's return URL, else a closing page.
fn leave(return_url: Option<&str>, done: &str) -> Response {
    match return_url
        .filter(|u| url::Url::parse(u).is_ok_and(|u| matches!(u.scheme(), "http" | "https")))
    {
        Some(u) => Redirect::to(u).into_response(),
        None => Html(format!("{HEAD}<p>{}</p></body></html>", text(done))).into_response(),
    }
}

/// `POST /netopia/card/pay`: the envelope again plus the card (or `action=cancel`): decides,
/// sends the IPN, then sends the user back to the merchant.
pub async fn pay(
    State(app): State<App>,
    Extension(netopia): Extension<Arc<Netopia>>,
    body: axum::body::Bytes,
) -> Response {
    let form = form_fields(&body);
    let (order, cipher) = match netopia.accept(&form) {
        Ok(accepted) => accepted,
        Err(why) => return refused(&why),
    };
    let choice = if form.get("action").map(String::as_str) == Some("cancel") {
        Choice::Abandon
    } else {
        let mut state = app.state.lock().await;
        let now = state.now();
        match card_choice(&form, now) {
            Ok(choice) => choice,
            Err(notice) => {
                let o = state.records::<Records>().open(order, cipher, now);
                return page(&app, &form, o, &notice);
            }
        }
    };
    let return_url = order.return_url.clone();
    let paid = {
        let _in_order = app.callback_order.lock().await;
        netopia.pay(&app, order, cipher, &choice, false).await
    };
    match paid {
        Ok(p) if p.approved => leave(
            return_url.as_deref(),
            "Payment approved. You can close this window.",
        ),
        Ok(_) => leave(
            return_url.as_deref(),
            "The payment did not go through. You can close this window.",
        ),
        Err(why) => refused(&why),
    }
}

/// `GET /_sandbox/netopia/keys` (DESIGN 7): the sandbox's test keys, as configured or generated.
pub async fn keys(Extension(netopia): Extension<Arc<Netopia>>) -> Response {
    let k = &netopia.settings.pem;
    Json(serde_json::json!({
        "netopia_private_key_pem": k.netopia_private_key_pem,
        "netopia_certificate_pem": k.netopia_certificate_pem,
        "seller_certificate_pem": k.seller_certificate_pem,
    }))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_dates_are_checked_against_the_sandbox_clock() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-05-10T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert!(valid_expiry("05/26", now));
        assert!(valid_expiry("12/2030", now));
        assert!(!valid_expiry("04/26", now));
        assert!(!valid_expiry("13/30", now));
        assert!(!valid_expiry("1230", now));
    }

    #[test]
    fn the_card_form_is_checked_before_anything_happens() {
        let now = Utc::now();
        let form = |number: &str, cvv: &str| {
            HashMap::from([
                ("card_number".to_string(), number.to_string()),
                ("expiry".to_string(), "12/99".to_string()),
                ("cvv".to_string(), cvv.to_string()),
            ])
        };
        assert!(card_choice(&form("4111111111111111", "111"), now).is_err());
        assert!(card_choice(&form(cards::APPROVED, "1"), now).is_err());
        assert_eq!(
            card_choice(&form("9900 0048 1022 5098", "111"), now),
            Ok(Choice::Card {
                outcome: cards::CardOutcome::Approved,
                pan_masked: "9****5098".into()
            })
        );
    }
}
