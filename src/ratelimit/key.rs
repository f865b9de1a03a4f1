//! The state of one limit key (operation × account, or operation × account ×
//! caller for a caller's own limit): its local GCRA, the fallback share for
//! Redis outages, the FIFO of waiting calls, the adaptive back-off after
//! vendor throttling, and counters.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::time::Instant;

use crate::config::EffectiveLimit;

/// Longest adaptive back-off after repeated vendor throttling.
pub const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// First adaptive back-off step.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(200);

/// Prometheus handles of one key (registered once, cheap to bump).
pub struct KeyMetrics {
    admitted: metrics::Counter,
    rejected: metrics::Counter,
    shadow_rejected: metrics::Counter,
    vendor_throttled: metrics::Counter,
    fallback: metrics::Counter,
    wait: metrics::Histogram,
    /// Calls waiting.
    pub waiting: metrics::Gauge,
}

impl KeyMetrics {
    fn new(id: &str) -> Self {
        use crate::metrics as m;
        let l = || [("limit", id.to_string())];
        Self {
            admitted: metrics::counter!(m::RL_ADMITTED, &l()),
            rejected: metrics::counter!(m::RL_REJECTED, &l()),
            shadow_rejected: metrics::counter!(m::RL_SHADOW_REJECTED, &l()),
            vendor_throttled: metrics::counter!(m::RL_VENDOR_THROTTLED, &l()),
            fallback: metrics::counter!(m::RL_FALLBACK, &l()),
            wait: metrics::histogram!(m::RL_WAIT, &l()),
            waiting: metrics::gauge!(m::RL_WAITING, &l()),
        }
    }
}

/// Counters of one key.
#[derive(Debug, Default)]
pub struct KeyCounters {
    /// Calls admitted.
    pub admitted: AtomicU64,
    /// Admitted calls that had to wait.
    pub waited: AtomicU64,
    /// Calls rejected.
    pub rejected: AtomicU64,
    /// Calls shadow mode would have rejected.
    pub shadow_rejected: AtomicU64,
    /// Vendor throttling replies seen.
    pub vendor_throttled: AtomicU64,
    /// Admissions decided by the fallback share because Redis was unreachable.
    pub fallback_admissions: AtomicU64,
    /// Total time admitted calls waited, microseconds.
    pub wait_micros: AtomicU64,
}

#[derive(Debug, Default)]
struct Backoff {
    until: Option<Instant>,
    level: u32,
}

/// One limit key.
pub struct KeyState {
    /// `Action@account`, or `Action@account#caller` for a caller's own limit.
    pub id: String,
    /// The limit.
    pub limit: EffectiveLimit,
    /// Time between admissions.
    pub period: Duration,
    /// The local GCRA.
    pub local: DefaultDirectRateLimiter,
    /// This replica's share (limit / replicas) while Redis is unreachable.
    pub fallback: DefaultDirectRateLimiter,
    /// Waiting calls take their turn in arrival order (tokio's Mutex is fair).
    pub queue: tokio::sync::Mutex<()>,
    /// Calls waiting or being admitted.
    pub waiting: AtomicUsize,
    backoff: Mutex<Backoff>,
    /// Counters.
    pub counters: KeyCounters,
    /// The same, exported to Prometheus.
    pub metrics: KeyMetrics,
}

fn quota(qps: f64, burst: u32) -> Quota {
    let period = Duration::from_secs_f64(1.0 / qps.max(1e-6));
    Quota::with_period(period)
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
        .allow_burst(NonZeroU32::new(burst.max(1)).unwrap_or(NonZeroU32::MIN))
}

/// Each replica's rate while Redis is unreachable: `(limit - replicas) / replicas`.
/// At rate `s` a replica admits at most `floor(s) + 1` calls in any one-second
/// window, so `replicas` of them admit at most `limit` even with their phases
/// aligned. With `limit <= replicas` no share can promise that; then
/// `limit / (2 * replicas)`.
pub fn fallback_share(limit_qps: f64, replicas: u32) -> f64 {
    let n = f64::from(replicas.max(1));
    if n <= 1.0 {
        return limit_qps;
    }
    let share = (limit_qps - n) / n;
    if share > 0.0 {
        share
    } else {
        limit_qps / (2.0 * n)
    }
}

impl KeyState {
    /// A key with its limit; `replicas` sizes the fallback share.
    pub fn new(id: String, limit: EffectiveLimit, replicas: u32) -> Self {
        Self {
            period: Duration::from_secs_f64(1.0 / limit.qps.max(1e-6)),
            metrics: KeyMetrics::new(&id),
            local: RateLimiter::direct(quota(limit.qps, limit.burst)),
            fallback: RateLimiter::direct(quota(fallback_share(limit.qps, replicas), 1)),
            id,
            limit,
            queue: tokio::sync::Mutex::new(()),
            waiting: AtomicUsize::new(0),
            backoff: Mutex::new(Backoff::default()),
            counters: KeyCounters::default(),
        }
    }

    /// Counts an admission (and how long it waited, if it did).
    pub fn count_admitted(&self, waited: Option<Duration>) {
        self.counters.admitted.fetch_add(1, Ordering::Relaxed);
        self.metrics.admitted.increment(1);
        if let Some(w) = waited {
            self.counters.waited.fetch_add(1, Ordering::Relaxed);
            self.counters
                .wait_micros
                .fetch_add(w.as_micros() as u64, Ordering::Relaxed);
            self.metrics.wait.record(w.as_secs_f64());
        }
    }

