//! When calls are due: an open-loop schedule (`rate` calls per second from the start,
//! independent of how fast calls complete) or a closed loop (`rate` 0: as fast as the
//! concurrency allows).

use std::time::Duration;

use tokio::time::Instant;

/// The start times of the calls of one run.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    start: Instant,
    interval: Option<Duration>,
}

impl Schedule {
    /// A schedule of `rate` calls per second starting at `start`; `rate` 0 (or anything
    /// not finite and positive) is the closed loop.
    pub fn new(start: Instant, rate: f64) -> Self {
        let interval =
            (rate.is_finite() && rate > 0.0).then(|| Duration::from_secs_f64(1.0 / rate));
        Self { start, interval }
    }

    /// When the run started.
    pub fn start(&self) -> Instant {
        self.start
    }

    /// Whether calls follow a schedule (open loop).
    pub fn is_open_loop(&self) -> bool {
        self.interval.is_some()
    }

    /// When call number `n` (0-based) is due: `start + n / rate`, computed from the start
    /// so that rounding never accumulates; `None` in the closed loop (due as soon as a
    /// slot is free).
    pub fn due(&self, n: u64) -> Option<Instant> {
        let interval = self.interval?;
        // n ≤ the max-calls cap, so the product stays far below u64 nanoseconds.
        let nanos = (interval.as_nanos()).saturating_mul(u128::from(n));
        let offset = Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX));
        Some(self.start + offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_loop_is_evenly_spaced_from_the_start() {
        let start = Instant::now();
        let s = Schedule::new(start, 8.0);
        assert!(s.is_open_loop());
        assert_eq!(s.due(0), Some(start));
        assert_eq!(s.due(1), Some(start + Duration::from_millis(125)));
        assert_eq!(s.due(16), Some(start + Duration::from_secs(2)));
        let fractional = Schedule::new(start, 0.5);
        assert_eq!(fractional.due(3), Some(start + Duration::from_secs(6)));
    }

    #[test]
    fn rate_zero_is_the_closed_loop() {
        let start = Instant::now();
        for rate in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let s = Schedule::new(start, rate);
            assert!(!s.is_open_loop());
            assert_eq!(s.due(5), None);
        }
    }
}
