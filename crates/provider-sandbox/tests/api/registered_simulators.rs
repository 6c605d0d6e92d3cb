//! A provider the sandbox has never heard of plugs in by registration alone: a tiny test-only
//! simulator ("toy") registered next to the real ones is completed through
//! `/_sandbox/complete` (with a field of its own), charged through `/_sandbox/clock/advance` in
//! due order with Mobiltek's charges, misbehaves through `/_sandbox/faults`, and shows in
//! `/_sandbox/state`, without a line of control.rs knowing it.

use crate::helpers::*;
use chrono::{DateTime, Utc};
use provider_sandbox::callbacks::Callback;
use provider_sandbox::lifecycle::Renewals;
use provider_sandbox::simulator::{CompleteRequest, Completed, Due, FieldError};
use provider_sandbox::state::State;
use provider_sandbox::{App, Simulator};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Toy subscriptions renew every 100 s.
const PERIOD: u64 = 100;

struct Toy {
    notify_url: String,
}

/// The toy's records, in the shared state.
#[derive(Default)]
struct ToyBook(BTreeMap<String, (String, Renewals)>);

impl Toy {
    fn callback(&self, kind: &str, id: &str, at: DateTime<Utc>) -> Callback {
        Callback::json(
            &self.notify_url,
            kind,
            id,
            &json!({"type": kind, "id": id, "at": at.timestamp()}),
        )
    }
}

#[async_trait::async_trait]
impl Simulator for Toy {
    fn name(&self) -> &'static str {
        "toy"
    }

    fn routes(self: Arc<Self>) -> axum::Router<App> {
        axum::Router::new().route(
            "/toy/pay/{id}",
            axum::routing::get(|| async { "the toy's page" }),
        )
    }

    fn owns(&self, redirect_url: &url::Url) -> bool {
        redirect_url.path().starts_with("/toy/pay/")
    }

    async fn complete(
        &self,
        app: &App,
        request: &CompleteRequest,
    ) -> Result<Completed, FieldError> {
        // A field only this provider knows, as Netopia's "card" will be.
        let plan = match request.extra.get("plan") {
            None => "basic".to_string(),
            Some(Value::String(p)) => p.clone(),
            Some(_) => return Err(FieldError::new("plan", "must be a string")),
        };
        let id = request.redirect_url.path()["/toy/pay/".len()..].to_string();
        let callbacks = {
            let mut state = app.state.lock().await;
            let now = state.now();
            let mut renewals = Renewals {
                charges_fail: request.charges_fail,
                ..Default::default()
            };
            let kind = if request.success {
                renewals.start(now, PERIOD);
                "STARTED"
            } else {
                "ABANDONED"
            };
            state
                .records::<ToyBook>()
                .0
                .insert(id.clone(), (plan.clone(), renewals));
            vec![self.callback(kind, &id, now)]
        };
        let mut fields = serde_json::Map::new();
        fields.insert("plan".into(), plan.into());
        Ok(Completed {
            fields,
            deliveries: self.deliver_all(app, callbacks).await,
        })
    }

    fn due(&self, state: &mut State, now: DateTime<Utc>) -> Vec<Due> {
        let mut out = Vec::new();
        for (id, (_, renewals)) in &mut state.records::<ToyBook>().0 {
            for r in renewals.due(PERIOD, now) {
                let kind = if r.collected {
                    "RENEWED"
                } else {
                    "NOT_RENEWED"
                };
                out.push(Due {
                    at: r.at,
                    callback: self.callback(kind, id, r.at),
                });
            }
        }
        out
    }

    fn dump(&self, state: &State) -> Value {
        let plans: BTreeMap<&String, &String> = state
            .records_ref::<ToyBook>()
            .map(|b| b.0.iter().map(|(id, (plan, _))| (id, plan)).collect())
            .unwrap_or_default();
        json!({ "plans": plans })
    }
}

