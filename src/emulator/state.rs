//! The emulator's mutable state behind one lock: used nonces, QPS windows, the call log
//! and the statistics. The lock is never held across an `.await`.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use tokio::time::Instant;

use super::nonces::NonceStore;
use super::record::{CallLog, Category, ReceivedCall, Stats};
use super::window::SlidingWindow;

#[derive(Debug, Default)]
struct Inner {
    nonces: NonceStore,
    /// QPS admission per (action, access key id).
    qps: HashMap<(String, String), SlidingWindow>,
    /// Verified calls per action, for `max_in_any_1s_window`.
    seen: HashMap<String, SlidingWindow>,
    calls: CallLog,
    stats: Stats,
}

/// Shared mutable state.
#[derive(Debug, Default)]
pub(crate) struct State {
    inner: Mutex<Inner>,
}

impl State {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere while holding the lock leaves plain data behind: keep serving.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Marks a nonce used; `false` when `key_id` already used it and it has not expired.
    pub(crate) fn use_nonce(
        &self,
        key_id: &str,
        nonce: &str,
        now: Instant,
        expires_at: Instant,
    ) -> bool {
        self.lock().nonces.use_once(key_id, nonce, now, expires_at)
    }

    /// Notes a call whose signature verified, for the action's peak one-second count.
    pub(crate) fn note_verified(&self, action_bucket: &str, now: Instant) {
        let mut inner = self.lock();
        let in_window = inner
            .seen
            .entry(action_bucket.to_string())
            .or_default()
            .record(now);
        inner.stats.peak(action_bucket, in_window);
    }

    /// QPS admission of one call of `action` by `key_id` at most `limit` per second.
    pub(crate) fn admit(&self, action: &str, key_id: &str, limit: usize, now: Instant) -> bool {
        self.lock()
            .qps
            .entry((action.to_string(), key_id.to_string()))
            .or_default()
            .try_admit(now, limit)
    }

    /// Logs a finished call and counts it under the given buckets; returns its sequence number.
    pub(crate) fn record(
        &self,
        call: ReceivedCall,
        action_bucket: &str,
        key_bucket: &str,
        category: Category,
    ) -> u64 {
        let mut inner = self.lock();
        inner.stats.count(action_bucket, key_bucket, category);
        inner.calls.push(call)
    }

    /// The call log, optionally of one action.
    pub(crate) fn calls(&self, action: Option<&str>) -> Vec<ReceivedCall> {
        self.lock().calls.list(action)
    }

    /// A snapshot of the statistics.
    pub(crate) fn stats(&self) -> Stats {
        self.lock().stats.clone()
    }

    /// Clears calls, statistics, QPS windows and nonces.
    pub(crate) fn reset(&self) {
        *self.lock() = Inner::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn reset_forgets_nonces_windows_and_stats() {
        let s = State::default();
        let t0 = Instant::now();
        let exp = t0 + Duration::from_secs(900);
        assert!(s.use_nonce("k", "n", t0, exp));
        assert!(s.admit("A", "k", 1, t0));
        assert!(!s.admit("A", "k", 1, t0));
        assert!(s.admit("A", "other-key", 1, t0), "limits are per key");
        s.note_verified("A", t0);
        s.note_verified("A", t0);
        assert_eq!(s.stats().actions["A"].max_in_any_1s_window, 2);
        s.reset();
        assert!(s.use_nonce("k", "n", t0, exp));
        assert!(s.admit("A", "k", 1, t0));
        assert_eq!(s.stats(), Stats::default());
    }
}
