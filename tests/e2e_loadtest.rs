//! End to end over loopback: `cloudgate::loadtest` drives a gateway (tests/support
//! Harness) backed by the vendor emulator, and reads the emulator's statistics.

mod support;

use std::time::{Duration, Instant};

use cloudgate::emulator::{Fault, FaultKind};
use cloudgate::loadtest::{run, LoadTestError, LoadTestOptions, MethodError, Progress, StopReason};
use support::Harness;

const DESCRIBE: &str = "aliyun.sddp.v20190103.Sddp/DescribeUserStatus";

fn opts(h: &Harness, method: &str, data: &str) -> LoadTestOptions {
    LoadTestOptions {
        addr: format!("http://{}", h.addr),
        method: method.into(),
        data: data.into(),
        emulator: Some(h.emulator.base_url()),
        emulator_reset: true,
        ..LoadTestOptions::default()
    }
}

fn quiet(_: &Progress) {}

#[tokio::test]
async fn describe_user_status_at_8_per_second_stays_within_the_vendor_limit() {
    let h = Harness::start().await;
    let mut progress = Vec::new();
    let report = run(
        LoadTestOptions {
            rate: 8.0,
            concurrency: 4,
            duration: Duration::from_secs(2),
            ..opts(&h, DESCRIBE, r#"{"lang":"en_us"}"#)
        },
        |p: &Progress| progress.push(p.clone()),
    )
    .await
    .unwrap();

    assert!((14..=18).contains(&report.sent), "{report}");
    assert_eq!(report.ok, report.sent, "{report}");
    assert_eq!(report.errors, 0, "{report}");
    assert!(report.errors_by_code.is_empty(), "{report}");
    assert_eq!(report.late_starts, 0, "{report}");
    assert_eq!(report.stopped_by, StopReason::Duration);
    assert!(
        report.elapsed_s >= 2.0 && report.elapsed_s < 4.0,
        "{report}"
    );
    assert!(
        report.achieved_rate > 6.5 && report.achieved_rate < 9.5,
        "{report}"
    );
    let l = report.latency_us;
    assert!(l.p50 > 0, "{report}");
    assert!(
        l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l.max,
        "{report}"
    );

    let emu = report.emulator.as_ref().expect("emulator stats");
    assert_eq!(emu.action, "DescribeUserStatus");
    assert!(emu.present && emu.reset);
    assert_eq!(emu.received, report.sent, "{report}");
    assert_eq!(emu.ok, report.sent, "{report}");
    assert_eq!(emu.throttled, 0, "{report}");
    assert!(emu.max_in_any_1s_window <= 10, "{report}");
    assert_eq!(emu.documented_qps, Some(10.0));

    assert!(!progress.is_empty(), "one progress line per second");
    assert!(progress[0].sent >= 7 && progress[0].elapsed >= Duration::from_secs(1));

    let text = report.to_string();
    assert!(text.contains("DescribeUserStatus: received"), "{text}");
    let json: serde_json::Value = serde_json::from_str(&report.to_json().unwrap()).unwrap();
    assert_eq!(json["sent"], report.sent);
    assert_eq!(json["emulator"]["received"], report.sent);
    h.stop().await;
}

#[tokio::test]
async fn an_invalid_body_is_counted_as_invalid_argument_and_never_reaches_the_vendor() {
    let h = Harness::start().await;
    let report = run(
        LoadTestOptions {
            rate: 20.0,
            concurrency: 2,
            max_calls: 5,
            ..opts(
                &h,
                "tencentcloud.dlc.v20210125.Dlc/ModifyUserType",
                r#"{"user_id":"100021240181","user_type":"ROOT"}"#,
            )
        },
        quiet,
    )
    .await
    .unwrap();

    assert_eq!(report.sent, 5, "{report}");
    assert_eq!(report.ok, 0, "{report}");
    assert_eq!(report.errors, 5, "{report}");
    assert_eq!(report.errors_by_code.len(), 1, "{report}");
    assert_eq!(report.errors_by_code["InvalidArgument"], 5, "{report}");
    assert!(
        report.error_samples["InvalidArgument"].contains("user_type"),
        "{report}"
    );
    assert_eq!(report.stopped_by, StopReason::MaxCalls);
    let emu = report.emulator.as_ref().expect("emulator stats");
    assert_eq!(emu.action, "ModifyUserType");
    assert_eq!(emu.received, 0, "{report}");
    assert!(!emu.present);
    assert!(report.to_string().contains("no calls received"));
    h.stop().await;
}

#[tokio::test]
async fn bad_method_data_headers_and_address_are_clear_setup_errors() {
    let h = Harness::start().await;

    let err = run(
        opts(&h, "aliyun.sddp.v20190103.Sddp/NoSuchCall", "{}"),
        quiet,
    )
    .await
    .unwrap_err();
    assert!(matches!(
        err,
        LoadTestError::Method(MethodError::Unknown { .. })
    ));
    let text = err.to_string();
    assert!(text.contains("unknown method"), "{text}");
    assert!(
        text.contains(DESCRIBE),
        "lists the service's methods: {text}"
    );

    let err = run(opts(&h, "Sddp", "{}"), quiet).await.unwrap_err();
    assert!(err.to_string().contains("pkg.Service/Method"), "{err}");

    let err = run(opts(&h, DESCRIBE, r#"{"language":"en_us"}"#), quiet)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, LoadTestError::Data { .. }), "{text}");
    assert!(
        text.contains("DescribeUserStatusRequest")
            && text.contains("field \"language\": unrecognized field name 'language'"),
        "{text}"
    );
    let err = run(opts(&h, DESCRIBE, r#"{"lang":"#), quiet)
        .await
        .unwrap_err();
    assert!(matches!(err, LoadTestError::Data { .. }), "{err}");
    let err = run(opts(&h, DESCRIBE, r#"{"feature_type":"two"}"#), quiet)
        .await
        .unwrap_err();
    assert!(matches!(err, LoadTestError::Data { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("field \"feature_type\": invalid digit"),
        "{err}"
    );

    let err = run(
        LoadTestOptions {
            headers: vec![("bad key".into(), "x".into())],
            ..opts(&h, DESCRIBE, "{}")
        },
        quiet,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, LoadTestError::Header { .. }), "{err}");

    // Nothing listens on the port of a listener just closed.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let err = run(
        LoadTestOptions {
            addr: format!("http://127.0.0.1:{port}"),
            timeout: Duration::from_secs(2),
            ..opts(&h, DESCRIBE, "{}")
        },
        quiet,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, LoadTestError::Connect { .. }), "{err}");
    assert!(err.to_string().starts_with("cannot connect to"), "{err}");

    // Nothing was sent by any of these.
    assert_eq!(h.emulator.stats().total, 0);
    h.stop().await;
}

#[tokio::test]
async fn max_calls_bounds_the_run() {
    let h = Harness::start().await;
    let started = Instant::now();
    let report = run(
        LoadTestOptions {
            rate: 0.0,
            concurrency: 2,
            duration: Duration::from_secs(30),
            max_calls: 5,
            ..opts(&h, DESCRIBE, r#"{"lang":"zh_cn"}"#)
        },
        quiet,
    )
    .await
    .unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(report.sent, 5, "{report}");
    assert_eq!(report.ok, 5, "{report}");
    assert_eq!(report.stopped_by, StopReason::MaxCalls);
    assert_eq!(report.emulator.as_ref().unwrap().received, 5, "{report}");
    h.stop().await;
}

#[tokio::test]
async fn a_slow_vendor_shows_late_starts_and_the_timeout_counts_deadline_exceeded() {
    let h = Harness::start().await;
    let slow = |ms| Fault {
        action: "DescribeUserStatus".into(),
        kind: FaultKind::Delay { ms },
        times: 0,
    };

    // One slot, calls of ~300 ms, one due every 100 ms: most calls start late.
    h.emulator.inject(slow(300));
    let report = run(
        LoadTestOptions {
            rate: 10.0,
            concurrency: 1,
            duration: Duration::from_secs(1),
            emulator_reset: false,
            ..opts(&h, DESCRIBE, "{}")
        },
        quiet,
    )
    .await
    .unwrap();
    assert!((3..=5).contains(&report.sent), "{report}");
    assert_eq!(report.ok, report.sent, "{report}");
    assert!(report.late_starts >= 2, "{report}");
    assert!(report.max_start_delay_us >= 150_000, "{report}");
    assert!(report.latency_us.p50 >= 300_000, "{report}");
    let emu = report.emulator.as_ref().unwrap();
    assert!(!emu.reset);
    assert_eq!(emu.received, report.sent, "{report}");

    // A timeout shorter than the vendor's delay.
    let report = run(
        LoadTestOptions {
            rate: 5.0,
            concurrency: 2,
            max_calls: 2,
            timeout: Duration::from_millis(150),
            emulator_reset: false,
            ..opts(&h, DESCRIBE, "{}")
        },
        quiet,
    )
    .await
    .unwrap();
    assert_eq!(report.sent, 2, "{report}");
    assert_eq!(
        report.errors_by_code.get("DeadlineExceeded"),
        Some(&2),
        "{report}"
    );
    assert!(report.latency_us.max < 1_000_000, "{report}");
    h.stop().await;
}
