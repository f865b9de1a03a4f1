//! Caller authentication and per-method authorization over real TLS and
//! mutual TLS on loopback, with certificates generated here (rcgen).

mod support;

use std::path::Path;

use cloudgate::catalog::Catalog;
use cloudgate::config::Config;
use cloudgate::pb::aliyun::bssopenapi::v20171214 as bss;
use cloudgate::pb::aliyun::sddp::v20190103 as sddp;
use cloudgate::pb::aliyun::sddp::v20190103::sddp_client::SddpClient;
use cloudgate::pb::tencentcloud::dlc::v20210125 as dlc;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    SanType,
};
use sha2::{Digest, Sha256};
use support::{with_meta, Harness, Options};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};
use tonic::Code;

const TOKEN: &str = "reporting-token-0123456789abcdef";

/// A PEM certificate and its key.
struct Pem {
    cert: String,
    key: String,
}

/// The test PKI: a CA the gateway trusts, one it does not, and leaf certificates.
struct Pki {
    dir: tempfile::TempDir,
    ca: Pem,
    server: Pem,
    billing: Pem,
    ops: Pem,
    stranger: Pem,
    foreign: Pem,
    expired: Pem,
}

fn ca(cn: &str) -> (CertificateParams, KeyPair, String) {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, cn);
    let key = KeyPair::generate().unwrap();
    let pem = params.self_signed(&key).unwrap().pem();
    (params, key, pem)
}

fn leaf(
    issuer: &Issuer<'_, &KeyPair>,
    cn: &str,
    sans: Vec<SanType>,
    server: bool,
    expired: bool,
) -> Pem {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.subject_alt_names = sans;
    params.extended_key_usages = vec![if server {
        ExtendedKeyUsagePurpose::ServerAuth
    } else {
        ExtendedKeyUsagePurpose::ClientAuth
    }];
    if expired {
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    }
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, issuer).unwrap();
    Pem {
        cert: cert.pem(),
        key: key.serialize_pem(),
    }
}

fn uri(u: &str) -> SanType {
    SanType::URI(u.try_into().unwrap())
}

fn pki() -> Pki {
    let (ca_params, ca_key, ca_pem) = ca("cloudgate test CA");
    let (other_params, other_key, _) = ca("some other CA");
    let issuer = Issuer::from_params(&ca_params, &ca_key);
    let other = Issuer::from_params(&other_params, &other_key);
    let server = leaf(
        &issuer,
        "cloudgate",
        vec![
            SanType::DnsName("localhost".try_into().unwrap()),
            SanType::IpAddress("127.0.0.1".parse().unwrap()),
        ],
        true,
        false,
    );
    let billing_id = || vec![uri("spiffe://example.org/billing")];
    Pki {
        dir: tempfile::tempdir().unwrap(),
        ca: Pem {
            cert: ca_pem,
            key: ca_key.serialize_pem(),
        },
        server,
        billing: leaf(&issuer, "billing", billing_id(), false, false),
        ops: leaf(&issuer, "ops", vec![], false, false),
        stranger: leaf(&issuer, "stranger", vec![], false, false),
        foreign: leaf(&other, "billing", billing_id(), false, false),
        expired: leaf(&issuer, "billing", billing_id(), false, true),
    }
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The `[auth]` config: mTLS with two certificate callers and one token caller.
fn auth_toml(pki: &Pki, extra: &str) -> String {
    let d = pki.dir.path();
    for secret in [TOKEN, "LTAIopsexample", "ops-secret-example"] {
        support::register_secret(secret);
    }
    format!(
        r#"
[profiles.ops.alibaba]
access_key_id = "LTAIopsexample"
access_key_secret = "ops-secret-example"

[auth]
{extra}
[auth.tls]
cert = "{cert}"
key = "{key}"
client_ca = "{ca}"

[auth.tokens.reporting]
sha256 = "{hash}"

[[auth.callers]]
name = "billing-svc"
identities = ["spiffe://example.org/billing"]
methods = ["aliyun.sddp.v20190103.Sddp/*"]

[[auth.callers]]
name = "ops-svc"
identities = ["CN=ops"]
methods = ["tencentcloud.dlc.v20210125.Dlc/ModifyUserType", "aliyun.sddp.v20190103.Sddp/DescribeUserStatus"]
profiles = ["default", "ops"]

[[auth.callers]]
name = "reporting"
token = "reporting"
methods = ["aliyun.sddp.v20190103.Sddp/DescribeUserStatus"]
"#,
        cert = write(d, "server.pem", &pki.server.cert),
        key = write(d, "server.key", &pki.server.key),
        ca = write(d, "ca.pem", &pki.ca.cert),
        hash = token_hash(TOKEN),
    )
}

fn client(pki: &Pki, identity: Option<&Pem>) -> ClientTlsConfig {
    let tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(&pki.ca.cert));
    match identity {
        Some(p) => tls.identity(Identity::from_pem(&p.cert, &p.key)),
        None => tls,
    }
}

