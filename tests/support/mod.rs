//! Shared end-to-end fixtures: a vendor emulator and a gateway on loopback
//! ports, and gRPC clients for every service.

#![allow(dead_code)]

pub mod redis;

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Once, OnceLock};
use std::time::Duration;

use cloudgate::catalog::{Catalog, Vendor};
use cloudgate::config::{Config, FileConfig};
use cloudgate::credentials::{Credential, CredentialStore};
use cloudgate::emulator::{self, EmulatorConfig, EmulatorHandle, EmulatorKey, Fault, FaultKind};
use cloudgate::pb::aliyun::bssopenapi::v20171214 as bss;
use cloudgate::pb::aliyun::bssopenapi::v20171214::bss_open_api_client::BssOpenApiClient;
use cloudgate::pb::aliyun::cloudsso::v20210515 as cloudsso;
use cloudgate::pb::aliyun::cloudsso::v20210515::cloud_sso_client::CloudSsoClient;
use cloudgate::pb::aliyun::sddp::v20190103::sddp_client::SddpClient;
use cloudgate::pb::tencentcloud::dlc::v20210125 as dlc;
use cloudgate::pb::tencentcloud::dlc::v20210125::dlc_client::DlcClient;
use cloudgate::{app, server};
use tonic::transport::Channel;

/// Where the end-to-end suite keeps every log and audit line it produces
/// and every secret it configured, for `tests/secret_scan.rs`.
pub fn log_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("e2e-logs");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A new file name in [`log_dir`], unique to this test process: `{kind}-{binary}-{pid}-{n}.{ext}`.
pub fn log_file(kind: &str, ext: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let exe = std::env::current_exe().unwrap();
    let binary = exe
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("test")
        .to_string();
    let n = N.fetch_add(1, Ordering::Relaxed);
    log_dir().join(format!("{kind}-{binary}-{}-{n}.{ext}", std::process::id()))
}

/// Records a secret this test configured (access key, secret, token), so the
/// secret scan looks for it in every log and audit line of the suite.
pub fn register_secret(secret: &str) {
    static FILE: OnceLock<Mutex<std::fs::File>> = OnceLock::new();
    let file = FILE.get_or_init(|| {
        let path = log_file("secrets", "txt");
        Mutex::new(std::fs::File::create(path).unwrap())
    });
    let mut f = file.lock().unwrap();
    writeln!(f, "{secret}").unwrap();
}

/// Keeps output a test captured (e.g. a child gateway's logs) for the secret scan.
pub fn keep_log(name: &str, text: &str) {
    std::fs::write(log_file(name, "log"), text).unwrap();
}

static TRACE_LOG: OnceLock<PathBuf> = OnceLock::new();

/// The JSON log file of this test process (see [`trace_init`]).
pub fn trace_log() -> PathBuf {
    trace_init();
    TRACE_LOG.get().expect("trace_init sets it").clone()
}

/// Installs a test tracing subscriber once: logs go to the test harness and,
/// as JSON lines, to a file in [`log_dir`] for the secret scan.
pub fn trace_init() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for secret in [
            ALI_ID,
            ALI_SECRET,
            TC_ID,
            TC_SECRET,
            OTHER_ALI_ID,
            OTHER_ALI_SECRET,
            OTHER_ALI_TOKEN,
            WRONG_SECRET,
        ] {
            register_secret(secret);
        }
        let path = TRACE_LOG.get_or_init(|| log_file("trace", "log"));
        let file = std::fs::File::create(path).unwrap();
        let filter = || {
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "cloudgate=debug".into())
        };
        let _ = tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .with_test_writer()
                    .with_filter(filter()),
            )
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(Mutex::new(file))
                    .with_filter(filter()),
            )
            .try_init();
    });
}

/// Keys of the default profile.
pub const ALI_ID: &str = "LTAI5tE2eDefaultKey";
pub const ALI_SECRET: &str = "e2e-alibaba-default-secret";
pub const TC_ID: &str = "AKIDe2eDefaultKey000000000000000001";
pub const TC_SECRET: &str = "e2e-tencent-default-secret";
/// Keys of the `other` profile (an STS credential for Alibaba).
pub const OTHER_ALI_ID: &str = "STS.e2eOtherKey";
pub const OTHER_ALI_SECRET: &str = "e2e-other-secret";
pub const OTHER_ALI_TOKEN: &str = "e2e-other-sts-token";
/// A profile whose secret the emulator does not know (a wrong secret).
pub const WRONG_PROFILE: &str = "wrong";
/// The secret of the `wrong` profile.
pub const WRONG_SECRET: &str = "not-the-secret";

