//! The audit log end to end: one JSON line per call of a mutating operation,
//! stored before the caller hears back, for calls that succeed, fail, are
//! refused (authorization, validation, rate limit) or are cancelled; none for
//! read-only calls; mutations refused while the log cannot be written; lines
//! kept when the gateway is killed right after replying.

mod support;

use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use cloudgate::emulator::FaultKind;
use cloudgate::pb::aliyun::cloudsso::v20210515::cloud_sso_client::CloudSsoClient;
use cloudgate::pb::aliyun::sddp::v20190103 as sddp;
use serde_json::Value;
use sha2::{Digest, Sha256};
use support::{
    fault, keep_log, log_file, register_secret, spawn_serve_emulate, srus, update_user, user_type,
    with_meta, Harness, Options,
};
use tonic::Code;
use tonic_types::StatusExt;

const OPS_TOKEN: &str = "audit-ops-token-5f0c9a7e41d2";
const READER_TOKEN: &str = "audit-reader-token-77aa21c3e9";

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// A gateway with two token callers (`ops` may call everything, `reader`
/// only Sddp), no retries, auditing to a fresh file.
async fn start(extra: &str) -> (Harness, PathBuf) {
    register_secret(OPS_TOKEN);
    register_secret(READER_TOKEN);
    let audit = log_file("audit", "jsonl");
    let hash = |t: &str| hex::encode(Sha256::digest(t.as_bytes()));
    let toml = format!(
        r#"
[retry]
max_attempts = 1

[audit]
path = {path:?}

[auth.tokens.ops]
sha256 = "{ops}"
[auth.tokens.reader]
sha256 = "{reader}"

[[auth.callers]]
name = "ops"
token = "ops"
methods = ["aliyun.bssopenapi.v20171214.BssOpenApi/*", "aliyun.cloudsso.v20210515.CloudSSO/*", "aliyun.sddp.v20190103.Sddp/*", "tencentcloud.dlc.v20210125.Dlc/*"]

[[auth.callers]]
name = "reader"
token = "reader"
methods = ["aliyun.sddp.v20190103.Sddp/*"]
{extra}
"#,
        path = audit.display().to_string(),
        ops = hash(OPS_TOKEN),
        reader = hash(READER_TOKEN),
    );
    let h = Harness::with(Options {
        extra_toml: toml,
        ..Default::default()
    })
    .await;
    (h, audit)
}

/// The one line a call added (read right after its reply: no waiting).
fn added_line(path: &Path, before: usize) -> Value {
    let all = lines(path);
    assert_eq!(all.len(), before + 1, "exactly one new line: {all:#?}");
    all[before].clone()
}

