//! One payment is one trace: the merchant's `set_transaction_sync` at the edge, the adapter's
//! gRPC `Start`, the provider's callback applied to that order, the outbox relay publishing its
//! event, the ledger, the notifier and the edge consuming it, and the notifier's delivery to the
//! merchant, every span's parent in the same trace. The spans are exported over OTLP/gRPC the
//! way a deployment exports them, to an OTLP trace receiver this test runs itself.
//!
//! Its own test binary: it installs the process's only subscriber, with the OTLP exporter,
//! before the test system starts (the services of a test system share the test's process, so
//! they all export through it, under one `service.name`; spans tell the services apart by
//! their names).

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use paysys_platform::config::TelemetrySettings;
use paysys_platform::telemetry;
use paysys_tests::*;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One span as the receiver got it.
#[derive(Debug, Clone)]
struct Received {
    service: String,
    trace_id: String,
    span_id: String,
    /// Empty for a root.
    parent: String,
    name: String,
    attributes: BTreeMap<String, String>,
    /// (trace id, span id) of each linked span.
    links: Vec<(String, String)>,
    start: u64,
}

impl Received {
    fn attr(&self, key: &str) -> &str {
        self.attributes.get(key).map(String::as_str).unwrap_or("")
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn text(kv: &KeyValue) -> String {
    match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
        Some(AnyValue::StringValue(s)) => s.clone(),
        Some(AnyValue::IntValue(i)) => i.to_string(),
        Some(AnyValue::BoolValue(b)) => b.to_string(),
        Some(AnyValue::DoubleValue(d)) => d.to_string(),
        other => format!("{other:?}"),
    }
}

/// An OTLP/gRPC trace receiver (what a collector's `otlp` receiver is to a service): keeps
/// every span it is sent.
#[derive(Clone, Default)]
struct Receiver(Arc<Mutex<Vec<Received>>>);

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut got = Vec::new();
        for rs in request.into_inner().resource_spans {
            let service = rs
                .resource
                .iter()
                .flat_map(|r| r.attributes.iter())
                .find(|kv| kv.key == "service.name")
                .map(text)
                .unwrap_or_default();
            for span in rs.scope_spans.into_iter().flat_map(|s| s.spans) {
                got.push(Received {
                    service: service.clone(),
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent: hex(&span.parent_span_id),
                    name: span.name,
                    attributes: span
                        .attributes
                        .iter()
                        .map(|kv| (kv.key.clone(), text(kv)))
                        .collect(),
                    links: span
                        .links
                        .iter()
                        .map(|l| (hex(&l.trace_id), hex(&l.span_id)))
                        .collect(),
                    start: span.start_time_unix_nano,
                });
            }
        }
        self.0.lock().expect("receiver").extend(got);
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

impl Receiver {
    /// Serves on a free loopback port; the endpoint to export to.
    async fn start() -> (Self, String) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the OTLP receiver");
        let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
        let receiver = Self::default();
        let service = TraceServiceServer::new(receiver.clone());
        tokio::spawn(async move {
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
                .await
                .expect("OTLP receiver");
        });
        (receiver, endpoint)
    }

    fn spans(&self) -> Vec<Received> {
        self.0.lock().expect("receiver").clone()
    }
}

/// One payment as its spans must show it: the adapter's span applying the provider's callback
/// to `order`, the relay publishing `event`, the ledger, the notifier and the edge consuming
/// it, and the notifier delivering `notification`.
struct Payment<'a> {
    order: &'a str,
    callback: &'a str,
    event: &'a str,
    notification: &'a str,
}

/// The spans of `trace_id`; Err unless it is whole: one root, named `root`, and every other
/// span's parent in the trace.
fn whole_trace(all: &[Received], trace_id: &str, root: &str) -> Result<Vec<Received>, String> {
    let trace: Vec<Received> = all
        .iter()
        .filter(|s| s.trace_id == trace_id)
        .cloned()
        .collect();
    let ids: BTreeSet<&str> = trace.iter().map(|s| s.span_id.as_str()).collect();
    let roots: Vec<&Received> = trace.iter().filter(|s| s.parent.is_empty()).collect();
    match roots.as_slice() {
        [r] if r.name == root => {}
        [r] => return Err(format!("the root is {:?}, not {root:?}", r.name)),
        _ => return Err(format!("{} roots in the trace, wanted 1", roots.len())),
    }
    if let Some(orphan) = trace
        .iter()
        .find(|s| !s.parent.is_empty() && !ids.contains(s.parent.as_str()))
    {
        return Err(format!(
            "{:?} has a parent that is not in the trace",
            orphan.name
        ));
    }
    Ok(trace)
}

/// The spans of one hop, each a child of a span of the hop before (`parents`). A hop may show
/// more than once (a redelivery, a relay's retry after a broker hiccup): every span of it must
/// then hang from the hop before.
fn hop(
    trace: &[Received],
    what: &str,
    parents: &[Received],
    f: &dyn Fn(&Received) -> bool,
) -> Result<Vec<Received>, String> {
    let found: Vec<Received> = trace.iter().filter(|s| f(s)).cloned().collect();
    if found.is_empty() {
        return Err(format!("no span of {what} in the trace"));
    }
    if let Some(stray) = found
        .iter()
        .find(|s| !parents.iter().any(|p| p.span_id == s.parent))
    {
        return Err(format!(
            "{:?} ({what}) is not a child of the hop before",
            stray.name
        ));
    }
    Ok(found)
}

