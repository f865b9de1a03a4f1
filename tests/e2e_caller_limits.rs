//! Per-caller rate limits end to end over loopback: a noisy caller capped
//! below the shared (operation, account) budget cannot crowd a quiet caller
//! out of it; without the cap it does. Callers authenticate with bearer
//! tokens over plaintext loopback (tokens need no TLS here). The cap also
//! holds across two replicas sharing a real redis-server.

mod support;

use std::time::{Duration, Instant};

use cloudgate::pb::aliyun::sddp::v20190103 as sddp;
use cloudgate::pb::aliyun::sddp::v20190103::sddp_client::SddpClient;
use sha2::{Digest, Sha256};
use support::redis::RedisServer;
use support::{spawn_emulator, with_meta, GatewayProc, Harness, Options};
use tonic::transport::Channel;
use tonic::Code;
use tonic_types::StatusExt;

const DESCRIBE: &str = "DescribeUserStatus";
const SHARED_KEY: &str = "Sddp.DescribeUserStatus@profile:default";
const NOISY_KEY: &str = "Sddp.DescribeUserStatus@profile:default#noisy";
const NOISY_TOKEN: &str = "noisy-token-0123456789abcdef";
const QUIET_TOKEN: &str = "quiet-token-0123456789abcdef";
/// The noisy caller's own rate when capped (the shared, documented one is 10/s).
const NOISY_QPS: f64 = 5.0;
/// How long the load runs.
const RUN_FOR: Duration = Duration::from_secs(3);
/// Concurrent noisy tasks, each at 5 calls/s.
const NOISY_TASKS: usize = 12;

/// Two token callers of DescribeUserStatus; "noisy" capped at `NOISY_QPS` when `capped`.
fn callers_toml(capped: bool) -> String {
    let hash = |t: &str| hex::encode(Sha256::digest(t.as_bytes()));
    let cap = if capped {
        format!(
            "rate_limits = {{ \"aliyun.sddp.v20190103.Sddp/DescribeUserStatus\" = {NOISY_QPS} }}"
        )
    } else {
        String::new()
    };
    format!(
        r#"
[auth.tokens.noisy]
sha256 = "{noisy}"

[auth.tokens.quiet]
sha256 = "{quiet}"

[[auth.callers]]
name = "noisy"
token = "noisy"
methods = ["aliyun.sddp.v20190103.Sddp/*"]
{cap}

[[auth.callers]]
name = "quiet"
token = "quiet"
methods = ["aliyun.sddp.v20190103.Sddp/DescribeUserStatus"]
"#,
        noisy = hash(NOISY_TOKEN),
        quiet = hash(QUIET_TOKEN),
    )
}

fn describe(token: &str) -> tonic::Request<sddp::DescribeUserStatusRequest> {
    let bearer = format!("Bearer {token}");
    with_meta(
        sddp::DescribeUserStatusRequest::default(),
        &[("authorization", &bearer)],
    )
}

/// What the noisy callers saw.
#[derive(Debug, Default)]
struct Noisy {
    ok: u32,
    /// Refusals naming the noisy caller's own key (QuotaFailure and ErrorInfo).
    refused_by_own_key: u32,
    /// Refusals naming the shared key.
    refused_by_shared_key: u32,
}

/// `NOISY_TASKS` noisy callers on `channel`, each at 5 calls/s, until `RUN_FOR` after `started`.
fn flood(channel: &Channel, started: Instant) -> Vec<tokio::task::JoinHandle<Noisy>> {
    (0..NOISY_TASKS)
        .map(|_| {
            let mut client = SddpClient::new(channel.clone());
            tokio::spawn(async move {
                let mut seen = Noisy::default();
                let mut next = Instant::now();
                while started.elapsed() < RUN_FOR {
                    match client.describe_user_status(describe(NOISY_TOKEN)).await {
                        Ok(_) => seen.ok += 1,
                        Err(st) => match refused_key(&st).as_str() {
                            NOISY_KEY => seen.refused_by_own_key += 1,
                            SHARED_KEY => seen.refused_by_shared_key += 1,
                            other => panic!("refused by {other:?}: {st:?}"),
                        },
                    }
                    next += Duration::from_millis(200);
                    tokio::time::sleep_until(next.into()).await;
                }
                seen
            })
        })
        .collect()
}

