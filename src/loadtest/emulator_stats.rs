//! The vendor emulator's admin API as the load test uses it: `POST /_emulator/reset`
//! before a run and `GET /_emulator/stats` around it, reduced to the driven action.

use std::time::Duration;

use serde::Serialize;

use super::{error_chain, LoadTestError};
use crate::emulator::Stats;

/// Bound of one admin request.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(10);

/// What the emulator saw of the driven action during the run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EmulatorReport {
    /// The vendor action.
    pub action: String,
    /// Whether the action appears in the emulator's statistics at all (absent: it never
    /// received a call of it since its last reset).
    pub present: bool,
    /// Calls received during the run.
    pub received: u64,
    /// Calls answered with success.
    pub ok: u64,
    /// Calls answered with an error other than throttling.
    pub errors: u64,
    /// Calls refused by the emulated vendor rate limit.
    pub throttled: u64,
    /// The most calls in any sliding one-second window since the emulator's last reset
    /// (the run only when `reset`).
    pub max_in_any_1s_window: u64,
    /// Whether the emulator was reset before the run (otherwise the counters above are
    /// the difference of snapshots taken before and after it).
    pub reset: bool,
    /// The vendor's documented limit for the action, calls per second, when published.
    pub documented_qps: Option<f64>,
}

/// A client of one emulator's admin API.
#[derive(Debug, Clone)]
pub struct EmulatorClient {
    base: String,
    http: reqwest::Client,
}

impl EmulatorClient {
    /// A client of the emulator at `base` (`http://127.0.0.1:18080`).
    pub fn new(base: &str) -> Result<Self, LoadTestError> {
        let err = |reason: String| LoadTestError::Emulator {
            url: base.to_string(),
            reason,
        };
        let url = url::Url::parse(base).map_err(|e| err(format!("not a URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(err("expected http://host:port".into()));
        }
        let http = reqwest::Client::builder()
            .timeout(ADMIN_TIMEOUT)
            .no_proxy()
            .build()
            .map_err(|e| err(e.to_string()))?;
        Ok(Self {
            base: base.trim_end_matches('/').to_string(),
            http,
        })
    }

    fn err(&self, reason: impl Into<String>) -> LoadTestError {
        LoadTestError::Emulator {
            url: self.base.clone(),
            reason: reason.into(),
        }
    }

    /// `POST /_emulator/reset`: clears calls, statistics, faults and rate windows.
    pub async fn reset(&self) -> Result<(), LoadTestError> {
        let url = format!("{}/_emulator/reset", self.base);
        let resp = self
            .http
            .post(&url)
            .send()
            .await
            .map_err(|e| self.err(format!("reset: {}", error_chain(&e))))?;
        if !resp.status().is_success() {
            return Err(self.err(format!("reset: HTTP {}", resp.status())));
        }
        Ok(())
    }

    /// `GET /_emulator/stats`.
    pub async fn stats(&self) -> Result<Stats, LoadTestError> {
        let url = format!("{}/_emulator/stats", self.base);
        let resp = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| self.err(format!("stats: {}", error_chain(&e))))?;
        if !resp.status().is_success() {
            return Err(self.err(format!("stats: HTTP {}", resp.status())));
        }
        resp.json::<Stats>().await.map_err(|e| {
            self.err(format!(
                "stats: not the emulator's statistics: {}",
                error_chain(&e)
            ))
        })
    }
}

/// The driven `action` in `after`, less what `baseline` already counted (when the
/// emulator was not reset before the run).
pub fn action_report(
    action: &str,
    after: &Stats,
    baseline: Option<&Stats>,
    documented_qps: Option<f64>,
) -> EmulatorReport {
    let now = after.actions.get(action);
    let before = baseline.and_then(|b| b.actions.get(action));
    let delta = |f: fn(&crate::emulator::ActionStats) -> u64| {
        now.map(f)
            .unwrap_or(0)
            .saturating_sub(before.map(f).unwrap_or(0))
    };
    EmulatorReport {
        action: action.to_string(),
        present: now.is_some(),
        received: delta(|a| a.received),
        ok: delta(|a| a.ok),
        errors: delta(|a| a.errors),
        throttled: delta(|a| a.throttled),
        max_in_any_1s_window: now.map(|a| a.max_in_any_1s_window).unwrap_or(0),
        reset: baseline.is_none(),
        documented_qps,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::ActionStats;

    fn stats(received: u64, ok: u64, throttled: u64, peak: u64) -> Stats {
        let mut s = Stats {
            total: received,
            ..Stats::default()
        };
        s.actions.insert(
            "DescribeUserStatus".into(),
            ActionStats {
                received,
                ok,
                errors: received - ok - throttled,
                throttled,
                max_in_any_1s_window: peak,
                per_key: Default::default(),
            },
        );
        s
    }

    #[test]
    fn reports_the_action_after_a_reset_or_the_difference_otherwise() {
        let after = stats(20, 15, 3, 12);
        let r = action_report("DescribeUserStatus", &after, None, Some(10.0));
        assert!(r.present && r.reset);
        assert_eq!((r.received, r.ok, r.errors, r.throttled), (20, 15, 2, 3));
        assert_eq!(r.max_in_any_1s_window, 12);

        let before = stats(5, 5, 0, 4);
        let r = action_report("DescribeUserStatus", &after, Some(&before), None);
        assert!(!r.reset);
        assert_eq!((r.received, r.ok, r.errors, r.throttled), (15, 10, 2, 3));

        let r = action_report("ModifyUserType", &after, None, None);
        assert!(!r.present);
        assert_eq!(r.received, 0);
    }

    #[test]
    fn refuses_what_is_not_an_http_url() {
        for bad in ["127.0.0.1:18080", "ftp://x", "not a url"] {
            assert!(matches!(
                EmulatorClient::new(bad),
                Err(LoadTestError::Emulator { .. })
            ));
        }
        assert!(EmulatorClient::new("http://127.0.0.1:18080/").is_ok());
    }
}
