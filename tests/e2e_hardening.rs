//! Hardening of the gRPC port: request size, connection limit, default and
//! maximum deadlines, and refusing a non-loopback listen without caller auth.

mod support;

use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;

use cloudgate::emulator::{Fault, FaultKind};
use cloudgate::pb::aliyun::bssopenapi::v20171214 as bss;
use cloudgate::pb::aliyun::sddp::v20190103 as sddp;
use support::{Harness, Options};
use tonic::Code;

async fn harness(toml: &str) -> Harness {
    Harness::with(Options {
        extra_toml: toml.into(),
        ..Default::default()
    })
    .await
}

fn delay(h: &Harness, ms: u64) {
    h.emulator.inject(Fault {
        action: "DescribeUserStatus".into(),
        kind: FaultKind::Delay { ms },
        times: 1,
    });
}

#[tokio::test]
async fn oversized_requests_are_refused_before_reaching_the_vendor() {
    let h = harness("[server]\nmax_request_bytes = 1024\n").await;
    let req = bss::ModifyAccountRelationRequest {
        relation_operation: "ADD".into(),
        child_nick: "x".repeat(4096),
        request_id: "r".into(),
        ..Default::default()
    };
    let st = h.bss().modify_account_relation(req).await.unwrap_err();
    assert_eq!(st.code(), Code::OutOfRange, "{st:?}");
    assert!(h.emulator.calls().is_empty());
    h.stop().await;
}

#[tokio::test]
async fn connections_beyond_the_limit_are_closed_at_once() {
    // The harness's own client holds one connection.
    let h = harness("[server]\nmax_connections = 2\n").await;
    h.sddp()
        .describe_user_status(sddp::DescribeUserStatusRequest::default())
        .await
        .unwrap();
    let second = tokio::net::TcpStream::connect(h.addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut third = tokio::net::TcpStream::connect(h.addr).await.unwrap();
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_secs(2), third.read(&mut buf)).await;
    match read {
        Ok(Ok(0)) => {}
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!("the third connection was not closed: {other:?}"),
    }
    drop(second);
    // The established connection keeps working.
    h.sddp()
        .describe_user_status(sddp::DescribeUserStatusRequest::default())
        .await
        .unwrap();
    h.stop().await;
}

#[tokio::test]
async fn silent_connections_are_closed_so_they_cannot_hold_every_slot() {
    // Four slots: the harness's client holds one; two silent sockets
    // (connect, send nothing) and one half-sent preface take the rest.
    let h = harness("[server]\nmax_connections = 4\nhandshake_timeout_ms = 300\n").await;
    h.sddp()
        .describe_user_status(sddp::DescribeUserStatusRequest::default())
        .await
        .unwrap();
    let mut silent = Vec::new();
    for _ in 0..2 {
        silent.push(tokio::net::TcpStream::connect(h.addr).await.unwrap());
    }
    // A half-sent preface does not count as a handshake either.
    let mut partial = tokio::net::TcpStream::connect(h.addr).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut partial, b"PRI * HTTP/2.0")
        .await
        .unwrap();
    let t = Instant::now();
    for mut s in silent.into_iter().chain([partial]) {
        // The server's HTTP/2 SETTINGS arrive first; then the close.
        let mut seen = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(3), s.read_to_end(&mut seen)).await;
        match read {
            Ok(Ok(_)) => {}
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            other => panic!("a silent connection was not closed: {other:?}"),
        }
    }
    let waited = t.elapsed();
    assert!(
        waited >= Duration::from_millis(200),
        "closed too early: {waited:?}"
    );
    // Their slots are free again: a new client connects and calls.
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", h.addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    cloudgate::pb::aliyun::sddp::v20190103::sddp_client::SddpClient::new(channel)
        .describe_user_status(sddp::DescribeUserStatusRequest::default())
        .await
        .unwrap();
    // The first client's connection, busy from the start, was never cut.
    h.sddp()
        .describe_user_status(sddp::DescribeUserStatusRequest::default())
        .await
        .unwrap();
    h.stop().await;
}

#[tokio::test]
async fn calls_without_a_deadline_get_the_default_and_long_ones_are_capped() {
    let h = harness("[server]\ndefault_deadline_ms = 300\nmax_deadline_ms = 400\n").await;
    delay(&h, 2000);
    let t = Instant::now();
    let st = h
        .sddp()
        .describe_user_status(sddp::DescribeUserStatusRequest::default())
        .await
        .unwrap_err();
    assert_eq!(st.code(), Code::DeadlineExceeded, "{st:?}");
    assert!(
        t.elapsed() < Duration::from_millis(1200),
        "{:?}",
        t.elapsed()
    );
    tokio::time::sleep(Duration::from_millis(150)).await;
    delay(&h, 2000);
    let mut req = tonic::Request::new(sddp::DescribeUserStatusRequest::default());
    req.set_timeout(Duration::from_secs(30));
    let t = Instant::now();
    let st = h.sddp().describe_user_status(req).await.unwrap_err();
    assert_eq!(st.code(), Code::DeadlineExceeded, "{st:?}");
    assert!(
        t.elapsed() < Duration::from_millis(1200),
        "{:?}",
        t.elapsed()
    );
    h.stop().await;
}

#[test]
fn a_non_loopback_listen_without_caller_auth_needs_insecure() {
    // The refusal happens before anything binds.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cloudgate"))
        .args(["serve", "--emulate", "--listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    support::keep_log("refused-listen", &stderr);
    assert!(
        stderr.contains("--insecure") && stderr.contains("0.0.0.0"),
        "{stderr}"
    );
}
