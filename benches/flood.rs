//! Memory under a flood of connections: a gateway with the default
//! `max_connections` (1024) and a 1 s `handshake_timeout_ms`, flooded with
//! idle HTTP/2 connections, with connections beyond the limit, and with
//! silent sockets. Prints the process's RSS at each step and checks that a
//! new caller still gets through afterwards. Run with `cargo bench --bench flood`.

mod common;
use common::rss_kib;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cloudgate::catalog::Catalog;
use cloudgate::credentials::{Credential, CredentialStore};
use cloudgate::emulator;
use cloudgate::pb::aliyun::sddp::v20190103 as sddp;
use cloudgate::pb::aliyun::sddp::v20190103::sddp_client::SddpClient;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tonic::transport::Channel;

/// The HTTP/2 client preface and an empty SETTINGS frame.
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";

async fn call(addr: SocketAddr) -> Result<(), String> {
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect_timeout(Duration::from_secs(2))
        .connect()
        .await
        .map_err(|e| e.to_string())?;
    SddpClient::new(channel)
        .describe_user_status(sddp::DescribeUserStatusRequest::default())
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Opens `n` connections; with `preface`, each sends it (an idle HTTP/2 client).
async fn open(addr: SocketAddr, n: usize, preface: bool) -> Vec<TcpStream> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let mut s = TcpStream::connect(addr).await.unwrap();
        if preface {
            s.write_all(PREFACE).await.unwrap();
        }
        out.push(s);
    }
    out
}

/// How many of `conns` the server has closed (EOF or reset within 100 ms,
/// all checked at once).
async fn closed(conns: &mut [TcpStream]) -> usize {
    let checks = conns.iter_mut().map(|s| async move {
        let mut buf = [0u8; 4096];
        loop {
            match tokio::time::timeout(Duration::from_millis(100), s.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => continue,
                Err(_) => return false,
            }
        }
    });
    futures::future::join_all(checks)
        .await
        .into_iter()
        .filter(|c| *c)
        .count()
}

fn line(step: &str, base: u64) {
    let now = rss_kib();
    println!(
        "{step:<58} RSS {:>7.1} MiB ({:+.1} MiB)",
        now as f64 / 1024.0,
        (now as f64 - base as f64) / 1024.0
    );
}

#[tokio::main]
async fn main() {
    let metrics = cloudgate::metrics::install();
    let catalog = Arc::new(Catalog::load().unwrap());
    let emu_config = emulator::EmulatorConfig::random();
    let key = |i: usize| {
        let k = &emu_config.keys[i];
        Credential::new(k.id.clone(), k.secret.clone(), None, "bench").unwrap()
    };
    let creds = CredentialStore::fixed(key(0), key(1));
    let emu = emulator::spawn("127.0.0.1:0".parse().unwrap(), emu_config, catalog.clone())
        .await
        .unwrap();
    let extra = "[server]\nhandshake_timeout_ms = 1000\n";
    let addr = common::start_gateway(catalog, &emu.base_url(), creds, extra).await;
    call(addr).await.unwrap();
    let base = rss_kib();
    println!("flood (max_connections 1024, handshake_timeout 1 s; client sockets live in the same process)");
    line("after one call", base);

    let mut idle = open(addr, 1000, true).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    line("1,000 idle HTTP/2 connections held", base);
    let held = rss_kib();

    let mut beyond = open(addr, 5000, false).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let refused = closed(&mut beyond).await;
    line(
        &format!("+5,000 more connects: {refused} closed at once"),
        base,
    );
    drop(beyond);
    println!(
        "{:<58} {:.1} KiB per idle HTTP/2 connection",
        "",
        (held - base) as f64 / 1000.0
    );
    match call(addr).await {
        Ok(()) => println!("a new caller during the flood (23 slots left): OK"),
        Err(e) => println!("a new caller during the flood: FAILED {e}"),
    }
    let still_open = 1000 - closed(&mut idle).await;
    for l in metrics
        .render()
        .lines()
        .filter(|l| l.starts_with("cloudgate_connections"))
    {
        println!("  {l}");
    }
    drop(idle);
    tokio::time::sleep(Duration::from_millis(300)).await;
    line(
        &format!("idle HTTP/2 connections still open after the flood: {still_open}; all dropped"),
        base,
    );

    let mut silent = open(addr, 1020, false).await;
    let t = Instant::now();
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let n = closed(&mut silent).await;
    line(
        &format!("1,020 silent sockets: {n} closed by the handshake timeout"),
        base,
    );
    match call(addr).await {
        Ok(()) => println!(
            "a new caller after the silent flood ({:.1} s): OK",
            t.elapsed().as_secs_f64()
        ),
        Err(e) => println!("a new caller after the silent flood: FAILED {e}"),
    }
}