/// The payment's hops below `above`, checked; its callback spans.
fn payment_hops(
    trace: &[Received],
    above: &[Received],
    p: &Payment,
) -> Result<Vec<Received>, String> {
    let callbacks = hop(trace, p.callback, above, &|s| s.name == p.callback)?;
    // The span a viewer's search by the merchant's order id finds.
    if let Some(c) = callbacks.iter().find(|c| c.attr("order_id") != p.order) {
        return Err(format!(
            "the callback's span names order {:?}, not {:?}",
            c.attr("order_id"),
            p.order
        ));
    }
    let publishes = hop(
        trace,
        &format!("the outbox relay publishing {}", p.event),
        &callbacks,
        &|s| s.name == format!("publish {}", p.event),
    )?;
    let mut notifier = Vec::new();
    for queue in ["ledger.events", "notifier.events", "edge.events"] {
        let consumed = hop(trace, &format!("consuming {queue}"), &publishes, &|s| {
            s.name.starts_with("consume ")
                && s.attr("queue").ends_with(queue)
                && s.attr("routing_key") == p.event
        })?;
        if queue == "notifier.events" {
            notifier = consumed;
        }
    }
    let deliver = format!("deliver {}", p.notification);
    hop(trace, &deliver, &notifier, &|s| s.name == deliver)?;
    Ok(callbacks)
}

/// Whether one of `callbacks` links a span of `to` for which `f` holds.
fn links(callbacks: &[Received], to: &[Received], f: &dyn Fn(&Received) -> bool) -> bool {
    callbacks.iter().any(|c| {
        c.links.iter().any(|(t, s)| {
            to.iter()
                .any(|r| (&r.trace_id, &r.span_id) == (t, s) && f(r))
        })
    })
}

const START: &str = "paysys.v1.PaymentProvider/Start";

/// The trace the merchant's call started: the one trace of the gRPC `Start` spans among
/// `spans`, whole, rooted in the merchant's JSON-RPC call at the edge, `Start` its child, and
/// the payment below `Start` (the callback continues the order's trace and links the
/// provider's own request).
fn started_trace(spans: &[Received], p: &Payment) -> Result<Vec<Received>, String> {
    let traces: BTreeSet<&str> = spans
        .iter()
        .filter(|s| s.name == START)
        .map(|s| s.trace_id.as_str())
        .collect();
    let [trace_id] = traces.into_iter().collect::<Vec<_>>()[..] else {
        return Err("no gRPC Start, or Starts in several traces".into());
    };
    let trace = whole_trace(spans, trace_id, "POST /")?;
    let root: Vec<Received> = trace
        .iter()
        .filter(|s| s.parent.is_empty())
        .cloned()
        .collect();
    let starts = hop(&trace, "the adapter's gRPC Start", &root, &|s| {
        s.name == START
    })?;
    let callbacks = payment_hops(&trace, &starts, p)?;
    if !links(&callbacks, spans, &|r| r.name == "POST /mobiltek/notify") {
        return Err("the callback's span does not link the provider's request".into());
    }
    Ok(trace)
}

/// A renewal: the provider's request (`POST /mobiltek/notify`) roots a trace of its own, the
/// charge below it, and the callback's span links the subscription's trace (`started`).
fn renewal_trace(
    spans: &[Received],
    started: &[Received],
    p: &Payment,
) -> Result<Vec<Received>, String> {
    let traces: BTreeSet<&str> = spans
        .iter()
        .filter(|s| s.name == p.callback && s.attr("order_id") == p.order)
        .map(|s| s.trace_id.as_str())
        .collect();
    let [trace_id] = traces.into_iter().collect::<Vec<_>>()[..] else {
        return Err("no renewal's callback span, or several traces of it".into());
    };
    if started.iter().any(|s| s.trace_id == trace_id) {
        return Err("the renewal continues the subscription's trace".into());
    }
    let trace = whole_trace(spans, trace_id, "POST /mobiltek/notify")?;
    let root: Vec<Received> = trace
        .iter()
        .filter(|s| s.parent.is_empty())
        .cloned()
        .collect();
    let callbacks = payment_hops(&trace, &root, p)?;
    if !links(&callbacks, started, &|r| r.name == START) {
        return Err("the renewal's span does not link the subscription's start".into());
    }
    Ok(trace)
}