/// The limit key a RESOURCE_EXHAUSTED refusal names (QuotaFailure subject,
/// checked equal to ErrorInfo's `limit`).
fn refused_key(st: &tonic::Status) -> String {
    assert_eq!(st.code(), Code::ResourceExhausted, "{st:?}");
    let d = st.get_error_details();
    assert!(d.retry_info().is_some(), "{st:?}");
    let subject = d.quota_failure().unwrap().violations[0].subject.clone();
    let info = d.error_info().unwrap();
    assert_eq!(info.reason, "RATE_LIMITED");
    assert_eq!(info.metadata["limit"], subject);
    subject
}

/// What the quiet caller saw: call latencies of admitted calls, refusals.
#[derive(Debug, Default)]
struct Quiet {
    waits: Vec<Duration>,
    refused: u32,
}

impl Quiet {
    fn max(&self) -> Duration {
        self.waits.iter().max().copied().unwrap_or_default()
    }
    fn mean(&self) -> Duration {
        self.waits.iter().sum::<Duration>() / (self.waits.len().max(1) as u32)
    }
}

/// The quiet caller: one call every 333 ms (3/s), until `RUN_FOR` after `started`.
async fn steady(channel: Channel, started: Instant) -> Quiet {
    let mut client = SddpClient::new(channel);
    let mut seen = Quiet::default();
    // Let the flood build its queue first.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut next = Instant::now();
    while started.elapsed() < RUN_FOR {
        let t = Instant::now();
        match client.describe_user_status(describe(QUIET_TOKEN)).await {
            Ok(_) => seen.waits.push(t.elapsed()),
            Err(st) => {
                assert_eq!(refused_key(&st), SHARED_KEY);
                seen.refused += 1;
            }
        }
        next += Duration::from_millis(333);
        tokio::time::sleep_until(next.into()).await;
    }
    seen
}

/// Runs the noisy flood and the quiet caller together against `h`.
async fn contend(h: &Harness) -> (Noisy, Quiet, f64) {
    let started = Instant::now();
    let noisy = flood(&h.channel, started);
    let quiet = steady(h.channel.clone(), started).await;
    let mut total = Noisy::default();
    for t in noisy {
        let n = t.await.unwrap();
        total.ok += n.ok;
        total.refused_by_own_key += n.refused_by_own_key;
        total.refused_by_shared_key += n.refused_by_shared_key;
    }
    (total, quiet, started.elapsed().as_secs_f64())
}