#[tokio::test]
async fn every_mutating_call_has_one_line_stored_before_its_reply() {
    let (h, audit) = start("").await;
    let ops = bearer(OPS_TOKEN);
    let ops_meta = [("authorization", ops.as_str())];

    // Succeeded.
    let reply = h
        .bss()
        .set_reseller_user_status(with_meta(srus(), &ops_meta))
        .await
        .unwrap()
        .into_inner();
    let line = added_line(&audit, 0);
    assert_eq!(line["caller"], "ops");
    assert_eq!(
        line["method"],
        "/aliyun.bssopenapi.v20171214.BssOpenApi/SetResellerUserStatus"
    );
    assert_eq!(line["vendor"], "alibaba");
    assert_eq!(line["action"], "SetResellerUserStatus");
    assert_eq!(line["profile"], "default");
    assert_eq!(line["region"], "cn-hangzhou");
    assert_eq!(
        line["params"],
        serde_json::json!({"owner_id": "1234567890123456", "status": "Freeze", "business_type": "FREEZE", "stop_mode": "0"})
    );
    assert_eq!(line["vendor_request_id"], reply.request_id.as_str());
    assert_eq!(line["attempts"], 1);
    assert_eq!(line["outcome"], "succeeded");
    assert_eq!(line["code"], "OK");
    assert_eq!(line["error"], Value::Null);
    assert_eq!(line["trace_id"].as_str().unwrap().len(), 32);
    assert!(line["peer"].as_str().unwrap().starts_with("127.0.0.1:"));
    assert!(line["time"].as_str().unwrap().ends_with('Z'), "{line}");

    // Read-only operations are not audited.
    h.sddp()
        .describe_user_status(with_meta(
            sddp::DescribeUserStatusRequest::default(),
            &ops_meta,
        ))
        .await
        .unwrap();
    assert_eq!(lines(&audit).len(), 1);

    // Refused by authorization: a caller not allowed the method.
    let reader = bearer(READER_TOKEN);
    let st = h
        .dlc()
        .modify_user_type(with_meta(
            user_type("ADMIN"),
            &[
                ("authorization", reader.as_str()),
                ("x-cloud-profile", "ops"),
            ],
        ))
        .await
        .unwrap_err();
    assert_eq!(st.code(), Code::PermissionDenied);
    let line = added_line(&audit, 1);
    assert_eq!(line["caller"], "reader");
    assert_eq!(line["profile"], "ops", "the profile asked for: {line}");
    assert_eq!(
        line["params"]["user_type"], "ADMIN",
        "what was asked: {line}"
    );
    assert_eq!(line["code"], "PERMISSION_DENIED");
    assert_eq!(line["outcome"], "rejected");
    assert_eq!(line["attempts"], 0);
    assert!(line["error"].as_str().unwrap().contains("reader"), "{line}");

    // Refused by authentication: no token at all.
    let st = h
        .cloudsso()
        .update_user_status(update_user())
        .await
        .unwrap_err();
    assert_eq!(st.code(), Code::Unauthenticated);
    let line = added_line(&audit, 2);
    assert_eq!(line["caller"], Value::Null);
    assert_eq!(line["code"], "UNAUTHENTICATED");
    assert_eq!(line["outcome"], "rejected");

    // Refused by validation: the parameters are still recorded.
    let st = h
        .dlc()
        .modify_user_type(with_meta(user_type("ROOT"), &ops_meta))
        .await
        .unwrap_err();
    assert_eq!(st.code(), Code::InvalidArgument);
    let line = added_line(&audit, 3);
    assert_eq!(line["code"], "INVALID_ARGUMENT");
    assert_eq!(line["outcome"], "rejected");
    assert_eq!(line["params"]["user_type"], "ROOT");
    assert!(
        line["error"].as_str().unwrap().contains("user_type"),
        "{line}"
    );

    // The vendor refused it.
    h.emulator.inject(fault(
        "ModifyUserType",
        FaultKind::Error {
            code: "FailedOperation.GrantPolicyFailed".into(),
            http_status: None,
            message: Some("injected".into()),
        },
    ));
    let st = h
        .dlc()
        .modify_user_type(with_meta(user_type("ADMIN"), &ops_meta))
        .await
        .unwrap_err();
    assert_eq!(st.code(), Code::FailedPrecondition);
    let line = added_line(&audit, 4);
    assert_eq!(line["outcome"], "failed");
    assert_eq!(line["code"], "FAILED_PRECONDITION");
    assert_eq!(line["attempts"], 1);
    let vendor_id = st.get_error_details().error_info().unwrap().metadata["request_id"].clone();
    assert!(!vendor_id.is_empty());
    assert_eq!(line["vendor_request_id"], vendor_id.as_str());

    // The connection dropped after sending: the change may have happened.
    h.emulator
        .inject(fault("UpdateUserStatus", FaultKind::Drop));
    let st = h
        .cloudsso()
        .update_user_status(with_meta(update_user(), &ops_meta))
        .await
        .unwrap_err();
    assert_eq!(st.code(), Code::Unavailable);
    let line = added_line(&audit, 5);
    assert_eq!(line["outcome"], "unknown");
    assert_eq!(line["code"], "UNAVAILABLE");

    // Only the calls that passed every check reached the vendor.
    let actions: Vec<String> = h.emulator.calls().into_iter().map(|c| c.action).collect();
    assert_eq!(
        actions,
        [
            "SetResellerUserStatus",
            "DescribeUserStatus",
            "ModifyUserType",
            "UpdateUserStatus"
        ]
    );
    h.stop().await;
}