/// The trace as an indented tree, children in start order.
fn render(trace: &[Received]) -> String {
    fn walk(trace: &[Received], parent: &str, depth: usize, out: &mut String) {
        let mut children: Vec<&Received> = trace.iter().filter(|s| s.parent == parent).collect();
        children.sort_by_key(|s| s.start);
        for s in children {
            let at = ["path", "queue", "order_id"]
                .iter()
                .filter(|k| !s.attr(k).is_empty())
                .map(|k| format!(" {k}={}", s.attr(k)))
                .collect::<String>();
            out.push_str(&format!(
                "{}{} [{}]{at}\n",
                "  ".repeat(depth),
                s.name,
                s.service
            ));
            walk(trace, &s.span_id, depth + 1, out);
        }
    }
    let mut out = String::new();
    walk(trace, "", 0, &mut out);
    out
}

/// Every trace the receiver holds, for a failure's message.
fn render_all(all: &[Received]) -> String {
    let traces: BTreeSet<&str> = all.iter().map(|s| s.trace_id.as_str()).collect();
    traces
        .into_iter()
        .map(|t| {
            let spans: Vec<Received> = all.iter().filter(|s| s.trace_id == t).cloned().collect();
            let ids: BTreeSet<&str> = spans.iter().map(|s| s.span_id.as_str()).collect();
            // Spans whose parent never arrived show at the top.
            let spans: Vec<Received> = spans
                .iter()
                .map(|s| {
                    let mut s = s.clone();
                    if !ids.contains(s.parent.as_str()) {
                        s.parent.clear();
                    }
                    s
                })
                .collect();
            format!("trace {t}\n{}", render(&spans))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Flushes the exporter until `check` accepts the spans received since `since` (spans end as
/// their work does, a consumer's after its ack), 30 s at most.
async fn traced(
    guard: &Arc<telemetry::TelemetryGuard>,
    receiver: &Receiver,
    since: usize,
    what: &str,
    check: impl Fn(&[Received]) -> Result<Vec<Received>, String>,
) -> Vec<Received> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let g = guard.clone();
        tokio::task::spawn_blocking(move || g.flush())
            .await
            .expect("flush");
        let spans = receiver.spans().split_off(since);
        match check(&spans) {
            Ok(trace) => {
                eprintln!("{what}:\n{}", render(&trace));
                return trace;
            }
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await
            }
            Err(why) => panic!(
                "{what}: {why}\n\nevery trace received:\n{}",
                render_all(&spans)
            ),
        }
    }
}

fn redirect_of(resp: &serde_json::Value) -> String {
    resp["result"]["data"]["redirect_url"]
        .as_str()
        .unwrap_or_else(|| panic!("no redirect: {resp}"))
        .to_string()
}

/// One test, so one exporter and one receiver (the process's subscriber is installed once):
/// a one-time payment, then a subscription and its renewal.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_payment_is_one_trace_and_a_renewal_links_its_subscription() {
    let (receiver, endpoint) = Receiver::start().await;
    let guard = Arc::new(telemetry::init(
        "paysys-tests",
        &TelemetrySettings {
            log_format: "pretty".into(),
            level: std::env::var("PAYSYS_TEST_LOG").unwrap_or_else(|_| "warn".into()),
            otlp_endpoint: Some(endpoint),
        },
    ));
    let sys = spawn_system().await;

    // A one-time payment (seed 000, Mobiltek): one trace from the merchant's call to its
    // notification.
    let order = uuid::Uuid::new_v4().to_string();
    let url = redirect_of(
        &sys.rpc("set_transaction_sync", seed_000_one_time(&order))
            .await,
    );
    sys.complete(&url, "success").await;
    sys.inbox.wait_for("1", "new_payment", 1).await;
    assert_eq!(sys.statement("1", 1).await.len(), 1, "the ledger posted it");
    assert_eq!(
        sys.settled_notifications("1", &order).await,
        [("new_payment".to_string(), "delivered".to_string(), 1)]
    );
    let paid = Payment {
        order: &order,
        callback: "mobiltek callback paid",
        event: "payment.succeeded",
        notification: "new_payment",
    };
    traced(&guard, &receiver, 0, "the payment's trace", |spans| {
        started_trace(spans, &paid)
    })
    .await;

    // A subscription (seed 000): its start and first charge are the trace of the merchant's
    // call; a renewal a period later is a trace of its own that links it.
    let since = receiver.spans().len();
    let order = uuid::Uuid::new_v4().to_string();
    let url = redirect_of(
        &sys.rpc("set_subscription", seed_000_subscription(&order))
            .await,
    );
    sys.complete(&url, "success").await;
    sys.inbox
        .wait_for("34801", "subscription_charge_success", 1)
        .await;
    let charged = Payment {
        order: &order,
        callback: "mobiltek callback charged",
        event: "subscription.charged",
        notification: "subscription_charge_success",
    };
    let started = traced(
        &guard,
        &receiver,
        since,
        "the subscription's trace",
        |spans| started_trace(spans, &charged),
    )
    .await;

    let since = receiver.spans().len();
    sys.advance(2_592_000).await;
    sys.inbox
        .wait_for("34801", "subscription_charge_success", 2)
        .await;
    assert_eq!(
        sys.statement("34801", 2).await.len(),
        2,
        "both charges posted"
    );
    traced(&guard, &receiver, since, "the renewal's trace", |spans| {
        renewal_trace(spans, &started, &charged)
    })
    .await;
    sys.stop().await;
}
