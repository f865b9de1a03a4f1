//! Expiring credentials kept fresh: refresh ahead of expiry (a margin with
//! jitter), one refresh at a time per profile and vendor however many calls
//! wait, back-off after a failure while the still-valid credential keeps
//! serving, and never a credential past its expiry.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use tokio::time::Instant;

use serde_json::Value;

use super::{mask, Credential};
use crate::catalog::Vendor;

/// What a source fetched: the credential and when it expires (`None`: never).
#[derive(Debug)]
pub(crate) struct Fetched {
    /// The credential.
    pub credential: Credential,
    /// Its expiry, UTC.
    pub expires_at: Option<DateTime<Utc>>,
}

impl Fetched {
    /// A temporary credential (STS or instance metadata) in the vendor's names:
    /// Alibaba `AccessKeyId`, `AccessKeySecret`, `SecurityToken`, `Expiration`;
    /// Tencent `TmpSecretId`, `TmpSecretKey`, `Token` in `keys` and `ExpiredTime`
    /// (else `Expiration`) in `expiry`. `reply` names the reply in errors.
    pub fn temporary(
        vendor: Vendor,
        keys: &Value,
        expiry: &Value,
        source: &str,
        reply: &str,
    ) -> Result<Self, String> {
        let s = |v: &Value, k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let names = match vendor {
            Vendor::Tencent => ["TmpSecretId", "TmpSecretKey", "Token"],
            _ => ["AccessKeyId", "AccessKeySecret", "SecurityToken"],
        };
        let [id, secret, token] = names.map(|n| s(keys, n));
        let expires_at = expiry
            .get("ExpiredTime")
            .and_then(Value::as_i64)
            .and_then(|t| DateTime::from_timestamp(t, 0))
            .or_else(|| parse_expiration(&s(expiry, "Expiration")))
            .ok_or_else(|| format!("{reply} has no valid expiration"))?;
        let credential = Credential::new(id, secret, Some(token), source)
            .map_err(|e| format!("{reply}: {e}"))?;
        if credential.token.is_none() {
            return Err(format!("{reply} has no {}", names[2]));
        }
        Ok(Self {
            credential,
            expires_at: Some(expires_at),
        })
    }
}

/// Parses an expiration (`2015-04-09T11:52:19Z`, or any RFC 3339).
pub(crate) fn parse_expiration(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%SZ") {
        return Some(t.and_utc());
    }
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// A source of expiring credentials (STS, instance metadata).
pub(crate) trait Source: Send + Sync {
    /// What it is, for logs and `describe` (no secrets).
    fn describe(&self) -> String;
    /// Fetches a fresh credential; the error says why (never a secret).
    fn fetch(&self) -> BoxFuture<'_, Result<Fetched, String>>;
}

/// Refresh timing.
#[derive(Debug, Clone, Copy)]
pub struct RefreshSettings {
    /// Refresh this long before expiry (capped at a quarter of the lifetime).
    pub margin: Duration,
    /// Stop using a credential this long before its expiry (capped at a twentieth of
    /// the lifetime), so a call in flight never reaches the vendor expired.
    pub expiry_skew: Duration,
    /// First back-off after a failed refresh (doubles up to `backoff_max`).
    pub backoff_min: Duration,
    /// Longest back-off.
    pub backoff_max: Duration,
    /// Bound of one fetch.
    pub fetch_timeout: Duration,
}

impl Default for RefreshSettings {
    fn default() -> Self {
        Self {
            margin: Duration::from_secs(300),
            expiry_skew: Duration::from_secs(10),
            backoff_min: Duration::from_millis(200),
            backoff_max: Duration::from_secs(30),
            fetch_timeout: Duration::from_secs(10),
        }
    }
}

struct Current {
    credential: Arc<Credential>,
    refresh_at: Instant,
    usable_until: Option<Instant>,
    expires_at: Option<DateTime<Utc>>,
}

#[derive(Default)]
struct State {
    current: Option<Current>,
    last_error: Option<String>,
    failures: u32,
    retry_at: Option<Instant>,
}