#[tokio::test]
async fn rate_limit_refusals_are_audited() {
    let (h, audit) =
        start("[ratelimit]\nmax_wait_ms = 50\n[ratelimit.operations.ModifyUserType]\nqps = 1\n")
            .await;
    let ops = bearer(OPS_TOKEN);
    let calls = (0..4).map(|_| {
        let mut c = h.dlc();
        let ops = ops.clone();
        async move {
            c.modify_user_type(with_meta(user_type("ADMIN"), &[("authorization", &ops)]))
                .await
        }
    });
    let results = futures::future::join_all(calls).await;
    let refused = results
        .iter()
        .filter(|r| matches!(r, Err(st) if st.code() == Code::ResourceExhausted))
        .count();
    assert!(refused >= 2, "{results:?}");
    let all = lines(&audit);
    assert_eq!(all.len(), 4);
    let limited: Vec<&Value> = all
        .iter()
        .filter(|l| l["code"] == "RESOURCE_EXHAUSTED")
        .collect();
    assert_eq!(limited.len(), refused);
    for l in limited {
        assert_eq!(l["outcome"], "rejected");
        assert_eq!(l["attempts"], 0);
    }
    assert_eq!(h.emulator.calls().len(), 4 - refused);
    h.stop().await;
}

#[tokio::test]
async fn a_call_the_caller_abandons_still_gets_its_line() {
    let (h, audit) = start("").await;
    h.emulator.inject(fault(
        "SetResellerUserStatus",
        FaultKind::Delay { ms: 1500 },
    ));
    let mut client = h.bss();
    let ops = bearer(OPS_TOKEN);
    let call = tokio::spawn(async move {
        client
            .set_reseller_user_status(with_meta(srus(), &[("authorization", &ops)]))
            .await
    });
    // Abandon it while the vendor is still working on it (the emulator
    // records a call only once it answers).
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(h.emulator.calls().is_empty());
    call.abort();
    let deadline = Instant::now() + Duration::from_secs(5);
    while lines(&audit).is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let all = lines(&audit);
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0]["code"], "CANCELLED");
    assert_eq!(all[0]["outcome"], "unknown");
    assert_eq!(all[0]["attempts"], 1);
    assert_eq!(all[0]["caller"], "ops");
    h.stop().await;
}

#[tokio::test]
async fn mutations_are_refused_before_the_vendor_while_the_log_cannot_be_written() {
    let h = Harness::with(Options {
        extra_toml: "[audit]\npath = \"/dev/full\"\n".into(),
        ..Default::default()
    })
    .await;
    // The first failure is only learnt when writing the line of a call that
    // already happened: the caller still gets its real result.
    h.bss().set_reseller_user_status(srus()).await.unwrap();
    assert_eq!(h.emulator.calls().len(), 1);
    let st = h.bss().set_reseller_user_status(srus()).await.unwrap_err();
    assert_eq!(st.code(), Code::Unavailable, "{st:?}");
    let info = st.get_error_details().error_info().unwrap().clone();
    assert_eq!(info.reason, "AUDIT_LOG_UNAVAILABLE");
    assert_eq!(info.metadata["outcome"], "not_executed");
    assert!(st.message().contains("audit log"), "{}", st.message());
    assert_eq!(
        h.emulator.calls().len(),
        1,
        "nothing more reached the vendor"
    );
    // The line of the call that did happen is in the error log instead.
    let logs = std::fs::read_to_string(support::trace_log()).unwrap();
    let lost = logs
        .lines()
        .find(|l| l.contains("audit line not written"))
        .expect("the lost line is logged");
    assert!(
        lost.contains("SetResellerUserStatus") && lost.contains(r#"\"outcome\":\"succeeded\""#),
        "{lost}"
    );
    // Read-only calls are not audited and go on.
    h.sddp()
        .describe_user_status(sddp::DescribeUserStatusRequest::default())
        .await
        .unwrap();
    h.stop().await;
}

async fn disable_user(port: u16) {
    let channel = tonic::transport::Channel::from_shared(format!("http://127.0.0.1:{port}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    CloudSsoClient::new(channel)
        .update_user_status(update_user())
        .await
        .unwrap();
}

fn kill_and_keep_logs(mut child: Child, name: &str) {
    child.kill().unwrap();
    child.wait().unwrap();
    let stderr = std::io::read_to_string(child.stderr.take().unwrap()).unwrap();
    keep_log(name, &stderr);
}

#[tokio::test]
async fn a_killed_gateway_keeps_every_line_it_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    // A file, synced before each reply.
    let audit = log_file("audit", "jsonl");
    let config = dir.path().join("file.toml");
    std::fs::write(
        &config,
        format!(
            "[audit]\npath = {:?}\nfsync = true\n",
            audit.display().to_string()
        ),
    )
    .unwrap();
    let (child, port, _stdout) = spawn_serve_emulate(&config);
    disable_user(port).await;
    // SIGKILL right after the reply: no chance to flush anything.
    kill_and_keep_logs(child, "killed-file");
    let all = lines(&audit);
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0]["action"], "UpdateUserStatus");
    assert_eq!(all[0]["outcome"], "succeeded");

    // The default: stdout.
    let config = dir.path().join("stdout.toml");
    std::fs::write(&config, "[log]\nformat = \"json\"\n").unwrap();
    let (child, port, mut stdout) = spawn_serve_emulate(&config);
    disable_user(port).await;
    kill_and_keep_logs(child, "killed-stdout");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    keep_log("killed-stdout-audit", &rest);
    let line: Value = serde_json::from_str(rest.lines().next().expect("an audit line")).unwrap();
    assert_eq!(line["action"], "UpdateUserStatus");
    assert_eq!(line["code"], "OK");
}

