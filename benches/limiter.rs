//! Limiter cost per admitted and per refused call, local and (when
//! `redis-server` is installed) cluster mode over a real Redis on loopback.
//! Prints figures; run with `cargo bench --bench limiter`.

use std::process::{Child, Command, Stdio};
use std::sync::atomic::AtomicU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cloudgate::catalog::{Catalog, Vendor};
use cloudgate::config::Config;
use cloudgate::credentials::Credential;
use cloudgate::forward::VendorCall;
use cloudgate::ratelimit::RateLimiter;
use cloudgate::translate::WireParams;
use cloudgate::vendors::Target;

fn call(catalog: &Catalog) -> VendorCall {
    let op = catalog
        .by_action(Vendor::Alibaba, "UpdateUserStatus")
        .unwrap()
        .clone();
    VendorCall {
        op,
        params: Arc::new(WireParams::Query(Default::default())),
        credential: Arc::new(Credential::new("id".into(), "secret".into(), None, "bench").unwrap()),
        profile: "default".into(),
        caller: None,
        target: Arc::new(Target::new(
            "http://127.0.0.1:1/".parse().unwrap(),
            "cn-shanghai".into(),
            cloudgate::vendors::Signer::Acs3,
        )),
        deadline: None,
        attempts: Arc::new(AtomicU32::new(0)),
    }
}

fn limiter(catalog: &Catalog, toml: &str) -> RateLimiter {
    let config = Config::from_toml(toml, "bench", catalog).unwrap();
    RateLimiter::new(Arc::new(config)).unwrap()
}

async fn measure(label: &str, limiter: &RateLimiter, call: &VendorCall, n: u32, expect_ok: bool) {
    let key = limiter.key_for(call);
    // Warm-up (connections, first key creation).
    let _ = limiter.acquire(&key, None).await;
    let started = Instant::now();
    let mut ok = 0u32;
    for _ in 0..n {
        if limiter.acquire(&key, None).await.is_ok() {
            ok += 1;
        }
    }
    let per_call = started.elapsed() / n;
    let share = if expect_ok { ok } else { n - ok };
    println!(
        "{label:<40} {:>9.2} µs/call   ({share} of {n} {})",
        per_call.as_secs_f64() * 1e6,
        if expect_ok { "admitted" } else { "refused" }
    );
}

fn start_redis() -> Option<(Child, u16)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if started.elapsed() > Duration::from_secs(5) {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Some((child, port))
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let catalog = Catalog::load().unwrap();
    let c = call(&catalog);
    let admit_all = "[ratelimit]\nsafety_margin = 0.0\n[ratelimit.operations.\"CloudSSO.UpdateUserStatus\"]\nqps = 100000\nburst = 4000000000\n";
    let refuse_all =
        "[ratelimit]\nmax_wait_ms = 0\n[ratelimit.operations.\"CloudSSO.UpdateUserStatus\"]\nqps = 0.001\n";
    println!(
        "limiter cost (single task, {} build)",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    measure(
        "local, admitted",
        &limiter(&catalog, admit_all),
        &c,
        200_000,
        true,
    )
    .await;
    measure(
        "local, refused (over the rate)",
        &limiter(&catalog, refuse_all),
        &c,
        200_000,
        false,
    )
    .await;
    match start_redis() {
        Some((mut child, port)) => {
            let redis = format!("redis = \"redis://127.0.0.1:{port}/\"\n");
            let admit = admit_all.replacen("[ratelimit]\n", &format!("[ratelimit]\n{redis}"), 1);
            let refuse = refuse_all.replacen("[ratelimit]\n", &format!("[ratelimit]\n{redis}"), 1);
            measure(
                "redis, admitted (1 Lua round trip)",
                &limiter(&catalog, &admit),
                &c,
                20_000,
                true,
            )
            .await;
            measure(
                "redis, refused (1 Lua round trip)",
                &limiter(&catalog, &refuse),
                &c,
                20_000,
                false,
            )
            .await;
            let _ = child.kill();
            let _ = child.wait();
        }
        None => println!("redis-server not available: cluster-mode figures skipped"),
    }
}
