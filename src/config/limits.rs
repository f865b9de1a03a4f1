//! `[ratelimit]` and `[retry]`: how fast each operation may call its vendor,
//! and how failed attempts are retried.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use serde::Deserialize;

use super::{invalid, ConfigError};
use crate::catalog::Catalog;

/// Rate for operations whose vendor publishes none (calls per second).
pub const DEFAULT_UNDOCUMENTED_QPS: f64 = 5.0;

/// `[ratelimit]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSection {
    /// Rate for operations without a documented figure (default 5/s).
    pub default_qps: Option<f64>,
    /// GCRA burst (calls admitted back to back), default 1.
    pub burst: Option<u32>,
    /// How long a call over the rate may wait for its turn, ms (default 1000).
    pub max_wait_ms: Option<u64>,
    /// Calls allowed to wait per limit key (default 1024); more are rejected at once.
    pub max_waiting: Option<usize>,
    /// Fraction kept below the documented rate as a margin for network jitter (default 0.01).
    pub safety_margin: Option<f64>,
    /// Count what would be rejected but reject nothing (every limit).
    pub shadow: Option<bool>,
    /// `redis://host:port/db`: share limits across replicas.
    pub redis: Option<String>,
    /// Number of gateway replicas sharing the limits (fallback share when Redis is down).
    pub replicas: Option<u32>,
    /// Bound of one Redis admission round trip, ms (default 50).
    pub redis_timeout_ms: Option<u64>,
    /// Per operation: `Product.Action`, the gRPC path, or a bare action name
    /// while only one loaded operation has it.
    #[serde(default)]
    pub operations: BTreeMap<String, LimitOverride>,
    /// Per profile, then per operation.
    #[serde(default)]
    pub profiles: BTreeMap<String, BTreeMap<String, LimitOverride>>,
}

/// A limit override.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitOverride {
    /// Calls per second (may only lower a documented rate).
    pub qps: Option<f64>,
    /// Burst.
    pub burst: Option<u32>,
    /// Shadow mode for this limit.
    pub shadow: Option<bool>,
}

/// `[retry]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetrySection {
    /// Attempts per call including the first (default 3; 1 disables retries).
    pub max_attempts: Option<u32>,
    /// First back-off, ms (default 100).
    pub base_delay_ms: Option<u64>,
    /// Back-off cap, ms (default 2000).
    pub max_delay_ms: Option<u64>,
    /// Retries allowed as a fraction of calls over the budget window (default 0.2).
    pub budget_ratio: Option<f32>,
    /// Budget window, seconds (default 10).
    pub budget_window_s: Option<u64>,
    /// Retries always allowed per second regardless of the ratio (default 1).
    pub budget_min_per_sec: Option<u32>,
}

/// Validated rate-limit settings.
#[derive(Debug, Clone)]
pub struct RateLimitSettings {
    /// Rate for undocumented operations.
    pub default_qps: f64,
    /// Default burst.
    pub burst: u32,
    /// Maximum wait for a turn.
    pub max_wait: Duration,
    /// Maximum waiters per key.
    pub max_waiting: usize,
    /// Margin below documented rates.
    pub safety_margin: f64,
    /// Global shadow mode.
    pub shadow: bool,
    /// Redis URL (cluster mode).
    pub redis: Option<String>,
    /// Replicas sharing the limits.
    pub replicas: u32,
    /// Redis round-trip bound.
    pub redis_timeout: Duration,
    operations: HashMap<String, LimitOverride>,
    profiles: HashMap<(String, String), LimitOverride>,
}

/// The limit that applies to one (operation, profile).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EffectiveLimit {
    /// Calls per second the gateway paces at (after the safety margin).
    pub qps: f64,
    /// The configured or documented rate before the margin.
    pub nominal_qps: f64,
    /// Burst.
    pub burst: u32,
    /// Shadow mode.
    pub shadow: bool,
    /// Where the figure came from ("documented", "config", "default").
    pub source: &'static str,
}

impl RateLimitSettings {
    /// The limit for an operation (by gRPC path and documented rate) and profile.
    pub fn limit_for(&self, path: &str, documented_qps: f64, profile: &str) -> EffectiveLimit {
        let overrides = [
            self.operations.get(path),
            self.profiles.get(&(profile.to_string(), path.to_string())),
        ];
        let configured = overrides
            .iter()
            .flatten()
            .filter_map(|o| o.qps)
            .reduce(f64::min);
        let (nominal, source) = match (documented_qps > 0.0, configured) {
            (true, Some(q)) => (q.min(documented_qps), "config"),
            (true, None) => (documented_qps, "documented"),
            (false, Some(q)) => (q, "config"),
            (false, None) => (self.default_qps, "default"),
        };
        // The more specific override (profile) wins for burst and shadow.
        let burst = overrides
            .iter()
            .rev()
            .flatten()
            .find_map(|o| o.burst)
            .unwrap_or(self.burst);
        let shadow = overrides
            .iter()
            .rev()
            .flatten()
            .find_map(|o| o.shadow)
            .unwrap_or(self.shadow);
        EffectiveLimit {
            qps: nominal * (1.0 - self.safety_margin),
            nominal_qps: nominal,
            burst,
            shadow,
            source,
        }
    }
}

