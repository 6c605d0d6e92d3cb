//! Test support: `spawn_edge` (fresh database, unique broker names, port 0) with two merchants
//! and a Mobiltek channel whose adapter never answers (a listener that accepts and stays silent),
//! so a payment holds its request for as long as the edge lets it.

use paysys_platform::sealed::DataKey;
use paysys_platform::{testing, Shutdown};
use prost::Message as _;
use rpc_edge::api::Api;
use rpc_edge::jsonrpc::CallContext;
use serde_json::{json, Value};
use sqlx::PgPool;

pub const MERCHANT: &str = "m-1";
pub const SECRET: &str = "m-1-api-secret";
pub const CHANNEL: &str = "c-1";
/// A second merchant, for the "never another's" stories.
pub const OTHER: &str = "m-2";
pub const OTHER_SECRET: &str = "m-2-api-secret";

pub fn data_key() -> DataKey {
    DataKey::from_base64(testing::DATA_KEY).expect("test data key")
}

/// A TCP listener that accepts connections and never says a word: an adapter that hangs.
async fn silent_adapter() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    url
}

/// The edge's settings for a test on `database_url`: every adapter silent, then `extra`.
pub async fn settings(database_url: &str, extra: &[(&str, config::Value)]) -> rpc_edge::Settings {
    let adapter = silent_adapter().await;
    let mut o: Vec<(String, config::Value)> = vec![("edge.listen".into(), "127.0.0.1:0".into())];
    for p in ["mobiltek", "teleaudio", "netopia", "mocopay"] {
        o.push((format!("edge.providers.{p}"), adapter.as_str().into()));
    }
    o.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
    let o: Vec<(&str, config::Value)> = o.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    testing::settings(database_url, &o)
}

#[derive(Clone)]
pub struct TestEdge {
    pub url: String,
    pub pool: PgPool,
    pub http: reqwest::Client,
    pub shutdown: Shutdown,
    pub settings: rpc_edge::Settings,
}

/// A fresh database, then the edge on it (running), with the fixtures.
pub async fn spawn_edge(extra: &[(&str, config::Value)]) -> TestEdge {
    let db = testing::expose(&testing::fresh_database().await.expect("database"));
    spawn_edge_on(&db, extra).await
}

/// The edge on an existing database (migrated by it), with the fixtures.
pub async fn spawn_edge_on(db: &str, extra: &[(&str, config::Value)]) -> TestEdge {
    let settings = settings(db, extra).await;
    let shutdown = Shutdown::new();
    let app = rpc_edge::Application::build(settings.clone(), shutdown.clone())
        .await
        .expect("build the edge");
    let url = format!("http://127.0.0.1:{}/", app.port());
    let pool = app.pool();
    tokio::spawn(app.run_until_stopped());
    fixtures(&pool).await;
    TestEdge {
        url,
        pool,
        http: reqwest::Client::new(),
        shutdown,
        settings,
    }
}

/// Two merchants, a Mobiltek channel of the first, and Mobiltek's capabilities as if it had
/// told them (it never answers here).
pub async fn fixtures(pool: &PgPool) {
    let key = data_key();
    for (id, secret) in [(MERCHANT, SECRET), (OTHER, OTHER_SECRET)] {
        rpc_edge::store::save_merchant(pool, &key, id, secret)
            .await
            .expect("merchant");
    }
    rpc_edge::store::upsert_channel(
        pool,
        CHANNEL,
        MERCHANT,
        "mobiltek",
        "one_time",
        "PLN",
        &serde_json::Map::new(),
    )
    .await
    .expect("channel");
    let caps = paysys_proto::Capabilities {
        provider: "mobiltek".into(),
        unsubscribe: true,
        ..Default::default()
    };
    sqlx::query(
        "INSERT INTO edge.provider_capabilities (provider, capabilities) VALUES ('mobiltek', $1)
         ON CONFLICT (provider) DO UPDATE SET capabilities = EXCLUDED.capabilities",
    )
    .bind(caps.encode_to_vec())
    .execute(pool)
    .await
    .expect("capabilities");
}

/// Seed 000's one-time payment, for merchant MERCHANT on CHANNEL, without credentials.
pub fn payment(trans_ext_id: &str) -> Value {
    json!({
        "trans_ext_id": trans_ext_id, "merchant_id": MERCHANT,
        "payment": { "channel_id": CHANNEL, "currency": "PLN" },
        "articles": [ { "prod_id": "55555", "name": "test product", "quantity": "1", "price": "10" } ],
        "customer": { "ext_id": "1234qwera", "email": "tomek@test.pl", "phone": "48501123123" },
        "client_ip": "127.0.0.1", "next_url": "http://onet.pl"
    })
}

/// One call.
pub fn call(id: i64, method: &str, params: Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params })
}

impl TestEdge {
    /// POSTs `body` (with `signature` in X-PaySys-Signature when given): (HTTP status, answer).
    pub async fn post(&self, body: &str, signature: Option<&str>) -> (u16, Value) {
        let mut req = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(s) = signature {
            req = req.header("x-paysys-signature", s);
        }
        let r = req
            .send()
            .await
            .expect("an answer, never a dropped connection");
        let status = r.status().as_u16();
        let text = r.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// One call with the `secret` parameter.
    pub async fn rpc(&self, method: &str, mut params: Value, secret: &str) -> Value {
        params["secret"] = json!(secret);
        self.post(&call(1, method, params).to_string(), None)
            .await
            .1
    }

    /// The same API object the edge serves, to run a body and read what it cost.
    pub fn api(&self) -> Api {
        // Never listening, so never serving from memory: every lookup asks the database.
        let directory = rpc_edge::directory::Directory::default();
        Api {
            pool: self.pool.clone(),
            providers: rpc_edge::providers::Providers::new(
                &Default::default(),
                std::time::Duration::from_secs(1),
                self.pool.clone(),
                &testing::internal_token(),
            )
            .expect("no providers"),
            auth: rpc_edge::auth::Authenticator {
                pool: self.pool.clone(),
                key: data_key(),
                signature_max_age: self.settings.edge.signature_max_age_secs,
                directory: directory.clone(),
            },
            amqp_queue_prefix: self.settings.amqp.queue_prefix.clone(),
            outbox: Default::default(),
            directory,
        }
    }

    /// Runs one HTTP body through the JSON-RPC handler: (answer, merchant lookups it made).
    pub async fn handle(&self, body: &str, signature: Option<String>) -> (Value, usize) {
        let ctx = CallContext {
            raw_body: bytes::Bytes::from(body.to_string()),
            signature_header: signature,
            ..Default::default()
        };
        let answer = rpc_edge::jsonrpc::handle(&self.api(), &ctx)
            .await
            .unwrap_or(Value::Null);
        (answer, ctx.auth.lookups())
    }
}

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}