    /// Counts a refusal.
    pub fn count_rejected(&self) {
        self.counters.rejected.fetch_add(1, Ordering::Relaxed);
        self.metrics.rejected.increment(1);
    }

    /// Counts a call a shadow limit would have refused.
    pub fn count_shadow_rejected(&self) {
        self.counters
            .shadow_rejected
            .fetch_add(1, Ordering::Relaxed);
        self.metrics.shadow_rejected.increment(1);
    }

    /// Counts an admission by the fallback share.
    pub fn count_fallback(&self) {
        self.counters
            .fallback_admissions
            .fetch_add(1, Ordering::Relaxed);
        self.metrics.fallback.increment(1);
    }

    /// Checks a governor limiter: `None` = admitted now, else how long to wait.
    pub fn check(limiter: &DefaultDirectRateLimiter) -> Option<Duration> {
        use governor::clock::Clock;
        match limiter.check() {
            Ok(()) => None,
            // The limiter's own clock: building a new one calibrates it (slow).
            Err(not_until) => Some(not_until.wait_time_from(limiter.clock().now())),
        }
    }

    /// Time left in the adaptive back-off.
    pub fn backoff_remaining(&self) -> Duration {
        let b = self.backoff.lock().unwrap_or_else(|e| e.into_inner());
        b.until
            .map(|u| u.saturating_duration_since(Instant::now()))
            .unwrap_or_default()
    }

    /// The vendor throttled a call of this key: pause admissions, longer each
    /// time in a row (at least the vendor's hint), up to [`MAX_BACKOFF`].
    pub fn on_vendor_throttle(&self, hint: Option<Duration>) -> Duration {
        self.counters
            .vendor_throttled
            .fetch_add(1, Ordering::Relaxed);
        self.metrics.vendor_throttled.increment(1);
        let mut b = self.backoff.lock().unwrap_or_else(|e| e.into_inner());
        let step = FIRST_BACKOFF.saturating_mul(1u32 << b.level.min(5));
        let pause = step.max(hint.unwrap_or_default()).min(MAX_BACKOFF);
        b.level = (b.level + 1).min(5);
        let until = Instant::now() + pause;
        b.until = Some(b.until.map_or(until, |u| u.max(until)));
        pause
    }

    /// A vendor call of this key succeeded: the back-off level decays.
    pub fn on_vendor_ok(&self) {
        let mut b = self.backoff.lock().unwrap_or_else(|e| e.into_inner());
        b.level = b.level.saturating_sub(1);
    }
}

/// Decrements the waiting count when a call leaves the queue.
pub struct WaitingGuard<'a>(&'a KeyState);

impl<'a> WaitingGuard<'a> {
    /// Counts a call as waiting until the guard drops.
    pub fn new(key: &'a KeyState) -> (Self, usize) {
        let ahead = key.waiting.fetch_add(1, Ordering::Relaxed);
        key.metrics.waiting.increment(1.0);
        (Self(key), ahead)
    }
}

impl Drop for WaitingGuard<'_> {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::Relaxed);
        self.0.metrics.waiting.decrement(1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(qps: f64, burst: u32) -> EffectiveLimit {
        EffectiveLimit {
            qps,
            nominal_qps: qps,
            burst,
            shadow: false,
            source: "test",
        }
    }

    #[test]
    fn burst_one_admits_one_then_asks_to_wait_a_period() {
        let k = KeyState::new("A@x".into(), limit(10.0, 1), 1);
        assert_eq!(KeyState::check(&k.local), None);
        let wait = KeyState::check(&k.local).expect("second call must wait");
        assert!(
            wait > Duration::from_millis(80) && wait <= Duration::from_millis(100),
            "{wait:?}"
        );
    }

    #[test]
    fn explicit_burst_is_honoured() {
        let k = KeyState::new("A@x".into(), limit(10.0, 3), 1);
        for _ in 0..3 {
            assert_eq!(KeyState::check(&k.local), None);
        }
        assert!(KeyState::check(&k.local).is_some());
    }

    #[test]
    fn fallback_share_is_limit_over_replicas() {
        let k = KeyState::new("A@x".into(), limit(30.0, 1), 3);
        assert_eq!(KeyState::check(&k.fallback), None);
        let wait = KeyState::check(&k.fallback).unwrap();
        assert!(
            wait > Duration::from_millis(90),
            "10/s share expected: {wait:?}"
        );
    }

    #[tokio::test]
    async fn throttle_backoff_grows_and_respects_hints() {
        let k = KeyState::new("A@x".into(), limit(10.0, 1), 1);
        assert_eq!(k.on_vendor_throttle(None), FIRST_BACKOFF);
        assert_eq!(k.on_vendor_throttle(None), FIRST_BACKOFF * 2);
        assert_eq!(
            k.on_vendor_throttle(Some(Duration::from_secs(3))),
            Duration::from_secs(3)
        );
        assert_eq!(
            k.on_vendor_throttle(Some(Duration::from_secs(60))),
            MAX_BACKOFF
        );
        assert!(k.backoff_remaining() > Duration::from_secs(4));
        assert_eq!(k.counters.vendor_throttled.load(Ordering::Relaxed), 4);
    }
}
