//! Gateway overhead and capacity, printed as figures (`cargo bench --bench overhead`):
//! - added latency: the same signed call made directly to the emulator vs
//!   through cloudgate (tonic client -> gateway -> emulator), same run;
//! - throughput at saturation with limits lifted;
//! - cost of a call refused by the limiter, end to end;
//! - memory (RSS) with 10,000 calls waiting in the limiter.
//!
//! `CLOUDGATE_BENCH_PROTO_DIR=DIR` loads that directory on top of the embedded
//! operations (as `--proto-dir` does), to show the per-call cost does not
//! depend on how many operations are loaded.

mod common;
use common::rss_kib;

use std::sync::atomic::AtomicU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cloudgate::catalog::{Catalog, Vendor};
use cloudgate::config::Config;
use cloudgate::credentials::{Credential, CredentialStore};
use cloudgate::emulator::{self, EmulatorConfig};
use cloudgate::forward::VendorCall;
use cloudgate::pb::aliyun::cloudsso::v20210515 as cloudsso;
use cloudgate::pb::aliyun::sddp::v20190103 as sddp;
use cloudgate::ratelimit::RateLimiter;
use cloudgate::translate::WireParams;
use cloudgate::vendors::{self, Freshness, Target};
use hdrhistogram::Histogram;
use tonic::transport::Channel;

const N: u64 = 3000;

fn request() -> cloudsso::UpdateUserStatusRequest {
    cloudsso::UpdateUserStatusRequest {
        directory_id: "d-00fc2p61abcd".into(),
        user_id: "u-00q8wbq42wiltcrkabcd".into(),
        new_status: Some("Disabled".into()),
    }
}

fn pct(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}

