//! Used signature nonces per access key, remembered while a replay could still pass the
//! timestamp check, and pruned as they expire so memory stays bounded.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};

use tokio::time::Instant;

/// The nonces seen per access key id, with their expiry.
#[derive(Debug, Default)]
pub(crate) struct NonceStore {
    seen: HashMap<String, HashSet<String>>,
    expiries: BinaryHeap<Reverse<(Instant, String, String)>>,
}

impl NonceStore {
    /// Marks `nonce` used by `key_id` until `expires_at`; `false` when it is already in use.
    /// Expired entries are pruned first.
    pub(crate) fn use_once(
        &mut self,
        key_id: &str,
        nonce: &str,
        now: Instant,
        expires_at: Instant,
    ) -> bool {
        self.prune(now);
        let set = self.seen.entry(key_id.to_string()).or_default();
        if !set.insert(nonce.to_string()) {
            return false;
        }
        self.expiries
            .push(Reverse((expires_at, key_id.to_string(), nonce.to_string())));
        true
    }

    /// Forgets every nonce whose expiry is at or before `now`.
    pub(crate) fn prune(&mut self, now: Instant) {
        while let Some(Reverse((at, _, _))) = self.expiries.peek() {
            if *at > now {
                break;
            }
            if let Some(Reverse((_, key, nonce))) = self.expiries.pop() {
                if let Some(set) = self.seen.get_mut(&key) {
                    set.remove(&nonce);
                    if set.is_empty() {
                        self.seen.remove(&key);
                    }
                }
            }
        }
    }

    /// Nonces remembered (all keys).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.expiries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_nonce_is_refused_while_remembered_per_key() {
        let t0 = Instant::now();
        let exp = t0 + Duration::from_secs(900);
        let mut s = NonceStore::default();
        assert!(s.use_once("k1", "n1", t0, exp));
        assert!(!s.use_once("k1", "n1", t0 + Duration::from_secs(1), exp));
        assert!(s.use_once("k2", "n1", t0, exp), "nonces are per access key");
        assert!(s.use_once("k1", "n2", t0, exp));
        assert_eq!(s.len(), 3);
    }

    #[test]
    fn expired_nonces_are_pruned_and_usable_again() {
        let t0 = Instant::now();
        let mut s = NonceStore::default();
        assert!(s.use_once("k", "early", t0, t0 + Duration::from_secs(10)));
        assert!(s.use_once("k", "late", t0, t0 + Duration::from_secs(1800)));
        s.prune(t0 + Duration::from_secs(11));
        assert_eq!(s.len(), 1);
        assert!(s.use_once(
            "k",
            "early",
            t0 + Duration::from_secs(12),
            t0 + Duration::from_secs(900)
        ));
        assert!(!s.use_once(
            "k",
            "late",
            t0 + Duration::from_secs(12),
            t0 + Duration::from_secs(900)
        ));
        s.prune(t0 + Duration::from_secs(4000));
        assert_eq!(s.len(), 0);
        assert!(s.seen.is_empty(), "empty per-key sets are dropped too");
    }

    #[test]
    fn memory_stays_bounded_under_a_steady_stream() {
        let t0 = Instant::now();
        let mut s = NonceStore::default();
        for i in 0..10_000u64 {
            let now = t0 + Duration::from_millis(i * 100);
            assert!(s.use_once("k", &i.to_string(), now, now + Duration::from_secs(60)));
        }
        // 60 s of remembered nonces at 10 per second.
        assert!(s.len() <= 601, "{}", s.len());
    }
}