pub struct Harness {
    pub emulator: EmulatorHandle,
    pub addr: SocketAddr,
    pub channel: Channel,
    pub gateway: Arc<cloudgate::gateway::Gateway>,
    proc: GatewayProc,
}

/// Options for a harness.
#[derive(Default)]
pub struct Options {
    /// Extra TOML appended to the generated config.
    pub extra_toml: String,
    /// Base URL for every product instead of the emulator's (e.g. to go through a proxy).
    pub endpoints_base: Option<String>,
}

fn key(vendor: Vendor, id: &str, secret: &str, token: Option<&str>) -> EmulatorKey {
    EmulatorKey {
        vendor,
        id: id.into(),
        secret: secret.into(),
        token: token.map(str::to_string),
    }
}

/// An emulator that knows the test keys.
pub async fn spawn_emulator() -> EmulatorHandle {
    spawn_emulator_with(Arc::new(Catalog::load().unwrap())).await
}

/// An emulator of `catalog`'s operations that knows the test keys.
pub async fn spawn_emulator_with(catalog: Arc<Catalog>) -> EmulatorHandle {
    trace_init();
    let emu_config = EmulatorConfig {
        keys: vec![
            key(Vendor::Alibaba, ALI_ID, ALI_SECRET, None),
            key(Vendor::Tencent, TC_ID, TC_SECRET, None),
            key(
                Vendor::Alibaba,
                OTHER_ALI_ID,
                OTHER_ALI_SECRET,
                Some(OTHER_ALI_TOKEN),
            ),
        ],
    };
    emulator::spawn("127.0.0.1:0".parse().unwrap(), emu_config, catalog)
        .await
        .unwrap()
}

/// One gateway replica on a loopback port.
pub struct GatewayProc {
    pub addr: SocketAddr,
    pub channel: Channel,
    pub gateway: Arc<cloudgate::gateway::Gateway>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

impl GatewayProc {
    /// Starts a gateway whose every endpoint is `emulator_base`, with the test
    /// profiles (`default`, `other`, `wrong`) and `extra_toml` appended to its config.
    pub async fn start(emulator_base: &str, extra_toml: &str) -> Self {
        Self::start_with(emulator_base, extra_toml, None).await
    }

    /// As `start`, with the channel over TLS when `client_tls` is given.
    pub async fn start_with(
        emulator_base: &str,
        extra_toml: &str,
        client_tls: Option<tonic::transport::ClientTlsConfig>,
    ) -> Self {
        let catalog = Arc::new(Catalog::load().unwrap());
        Self::start_full(emulator_base, extra_toml, client_tls, catalog).await
    }

