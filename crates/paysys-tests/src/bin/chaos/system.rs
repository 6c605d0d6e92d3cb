//! The system under test as real processes: every service binary (found next to
//! `paysys-chaos`) started as a child on free ports, with its own database, broker names,
//! internal token, data key and Netopia keys, configured by one generated file
//! (`PAYSYS_CONFIG`). Children can be SIGKILLed and started again on the same ports. Also the
//! shared PostgreSQL and RabbitMQ, stopped and started with the commands `scripts/infra.sh` and
//! the broker restart test use, and always started again (guard, panic hook, signals).

use anyhow::{bail, Context};
use base64::Engine;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// Every service, in the order they start (the sandbox first: the adapters call it; the edge
/// last: it asks the adapters what they can do).
pub const SERVICES: [&str; 8] = [
    "provider-sandbox",
    "ledger",
    "notifier",
    "provider-mobiltek",
    "provider-teleaudio",
    "provider-netopia",
    "provider-mocopay",
    "rpc-edge",
];

/// Ports of one chaos system: internal (gRPC, /readyz) per service, and the adapters' public
/// callback ports.
#[derive(Debug, Clone)]
pub struct Ports {
    pub internal: BTreeMap<&'static str, u16>,
    pub callback: BTreeMap<&'static str, u16>,
}

/// Free ports below the ephemeral range (never `make up`'s 8080, 9090, 810x, 820x), checked
/// bindable, none twice: a SIGKILLed service gets its port back when it starts again.
fn pick_ports(n: usize) -> anyhow::Result<Vec<u16>> {
    let mut out = Vec::new();
    let start = 17_000 + (std::process::id() % 500) as u16 * 7;
    let mut port = start;
    while out.len() < n {
        if port >= 19_990 {
            port = 17_000;
        }
        if port == start.wrapping_sub(1) {
            bail!("no {n} free ports between 17000 and 19990");
        }
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            out.push(port);
        }
        port += 1;
    }
    Ok(out)
}

impl Ports {
    fn pick() -> anyhow::Result<Self> {
        let p = pick_ports(12)?;
        let internal = SERVICES
            .iter()
            .copied()
            .zip(p[..8].iter().copied())
            .collect();
        let callback = [
            "provider-mobiltek",
            "provider-teleaudio",
            "provider-netopia",
            "provider-mocopay",
        ]
        .into_iter()
        .zip(p[8..].iter().copied())
        .collect();
        Ok(Self { internal, callback })
    }

    pub fn url(&self, service: &str) -> String {
        format!("http://127.0.0.1:{}", self.internal[service])
    }

    pub fn public_url(&self, service: &str) -> String {
        format!("http://127.0.0.1:{}", self.callback[service])
    }
}

/// How the system is configured besides its ports.
pub struct Setup {
    pub run_dir: PathBuf,
    pub bin_dir: PathBuf,
    pub database_url: String,
    pub amqp_url: String,
    pub prefix: String,
    pub token: String,
    pub log_level: String,
    /// The notifier's retry schedule (seconds).
    pub schedule_secs: Vec<u64>,
    /// Each service's PostgreSQL pool (`database.max_connections`).
    pub db_max_connections: u32,
    /// Unacknowledged messages per consumer (`amqp.prefetch`).
    pub amqp_prefetch: u16,
    /// Callbacks the sandbox sends at once (`sandbox.callback_concurrency`).
    pub sandbox_callback_concurrency: usize,
    /// Deliveries the notifier makes at once (`notifier.concurrency`).
    pub notifier_concurrency: usize,
}

impl Setup {
    /// The chaos run's settings: small pools (eight services share PostgreSQL), the sandbox
    /// sending one callback at a time.
    pub fn new(
        run_dir: PathBuf,
        bin_dir: PathBuf,
        database_url: String,
        token: String,
        log_level: String,
        schedule_secs: Vec<u64>,
    ) -> Self {
        Self {
            run_dir,
            bin_dir,
            database_url,
            amqp_url: paysys_platform::testing::amqp_url(),
            prefix: paysys_platform::testing::unique_prefix(),
            token,
            log_level,
            schedule_secs,
            db_max_connections: 5,
            amqp_prefetch: 16,
            sandbox_callback_concurrency: 1,
            notifier_concurrency: 32,
        }
    }
}

struct Proc {
    child: Option<Child>,
    /// Stopped on purpose (SIGKILL fault): not a crash.
    down: bool,
}