#[tokio::test]
async fn a_registered_simulator_is_completed_charged_faulted_and_dumped() {
    let (toy_adapter, notify_url) = JsonReceiver::start("/toy/notify").await;
    let sb = spawn_sandbox_with(
        &[
            ("sandbox.mobiltek.services.1.period_secs", json!(150)),
            ("sandbox.mobiltek.services.1.amount_minor", json!(1)),
        ],
        vec![Arc::new(Toy { notify_url })],
    )
    .await;

    // Completed through the control endpoint, its own field carried through and answered.
    let toy_url = format!("{}/toy/pay/t1", sb.url);
    let (status, v) = sb
        .post(
            "/_sandbox/complete",
            json!({"redirect_url": toy_url, "outcome": "success", "plan": "gold"}),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["provider"], "toy");
    assert_eq!(v["plan"], "gold");
    assert_eq!(v["notifications"], json!(["STARTED"]));
    assert_eq!(v["deliveries"][0]["status"], 200);
    assert_eq!(toy_adapter.kinds(), ["STARTED"]);
    let (status, v) = sb
        .post(
            "/_sandbox/complete",
            json!({"redirect_url": format!("{}/toy/pay/t2", sb.url), "outcome": "success", "plan": 5}),
        )
        .await;
    assert_eq!((status, v["error"]["field"].as_str()), (400, Some("plan")));

    // Its charges fall due with Mobiltek's, and go out in due order across both.
    sb.complete(&link(&sb, "1000000000000301", 5, true, "1"), "success")
        .await;
    let before = sb.get_json("/_sandbox/state").await["deliveries"]
        .as_array()
        .unwrap()
        .len();
    let v = sb.advance(250).await;
    // Toy at 100 and 200, Mobiltek at 150 (each from its own start, a moment apart).
    assert_eq!(v["charges"], 3);
    let state = sb.get_json("/_sandbox/state").await;
    let order: Vec<(&str, &str)> = state["deliveries"].as_array().unwrap()[before..]
        .iter()
        .map(|d| (d["provider"].as_str().unwrap(), d["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(
        order,
        [
            ("toy", "RENEWED"),
            ("mobiltek", "CHARGE"),
            ("toy", "RENEWED")
        ]
    );
    assert_eq!(state["toy"]["plans"]["t1"], "gold");
    assert_eq!(toy_adapter.kinds(), ["STARTED", "RENEWED", "RENEWED"]);

    // Faults know it by name and its deliveries follow them.
    let (status, v) = sb
        .post(
            "/_sandbox/faults",
            json!({"provider": "toy", "mode": "duplicate_callbacks"}),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    // Toy's at 300, Mobiltek's at 300.
    assert_eq!(sb.advance(100).await["charges"], 2);
    assert_eq!(
        toy_adapter.kinds(),
        ["STARTED", "RENEWED", "RENEWED", "RENEWED", "RENEWED"]
    );
}

async fn build(
    extra: &[(&str, &str)],
    twice: bool,
) -> Result<provider_sandbox::Application, String> {
    let settings: provider_sandbox::Settings = paysys_platform::config::load_with(|mut b| {
        for (k, v) in [("sandbox.listen", "127.0.0.1:0")].iter().chain(extra) {
            b = b.set_override(*k, *v).unwrap();
        }
        b
    })
    .unwrap();
    let mut sims = provider_sandbox::simulators(&settings.sandbox)?;
    if twice {
        sims.push(sims[0].clone());
    }
    provider_sandbox::Application::build_with(settings, paysys_platform::Shutdown::new(), sims)
        .await
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn startup_names_clashing_simulators_and_sections_nobody_reads() {
    assert!(build(&[], false).await.is_ok());
    let err = build(&[], true).await.err().unwrap();
    assert!(
        err.contains("two simulators are named \"mobiltek\""),
        "{err}"
    );
    // A misspelt shared key reads as a section of a provider nobody simulates.
    let err = build(&[("sandbox.callback_atempts", "3")], false)
        .await
        .err()
        .unwrap();
    assert!(err.contains("sandbox.callback_atempts"), "{err}");
    let err = build(&[("sandbox.teleaudio.secret", "")], false)
        .await
        .err()
        .unwrap();
    assert!(err.contains("sandbox.teleaudio.secret"), "{err}");
}