    /// As `start_with`, serving `catalog` (e.g. with `--proto-dir` files).
    pub async fn start_full(
        emulator_base: &str,
        extra_toml: &str,
        client_tls: Option<tonic::transport::ClientTlsConfig>,
        catalog: Arc<Catalog>,
    ) -> Self {
        trace_init();
        let mut toml = String::from("[endpoints]\n");
        for k in catalog.endpoint_keys() {
            toml.push_str(&format!("{k} = \"{emulator_base}\"\n"));
        }
        toml.push_str(extra_toml);
        if !extra_toml.contains("[audit]") {
            // Every mutating call of the suite is audited to a file the secret scan reads.
            let path = log_file("audit", "jsonl");
            toml.push_str(&format!(
                "\n[audit]\npath = {:?}\n",
                path.display().to_string()
            ));
        }
        let file: FileConfig = toml::from_str(&toml).unwrap();
        let config = Config::validate(file, &catalog).unwrap();

        let cred = |id: &str, secret: &str, token: Option<&str>| {
            Credential::new(id.into(), secret.into(), token.map(str::to_string), "test").unwrap()
        };
        let mut store =
            CredentialStore::fixed(cred(ALI_ID, ALI_SECRET, None), cred(TC_ID, TC_SECRET, None));
        store.insert(
            "other",
            Some(cred(OTHER_ALI_ID, OTHER_ALI_SECRET, Some(OTHER_ALI_TOKEN))),
            None,
        );
        store.insert(
            WRONG_PROFILE,
            Some(cred(ALI_ID, WRONG_SECRET, None)),
            Some(cred(TC_ID, WRONG_SECRET, None)),
        );
        for name in config.profiles.keys() {
            if !store.has_profile(name) {
                store.insert(
                    name,
                    Some(cred(ALI_ID, ALI_SECRET, None)),
                    Some(cred(TC_ID, TC_SECRET, None)),
                );
            }
        }

        let gateway = app::build(config, catalog, store).unwrap();
        let listener = server::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = gateway.clone();
        let server = tokio::spawn(async move {
            server::serve(listener, served, Duration::from_secs(5), async move {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
        let channel = match client_tls {
            None => Channel::from_shared(format!("http://{addr}")).unwrap(),
            Some(tls) => Channel::from_shared(format!("https://{addr}"))
                .unwrap()
                .tls_config(tls)
                .unwrap(),
        }
        .connect()
        .await
        .unwrap();
        Self {
            addr,
            channel,
            gateway,
            stop: Some(stop),
            server: Some(server),
        }
    }

    pub fn sddp(&self) -> SddpClient<Channel> {
        SddpClient::new(self.channel.clone())
    }

    /// Graceful stop.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }
}

impl Harness {
    pub async fn start() -> Self {
        Self::with(Options::default()).await
    }

    pub async fn with(options: Options) -> Self {
        Self::with_tls(options, None).await
    }

    /// As `with`, the harness's channel over TLS (`https://127.0.0.1:PORT`)
    /// when `client_tls` is given.
    pub async fn with_tls(
        options: Options,
        client_tls: Option<tonic::transport::ClientTlsConfig>,
    ) -> Self {
        let emulator = spawn_emulator().await;
        let base = options
            .endpoints_base
            .clone()
            .unwrap_or_else(|| emulator.base_url());
        let proc = GatewayProc::start_with(&base, &options.extra_toml, client_tls).await;
        Self {
            emulator,
            addr: proc.addr,
            channel: proc.channel.clone(),
            gateway: proc.gateway.clone(),
            proc,
        }
    }

    pub fn bss(&self) -> BssOpenApiClient<Channel> {
        BssOpenApiClient::new(self.channel.clone())
    }
    pub fn cloudsso(&self) -> CloudSsoClient<Channel> {
        CloudSsoClient::new(self.channel.clone())
    }
    pub fn sddp(&self) -> SddpClient<Channel> {
        SddpClient::new(self.channel.clone())
    }
    pub fn dlc(&self) -> DlcClient<Channel> {
        DlcClient::new(self.channel.clone())
    }

    /// Stops the gateway (graceful) and the emulator.
    pub async fn stop(self) {
        self.proc.stop().await;
        self.emulator.shutdown().await;
    }
}

/// A request with metadata entries.
pub fn with_meta<T>(msg: T, meta: &[(&'static str, &str)]) -> tonic::Request<T> {
    let mut req = tonic::Request::new(msg);
    for (k, v) in meta {
        req.metadata_mut().insert(*k, v.parse().unwrap());
    }
    req
}

/// A valid SetResellerUserStatus request (freeze a reseller's customer).
pub fn srus() -> bss::SetResellerUserStatusRequest {
    bss::SetResellerUserStatusRequest {
        owner_id: "1234567890123456".into(),
        status: "Freeze".into(),
        business_type: "FREEZE".into(),
        stop_mode: Some("0".into()),
    }
}

/// A valid UpdateUserStatus request (disable a CloudSSO user).
pub fn update_user() -> cloudsso::UpdateUserStatusRequest {
    cloudsso::UpdateUserStatusRequest {
        directory_id: "d-00fc2p61abcd".into(),
        user_id: "u-00q8wbq42wiltcrkabcd".into(),
        new_status: Some("Disabled".into()),
    }
}

/// A ModifyUserType request giving user 100021240181 the type `t`.
pub fn user_type(t: &str) -> dlc::ModifyUserTypeRequest {
    dlc::ModifyUserTypeRequest {
        user_id: "100021240181".into(),
        user_type: t.into(),
        account_type: None,
    }
}

/// An emulator fault for the next call of `action`.
pub fn fault(action: &str, kind: FaultKind) -> Fault {
    Fault {
        action: action.into(),
        kind,
        times: 1,
    }
}

/// Starts `cloudgate serve --emulate --config CONFIG` on a free loopback port
/// and waits for "cloudgate listening"; returns the child, its port and its stdout.
pub fn spawn_serve_emulate(
    config: &std::path::Path,
) -> (
    std::process::Child,
    u16,
    std::io::BufReader<std::process::ChildStdout>,
) {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_cloudgate"))
        .args(["serve", "--emulate", "--config"])
        .arg(config)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("cloudgate listening") {
        line.clear();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "gateway exited early"
        );
    }
    (child, port, stdout)
}
