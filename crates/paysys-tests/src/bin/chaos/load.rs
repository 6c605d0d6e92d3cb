//! The mixed load: every provider's flows through the public JSON-RPC API and the sandbox's
//! control endpoints only (README's copy-paste examples), as merchants and their users would:
//! Mobiltek one-time and subscription, Teleaudio subscription and webbilling with its SMS code,
//! Netopia card payment, recurring payment and price change, MoCoPay one-time and subscription,
//! unsubscribes, and the sandbox clock moved by 30 days now and then so subscriptions renew.
//! Also the recovery probes (one payment per provider, end to end) and the sandbox's report of
//! what it charged, gathered as the run goes (the sandbox forgets it when it is killed).

use crate::merchant::{Answer, Api, Clock, Ev, Merchant, Receiver, MERCHANTS};
use paysys_tests::{seed_000_one_time, seed_000_subscription};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::RwLock;

pub const PROVIDERS: [&str; 4] = ["mobiltek", "teleaudio", "netopia", "mocopay"];

const M1: Merchant = MERCHANTS[0];
const M34801: Merchant = MERCHANTS[1];
const M19: Merchant = MERCHANTS[2];
const M40: Merchant = MERCHANTS[3];
const M50: Merchant = MERCHANTS[4];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    MobiltekOneTime,
    MobiltekSubscription,
    TeleaudioSubscription,
    TeleaudioWebbilling,
    NetopiaOneTime,
    NetopiaSubscription,
    MocopayOneTime,
    MocopaySubscription,
    Unsubscribe,
    NetopiaPriceChange,
}

/// Flows and their weights in the mix.
const MIX: [(Flow, u32); 10] = [
    (Flow::MobiltekOneTime, 16),
    (Flow::MobiltekSubscription, 8),
    (Flow::TeleaudioSubscription, 8),
    (Flow::TeleaudioWebbilling, 12),
    (Flow::NetopiaOneTime, 12),
    (Flow::NetopiaSubscription, 8),
    (Flow::MocopayOneTime, 12),
    (Flow::MocopaySubscription, 3),
    (Flow::Unsubscribe, 15),
    (Flow::NetopiaPriceChange, 4),
];

impl Flow {
    fn tag(self) -> &'static str {
        match self {
            Flow::MobiltekOneTime => "mt1",
            Flow::MobiltekSubscription => "mts",
            Flow::TeleaudioSubscription => "tas",
            Flow::TeleaudioWebbilling => "taw",
            Flow::NetopiaOneTime => "nt1",
            Flow::NetopiaSubscription => "nts",
            Flow::MocopayOneTime => "mc1",
            Flow::MocopaySubscription => "mcs",
            Flow::Unsubscribe => "uns",
            Flow::NetopiaPriceChange => "ntp",
        }
    }

    fn pick() -> Self {
        let total: u32 = MIX.iter().map(|(_, w)| w).sum();
        let mut r = rand::random_range(0..total);
        for (f, w) in MIX {
            if r < w {
                return f;
            }
            r -= w;
        }
        Flow::MobiltekOneTime
    }
}

/// An order the load created (or may have created: it is tracked before the first call).
#[derive(Debug, Clone)]
pub struct Order {
    pub merchant: Merchant,
    pub id: String,
    pub flow: Flow,
    /// Seconds since the start, when it was created.
    pub created: f64,
}

#[derive(Debug, Clone)]
struct Sub {
    merchant: Merchant,
    id: String,
    provider: &'static str,
}

/// One charge the sandbox reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Performed {
    pub amount: i64,
    pub currency: String,
    pub order_reference: String,
}

/// The sandbox's control endpoints.
pub struct Sandbox {
    http: reqwest::Client,
    pub url: String,
}