/// A service that died without being killed.
#[derive(Debug, Clone)]
pub struct Crash {
    pub service: String,
    pub at_secs: f64,
    pub status: String,
}

pub struct System {
    pub setup: Setup,
    pub ports: Ports,
    pub config: PathBuf,
    procs: Mutex<BTreeMap<&'static str, Proc>>,
    pub crashes: Mutex<Vec<Crash>>,
    http: reqwest::Client,
}

/// The pids of running children, for the signal handler and the panic hook.
static PIDS: Mutex<BTreeMap<&'static str, u32>> = Mutex::new(BTreeMap::new());

/// Kills every child at once (exit paths that skip destructors).
pub fn kill_children() {
    let pids: Vec<u32> = PIDS
        .lock()
        .map(|p| p.values().copied().collect())
        .unwrap_or_default();
    for pid in pids {
        let _ = std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .stderr(Stdio::null())
            .status();
    }
}

fn toml_str(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A fresh internal token (64 hex characters) and data key (32 random bytes, base64).
pub fn generate_secrets() -> (String, String) {
    let token = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let key: [u8; 32] = rand::random();
    (token, base64::engine::general_purpose::STANDARD.encode(key))
}

impl System {
    /// Writes the configuration and the Netopia keys into the run folder (mode 600).
    pub fn prepare(setup: Setup, data_key: &str) -> anyhow::Result<Self> {
        let ports = Ports::pick()?;
        std::fs::create_dir_all(setup.run_dir.join("logs"))?;
        let keys = paysys_tests::NetopiaKeys::generate();
        let key_dir = setup.run_dir.join("netopia");
        std::fs::create_dir_all(&key_dir)?;
        let write = |name: &str, pem: &str| -> anyhow::Result<PathBuf> {
            let p = key_dir.join(name);
            write_private(&p, pem)?;
            Ok(p)
        };
        let netopia_key = write("netopia-private-key.pem", &keys.netopia_private_key_pem)?;
        let netopia_cert = write("netopia-certificate.pem", &keys.netopia_certificate_pem)?;
        let seller_key = write("seller-private-key.pem", &keys.seller_private_key_pem)?;
        let seller_cert = write("seller-certificate.pem", &keys.seller_certificate_pem)?;
        let sandbox = ports.url("provider-sandbox");
        let listen = |s: &str| toml_str(&format!("127.0.0.1:{}", ports.internal[s]));
        let public = |s: &str| toml_str(&format!("127.0.0.1:{}", ports.callback[s]));
        let path = |p: &Path| toml_str(&p.display().to_string());
        let schedule = setup
            .schedule_secs
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        let s = &setup;
        let config = format!(
            r#"# Generated by paysys-chaos for one run; never a `make up`'s.
[database]
url = {db}
max_connections = {pool}

[amqp]
url = {amqp}
exchange = {exchange}
queue_prefix = {prefix}
queue_expires_ms = 900000
prefetch = {prefetch}

[telemetry]
log_format = "json"
level = {level}

[internal]
token = {token}

[secrets]
data_key = {data_key}

[edge]
listen = {edge}

[edge.providers]
mobiltek = {mobiltek_url}
teleaudio = {teleaudio_url}
netopia = {netopia_url}
mocopay = {mocopay_url}

[mobiltek]
listen = {mobiltek}
callback_listen = {mobiltek_cb}
base_url = {sandbox_mobiltek}
test_base_url = {sandbox_mobiltek}

[teleaudio]
listen = {teleaudio}
callback_listen = {teleaudio_cb}
base_url = {sandbox_teleaudio}
test_base_url = {sandbox_teleaudio}

[netopia]
listen = {netopia}
callback_listen = {netopia_cb}
public_url = {netopia_public}
card_url = {sandbox_card}
test_card_url = {sandbox_card}
soap_url = {sandbox_soap}
netopia_certificate_pem_file = {netopia_cert}
seller_private_key_pem_file = {seller_key}

[mocopay]
listen = {mocopay}
callback_listen = {mocopay_cb}
public_url = {mocopay_public}
base_url = {sandbox_mocopay}
test_base_url = {sandbox_mocopay}

[notifier]
listen = {notifier}
schedule_secs = [{schedule}]
concurrency = {notifier_concurrency}

[ledger]
listen = {ledger}

[sandbox]
listen = {sandbox_listen}
public_url = {sandbox_public}
# A provider resends a callback it could not deliver for minutes, not seconds: 12 attempts,
# 250 ms doubling (about 8.5 minutes in all), so an outage of an adapter or of PostgreSQL
# delays a callback instead of dropping it.
callback_attempts = 12
callback_backoff_ms = 250
callback_concurrency = {callback_concurrency}
# Longer than the adapters' 10 s deadline: under the `timeout` fault they time out first.
fault_timeout_secs = 12

[sandbox.mobiltek]
notify_url = {mobiltek_notify}

[sandbox.teleaudio]
notify_url = {teleaudio_notify}

[sandbox.netopia]
private_key_pem_file = {netopia_key}
certificate_pem_file = {netopia_cert}
seller_certificate_pem_file = {seller_cert}
"#,
            db = toml_str(&s.database_url),
            pool = s.db_max_connections,
            prefetch = s.amqp_prefetch,
            callback_concurrency = s.sandbox_callback_concurrency,
            notifier_concurrency = s.notifier_concurrency,
            amqp = toml_str(&s.amqp_url),
            exchange = toml_str(&format!("{}events", s.prefix)),
            prefix = toml_str(&s.prefix),
            level = toml_str(&s.log_level),
            token = toml_str(&s.token),
            data_key = toml_str(data_key),
            edge = listen("rpc-edge"),
            mobiltek_url = toml_str(&ports.url("provider-mobiltek")),
            teleaudio_url = toml_str(&ports.url("provider-teleaudio")),
            netopia_url = toml_str(&ports.url("provider-netopia")),
            mocopay_url = toml_str(&ports.url("provider-mocopay")),
            mobiltek = listen("provider-mobiltek"),
            mobiltek_cb = public("provider-mobiltek"),
            sandbox_mobiltek = toml_str(&format!("{sandbox}/mobiltek")),
            teleaudio = listen("provider-teleaudio"),
            teleaudio_cb = public("provider-teleaudio"),
            sandbox_teleaudio = toml_str(&format!("{sandbox}/teleaudio")),
            netopia = listen("provider-netopia"),
            netopia_cb = public("provider-netopia"),
            netopia_public = toml_str(&ports.public_url("provider-netopia")),
            sandbox_card = toml_str(&format!("{sandbox}/netopia/card")),
            sandbox_soap = toml_str(&format!("{sandbox}/netopia/api/payment")),
            netopia_cert = path(&netopia_cert),
            seller_key = path(&seller_key),
            mocopay = listen("provider-mocopay"),
            mocopay_cb = public("provider-mocopay"),
            mocopay_public = toml_str(&ports.public_url("provider-mocopay")),
            sandbox_mocopay = toml_str(&format!("{sandbox}/mocopay")),
            notifier = listen("notifier"),
            ledger = listen("ledger"),
            sandbox_listen = listen("provider-sandbox"),
            sandbox_public = toml_str(&sandbox),
            mobiltek_notify = toml_str(&format!(
                "{}/mobiltek/notify",
                ports.public_url("provider-mobiltek")
            )),
            teleaudio_notify = toml_str(&format!(
                "{}/teleaudio/notify",
                ports.public_url("provider-teleaudio")
            )),
            netopia_key = path(&netopia_key),
            seller_cert = path(&seller_cert),
        );
        let config_path = setup.run_dir.join("paysys.toml");
        write_private(&config_path, &config)?;
        Ok(Self {
            setup,
            ports,
            config: config_path,
            procs: Mutex::new(BTreeMap::new()),
            crashes: Mutex::new(Vec::new()),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(3))
                .build()?,
        })
    }

    /// A command for one of the binaries, configured by our file only (inherited `PAYSYS__*`
    /// variables would override it), run from the run folder (no `.run/paysys.toml` there).
    pub fn command(&self, binary: &str) -> Command {
        let mut cmd = Command::new(self.setup.bin_dir.join(binary));
        cmd.current_dir(&self.setup.run_dir)
            .env("PAYSYS_CONFIG", &self.config)
            .stdin(Stdio::null());
        for (k, _) in std::env::vars() {
            if k.starts_with("PAYSYS") && k != "PAYSYS_CONFIG" {
                cmd.env_remove(k);
            }
        }
        cmd
    }

    /// Starts (or starts again) one service; its output is appended to `logs/<name>.log`.
    pub fn start(&self, name: &'static str) -> anyhow::Result<()> {
        let log_path = self.setup.run_dir.join("logs").join(format!("{name}.log"));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .with_context(|| format!("open {}", log_path.display()))?;
        let child = self
            .command(name)
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| {
                format!(
                    "start {} (run `cargo build --bins` first)",
                    self.setup.bin_dir.join(name).display()
                )
            })?;
        if let Some(pid) = child.id() {
            PIDS.lock().expect("pids").insert(name, pid);
        }
        self.procs.lock().expect("procs").insert(
            name,
            Proc {
                child: Some(child),
                down: false,
            },
        );
        Ok(())
    }

    /// The running process of one service (paysys-bench reads its CPU time and memory).
    #[allow(dead_code)]
    pub fn pid(&self, name: &str) -> Option<u32> {
        PIDS.lock().ok()?.get(name).copied()
    }

    /// SIGKILLs one service and waits until it is gone.
    pub async fn kill(&self, name: &'static str) {
        let child = {
            let mut procs = self.procs.lock().expect("procs");
            let p = procs.get_mut(name);
            p.and_then(|p| {
                p.down = true;
                p.child.take()
            })
        };
        PIDS.lock().expect("pids").remove(name);
        if let Some(mut c) = child {
            let _ = c.start_kill();
            let _ = c.wait().await;
        }
    }

    /// Whether `/readyz` answers 200.
    pub async fn ready(&self, name: &str) -> bool {
        self.http
            .get(format!("{}/readyz", self.ports.url(name)))
            .send()
            .await
            .map(|r| r.status().is_success())
            .unwrap_or(false)
    }

    /// Waits until the service answers `/readyz`; starts it again if it exited meanwhile (e.g.
    /// its port was not free yet).
    pub async fn wait_ready(&self, name: &'static str, within: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + within;
        loop {
            if self.ready(name).await {
                return Ok(());
            }
            let exited = {
                let mut procs = self.procs.lock().expect("procs");
                match procs.get_mut(name).and_then(|p| p.child.as_mut()) {
                    Some(c) => c.try_wait().ok().flatten().map(|s| s.to_string()),
                    None => Some("not running".into()),
                }
            };
            if Instant::now() > deadline {
                bail!(
                    "{name} not ready after {within:?}; see {}",
                    self.setup
                        .run_dir
                        .join("logs")
                        .join(format!("{name}.log"))
                        .display()
                );
            }
            if let Some(status) = exited {
                eprintln!("[chaos] {name} exited while starting ({status}); starting it again");
                tokio::time::sleep(Duration::from_millis(500)).await;
                self.start(name)?;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Finds services that died without being killed, records them and starts them again.
    pub fn reap(&self, elapsed_secs: f64) {
        let mut died = Vec::new();
        {
            let mut procs = self.procs.lock().expect("procs");
            for (name, p) in procs.iter_mut() {
                if p.down {
                    continue;
                }
                if let Some(c) = p.child.as_mut() {
                    if let Ok(Some(status)) = c.try_wait() {
                        died.push((*name, status.to_string()));
                        p.child = None;
                    }
                }
            }
        }
        for (name, status) in died {
            eprintln!("[chaos] {name} died by itself ({status}); starting it again");
            self.crashes.lock().expect("crashes").push(Crash {
                service: name.into(),
                at_secs: elapsed_secs,
                status,
            });
            if let Err(e) = self.start(name) {
                eprintln!("[chaos] cannot restart {name}: {e:#}");
            }
        }
    }

    /// Stops every service (SIGKILL: nothing to flush, the run is over).
    pub async fn stop_all(&self) {
        for name in SERVICES {
            self.kill(name).await;
        }
    }

    /// Runs the `paysys` CLI with our configuration; stdin is written first. Returns stdout.
    pub async fn cli(&self, args: &[&str], stdin: &str) -> anyhow::Result<String> {
        use tokio::io::AsyncWriteExt;
        let mut child = self
            .command("paysys")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("start the paysys CLI")?;
        if let Some(mut input) = child.stdin.take() {
            input.write_all(stdin.as_bytes()).await?;
        }
        let out = child.wait_with_output().await?;
        if !out.status.success() {
            bail!(
                "paysys {}: {} {}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

fn write_private(path: &Path, content: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("write {}", path.display()))?;
    f.write_all(content.as_bytes())?;
    Ok(())
}

// ---- PostgreSQL and RabbitMQ ------------------------------------------------------------

static PG_STOPPED: AtomicBool = AtomicBool::new(false);
static RABBIT_STOPPED: AtomicBool = AtomicBool::new(false);
static PG_VERSION: OnceLock<Option<String>> = OnceLock::new();

/// The newest cluster version under /etc/postgresql (as scripts/infra.sh picks it).
fn pg_version() -> Option<String> {
    PG_VERSION
        .get_or_init(|| {
            let mut versions: Vec<(u32, String)> = std::fs::read_dir("/etc/postgresql")
                .ok()?
                .filter_map(|e| e.ok())
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    let major: u32 = name.split('.').next()?.parse().ok()?;
                    Some((major, name))
                })
                .collect();
            versions.sort();
            versions.pop().map(|(_, v)| v)
        })
        .clone()
}

fn run(program: &str, args: &[&str]) -> anyhow::Result<()> {
    let out = std::process::Command::new(program)
        .args(args)
        .output()
        .with_context(|| format!("run {program}"))?;
    if !out.status.success() {
        bail!(
            "{program} {}: {} {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Why PostgreSQL cannot be stopped here (None: it can).
pub fn postgres_unavailable() -> Option<String> {
    if which("pg_ctlcluster").is_none() {
        return Some("no pg_ctlcluster (PostgreSQL not installed from Debian packages)".into());
    }
    if pg_version().is_none() {
        return Some("no cluster under /etc/postgresql".into());
    }
    None
}

/// Why RabbitMQ cannot be stopped here (None: it can).
pub fn rabbitmq_unavailable() -> Option<String> {
    which("rabbitmqctl")
        .is_none()
        .then(|| "no rabbitmqctl on this machine".into())
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(program))
            .find(|p| p.is_file())
    })
}

pub fn stop_postgres() -> anyhow::Result<()> {
    let v = pg_version().context("no PostgreSQL cluster")?;
    PG_STOPPED.store(true, Ordering::SeqCst);
    run(
        "pg_ctlcluster",
        &[
            "--skip-systemctl-redirect",
            &v,
            "main",
            "stop",
            "-m",
            "fast",
        ],
    )
}

pub fn start_postgres() -> anyhow::Result<()> {
    let v = pg_version().context("no PostgreSQL cluster")?;
    let r = run(
        "pg_ctlcluster",
        &["--skip-systemctl-redirect", &v, "main", "start"],
    );
    // "already running" is fine too: what matters is that it answers.
    if r.is_ok() || port_open(5432) {
        PG_STOPPED.store(false, Ordering::SeqCst);
        return Ok(());
    }
    r
}

pub fn stop_rabbitmq() -> anyhow::Result<()> {
    RABBIT_STOPPED.store(true, Ordering::SeqCst);
    run("rabbitmqctl", &["stop_app"])
}

pub fn start_rabbitmq() -> anyhow::Result<()> {
    run("rabbitmqctl", &["start_app"])?;
    run("rabbitmqctl", &["await_startup"])?;
    RABBIT_STOPPED.store(false, Ordering::SeqCst);
    Ok(())
}

fn port_open(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_secs(1),
    )
    .is_ok()
}

/// Starts PostgreSQL and RabbitMQ again if this run stopped them. Called by the guard, the
/// panic hook and the signal handler: other users of this machine need them.
pub fn restore_infra() {
    if PG_STOPPED.load(Ordering::SeqCst) {
        eprintln!("[chaos] starting PostgreSQL again");
        if let Err(e) = start_postgres() {
            eprintln!("[chaos] could not start PostgreSQL: {e:#}");
        }
    }
    if RABBIT_STOPPED.load(Ordering::SeqCst) {
        eprintln!("[chaos] starting RabbitMQ again");
        if let Err(e) = start_rabbitmq() {
            eprintln!("[chaos] could not start RabbitMQ: {e:#}");
        }
    }
}

/// Restores PostgreSQL and RabbitMQ when dropped, whatever happened.
pub struct InfraGuard;

impl Drop for InfraGuard {
    fn drop(&mut self) {
        restore_infra();
    }
}

/// Restores the infrastructure and kills the children on a panic, Ctrl-C or SIGTERM.
pub fn install_safety_nets() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore_infra();
        kill_children();
        default(info);
    }));
    tokio::spawn(async {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        eprintln!("\n[chaos] interrupted: restoring PostgreSQL and RabbitMQ, stopping services");
        restore_infra();
        kill_children();
        std::process::exit(130);
    });
}

