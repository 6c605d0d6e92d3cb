//! JSON-RPC 2.0 protocol, exactly per the specification: single calls and batches, notifications
//! (no `id`: no answer, also inside batches), `-32700` parse error with `"id": null`, `-32600` for
//! an invalid request or an empty batch, `-32601`, `-32602` with `data` naming each bad field,
//! `-32603`. The method table is behind `Dispatch`, so this module knows nothing of payments.

use futures::future::BoxFuture;
use futures::FutureExt;
use serde_json::{json, Map, Value};

pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;
pub const METHOD_NOT_FOUND: i64 = -32601;
pub const INVALID_PARAMS: i64 = -32602;
pub const INTERNAL_ERROR: i64 = -32603;
/// Server-defined: the merchant could not be authenticated.
pub const UNAUTHORIZED: i64 = -32001;

#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
    pub data: Option<Value>,
}

impl RpcError {
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            data: None,
        }
    }
    pub fn with_data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
    }
    pub fn method_not_found(method: &str) -> Self {
        Self::new(METHOD_NOT_FOUND, "Method not found").with_data(json!({ "method": method }))
    }
    /// `-32602` naming each bad field by its path, e.g. `{"articles[0].price": "..."}`.
    pub fn invalid_params(fields: Map<String, Value>) -> Self {
        Self::new(INVALID_PARAMS, "Invalid params").with_data(Value::Object(fields))
    }
    pub fn invalid_field(path: &str, why: impl Into<String>) -> Self {
        let mut m = Map::new();
        m.insert(path.to_string(), Value::String(why.into()));
        Self::invalid_params(m)
    }
    /// `-32602` naming several fields, each with its reason.
    pub fn invalid_fields(fields: Vec<(String, String)>) -> Self {
        let mut m = Map::new();
        for (path, why) in fields {
            m.insert(path, Value::String(why));
        }
        Self::invalid_params(m)
    }
    /// A database failure: logged with its text, answered without it (`-32603` never carries
    /// database error text).
    pub fn database(e: sqlx::Error) -> Self {
        tracing::error!(error = %e, "database error");
        Self::internal("database error; retrying the same request is safe")
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(INTERNAL_ERROR, message)
    }
    pub fn unauthorized() -> Self {
        Self::new(
            UNAUTHORIZED,
            "Unauthorized: unknown merchant or bad secret/signature",
        )
    }
    pub fn to_json(&self) -> Value {
        let mut o = json!({ "code": self.code, "message": self.message });
        if let Some(d) = &self.data {
            o["data"] = d.clone();
        }
        o
    }
}

/// One well-formed call.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub params: Value,
    /// None for a notification.
    pub id: Option<Value>,
}

/// Runs methods. `params` is always an object or array (or Null when absent).
pub trait Dispatch: Send + Sync {
    fn call<'a>(
        &'a self,
        call: &'a Call,
        ctx: &'a CallContext,
    ) -> BoxFuture<'a, Result<Value, RpcError>>;
}

/// Transport facts a method may need (the raw body and headers, for HMAC authentication), and
/// what one HTTP request has learnt about its credentials: every call of a batch shares it, so
/// each distinct credential is looked up once per request, not once per call.
#[derive(Debug, Clone, Default)]
pub struct CallContext {
    pub raw_body: bytes::Bytes,
    pub signature_header: Option<String>,
    pub auth: crate::auth::RequestAuth,
}

fn response(id: Value, outcome: Result<Value, RpcError>) -> Value {
    match outcome {
        Ok(result) => json!({ "jsonrpc": "2.0", "result": result, "id": id }),
        Err(e) => json!({ "jsonrpc": "2.0", "error": e.to_json(), "id": id }),
    }
}

fn error_response(id: Value, e: RpcError) -> Value {
    response(id, Err(e))
}

