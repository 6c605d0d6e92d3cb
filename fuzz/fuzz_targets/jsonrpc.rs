//! The merchant API's request decoding: raw HTTP body -> `rpc_edge::jsonrpc::parse_body` (single
//! call or batch) -> `jsonrpc::handle` with a dispatcher that runs each method's parameter parsing
//! and nothing else (no database, no provider). Beyond "no panic":
//! - `handle` answers exactly what `parse_body` decoded: one answer per call with an id and per
//!   invalid entry, none for notifications, `None` when nothing needs an answer;
//! - every answer is a JSON-RPC 2.0 response: `"jsonrpc": "2.0"`, an `id` that is a string, number
//!   or null, exactly one of `result` / `error`, and an error code of the specification (or the
//!   API's own) — never `-32603`, which here could only mean a parser bug;
//! - a `-32602` names at least one field;
//! - a parsed order costs what its articles say, never less than zero.
#![no_main]

use futures::future::BoxFuture;
use libfuzzer_sys::fuzz_target;
use rpc_edge::domain::{parse_recurrence_date, OrderRequest, TransExtId};
use rpc_edge::jsonrpc::{self, Body, Call, CallContext, Dispatch, RpcError};
use rpc_edge::params::Fields;
use serde_json::{json, Value};

/// Each method's parameter parsing, as `rpc_edge::api` does it before it touches the database.
struct ParamsOnly;

impl Dispatch for ParamsOnly {
    fn call<'a>(
        &'a self,
        call: &'a Call,
        _: &'a CallContext,
    ) -> BoxFuture<'a, Result<Value, RpcError>> {
        Box::pin(async move { params(call) })
    }
}

fn order_id(f: &mut Fields, p: &Value, field: &str) -> Option<String> {
    f.string(p, field, field, 64)
        .and_then(|s| TransExtId::parse(&s).map_err(|e| f.fail(field, e)).ok())
        .map(|id| id.as_str().to_string())
}

fn params(call: &Call) -> Result<Value, RpcError> {
    let p = &call.params;
    let mut f = Fields::new();
    let out = match call.method.as_str() {
        "set_transaction_sync" | "set_subscription" | "set_transaction" => {
            let req = OrderRequest::parse(p)?;
            let total: i64 = req.articles.iter().map(|a| a.price * a.quantity).sum();
            let amount = req.amount();
            assert!(
                amount.minor >= 0 && amount.minor == total - req.already_paid,
                "order amount {amount:?} from {p}"
            );
            assert!(!req.articles.is_empty() && req.articles.len() <= 100);
            assert_eq!(req.fingerprint(&call.method).len(), 64);
            let _ = (req.product_name(), req.article_config());
            json!(amount.minor)
        }
        "unsubscribe" | "modify_subscription_price" | "move_subscription_payment" => {
            let id = order_id(&mut f, p, "order_ext_id");
            let change = match call.method.as_str() {
                "modify_subscription_price" => f.integer(p, "price", "price").map(|v| {
                    if v <= 0 {
                        f.fail("price", "must be greater than zero (minor units)");
                    }
                    json!(v)
                }),
                "move_subscription_payment" => f.string(p, "date", "date", 40).and_then(|d| {
                    parse_recurrence_date(&d)
                        .map_err(|e| f.fail("date", e))
                        .ok()
                        .map(|t| json!(t.to_rfc3339()))
                }),
                _ => f
                    .opt_string(p, "client_ip", "client_ip", 45)
                    .map(Value::from),
            };
            json!([id, change])
        }
        "get_transaction_status" => json!(order_id(&mut f, p, "trans_ext_id")),
        "confirm_teleaudio_payment" => json!([
            f.string(p, "trans_ext_id", "trans_ext_id", 64),
            f.string(p, "code", "code", 32)
        ]),
        "get_channels_list" | "rpc.discover" => Value::Null,
        m => return Err(RpcError::method_not_found(m)),
    };
    f.finish()?;
    Ok(out)
}

fn check_response(r: &Value) {
    let o = r.as_object().expect("a response is an object");
    assert_eq!(o.get("jsonrpc"), Some(&json!("2.0")), "{r}");
    assert!(
        matches!(
            o.get("id"),
            Some(Value::String(_) | Value::Number(_) | Value::Null)
        ),
        "id of {r}"
    );
    match (o.get("result"), o.get("error")) {
        (Some(_), None) => {}
        (None, Some(e)) => {
            let code = e["code"].as_i64().expect("an integer error code");
            assert!(
                [
                    jsonrpc::PARSE_ERROR,
                    jsonrpc::INVALID_REQUEST,
                    jsonrpc::METHOD_NOT_FOUND,
                    jsonrpc::INVALID_PARAMS,
                ]
                .contains(&code),
                "unexpected error code in {r}"
            );
            assert!(e["message"].is_string(), "{r}");
            if code == jsonrpc::INVALID_PARAMS {
                assert!(
                    e["data"].as_object().is_some_and(|d| !d.is_empty()),
                    "-32602 names no field: {r}"
                );
            }
            if code == jsonrpc::PARSE_ERROR {
                assert_eq!(o["id"], Value::Null);
            }
        }
        _ => panic!("exactly one of result and error: {r}"),
    }
}

fn answers_expected(entry: &Result<Call, Value>) -> bool {
    match entry {
        Err(_) => true,
        Ok(call) => call.id.is_some(),
    }
}

fuzz_target!(|data: &[u8]| {
    let decoded = jsonrpc::parse_body(data);
    let ctx = CallContext {
        raw_body: bytes::Bytes::copy_from_slice(data),
        ..Default::default()
    };
    let answer = futures::executor::block_on(jsonrpc::handle(&ParamsOnly, &ctx));
    match (&decoded, &answer) {
        (Err(whole), Some(a)) => {
            assert_eq!(whole, a);
            check_response(a);
        }
        (Ok(Body::Single(one)), a) => {
            assert_eq!(answers_expected(one), a.is_some(), "{a:?}");
            if let Some(a) = a {
                check_response(a);
                if let Ok(Call { id: Some(id), .. }) = one {
                    assert_eq!(&a["id"], id);
                }
            }
        }
        (Ok(Body::Batch(entries)), a) => {
            assert!(!entries.is_empty() && entries.len() <= jsonrpc::MAX_BATCH);
            let expected = entries.iter().filter(|e| answers_expected(e)).count();
            match a {
                None => assert_eq!(expected, 0),
                Some(Value::Array(items)) => {
                    assert_eq!(items.len(), expected);
                    items.iter().for_each(check_response);
                }
                Some(other) => panic!("a batch answered with {other}"),
            }
        }
        (Err(_), None) => panic!("a refused body got no answer"),
    }
});
