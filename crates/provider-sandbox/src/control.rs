//! `/_sandbox` control endpoints (DESIGN section 7, a contract; JSON in and out): complete the
//! page behind a redirect URL, advance the clock, set faults, read SMS, dump the state. Every
//! provider-specific step is a call on the registered simulators (`App::simulators`):
//! `complete` goes to the one that owns the redirect URL, `advance` merges every simulator's due
//! charges, `faults` knows their names, `dump` asks each for its part.

use crate::callbacks::Delivery;
use crate::faults::Fault;
use crate::simulator::{CompleteRequest, FieldError};
use crate::App;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// A 400 naming the bad field: `{"ok":false,"error":{"field":..,"message":..}}`.
fn bad(field: &str, why: impl Into<String>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"ok": false, "error": {"field": field, "message": why.into()}})),
    )
        .into_response()
}

fn body<T: for<'de> Deserialize<'de>>(raw: &[u8]) -> Result<T, Box<Response>> {
    serde_json::from_slice(raw).map_err(|e| Box::new(bad("body", format!("invalid JSON: {e}"))))
}

#[derive(Deserialize)]
struct Complete {
    redirect_url: String,
    outcome: String,
    /// Extension: "fail" makes the subscription's later recurring charges fail.
    #[serde(default)]
    charges: Option<String>,
    /// Provider-specific fields (e.g. Netopia's `card`), passed through to the simulator.
    #[serde(flatten)]
    extra: Map<String, Value>,
}

impl Complete {
    fn parse(self) -> Result<CompleteRequest, FieldError> {
        let success = match self.outcome.as_str() {
            "success" => true,
            "failure" => false,
            _ => {
                return Err(FieldError::new(
                    "outcome",
                    "must be \"success\" or \"failure\"",
                ))
            }
        };
        let charges_fail = match self.charges.as_deref() {
            None | Some("succeed") => false,
            Some("fail") => true,
            Some(_) => {
                return Err(FieldError::new(
                    "charges",
                    "must be \"fail\" or \"succeed\"",
                ))
            }
        };
        let redirect_url = url::Url::parse(&self.redirect_url)
            .map_err(|_| FieldError::redirect_url("not a URL"))?;
        Ok(CompleteRequest {
            redirect_url,
            success,
            charges_fail,
            extra: self.extra,
        })
    }
}

/// `POST /_sandbox/complete {"redirect_url", "outcome": "success"|"failure", "charges"?, ..}`:
/// the end user finishes or abandons the page behind a redirect URL. Answers only after the
/// adapter answered the resulting notifications:
/// `{"ok":true,"provider",..,"notifications":[types],"deliveries":[..]}`.
pub async fn complete(State(app): State<App>, raw: axum::body::Bytes) -> Response {
    let c: Complete = match body(&raw) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let request = match c.parse() {
        Ok(r) => r,
        Err(e) => return bad(&e.field, e.message),
    };
    let Some(sim) = app
        .simulators
        .iter()
        .find(|s| s.owns(&request.redirect_url))
    else {
        return bad(
            "redirect_url",
            format!(
                "not a redirect URL of a simulated provider ({})",
                names(&app).join(", ")
            ),
        );
    };
    // One order's page: with `callback_concurrency` above 1, other orders' completions overlap.
    let _in_order = app
        .callback_order
        .lock_one_order(app.settings.callback_concurrency > 1)
        .await;
    match sim.complete(&app, &request).await {
        Ok(done) => {
            let mut answer = Map::new();
            answer.insert("ok".into(), true.into());
            answer.insert("provider".into(), sim.name().into());
            answer.extend(done.fields);
            answer.insert("notifications".into(), json!(kinds(&done.deliveries)));
            answer.insert("deliveries".into(), json!(done.deliveries));
            Json(answer).into_response()
        }
        Err(e) => bad(&e.field, e.message),
    }
}

fn kinds(deliveries: &[Delivery]) -> Vec<&str> {
    deliveries.iter().map(|d| d.kind.as_str()).collect()
}

fn names(app: &App) -> Vec<&'static str> {
    app.simulators.iter().map(|s| s.name()).collect()
}

#[derive(Deserialize)]
struct Advance {
    seconds: i64,
}