async fn harness(capped: bool) -> Harness {
    Harness::with(Options {
        extra_toml: callers_toml(capped),
        ..Default::default()
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capped_noisy_caller_leaves_the_shared_budget_to_the_quiet_one() {
    let h = harness(true).await;
    let (noisy, quiet, elapsed) = contend(&h).await;
    let rate = f64::from(noisy.ok) / elapsed;
    eprintln!(
        "capped: noisy {noisy:?} in {elapsed:.2}s = {rate:.2}/s admitted; quiet {} OK, {} refused, \
         wait mean {:?} max {:?}",
        quiet.waits.len(),
        quiet.refused,
        quiet.mean(),
        quiet.max()
    );
    // The quiet caller gets every call through, promptly.
    assert_eq!(quiet.refused, 0, "the quiet caller was refused: {quiet:?}");
    assert!(
        quiet.waits.len() >= 6,
        "quiet made too few calls: {quiet:?}"
    );
    assert!(
        quiet.max() < Duration::from_millis(600),
        "the quiet caller waited too long: {quiet:?}"
    );
    // The noisy caller gets about its own rate and no more; its excess is
    // refused by its own key.
    assert!(
        rate <= NOISY_QPS * 1.15 && noisy.ok as f64 <= NOISY_QPS * elapsed + 2.0,
        "noisy admitted {} in {elapsed:.2}s = {rate:.2}/s",
        noisy.ok
    );
    assert!(rate >= NOISY_QPS * 0.6, "noisy starved: {rate:.2}/s");
    assert!(
        noisy.refused_by_own_key > 50 && noisy.refused_by_own_key > 5 * noisy.refused_by_shared_key,
        "{noisy:?}"
    );
    // The vendor never sees more than its documented 10/s.
    let a = &h.emulator.stats().actions[DESCRIBE];
    eprintln!(
        "vendor: received {}, max in any 1 s window {}, throttled {}",
        a.received, a.max_in_any_1s_window, a.throttled
    );
    assert_eq!(a.throttled, 0, "the vendor throttled: {a:?}");
    assert!(a.max_in_any_1s_window <= 10, "vendor saw {a:?}");
    assert_eq!(a.received, u64::from(noisy.ok) + quiet.waits.len() as u64);
    // The gateway's own counts agree: the caller key admitted what the noisy
    // caller got, and the quiet caller has no key of its own.
    let stats = h.gateway.limiter().stats();
    let own = stats.iter().find(|k| k.key == NOISY_KEY).unwrap();
    assert_eq!(own.qps, NOISY_QPS);
    assert_eq!(
        own.admitted,
        u64::from(noisy.ok + noisy.refused_by_shared_key)
    );
    assert_eq!(own.rejected, u64::from(noisy.refused_by_own_key));
    assert!(
        stats.iter().all(|k| !k.key.ends_with("#quiet")),
        "{stats:?}"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_cap_the_noisy_caller_crowds_the_quiet_one_out() {
    let h = harness(false).await;
    let (noisy, quiet, elapsed) = contend(&h).await;
    eprintln!(
        "uncapped: noisy {noisy:?} in {elapsed:.2}s = {:.2}/s admitted; quiet {} OK, {} refused, \
         wait mean {:?} max {:?}",
        f64::from(noisy.ok) / elapsed,
        quiet.waits.len(),
        quiet.refused,
        quiet.mean(),
        quiet.max()
    );
    // The flood keeps about a second's worth of calls queued on the shared
    // key: the quiet caller is refused or waits most of that second.
    assert!(
        quiet.refused > 0 || quiet.mean() > Duration::from_millis(400),
        "the quiet caller was not crowded out: {quiet:?}"
    );
    assert!(
        f64::from(noisy.ok) / elapsed > 7.0,
        "noisy took less than most of the budget: {noisy:?}"
    );
    assert_eq!(noisy.refused_by_own_key, 0);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cap_holds_across_replicas_sharing_redis() {
    let redis = RedisServer::start();
    let emulator = spawn_emulator().await;
    let toml = format!(
        "[ratelimit]\nredis = \"{}\"\nreplicas = 2\n{}",
        redis.url(),
        callers_toml(true)
    );
    let replicas = [
        GatewayProc::start(&emulator.base_url(), &toml).await,
        GatewayProc::start(&emulator.base_url(), &toml).await,
    ];
    let started = Instant::now();
    let tasks: Vec<_> = replicas
        .iter()
        .flat_map(|r| flood(&r.channel, started))
        .collect();
    let mut ok = 0;
    for t in tasks {
        ok += t.await.unwrap().ok;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let rate = f64::from(ok) / elapsed;
    eprintln!("two replicas: noisy admitted {ok} in {elapsed:.2}s = {rate:.2}/s");
    // Each replica alone would admit 5/s (10/s together).
    assert!(
        rate <= NOISY_QPS * 1.15 && f64::from(ok) <= NOISY_QPS * elapsed + 2.0,
        "noisy admitted {ok} in {elapsed:.2}s = {rate:.2}/s across two replicas"
    );
    assert!(rate >= NOISY_QPS * 0.6, "noisy starved: {rate:.2}/s");
    for r in &replicas {
        let limiter = r.gateway.limiter();
        assert_eq!(limiter.redis_healthy(), Some(true));
        let stats = limiter.stats();
        let own = stats.iter().find(|k| k.key == NOISY_KEY).unwrap();
        assert!(own.admitted > 0 && own.fallback_admissions == 0, "{own:?}");
    }
    let a = &emulator.stats().actions[DESCRIBE];
    assert_eq!(a.received, u64::from(ok));
    for r in replicas {
        r.stop().await;
    }
    emulator.shutdown().await;
}
