//! The simulated Mobiltek (seed 000, docs/providers/mobiltek.md) under `/mobiltek`: the PPE page
//! behind a redirect link (hash checked like the real provider; phone, SMS PIN, confirm),
//! `unsubscribe` with seed 000's plain-text answers, and signed notifications to the adapter
//! (PAYMENT, PAYMENT_FAILED, REGISTRATION, CHARGE, CHARGE_FAILED, UNREGISTRATION). Subscriptions
//! are charged by the service's configured terms as the sandbox clock moves.

mod pages;
pub mod protocol;
pub mod sim;

pub use sim::{Records, SimTransaction};

use crate::callbacks::{self, Delivery};
use crate::state::State;
use crate::App;
use axum::routing::{get, post};
use protocol::Notification;

/// Mobiltek's routes (mounted at the root: paths start with `/mobiltek`).
pub fn routes() -> axum::Router<App> {
    axum::Router::new()
        .route("/mobiltek/ppe", get(pages::ppe))
        .route("/mobiltek/ppe/pin", post(pages::send_pin))
        .route("/mobiltek/ppe/confirm", post(pages::confirm))
        .route("/mobiltek/unsubscribe", post(pages::unsubscribe))
}

/// True when `path` is Mobiltek's PPE page (for `/_sandbox/complete`).
pub fn is_ppe_path(path: &str) -> bool {
    path.trim_end_matches('/').ends_with("/mobiltek/ppe")
}

/// What finishing a page did.
pub struct Completed {
    pub transaction_id: String,
    pub deliveries: Vec<Delivery>,
}

/// The user finished (`success`) or abandoned the page behind the link `query`. Answers after
/// the adapter answered every notification. Err says why the link cannot be completed.
pub async fn complete(
    app: &App,
    query: &str,
    success: bool,
    charges_fail: bool,
    reason: &str,
) -> Result<Completed, String> {
    let link = protocol::parse_link(&app.settings.mobiltek_secret, query)?;
    let _in_order = app.callback_order.lock().await;
    let notes = {
        let mut state = app.state.lock().await;
        let now = state.now();
        let t = state.mobiltek.open(&app.settings, &link, now);
        t.complete(success, charges_fail, reason, now)?
    };
    Ok(Completed {
        transaction_id: link.transaction_id,
        deliveries: notify(app, notes).await,
    })
}

/// Recurring charges due at the sandbox clock's time (call with `callback_order` held, then
/// `notify` the result).
pub fn due(state: &mut State) -> Vec<Notification> {
    let now = state.now();
    sim::due(&mut state.mobiltek, now)
}

/// Signs and POSTs notifications to the adapter, one after the other.
pub async fn notify(app: &App, notes: Vec<Notification>) -> Vec<Delivery> {
    let mut out = Vec::with_capacity(notes.len());
    for n in notes {
        let form = n.signed_form(&app.settings.mobiltek_secret);
        let d = callbacks::deliver(app, "mobiltek", n.kind(), n.get("transaction_id"), || {
            app.http.post(&app.settings.mobiltek_notify_url).form(&form)
        })
        .await;
        out.push(d);
    }
    out
}
