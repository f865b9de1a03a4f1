//! Operability: Prometheus metrics on the admin port, `check-config`, and
//! trace context continued in the call span.

mod support;

use std::process::Command;

use cloudgate::emulator::{Fault, FaultKind};
use cloudgate::pb::aliyun::sddp::v20190103 as sddp;
use support::{with_meta, Harness, Options};

async fn scrape(addr: std::net::SocketAddr) -> String {
    reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn metrics_cover_calls_vendor_attempts_retries_and_the_limiter() {
    let handle = cloudgate::metrics::install();
    let h = Harness::with(Options {
        extra_toml: "[retry]\nbase_delay_ms = 1\nmax_delay_ms = 5\n".into(),
        ..Default::default()
    })
    .await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(cloudgate::admin::serve(
        listener,
        handle,
        std::future::pending(),
    ));

    h.emulator.inject(Fault {
        action: "DescribeUserStatus".into(),
        kind: FaultKind::HttpStatus { status: 503 },
        times: 1,
    });
    h.sddp()
        .describe_user_status(sddp::DescribeUserStatusRequest::default())
        .await
        .unwrap();
    // Immediately again with a 20 ms deadline: refused by the limiter (10/s).
    let mut req = tonic::Request::new(sddp::DescribeUserStatusRequest::default());
    req.set_timeout(std::time::Duration::from_millis(20));
    let st = h.sddp().describe_user_status(req).await.unwrap_err();
    assert_eq!(st.code(), tonic::Code::ResourceExhausted);

    let text = scrape(addr).await;
    let has = |needle: &str| assert!(text.contains(needle), "{needle} missing from:\n{text}");
    has(
        r#"cloudgate_calls_total{method="/aliyun.sddp.v20190103.Sddp/DescribeUserStatus",code="Ok"} 1"#,
    );
    has(
        r#"cloudgate_calls_total{method="/aliyun.sddp.v20190103.Sddp/DescribeUserStatus",code="ResourceExhausted"} 1"#,
    );
    has(
        r#"cloudgate_vendor_attempts_total{operation="Sddp.DescribeUserStatus",result="ServiceUnavailable"} 1"#,
    );
    has(r#"cloudgate_vendor_attempts_total{operation="Sddp.DescribeUserStatus",result="ok"} 1"#);
    has(
        r#"cloudgate_vendor_errors_total{operation="Sddp.DescribeUserStatus",code="ServiceUnavailable"} 1"#,
    );
    has(r#"cloudgate_retries_total{operation="Sddp.DescribeUserStatus"} 1"#);
    has(r#"cloudgate_ratelimit_rejected_total{limit="Sddp.DescribeUserStatus@profile:default"} 1"#);
    has(r#"cloudgate_ratelimit_admitted_total{limit="Sddp.DescribeUserStatus@profile:default"} 2"#);
    has("cloudgate_vendor_request_duration_seconds_bucket{operation=\"Sddp.DescribeUserStatus\",le=\"0.005\"}");
    has("cloudgate_call_duration_seconds_count");
    has("cloudgate_ratelimit_wait_seconds");
    has(r#"cloudgate_calls_in_flight{method="/aliyun.sddp.v20190103.Sddp/DescribeUserStatus"} 0"#);
    has("# TYPE cloudgate_calls_total counter");
    let health = reqwest::get(format!("http://{addr}/healthz"))
        .await
        .unwrap();
    assert!(health.status().is_success());
    h.stop().await;
}

#[tokio::test]
async fn json_logs_carry_the_callers_trace_in_the_call_span() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("json.toml");
    std::fs::write(&conf, "[log]\nformat = \"json\"\n").unwrap();
    let (mut child, port, _stdout) = support::spawn_serve_emulate(&conf);
    let channel = tonic::transport::Channel::from_shared(format!("http://127.0.0.1:{port}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = cloudgate::pb::aliyun::sddp::v20190103::sddp_client::SddpClient::new(channel);
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    client
        .describe_user_status(with_meta(
            sddp::DescribeUserStatusRequest::default(),
            &[("traceparent", &format!("00-{trace}-00f067aa0ba902b7-01"))],
        ))
        .await
        .unwrap();
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let logs = std::io::read_to_string(child.stderr.take().unwrap()).unwrap();
    support::keep_log("json-logs", &logs);
    let call = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["fields"]["message"] == "call ok")
        .unwrap_or_else(|| panic!("no JSON 'call ok' line in:\n{logs}"));
    let span = &call["span"];
    assert_eq!(span["trace_id"], trace, "{call}");
    assert_eq!(span["parent_id"], "00f067aa0ba902b7", "{call}");
    assert_eq!(
        span["method"],
        "/aliyun.sddp.v20190103.Sddp/DescribeUserStatus"
    );
    assert_eq!(span["attempts"], 1);
    assert!(
        span["request_id"].as_str().is_some_and(|r| !r.is_empty()),
        "{call}"
    );
}

fn cloudgate(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cloudgate"));
    cmd.args(args)
        .env_remove("ALIBABA_CLOUD_ACCESS_KEY_ID")
        .env_remove("TENCENTCLOUD_SECRET_ID");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    support::keep_log("cli", &format!("{stdout}{stderr}"));
    (out.status.success(), stdout, stderr)
}

#[test]
fn check_config_prints_effective_settings_and_rejects_bad_files() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.toml");
    std::fs::write(
        &good,
        "[admin]\nlisten = \"127.0.0.1:9090\"\n[log]\nformat = \"json\"\n\
         [profiles.ops.alibaba]\naccess_key_id = \"LTAIcheckconfig\"\naccess_key_secret_env = \"OPS_SECRET\"\n",
    )
    .unwrap();
    support::register_secret("LTAIcheckconfig");
    support::register_secret("s3cr3t-value");
    let (ok, stdout, stderr) = cloudgate(
        &["check-config", good.to_str().unwrap()],
        &[("OPS_SECRET", "s3cr3t-value")],
    );
    assert!(ok, "{stderr}");
    assert!(stdout.contains("http://127.0.0.1:9090/metrics"), "{stdout}");
    assert!(stdout.contains("LTAI****"), "{stdout}");
    assert!(stdout.contains(": OK"), "{stdout}");
    assert!(
        !stdout.contains("s3cr3t-value") && !stdout.contains("LTAIcheckconfig"),
        "{stdout}"
    );

    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[ratelimit.operations.DescribeUserStatus]\nqps = 50\n",
    )
    .unwrap();
    let (ok, _, stderr) = cloudgate(&["check-config", bad.to_str().unwrap()], &[]);
    assert!(!ok);
    assert!(
        stderr.contains("ratelimit.operations.DescribeUserStatus.qps"),
        "{stderr}"
    );
    let (ok, _, stderr) = cloudgate(&["check-config", "/nonexistent/cloudgate.toml"], &[]);
    assert!(!ok);
    assert!(stderr.contains("cannot read config file"), "{stderr}");
}
