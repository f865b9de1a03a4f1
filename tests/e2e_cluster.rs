//! Cluster mode: three gateway replicas share one GCRA state in a real
//! redis-server, so together they keep the vendor within its documented rate;
//! when Redis dies, each replica falls back to limit/replicas.

mod support;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cloudgate::pb::aliyun::sddp::v20190103 as sddp;
use support::redis::RedisServer;
use support::{spawn_emulator, GatewayProc};
use tonic::Code;

const DESCRIBE: &str = "DescribeUserStatus";

struct Load {
    ok: Arc<AtomicU32>,
    ok_after_mark: Arc<AtomicU32>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// `callers` callers per replica, each at 5 calls/s, for `run_for`; OKs
/// after `mark` are counted separately.
fn drive(replicas: &[GatewayProc], callers: usize, run_for: Duration, mark: Duration) -> Load {
    let ok = Arc::new(AtomicU32::new(0));
    let ok_after_mark = Arc::new(AtomicU32::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for r in replicas {
        for _ in 0..callers {
            let mut client = r.sddp();
            let (ok, after) = (ok.clone(), ok_after_mark.clone());
            tasks.push(tokio::spawn(async move {
                let mut next = Instant::now();
                while started.elapsed() < run_for {
                    match client
                        .describe_user_status(sddp::DescribeUserStatusRequest::default())
                        .await
                    {
                        Ok(_) => {
                            ok.fetch_add(1, Ordering::Relaxed);
                            if started.elapsed() > mark {
                                after.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        Err(st) => assert_eq!(st.code(), Code::ResourceExhausted, "{st:?}"),
                    }
                    next += Duration::from_millis(200);
                    tokio::time::sleep_until(next.into()).await;
                }
            }));
        }
    }
    Load {
        ok,
        ok_after_mark,
        tasks,
    }
}

async fn replicas(emulator_base: &str, redis: &RedisServer) -> Vec<GatewayProc> {
    let toml = format!("[ratelimit]\nredis = \"{}\"\nreplicas = 3\n", redis.url());
    let mut out = Vec::new();
    for _ in 0..3 {
        out.push(GatewayProc::start(emulator_base, &toml).await);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_together_keep_the_vendor_within_its_limit() {
    let redis = RedisServer::start();
    let emulator = spawn_emulator().await;
    let gws = replicas(&emulator.base_url(), &redis).await;
    let run_for = Duration::from_secs(3);
    let started = Instant::now();
    // 3 replicas x 10 callers x 5/s = 150/s offered against 10/s.
    let load = drive(&gws, 10, run_for, run_for);
    for t in load.tasks {
        t.await.unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let ok = load.ok.load(Ordering::Relaxed);
    let a = &emulator.stats().actions[DESCRIBE];
    assert_eq!(a.throttled, 0, "vendor throttled: {a:?}");
    assert!(
        a.max_in_any_1s_window <= 11,
        "vendor saw {} in one second",
        a.max_in_any_1s_window
    );
    let rate = f64::from(ok) / elapsed;
    assert!(
        rate > 8.0 && rate <= 10.5,
        "{ok} OK in {elapsed:.2}s = {rate:.2}/s"
    );
    for g in &gws {
        assert_eq!(g.gateway.limiter().redis_healthy(), Some(true));
        let admitted: u64 = g.gateway.limiter().stats().iter().map(|k| k.admitted).sum();
        assert!(admitted > 0, "a replica admitted nothing");
    }
    for g in gws {
        g.stop().await;
    }
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_mid_run_falls_back_to_a_local_share_of_the_limit() {
    let mut redis = RedisServer::start();
    let emulator = spawn_emulator().await;
    let gws = replicas(&emulator.base_url(), &redis).await;
    let run_for = Duration::from_secs(4);
    let kill_at = Duration::from_millis(1500);
    let load = drive(&gws, 10, run_for, kill_at + Duration::from_millis(500));
    tokio::time::sleep(kill_at).await;
    redis.kill();
    for t in load.tasks {
        t.await.unwrap();
    }
    let a = &emulator.stats().actions[DESCRIBE];
    assert_eq!(a.throttled, 0, "vendor throttled: {a:?}");
    assert!(
        a.max_in_any_1s_window <= 11,
        "vendor saw {} in one second",
        a.max_in_any_1s_window
    );
    // Calls kept flowing after the outage, at about limit/3 per replica.
    let after = load.ok_after_mark.load(Ordering::Relaxed);
    assert!(after >= 10, "only {after} calls succeeded after Redis died");
    for g in &gws {
        assert_eq!(g.gateway.limiter().redis_healthy(), Some(false));
        let fallback: u64 = g
            .gateway
            .limiter()
            .stats()
            .iter()
            .map(|k| k.fallback_admissions)
            .sum();
        assert!(fallback > 0, "a replica never used its fallback share");
    }
    for g in gws {
        g.stop().await;
    }
    emulator.shutdown().await;
}