impl Sandbox {
    fn new(url: String) -> Self {
        Self {
            // A completion answers after the adapter answered the callbacks, which the sandbox
            // resends for minutes while an adapter or the database is down: never cut it off
            // (an abandoned request would stop the sandbox mid-delivery).
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(900))
                .build()
                .expect("http client"),
            url,
        }
    }

    pub async fn post(&self, path: &str, body: &Value) -> Result<(u16, Value), String> {
        let r = self
            .http
            .post(format!("{}{path}", self.url))
            .json(body)
            .send()
            .await
            .map_err(|e| format!("sandbox {path}: {}", e.without_url()))?;
        let status = r.status().as_u16();
        let v = r.json().await.unwrap_or(Value::Null);
        Ok((status, v))
    }

    pub async fn get(&self, path: &str) -> Result<Value, String> {
        let r = self
            .http
            .get(format!("{}{path}", self.url))
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .map_err(|e| format!("sandbox {path}: {}", e.without_url()))?;
        if !r.status().is_success() {
            return Err(format!("sandbox {path}: HTTP {}", r.status()));
        }
        r.json()
            .await
            .map_err(|e| format!("sandbox {path}: {}", e.without_url()))
    }

    pub async fn fault(&self, provider: &str, mode: &str) -> Result<(), String> {
        match self
            .post(
                "/_sandbox/faults",
                &json!({"provider": provider, "mode": mode}),
            )
            .await?
        {
            (200, _) => Ok(()),
            (s, v) => Err(format!("faults {provider} {mode}: {s} {v}")),
        }
    }
}

pub struct Load {
    pub api: Api,
    pub sandbox: Sandbox,
    pub receiver: Receiver,
    pub clock: Clock,
    pub orders: Mutex<Vec<Order>>,
    subs: Mutex<Vec<Sub>>,
    /// Flows hold it shared; killing the sandbox takes it exclusively, so the sandbox is never
    /// killed in the middle of a user's page or a clock advance (the sandbox keeps its
    /// providers' memory in the process: a real provider would not forget a payment).
    pub gate: RwLock<()>,
    stop: AtomicBool,
    /// With `CHAOS_PRICE_RACE=0`, held by a clock advance and by a Netopia price change, so
    /// that they never race. By default they race: a charge mobilPay makes at the old price
    /// while the change is on its way, or at the new one before its answer arrives, must be
    /// posted at what was charged (README "Chaos": found here, fixed).
    sandbox_clock: tokio::sync::Mutex<()>,
    price_race: bool,
    /// Every charge the sandbox reported, by (provider, charge key).
    pub performed: Mutex<BTreeMap<(String, String), Performed>>,
    /// Callbacks the sandbox gave up on or the adapter refused (from completions' answers).
    pub undelivered: Mutex<Vec<String>>,
    /// Definitive answers that ended a flow early (provider refused, -3260x), by kind.
    pub refused: Mutex<BTreeMap<String, usize>>,
    pub refused_count: AtomicU64,
    /// When each order's flow finished (seconds since the start).
    pub finished_at: Mutex<std::collections::HashMap<String, f64>>,
    pub advances: AtomicU64,
    run: String,
    seq: AtomicU64,
    call_deadline: Duration,
    ledger_url: String,
    token: String,
}

fn phone() -> String {
    format!("485{:08}", rand::random_range(0..100_000_000u32))
}

/// A state an order ends in (`accepted`: an asynchronous order not started yet, `pending`,
/// `cancelling` are on their way).
pub fn is_final(state: &str) -> bool {
    matches!(
        state,
        "paid" | "failed" | "expired" | "active" | "cancelled" | "completed"
    )
}