/// Validates one request object: Ok(call) or the error response to send.
fn parse_call(v: &Value) -> Result<Call, Value> {
    let obj = match v.as_object() {
        Some(o) => o,
        None => {
            return Err(error_response(
                Value::Null,
                RpcError::new(INVALID_REQUEST, "Invalid Request")
                    .with_data(json!("request must be an object")),
            ))
        }
    };
    // An id that is not a string, number or null makes the request invalid; answer with null id.
    let id = match obj.get("id") {
        None => None,
        Some(i @ (Value::String(_) | Value::Number(_) | Value::Null)) => Some(i.clone()),
        Some(_) => {
            return Err(error_response(
                Value::Null,
                RpcError::new(INVALID_REQUEST, "Invalid Request")
                    .with_data(json!({"id": "must be a string, number or null"})),
            ))
        }
    };
    let reply_id = id.clone().unwrap_or(Value::Null);
    if obj.get("jsonrpc") != Some(&Value::String("2.0".into())) {
        return Err(error_response(
            reply_id,
            RpcError::new(INVALID_REQUEST, "Invalid Request")
                .with_data(json!({"jsonrpc": "must be exactly \"2.0\""})),
        ));
    }
    let method = match obj.get("method") {
        Some(Value::String(m)) => m.clone(),
        _ => {
            return Err(error_response(
                reply_id,
                RpcError::new(INVALID_REQUEST, "Invalid Request")
                    .with_data(json!({"method": "must be a string"})),
            ))
        }
    };
    let params = match obj.get("params") {
        None => Value::Null,
        Some(p @ (Value::Object(_) | Value::Array(_))) => p.clone(),
        Some(_) => {
            return Err(error_response(
                reply_id,
                RpcError::new(INVALID_REQUEST, "Invalid Request")
                    .with_data(json!({"params": "must be an object or an array"})),
            ))
        }
    };
    Ok(Call { method, params, id })
}

/// Runs one call. A panic in a handler is a bug of ours: the caller gets -32603, never a dropped
/// connection, and the other calls of a batch still get their answers (both transports).
pub async fn call_guarded(
    d: &dyn Dispatch,
    call: &Call,
    ctx: &CallContext,
) -> Result<Value, RpcError> {
    match std::panic::AssertUnwindSafe(d.call(call, ctx))
        .catch_unwind()
        .await
    {
        Ok(outcome) => outcome,
        Err(_) => {
            tracing::error!(method = %call.method, "handler panicked");
            Err(RpcError::internal("internal error"))
        }
    }
}

async fn handle_one(
    d: &dyn Dispatch,
    parsed: &Result<Call, Value>,
    ctx: &CallContext,
) -> Option<Value> {
    match parsed {
        Err(resp) => Some(resp.clone()),
        Ok(call) => {
            let outcome = call_guarded(d, call, ctx).await;
            if let Err(e) = &outcome {
                if e.code == INTERNAL_ERROR {
                    tracing::error!(method = %call.method, error = %e.message, "internal error");
                }
            }
            // A notification gets no answer, even an error.
            call.id.clone().map(|id| response(id, outcome))
        }
    }
}

/// The largest batch accepted; a larger one is one `-32600` (documented in README).
pub const MAX_BATCH: usize = 100;
/// Calls of one batch run at most this many at a time.
pub const BATCH_CONCURRENCY: usize = 4;

/// A request body once decoded, before any method runs: one call or a batch, each entry either a
/// well-formed call or the error response it gets (`-32600`, id as the spec says).
#[derive(Debug, Clone)]
pub enum Body {
    Single(Result<Call, Value>),
    Batch(Vec<Result<Call, Value>>),
}

/// Decodes a raw HTTP body into calls. Pure (no handler runs, nothing is logged), so it is what
/// the fuzzer drives. `Err` is the one response the whole body gets: `-32700` for bytes that are
/// not JSON, `-32600` for an empty batch or one of more than [`MAX_BATCH`] calls.
pub fn parse_body(raw: &[u8]) -> Result<Body, Value> {
    let parsed: Value = match serde_json::from_slice(raw) {
        Ok(v) => v,
        Err(e) => {
            return Err(error_response(
                Value::Null,
                RpcError::new(PARSE_ERROR, "Parse error").with_data(json!(e.to_string())),
            ))
        }
    };
    match &parsed {
        Value::Array(items) if items.is_empty() => Err(error_response(
            Value::Null,
            RpcError::new(INVALID_REQUEST, "Invalid Request").with_data(json!("empty batch")),
        )),
        Value::Array(items) if items.len() > MAX_BATCH => Err(error_response(
            Value::Null,
            RpcError::new(INVALID_REQUEST, "Invalid Request").with_data(json!(format!(
                "a batch holds at most {MAX_BATCH} calls, this one {}",
                items.len()
            ))),
        )),
        Value::Array(items) => Ok(Body::Batch(items.iter().map(parse_call).collect())),
        other => Ok(Body::Single(parse_call(other))),
    }
}

