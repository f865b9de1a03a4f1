//! Rate limiting as a tower layer: every vendor call (and every retry) takes
//! its turn under the limit of its (operation, account) key, paced smoothly
//! with GCRA (governor locally; one Lua script in Redis across replicas).
//! A caller with a rate of its own for the method (`rate_limits` of its
//! `[[auth.callers]]` rule) first takes its turn under its own
//! (operation, account, caller) key, so it cannot crowd the others out of the
//! shared budget.
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

use crate::config::{CallerRule, Config, EffectiveLimit, RateLimitSettings};
use crate::error::GatewayError;
use crate::forward::VendorCall;

pub use key::{fallback_share, KeyState, MAX_BACKOFF};
pub use layer::{RateLimitLayer, RateLimitService};
pub use redis::{RedisBackend, RedisDown, GCRA_SCRIPT};

/// Counters of one limit key.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct KeyStats {
    /// `Action@account`, or `Action@account#caller` for a caller's own limit.
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
    /// Callers with rates of their own, by name.
    callers: HashMap<String, CallerRule>,
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
        let callers = config
            .auth
            .iter()
            .flat_map(|a| &a.callers)
            .filter(|c| !c.rate_limits.is_empty())
            .map(|c| (c.name.clone(), c.clone()))
            .collect();
        Ok(Self {
            settings,
            config,
            keys: Mutex::new(HashMap::new()),
            redis,
            callers,
        })
    }

    /// Whether Redis is configured and was reachable at the last admission.
    pub fn redis_healthy(&self) -> Option<bool> {
        self.redis.as_ref().map(|r| r.healthy())
    }

    /// The shared key state of a call, `Product.Action@account` (created on first
    /// use; the set of keys is bounded by the configured profiles × operations).
    pub fn key_for(&self, call: &VendorCall) -> Arc<KeyState> {
        let id = format!("{}@{}", call.op.name, self.account_of(call));
        self.key_with(id, || self.shared_limit(call))
    }

    /// The caller's own key state of a call, `Product.Action@account#caller`, when the
    /// call's caller has a rate of its own for the method (an exact method
    /// beats a service wildcard). Burst 1; shadow as the shared limit.
    pub fn caller_key_for(&self, call: &VendorCall) -> Option<Arc<KeyState>> {
        let caller = call.caller.as_deref()?;
        let qps = self.callers.get(caller)?.rate_limit_for(&call.op.path)?;
        let id = format!("{}@{}#{caller}", call.op.name, self.account_of(call));
        Some(self.key_with(id, || EffectiveLimit {
            qps,
            nominal_qps: qps,
            burst: 1,
            shadow: self.shared_limit(call).shadow,
            source: "caller",
        }))
    }

    fn account_of(&self, call: &VendorCall) -> String {
        self.config.account_key(&call.profile, call.op.vendor())
    }

    fn shared_limit(&self, call: &VendorCall) -> EffectiveLimit {
        self.settings
            .limit_for(&call.op.path, call.op.rule.documented_qps, &call.profile)
    }

    /// The key `id`, created with `limit()` on first use.
    fn key_with(&self, id: String, limit: impl FnOnce() -> EffectiveLimit) -> Arc<KeyState> {
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        keys.entry(id)
            .or_insert_with_key(|id| {
                let limit = limit();
                tracing::info!(key = %id, qps = limit.qps, burst = limit.burst, shadow = limit.shadow, source = limit.source, "rate limit");
                Arc::new(KeyState::new(id.clone(), limit, self.settings.replicas))
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

    /// Takes a call's turns within one wait budget (`max_wait`, never past
    /// the deadline): first under its caller's own key, if it has one, then
    /// under the shared key, which it returns (for vendor-throttle feedback).
    pub async fn admit(&self, call: &VendorCall) -> Result<Arc<KeyState>, GatewayError> {
        let until = self.wait_until(call.deadline);
        if let Some(own) = self.caller_key_for(call) {
            self.acquire_until(&own, until).await?;
        }
        let key = self.key_for(call);
        self.acquire_until(&key, until).await?;
        Ok(key)
    }

    /// The latest moment a call arriving now may be admitted.
    fn wait_until(&self, deadline: Option<Instant>) -> Instant {
        let most = Instant::now() + self.settings.max_wait;
        deadline.map_or(most, |d| d.min(most))
    }

    /// Waits for the call's turn under one key, or refuses it.
    pub async fn acquire(
        &self,
        key: &KeyState,
        deadline: Option<Instant>,
    ) -> Result<(), GatewayError> {
        self.acquire_until(key, self.wait_until(deadline)).await
    }

    /// Waits for a turn under `key` until `until` at the latest, or refuses it.
    async fn acquire_until(&self, key: &KeyState, until: Instant) -> Result<(), GatewayError> {
        if key.limit.shadow {
            if let Turn::Wait(_) = self.turn(key).await {
                key.count_shadow_rejected();
            }
            key.count_admitted(None);
            return Ok(());
        }
        let started = Instant::now();
        let budget = until.saturating_duration_since(started);
        let (_guard, ahead) = key::WaitingGuard::new(key);
        // Calls arriving together share the burst: only those beyond it
        // queue for a period each.
        let burst = key.limit.burst.max(1) as usize;
        let queued = ahead.saturating_sub(burst - 1);
        let estimate = key.period.saturating_mul(queued as u32) + key.backoff_remaining();
        if ahead >= self.settings.max_waiting {
            return Err(self.reject(key, "too many calls waiting", estimate));
        }
        if estimate > budget {
            return Err(self.reject(key, TOO_LONG, estimate));
        }
        // Nobody queued beyond the burst: decide without queueing (no lock,
        // no timer); the GCRA itself says whether there is room.
        if ahead < burst && key.backoff_remaining().is_zero() {
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU32;

    use super::*;
    use crate::catalog::{Catalog, Vendor};
    use crate::credentials::Credential;
    use crate::translate::WireParams;
    use crate::vendors::Target;

    const BSS: &str = "aliyun.bssopenapi.v20171214.BssOpenApi";

    /// A limiter whose token caller "noisy" may call BssOpenApi and has `limits`.
    fn limiter(limits: &str, ratelimit: &str) -> (RateLimiter, Catalog) {
        let catalog = Catalog::load().unwrap();
        let toml = format!(
            "{ratelimit}\n[auth.tokens.t]\nsha256 = \"{}\"\n\
             [[auth.callers]]\nname = \"noisy\"\ntoken = \"t\"\nmethods = [\"{BSS}/*\"]\n\
             rate_limits = {{ {limits} }}\n\
             [[auth.callers]]\nname = \"quiet\"\ntoken = \"t2\"\nmethods = [\"{BSS}/*\"]\n\
             [auth.tokens.t2]\nsha256 = \"{}\"\n",
            "ab".repeat(32),
            "cd".repeat(32),
        );
        let config = Config::from_toml(&toml, "t.toml", &catalog).unwrap();
        (RateLimiter::new(Arc::new(config)).unwrap(), catalog)
    }

    fn call(catalog: &Catalog, action: &str, caller: Option<&str>) -> VendorCall {
        VendorCall {
            op: catalog.by_action(Vendor::Alibaba, action).unwrap().clone(),
            params: Arc::new(WireParams::Query(Default::default())),
            credential: Arc::new(Credential::new("id".into(), "s".into(), None, "t").unwrap()),
            profile: "default".into(),
            caller: caller.map(Into::into),
            target: Arc::new(Target::new(
                "http://127.0.0.1:1/".parse().unwrap(),
                "cn-shanghai".into(),
                crate::vendors::Signer::Acs3,
            )),
            deadline: None,
            attempts: Arc::new(AtomicU32::new(0)),
        }
    }

    #[test]
    fn caller_keys_exact_method_beats_wildcard_and_need_a_caller_with_a_rate() {
        let limits = format!("\"{BSS}/*\" = 3, \"{BSS}/SetResellerUserStatus\" = 1.5");
        let (l, catalog) = limiter(&limits, "[ratelimit]\nshadow = true");
        let key = |action, caller| {
            l.caller_key_for(&call(&catalog, action, caller))
                .map(|k| (k.id.clone(), k.limit.qps, k.limit.burst, k.limit.shadow))
        };
        assert_eq!(
            key("SetResellerUserStatus", Some("noisy")),
            Some((
                "BssOpenApi.SetResellerUserStatus@profile:default#noisy".into(),
                1.5,
                1,
                true
            ))
        );
        assert_eq!(
            key("ModifyAccountRelation", Some("noisy")),
            Some((
                "BssOpenApi.ModifyAccountRelation@profile:default#noisy".into(),
                3.0,
                1,
                true
            ))
        );
        assert_eq!(key("SetResellerUserStatus", None), None);
        assert_eq!(key("SetResellerUserStatus", Some("quiet")), None);
        assert_eq!(key("SetResellerUserStatus", Some("ghost")), None);
        let ids: Vec<String> = l.stats().into_iter().map(|s| s.key).collect();
        assert_eq!(
            ids,
            [
                "BssOpenApi.ModifyAccountRelation@profile:default#noisy",
                "BssOpenApi.SetResellerUserStatus@profile:default#noisy"
            ]
        );
    }

    #[tokio::test]
    async fn calls_arriving_together_share_the_burst_without_waiting() {
        let caller_limits = format!("\"{BSS}/ModifyAccountRelation\" = 1");
        let (l, catalog) = limiter(
            &caller_limits,
            "[ratelimit]\nmax_wait_ms = 0\n\
             [ratelimit.operations.\"BssOpenApi.SetResellerUserStatus\"]\nqps = 2\nburst = 8\n",
        );
        let c = call(&catalog, "SetResellerUserStatus", None);
        // Seven other calls are inside the limiter at this very moment.
        let key = l.key_for(&c);
        let others: Vec<_> = (0..7).map(|_| key::WaitingGuard::new(&key)).collect();
        // With a burst of 8 and no waiting allowed, all 8 are admitted.
        for i in 0..8 {
            assert!(l.admit(&c).await.is_ok(), "call {i} of the burst");
        }
        drop(others);
        // The ninth finds the burst spent and is refused with a retry hint.
        match l.admit(&c).await {
            Err(GatewayError::RateLimited { retry_after, .. }) => {
                assert!(retry_after <= Duration::from_millis(600), "{retry_after:?}")
            }
            other => panic!("the ninth call: {:?}", other.map(|k| k.id.clone())),
        }
    }

    #[tokio::test]
    async fn the_callers_own_key_refuses_first_and_is_named() {
        let limits = format!("\"{BSS}/SetResellerUserStatus\" = 1");
        let (l, catalog) = limiter(&limits, "[ratelimit]\nmax_wait_ms = 20");
        let noisy = call(&catalog, "SetResellerUserStatus", Some("noisy"));
        let shared = l.admit(&noisy).await.unwrap();
        assert_eq!(
            shared.id,
            "BssOpenApi.SetResellerUserStatus@profile:default"
        );
        match l.admit(&noisy).await {
            Err(GatewayError::RateLimited { limit_key, qps, .. }) => {
                assert_eq!(
                    limit_key,
                    "BssOpenApi.SetResellerUserStatus@profile:default#noisy"
                );
                assert_eq!(qps, 1.0);
            }
            other => panic!(
                "expected a refusal by the caller key: {:?}",
                other.map(|k| k.id.clone())
            ),
        }
        // The shared key (default 5/s) still paces another caller: it waits
        // its ~200 ms turn past the 20 ms budget, so it is refused by the shared key.
        let quiet = call(&catalog, "SetResellerUserStatus", Some("quiet"));
        match l.admit(&quiet).await {
            Err(GatewayError::RateLimited { limit_key, .. }) => {
                assert_eq!(
                    limit_key,
                    "BssOpenApi.SetResellerUserStatus@profile:default"
                );
            }
            other => panic!(
                "expected a refusal by the shared key: {:?}",
                other.map(|k| k.id.clone())
            ),
        }
        let stats = l.stats();
        let own = stats.iter().find(|s| s.key.ends_with("#noisy")).unwrap();
        assert_eq!((own.admitted, own.rejected), (1, 1));
        let shared = stats.iter().find(|s| !s.key.contains('#')).unwrap();
        assert_eq!((shared.admitted, shared.rejected), (1, 1));
    }
}