/// Validated retry settings.
#[derive(Debug, Clone)]
pub struct RetrySettings {
    /// Attempts per call including the first.
    pub max_attempts: u32,
    /// First back-off.
    pub base_delay: Duration,
    /// Back-off cap.
    pub max_delay: Duration,
    /// Retry budget ratio.
    pub budget_ratio: f32,
    /// Budget window.
    pub budget_window: Duration,
    /// Minimum retries per second.
    pub budget_min_per_sec: u32,
}

/// Checks a calls/s figure: finite, positive, at most 100000.
pub(super) fn check_qps(key: &str, q: f64) -> Result<(), ConfigError> {
    if !(q.is_finite() && q > 0.0 && q <= 100_000.0) {
        return Err(invalid(
            key,
            format!("{q} is not a rate between 0 and 100000 calls/s"),
        ));
    }
    Ok(())
}

/// Checks an override of the operation `name` names (`Product.Action`, the
/// gRPC path, or a bare action while it is unambiguous); returns its path.
fn check_override(
    key: &str,
    o: &LimitOverride,
    name: &str,
    catalog: &Catalog,
) -> Result<String, ConfigError> {
    let op = catalog
        .resolve(name)
        .map_err(|reason| invalid(key, reason))?;
    if let Some(q) = o.qps {
        check_qps(&format!("{key}.qps"), q)?;
        let documented = op.rule.documented_qps;
        if documented > 0.0 && q > documented {
            return Err(invalid(
                format!("{key}.qps"),
                format!("{q}/s is above the vendor's documented {documented}/s; limits can only be lowered"),
            ));
        }
    }
    if o.burst == Some(0) {
        return Err(invalid(format!("{key}.burst"), "must be at least 1"));
    }
    Ok(op.path.clone())
}

/// Validates `[ratelimit]`.
pub fn rate_limits(
    s: &RateLimitSection,
    catalog: &Catalog,
) -> Result<RateLimitSettings, ConfigError> {
    let default_qps = s.default_qps.unwrap_or(DEFAULT_UNDOCUMENTED_QPS);
    check_qps("ratelimit.default_qps", default_qps)?;
    let burst = s.burst.unwrap_or(1);
    if burst == 0 {
        return Err(invalid("ratelimit.burst", "must be at least 1"));
    }
    let safety_margin = s.safety_margin.unwrap_or(0.01);
    if !(0.0..0.5).contains(&safety_margin) {
        return Err(invalid("ratelimit.safety_margin", "must be in [0, 0.5)"));
    }
    let replicas = s.replicas.unwrap_or(1);
    if replicas == 0 {
        return Err(invalid("ratelimit.replicas", "must be at least 1"));
    }
    if let Some(url) = &s.redis {
        if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
            return Err(invalid(
                "ratelimit.redis",
                "must be a redis:// or rediss:// URL",
            ));
        }
        redis::Client::open(url.as_str()).map_err(|e| invalid("ratelimit.redis", e.to_string()))?;
    }
    let mut operations = HashMap::new();
    for (name, o) in &s.operations {
        let path = check_override(&format!("ratelimit.operations.{name}"), o, name, catalog)?;
        if operations.insert(path.clone(), *o).is_some() {
            return Err(invalid(
                format!("ratelimit.operations.{name}"),
                format!("{path} is limited twice under different names"),
            ));
        }
    }
    let mut profiles = HashMap::new();
    for (profile, ops) in &s.profiles {
        for (name, o) in ops {
            let key = format!("ratelimit.profiles.{profile}.{name}");
            let path = check_override(&key, o, name, catalog)?;
            if profiles
                .insert((profile.clone(), path.clone()), *o)
                .is_some()
            {
                return Err(invalid(
                    key,
                    format!("{path} is limited twice under different names"),
                ));
            }
        }
    }
    let max_waiting = s.max_waiting.unwrap_or(1024);
    if max_waiting == 0 {
        return Err(invalid("ratelimit.max_waiting", "must be at least 1"));
    }
    Ok(RateLimitSettings {
        default_qps,
        burst,
        max_wait: Duration::from_millis(s.max_wait_ms.unwrap_or(1000)),
        max_waiting,
        safety_margin,
        shadow: s.shadow.unwrap_or(false),
        redis: s.redis.clone(),
        replicas,
        redis_timeout: Duration::from_millis(s.redis_timeout_ms.unwrap_or(50).max(1)),
        operations,
        profiles,
    })
}

