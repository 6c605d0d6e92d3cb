//! One trace follows a payment across RabbitMQ, gRPC and HTTP: an event written to the outbox
//! inside a span carries that span's W3C `traceparent` in its AMQP headers and the consumer's
//! span continues the trace; a gRPC call carries it in its metadata; a server's request span
//! continues the trace of an incoming `traceparent`. (Its own test binary: it installs the global subscriber and propagator.)

use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use paysys_platform::broker::{self, Handler, Message};
use paysys_platform::outbox::{self, OutboxSignal};
use paysys_platform::{testing, Shutdown};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;

fn trace_id_of(span: &tracing::Span) -> String {
    span.context().span().span_context().trace_id().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_crosses_amqp_grpc_and_http() {
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
    tracing::subscriber::set_global_default(subscriber).expect("first subscriber");
    opentelemetry::global::set_text_map_propagator(
        opentelemetry_sdk::propagation::TraceContextPropagator::new(),
    );

    let prefix = testing::unique_prefix();
    let settings = testing::amqp_settings(&prefix);
    let pool = testing::messaging_pool().await.unwrap();
    let shutdown = Shutdown::new();
    let signal = OutboxSignal::default();
    let seen: Arc<Mutex<Option<(String, String)>>> = Arc::default();
    let s2 = seen.clone();
    let handler: Handler = Arc::new(move |m: Message| {
        let seen = s2.clone();
        Box::pin(async move {
            // The consumer runs inside the span broker::consume made from the headers.
            let here = trace_id_of(&tracing::Span::current());
            let header = m.headers.get("traceparent").cloned().unwrap_or_default();
            *seen.lock().unwrap() = Some((header, here));
            Ok(())
        })
    });
    tokio::spawn(broker::consume(
        settings.clone(),
        settings.queue("traced"),
        vec!["#".into()],
        handler,
        shutdown.clone(),
    ));
    let publisher = Arc::new(broker::Publisher::new(
        settings.clone(),
        vec![],
        shutdown.clone(),
    ));
    tokio::spawn(outbox::relay(
        pool.clone(),
        publisher,
        signal.clone(),
        shutdown.clone(),
    ));

    let span = tracing::info_span!("merchant request");
    let trace_id = trace_id_of(&span);
    assert_ne!(trace_id, "00000000000000000000000000000000");
    // Give the consumer time to declare and bind its queue, then emit inside the span.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (p, s) = (pool.clone(), settings.clone());
    async move {
        let mut tx = p.begin().await.unwrap();
        outbox::enqueue(
            &mut tx,
            &s.exchange,
            "payment.succeeded",
            uuid::Uuid::now_v7(),
            b"x",
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }
    .instrument(span)
    .await;
    signal.notify();

    let deadline = Instant::now() + Duration::from_secs(15);
    let (header, consumer_trace) = loop {
        if let Some(got) = seen.lock().unwrap().clone() {
            break got;
        }
        assert!(Instant::now() < deadline, "the event never arrived");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        header.starts_with(&format!("00-{trace_id}-")),
        "traceparent {header:?} is not of trace {trace_id}"
    );
    assert_eq!(
        consumer_trace, trace_id,
        "the consumer's span does not continue the trace"
    );
    shutdown.trigger();
}
