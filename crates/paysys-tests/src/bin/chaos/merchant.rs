//! The merchant, seen from outside: JSON-RPC calls to the edge with the retries a real
//! merchant makes (a transport error, HTTP 503 or `-32603` is retried with the same request,
//! hence the same `trans_ext_id`), and its notification endpoint, which records every request
//! with its `webhook-id` and can be made to time out or answer 500.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The fixtures' merchants: (id, API secret, notification secret).
pub type Merchant = (&'static str, &'static str, &'static str);
pub const MERCHANTS: [Merchant; 5] = [
    paysys_tests::MERCHANT_1,
    paysys_tests::MERCHANT_34801,
    paysys_tests::MERCHANT_19,
    paysys_tests::MERCHANT_40,
    paysys_tests::MERCHANT_50,
];

/// What happened, when (seconds since the start), for the per-fault figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ev {
    /// A flow finished as the merchant wanted (or as the provider decided).
    FlowOk,
    /// The merchant gave up on a flow (deadline passed while retrying).
    FlowAbandoned,
    /// A call or a sandbox step failed and was retried.
    Retry,
}

#[derive(Default)]
pub struct Stats {
    pub calls: AtomicU64,
    pub retried: AtomicU64,
    pub transport: AtomicU64,
    pub busy: AtomicU64,
    pub internal: AtomicU64,
    pub flows_ok: AtomicU64,
    pub flows_abandoned: AtomicU64,
    pub events: Mutex<Vec<(f64, Ev)>>,
    /// Why flows were abandoned (first few).
    pub abandoned: Mutex<Vec<String>>,
}

impl Stats {
    pub fn note(&self, at: f64, ev: Ev) {
        match ev {
            Ev::FlowOk => self.flows_ok.fetch_add(1, Ordering::Relaxed),
            Ev::FlowAbandoned => self.flows_abandoned.fetch_add(1, Ordering::Relaxed),
            Ev::Retry => self.retried.fetch_add(1, Ordering::Relaxed),
        };
        if let Ok(mut e) = self.events.lock() {
            e.push((at, ev));
        }
    }

    /// How many `ev` happened in `[from, to)`.
    pub fn count(&self, ev: Ev, from: f64, to: f64) -> usize {
        self.events
            .lock()
            .map(|e| {
                e.iter()
                    .filter(|(t, k)| *k == ev && *t >= from && *t < to)
                    .count()
            })
            .unwrap_or(0)
    }
}

/// Seconds since the start of the run.
#[derive(Clone, Copy)]
pub struct Clock(pub Instant);

impl Clock {
    pub fn secs(&self) -> f64 {
        self.0.elapsed().as_secs_f64()
    }
}

/// A JSON-RPC answer that is not a reason to retry.
#[derive(Debug, Clone)]
pub enum Answer {
    /// `result`.
    Ok(Value),
    /// `error` (anything but `-32603`).
    Err(Value),
}

pub struct Api {
    http: reqwest::Client,
    edge: String,
    pub stats: Arc<Stats>,
    pub clock: Clock,
}

impl Api {
    pub fn new(edge: String, stats: Arc<Stats>, clock: Clock) -> Self {
        Self {
            http: reqwest::Client::builder()
                // Above the edge's own 15 s request deadline.
                .timeout(Duration::from_secs(20))
                .build()
                .expect("http client"),
            edge,
            stats,
            clock,
        }
    }

    /// One attempt. `Err` is what a merchant retries: a transport error, HTTP 503 or
    /// `-32603` (the API says retrying with the same `trans_ext_id` is safe).
    pub async fn try_call(&self, method: &str, params: &Value) -> Result<Answer, String> {
        self.stats.calls.fetch_add(1, Ordering::Relaxed);
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let sent = self.http.post(&self.edge).json(&body).send().await;
        let r = match sent {
            Ok(r) => r,
            Err(e) => {
                self.stats.transport.fetch_add(1, Ordering::Relaxed);
                return Err(format!("transport: {}", e.without_url()));
            }
        };
        let status = r.status();
        let text = match r.text().await {
            Ok(t) => t,
            Err(e) => {
                self.stats.transport.fetch_add(1, Ordering::Relaxed);
                return Err(format!("transport: {}", e.without_url()));
            }
        };
        if status.as_u16() == 503 {
            self.stats.busy.fetch_add(1, Ordering::Relaxed);
            return Err(format!("HTTP 503: {text}"));
        }
        let v: Value = match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(_) => {
                self.stats.transport.fetch_add(1, Ordering::Relaxed);
                return Err(format!("HTTP {status}, not JSON: {text:.200}"));
            }
        };
        if let Some(e) = v.get("error") {
            if e["code"] == -32603 {
                self.stats.internal.fetch_add(1, Ordering::Relaxed);
                return Err(format!("-32603 {}", e["message"]));
            }
            return Ok(Answer::Err(e.clone()));
        }
        Ok(Answer::Ok(v["result"].clone()))
    }

    /// Retries [`Api::try_call`] until it answers or `deadline` passes.
    pub async fn call(
        &self,
        method: &str,
        params: &Value,
        deadline: Instant,
    ) -> Result<Answer, String> {
        let mut delay = Duration::from_millis(200);
        loop {
            match self.try_call(method, params).await {
                Ok(a) => return Ok(a),
                Err(e) => {
                    if Instant::now() + delay > deadline {
                        return Err(format!("{method}: gave up retrying: {e}"));
                    }
                    self.stats.note(self.clock.secs(), Ev::Retry);
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(2));
                }
            }
        }
    }

    /// `get_transaction_status` of one order (`data`), retried until `deadline`.
    pub async fn status(
        &self,
        m: Merchant,
        trans_ext_id: &str,
        deadline: Instant,
    ) -> Result<Value, String> {
        let params = json!({"merchant_id": m.0, "secret": m.1, "trans_ext_id": trans_ext_id});
        match self
            .call("get_transaction_status", &params, deadline)
            .await?
        {
            Answer::Ok(r) => Ok(r["data"].clone()),
            Answer::Err(e) => Err(format!("get_transaction_status {trans_ext_id}: {e}")),
        }
    }
}

