//! Cluster mode: one GCRA state per key in Redis, shared by every replica,
//! advanced by one atomic Lua script per admission (one round trip). The
//! script reads Redis's own clock (`TIME`), so replica clocks never matter.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use redis::aio::ConnectionManager;
use tokio::sync::OnceCell;

/// The GCRA script. KEYS[1]: the key. ARGV[1]: emission interval (µs).
/// ARGV[2]: burst tolerance (µs). ARGV[3]: hold (µs): when > 0, admissions
/// are held until at least now + hold (used once after an outage, while
/// other replicas may still admit from their fallback share). Returns 0 when
/// admitted (and advances the theoretical arrival time), else the µs until
/// the call could be admitted.
pub const GCRA_SCRIPT: &str = r#"
local period = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local hold = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
if hold > 0 and tat < now + hold + tolerance then
  tat = now + hold + tolerance
  redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000) + 1000)
end
local allow_at = tat - tolerance
if now < allow_at then
  return math.ceil(allow_at - now)
end
local new_tat = tat + period
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1000)
return 0
"#;

/// How long after a Redis failure the limiter keeps to the local fallback
/// before trying Redis again.
pub const RETRY_REDIS_AFTER: Duration = Duration::from_millis(500);

/// The vendors count calls per one-second window: switching between Redis and
/// the local fallback share leaves one window quiet, so calls admitted under
/// the two regimes never share a window at the vendor.
pub const SWITCH_QUIET: Duration = Duration::from_secs(1);

/// A Redis failure (unreachable, timeout, script error).
#[derive(Debug, thiserror::Error)]
#[error("redis: {0}")]
pub struct RedisDown(pub String);

/// The shared Redis backend.
pub struct RedisBackend {
    client: redis::Client,
    conn: OnceCell<ConnectionManager>,
    script: redis::Script,
    timeout: Duration,
    started: std::time::Instant,
    /// Until when (ms since `started`) to skip Redis after a failure.
    skip_until_ms: AtomicU64,
    healthy: AtomicBool,
    /// When (ms since `started`) the current outage began.
    outage_started_ms: AtomicU64,
    /// Hold the shared state once at the first success after an outage.
    hold_next: AtomicBool,
    /// Transitions from healthy to fallback.
    pub outages: AtomicU64,
}

impl RedisBackend {
    /// A backend for `url` (connects lazily).
    pub fn new(url: &str, timeout: Duration) -> Result<Self, RedisDown> {
        Ok(Self {
            client: redis::Client::open(url).map_err(|e| RedisDown(e.to_string()))?,
            conn: OnceCell::new(),
            script: redis::Script::new(GCRA_SCRIPT),
            timeout,
            started: std::time::Instant::now(),
            skip_until_ms: AtomicU64::new(0),
            healthy: AtomicBool::new(true),
            outage_started_ms: AtomicU64::new(0),
            hold_next: AtomicBool::new(false),
            outages: AtomicU64::new(0),
        })
    }

    /// Whether the last admission reached Redis.
    pub fn healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// How long the fallback share must still stay quiet after an outage began.
    pub fn fallback_quiet_remaining(&self) -> Duration {
        let until =
            self.outage_started_ms.load(Ordering::Relaxed) + SWITCH_QUIET.as_millis() as u64;
        Duration::from_millis(until.saturating_sub(self.now_ms()))
    }

    /// Whether Redis should be tried now (not within the back-off after a failure).
    pub fn should_try(&self) -> bool {
        self.now_ms() >= self.skip_until_ms.load(Ordering::Relaxed)
    }

    async fn connection(&self) -> Result<ConnectionManager, RedisDown> {
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
            .set_number_of_retries(1);
        self.conn
            .get_or_try_init(|| async {
                ConnectionManager::new_with_config(self.client.clone(), config)
                    .await
                    .map_err(|e| RedisDown(e.to_string()))
            })
            .await
            .cloned()
    }

    /// One admission attempt: `Ok(None)` admitted, `Ok(Some(wait))` not yet.
    pub async fn try_admit(
        &self,
        key: &str,
        period: Duration,
        burst: u32,
    ) -> Result<Option<Duration>, RedisDown> {
        let period_us = period.as_micros().max(1) as u64;
        let tolerance_us = period_us.saturating_mul(u64::from(burst.max(1) - 1));
        let hold_us = if self.hold_next.load(Ordering::Relaxed) {
            SWITCH_QUIET.as_micros() as u64
        } else {
            0
        };
        let attempt = async {
            let mut conn = self.connection().await?;
            let wait_us: u64 = self
                .script
                .key(key)
                .arg(period_us)
                .arg(tolerance_us)
                .arg(hold_us)
                .invoke_async(&mut conn)
                .await
                .map_err(|e| RedisDown(e.to_string()))?;
            Ok::<_, RedisDown>(wait_us)
        };
        let result = match tokio::time::timeout(self.timeout, attempt).await {
            Ok(r) => r,
            Err(_) => Err(RedisDown(format!("no answer within {:?}", self.timeout))),
        };
        match result {
            Ok(wait_us) => {
                if hold_us > 0 {
                    self.hold_next.store(false, Ordering::Relaxed);
                }
                metrics::gauge!(crate::metrics::RL_REDIS_UP).set(1.0);
                if !self.healthy.swap(true, Ordering::Relaxed) {
                    tracing::warn!("redis reachable again: cluster-wide rate limits restored");
                }
                Ok((wait_us > 0).then(|| Duration::from_micros(wait_us)))
            }
            Err(e) => {
                self.skip_until_ms.store(
                    self.now_ms() + RETRY_REDIS_AFTER.as_millis() as u64,
                    Ordering::Relaxed,
                );
                metrics::gauge!(crate::metrics::RL_REDIS_UP).set(0.0);
                if self.healthy.swap(false, Ordering::Relaxed) {
                    self.outage_started_ms
                        .store(self.now_ms(), Ordering::Relaxed);
                    self.hold_next.store(true, Ordering::Relaxed);
                    self.outages.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(error = %e, "redis unreachable: each replica now admits limit/replicas locally");
                }
                Err(e)
            }
        }
    }
}