#[tokio::test]
async fn calls_refused_before_the_handler_are_audited_too() {
    let (h, audit) = start("[server]\nmax_request_bytes = 1024\n").await;
    let ops = bearer(OPS_TOKEN);
    let oversized = cloudgate::pb::aliyun::bssopenapi::v20171214::ModifyAccountRelationRequest {
        relation_operation: "ADD".into(),
        child_nick: "x".repeat(4096),
        request_id: "r".into(),
        ..Default::default()
    };
    let st = h
        .bss()
        .modify_account_relation(with_meta(
            oversized,
            &[("authorization", &ops), ("x-cloud-profile", "ops")],
        ))
        .await
        .unwrap_err();
    assert_eq!(st.code(), Code::OutOfRange, "{st:?}");
    let line = added_line(&audit, 0);
    assert_eq!(line["action"], "ModifyAccountRelation");
    assert_eq!(line["code"], "OUT_OF_RANGE");
    assert_eq!(line["outcome"], "rejected");
    assert_eq!(line["attempts"], 0);
    assert_eq!(line["profile"], "ops");
    assert!(line["peer"].as_str().unwrap().starts_with("127.0.0.1:"));
    assert!(line["error"].as_str().unwrap().contains("1024"), "{line}");
    // Requests the handler sees still get exactly one line, and read-only
    // operations none even when refused early.
    h.bss()
        .set_reseller_user_status(with_meta(srus(), &[("authorization", &ops)]))
        .await
        .unwrap();
    assert_eq!(lines(&audit).len(), 2);
    assert!(h
        .emulator
        .calls()
        .iter()
        .all(|c| c.action != "ModifyAccountRelation"));
    h.stop().await;
}

#[tokio::test]
async fn connect_calls_are_audited_like_grpc() {
    let (h, audit) = start("").await;
    let ops = bearer(OPS_TOKEN);
    let client = reqwest::Client::new();
    let url = format!(
        "http://{}/aliyun.cloudsso.v20210515.CloudSSO/UpdateUserStatus",
        h.addr
    );
    let post = |body: &'static str| {
        client
            .post(&url)
            .header("content-type", "application/json")
            .header("authorization", &ops)
            .body(body)
            .send()
    };
    // Handled by the gateway: one line, as for gRPC.
    let resp =
        post(r#"{"directoryId": "d-00fc2p61abcd", "userId": "u-1", "newStatus": "Disabled"}"#)
            .await
            .unwrap();
    assert_eq!(resp.status(), 200);
    let line = added_line(&audit, 0);
    assert_eq!(line["action"], "UpdateUserStatus");
    assert_eq!(line["code"], "OK");
    assert_eq!(line["profile"], "default");
    // Refused before the handler (JSON that does not decode): audited too.
    let resp = post(r#"{"directoryId": 7}"#).await.unwrap();
    assert_eq!(resp.status(), 400);
    let line = added_line(&audit, 1);
    assert_eq!(line["code"], "INVALID_ARGUMENT");
    assert_eq!(line["outcome"], "rejected");
    assert_eq!(line["attempts"], 0);
    assert!(
        line["error"].as_str().unwrap().contains("not valid JSON"),
        "{line}"
    );
    assert_eq!(h.emulator.calls().len(), 1);
    h.stop().await;
}
