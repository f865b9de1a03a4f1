//! Rate limiting as a tower layer: every vendor call (and every retry) takes
//! its turn under the limit of its (operation, account) key, paced smoothly
//! with GCRA (governor locally; one Lua script in Redis across replicas).
//!
//! A call over the rate waits in FIFO order up to `max_wait` (never past its
//! deadline); past that it is refused at once with RESOURCE_EXHAUSTED,
//! `RetryInfo` and `QuotaFailure`. Vendor throttling replies that still happen
//! pause the key (adaptive back-off). Shadow limits only count.

mod key;
mod layer;
mod redis;

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use crate::config::{Config, RateLimitSettings};
use crate::error::GatewayError;
use crate::forward::VendorCall;

pub use key::{fallback_share, KeyState, MAX_BACKOFF};
pub use layer::{RateLimitLayer, RateLimitService};
pub use redis::{RedisBackend, RedisDown, GCRA_SCRIPT};

/// Counters of one limit key.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct KeyStats {
    /// `Action@account`.
    pub key: String,
    /// Paced rate, calls/s.
    pub qps: f64,
    /// Burst.
    pub burst: u32,
    /// Shadow mode.
    pub shadow: bool,
    /// Calls admitted.
    pub admitted: u64,
    /// Admitted calls that waited.
    pub waited: u64,
    /// Calls refused.
    pub rejected: u64,
    /// Calls shadow mode would have refused.
    pub shadow_rejected: u64,
    /// Vendor throttling replies.
    pub vendor_throttled: u64,
    /// Admissions decided locally while Redis was unreachable.
    pub fallback_admissions: u64,
    /// Mean wait of admitted calls that waited, ms.
    pub mean_wait_ms: f64,
}

/// The limiter shared by every call of a gateway.
pub struct RateLimiter {
    settings: RateLimitSettings,
    config: Arc<Config>,
    keys: Mutex<HashMap<String, Arc<KeyState>>>,
    redis: Option<Arc<RedisBackend>>,
}

const TOO_LONG: &str = "the wait would exceed the allowed maximum or the deadline";

enum Turn {
    Now,
    Wait(Duration),
}

impl RateLimiter {
    /// A limiter for the config's `[ratelimit]` (connects to Redis lazily).
    pub fn new(config: Arc<Config>) -> Result<Self, RedisDown> {
        let settings = config.ratelimit.clone();
        let redis = match &settings.redis {
            Some(url) => Some(Arc::new(RedisBackend::new(url, settings.redis_timeout)?)),
            None => None,
        };
        Ok(Self {
            settings,
            config,
            keys: Mutex::new(HashMap::new()),
            redis,
        })
    }

    /// Whether Redis is configured and was reachable at the last admission.
    pub fn redis_healthy(&self) -> Option<bool> {
        self.redis.as_ref().map(|r| r.healthy())
    }

    /// The key state of a call (created on first use; the set of keys is
    /// bounded by the configured profiles × operations).
    pub fn key_for(&self, call: &VendorCall) -> Arc<KeyState> {
        let account = self.config.account_key(&call.profile, call.op.vendor());
        let id = format!("{}@{}", call.op.action(), account);
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        keys.entry(id.clone())
            .or_insert_with(|| {
                let limit = self
                    .settings
                    .limit_for(call.op.action(), call.op.rule.documented_qps, &call.profile);
                tracing::info!(key = %id, qps = limit.qps, burst = limit.burst, shadow = limit.shadow, source = limit.source, "rate limit");
                Arc::new(KeyState::new(id, limit, self.settings.replicas))
            })
            .clone()
    }

