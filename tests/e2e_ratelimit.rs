//! Rate limiting and retries end to end over loopback, with the emulator
//! enforcing the vendors' documented rates and injecting faults.

mod support;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use cloudgate::emulator::{Fault, FaultKind};
use cloudgate::pb::aliyun::bssopenapi::v20171214 as bss;
use cloudgate::pb::aliyun::sddp::v20190103 as sddp;
use support::{with_meta, Harness, Options};
use tonic::Code;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;
use tonic_types::StatusExt;

const DESCRIBE: &str = "DescribeUserStatus";

async fn harness(toml: &str) -> Harness {
    Harness::with(Options {
        extra_toml: toml.to_string(),
        ..Default::default()
    })
    .await
}

fn describe() -> sddp::DescribeUserStatusRequest {
    sddp::DescribeUserStatusRequest::default()
}

fn srus() -> bss::SetResellerUserStatusRequest {
    bss::SetResellerUserStatusRequest {
        owner_id: "1234567890123456".into(),
        status: "Thaw".into(),
        business_type: "FREEZE".into(),
        stop_mode: None,
    }
}

fn fault(action: &str, kind: FaultKind, times: u32) -> Fault {
    Fault {
        action: action.into(),
        kind,
        times,
    }
}

fn error(code: &str) -> FaultKind {
    FaultKind::Error {
        code: code.into(),
        http_status: None,
        message: None,
    }
}

