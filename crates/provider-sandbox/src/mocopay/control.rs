//! A sandbox control of MoCoPay's own, beside DESIGN 7's: `POST /mocopay/_sandbox/renewals
//! {"session_id" | "redirect_url", "charges": "fail" | "succeed"}` makes the later renewals of
//! one active subscription fail (or succeed again) from now on, so a test can have a failed
//! renewal now and then (`"charges": "fail"` in `/_sandbox/complete` fails them all from the
//! start). Answers `{"ok": true, "session_id", "charges"}` or 400 naming the bad field.

use super::checkout_id;
use super::sim::Records;
use crate::App;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
pub struct Renewals {
    #[serde(default)]
    session_id: Option<String>,
    #[serde(default)]
    redirect_url: Option<String>,
    charges: String,
}

fn bad(field: &str, why: impl Into<String>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"ok": false, "error": {"field": field, "message": why.into()}})),
    )
        .into_response()
}

pub async fn renewals(State(app): State<App>, raw: axum::body::Bytes) -> Response {
    let r: Renewals = match serde_json::from_slice(&raw) {
        Ok(r) => r,
        Err(e) => return bad("body", format!("invalid JSON: {e}")),
    };
    let fail = match r.charges.as_str() {
        "fail" => true,
        "succeed" => false,
        _ => return bad("charges", "must be \"fail\" or \"succeed\""),
    };
    let mut state = app.state.lock().await;
    let records = state.records::<Records>();
    let session_id = match (r.session_id, r.redirect_url) {
        (Some(id), None) => id,
        (None, Some(u)) => {
            let request_id = url::Url::parse(&u)
                .ok()
                .and_then(|u| checkout_id(&u).map(str::to_string));
            match request_id
                .and_then(|id| records.sessions.get(&id))
                .and_then(|s| s.session_id.clone())
            {
                Some(id) => id,
                None => return bad("redirect_url", "no finished MoCoPay checkout there"),
            }
        }
        _ => return bad("session_id", "give session_id or redirect_url"),
    };
    match records.set_charges_fail(&session_id, fail) {
        Ok(()) => Json(json!({"ok": true, "session_id": session_id, "charges": r.charges}))
            .into_response(),
        Err(why) => bad("session_id", why),
    }
}
