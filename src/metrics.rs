//! Prometheus metrics: names, descriptions and the process-wide recorder.
//! Rendered by the admin HTTP server (`[admin] listen`, `GET /metrics`).

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// gRPC calls finished, by `method` and gRPC `code`.
pub const CALLS: &str = "cloudgate_calls_total";
/// gRPC call latency, by `method`.
pub const CALL_DURATION: &str = "cloudgate_call_duration_seconds";
/// gRPC calls in progress, by `method`.
pub const CALLS_IN_FLIGHT: &str = "cloudgate_calls_in_flight";
/// Vendor HTTP attempts, by `action` and `result` (`ok`, the vendor error code, `transport_error`, `bad_response`).
pub const VENDOR_ATTEMPTS: &str = "cloudgate_vendor_attempts_total";
/// Vendor error replies, by `action` and vendor `code`.
pub const VENDOR_ERRORS: &str = "cloudgate_vendor_errors_total";
/// Vendor round-trip latency, by `action`.
pub const VENDOR_DURATION: &str = "cloudgate_vendor_request_duration_seconds";
/// Retries scheduled, by `action`.
pub const RETRIES: &str = "cloudgate_retries_total";
/// Retries refused because the retry budget was spent, by `action`.
pub const RETRY_BUDGET_EXHAUSTED: &str = "cloudgate_retry_budget_exhausted_total";
/// Calls admitted by the rate limiter, by `limit`.
pub const RL_ADMITTED: &str = "cloudgate_ratelimit_admitted_total";
/// Calls refused by the rate limiter, by `limit`.
pub const RL_REJECTED: &str = "cloudgate_ratelimit_rejected_total";
/// Calls shadow mode would have refused, by `limit`.
pub const RL_SHADOW_REJECTED: &str = "cloudgate_ratelimit_shadow_rejected_total";
/// Time admitted calls waited for their turn, by `limit`.
pub const RL_WAIT: &str = "cloudgate_ratelimit_wait_seconds";
/// Calls waiting for their turn, by `limit`.
pub const RL_WAITING: &str = "cloudgate_ratelimit_waiting";
/// Vendor throttling replies seen by the limiter, by `limit`.
pub const RL_VENDOR_THROTTLED: &str = "cloudgate_ratelimit_vendor_throttled_total";
/// Admissions decided by the local fallback share while Redis was unreachable, by `limit`.
pub const RL_FALLBACK: &str = "cloudgate_ratelimit_fallback_admissions_total";
/// 1 while Redis (cluster mode) answers, 0 while the fallback is in use.
pub const RL_REDIS_UP: &str = "cloudgate_ratelimit_redis_up";
/// Client connections open on the gRPC port.
pub const CONNECTIONS_OPEN: &str = "cloudgate_connections_open";
/// Client connections closed by the server's limits, by `reason`.
pub const CONNECTIONS_CLOSED: &str = "cloudgate_connections_closed_total";
/// Audit lines stored.
pub const AUDIT_LINES: &str = "cloudgate_audit_lines_total";
/// Audit lines that could not be written.
pub const AUDIT_FAILURES: &str = "cloudgate_audit_write_failures_total";

const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Installs the process-wide recorder once and returns its handle.
pub fn install() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
                .expect("buckets are not empty")
                .build_recorder();
            let handle = recorder.handle();
            // Another recorder (e.g. a test harness) may already be installed.
            if metrics::set_global_recorder(recorder).is_ok() {
                describe();
            }
            handle
        })
        .clone()
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(CALLS, "gRPC calls finished, by method and gRPC code");
    describe_histogram!(CALL_DURATION, Unit::Seconds, "gRPC call latency, by method");
    describe_gauge!(CALLS_IN_FLIGHT, "gRPC calls in progress, by method");
    describe_gauge!(CONNECTIONS_OPEN, "client connections open on the gRPC port");
    describe_counter!(
        CONNECTIONS_CLOSED,
        "client connections closed by a limit, by reason (max_connections, handshake_timeout)"
    );
    describe_counter!(AUDIT_LINES, "audit lines written (mutating calls)");
    describe_counter!(AUDIT_FAILURES, "audit lines that could not be written");
    describe_counter!(
        VENDOR_ATTEMPTS,
        "vendor HTTP attempts, by action and result"
    );
    describe_counter!(
        VENDOR_ERRORS,
        "vendor error replies, by action and vendor code"
    );
    describe_histogram!(
        VENDOR_DURATION,
        Unit::Seconds,
        "vendor round-trip latency, by action"
    );
    describe_counter!(RETRIES, "retries scheduled, by action");
    describe_counter!(
        RETRY_BUDGET_EXHAUSTED,
        "retries refused by the retry budget, by action"
    );
    describe_counter!(RL_ADMITTED, "calls admitted by the rate limiter, by limit");
    describe_counter!(RL_REJECTED, "calls refused by the rate limiter, by limit");
    describe_counter!(
        RL_SHADOW_REJECTED,
        "calls a shadow limit would have refused, by limit"
    );
    describe_histogram!(
        RL_WAIT,
        Unit::Seconds,
        "time admitted calls waited for their turn, by limit"
    );
    describe_gauge!(RL_WAITING, "calls waiting for their turn, by limit");
    describe_counter!(RL_VENDOR_THROTTLED, "vendor throttling replies, by limit");
    describe_counter!(
        RL_FALLBACK,
        "admissions by the local fallback share while Redis was unreachable, by limit"
    );
    describe_gauge!(
        RL_REDIS_UP,
        "1 while Redis answers rate-limit admissions, 0 during an outage"
    );
}

/// The per-method call metrics, registered once per method (no label
/// formatting on the call path).
pub struct MethodMetrics {
    /// Calls in progress.
    pub in_flight: metrics::Gauge,
    duration: metrics::Histogram,
    by_code: [std::sync::OnceLock<metrics::Counter>; 17],
    method: String,
}

impl MethodMetrics {
    /// The handles of `method` (a gRPC path).
    pub fn of(method: &str) -> std::sync::Arc<MethodMetrics> {
        use std::collections::HashMap;
        use std::sync::{Arc, OnceLock, RwLock};
        static CACHE: OnceLock<RwLock<HashMap<String, Arc<MethodMetrics>>>> = OnceLock::new();
        let cache = CACHE.get_or_init(Default::default);
        if let Some(m) = cache.read().unwrap_or_else(|e| e.into_inner()).get(method) {
            return m.clone();
        }
        let mut w = cache.write().unwrap_or_else(|e| e.into_inner());
        w.entry(method.to_string())
            .or_insert_with(|| {
                Arc::new(MethodMetrics {
                    in_flight: metrics::gauge!(CALLS_IN_FLIGHT, "method" => method.to_string()),
                    duration: metrics::histogram!(CALL_DURATION, "method" => method.to_string()),
                    by_code: Default::default(),
                    method: method.to_string(),
                })
            })
            .clone()
    }

    /// Counts a finished call.
    pub fn finished(&self, code: tonic::Code, elapsed: std::time::Duration) {
        let slot = &self.by_code[(code as usize).min(16)];
        slot.get_or_init(|| {
            metrics::counter!(CALLS, "method" => self.method.clone(), "code" => format!("{code:?}"))
        })
        .increment(1);
        self.duration.record(elapsed.as_secs_f64());
    }
}