enum Check {
    Fresh(Arc<Credential>),
    Stale(Arc<Credential>),
    Failing(String),
    Missing,
}

/// One profile's credential for one vendor from an expiring source.
pub(crate) struct Refresher {
    source: Box<dyn Source>,
    settings: RefreshSettings,
    state: Mutex<State>,
    flight: Arc<tokio::sync::Mutex<()>>,
}

impl fmt::Debug for Refresher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Refresher")
            .field("source", &self.source.describe())
            .field("state", &self.describe())
            .finish()
    }
}

impl Refresher {
    pub(crate) fn new(source: Box<dyn Source>, settings: RefreshSettings) -> Self {
        Self {
            source,
            settings,
            state: Mutex::new(State::default()),
            flight: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The source and the state of its credential (no secrets).
    pub(crate) fn describe(&self) -> String {
        let s = self.lock();
        let what = self.source.describe();
        match (&s.current, &s.last_error) {
            (Some(c), err) => {
                let expiry = match c.expires_at {
                    Some(t) => format!(
                        ", expires {} (in {}s)",
                        crate::signing::iso8601(t),
                        (t - Utc::now()).num_seconds()
                    ),
                    None => String::new(),
                };
                let err = err
                    .as_ref()
                    .map(|e| format!("; last refresh failed: {e}"))
                    .unwrap_or_default();
                format!(
                    "{} from {what}{expiry}{err}",
                    mask(c.credential.access_key_id.expose())
                )
            }
            (None, Some(e)) => format!("{what}: unavailable: {e}"),
            (None, None) => format!("{what}: not fetched yet"),
        }
    }

    fn check(&self, now: Instant) -> Check {
        let s = self.lock();
        if let Some(c) = &s.current {
            if c.usable_until.is_none_or(|u| now < u) {
                let backing_off = s.retry_at.is_some_and(|r| now < r);
                return if now < c.refresh_at || backing_off {
                    Check::Fresh(c.credential.clone())
                } else {
                    Check::Stale(c.credential.clone())
                };
            }
        }
        match (&s.last_error, s.retry_at) {
            (Some(e), Some(r)) if now < r => {
                let expired = if s.current.is_some() {
                    "the credential expired and "
                } else {
                    ""
                };
                Check::Failing(format!(
                    "{expired}the last refresh failed: {e} (next attempt in {} ms)",
                    (r - now).as_millis()
                ))
            }
            _ => Check::Missing,
        }
    }

    /// A credential valid now: the current one, or a fresh one fetched by this call
    /// (or by the call already fetching). Refreshes ahead of expiry in the background.
    pub(crate) async fn get(self: &Arc<Self>) -> Result<Arc<Credential>, String> {
        match self.check(Instant::now()) {
            Check::Fresh(c) => return Ok(c),
            Check::Stale(c) => {
                self.refresh_in_background();
                return Ok(c);
            }
            Check::Failing(e) => return Err(e),
            Check::Missing => {}
        }
        let _flight = self.flight.lock().await;
        match self.check(Instant::now()) {
            Check::Fresh(c) | Check::Stale(c) => return Ok(c),
            Check::Failing(e) => return Err(e),
            Check::Missing => {}
        }
        self.refresh().await
    }

    /// Forgets `used` if it is still current (the vendor rejected it): the next
    /// `get` fetches at once, once however many calls saw the rejection.
    pub(crate) fn invalidate(&self, used: &Arc<Credential>) {
        let mut s = self.lock();
        if matches!(&s.current, Some(c) if Arc::ptr_eq(&c.credential, used)) {
            s.current = None;
            s.retry_at = None;
        }
    }

    /// Starts a refresh unless one is running (single flight).
    pub(crate) fn refresh_in_background(self: &Arc<Self>) {
        let Ok(guard) = self.flight.clone().try_lock_owned() else {
            return;
        };
        let this = self.clone();
        tokio::spawn(async move {
            let _guard = guard;
            // A refresh may have finished between the check and the lock.
            if let Check::Stale(_) | Check::Missing = this.check(Instant::now()) {
                let _ = this.refresh().await;
            }
        });
    }

    /// Fetches once (the caller holds the flight lock) and records the outcome.
    async fn refresh(&self) -> Result<Arc<Credential>, String> {
        let fetched =
            match tokio::time::timeout(self.settings.fetch_timeout, self.source.fetch()).await {
                Ok(r) => r,
                Err(_) => Err(format!(
                    "no answer within {} ms",
                    self.settings.fetch_timeout.as_millis()
                )),
            };
        let now = Instant::now();
        let fetched = fetched.and_then(|f| match f.expires_at {
            Some(t) if t <= Utc::now() => Err(format!(
                "the source returned a credential that expired at {}",
                crate::signing::iso8601(t)
            )),
            _ => Ok(f),
        });
        let mut s = self.lock();
        match fetched {
            Ok(f) => {
                let credential = Arc::new(f.credential);
                let (refresh_at, usable_until) = match f.expires_at {
                    Some(t) => self.timing(now, t),
                    // Never expires: look again after the longest back-off.
                    None => (now + self.settings.backoff_max, None),
                };
                tracing::info!(
                    source = %self.source.describe(),
                    access_key_id = %mask(credential.access_key_id.expose()),
                    expires = %f.expires_at.map(crate::signing::iso8601).unwrap_or_default(),
                    "credentials refreshed"
                );
                s.current = Some(Current {
                    credential: credential.clone(),
                    refresh_at,
                    usable_until,
                    expires_at: f.expires_at,
                });
                s.last_error = None;
                s.failures = 0;
                s.retry_at = None;
                Ok(credential)
            }
            Err(e) => {
                s.failures = s.failures.saturating_add(1);
                let delay = backoff(&self.settings, s.failures);
                s.retry_at = Some(now + delay);
                tracing::warn!(
                    source = %self.source.describe(),
                    error = %e,
                    retry_in_ms = delay.as_millis() as u64,
                    still_valid = s.current.as_ref().is_some_and(|c| c.usable_until.is_none_or(|u| now < u)),
                    "credential refresh failed"
                );
                s.last_error = Some(e.clone());
                Err(e)
            }
        }
    }

    /// When to refresh and until when to use a credential expiring at `expires_at`.
    fn timing(&self, now: Instant, expires_at: DateTime<Utc>) -> (Instant, Option<Instant>) {
        let remaining = (expires_at - Utc::now()).to_std().unwrap_or_default();
        let skew = self.settings.expiry_skew.min(remaining / 20);
        let margin = self.settings.margin.min(remaining / 4);
        let jitter = margin.mul_f64(rand::random::<f64>() * 0.2);
        let usable_until = now + remaining.saturating_sub(skew);
        let refresh_at = now + remaining.saturating_sub(margin + jitter);
        (refresh_at, Some(usable_until))
    }
}

/// Exponential back-off with equal jitter: half fixed, half random.
fn backoff(settings: &RefreshSettings, failures: u32) -> Duration {
    let exp = settings
        .backoff_min
        .saturating_mul(1u32 << failures.saturating_sub(1).min(16));
    let d = exp.min(settings.backoff_max);
    d / 2 + (d / 2).mul_f64(rand::random::<f64>())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// Issues credentials with a fixed lifetime; fails while `fail` is set.
    struct Counting {
        fetches: Arc<AtomicU32>,
        fail: Arc<std::sync::atomic::AtomicBool>,
        lifetime: Duration,
    }

    impl Source for Counting {
        fn describe(&self) -> String {
            "test source".into()
        }
        fn fetch(&self) -> BoxFuture<'_, Result<Fetched, String>> {
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                if self.fail.load(Ordering::SeqCst) {
                    return Err("source down".into());
                }
                let n = self.fetches.fetch_add(1, Ordering::SeqCst);
                Ok(Fetched {
                    credential: Credential::new(
                        format!("STS.key{n}"),
                        "secret".into(),
                        Some("token".into()),
                        "test",
                    )
                    .unwrap(),
                    expires_at: Some(
                        Utc::now() + chrono::Duration::from_std(self.lifetime).unwrap(),
                    ),
                })
            })
        }
    }

    fn refresher(
        lifetime: Duration,
    ) -> (
        Arc<Refresher>,
        Arc<AtomicU32>,
        Arc<std::sync::atomic::AtomicBool>,
    ) {
        let fetches = Arc::new(AtomicU32::new(0));
        let fail = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let r = Refresher::new(
            Box::new(Counting {
                fetches: fetches.clone(),
                fail: fail.clone(),
                lifetime,
            }),
            RefreshSettings {
                backoff_min: Duration::from_millis(100),
                backoff_max: Duration::from_millis(400),
                ..RefreshSettings::default()
            },
        );
        (Arc::new(r), fetches, fail)
    }

    #[tokio::test]
    async fn concurrent_first_calls_fetch_once() {
        let (r, fetches, _) = refresher(Duration::from_secs(60));
        let calls: Vec<_> = (0..50)
            .map(|_| {
                let r = r.clone();
                tokio::spawn(async move { r.get().await })
            })
            .collect();
        for c in calls {
            assert_eq!(c.await.unwrap().unwrap().access_key_id.expose(), "STS.key0");
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
        let d = r.describe();
        assert!(d.contains("STS.****") && d.contains("expires"), "{d}");
        assert!(!d.contains("secret") && !d.contains("token"), "{d}");
    }

    #[tokio::test]
    async fn refreshes_ahead_of_expiry_and_survives_a_failed_refresh() {
        let (r, fetches, fail) = refresher(Duration::from_secs(2));
        let first = r.get().await.unwrap();
        // Past the refresh point (a quarter of the lifetime before expiry) but still valid,
        // with the source down: the old credential keeps serving.
        fail.store(true, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(1600)).await;
        let c = r.get().await.unwrap();
        assert_eq!(c.access_key_id.expose(), first.access_key_id.expose());
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(r.describe().contains("source down"), "{}", r.describe());
        // Past the expiry: fails fast with the cause, never the expired credential.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let e = r.get().await.unwrap_err();
        assert!(e.contains("source down"), "{e}");
        // The source comes back: the next attempt after the back-off succeeds.
        fail.store(false, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(450)).await;
        let c = r.get().await.unwrap();
        assert_ne!(c.access_key_id.expose(), first.access_key_id.expose());
        assert_eq!(fetches.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn temporary_credentials_in_both_vendors_names() {
        let ali = serde_json::json!({"AccessKeyId":"STS.abc","AccessKeySecret":"s","SecurityToken":"t","Expiration":"2099-04-09T11:52:19Z"});
        let f = Fetched::temporary(Vendor::Alibaba, &ali, &ali, "STS", "STS reply").unwrap();
        assert_eq!(f.credential.access_key_id.expose(), "STS.abc");
        assert_eq!(f.expires_at, parse_expiration("2099-04-09T11:52:19+00:00"));
        let mut no_token = ali.clone();
        no_token["SecurityToken"] = "".into();
        let e = Fetched::temporary(Vendor::Alibaba, &no_token, &ali, "STS", "STS reply");
        assert!(e.unwrap_err().contains("SecurityToken"));
        let tc = serde_json::json!({"Credentials":{"Token":"t","TmpSecretId":"AKIDtmp","TmpSecretKey":"k"},"ExpiredTime":4079339539_i64});
        let f = Fetched::temporary(Vendor::Tencent, &tc["Credentials"], &tc, "STS", "STS reply");
        assert_eq!(f.unwrap().credential.token.unwrap().expose(), "t");
        let e = Fetched::temporary(Vendor::Tencent, &tc["Credentials"], &tc["x"], "STS", "STS");
        assert!(e.unwrap_err().contains("expiration"));
    }

    #[test]
    fn backoff_doubles_within_bounds() {
        let s = RefreshSettings::default();
        for failures in 1..40 {
            let d = backoff(&s, failures);
            assert!(d <= s.backoff_max && d >= s.backoff_min / 2, "{d:?}");
        }
    }
}