/// `POST /_sandbox/clock/advance {"seconds": N}`: moves the clock; every recurring charge that
/// falls due is performed (several per subscription when several periods passed) and notified
/// in due order across all providers before the answer `{"ok":true,"now":..,"charges":count}`.
pub async fn advance(State(app): State<App>, raw: axum::body::Bytes) -> Response {
    let a: Advance = match body(&raw) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    if !(0..=10 * 365 * 86_400).contains(&a.seconds) {
        return bad("seconds", "must be between 0 and ten years");
    }
    let _in_order = app.callback_order.lock().await;
    let (now, mut due) = {
        let mut state = app.state.lock().await;
        let now = state.clock.advance(a.seconds);
        let due: Vec<_> = app
            .simulators
            .iter()
            .flat_map(|sim| {
                sim.due(&mut state, now)
                    .into_iter()
                    .map(move |d| (d.at, sim, d.callback))
            })
            .collect();
        (now, due)
    };
    // Stable: same-time charges keep each simulator's order, then registration order.
    due.sort_by_key(|(at, _, _)| *at);
    let count = due.len();
    let due = due.into_iter().map(|(at, sim, mut callback)| {
        // A recurring charge happened at its due time, not at the clock's new time.
        if let Some(c) = &mut callback.charge {
            c.charged_at.get_or_insert(at);
        }
        (sim, callback)
    });
    let width = app.settings.callback_concurrency.max(1);
    if width == 1 {
        // One after the other, in due order across every subscription and provider.
        for (sim, callback) in due {
            sim.deliver(&app, &callback).await;
        }
        return Json(json!({"ok": true, "now": now.to_rfc3339(), "charges": count}))
            .into_response();
    }
    // One lane per subscription (its charges in order); `callback_concurrency` lanes at once.
    let mut lanes: Vec<Vec<_>> = Vec::new();
    let mut lane_of = std::collections::HashMap::new();
    for (sim, callback) in due {
        let key = (sim.name(), callback.reference.clone());
        let lane = *lane_of.entry(key).or_insert_with(|| {
            lanes.push(Vec::new());
            lanes.len() - 1
        });
        lanes[lane].push((sim.clone(), callback));
    }
    let mut lanes = lanes.into_iter();
    let mut running = tokio::task::JoinSet::new();
    loop {
        while running.len() < width {
            let Some(lane) = lanes.next() else { break };
            let app = app.clone();
            running.spawn(async move {
                for (sim, callback) in lane {
                    sim.deliver(&app, &callback).await;
                }
            });
        }
        if running.join_next().await.is_none() {
            break;
        }
    }
    Json(json!({"ok": true, "now": now.to_rfc3339(), "charges": count})).into_response()
}

#[derive(Deserialize)]
struct Faults {
    provider: String,
    mode: String,
}

/// `POST /_sandbox/faults {"provider", "mode": "timeout"|"error"|"duplicate_callbacks"|"none"}`;
/// `provider` is a registered simulator's name.
pub async fn faults(State(app): State<App>, raw: axum::body::Bytes) -> Response {
    let f: Faults = match body(&raw) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let names = names(&app);
    if !names.contains(&f.provider.as_str()) {
        return bad("provider", format!("must be one of {}", names.join(", ")));
    }
    let Some(mode) = Fault::parse(&f.mode) else {
        return bad(
            "mode",
            "must be timeout, error, duplicate_callbacks or none",
        );
    };
    app.state.lock().await.faults.set(&f.provider, mode);
    tracing::info!(provider = %f.provider, ?mode, "sandbox fault set");
    Json(json!({"ok": true, "provider": f.provider, "mode": mode})).into_response()
}

/// `GET /_sandbox/sms?phone=...` -> `{"phone":..,"messages":[{at, from, text}]}`.
pub async fn sms(State(app): State<App>, Query(q): Query<HashMap<String, String>>) -> Response {
    let Some(phone) = q.get("phone").filter(|p| !p.is_empty()) else {
        return bad("phone", "required");
    };
    let messages = app.state.lock().await.sms.to(phone);
    Json(json!({"phone": phone, "messages": messages})).into_response()
}

/// `GET /_sandbox/state`: what the simulated providers know (each under its name), and the
/// latest callbacks.
pub async fn dump(State(app): State<App>) -> Response {
    let state = app.state.lock().await;
    let mut out = Map::new();
    out.insert("now".into(), state.now().to_rfc3339().into());
    out.insert("clock_offset_secs".into(), state.clock.offset_secs().into());
    out.insert("faults".into(), json!(state.faults));
    for sim in app.simulators.iter() {
        out.insert(sim.name().into(), sim.dump(&state));
    }
    out.insert("deliveries".into(), json!(state.deliveries));
    Json(out).into_response()
}