impl Load {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        api: Api,
        sandbox_url: String,
        receiver: Receiver,
        clock: Clock,
        call_deadline: Duration,
        ledger_url: String,
        token: String,
    ) -> Self {
        Self {
            api,
            sandbox: Sandbox::new(sandbox_url),
            receiver,
            clock,
            orders: Mutex::new(Vec::new()),
            subs: Mutex::new(Vec::new()),
            gate: RwLock::new(()),
            stop: AtomicBool::new(false),
            sandbox_clock: tokio::sync::Mutex::new(()),
            price_race: !std::env::var("CHAOS_PRICE_RACE").is_ok_and(|v| v == "0"),
            performed: Mutex::new(BTreeMap::new()),
            undelivered: Mutex::new(Vec::new()),
            refused: Mutex::new(BTreeMap::new()),
            refused_count: AtomicU64::new(0),
            finished_at: Mutex::new(std::collections::HashMap::new()),
            advances: AtomicU64::new(0),
            run: uuid::Uuid::new_v4().simple().to_string()[..6].to_string(),
            seq: AtomicU64::new(0),
            call_deadline,
            ledger_url,
            token,
        }
    }

    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    fn new_order(&self, merchant: Merchant, flow: Flow, probe: bool) -> Order {
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        let o = Order {
            merchant,
            id: format!(
                "{}-{}{}-{n}",
                self.run,
                if probe { "probe-" } else { "" },
                flow.tag()
            ),
            flow,
            created: self.clock.secs(),
        };
        self.orders.lock().expect("orders").push(o.clone());
        o
    }

    /// Counts an answer that ended a flow early, by its kind (the order id left out).
    /// Notes when the user finished an order's flow (for the notification delays).
    fn finished(&self, o: &Order) {
        self.finished_at
            .lock()
            .expect("finished")
            .insert(o.id.clone(), self.clock.secs());
    }

    fn refuse(&self, id: &str, why: String) {
        self.refused_count.fetch_add(1, Ordering::Relaxed);
        let kind = why.replace(id, "<order>");
        *self
            .refused
            .lock()
            .expect("refused")
            .entry(kind)
            .or_insert(0) += 1;
    }

    fn deadline(&self) -> Instant {
        Instant::now() + self.call_deadline
    }

    /// One worker: flows one after the other until stopped.
    pub async fn worker(&self) {
        while !self.stopped() {
            let flow = Flow::pick();
            let outcome = {
                let _shared = self.gate.read().await;
                self.run_flow(flow, false).await
            };
            match outcome {
                Ok(order) => {
                    if let Some(o) = order {
                        self.finished(&o);
                    }
                    self.api.stats.note(self.clock.secs(), Ev::FlowOk)
                }
                Err(e) => {
                    self.api.stats.note(self.clock.secs(), Ev::FlowAbandoned);
                    let mut a = self.api.stats.abandoned.lock().expect("abandoned");
                    if a.len() < 20 {
                        a.push(format!("{:?}: {e}", flow));
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(rand::random_range(20..120))).await;
        }
    }

    /// Moves the sandbox clock by 30 days every `every`, and keeps the sandbox's report.
    pub async fn advancer(&self, every: Duration) {
        loop {
            let until = Instant::now() + every;
            while Instant::now() < until {
                if self.stopped() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            let _shared = self.gate.read().await;
            let _clock = self.sandbox_clock.lock().await;
            let deadline = self.deadline();
            loop {
                match self
                    .sandbox
                    .post("/_sandbox/clock/advance", &json!({"seconds": 2_592_000}))
                    .await
                {
                    Ok((200, _)) => {
                        self.advances.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                    other => {
                        if Instant::now() > deadline {
                            eprintln!("[chaos] clock advance failed: {other:?}");
                            break;
                        }
                        self.api.stats.note(self.clock.secs(), Ev::Retry);
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
            }
            if let Err(e) = self.snapshot_report().await {
                eprintln!("[chaos] sandbox report: {e}");
            }
        }
    }

    /// Adds the sandbox's report of every provider to what we know it performed.
    pub async fn snapshot_report(&self) -> Result<(), String> {
        for p in PROVIDERS {
            let v = self
                .sandbox
                .get(&format!("/_sandbox/report?provider={p}"))
                .await?;
            let mut performed = self.performed.lock().expect("performed");
            for c in v["charges"].as_array().cloned().unwrap_or_default() {
                let key = c["charge_key"].as_str().unwrap_or("").to_string();
                performed.entry((p.to_string(), key)).or_insert(Performed {
                    amount: c["amount_minor"].as_i64().unwrap_or(0),
                    currency: c["currency"].as_str().unwrap_or("").to_string(),
                    order_reference: c["order_reference"].as_str().unwrap_or("").to_string(),
                });
            }
        }
        Ok(())
    }

    /// Runs one flow; Ok when it finished (as wanted, or as the provider decided), Err when
    /// the merchant gave up. Returns the order it made, if any.
    pub async fn run_flow(&self, flow: Flow, probe: bool) -> Result<Option<Order>, String> {
        // Probes always pay; the load sometimes abandons the page instead.
        let ok = |p: f64| probe || rand::random::<f64>() < p;
        let outcome = |p: f64| if ok(p) { "success" } else { "failure" };
        match flow {
            Flow::MobiltekOneTime => {
                let o = self.new_order(M1, flow, probe);
                let params = seed_000_one_time(&o.id);
                self.redirect_flow(&o, "set_transaction_sync", params, outcome(0.85), json!({}))
                    .await?;
                Ok(Some(o))
            }
            Flow::MobiltekSubscription => {
                let o = self.new_order(M34801, flow, probe);
                let params = seed_000_subscription(&o.id);
                let out = outcome(0.9);
                self.redirect_flow(&o, "set_subscription", params, out, json!({}))
                    .await?;
                self.keep_sub(&o, "mobiltek", out);
                Ok(Some(o))
            }
            Flow::TeleaudioSubscription => {
                let o = self.new_order(M19, flow, probe);
                let params = json!({
                    "trans_ext_id": o.id, "merchant_id": "19", "invoice_required": false,
                    "payment": { "channel_id": "9041", "amount": "0", "currency": "PLN" },
                    "articles": [{ "prod_id": "511", "sap_index": "45000437", "vat_rate": "23", "name": "test product", "quantity": "1", "price": "100",
                        "config": [{ "name": "teleaudio_service_id", "value": "511" }] }],
                    "customer": { "ext_id": "chaos", "firstname": "tester", "lastname": "testowski", "email": "test@test.pl",
                        "phone": phone(), "postcode": "31-620" },
                    "test": "False", "next_url": "https://sympatia.onet.pl", "secret": M19.1
                });
                let out = outcome(0.9);
                self.redirect_flow(&o, "set_subscription", params, out, json!({}))
                    .await?;
                self.keep_sub(&o, "teleaudio", out);
                Ok(Some(o))
            }
            Flow::TeleaudioWebbilling => {
                let o = self.new_order(M19, flow, probe);
                self.webbilling(&o).await?;
                Ok(Some(o))
            }
            Flow::NetopiaOneTime => {
                let o = self.new_order(M40, flow, probe);
                let price = rand::random_range(100..5000);
                let params = netopia_params(&o.id, "7001", price, None);
                self.redirect_flow(
                    &o,
                    "set_transaction_sync",
                    params,
                    outcome(0.85),
                    json!({"card": "9900004810225098"}),
                )
                .await?;
                Ok(Some(o))
            }
            Flow::NetopiaSubscription => {
                let o = self.new_order(M40, flow, probe);
                let params = netopia_params(&o.id, "7002", 2500, Some(3));
                let out = outcome(0.9);
                self.redirect_flow(&o, "set_subscription", params, out, json!({}))
                    .await?;
                self.keep_sub(&o, "netopia", out);
                Ok(Some(o))
            }
            Flow::MocopayOneTime => {
                let o = self.new_order(M50, flow, probe);
                let params = mocopay_params(&o.id, "8001", 199);
                self.redirect_flow(&o, "set_transaction_sync", params, outcome(0.85), json!({}))
                    .await?;
                Ok(Some(o))
            }
            Flow::MocopaySubscription => {
                let o = self.new_order(M50, flow, probe);
                let params = mocopay_params(&o.id, "8002", 500);
                self.redirect_flow(&o, "set_subscription", params, outcome(0.9), json!({}))
                    .await?;
                Ok(Some(o))
            }
            Flow::Unsubscribe => {
                let sub = {
                    let mut subs = self.subs.lock().expect("subs");
                    if subs.is_empty() {
                        None
                    } else {
                        let i = rand::random_range(0..subs.len());
                        Some(subs.swap_remove(i))
                    }
                };
                match sub {
                    Some(s) => self.unsubscribe(&s).await.map(|_| None),
                    None => Box::pin(self.run_flow(Flow::MobiltekOneTime, probe)).await,
                }
            }
            Flow::NetopiaPriceChange => {
                let sub = {
                    let subs = self.subs.lock().expect("subs");
                    let netopia: Vec<&Sub> =
                        subs.iter().filter(|s| s.provider == "netopia").collect();
                    (!netopia.is_empty())
                        .then(|| netopia[rand::random_range(0..netopia.len())].clone())
                };
                match sub {
                    Some(s) => self.price_change(&s).await.map(|_| None),
                    None => Box::pin(self.run_flow(Flow::NetopiaOneTime, probe)).await,
                }
            }
        }
    }

    fn keep_sub(&self, o: &Order, provider: &'static str, outcome: &str) {
        if outcome == "success" {
            self.subs.lock().expect("subs").push(Sub {
                merchant: o.merchant,
                id: o.id.clone(),
                provider,
            });
        }
    }

    /// Start (retried until answered), then the user finishes the page at the sandbox.
    async fn redirect_flow(
        &self,
        o: &Order,
        method: &str,
        params: Value,
        outcome: &str,
        extra: Value,
    ) -> Result<(), String> {
        let deadline = self.deadline();
        let url = match self.api.call(method, &params, deadline).await? {
            Answer::Ok(r) if r["status"] == "1" => r["data"]["redirect_url"]
                .as_str()
                .ok_or_else(|| format!("{method} {}: no redirect_url in {r}", o.id))?
                .to_string(),
            Answer::Ok(r) => {
                self.refuse(&o.id, format!("{method} {}: {r}", o.id));
                return Ok(());
            }
            Answer::Err(e) => {
                self.refuse(&o.id, format!("{method} {}: {e}", o.id));
                return Ok(());
            }
        };
        self.complete(o, &url, outcome, extra, deadline).await
    }

    /// `/_sandbox/complete`, retried (an adapter or the sandbox may be down) until the order
    /// is no longer pending.
    async fn complete(
        &self,
        o: &Order,
        url: &str,
        outcome: &str,
        extra: Value,
        deadline: Instant,
    ) -> Result<(), String> {
        let mut body = json!({"redirect_url": url, "outcome": outcome});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        let mut delay = Duration::from_millis(250);
        loop {
            let last = match self.sandbox.post("/_sandbox/complete", &body).await {
                Ok((200, v)) => {
                    self.check_deliveries(o, &v);
                    return Ok(());
                }
                Ok((s, v)) => format!("HTTP {s} {v}"),
                Err(e) => e,
            };
            // An earlier attempt may have finished it (its answer lost).
            if let Ok(st) = self.api.status(o.merchant, &o.id, deadline).await {
                if is_final(st["state"].as_str().unwrap_or("")) {
                    return Ok(());
                }
            }
            if Instant::now() + delay > deadline {
                return Err(format!("complete {}: {last}", o.id));
            }
            self.api.stats.note(self.clock.secs(), Ev::Retry);
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(2));
        }
    }

    /// Remembers callbacks the adapter did not acknowledge (the sandbox gave up, or refused).
    fn check_deliveries(&self, o: &Order, v: &Value) {
        for d in v["deliveries"].as_array().into_iter().flatten() {
            let status = d["status"].as_u64().unwrap_or(0);
            if !(200..300).contains(&status) {
                let mut u = self.undelivered.lock().expect("undelivered");
                u.push(format!(
                    "{} {} {}: status {status} after {} attempts: {}",
                    o.id, d["provider"], d["kind"], d["attempts"], d["error"]
                ));
            }
        }
    }

    /// Seed 002: `set_transaction`, the SMS code, `confirm_teleaudio_payment`.
    async fn webbilling(&self, o: &Order) -> Result<(), String> {
        let deadline = self.deadline();
        let phone = phone();
        let params = json!({
            "trans_ext_id": o.id, "merchant_id": "19", "secret": M19.1,
            "payment": { "channel_id": "9042", "amount": "0", "currency": "PLN", "config": {} },
            "articles": [{ "prod_id": "512", "name": "premium article", "quantity": "1", "price": "250" }],
            "customer": { "ext_id": "user-7", "email": "reader@test.pl", "phone": phone },
            "client_ip": "127.0.0.1"
        });
        match self.api.call("set_transaction", &params, deadline).await? {
            Answer::Ok(r) if r["status"] == "1" => {}
            other => {
                self.refuse(&o.id, format!("set_transaction {}: {other:?}", o.id));
                return Ok(());
            }
        }
        // The code arrives once the command went through the queue to the adapter and Teleaudio.
        let mut checked = Instant::now();
        let code = loop {
            if let Ok(v) = self
                .sandbox
                .get(&format!("/_sandbox/sms?phone={phone}"))
                .await
            {
                let code = v["messages"].as_array().and_then(|m| {
                    m.iter().find_map(|m| {
                        m["text"]
                            .as_str()?
                            .split(|c: char| !c.is_ascii_digit())
                            .find(|w| w.len() == 6)
                            .map(str::to_string)
                    })
                });
                if let Some(c) = code {
                    break c;
                }
            }
            if checked.elapsed() > Duration::from_secs(5) {
                checked = Instant::now();
                // A start Teleaudio refused for good ends the order (payment_failed).
                if let Ok(st) = self.api.status(o.merchant, &o.id, deadline).await {
                    if is_final(st["state"].as_str().unwrap_or("")) {
                        self.refuse(&o.id, format!("webbilling {}: {}", o.id, st["state"]));
                        return Ok(());
                    }
                }
            }
            if Instant::now() > deadline {
                return Err(format!("webbilling {}: no SMS code for {phone}", o.id));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        };
        let params =
            json!({"merchant_id": "19", "secret": M19.1, "trans_ext_id": o.id, "code": code});
        let mut delay = Duration::from_millis(250);
        loop {
            match self
                .api
                .try_call("confirm_teleaudio_payment", &params)
                .await
            {
                Ok(Answer::Ok(r)) if r["status"] == "1" => return Ok(()),
                Ok(other) => {
                    // After a confirmation whose answer was lost, Teleaudio may refuse the
                    // second: what counts is the order.
                    let until = Instant::now() + Duration::from_secs(30);
                    while Instant::now() < until {
                        if let Ok(st) = self.api.status(o.merchant, &o.id, deadline).await {
                            if is_final(st["state"].as_str().unwrap_or("")) {
                                return Ok(());
                            }
                        }
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                    self.refuse(&o.id, format!("confirm {}: {other:?}", o.id));
                    return Ok(());
                }
                Err(e) => {
                    if let Ok(st) = self.api.status(o.merchant, &o.id, deadline).await {
                        if is_final(st["state"].as_str().unwrap_or("")) {
                            return Ok(());
                        }
                    }
                    if Instant::now() + delay > deadline {
                        return Err(format!("confirm {}: {e}", o.id));
                    }
                    self.api.stats.note(self.clock.secs(), Ev::Retry);
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(2));
                }
            }
        }
    }

    /// `unsubscribe`; after an answer lost, the order says whether it went through.
    async fn unsubscribe(&self, s: &Sub) -> Result<(), String> {
        let deadline = self.deadline();
        let params = json!({"merchant_id": s.merchant.0, "secret": s.merchant.1,
            "order_ext_id": s.id, "client_ip": "10.0.0.1"});
        let mut delay = Duration::from_millis(250);
        loop {
            match self.api.try_call("unsubscribe", &params).await {
                Ok(Answer::Ok(_)) => return Ok(()),
                Ok(Answer::Err(e)) => {
                    self.refuse(&s.id, format!("unsubscribe {}: {e}", s.id));
                    return Ok(());
                }
                Err(e) => {
                    if let Ok(st) = self.api.status(s.merchant, &s.id, deadline).await {
                        let state = st["state"].as_str().unwrap_or("");
                        if matches!(state, "cancelling" | "cancelled" | "completed") {
                            return Ok(());
                        }
                    }
                    if Instant::now() + delay > deadline {
                        return Err(format!("unsubscribe {}: {e}", s.id));
                    }
                    self.api.stats.note(self.clock.secs(), Ev::Retry);
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(2));
                }
            }
        }
    }

    /// Netopia's `modify_subscription_price` (setting a price: safe to retry).
    async fn price_change(&self, s: &Sub) -> Result<(), String> {
        let price = rand::random_range(2000..4000);
        let params = json!({"merchant_id": s.merchant.0, "secret": s.merchant.1,
            "order_ext_id": s.id, "price": price});
        let _clock = if self.price_race {
            None
        } else {
            Some(self.sandbox_clock.lock().await)
        };
        match self
            .api
            .call("modify_subscription_price", &params, self.deadline())
            .await?
        {
            Answer::Ok(_) => Ok(()),
            Answer::Err(e) => {
                self.refuse(&s.id, format!("modify_subscription_price {}: {e}", s.id));
                Ok(())
            }
        }
    }

    /// One payment per provider, end to end (started, paid, posted in the ledger, notified to
    /// the merchant), all at once; Ok(time since `since`) when the last one is through.
    pub async fn probe_all(&self, since: Instant, within: Duration) -> Result<Duration, String> {
        let flows = [
            Flow::MobiltekOneTime,
            Flow::TeleaudioWebbilling,
            Flow::NetopiaOneTime,
            Flow::MocopayOneTime,
        ];
        let results =
            futures::future::join_all(flows.into_iter().map(|f| self.probe(f, within))).await;
        let errors: Vec<String> = results.into_iter().filter_map(Result::err).collect();
        if errors.is_empty() {
            Ok(since.elapsed())
        } else {
            Err(errors.join("; "))
        }
    }

    async fn probe(&self, flow: Flow, within: Duration) -> Result<(), String> {
        let deadline = Instant::now() + within;
        let order = {
            let _shared = self.gate.read().await;
            self.run_flow(flow, true).await?
        };
        let o = order.ok_or("no order")?;
        self.finished(&o);
        loop {
            if self.receiver.has(o.merchant.0, &o.id, "new_payment")
                && self.posted(o.merchant.0, &o.id).await
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "probe {} not notified and posted within {within:?}",
                    o.id
                ));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Whether the ledger posted a charge of this order (gRPC `Ledger.SubscriptionCharges`).
    async fn posted(&self, merchant: &str, order: &str) -> bool {
        let Ok(ch) = paysys_platform::grpc::connect(
            &self.ledger_url,
            &paysys_platform::internal::InternalToken::new(self.token.clone()),
        )
        .await
        else {
            return false;
        };
        paysys_proto::ledger_client::LedgerClient::new(ch)
            .subscription_charges(paysys_proto::SubscriptionChargesRequest {
                merchant_id: merchant.into(),
                order_id: order.into(),
            })
            .await
            .map(|r| r.into_inner().charges.iter().any(|c| c.status == "posted"))
            .unwrap_or(false)
    }
}

fn netopia_params(id: &str, channel: &str, price: i64, payments_no: Option<u32>) -> Value {
    let config = match payments_no {
        Some(n) => json!({"payments_no": n.to_string(), "interval_day": "30"}),
        None => json!({}),
    };
    json!({
        "trans_ext_id": id, "merchant_id": "40", "secret": M40.1,
        "payment": { "channel_id": channel, "currency": "RON", "config": config },
        "articles": [ { "prod_id": "gold", "name": "abonament gold", "quantity": "1", "price": price.to_string() } ],
        "customer": { "ext_id": "c-1", "firstname": "Ion", "lastname": "Popescu", "email": "ion@example.ro", "phone": "40712345678" },
        "client_ip": "127.0.0.1", "next_url": "https://shop.example.ro/thanks"
    })
}

fn mocopay_params(id: &str, channel: &str, price: i64) -> Value {
    json!({
        "trans_ext_id": id, "merchant_id": "50", "secret": M50.1,
        "payment": { "channel_id": channel, "currency": "EUR" },
        "articles": [ { "prod_id": "tone", "name": "ringtone", "quantity": "1", "price": price.to_string() } ],
        "customer": { "ext_id": "359276053656628", "phone": "385991234567" },
        "client_ip": "127.0.0.1", "next_url": "https://shop.example.hr/thanks"
    })
}
