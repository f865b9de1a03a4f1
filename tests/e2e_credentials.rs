//! Credential sources end to end over loopback: STS role assumption, instance-role
//! metadata and a rotated credentials file, against the emulator's STS and metadata
//! services, whose temporary credentials the emulated operations accept until they
//! expire.

mod support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cloudgate::catalog::{Catalog, Vendor};
use cloudgate::config::{Config, FileConfig};
use cloudgate::credentials::{Credential, CredentialStore};
use cloudgate::emulator::{
    self, CredentialSettings, EmulatorConfig, EmulatorHandle, EmulatorKey, Fault, FaultKind,
};
use cloudgate::pb::aliyun::cloudsso::v20210515 as cloudsso;
use cloudgate::pb::aliyun::cloudsso::v20210515::cloud_sso_client::CloudSsoClient;
use cloudgate::pb::tencentcloud::dlc::v20210125 as dlc;
use cloudgate::pb::tencentcloud::dlc::v20210125::dlc_client::DlcClient;
use cloudgate::{app, server};
use support::{trace_init, with_meta, ALI_ID, ALI_SECRET, TC_ID, TC_SECRET};
use tonic::transport::Channel;
use tonic::Code;
use tonic_types::StatusExt;

/// A second Alibaba key, for the rotated file.
const ROTATED_ID: &str = "LTAI5tE2eRotatedKey02";
const ROTATED_SECRET: &str = "e2e-alibaba-rotated-secret";

async fn spawn_emulator() -> EmulatorHandle {
    trace_init();
    support::register_secret(ROTATED_ID);
    support::register_secret(ROTATED_SECRET);
    let catalog = Arc::new(Catalog::load().unwrap());
    let config = EmulatorConfig::default()
        .with_key(EmulatorKey::new(Vendor::Alibaba, ALI_ID, ALI_SECRET))
        .with_key(EmulatorKey::new(Vendor::Tencent, TC_ID, TC_SECRET))
        .with_key(EmulatorKey::new(
            Vendor::Alibaba,
            ROTATED_ID,
            ROTATED_SECRET,
        ));
    emulator::spawn("127.0.0.1:0".parse().unwrap(), config, catalog)
        .await
        .unwrap()
}