/// The seed merchants (notifications to `receiver_url/<id>/notifications`) and one channel per
/// provider and kind, through the `paysys` CLI, as an operator would.
pub async fn load_fixtures(sys: &System, receiver_url: &str) -> anyhow::Result<()> {
    for (id, secret, whsec) in crate::merchant::MERCHANTS {
        let url = format!("{receiver_url}/{id}/notifications");
        sys.cli(
            &[
                "merchant",
                "add",
                "--id",
                id,
                "--secret",
                "-",
                "--notify-url",
                &url,
                "--notify-secret",
                "-",
            ],
            &format!("{secret}\n{whsec}\n"),
        )
        .await?;
    }
    let netopia = "signature=SAND-BOX0-SELL-ER00-0001";
    // id, provider, kind, currency, merchant, config
    let channels = [
        (
            "18912",
            "mobiltek",
            "one_time",
            "PLN",
            "1",
            "service_id=30576",
        ),
        (
            "18913",
            "mobiltek",
            "subscription",
            "PLN",
            "34801",
            "service_id=30576",
        ),
        (
            "9041",
            "teleaudio",
            "subscription",
            "PLN",
            "19",
            "teleaudio_service_id=511",
        ),
        ("9042", "teleaudio", "one_time", "PLN", "19", ""),
        ("7001", "netopia", "one_time", "RON", "40", netopia),
        ("7002", "netopia", "subscription", "RON", "40", netopia),
        ("8001", "mocopay", "one_time", "EUR", "50", "pid=CHMIBSUB"),
        (
            "8002",
            "mocopay",
            "subscription",
            "EUR",
            "50",
            "pid=PP27638049",
        ),
    ];
    for (id, provider, kind, currency, merchant, config) in channels {
        let mut args = vec![
            "channel",
            "add",
            "--id",
            id,
            "--provider",
            provider,
            "--kind",
            kind,
            "--currency",
            currency,
            "--merchant",
            merchant,
        ];
        if !config.is_empty() {
            args.extend(["--config", config]);
        }
        sys.cli(&args, "").await?;
    }
    Ok(())
}