/// Handles a raw HTTP body; returns the JSON to send, or None for "no content" (notifications).
pub async fn handle(d: &dyn Dispatch, ctx: &CallContext) -> Option<Value> {
    match parse_body(&ctx.raw_body) {
        Err(resp) => Some(resp),
        Ok(Body::Single(one)) => handle_one(d, &one, ctx).await,
        Ok(Body::Batch(calls)) => {
            // In order, at most BATCH_CONCURRENCY at a time: one batch cannot take every
            // database connection.
            let mut answers: Vec<Option<Value>> = Vec::with_capacity(calls.len());
            for chunk in calls.chunks(BATCH_CONCURRENCY) {
                answers.extend(
                    futures::future::join_all(chunk.iter().map(|c| handle_one(d, c, ctx))).await,
                );
            }
            let answers: Vec<Value> = answers.into_iter().flatten().collect();
            if answers.is_empty() {
                None
            } else {
                Some(Value::Array(answers))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! Conformance, table-driven, with the examples of the JSON-RPC 2.0 specification (section 7).
    use super::*;

    struct Spec;
    impl Dispatch for Spec {
        fn call<'a>(
            &'a self,
            call: &'a Call,
            _: &'a CallContext,
        ) -> BoxFuture<'a, Result<Value, RpcError>> {
            Box::pin(async move {
                match call.method.as_str() {
                    "subtract" => {
                        let (a, b) = match &call.params {
                            Value::Array(a) => {
                                (a[0].as_i64().unwrap_or(0), a[1].as_i64().unwrap_or(0))
                            }
                            Value::Object(o) => (
                                o["minuend"].as_i64().unwrap_or(0),
                                o["subtrahend"].as_i64().unwrap_or(0),
                            ),
                            _ => return Err(RpcError::invalid_field("params", "required")),
                        };
                        Ok(json!(a - b))
                    }
                    "sum" => Ok(json!(call
                        .params
                        .as_array()
                        .map(|a| a.iter().filter_map(|v| v.as_i64()).sum::<i64>())
                        .unwrap_or(0))),
                    "get_data" => Ok(json!(["hello", 5])),
                    "explode" => panic!("a bug in a handler"),
                    "update" | "notify_hello" | "notify_sum" | "foobar" if call.id.is_none() => {
                        Ok(Value::Null)
                    }
                    m => Err(RpcError::method_not_found(m)),
                }
            })
        }
    }

    async fn run(body: &str) -> Option<Value> {
        let ctx = CallContext {
            raw_body: bytes::Bytes::from(body.to_string()),
            ..Default::default()
        };
        handle(&Spec, &ctx).await
    }

    fn strip_data(v: Value) -> Value {
        match v {
            Value::Array(a) => Value::Array(a.into_iter().map(strip_data).collect()),
            Value::Object(mut o) => {
                if let Some(Value::Object(e)) = o.get_mut("error") {
                    e.remove("data");
                }
                Value::Object(o)
            }
            v => v,
        }
    }

    #[tokio::test]
    async fn specification_examples() {
        let cases: &[(&str, Option<&str>)] = &[
            (
                r#"{"jsonrpc": "2.0", "method": "subtract", "params": [42, 23], "id": 1}"#,
                Some(r#"{"jsonrpc": "2.0", "result": 19, "id": 1}"#),
            ),
            (
                r#"{"jsonrpc": "2.0", "method": "subtract", "params": {"subtrahend": 23, "minuend": 42}, "id": 3}"#,
                Some(r#"{"jsonrpc": "2.0", "result": 19, "id": 3}"#),
            ),
            (
                r#"{"jsonrpc": "2.0", "method": "update", "params": [1,2,3,4,5]}"#,
                None,
            ),
            (
                r#"{"jsonrpc": "2.0", "method": "foobar", "id": "1"}"#,
                Some(
                    r#"{"jsonrpc": "2.0", "error": {"code": -32601, "message": "Method not found"}, "id": "1"}"#,
                ),
            ),
            (
                r#"{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]"#,
                Some(
                    r#"{"jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse error"}, "id": null}"#,
                ),
            ),
            (
                r#"{"jsonrpc": "2.0", "method": 1, "params": "bar"}"#,
                Some(
                    r#"{"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null}"#,
                ),
            ),
            (
                r#"[
                {"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},
                {"jsonrpc": "2.0", "method"
              ]"#,
                Some(
                    r#"{"jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse error"}, "id": null}"#,
                ),
            ),
            (
                "[]",
                Some(
                    r#"{"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null}"#,
                ),
            ),
            (
                "[1]",
                Some(
                    r#"[{"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null}]"#,
                ),
            ),
            (
                "[1,2,3]",
                Some(
                    r#"[
                {"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null},
                {"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null},
                {"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null}]"#,
                ),
            ),
            (
                r#"[
                {"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},
                {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]},
                {"jsonrpc": "2.0", "method": "subtract", "params": [42,23], "id": "2"},
                {"foo": "boo"},
                {"jsonrpc": "2.0", "method": "foo.get", "params": {"name": "myself"}, "id": "5"},
                {"jsonrpc": "2.0", "method": "get_data", "id": "9"}
              ]"#,
                Some(
                    r#"[
                {"jsonrpc": "2.0", "result": 7, "id": "1"},
                {"jsonrpc": "2.0", "result": 19, "id": "2"},
                {"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null},
                {"jsonrpc": "2.0", "error": {"code": -32601, "message": "Method not found"}, "id": "5"},
                {"jsonrpc": "2.0", "result": ["hello", 5], "id": "9"}]"#,
                ),
            ),
            (
                r#"[
                {"jsonrpc": "2.0", "method": "notify_sum", "params": [1,2,4]},
                {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]}
              ]"#,
                None,
            ),
            // Beyond the spec's examples: wrong version, bad params type, object id, null id kept.
            (
                r#"{"jsonrpc": "1.0", "method": "sum", "id": 1}"#,
                Some(
                    r#"{"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": 1}"#,
                ),
            ),
            (
                r#"{"jsonrpc": "2.0", "method": "sum", "params": 3, "id": 1}"#,
                Some(
                    r#"{"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": 1}"#,
                ),
            ),
            (
                r#"{"jsonrpc": "2.0", "method": "sum", "id": {"a": 1}}"#,
                Some(
                    r#"{"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null}"#,
                ),
            ),
            (
                r#"{"jsonrpc": "2.0", "method": "sum", "params": [1], "id": null}"#,
                Some(r#"{"jsonrpc": "2.0", "result": 1, "id": null}"#),
            ),
            (r#"{"jsonrpc": "2.0", "method": "nope"}"#, None),
        ];
        for (req, want) in cases {
            let got = run(req).await.map(strip_data);
            let want: Option<Value> = want.map(|w| serde_json::from_str(w).unwrap());
            assert_eq!(got, want, "request: {req}");
        }
    }

    #[test]
    fn parse_body_decodes_without_running_a_method() {
        let code = |v: &Value| v["error"]["code"].as_i64();
        assert_eq!(code(&parse_body(b"{").unwrap_err()), Some(PARSE_ERROR));
        assert_eq!(code(&parse_body(b"[]").unwrap_err()), Some(INVALID_REQUEST));
        let too_many = format!("[{}]", vec!["1"; MAX_BATCH + 1].join(","));
        assert_eq!(
            code(&parse_body(too_many.as_bytes()).unwrap_err()),
            Some(INVALID_REQUEST)
        );
        match parse_body(br#"{"jsonrpc":"2.0","method":"m","params":[1],"id":7}"#) {
            Ok(Body::Single(Ok(call))) => {
                assert_eq!((call.method.as_str(), call.id), ("m", Some(json!(7))))
            }
            other => panic!("{other:?}"),
        }
        match parse_body(br#"[{"jsonrpc":"2.0","method":"m"}, 1]"#) {
            Ok(Body::Batch(calls)) => {
                assert!(matches!(&calls[0], Ok(Call { id: None, .. })));
                assert_eq!(
                    calls[1].as_ref().err().and_then(code),
                    Some(INVALID_REQUEST)
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn a_panicking_handler_answers_internal_error_and_the_batch_goes_on() {
        let v = run(r#"{"jsonrpc":"2.0","method":"explode","id":1}"#)
            .await
            .expect("an answer");
        assert_eq!(v["error"]["code"], INTERNAL_ERROR);
        assert_eq!(v["id"], 1);
        let v = run(r#"[{"jsonrpc":"2.0","method":"explode","id":1},{"jsonrpc":"2.0","method":"get_data","id":2}]"#)
            .await
            .expect("answers");
        assert_eq!(v[0]["error"]["code"], INTERNAL_ERROR);
        assert_eq!(v[1]["result"], json!(["hello", 5]));
    }
}
