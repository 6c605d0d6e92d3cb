//! The Netopia card journey in a real browser (headless Chromium driven over WebDriver by
//! chromedriver, both Debian packages installed by scripts/test-deps.sh): the merchant's
//! redirect_url -> the page posts the sealed order itself -> the sandbox's mobilPay card page ->
//! the approved test card typed in -> back on next_url, and the merchant notified.
//! The test fails (never skips) when Chromium or chromedriver is missing.

use paysys_tests::*;
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Driver {
    child: Child,
    url: String,
    session: String,
    http: reqwest::Client,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Driver {
    async fn start() -> Driver {
        let port = free_port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "chromedriver (Debian package chromium-driver; scripts/test-deps.sh installs it)",
            );
        let url = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while http.get(format!("{url}/status")).send().await.is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = std::env::temp_dir().join(format!("paysys-chromium-{port}"));
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                         "--no-first-run", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync",
                         format!("--user-data-dir={}", profile.display())]
            }
        }}});
        let r: Value = http
            .post(format!("{url}/session"))
            .json(&caps)
            .send()
            .await
            .expect("new session")
            .json()
            .await
            .expect("session JSON");
        let session = r["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {r}"))
            .to_string();
        Driver {
            child,
            url,
            session,
            http,
        }
    }

    async fn cmd(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let url = format!("{}/session/{}{}", self.url, self.session, path);
        let mut req = self.http.request(method.clone(), url);
        if method == reqwest::Method::POST {
            req = req.json(&body);
        }
        let v: Value = req
            .send()
            .await
            .expect("webdriver")
            .json()
            .await
            .expect("JSON");
        v["value"].clone()
    }

    /// Closes the browser (chromedriver's own Chromium processes end with it).
    async fn quit(&self) {
        let _ = self
            .http
            .delete(format!("{}/session/{}", self.url, self.session))
            .send()
            .await;
    }

    async fn go(&self, url: &str) {
        self.cmd(reqwest::Method::POST, "/url", json!({"url": url}))
            .await;
    }

    async fn current_url(&self) -> String {
        self.cmd(reqwest::Method::GET, "/url", Value::Null)
            .await
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    /// The element matching `css`, waiting for it up to 20 s.
    async fn find(&self, css: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let v = self
                .cmd(
                    reqwest::Method::POST,
                    "/element",
                    json!({"using": "css selector", "value": css}),
                )
                .await;
            if let Some(id) = v
                .as_object()
                .and_then(|o| o.values().next())
                .and_then(Value::as_str)
            {
                if v.get("error").is_none() {
                    return id.to_string();
                }
            }
            assert!(Instant::now() < deadline, "no element {css}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn type_into(&self, css: &str, text: &str) {
        let el = self.find(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{el}/value"),
            json!({"text": text}),
        )
        .await;
    }

    async fn click(&self, css: &str) {
        let el = self.find(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{el}/click"),
            json!({}),
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_payment_walked_in_headless_chromium() {
    let sys = spawn_system().await;
    // next_url on this machine, so the browser can land there.
    let next_url = format!("{}/healthz", sys.sandbox_url);
    let started = sys
        .rpc(
            "set_transaction_sync",
            json!({
                "trans_ext_id": "browser-1", "merchant_id": "40", "secret": MERCHANT_40.1,
                "payment": {"channel_id": "7001", "currency": "RON"},
                "articles": [{"prod_id": "p", "name": "abonament", "quantity": "1", "price": "1234"}],
                "customer": {"firstname": "Ion", "lastname": "Popescu", "email": "ion@example.ro"},
                "client_ip": "127.0.0.1", "next_url": next_url,
            }),
        )
        .await;
    let redirect = started["result"]["data"]["redirect_url"]
        .as_str()
        .unwrap_or_else(|| panic!("{started}"))
        .to_string();

    let browser = Driver::start().await;
    // The adapter's page posts the sealed form to the card page by itself.
    browser.go(&redirect).await;
    browser
        .type_into("input[name=card_number]", "9900004810225098")
        .await;
    browser.type_into("input[name=expiry]", "12/30").await;
    browser.type_into("input[name=cvv]", "111").await;
    browser.type_into("input[name=name]", "ION POPESCU").await;
    browser.click("button[value=pay]").await;

    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let at = browser.current_url().await;
        if at == next_url {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the browser ended on {at}, not {next_url}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let paid = sys.inbox.wait_for("40", "new_payment", 1).await;
    assert_eq!(paid[0].json["params"]["order_id"], "browser-1");
    assert_eq!(paid[0].json["params"]["amount"], "1234");
    assert_eq!(sys.statement("40", 1).await.len(), 1);
    browser.quit().await;
    drop(browser);
    sys.stop().await;
}