/// Readiness says the database answers, not that the consumers are bound: an event published
/// before a queue exists would reach only the others. Waits for a consumer on each queue.
pub async fn wait_consumers(prefix: &str) -> anyhow::Result<()> {
    let conn = lapin::Connection::connect(
        &paysys_platform::testing::amqp_url(),
        lapin::ConnectionProperties::default(),
    )
    .await?;
    let deadline = Instant::now() + Duration::from_secs(60);
    for queue in [
        "ledger.events",
        "notifier.events",
        "edge.events",
        "provider.teleaudio.commands",
    ] {
        let name = format!("{prefix}{queue}");
        loop {
            let consumers = paysys_tests::queue_counts(&conn, &name)
                .await
                .map_or(0, |c| c.consumers);
            if consumers > 0 {
                break;
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "nobody consumes {name} after 60 s"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let _ = conn.close(200, "ok".into()).await;
    Ok(())
}

/// The edge learns what each adapter can do at start (setup only: read from its schema).
pub async fn wait_capabilities(database_url: &str) -> anyhow::Result<()> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(database_url).await?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let known: i64 = sqlx::query_scalar("SELECT count(*) FROM edge.provider_capabilities")
            .fetch_one(&mut conn)
            .await
            .unwrap_or(0);
        if known == 4 {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the edge did not learn the adapters' capabilities in 60 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// What one run owns: a fresh database, a fresh internal token and data key, a folder of its
/// own under the temporary directory, and the binaries built beside this one.
pub struct Fresh {
    pub database_url: String,
    pub db_name: String,
    pub token: String,
    pub data_key: String,
    pub bin_dir: PathBuf,
    pub run_dir: PathBuf,
}

impl Fresh {
    /// `kind` names the folder (`paysys-<kind>-<8 hex>`).
    pub async fn new(kind: &str) -> anyhow::Result<Self> {
        use secrecy::ExposeSecret;
        let db = paysys_platform::testing::fresh_database().await?;
        let database_url = db.expose_secret().to_string();
        let db_name = database_url
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_string();
        let (token, data_key) = generate_secrets();
        let bin_dir = std::env::current_exe()?
            .parent()
            .map(|p| p.to_path_buf())
            .unwrap_or_default();
        let run_dir = std::env::temp_dir().join(format!(
            "paysys-{kind}-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        ));
        Ok(Self {
            database_url,
            db_name,
            token,
            data_key,
            bin_dir,
            run_dir,
        })
    }
}

/// Drops a run's database (only a test database: `paysys_test_*`).
pub async fn drop_database(name: &str) {
    use sqlx::Connection;
    if !name.starts_with("paysys_test_") {
        return;
    }
    if let Ok(mut conn) =
        sqlx::PgConnection::connect(&paysys_platform::testing::admin_database_url()).await
    {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut conn)
            .await;
    }
}