    /// Counters of every key in use.
    pub fn stats(&self) -> Vec<KeyStats> {
        let keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<KeyStats> = keys
            .values()
            .map(|k| {
                let c = &k.counters;
                let waited = c.waited.load(Ordering::Relaxed);
                KeyStats {
                    key: k.id.clone(),
                    qps: k.limit.qps,
                    burst: k.limit.burst,
                    shadow: k.limit.shadow,
                    admitted: c.admitted.load(Ordering::Relaxed),
                    waited,
                    rejected: c.rejected.load(Ordering::Relaxed),
                    shadow_rejected: c.shadow_rejected.load(Ordering::Relaxed),
                    vendor_throttled: c.vendor_throttled.load(Ordering::Relaxed),
                    fallback_admissions: c.fallback_admissions.load(Ordering::Relaxed),
                    mean_wait_ms: if waited == 0 {
                        0.0
                    } else {
                        c.wait_micros.load(Ordering::Relaxed) as f64 / waited as f64 / 1000.0
                    },
                }
            })
            .collect();
        out.sort_by(|a, b| a.key.cmp(&b.key));
        out
    }

    async fn turn(&self, key: &KeyState) -> Turn {
        if let Some(redis) = self.redis.as_ref().filter(|r| r.should_try()) {
            let redis_key = format!("cloudgate:rl:{}", key.id);
            match redis
                .try_admit(&redis_key, key.period, key.limit.burst)
                .await
            {
                Ok(None) => return Turn::Now,
                Ok(Some(wait)) => return Turn::Wait(wait),
                Err(_) => {}
            }
        }
        let limiter = match &self.redis {
            Some(redis) => {
                let quiet = redis.fallback_quiet_remaining();
                if !quiet.is_zero() {
                    return Turn::Wait(quiet);
                }
                &key.fallback
            }
            None => &key.local,
        };
        match KeyState::check(limiter) {
            None => {
                if self.redis.is_some() {
                    key.count_fallback();
                }
                Turn::Now
            }
            Some(wait) => Turn::Wait(wait),
        }
    }

    fn reject(&self, key: &KeyState, reason: &'static str, retry_after: Duration) -> GatewayError {
        key.count_rejected();
        GatewayError::RateLimited {
            limit_key: key.id.clone(),
            qps: key.limit.qps,
            reason,
            retry_after: retry_after.max(Duration::from_millis(1)),
        }
    }

    /// Waits for the call's turn, or refuses it.
    pub async fn acquire(
        &self,
        key: &KeyState,
        deadline: Option<Instant>,
    ) -> Result<(), GatewayError> {
        if key.limit.shadow {
            if let Turn::Wait(_) = self.turn(key).await {
                key.count_shadow_rejected();
            }
            key.count_admitted(None);
            return Ok(());
        }
        let started = Instant::now();
        let budget = match deadline {
            Some(d) => self
                .settings
                .max_wait
                .min(d.saturating_duration_since(started)),
            None => self.settings.max_wait,
        };
        let (_guard, ahead) = key::WaitingGuard::new(key);
        let estimate = key.period.saturating_mul(ahead as u32) + key.backoff_remaining();
        if ahead >= self.settings.max_waiting {
            return Err(self.reject(key, "too many calls waiting", estimate));
        }
        if estimate > budget {
            return Err(self.reject(key, TOO_LONG, estimate));
        }
        // Nobody queued: decide without queueing (no lock, no timer).
        if ahead == 0 && key.backoff_remaining().is_zero() {
            match self.turn(key).await {
                Turn::Now => {
                    key.count_admitted(None);
                    return Ok(());
                }
                Turn::Wait(wait) if wait > budget => {
                    return Err(self.reject(key, TOO_LONG, wait));
                }
                Turn::Wait(_) => {}
            }
        }
        let _turn = match tokio::time::timeout(budget, key.queue.lock()).await {
            Ok(guard) => guard,
            Err(_) => return Err(self.reject(key, "waited the allowed maximum", key.period)),
        };
        let mut waited = false;
        loop {
            let wait = match key.backoff_remaining() {
                d if !d.is_zero() => d,
                _ => match self.turn(key).await {
                    Turn::Now => break,
                    Turn::Wait(d) => d,
                },
            };
            if started.elapsed() + wait > budget {
                return Err(self.reject(key, TOO_LONG, wait));
            }
            waited = true;
            tokio::time::sleep(wait).await;
        }
        key.count_admitted(waited.then(|| started.elapsed()));
        Ok(())
    }
}
