//! A sliding one-second window of call instants: QPS admission and peak-rate statistics.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// Length of the window.
pub(crate) const WINDOW: Duration = Duration::from_secs(1);

/// The instants of the calls in the last [`WINDOW`] (memory: at most one entry per call
/// in the window).
#[derive(Debug, Default)]
pub(crate) struct SlidingWindow {
    hits: VecDeque<Instant>,
}

impl SlidingWindow {
    /// Drops the instants older than `now - WINDOW`.
    fn prune(&mut self, now: Instant) {
        while let Some(&first) = self.hits.front() {
            if now.saturating_duration_since(first) >= WINDOW {
                self.hits.pop_front();
            } else {
                break;
            }
        }
    }

    /// Admits the call and counts it when fewer than `limit` calls were admitted in the last
    /// second; a refused call is not counted.
    pub(crate) fn try_admit(&mut self, now: Instant, limit: usize) -> bool {
        self.prune(now);
        if self.hits.len() >= limit {
            return false;
        }
        self.hits.push_back(now);
        true
    }

    /// Counts the call unconditionally; returns how many calls the last second holds.
    pub(crate) fn record(&mut self, now: Instant) -> usize {
        self.prune(now);
        self.hits.push_back(now);
        self.hits.len()
    }

    /// Calls currently in the window.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.hits.len()
    }
}

/// The per-second call limit for a documented rate: whole calls, at least one.
pub(crate) fn limit_for(qps: f64) -> Option<usize> {
    if qps.is_finite() && qps > 0.0 {
        // `as` saturates: a huge documented rate becomes usize::MAX, never a panic.
        Some((qps.floor() as usize).max(1))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_up_to_the_limit_then_refuses_within_one_second() {
        let t0 = Instant::now();
        let mut w = SlidingWindow::default();
        for i in 0..10 {
            assert!(
                w.try_admit(t0 + Duration::from_millis(i * 10), 10),
                "call {i}"
            );
        }
        assert!(!w.try_admit(t0 + Duration::from_millis(200), 10));
        assert_eq!(w.len(), 10, "refused calls are not counted");
        // 1 s after the first call, one slot is free again (sliding, not fixed buckets).
        assert!(w.try_admit(t0 + Duration::from_millis(1000), 10));
        assert!(!w.try_admit(t0 + Duration::from_millis(1005), 10));
        assert!(w.try_admit(t0 + Duration::from_millis(1010), 10));
    }

    #[test]
    fn record_reports_the_count_in_the_last_second() {
        let t0 = Instant::now();
        let mut w = SlidingWindow::default();
        assert_eq!(w.record(t0), 1);
        assert_eq!(w.record(t0 + Duration::from_millis(500)), 2);
        assert_eq!(w.record(t0 + Duration::from_millis(999)), 3);
        assert_eq!(w.record(t0 + Duration::from_millis(1000)), 3);
        assert_eq!(w.record(t0 + Duration::from_secs(5)), 1);
    }

    #[test]
    fn limits_from_documented_rates() {
        assert_eq!(limit_for(10.0), Some(10));
        assert_eq!(limit_for(20.5), Some(20));
        assert_eq!(limit_for(0.5), Some(1));
        assert_eq!(limit_for(0.0), None);
        assert_eq!(limit_for(-1.0), None);
        assert_eq!(limit_for(f64::NAN), None);
        assert_eq!(limit_for(f64::INFINITY), None);
    }
}