async fn start(pki: &Pki, identity: Option<&Pem>, extra: &str) -> Harness {
    let options = Options {
        extra_toml: auth_toml(pki, extra),
        ..Default::default()
    };
    Harness::with_tls(options, Some(client(pki, identity))).await
}

/// A channel to the harness with another client configuration (may fail to connect).
async fn channel(h: &Harness, tls: ClientTlsConfig) -> Result<Channel, tonic::transport::Error> {
    Channel::from_shared(format!("https://{}", h.addr))
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
}

fn describe() -> sddp::DescribeUserStatusRequest {
    sddp::DescribeUserStatusRequest::default()
}

fn modify_user_type() -> dlc::ModifyUserTypeRequest {
    dlc::ModifyUserTypeRequest {
        user_id: "100021240181".into(),
        user_type: "ADMIN".into(),
        account_type: None,
    }
}

#[tokio::test]
async fn mtls_callers_get_their_methods_and_profiles_only() {
    let pki = pki();
    let h = start(&pki, Some(&pki.billing), "").await;
    h.sddp().describe_user_status(describe()).await.unwrap();
    assert_eq!(h.emulator.calls().len(), 1);

    // A method outside the caller's rules.
    let st = h
        .dlc()
        .modify_user_type(modify_user_type())
        .await
        .unwrap_err();
    assert_eq!(st.code(), Code::PermissionDenied, "{st:?}");
    assert!(
        st.message().contains("billing-svc")
            && st
                .message()
                .contains("/tencentcloud.dlc.v20210125.Dlc/ModifyUserType"),
        "{st:?}"
    );
    // A profile outside the caller's rules.
    let st = h
        .sddp()
        .describe_user_status(with_meta(describe(), &[("x-cloud-profile", "ops")]))
        .await
        .unwrap_err();
    assert_eq!(st.code(), Code::PermissionDenied, "{st:?}");
    assert!(
        st.message().contains("billing-svc") && st.message().contains("\"ops\""),
        "{st:?}"
    );
    assert_eq!(
        h.emulator.calls().len(),
        1,
        "denied calls reached the vendor"
    );

    // Another caller (matched by its subject CN) with its own rules.
    let ops = channel(&h, client(&pki, Some(&pki.ops))).await.unwrap();
    let mut dlc_client =
        cloudgate::pb::tencentcloud::dlc::v20210125::dlc_client::DlcClient::new(ops.clone());
    dlc_client
        .modify_user_type(with_meta(modify_user_type(), &[("x-cloud-profile", "ops")]))
        .await
        .unwrap();
    assert_eq!(h.emulator.calls().len(), 2);
    let st =
        cloudgate::pb::aliyun::bssopenapi::v20171214::bss_open_api_client::BssOpenApiClient::new(
            ops,
        )
        .modify_account_relation(bss::ModifyAccountRelationRequest::default())
        .await
        .unwrap_err();
    assert_eq!(st.code(), Code::PermissionDenied, "{st:?}");
    assert!(st.message().contains("ops-svc"), "{st:?}");
    assert_eq!(h.emulator.calls().len(), 2);

    // A certificate from the trusted CA whose identity is no caller's.
    let stranger = channel(&h, client(&pki, Some(&pki.stranger)))
        .await
        .unwrap();
    let st = SddpClient::new(stranger)
        .describe_user_status(describe())
        .await
        .unwrap_err();
    assert_eq!(st.code(), Code::Unauthenticated, "{st:?}");
    assert_eq!(h.emulator.calls().len(), 2);
    h.stop().await;
}

