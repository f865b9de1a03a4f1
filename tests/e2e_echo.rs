//! Error replies stay small and readable whatever the caller sent: over-long
//! headers are refused naming the header and its length, over-long field
//! values are quoted cut short, every error's trailers stay under 8 KiB (a
//! stock grpcio client reads 16 KiB at most), nothing reaches the vendor, and
//! the log and audit lines carry only the cut value.

mod support;

use cloudgate::pb::aliyun::bssopenapi::v20171214 as bss;
use support::*;

/// The size of a status as trailers on the wire: `grpc-status`,
/// `grpc-message` (percent-encoded), `grpc-status-details-bin` (base64) and
/// any other metadata, names and values.
fn trailer_bytes(status: &tonic::Status) -> usize {
    let mut headers = http::HeaderMap::new();
    status.add_header(&mut headers).unwrap();
    let own: usize = headers
        .iter()
        .map(|(k, v)| k.as_str().len() + v.as_bytes().len())
        .sum();
    let meta: usize = status
        .metadata()
        .clone()
        .into_headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.as_bytes().len())
        .sum();
    own + meta
}

const LIMIT: usize = 8 * 1024;

fn huge(c: char, n: usize) -> String {
    std::iter::repeat_n(c, n).collect()
}

#[tokio::test]
async fn over_long_headers_are_refused_by_name_and_length_with_small_trailers() {
    let audit = tempfile::NamedTempFile::new().unwrap();
    let h = Harness::with(Options {
        extra_toml: format!("[audit]\npath = {:?}\n", audit.path().display().to_string()),
        ..Default::default()
    })
    .await;
    let long = huge('p', 6000);
    for (header, max) in [
        ("x-cloud-profile", 128),
        ("x-cloud-region", 64),
        ("traceparent", 512),
        ("authorization", 4096),
    ] {
        let err = h
            .bss()
            .set_reseller_user_status(with_meta(srus(), &[(header, &long)]))
            .await
            .unwrap_err();
        assert_eq!(
            err.code(),
            tonic::Code::InvalidArgument,
            "{header}: {err:?}"
        );
        assert!(
            err.message().contains(header) && err.message().contains("6000 bytes"),
            "{header}: {}",
            err.message()
        );
        assert!(
            err.message().contains(&format!("{max}")),
            "{}",
            err.message()
        );
        let size = trailer_bytes(&err);
        assert!(size < LIMIT, "{header}: {size} bytes of trailers");
        assert!(!err.message().contains(&long[..100]));
    }
    assert!(h.emulator.calls().is_empty(), "nothing reached the vendor");

    // The audit lines (the refused calls of a mutating operation) carry the
    // asked profile cut short, never the whole value.
    let text = std::fs::read_to_string(audit.path()).unwrap();
    assert_eq!(text.lines().count(), 4, "{text}");
    assert!(
        !text.contains(&long[..100]),
        "the whole value in an audit line"
    );
    assert!(text.contains("…(6000 chars)"), "{text}");
    let log = std::fs::read_to_string(trace_log()).unwrap();
    assert!(!log.contains(&long[..100]), "the whole value in a log line");
    h.stop().await;
}

#[tokio::test]
async fn over_long_field_values_are_quoted_cut_short() {
    let audit = tempfile::NamedTempFile::new().unwrap();
    let h = Harness::with(Options {
        extra_toml: format!("[audit]\npath = {:?}\n", audit.path().display().to_string()),
        ..Default::default()
    })
    .await;
    let long = huge('z', 6000);
    // Allowed values and a pattern: both quote the value in BadRequest.
    let req = bss::SetResellerUserStatusRequest {
        owner_id: long.clone(),
        status: long.clone(),
        business_type: long.clone(),
        stop_mode: Some(long.clone()),
    };
    let err = h.bss().set_reseller_user_status(req).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    let size = trailer_bytes(&err);
    assert!(size < LIMIT, "{size} bytes of trailers");
    let details = tonic_types::StatusExt::get_details_bad_request(&err).unwrap();
    let fields: Vec<&str> = details
        .field_violations
        .iter()
        .map(|v| v.field.as_str())
        .collect();
    assert_eq!(fields, ["owner_id", "status", "business_type", "stop_mode"]);
    for v in &details.field_violations {
        assert!(
            v.description.len() < 300 && v.description.contains("…(6000 chars)"),
            "{}: {}",
            v.field,
            v.description
        );
    }
    assert!(!err.message().contains(&long[..100]));
    assert!(h.emulator.calls().is_empty());

    let text = std::fs::read_to_string(audit.path()).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
    let line: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    let owner = line["params"]["owner_id"].as_str().unwrap();
    assert_eq!(owner, format!("{}…(6000 chars)", &long[..64]));
    let log = std::fs::read_to_string(trace_log()).unwrap();
    assert!(!log.contains(&long[..100]), "the whole value in a log line");
    h.stop().await;
}

#[tokio::test]
async fn headers_at_their_limit_still_work() {
    let h = Harness::start().await;
    // The longest region id accepted is a region id: an unknown-but-valid one
    // of exactly 64 characters reaches the vendor (which answers for it).
    let region = format!("cn-{}", huge('a', 61));
    let reply = h
        .bss()
        .set_reseller_user_status(with_meta(srus(), &[("x-cloud-region", &region)]))
        .await;
    assert!(reply.is_ok(), "{reply:?}");
    assert_eq!(h.emulator.calls().len(), 1);
    h.stop().await;
}