async fn start_gateway(
    catalog: Arc<Catalog>,
    base: &str,
    cred: (Credential, Credential),
    extra: &str,
) -> Channel {
    let credentials = CredentialStore::fixed(cred.0, cred.1);
    let addr = common::start_gateway(catalog, base, credentials, extra).await;
    Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

#[tokio::main]
async fn main() {
    let dirs: Vec<std::path::PathBuf> = std::env::var_os("CLOUDGATE_BENCH_PROTO_DIR")
        .map(|d| vec![d.into()])
        .unwrap_or_default();
    let catalog = Arc::new(Catalog::load_with_dirs(&dirs).unwrap());
    println!(
        "operations loaded: {} ({} from CLOUDGATE_BENCH_PROTO_DIR)",
        catalog.operations().len(),
        catalog
            .operations()
            .iter()
            .filter(|op| !op.service.embedded)
            .count()
    );
    let emu_config = EmulatorConfig::random();
    let key = |v: Vendor| {
        let k = emu_config.keys.iter().find(|k| k.vendor == v).unwrap();
        Credential::new(k.id.clone(), k.secret.clone(), None, "bench").unwrap()
    };
    let (ali, tc) = (key(Vendor::Alibaba), key(Vendor::Tencent));
    let emu = emulator::spawn("127.0.0.1:0".parse().unwrap(), emu_config, catalog.clone())
        .await
        .unwrap();
    let base = emu.base_url();
    let lifted = "[ratelimit.operations.\"CloudSSO.UpdateUserStatus\"]\nqps = 100000\nburst = 100000\n[ratelimit]\nmax_wait_ms = 0\n";
    let channel = start_gateway(catalog.clone(), &base, (ali.clone(), tc.clone()), lifted).await;
    println!(
        "gateway overhead ({} build, {N} sequential calls each, UpdateUserStatus, ACS3)",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );

    // Direct: the same signing and HTTP client settings, straight to the emulator.
    let op = catalog
        .by_action(Vendor::Alibaba, "UpdateUserStatus")
        .unwrap()
        .clone();
    let dynamic = cloudgate::translate::to_dynamic(&op, &request()).unwrap();
    let params = cloudgate::translate::encode_request(&catalog, &op, &dynamic).unwrap();
    let target = Target::new(
        base.parse().unwrap(),
        "cn-shanghai".into(),
        vendors::Signer::Acs3,
    );
    let client = reqwest::Client::builder()
        .tcp_nodelay(true)
        .build()
        .unwrap();
    let mut direct = Histogram::<u64>::new(3).unwrap();
    let mut via = Histogram::<u64>::new(3).unwrap();
    let mut grpc =
        cloudgate::pb::aliyun::cloudsso::v20210515::cloud_sso_client::CloudSsoClient::new(
            channel.clone(),
        );
    // Warm-up, then interleave so both see the same machine conditions.
    for _ in 0..200 {
        grpc.update_user_status(request()).await.unwrap();
    }
    for _ in 0..N {
        let t = Instant::now();
        let prepared = vendors::prepare(&op, &params, &ali, &target, &Freshness::new()).unwrap();
        let mut req = client.post(&prepared.url);
        for (k, v) in &prepared.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let resp = req.send().await.unwrap();
        assert!(resp.status().is_success());
        let _ = resp.bytes().await.unwrap();
        direct.record(t.elapsed().as_nanos() as u64).unwrap();

        let t = Instant::now();
        grpc.update_user_status(request()).await.unwrap();
        via.record(t.elapsed().as_nanos() as u64).unwrap();
    }
    println!(
        "  direct signed HTTP call   p50 {:>8.1} µs   p99 {:>8.1} µs",
        pct(&direct, 0.5),
        pct(&direct, 0.99)
    );
    println!(
        "  through cloudgate         p50 {:>8.1} µs   p99 {:>8.1} µs",
        pct(&via, 0.5),
        pct(&via, 0.99)
    );
    println!(
        "  added by cloudgate        p50 {:>8.1} µs   p99 {:>8.1} µs",
        pct(&via, 0.5) - pct(&direct, 0.5),
        pct(&via, 0.99) - pct(&direct, 0.99)
    );

    // The bare gRPC hop: a health check touches none of cloudgate's code.
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    let mut hop = Histogram::<u64>::new(3).unwrap();
    for _ in 0..N {
        let t = Instant::now();
        health
            .check(tonic_health::pb::HealthCheckRequest {
                service: String::new(),
            })
            .await
            .unwrap();
        hop.record(t.elapsed().as_nanos() as u64).unwrap();
    }
    println!(
        "  bare gRPC hop (health)    p50 {:>8.1} µs   p99 {:>8.1} µs",
        pct(&hop, 0.5),
        pct(&hop, 0.99)
    );

    // cloudgate's own work per call, in process: validate + encode, sign,
    // read the reply, decode into the response type.
    let sample: serde_json::Value =
        serde_json::from_str(r#"{"RequestId":"EE598602-AC67-56EF-B7CC-2927C30AA0A8"}"#).unwrap();
    let iterations = 20_000u32;
    let wire_request = prost::Message::encode_to_vec(&request());
    // Per stage: the time of each step of one call, summed over the run.
    const STAGES: [&str; 7] = [
        "decode request bytes",
        "validate + encode params",
        "sign (ACS3) + build request",
        "read vendor reply (JSON, classify)",
        "decode reply into the output type",
        "encode reply bytes",
        "audit params (mutating calls)",
    ];
    let mut spent = [Duration::ZERO; 7];
    let mut lap = |i: usize, t: &mut Instant| {
        let now = Instant::now();
        spent[i] += now - *t;
        *t = now;
    };
    let t = Instant::now();
    for _ in 0..iterations {
        let mut at = Instant::now();
        // As the server's codec does: request bytes straight into the input type.
        let dynamic =
            prost_reflect::DynamicMessage::decode(op.input(), wire_request.as_slice()).unwrap();
        lap(0, &mut at);
        let params = cloudgate::translate::encode_request(&catalog, &op, &dynamic).unwrap();
        lap(1, &mut at);
        let prepared = vendors::prepare(&op, &params, &ali, &target, &Freshness::new()).unwrap();
        std::hint::black_box(&prepared);
        lap(2, &mut at);
        let body = serde_json::to_vec(&sample).unwrap();
        let reply = vendors::interpret(&catalog, &op, &target, 200, &http::HeaderMap::new(), &body)
            .unwrap();
        lap(3, &mut at);
        let msg =
            cloudgate::translate::decode_response(&catalog, &op.output(), &reply.payload).unwrap();
        lap(4, &mut at);
        // And the reply straight back to bytes.
        std::hint::black_box(prost::Message::encode_to_vec(&msg));
        lap(5, &mut at);
        std::hint::black_box(cloudgate::audit::audit_params(&catalog, &op, &dynamic));
        lap(6, &mut at);
    }
    println!(
        "  cloudgate's own work      {:>8.1} µs per call (decode request, validate, encode, sign ACS3, parse reply, decode, encode reply, audit params; in process)",
        t.elapsed().as_secs_f64() * 1e6 / f64::from(iterations)
    );
    for (name, d) in STAGES.iter().zip(spent) {
        println!(
            "    {name:<38} {:>6.2} µs",
            d.as_secs_f64() * 1e6 / f64::from(iterations)
        );
    }

    // Throughput at saturation: 64 concurrent callers for 3 s, limits lifted.
    let run = Duration::from_secs(3);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..64 {
        let mut c =
            cloudgate::pb::aliyun::cloudsso::v20210515::cloud_sso_client::CloudSsoClient::new(
                channel.clone(),
            );
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while started.elapsed() < run {
                if c.update_user_status(request()).await.is_ok() {
                    n += 1;
                }
            }
            n
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    println!("  throughput at saturation  {:>8.0} calls/s (64 callers, one connection, gateway + emulator on 2 cores)", total as f64 / started.elapsed().as_secs_f64());

    // A refused call, end to end: DescribeUserStatus (10/s) with max_wait 0.
    let mut refused = Histogram::<u64>::new(3).unwrap();
    let mut s =
        cloudgate::pb::aliyun::sddp::v20190103::sddp_client::SddpClient::new(channel.clone());
    let _ = s
        .describe_user_status(sddp::DescribeUserStatusRequest::default())
        .await;
    for _ in 0..N {
        let t = Instant::now();
        let r = s
            .describe_user_status(sddp::DescribeUserStatusRequest::default())
            .await;
        if r.is_err() {
            refused.record(t.elapsed().as_nanos() as u64).unwrap();
        }
    }
    println!(
        "  refused call (gRPC round trip) p50 {:>6.1} µs   p99 {:>8.1} µs   ({} refused)",
        pct(&refused, 0.5),
        pct(&refused, 0.99),
        refused.len()
    );

    // Memory with 10,000 calls waiting in the limiter.
    let config = Config::from_toml(
        "[ratelimit]\nmax_wait_ms = 3600000\nmax_waiting = 20000\n[ratelimit.operations.\"CloudSSO.UpdateUserStatus\"]\nqps = 5\n",
        "bench",
        &catalog,
    )
    .unwrap();
    let limiter = Arc::new(RateLimiter::new(Arc::new(config)).unwrap());
    let call = VendorCall {
        op: op.clone(),
        params: Arc::new(WireParams::Query(Default::default())),
        credential: Arc::new(ali.clone()),
        profile: "default".into(),
        caller: None,
        target: Arc::new(target.clone()),
        deadline: None,
        attempts: Arc::new(AtomicU32::new(0)),
    };
    let key = limiter.key_for(&call);
    limiter.acquire(&key, None).await.unwrap();
    let before = rss_kib();
    let mut waiting = Vec::new();
    for _ in 0..10_000 {
        let (l, k) = (limiter.clone(), key.clone());
        waiting.push(tokio::spawn(async move { l.acquire(&k, None).await }));
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while key.waiting.load(std::sync::atomic::Ordering::Relaxed) < 10_000 {
        assert!(Instant::now() < deadline, "calls did not queue");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let after = rss_kib();
    println!(
        "  10,000 calls waiting in the limiter: RSS +{} KiB ({:.0} bytes per waiting call)",
        after.saturating_sub(before),
        after.saturating_sub(before) as f64 * 1024.0 / 10_000.0
    );
    for w in waiting {
        w.abort();
    }
    emu.shutdown().await;
}