/// A gateway whose credentials come from the config, as `cloudgate serve --config` builds them.
struct Gateway {
    channel: Channel,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Gateway {
    fn config(emu: &EmulatorHandle, extra_toml: &str) -> (Config, Arc<Catalog>) {
        let catalog = Arc::new(Catalog::load().unwrap());
        let base = emu.base_url();
        let mut toml = String::from("[retry]\nmax_attempts = 1\n[endpoints]\n");
        for k in catalog.endpoint_keys() {
            toml.push_str(&format!("{k} = \"{base}\"\n"));
        }
        toml.push_str(&extra_toml.replace("EMULATOR", &base));
        let file: FileConfig = toml::from_str(&toml).unwrap();
        (Config::validate(file, &catalog).unwrap(), catalog)
    }

    async fn start(emu: &EmulatorHandle, extra_toml: &str) -> Self {
        let (config, catalog) = Self::config(emu, extra_toml);
        let store = CredentialStore::from_config(&config, &|_| None, None);
        let gateway = app::build(config, catalog, store).unwrap();
        let listener = server::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = server::serve(listener, gateway, Duration::from_secs(5), async move {
                let _ = stopped.await;
            })
            .await;
        });
        let channel = Channel::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
            .unwrap();
        Self {
            channel,
            stop: Some(stop),
        }
    }

    fn sso(&self) -> CloudSsoClient<Channel> {
        CloudSsoClient::new(self.channel.clone())
    }

    fn dlc(&self) -> DlcClient<Channel> {
        DlcClient::new(self.channel.clone())
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn sso_req(profile: &str) -> tonic::Request<cloudsso::UpdateUserStatusRequest> {
    with_meta(
        cloudsso::UpdateUserStatusRequest {
            directory_id: "d-00fc2p61abcd".into(),
            user_id: "u-00q8wbq42wiltcrkabcd".into(),
            new_status: Some("Disabled".into()),
        },
        &[("x-cloud-profile", profile)],
    )
}

fn dlc_req(profile: &str) -> tonic::Request<dlc::ModifyUserTypeRequest> {
    with_meta(
        dlc::ModifyUserTypeRequest {
            user_id: "100021240181".into(),
            user_type: "ADMIN".into(),
            account_type: None,
        },
        &[
            ("x-cloud-profile", profile),
            ("x-cloud-region", "ap-singapore"),
        ],
    )
}

fn reason(st: &tonic::Status) -> String {
    st.get_error_details()
        .error_info()
        .map(|i| i.reason.clone())
        .unwrap_or_default()
}

/// Asserts an UNAVAILABLE / CREDENTIALS_UNAVAILABLE naming the profile and `cause`.
fn assert_unavailable(st: &tonic::Status, profile: &str, cause: &str) {
    assert_eq!(st.code(), Code::Unavailable, "{st:?}");
    assert_eq!(reason(st), "CREDENTIALS_UNAVAILABLE", "{st:?}");
    assert!(
        st.message().contains(&format!("{profile:?}")) && st.message().contains(cause),
        "{}",
        st.message()
    );
}

fn lifetime(emu: &EmulatorHandle, ms: u64) {
    emu.configure_credentials(&CredentialSettings {
        lifetime_ms: Some(ms),
        metadata_available: None,
    });
}

const ROLE_PROFILES: &str = r#"
[ratelimit.operations.UpdateUserStatus]
qps = 200
[profiles.default.alibaba]
access_key_id = "LTAI5tE2eDefaultKey"
access_key_secret = "e2e-alibaba-default-secret"
[profiles.default.tencent]
access_key_id = "AKIDe2eDefaultKey000000000000000001"
access_key_secret = "e2e-tencent-default-secret"
[profiles.role.alibaba]
role_arn = "acs:ram::1234567890123456:role/cloudgate-e2e"
source_profile = "default"
role_session_name = "e2e"
duration_seconds = 900
sts_endpoint = "EMULATOR"
[profiles.role.tencent]
role_arn = "qcs::cam::uin/100000000001:roleName/cloudgate-e2e"
source_profile = "default"
sts_endpoint = "EMULATOR"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assumed_role_serves_a_steady_stream_with_one_refresh_per_lifetime() {
    let emu = spawn_emulator().await;
    lifetime(&emu, 3000);
    let gw = Gateway::start(&emu, ROLE_PROFILES).await;
    let ok = Arc::new(AtomicU64::new(0));
    let run_for = Duration::from_secs(15);
    let started = Instant::now();
    let mut tasks = Vec::new();
    // 50 callers of UpdateUserStatus (~100 calls/s in all) and 2 of ModifyUserType
    // (~8/s, within DLC's 20/s).
    for i in 0..52 {
        let gw_sso = gw.sso();
        let mut gw_dlc = gw.dlc();
        let ok = ok.clone();
        tasks.push(tokio::spawn(async move {
            let mut sso = gw_sso;
            let mut failures = Vec::new();
            while started.elapsed() < run_for {
                let result = if i < 50 {
                    sso.update_user_status(sso_req("role")).await.map(|_| ())
                } else {
                    gw_dlc.modify_user_type(dlc_req("role")).await.map(|_| ())
                };
                match result {
                    Ok(()) => {
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(st) => failures.push(format!("{:?} {}", st.code(), st.message())),
                }
                let pause = if i < 50 { 500 } else { 250 };
                tokio::time::sleep(Duration::from_millis(pause)).await;
            }
            failures
        }));
    }
    let mut failures = Vec::new();
    for t in tasks {
        failures.extend(t.await.unwrap());
    }
    assert!(
        failures.is_empty(),
        "{} failures, e.g. {:?}",
        failures.len(),
        failures.first()
    );
    let ok = ok.load(Ordering::Relaxed);
    assert!(ok > 1000, "only {ok} calls");

    let stats = emu.stats();
    let sso = &stats.actions["UpdateUserStatus"];
    assert_eq!((sso.errors, sso.throttled), (0, 0), "{stats:?}");
    assert_eq!(stats.actions["ModifyUserType"].errors, 0, "{stats:?}");
    // Every call was signed with an issued STS credential and its token.
    for call in emu.calls().iter().filter(|c| c.action != "AssumeRole") {
        assert!(call.security_token, "{call:?}");
        assert!(
            call.access_key_id.starts_with("STS.") || call.access_key_id.starts_with("AKID"),
            "{call:?}"
        );
        assert_ne!(call.access_key_id, TC_ID);
    }
    // About one refresh per lifetime (3 to 4 s, refreshed a quarter early), not one per call.
    let issued = emu.credential_stats();
    for (vendor, n) in [
        ("alibaba", issued.sts_alibaba),
        ("tencent", issued.sts_tencent),
    ] {
        assert!(
            (4..=9).contains(&n),
            "{vendor}: {n} AssumeRole calls for {ok} calls"
        );
    }
    assert_eq!(stats.actions["AssumeRole"].errors, 0);
    assert_eq!(issued.expired_rejections, 0);
    eprintln!(
        "{ok} calls in {:?}; AssumeRole: alibaba {}, tencent {}",
        started.elapsed(),
        issued.sts_alibaba,
        issued.sts_tencent
    );
}

#[tokio::test]
async fn fifty_concurrent_first_calls_assume_the_role_once() {
    let emu = spawn_emulator().await;
    let gw = Gateway::start(&emu, ROLE_PROFILES).await;
    let calls: Vec<_> = (0..50)
        .map(|_| {
            let mut c = gw.sso();
            tokio::spawn(async move { c.update_user_status(sso_req("role")).await })
        })
        .collect();
    for c in calls {
        c.await.unwrap().unwrap();
    }
    assert_eq!(emu.credential_stats().sts_alibaba, 1);
}

#[tokio::test]
async fn describe_shows_each_source_and_expiry_without_secrets() {
    let emu = spawn_emulator().await;
    let (config, _) = Gateway::config(&emu, ROLE_PROFILES);
    let store = CredentialStore::from_config(&config, &|_| None, None);
    store.prefetch().await;
    let lines: Vec<String> = store
        .describe()
        .into_iter()
        .map(|(p, v, what)| format!("{p} {v}: {what}"))
        .collect();
    let text = lines.join("\n");
    assert!(
        text.contains("role alibaba: STS.**** from assume role acs:ram::1234567890123456:role/cloudgate-e2e")
            && text.contains("role tencent: AKID**** from assume role qcs::cam::uin/100000000001:roleName/cloudgate-e2e")
            && text.contains("expires 20")
            && text.contains("default alibaba: LTAI**** from config"),
        "{text}"
    );
    assert!(
        !text.contains(ALI_SECRET) && !text.contains(TC_SECRET),
        "{text}"
    );
}

#[tokio::test]
async fn a_role_can_be_assumed_from_an_instance_role() {
    let emu = spawn_emulator().await;
    let gw = Gateway::start(
        &emu,
        r#"
[profiles.node.alibaba]
instance_role = "cloudgate-gateway"
metadata_endpoint = "EMULATOR"
[profiles.chained.alibaba]
role_arn = "acs:ram::1234567890123456:role/cloudgate-e2e"
source_profile = "node"
sts_endpoint = "EMULATOR"
"#,
    )
    .await;
    gw.sso()
        .update_user_status(sso_req("chained"))
        .await
        .unwrap();
    let c = emu.credential_stats();
    assert_eq!((c.metadata_alibaba, c.sts_alibaba), (1, 1), "{c:?}");
    let calls = emu.calls();
    let assume = calls.iter().find(|c| c.action == "AssumeRole").unwrap();
    assert!(assume.security_token && assume.access_key_id.starts_with("STS."));
}

#[tokio::test]
async fn rpc_v1_signed_assume_role_works_too() {
    let emu = spawn_emulator().await;
    let gw = Gateway::start(
        &emu,
        &format!("[signing]\nalibaba = \"rpc-v1\"\n{ROLE_PROFILES}"),
    )
    .await;
    gw.sso().update_user_status(sso_req("role")).await.unwrap();
    let calls = emu.calls();
    assert!(calls
        .iter()
        .any(|c| c.action == "AssumeRole" && c.scheme == "RPC-V1" && c.outcome == "ok"));
}

#[tokio::test]
async fn sts_errors_fail_fast_then_recover_and_never_sign_with_an_expired_token() {
    let emu = spawn_emulator().await;
    // STS refuses from the start: calls fail fast, naming the profile and the vendor's code.
    emu.inject(
        Fault::once(
            "AssumeRole",
            FaultKind::Error {
                code: "NoPermission".into(),
                http_status: Some(403),
                message: Some("You are not authorized to do this action.".into()),
            },
        )
        .times(0),
    );
    let gw = Gateway::start(&emu, ROLE_PROFILES).await;
    let st = gw
        .sso()
        .update_user_status(sso_req("role"))
        .await
        .unwrap_err();
    assert_unavailable(&st, "role", "NoPermission");
    assert!(!emu.stats().actions.contains_key("UpdateUserStatus"));

    // STS recovers: after the back-off the next call assumes the role.
    emu.clear_faults();
    lifetime(&emu, 3000);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match gw.sso().update_user_status(sso_req("role")).await {
            Ok(_) => break,
            Err(st) => {
                assert_unavailable(&st, "role", "NoPermission");
                assert!(Instant::now() < deadline, "no recovery: {st:?}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }

    // STS fails again while the credential is valid: it keeps serving until just before
    // its expiry, then calls fail fast (never signed with the expired token).
    emu.inject(
        Fault::once(
            "AssumeRole",
            FaultKind::Error {
                code: "InternalError".into(),
                http_status: Some(500),
                message: None,
            },
        )
        .times(0),
    );
    let (mut ok, mut unavailable) = (0, 0);
    let until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < until {
        match gw.sso().update_user_status(sso_req("role")).await {
            Ok(_) => ok += 1,
            Err(st) => {
                assert_unavailable(&st, "role", "InternalError");
                unavailable += 1;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        ok >= 20 && unavailable >= 10,
        "ok {ok}, unavailable {unavailable}"
    );
    let stats = emu.stats();
    assert_eq!(stats.actions["UpdateUserStatus"].errors, 0, "{stats:?}");
    assert_eq!(emu.credential_stats().expired_rejections, 0);
    emu.clear_faults();
}

#[tokio::test]
async fn metadata_down_at_start_then_up() {
    let emu = spawn_emulator().await;
    emu.configure_credentials(&CredentialSettings {
        lifetime_ms: Some(3000),
        metadata_available: Some(false),
    });
    let gw = Gateway::start(
        &emu,
        r#"
[profiles.ecs.alibaba]
instance_role = "cloudgate-gateway"
metadata_endpoint = "EMULATOR"
[profiles.ecs.tencent]
instance_role = "cloudgate-gateway"
metadata_endpoint = "EMULATOR"
"#,
    )
    .await;
    let st = gw
        .sso()
        .update_user_status(sso_req("ecs"))
        .await
        .unwrap_err();
    assert_unavailable(&st, "ecs", "503");
    let st = gw.dlc().modify_user_type(dlc_req("ecs")).await.unwrap_err();
    assert_unavailable(&st, "ecs", "503");
    assert_eq!(emu.stats().total, 0, "nothing was sent unsigned");

    emu.configure_credentials(&CredentialSettings {
        lifetime_ms: None,
        metadata_available: Some(true),
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    let (mut sso_ok, mut dlc_ok) = (false, false);
    while !(sso_ok && dlc_ok) {
        assert!(
            Instant::now() < deadline,
            "metadata came back but calls still fail"
        );
        if !sso_ok {
            match gw.sso().update_user_status(sso_req("ecs")).await {
                Ok(_) => sso_ok = true,
                Err(st) => assert_unavailable(&st, "ecs", "503"),
            }
        }
        if !dlc_ok {
            match gw.dlc().modify_user_type(dlc_req("ecs")).await {
                Ok(_) => dlc_ok = true,
                Err(st) => assert_unavailable(&st, "ecs", "503"),
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Served across two lifetimes without a rejection.
    for _ in 0..40 {
        gw.sso().update_user_status(sso_req("ecs")).await.unwrap();
        gw.dlc().modify_user_type(dlc_req("ecs")).await.unwrap();
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let c = emu.credential_stats();
    assert!(c.metadata_alibaba >= 2 && c.metadata_tencent >= 2, "{c:?}");
    assert_eq!(c.expired_rejections, 0);
    for call in emu.calls() {
        assert!(call.security_token && call.outcome == "ok", "{call:?}");
    }
}

#[tokio::test]
async fn the_emulator_refuses_expired_temporary_credentials_with_the_vendor_codes() {
    let emu = spawn_emulator().await;
    lifetime(&emu, 1000);
    let http = reqwest::Client::new();
    let base = emu.base_url();
    let token = http
        .put(format!("{base}/latest/api/token"))
        .header("X-aliyun-ecs-metadata-token-ttl-seconds", "60")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let ecs: serde_json::Value = http
        .get(format!(
            "{base}/latest/meta-data/ram/security-credentials/r"
        ))
        .header("X-aliyun-ecs-metadata-token", token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let cvm: serde_json::Value = http
        .get(format!(
            "{base}/latest/meta-data/cam/security-credentials/r"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ecs["Code"], "Success");
    assert!(cvm["ExpiredTime"].is_i64(), "{cvm}");
    let s = |v: &serde_json::Value, k: &str| v[k].as_str().unwrap().to_string();
    let ali = Credential::new(
        s(&ecs, "AccessKeyId"),
        s(&ecs, "AccessKeySecret"),
        Some(s(&ecs, "SecurityToken")),
        "test",
    )
    .unwrap();
    let tc = Credential::new(
        s(&cvm, "TmpSecretId"),
        s(&cvm, "TmpSecretKey"),
        Some(s(&cvm, "Token")),
        "test",
    )
    .unwrap();

    // A gateway pinned to these credentials (no refresh), to see the vendor's answers.
    let catalog = Arc::new(Catalog::load().unwrap());
    let mut toml = String::from("[retry]\nmax_attempts = 1\n[endpoints]\n");
    for k in catalog.endpoint_keys() {
        toml.push_str(&format!("{k} = \"{base}\"\n"));
    }
    let config = Config::validate(toml::from_str(&toml).unwrap(), &catalog).unwrap();
    let gateway = app::build(config, catalog, CredentialStore::fixed(ali, tc)).unwrap();
    let listener = server::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(server::serve(
        listener,
        gateway,
        Duration::from_secs(1),
        std::future::pending(),
    ));
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut sso = CloudSsoClient::new(channel.clone());
    let mut dlc = DlcClient::new(channel);
    sso.update_user_status(sso_req("default")).await.unwrap();
    dlc.modify_user_type(dlc_req("default")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let st = sso
        .update_user_status(sso_req("default"))
        .await
        .unwrap_err();
    assert_eq!(reason(&st), "InvalidSecurityToken.Expired", "{st:?}");
    assert_eq!(st.code(), Code::Unauthenticated, "{st:?}");
    let st = dlc.modify_user_type(dlc_req("default")).await.unwrap_err();
    assert_eq!(reason(&st), "AuthFailure.TokenFailure", "{st:?}");
    assert_eq!(emu.credential_stats().expired_rejections, 2);
}

#[tokio::test]
async fn a_rewritten_credentials_file_is_used_from_the_next_poll() {
    let emu = spawn_emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("credentials.ini");
    let write = |id: &str, secret: &str| {
        // As secret managers do: write aside, then rename over the file.
        let tmp = dir.path().join("credentials.ini.tmp");
        std::fs::write(
            &tmp,
            format!("[default]\ntype = access_key\naccess_key_id = {id}\naccess_key_secret = {secret}\n"),
        )
        .unwrap();
        std::fs::rename(&tmp, &path).unwrap();
    };
    write(ALI_ID, ALI_SECRET);
    let gw = Gateway::start(
        &emu,
        &format!(
            "[profiles.rotated.alibaba]\ncredentials_file = \"{}\"\npoll_interval_ms = 200\n",
            path.display()
        ),
    )
    .await;
    gw.sso()
        .update_user_status(sso_req("rotated"))
        .await
        .unwrap();

    write(ROTATED_ID, ROTATED_SECRET);
    let switched_at = emu.calls().len();
    tokio::time::sleep(Duration::from_millis(250)).await;
    for _ in 0..5 {
        gw.sso()
            .update_user_status(sso_req("rotated"))
            .await
            .unwrap();
    }
    // A half-written file keeps the last good keys.
    std::fs::write(&path, "[default]\ntype = access_key\naccess_key_id = ").unwrap();
    tokio::time::sleep(Duration::from_millis(250)).await;
    for _ in 0..3 {
        gw.sso()
            .update_user_status(sso_req("rotated"))
            .await
            .unwrap();
    }
    let calls = emu.calls();
    assert_eq!(calls[0].access_key_id, ALI_ID);
    assert!(calls[switched_at..]
        .iter()
        .all(|c| c.access_key_id == ROTATED_ID && c.outcome == "ok"));
    assert_eq!(emu.stats().actions["UpdateUserStatus"].errors, 0);
}

#[tokio::test]
async fn a_credential_rejected_as_expired_is_refreshed_and_the_call_retried_once() {
    let emu = spawn_emulator().await;
    let gw = Gateway::start(&emu, ROLE_PROFILES).await;
    gw.sso().update_user_status(sso_req("role")).await.unwrap();
    gw.dlc().modify_user_type(dlc_req("role")).await.unwrap();
    let expired = |action: &str, code: &str| {
        Fault::once(
            action,
            FaultKind::Error {
                code: code.into(),
                http_status: None,
                message: None,
            },
        )
    };
    // The vendor refuses the (still unexpired) STS credential as expired: the gateway
    // assumes the role again and the retry, signed with the new credential, succeeds.
    emu.inject(expired("UpdateUserStatus", "InvalidSecurityToken.Expired"));
    emu.inject(expired("ModifyUserType", "AuthFailure.TokenFailure"));
    gw.sso().update_user_status(sso_req("role")).await.unwrap();
    gw.dlc().modify_user_type(dlc_req("role")).await.unwrap();
    let issued = emu.credential_stats();
    assert_eq!(
        (issued.sts_alibaba, issued.sts_tencent),
        (2, 2),
        "{issued:?}"
    );
    let calls = emu.calls();
    // The emulator resolved and validated AssumeRole as the catalog's STS operations.
    let sts: Vec<_> = calls.iter().filter(|c| c.action == "AssumeRole").collect();
    assert!(
        sts.len() == 4
            && sts
                .iter()
                .all(|c| c.product.eq_ignore_ascii_case("sts") && c.outcome == "ok"),
        "{sts:?}"
    );
    for action in ["UpdateUserStatus", "ModifyUserType"] {
        let keys: Vec<&str> = calls
            .iter()
            .filter(|c| c.action == action)
            .map(|c| c.access_key_id.as_str())
            .collect();
        assert_eq!(keys.len(), 3, "{action}: {keys:?}");
        // First call and the rejected one signed with the first credential, the retry with a new one.
        assert_eq!(keys[0], keys[1], "{action}");
        assert_ne!(keys[1], keys[2], "{action}");
    }
    // Fixed keys cannot be refreshed: the rejection reaches the caller, nothing is retried.
    emu.inject(expired("UpdateUserStatus", "InvalidSecurityToken.Expired"));
    let st = gw
        .sso()
        .update_user_status(sso_req("default"))
        .await
        .unwrap_err();
    assert_eq!(reason(&st), "InvalidSecurityToken.Expired", "{st:?}");
    let sso_calls = emu
        .calls()
        .iter()
        .filter(|c| c.action == "UpdateUserStatus")
        .count();
    assert_eq!(sso_calls, 4);
    assert_eq!(emu.credential_stats().sts_alibaba, 2);
}