#[tokio::test]
async fn overload_is_paced_to_the_documented_rate_and_the_vendor_never_throttles() {
    // 10x the documented 10/s for 3 s, from 20 concurrent callers.
    let h = harness("").await;
    let started = Instant::now();
    let run_for = Duration::from_secs(3);
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let mut client = h.sddp();
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut limited) = (0u32, 0u32);
            let mut next = Instant::now();
            while started.elapsed() < run_for {
                match client.describe_user_status(describe()).await {
                    Ok(_) => ok += 1,
                    Err(st) => {
                        assert_eq!(st.code(), Code::ResourceExhausted, "{st:?}");
                        let d = st.get_error_details();
                        assert!(d.retry_info().is_some() && d.quota_failure().is_some());
                        limited += 1;
                    }
                }
                next += Duration::from_millis(200); // 5/s per caller, 100/s in all
                tokio::time::sleep_until(next.into()).await;
            }
            (ok, limited)
        }));
    }
    // Health checks stay prompt under the load.
    let mut health = HealthClient::new(h.channel.clone());
    for _ in 0..5 {
        let t = Instant::now();
        health
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await
            .unwrap();
        assert!(
            t.elapsed() < Duration::from_millis(200),
            "health took {:?}",
            t.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let (mut ok, mut limited) = (0, 0);
    for t in tasks {
        let (o, l) = t.await.unwrap();
        ok += o;
        limited += l;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let stats = h.emulator.stats();
    let a = &stats.actions[DESCRIBE];
    assert_eq!(a.throttled, 0, "the vendor throttled: {a:?}");
    assert!(
        a.max_in_any_1s_window <= 11,
        "vendor saw {} in one second",
        a.max_in_any_1s_window
    );
    let rate = f64::from(ok) / elapsed;
    assert!(
        rate > 8.0 && rate <= 10.5,
        "admitted {ok} in {elapsed:.2}s = {rate:.2}/s"
    );
    assert!(limited > 100, "only {limited} calls were refused");
    assert_eq!(a.received, u64::from(ok));
    h.stop().await;
}

#[tokio::test]
async fn a_call_that_cannot_get_a_turn_is_refused_at_once_with_retry_info() {
    let h = harness("[ratelimit]\nmax_wait_ms = 20\n").await;
    h.sddp().describe_user_status(describe()).await.unwrap();
    let t = Instant::now();
    let st = h.sddp().describe_user_status(describe()).await.unwrap_err();
    assert!(
        t.elapsed() < Duration::from_millis(50),
        "refusal took {:?}",
        t.elapsed()
    );
    assert_eq!(st.code(), Code::ResourceExhausted);
    let d = st.get_error_details();
    let retry = d.retry_info().unwrap().retry_delay.unwrap();
    assert!(
        retry > Duration::from_millis(20) && retry <= Duration::from_millis(110),
        "{retry:?}"
    );
    let quota = d.quota_failure().unwrap();
    assert_eq!(
        quota.violations[0].subject,
        "Sddp.DescribeUserStatus@profile:default"
    );
    assert_eq!(d.error_info().unwrap().reason, "RATE_LIMITED");
    assert_eq!(
        h.emulator.calls().len(),
        1,
        "a refused call reached the vendor"
    );
    h.stop().await;
}

#[tokio::test]
async fn waiting_never_outlives_the_callers_deadline() {
    let h = harness(
        "[ratelimit]\nmax_wait_ms = 5000\n[ratelimit.operations.DescribeUserStatus]\nqps = 1\n",
    )
    .await;
    h.sddp().describe_user_status(describe()).await.unwrap();
    let mut req = tonic::Request::new(describe());
    req.set_timeout(Duration::from_millis(300));
    let t = Instant::now();
    let st = h.sddp().describe_user_status(req).await.unwrap_err();
    assert!(
        t.elapsed() < Duration::from_millis(300),
        "took {:?}",
        t.elapsed()
    );
    assert_eq!(st.code(), Code::ResourceExhausted, "{st:?}");
    // With a deadline that allows the wait, the call waits its turn (about 1 s).
    let mut req = tonic::Request::new(describe());
    req.set_timeout(Duration::from_secs(3));
    let t = Instant::now();
    h.sddp().describe_user_status(req).await.unwrap();
    assert!(
        t.elapsed() > Duration::from_millis(500),
        "did not wait: {:?}",
        t.elapsed()
    );
    h.stop().await;
}

#[tokio::test]
async fn transient_failures_are_retried_with_fresh_signatures() {
    let h = harness("[retry]\nbase_delay_ms = 10\nmax_delay_ms = 50\n").await;
    h.emulator
        .inject(fault(DESCRIBE, FaultKind::HttpStatus { status: 503 }, 2));
    let resp = h
        .sddp()
        .describe_user_status(describe())
        .await
        .unwrap()
        .into_inner();
    assert!(resp.user_status.is_some());
    let calls = h.emulator.calls();
    assert_eq!(calls.len(), 3);
    let nonces: HashSet<_> = calls.iter().map(|c| c.nonce.clone().unwrap()).collect();
    assert_eq!(nonces.len(), 3, "a retry reused a nonce");
    assert_eq!(calls[2].outcome, "ok");
    // A mutating call throttled by the vendor was not executed: retried too.
    h.emulator
        .inject(fault("SetResellerUserStatus", error("Throttling.User"), 1));
    h.bss().set_reseller_user_status(srus()).await.unwrap();
    assert_eq!(h.emulator.calls().len(), 5);
    h.stop().await;
}

#[tokio::test]
async fn calls_that_may_have_taken_effect_are_never_repeated() {
    let h = harness("[retry]\nbase_delay_ms = 10\nmax_delay_ms = 50\n").await;
    for kind in [
        FaultKind::Drop,
        error("InternalError"),
        FaultKind::HttpStatus { status: 500 },
    ] {
        h.emulator.reset();
        h.emulator
            .inject(fault("SetResellerUserStatus", kind.clone(), 1));
        let st = h.bss().set_reseller_user_status(srus()).await.unwrap_err();
        assert_eq!(st.code(), Code::Unavailable, "{kind:?}: {st:?}");
        assert_eq!(
            st.get_error_details().error_info().unwrap().metadata["outcome"],
            "unknown",
            "{kind:?}"
        );
        assert_eq!(h.emulator.calls().len(), 1, "{kind:?} was repeated");
    }
    // The same ambiguous failure on a read-only operation is retried.
    h.emulator.reset();
    h.emulator.inject(fault(DESCRIBE, FaultKind::Drop, 1));
    h.sddp().describe_user_status(describe()).await.unwrap();
    assert_eq!(h.emulator.calls().len(), 2);
    h.stop().await;
}

#[tokio::test]
async fn the_retry_budget_stops_an_outage_from_being_amplified() {
    let h = harness(
        "[retry]\nmax_attempts = 3\nbase_delay_ms = 1\nmax_delay_ms = 5\nbudget_ratio = 0.2\nbudget_min_per_sec = 0\n\
         [ratelimit.operations.DescribeUserStatus]\nburst = 1\n",
    )
    .await;
    h.emulator
        .inject(fault(DESCRIBE, FaultKind::HttpStatus { status: 503 }, 0));
    let calls = 20;
    for _ in 0..calls {
        let st = h.sddp().describe_user_status(describe()).await.unwrap_err();
        assert_eq!(st.code(), Code::Unavailable);
    }
    let sent = h.emulator.calls().len();
    // Without a budget: 3 attempts each = 60. With 20%: at most about 4 retries.
    assert!(
        sent >= calls && sent <= calls + 5,
        "vendor saw {sent} attempts for {calls} calls"
    );
    h.stop().await;
}

#[tokio::test]
async fn vendor_throttling_slows_the_key_down() {
    let h = harness("[retry]\nmax_attempts = 1\n").await;
    h.emulator
        .inject(fault(DESCRIBE, error("Throttling.User"), 1));
    let st = h.sddp().describe_user_status(describe()).await.unwrap_err();
    assert_eq!(st.code(), Code::ResourceExhausted);
    let t = Instant::now();
    h.sddp().describe_user_status(describe()).await.unwrap();
    assert!(
        t.elapsed() >= Duration::from_millis(150),
        "no back-off: {:?}",
        t.elapsed()
    );
    let stats = h.gateway.limiter().stats();
    let k = stats
        .iter()
        .find(|k| k.key == "Sddp.DescribeUserStatus@profile:default")
        .unwrap();
    assert_eq!(k.vendor_throttled, 1);
    h.stop().await;
}

#[tokio::test]
async fn shadow_limits_count_but_refuse_nothing() {
    let h = harness("[ratelimit.operations.DescribeUserStatus]\nqps = 2\nshadow = true\n").await;
    for _ in 0..6 {
        h.sddp().describe_user_status(describe()).await.unwrap();
    }
    let stats = h.gateway.limiter().stats();
    let k = stats
        .iter()
        .find(|k| k.key.starts_with(&format!("Sddp.{DESCRIBE}@")))
        .unwrap();
    assert!(k.shadow);
    assert_eq!(k.admitted, 6);
    assert!(k.shadow_rejected >= 4, "{k:?}");
    assert_eq!(k.rejected, 0);
    h.stop().await;
}

#[tokio::test]
async fn profiles_of_one_account_share_its_limit() {
    let toml = "[ratelimit]\nmax_wait_ms = 20\n\
        [profiles.a.alibaba]\naccess_key_id = \"x\"\naccess_key_secret = \"y\"\naccount_id = \"1234\"\n\
        [profiles.b.alibaba]\naccess_key_id = \"x\"\naccess_key_secret = \"y\"\naccount_id = \"1234\"\n\
        [profiles.c.alibaba]\naccess_key_id = \"x\"\naccess_key_secret = \"y\"\n";
    let h = harness(toml).await;
    h.sddp()
        .describe_user_status(with_meta(describe(), &[("x-cloud-profile", "a")]))
        .await
        .unwrap();
    let st = h
        .sddp()
        .describe_user_status(with_meta(describe(), &[("x-cloud-profile", "b")]))
        .await
        .unwrap_err();
    assert_eq!(st.code(), Code::ResourceExhausted);
    assert_eq!(
        st.get_error_details().quota_failure().unwrap().violations[0].subject,
        "Sddp.DescribeUserStatus@account:1234"
    );
    // Another account has its own budget.
    h.sddp()
        .describe_user_status(with_meta(describe(), &[("x-cloud-profile", "c")]))
        .await
        .unwrap();
    h.stop().await;
}