/// Validates `[retry]`.
pub fn retries(s: &RetrySection) -> Result<RetrySettings, ConfigError> {
    let max_attempts = s.max_attempts.unwrap_or(3);
    if !(1..=10).contains(&max_attempts) {
        return Err(invalid("retry.max_attempts", "must be between 1 and 10"));
    }
    let base = s.base_delay_ms.unwrap_or(100);
    let cap = s.max_delay_ms.unwrap_or(2000);
    if base == 0 || cap < base {
        return Err(invalid(
            "retry.max_delay_ms",
            "needs 0 < base_delay_ms <= max_delay_ms",
        ));
    }
    let ratio = s.budget_ratio.unwrap_or(0.2);
    if !(0.0..=1000.0).contains(&ratio) {
        return Err(invalid("retry.budget_ratio", "must be between 0 and 1000"));
    }
    let window = s.budget_window_s.unwrap_or(10);
    if !(1..=60).contains(&window) {
        return Err(invalid("retry.budget_window_s", "must be between 1 and 60"));
    }
    Ok(RetrySettings {
        max_attempts,
        base_delay: Duration::from_millis(base),
        max_delay: Duration::from_millis(cap),
        budget_ratio: ratio,
        budget_window: Duration::from_secs(window),
        budget_min_per_sec: s.budget_min_per_sec.unwrap_or(1),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::from_toml(text, "t.toml", &Catalog::load().unwrap())
    }

    #[test]
    fn documented_rates_default_and_overrides() {
        let c = parse(
            "[profiles.ops.alibaba]\naccess_key_id = \"a\"\naccess_key_secret = \"b\"\n\
             [ratelimit]\nsafety_margin = 0.0\n\
             [ratelimit.operations.SetResellerUserStatus]\nqps = 2\n\
             [ratelimit.profiles.ops.DescribeUserStatus]\nqps = 4\nshadow = true\n",
        )
        .unwrap();
        let r = &c.ratelimit;
        let l = r.limit_for(
            "/aliyun.sddp.v20190103.Sddp/DescribeUserStatus",
            10.0,
            "default",
        );
        assert_eq!(
            (l.qps, l.burst, l.shadow, l.source),
            (10.0, 1, false, "documented")
        );
        let l = r.limit_for(
            "/aliyun.sddp.v20190103.Sddp/DescribeUserStatus",
            10.0,
            "ops",
        );
        assert_eq!((l.qps, l.shadow, l.source), (4.0, true, "config"));
        assert_eq!(
            r.limit_for(
                "/aliyun.cloudsso.v20210515.CloudSSO/UpdateUserStatus",
                0.0,
                "default"
            )
            .qps,
            DEFAULT_UNDOCUMENTED_QPS
        );
        assert_eq!(
            r.limit_for(
                "/aliyun.bssopenapi.v20171214.BssOpenApi/SetResellerUserStatus",
                0.0,
                "default"
            )
            .qps,
            2.0
        );
        let c = parse("").unwrap();
        let l = c.ratelimit.limit_for(
            "/tencentcloud.dlc.v20210125.Dlc/ModifyUserType",
            20.0,
            "default",
        );
        assert!((l.qps - 19.8).abs() < 1e-9, "default 1% margin: {}", l.qps);
    }

    #[test]
    fn limits_can_only_be_lowered_and_keys_are_named() {
        for (text, key) in [
            (
                "[ratelimit.operations.DescribeUserStatus]\nqps = 11",
                "ratelimit.operations.DescribeUserStatus.qps",
            ),
            (
                "[ratelimit.operations.Nope]\nqps = 1",
                "ratelimit.operations.Nope",
            ),
            (
                "[ratelimit.operations.ModifyUserType]\nqps = -1",
                "ratelimit.operations.ModifyUserType.qps",
            ),
            ("[ratelimit]\nburst = 0", "ratelimit.burst"),
            ("[ratelimit]\nredis = \"http://x\"", "ratelimit.redis"),
            ("[ratelimit]\nreplicas = 0", "ratelimit.replicas"),
            (
                "[ratelimit.profiles.ghost.ModifyUserType]\nqps = 1",
                "ratelimit.profiles.ghost",
            ),
            ("[retry]\nmax_attempts = 0", "retry.max_attempts"),
            (
                "[retry]\nbase_delay_ms = 500\nmax_delay_ms = 100",
                "retry.max_delay_ms",
            ),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(&format!("`{key}`")), "{text}: {e}");
        }
        let e = parse("[ratelimit]\nqps = 3").unwrap_err().to_string();
        assert!(e.contains("qps"), "{e}");
    }

    #[test]
    fn profiles_of_one_account_share_a_key() {
        let c = parse(
            "[profiles.a.alibaba]\naccess_key_id = \"x\"\naccess_key_secret = \"y\"\naccount_id = \"1234\"\n\
             [profiles.b.alibaba]\naccess_key_id = \"z\"\naccess_key_secret = \"w\"\naccount_id = \"1234\"\n",
        )
        .unwrap();
        use crate::catalog::Vendor;
        assert_eq!(c.account_key("a", Vendor::Alibaba), "account:1234");
        assert_eq!(c.account_key("b", Vendor::Alibaba), "account:1234");
        assert_eq!(c.account_key("default", Vendor::Alibaba), "profile:default");
        assert_eq!(c.account_key("a", Vendor::Tencent), "profile:a");
    }
}
