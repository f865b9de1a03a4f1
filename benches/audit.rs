//! Cost of the audit log as a call sees it: the time from handing a line to
//! the writer until it is stored (what a mutating call waits before its
//! reply), one caller at a time and 64 at once (lines then share batches),
//! without and with `fsync`. Prints figures; run with `cargo bench --bench audit`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use cloudgate::audit::{AuditLog, AuditOutcome, AuditRecord};
use cloudgate::config::{AuditSettings, AuditSink};

fn record(n: usize) -> AuditRecord {
    AuditRecord {
        time: "2026-11-23T15:35:42.812Z".into(),
        caller: Some("billing-svc".into()),
        peer: Some("10.0.4.17:52144".into()),
        method: "/aliyun.bssopenapi.v20171214.BssOpenApi/SetResellerUserStatus".into(),
        vendor: "alibaba",
        action: "SetResellerUserStatus".into(),
        profile: Some("default".into()),
        region: Some("cn-hangzhou".into()),
        params: Some(serde_json::json!({
            "owner_id": format!("{n:016}"), "status": "Freeze",
            "business_type": "FREEZE", "stop_mode": "0"
        })),
        vendor_request_id: Some("7D0C7A43-5B0B-4E8C-9B8E-3F4B2E6A1C55".into()),
        attempts: 1,
        outcome: AuditOutcome::Succeeded,
        code: "OK",
        error: None,
        trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
        elapsed_ms: 3.1,
    }
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e6
}

async fn run(label: &str, fsync: bool, callers: usize, lines_per_caller: usize) {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let path = dir.path().join("audit.jsonl");
    let log = AuditLog::open(&AuditSettings {
        sink: Some(AuditSink::File(path.clone())),
        fsync,
    })
    .unwrap()
    .unwrap();
    log.write(&record(0)).await.unwrap(); // warm-up: file created
    let started = Instant::now();
    let tasks: Vec<_> = (0..callers)
        .map(|c| {
            let log: Arc<AuditLog> = log.clone();
            tokio::spawn(async move {
                let mut waits = Vec::with_capacity(lines_per_caller);
                for i in 0..lines_per_caller {
                    let r = record(c * lines_per_caller + i);
                    let t = Instant::now();
                    log.write(&r).await.unwrap();
                    waits.push(t.elapsed());
                }
                waits
            })
        })
        .collect();
    let mut waits = Vec::new();
    for t in tasks {
        waits.extend(t.await.unwrap());
    }
    let wall = started.elapsed();
    waits.sort();
    let bytes = std::fs::metadata(&path).unwrap().len();
    println!(
        "{label:<34} {:>8.0} lines/s   wait p50 {:>7.1} µs  p99 {:>8.1} µs   ({} lines, {:.0} B/line)",
        waits.len() as f64 / wall.as_secs_f64(),
        pct(&waits, 0.5),
        pct(&waits, 0.99),
        waits.len(),
        bytes as f64 / (waits.len() + 1) as f64,
    );
}

#[tokio::main]
async fn main() {
    run("file, 1 caller", false, 1, 20_000).await;
    run("file, 64 callers", false, 64, 1_000).await;
    run("file + fsync, 1 caller", true, 1, 500).await;
    run("file + fsync, 64 callers", true, 64, 100).await;
}