#[tokio::test]
async fn calls_without_certificate_or_token_are_unauthenticated_but_health_is_open() {
    let pki = pki();
    let h = start(&pki, None, "").await;
    let st = h.sddp().describe_user_status(describe()).await.unwrap_err();
    assert_eq!(st.code(), Code::Unauthenticated, "{st:?}");
    let mut health = tonic_health::pb::health_client::HealthClient::new(h.channel.clone());
    health
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await
        .unwrap();
    assert!(h.emulator.calls().is_empty());
    h.stop().await;
}

#[tokio::test]
async fn health_and_reflection_can_be_closed() {
    let pki = pki();
    let h = start(&pki, None, "open_health_and_reflection = false").await;
    let mut health = tonic_health::pb::health_client::HealthClient::new(h.channel.clone());
    let st = health
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await
        .unwrap_err();
    assert_eq!(st.code(), Code::Unauthenticated, "{st:?}");
    let mut req = tonic::Request::new(tonic_health::pb::HealthCheckRequest::default());
    req.metadata_mut()
        .insert("authorization", format!("Bearer {TOKEN}").parse().unwrap());
    health.check(req).await.unwrap();
    h.stop().await;
}

async fn refused(h: &Harness, tls: ClientTlsConfig, alert: &str) {
    // The server's TLS alert ends the handshake, or (TLS 1.3) the first call.
    let error = match channel(h, tls).await {
        Ok(ch) => {
            let st = SddpClient::new(ch)
                .describe_user_status(describe())
                .await
                .unwrap_err();
            assert_ne!(st.code(), Code::Ok);
            format!("{st:?}")
        }
        Err(e) => format!("{e:?}"),
    };
    assert!(error.contains(alert), "{error}");
}

#[tokio::test]
async fn certificates_from_another_ca_or_expired_are_refused() {
    let pki = pki();
    let h = start(&pki, Some(&pki.billing), "").await;
    refused(&h, client(&pki, Some(&pki.foreign)), "UnknownCA").await;
    refused(&h, client(&pki, Some(&pki.expired)), "CertificateExpired").await;
    assert!(
        h.emulator.calls().is_empty(),
        "a refused caller reached the vendor"
    );
    // The server survives and keeps serving good callers.
    h.sddp().describe_user_status(describe()).await.unwrap();
    h.stop().await;
}

#[tokio::test]
async fn bearer_tokens_over_tls() {
    let pki = pki();
    let h = start(&pki, None, "").await;
    let bearer = format!("Bearer {TOKEN}");
    h.sddp()
        .describe_user_status(with_meta(describe(), &[("authorization", &bearer)]))
        .await
        .unwrap();
    assert_eq!(h.emulator.calls().len(), 1);

    let wrong = "Bearer not-the-reporting-token";
    let st = h
        .sddp()
        .describe_user_status(with_meta(describe(), &[("authorization", wrong)]))
        .await
        .unwrap_err();
    assert_eq!(st.code(), Code::Unauthenticated, "{st:?}");
    assert!(
        !format!("{st:?}").contains("not-the-reporting-token"),
        "{st:?}"
    );

    let st = h
        .dlc()
        .modify_user_type(with_meta(modify_user_type(), &[("authorization", &bearer)]))
        .await
        .unwrap_err();
    assert_eq!(st.code(), Code::PermissionDenied, "{st:?}");
    assert!(st.message().contains("reporting"), "{st:?}");
    assert!(!format!("{st:?}").contains(TOKEN), "{st:?}");
    assert_eq!(
        h.emulator.calls().len(),
        1,
        "denied calls reached the vendor"
    );
    h.stop().await;
}