// ---- the notification endpoint ------------------------------------------------------------

/// How the merchant's endpoint answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Ok,
    /// Answers only after the notifier's 10 s deadline.
    Timeout,
    /// HTTP 500 at once.
    Error,
}

/// One request the endpoint received.
#[derive(Debug, Clone)]
pub struct Note {
    pub merchant: String,
    pub webhook_id: String,
    pub method: String,
    pub order_id: String,
    /// `additional_data.charge_sequence`, 0 when absent.
    pub seq: i64,
    /// Answered 2xx in time: the merchant has it.
    pub answered: bool,
    /// The Standard Webhooks signature verified with the merchant's secret.
    pub signed: bool,
    pub at: f64,
}

#[derive(Clone)]
pub struct Receiver {
    mode: Arc<AtomicU8>,
    pub notes: Arc<Mutex<Vec<Note>>>,
    clock: Clock,
}

impl Receiver {
    /// Serves the endpoint on a free port; returns it and its base URL
    /// (`<base>/<merchant>/notifications`).
    pub async fn serve(clock: Clock) -> anyhow::Result<(Self, String)> {
        let r = Self {
            mode: Arc::new(AtomicU8::new(0)),
            notes: Arc::new(Mutex::new(Vec::new())),
            clock,
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://127.0.0.1:{}", listener.local_addr()?.port());
        let router = axum::Router::new()
            .route("/{merchant}/notifications", post(receive))
            .with_state(r.clone());
        // As a merchant's server would: no answer waits for a delayed ACK.
        use axum::serve::ListenerExt;
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok((r, base))
    }

    pub fn set_mode(&self, mode: Mode) {
        let v = match mode {
            Mode::Ok => 0,
            Mode::Timeout => 1,
            Mode::Error => 2,
        };
        self.mode.store(v, Ordering::SeqCst);
    }

    fn mode(&self) -> Mode {
        match self.mode.load(Ordering::SeqCst) {
            1 => Mode::Timeout,
            2 => Mode::Error,
            _ => Mode::Ok,
        }
    }

    pub fn all(&self) -> Vec<Note> {
        self.notes.lock().map(|n| n.clone()).unwrap_or_default()
    }

    /// For the notifications the endpoint failed in `[from, to)`: seconds after `to` until the
    /// last of them was answered 2xx (a retry, same webhook-id); None if one never was.
    pub fn backlog_cleared(&self, from: f64, to: f64) -> Option<f64> {
        let notes = self.all();
        let failed: std::collections::BTreeSet<&str> = notes
            .iter()
            .filter(|n| !n.answered && n.at >= from && n.at < to)
            .map(|n| n.webhook_id.as_str())
            .collect();
        let mut last = to;
        for id in failed {
            let answered = notes
                .iter()
                .filter(|n| n.answered && n.webhook_id == id)
                .map(|n| n.at)
                .fold(None, |a: Option<f64>, t| Some(a.map_or(t, |a| a.min(t))))?;
            last = last.max(answered);
        }
        Some(last - to)
    }

    /// Whether `merchant` has (answered 2xx) a `method` notification of `order_id`.
    pub fn has(&self, merchant: &str, order_id: &str, method: &str) -> bool {
        self.notes
            .lock()
            .map(|n| {
                n.iter().any(|x| {
                    x.answered
                        && x.merchant == merchant
                        && x.order_id == order_id
                        && x.method == method
                })
            })
            .unwrap_or(false)
    }
}

async fn receive(
    State(r): State<Receiver>,
    Path(merchant): Path<String>,
    headers: http::HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let mode = r.mode();
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let p = &v["params"];
    let seq = p["additional_data"]["charge_sequence"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let signed = MERCHANTS
        .iter()
        .find(|m| m.0 == merchant)
        .and_then(|m| standardwebhooks::Webhook::new(m.2).ok())
        .is_some_and(|w| w.verify(&body, &headers).is_ok());
    let note = Note {
        merchant,
        webhook_id: headers
            .get("webhook-id")
            .and_then(|h| h.to_str().ok())
            .unwrap_or("")
            .to_string(),
        method: v["method"].as_str().unwrap_or("").to_string(),
        order_id: p["order_id"].as_str().unwrap_or("").to_string(),
        seq,
        answered: mode == Mode::Ok,
        signed,
        at: r.clock.secs(),
    };
    if let Ok(mut n) = r.notes.lock() {
        n.push(note);
    }
    match mode {
        Mode::Ok => axum::Json(json!({"jsonrpc": "2.0", "id": v["id"], "result": {"status": 1}}))
            .into_response(),
        Mode::Timeout => {
            tokio::time::sleep(Duration::from_secs(12)).await;
            axum::Json(json!({"jsonrpc": "2.0", "id": v["id"], "result": {"status": 1}}))
                .into_response()
        }
        Mode::Error => (http::StatusCode::INTERNAL_SERVER_ERROR, "merchant down").into_response(),
    }
}
