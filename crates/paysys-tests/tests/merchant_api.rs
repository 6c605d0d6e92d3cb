//! The merchant API contract over HTTP (DESIGN section 4): JSON-RPC conformance on the wire,
//! authentication, isolation between merchants, trans_ext_id idempotency, and bad input that
//! is refused field by field with nothing stored.

use paysys_tests::*;
use serde_json::{json, Value};

fn error_fields(resp: &Value) -> Vec<String> {
    assert_eq!(resp["error"]["code"], -32602, "expected -32602, got {resp}");
    resp["error"]["data"]
        .as_object()
        .expect("data names fields")
        .keys()
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_rpc_on_the_wire() {
    let sys = spawn_system().await;
    // Both content types; any path.
    for ct in ["application/json", "application/json-rpc"] {
        let (status, v) = sys
            .post_raw(r#"{"jsonrpc":"2.0","method":"rpc.discover","id":1}"#, ct)
            .await;
        assert_eq!(status, 200);
        let v = v.expect("answer");
        assert_eq!(v["result"]["openrpc"], "1.2.6");
        let names: Vec<&str> = v["result"]["methods"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|m| m["name"].as_str())
            .collect();
        for m in [
            "set_transaction_sync",
            "set_transaction",
            "confirm_teleaudio_payment",
            "set_subscription",
            "unsubscribe",
            "modify_subscription_price",
            "move_subscription_payment",
            "get_transaction_status",
            "get_channels_list",
        ] {
            assert!(names.contains(&m), "{m} missing from rpc.discover");
        }
    }
    // Parse error, invalid request, empty batch, notification-only batch, unknown method.
    let (_, v) = sys.post_raw("{nope", "application/json").await;
    let v = v.unwrap();
    assert_eq!(
        (v["error"]["code"].as_i64(), v["id"].is_null()),
        (Some(-32700), true)
    );
    let (_, v) = sys.post_raw("[]", "application/json").await;
    assert_eq!(v.unwrap()["error"]["code"], -32600);
    let (status, v) = sys
        .post_raw(
            r#"[{"jsonrpc":"2.0","method":"rpc.discover"},{"jsonrpc":"2.0","method":"x"}]"#,
            "application/json",
        )
        .await;
    assert_eq!((status, v), (204, None));
    let (_, v) = sys
        .post_raw(
            r#"{"jsonrpc":"2.0","method":"charge_everyone","id":"a"}"#,
            "application/json",
        )
        .await;
    assert_eq!(v.unwrap()["error"]["code"], -32601);
    // A batch mixes answers in one array.
    let (_, v) = sys
        .post_raw(r#"[{"jsonrpc":"2.0","method":"rpc.discover","id":1},{"foo":1},{"jsonrpc":"2.0","method":"nope","id":2}]"#, "application/json")
        .await;
    let arr = v.unwrap();
    let codes: Vec<Value> = arr
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["error"]["code"].clone())
        .collect();
    assert_eq!(codes, vec![Value::Null, json!(-32600), json!(-32601)]);
    // Wrong content type and GET still answer JSON-RPC, never HTML.
    let (_, v) = sys
        .post_raw(
            r#"{"jsonrpc":"2.0","method":"rpc.discover","id":1}"#,
            "text/plain",
        )
        .await;
    assert_eq!(v.unwrap()["error"]["code"], -32600);
    let r = sys.http.get(&sys.edge_url).send().await.unwrap();
    let v: Value = r.json().await.expect("JSON on GET");
    assert_eq!(v["error"]["code"], -32600);
    let r = sys
        .http
        .post(format!("{}some/other/path", sys.edge_url))
        .header("content-type", "application/json")
        .body(r#"{"jsonrpc":"2.0","method":"rpc.discover","id":1}"#)
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["result"]["openrpc"], "1.2.6");
    sys.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merchants_authenticate_and_never_see_each_other() {
    let sys = spawn_system().await;
    // Wrong secret, unknown merchant, no credentials: the same -32001.
    let mut p = seed_000_one_time("auth-1");
    p["secret"] = json!("wrong");
    assert_eq!(
        sys.rpc("set_transaction_sync", p.clone()).await["error"]["code"],
        -32001
    );
    p["merchant_id"] = json!("999");
    assert_eq!(
        sys.rpc("set_transaction_sync", p.clone()).await["error"]["code"],
        -32001
    );
    let mut p = seed_000_one_time("auth-1");
    p.as_object_mut().unwrap().remove("secret");
    assert_eq!(
        sys.rpc("set_transaction_sync", p.clone()).await["error"]["code"],
        -32001
    );
    assert_eq!(sys.order_count().await, 0);

    // The HMAC header instead of the secret parameter.
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "set_transaction_sync", "params": p})
        .to_string();
    let sig = rpc_edge::auth::sign_body(
        MERCHANT_1.1,
        chrono::Utc::now().timestamp(),
        body.as_bytes(),
    );
    let r = sys
        .http
        .post(&sys.edge_url)
        .header("content-type", "application/json")
        .header("x-paysys-signature", &sig)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["result"]["status"], "1", "{v}");
    // The same signature over another body is refused.
    let tampered = body.replace("\"price\":\"10\"", "\"price\":\"1\"");
    let r = sys
        .http
        .post(&sys.edge_url)
        .header("content-type", "application/json")
        .header("x-paysys-signature", &sig)
        .body(tampered)
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], -32001);

    // Merchant 34801 cannot read, cancel or use merchant 1's order or channel.
    let st = sys
        .rpc(
            "get_transaction_status",
            json!({"merchant_id": "34801", "secret": MERCHANT_34801.1, "trans_ext_id": "auth-1"}),
        )
        .await;
    assert_eq!(error_fields(&st), vec!["trans_ext_id"]);
    let un = sys
        .rpc(
            "unsubscribe",
            json!({"merchant_id": "34801", "secret": MERCHANT_34801.1, "order_ext_id": "auth-1"}),
        )
        .await;
    assert_eq!(error_fields(&un), vec!["order_ext_id"]);
    let mut p = seed_000_one_time("steal-1");
    p["merchant_id"] = json!("34801");
    p["secret"] = json!(MERCHANT_34801.1);
    assert_eq!(
        error_fields(&sys.rpc("set_transaction_sync", p).await),
        vec!["payment.channel_id"]
    );
    // Merchant 1 sees its own order, and only its own channels.
    let st = sys
        .rpc(
            "get_transaction_status",
            json!({"merchant_id": "1", "secret": MERCHANT_1.1, "trans_ext_id": "auth-1"}),
        )
        .await;
    assert_eq!(st["result"]["data"]["state"], "pending");
    let ch = sys
        .rpc(
            "get_channels_list",
            json!({"merchant_id": "1", "secret": MERCHANT_1.1}),
        )
        .await;
    assert_eq!(
        ch["result"]["data"],
        json!([{"id": "18912", "provider": "mobiltek", "kind": "one_time", "currency": "PLN"}])
    );
    sys.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trans_ext_id_is_idempotent_and_cannot_be_reused_for_other_content() {
    let sys = spawn_system().await;
    let first = sys
        .rpc("set_transaction_sync", seed_000_one_time("idem-1"))
        .await;
    // Same content spelled differently (numbers as numbers) is the same request.
    let mut same = seed_000_one_time("idem-1");
    same["articles"][0]["price"] = json!(10);
    same["articles"][0]["quantity"] = json!(1);
    assert_eq!(
        sys.rpc("set_transaction_sync", same).await["result"],
        first["result"]
    );
    let mut other = seed_000_one_time("idem-1");
    other["articles"][0]["price"] = json!("20");
    assert_eq!(
        error_fields(&sys.rpc("set_transaction_sync", other).await),
        vec!["trans_ext_id"]
    );
    assert_eq!(sys.order_count().await, 1);
    sys.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_field_is_named_and_nothing_is_stored() {
    let sys = spawn_system().await;
    let cases: Vec<(&str, Value, &str)> = vec![
        ("/trans_ext_id", json!(""), "trans_ext_id"),
        ("/trans_ext_id", json!("x".repeat(65)), "trans_ext_id"),
        ("/payment/channel_id", Value::Null, "payment.channel_id"),
        ("/payment/channel_id", json!("424242"), "payment.channel_id"),
        ("/payment/currency", json!("ZZZ"), "payment.currency"),
        ("/payment/currency", json!("EUR"), "payment.currency"),
        ("/payment/amount", json!("-1"), "payment.amount"),
        ("/payment", json!("card"), "payment"),
        ("/articles", json!([]), "articles"),
        ("/articles", json!("many"), "articles"),
        ("/articles/0/price", json!("10.50"), "articles[0].price"),
        ("/articles/0/price", json!(-10), "articles[0].price"),
        ("/articles/0/price", json!("0"), "articles"),
        ("/articles/0/quantity", json!("0"), "articles[0].quantity"),
        ("/articles/0/quantity", json!("one"), "articles[0].quantity"),
        ("/articles/0/name", json!(""), "articles[0].name"),
        ("/articles/0/prod_id", Value::Null, "articles[0].prod_id"),
        ("/articles/0/vat_rate", json!("abc"), "articles[0].vat_rate"),
        ("/articles/0/config", json!(5), "articles[0].config"),
        ("/customer", json!(7), "customer"),
        ("/customer/email", json!("not-an-email"), "customer.email"),
        ("/customer/phone", json!("12ab"), "customer.phone"),
        ("/customer/country", json!("Poland"), "customer.country"),
        ("/client_ip", json!("300.1.1.1"), "client_ip"),
        ("/test", json!("Maybe"), "test"),
        // Channel settings are the operator's: a merchant cannot sign under another service.
        (
            "/payment/config",
            json!({"service_id": "99999"}),
            "payment.config.service_id",
        ),
        ("/next_url", json!("ftp://x"), "next_url"),
        ("/merchant_id", Value::Null, "merchant_id"),
    ];
    for (pointer, value, field) in cases {
        let mut p = seed_000_one_time("bad-1");
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        let target = if parent.is_empty() {
            &mut p
        } else {
            p.pointer_mut(parent).unwrap()
        };
        match target {
            Value::Object(o) => {
                if value.is_null() {
                    o.remove(key);
                } else {
                    o.insert(key.to_string(), value.clone());
                }
            }
            Value::Array(a) => a[key.parse::<usize>().unwrap()] = value.clone(),
            _ => unreachable!(),
        }
        let resp = sys.rpc("set_transaction_sync", p).await;
        let fields = error_fields(&resp);
        assert!(
            fields.contains(&field.to_string()),
            "{pointer}={value}: wanted {field} named, got {resp}"
        );
    }
    // Several bad fields at once are all named.
    let mut p = seed_000_one_time("bad-2");
    p["articles"][0]["price"] = json!("x");
    p["customer"]["email"] = json!("y");
    let fields = error_fields(&sys.rpc("set_transaction_sync", p).await);
    assert!(
        fields.contains(&"articles[0].price".to_string())
            && fields.contains(&"customer.email".to_string())
    );
    // A channel of a provider this PaySystem has no adapter for.
    let mut p = seed_000_subscription("bad-3");
    p["payment"]["channel_id"] = json!("7999");
    let resp = sys.rpc("set_subscription", p).await;
    assert!(
        resp["error"]["data"]["payment.channel_id"]
            .as_str()
            .unwrap()
            .contains("payu"),
        "{resp}"
    );
    // A one-time channel cannot start a subscription.
    let resp = sys
        .rpc("set_subscription", seed_000_one_time("bad-4"))
        .await;
    assert_eq!(error_fields(&resp), vec!["payment.channel_id"]);
    assert_eq!(sys.order_count().await, 0, "bad input must store nothing");
    sys.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn internal_callers_use_the_same_handlers_over_grpc() {
    let sys = spawn_system().await;
    let mut client = sys.pay_system().await;
    let r = client
        .invoke(paysys_proto::InvokeRequest {
            method: "set_transaction_sync".into(),
            params_json: seed_000_one_time("grpc-1").to_string(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.error_code, 0, "{r:?}");
    let v: Value = serde_json::from_str(&r.result_json).unwrap();
    assert!(v["data"]["redirect_url"]
        .as_str()
        .unwrap()
        .contains("/ppe?"));
    let r = client
        .invoke(paysys_proto::InvokeRequest {
            method: "get_channels_list".into(),
            params_json: json!({"merchant_id": "1", "secret": "bad"}).to_string(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.error_code, -32001);
    sys.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_batches_and_made_up_methods_cannot_exhaust_the_edge() {
    let sys = spawn_system().await;
    // One call over the documented cap (100): the whole batch is one -32600, nothing runs.
    let batch: Vec<String> = (0..101)
        .map(|i| {
            format!(
                r#"{{"jsonrpc":"2.0","id":{i},"method":"get_channels_list","params":{{"merchant_id":"1","secret":"wrong"}}}}"#
            )
        })
        .collect();
    let (status, v) = sys
        .post_raw(&format!("[{}]", batch.join(",")), "application/json")
        .await;
    assert_eq!(status, 200);
    let v = v.expect("an answer");
    assert_eq!(v["error"]["code"], -32600, "{v}");
    assert!(
        v["error"]["data"].as_str().unwrap_or("").contains("100"),
        "{v}"
    );
    // At the cap it runs, one answer per call.
    let (_, v) = sys
        .post_raw(&format!("[{}]", batch[..100].join(",")), "application/json")
        .await;
    assert_eq!(v.expect("answers").as_array().map(Vec::len), Some(100));

    // Made-up method names do not become metric labels.
    for i in 0..50 {
        sys.rpc(&format!("made_up_method_{i}"), json!({})).await;
    }
    let metrics = sys
        .http
        .get(format!("{}metrics", sys.edge_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !metrics.contains("made_up_method"),
        "labels grew with made-up names"
    );
    assert!(
        metrics.contains(r#"method="unknown""#),
        "unknown methods are counted as such"
    );
    sys.stop().await;
}
