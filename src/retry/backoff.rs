//! Exponential back-off with full jitter, clamped by the vendor's hint.

use std::time::Duration;

use rand::Rng;

/// Delay before retry number `retry` (1 = first retry): uniform in
/// `[0, min(cap, base * 2^(retry-1))]`, but never below the vendor's hint
/// (itself clamped to `cap`).
pub fn delay(base: Duration, cap: Duration, retry: u32, hint: Option<Duration>) -> Duration {
    let exp = base.saturating_mul(1u32 << (retry.saturating_sub(1)).min(20));
    let ceiling = exp.min(cap);
    let jittered = Duration::from_micros(rand::rng().random_range(0..=ceiling.as_micros() as u64));
    match hint {
        Some(h) => jittered.max(h.min(cap)),
        None => jittered,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_jitter_within_the_exponential_ceiling() {
        let base = Duration::from_millis(100);
        let cap = Duration::from_secs(2);
        for retry in 1..8 {
            let ceiling = (base * 2u32.pow(retry - 1)).min(cap);
            let samples: Vec<_> = (0..200).map(|_| delay(base, cap, retry, None)).collect();
            assert!(samples.iter().all(|d| *d <= ceiling), "retry {retry}");
            // Full jitter: spread over the whole range, not clustered at the top.
            assert!(samples.iter().any(|d| *d < ceiling / 2), "retry {retry}");
        }
    }

    #[test]
    fn vendor_hints_are_floors_clamped_to_the_cap() {
        let base = Duration::from_millis(10);
        let cap = Duration::from_secs(1);
        assert!(
            delay(base, cap, 1, Some(Duration::from_millis(400))) >= Duration::from_millis(400)
        );
        assert_eq!(delay(base, cap, 1, Some(Duration::from_secs(30))), cap);
    }
}