#[test]
fn auth_config_is_validated_naming_the_key() {
    let pki = pki();
    let catalog = Catalog::load().unwrap();
    let base = auth_toml(&pki, "");
    let check = |toml: &str, key: &str| {
        let e = Config::from_toml(toml, "t.toml", &catalog)
            .unwrap_err()
            .to_string();
        assert!(e.contains(key), "{key}: {e}");
    };
    Config::from_toml(&base, "t.toml", &catalog).unwrap();
    check(
        &base.replace(&token_hash(TOKEN), "zz"),
        "auth.tokens.reporting.sha256",
    );
    check(
        &base.replace("token = \"reporting\"", "token = \"nope\""),
        "auth.callers[2].token",
    );
    check(
        &base.replace("Sddp/*", "Sddp/Nope"),
        "auth.callers[0].methods",
    );
    check(&base.replace("server.key", "missing.key"), "auth.tls.key");
    check(
        &base.replace("profiles = [\"default\", \"ops\"]", "profiles = [\"prod\"]"),
        "auth.callers[1].profiles",
    );
    let debug = format!(
        "{:?}",
        Config::from_toml(&base, "t.toml", &catalog).unwrap()
    );
    assert!(!debug.contains("PRIVATE KEY"), "{debug}");
}

#[test]
fn a_non_loopback_listen_is_accepted_with_caller_auth() {
    let pki = pki();
    let config = write(pki.dir.path(), "cloudgate.toml", &auth_toml(&pki, ""));
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_cloudgate"))
        .args([
            "serve",
            "--emulate",
            "--listen",
            "0.0.0.0:0",
            "--config",
            &config,
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut listening = false;
    for _ in 0..10 {
        let mut line = String::new();
        if std::io::BufRead::read_line(&mut stdout, &mut line).unwrap_or(0) == 0 {
            break;
        }
        if line.contains("cloudgate listening on 0.0.0.0") {
            listening = true;
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(listening, "the gateway did not start listening");
}

/// An HTTPS client trusting the test CA, with a client certificate when given.
fn https(pki: &Pki, identity: Option<&Pem>) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(pki.ca.cert.as_bytes()).unwrap();
    let mut b = reqwest::Client::builder().add_root_certificate(ca);
    if let Some(p) = identity {
        let pem = format!("{}\n{}", p.cert, p.key);
        b = b.identity(reqwest::Identity::from_pem(pem.as_bytes()).unwrap());
    }
    b.build().unwrap()
}

/// A Connect JSON call; the HTTP status and the Connect code ("ok" on success).
async fn connect_call(
    client: &reqwest::Client,
    h: &Harness,
    path: &str,
    json: &str,
) -> (u16, String) {
    let resp = client
        .post(format!("https://{}{path}", h.addr))
        .header("content-type", "application/json")
        .body(json.to_string())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let body: serde_json::Value = resp.json().await.unwrap();
    let code = body["code"].as_str().unwrap_or("ok").to_string();
    (status, code)
}

/// A gRPC-Web call of an empty request; the grpc-status.
async fn web_call(client: &reqwest::Client, h: &Harness, path: &str) -> String {
    let resp = client
        .post(format!("https://{}{path}", h.addr))
        .header("content-type", "application/grpc-web+proto")
        .body(vec![0u8; 5])
        .send()
        .await
        .unwrap();
    if let Some(s) = resp.headers().get("grpc-status") {
        return s.to_str().unwrap().to_string();
    }
    let body = resp.bytes().await.unwrap();
    let text = String::from_utf8_lossy(&body);
    let at = text.find("grpc-status:").expect("a trailers frame") + "grpc-status:".len();
    text[at..].split("\r\n").next().unwrap().trim().to_string()
}

#[tokio::test]
async fn connect_and_grpc_web_over_mtls_get_the_same_rules() {
    const DESCRIBE: &str = "/aliyun.sddp.v20190103.Sddp/DescribeUserStatus";
    const MODIFY: &str = "/tencentcloud.dlc.v20210125.Dlc/ModifyUserType";
    let modify = r#"{"userId": "100021240181", "userType": "ADMIN"}"#;
    let pki = pki();
    let h = start(&pki, Some(&pki.billing), "").await;
    let billing = https(&pki, Some(&pki.billing));
    assert_eq!(
        connect_call(&billing, &h, DESCRIBE, "{}").await,
        (200, "ok".into())
    );
    assert_eq!(web_call(&billing, &h, DESCRIBE).await, "0");
    assert_eq!(h.emulator.calls().len(), 2);
    // A method outside billing-svc's rules: refused on each protocol, as on gRPC.
    let denied = (403, "permission_denied".to_string());
    assert_eq!(connect_call(&billing, &h, MODIFY, modify).await, denied);
    assert_eq!(web_call(&billing, &h, MODIFY).await, "7");
    let st = h
        .dlc()
        .modify_user_type(modify_user_type())
        .await
        .unwrap_err();
    assert_eq!(st.code(), Code::PermissionDenied);
    // ops-svc (matched by CN) may call it.
    let ops = https(&pki, Some(&pki.ops));
    assert_eq!(
        connect_call(&ops, &h, MODIFY, modify).await,
        (200, "ok".into())
    );
    // No certificate and no token: unauthenticated everywhere.
    let anonymous = https(&pki, None);
    let unauth = (401, "unauthenticated".to_string());
    assert_eq!(connect_call(&anonymous, &h, DESCRIBE, "{}").await, unauth);
    assert_eq!(web_call(&anonymous, &h, DESCRIBE).await, "16");
    assert_eq!(
        h.emulator.calls().len(),
        3,
        "refused calls reached the vendor"
    );
    h.stop().await;
}

/// An HTTPS client that offers only HTTP/1.1 in ALPN (`curl --http1.1`).
fn https_http1(pki: &Pki, identity: Option<&Pem>) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(pki.ca.cert.as_bytes()).unwrap();
    let mut b = reqwest::Client::builder()
        .add_root_certificate(ca)
        .http1_only();
    if let Some(p) = identity {
        let pem = format!("{}\n{}", p.cert, p.key);
        b = b.identity(reqwest::Identity::from_pem(pem.as_bytes()).unwrap());
    }
    b.build().unwrap()
}

/// A Connect JSON call over HTTP/1.1; the HTTP version, status and Connect code.
async fn connect_http1(
    client: &reqwest::Client,
    h: &Harness,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<(reqwest::Version, u16, String), reqwest::Error> {
    let mut req = client
        .post(format!("https://{}{path}", h.addr))
        .header("content-type", "application/json")
        .body("{}");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await?;
    let version = resp.version();
    let status = resp.status().as_u16();
    let body: serde_json::Value = resp.json().await?;
    let code = body["code"].as_str().unwrap_or("ok").to_string();
    Ok((version, status, code))
}

const DESCRIBE_PATH: &str = "/aliyun.sddp.v20190103.Sddp/DescribeUserStatus";

#[tokio::test]
async fn http1_over_tls_gets_the_same_caller_rules() {
    let pki = pki();
    let h = start(&pki, Some(&pki.billing), "").await;
    let http1 = reqwest::Version::HTTP_11;
    // A client certificate, HTTP/1.1 only in ALPN: served, over HTTP/1.1.
    let billing = https_http1(&pki, Some(&pki.billing));
    let got = connect_http1(&billing, &h, DESCRIBE_PATH, &[])
        .await
        .unwrap();
    assert_eq!(got, (http1, 200, "ok".into()));
    // gRPC-Web over HTTP/1.1 too.
    assert_eq!(web_call(&billing, &h, DESCRIBE_PATH).await, "0");
    // The same caller's rules apply: a method outside them is refused.
    let got = connect_http1(
        &billing,
        &h,
        "/tencentcloud.dlc.v20210125.Dlc/ModifyUserType",
        &[],
    )
    .await
    .unwrap();
    assert_eq!(got, (http1, 403, "permission_denied".into()));
    // No certificate and no token: unauthenticated.
    let anonymous = https_http1(&pki, None);
    let got = connect_http1(&anonymous, &h, DESCRIBE_PATH, &[])
        .await
        .unwrap();
    assert_eq!(got, (http1, 401, "unauthenticated".into()));
    // No certificate, a bearer token: the token's caller.
    let bearer = format!("Bearer {TOKEN}");
    let got = connect_http1(&anonymous, &h, DESCRIBE_PATH, &[("authorization", &bearer)])
        .await
        .unwrap();
    assert_eq!(got, (http1, 200, "ok".into()));
    // gRPC over TLS (ALPN h2) on the same port, as before.
    h.sddp().describe_user_status(describe()).await.unwrap();
    assert_eq!(
        h.emulator.calls().len(),
        4,
        "refused calls reached the vendor"
    );
    h.stop().await;
}

#[tokio::test]
async fn without_tokens_http1_callers_need_a_certificate_in_the_handshake() {
    let pki = pki();
    // mTLS only: no [auth.tokens], no token caller.
    let config = auth_toml(&pki, "");
    let config = config[..config.find("[auth.tokens.reporting]").unwrap()].to_string();
    let options = Options {
        extra_toml: config,
        ..Default::default()
    };
    let h = Harness::with_tls(options, Some(client(&pki, Some(&pki.billing)))).await;
    let billing = https_http1(&pki, Some(&pki.billing));
    let got = connect_http1(&billing, &h, DESCRIBE_PATH, &[])
        .await
        .unwrap();
    assert_eq!(got, (reqwest::Version::HTTP_11, 200, "ok".into()));
    // Without a certificate the handshake (or, TLS 1.3, the request) fails.
    let anonymous = https_http1(&pki, None);
    let error = connect_http1(&anonymous, &h, DESCRIBE_PATH, &[])
        .await
        .unwrap_err();
    assert!(error.is_connect() || error.is_request(), "{error:?}");
    h.sddp().describe_user_status(describe()).await.unwrap();
    assert_eq!(h.emulator.calls().len(), 2);
    h.stop().await;
}

#[tokio::test]
async fn a_stalled_tls_handshake_is_closed_after_the_handshake_timeout() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let pki = pki();
    let options = Options {
        extra_toml: format!(
            "{}\n[server]\nhandshake_timeout_ms = 300\n",
            auth_toml(&pki, "")
        ),
        ..Default::default()
    };
    let h = Harness::with_tls(options, Some(client(&pki, Some(&pki.billing)))).await;
    // More than the 24 bytes a plain connection must send: the start of a
    // ClientHello record that never completes.
    let mut stalled = tokio::net::TcpStream::connect(h.addr).await.unwrap();
    let mut hello = vec![
        0x16, 0x03, 0x01, 0x01, 0xf4, 0x01, 0x00, 0x01, 0xf0, 0x03, 0x03,
    ];
    hello.extend([7u8; 40]);
    stalled.write_all(&hello).await.unwrap();
    let t = std::time::Instant::now();
    let mut seen = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(3),
        stalled.read_to_end(&mut seen),
    )
    .await;
    match read {
        Ok(Ok(_)) => {}
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!("the stalled handshake was not closed: {other:?}"),
    }
    let waited = t.elapsed();
    assert!(
        waited >= std::time::Duration::from_millis(200),
        "closed too early: {waited:?}"
    );
    // The server keeps serving.
    h.sddp().describe_user_status(describe()).await.unwrap();
    h.stop().await;
}
