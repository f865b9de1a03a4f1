//! `cloudgate loadtest`: drives one unary gRPC method of any gateway at a target rate
//! and concurrency for a bounded time and number of calls, and summarises what came
//! back (OK and each gRPC error code, achieved rates, late starts, latency
//! percentiles) and, when pointed at the vendor emulator, what the vendor side saw.
//!
//! ```no_run
//! # async fn demo() -> Result<(), cloudgate::loadtest::LoadTestError> {
//! use cloudgate::loadtest::{run, LoadTestOptions};
//! let opts = LoadTestOptions {
//!     method: "aliyun.sddp.v20190103.Sddp/DescribeUserStatus".into(),
//!     data: r#"{"lang":"en_us"}"#.into(),
//!     rate: 8.0,
//!     ..LoadTestOptions::default()
//! };
//! let report = run(opts, |p| eprintln!("{p}")).await?;
//! println!("{report}");
//! # Ok(()) }
//! ```
//!
//! Files: [`method`] (method names), [`duration`] (durations on the command line),
//! [`crate::codec`] (the dynamic-message codec), `client` (request, metadata, channel, one call),
//! [`schedule`] (when calls are due), `runner` (the dispatcher), [`tally`] (live counters),
//! [`report`] (the summary), [`emulator_stats`] (the emulator's admin API).

mod client;
pub mod duration;
pub mod emulator_stats;
pub mod method;
mod reflect;
pub mod report;
mod runner;
pub mod schedule;
pub mod tally;

use std::time::Duration;

pub use client::{build_metadata, parse_header, parse_request};
pub use duration::{parse_duration, DurationError};
pub use emulator_stats::{EmulatorClient, EmulatorReport};
pub use method::{MethodError, MethodName};
pub use report::{LatencyUs, Report};
pub use runner::StopReason;
pub use tally::Progress;

use prost_reflect::DescriptorPool;

use crate::catalog::{Catalog, CatalogError};
use client::Caller;
use report::RunInfo;
use runner::Plan;

/// Hard cap of `max_calls`: no run starts more calls than this.
pub const MAX_CALLS_CAP: u64 = 1_000_000;
/// Highest accepted `concurrency`.
pub const MAX_CONCURRENCY: usize = 10_000;
/// Highest accepted `rate`, calls per second.
pub const MAX_RATE: f64 = 100_000.0;
/// Longest accepted `duration`.
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);
/// Longest accepted per-call `timeout`.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(600);

/// What to drive, how hard and for how long.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadTestOptions {
    /// The gateway, `http://host:port` (`host:port` means `http://host:port`).
    pub addr: String,
    /// `pkg.Service/Method`, `/pkg.Service/Method` or `pkg.Service.Method`.
    pub method: String,
    /// The request, proto3 JSON of the method's input message.
    pub data: String,
    /// Calls started per second on a fixed schedule (open loop); 0 starts a call as
    /// soon as a slot is free (closed loop).
    pub rate: f64,
    /// Most calls in flight.
    pub concurrency: usize,
    /// No call starts after this long.
    pub duration: Duration,
    /// No more calls than this start (at most [`MAX_CALLS_CAP`]).
    pub max_calls: u64,
    /// gRPC metadata sent with every call (`x-cloud-profile`, `x-cloud-region`, ...).
    pub headers: Vec<(String, String)>,
    /// Bound of one call (sent as `grpc-timeout` and enforced locally), and of connecting.
    pub timeout: Duration,
    /// The vendor emulator's base URL, to report what it saw of the action.
    pub emulator: Option<String>,
    /// Reset the emulator (`POST /_emulator/reset`) before the run.
    pub emulator_reset: bool,
}

impl Default for LoadTestOptions {
    /// The CLI defaults: 10 calls/s, concurrency 16, 10 s, timeout 5 s, `{}` as body.
    fn default() -> Self {
        Self {
            addr: "http://127.0.0.1:50051".into(),
            method: String::new(),
            data: "{}".into(),
            rate: 10.0,
            concurrency: 16,
            duration: Duration::from_secs(10),
            max_calls: MAX_CALLS_CAP,
            headers: Vec::new(),
            timeout: Duration::from_secs(5),
            emulator: None,
            emulator_reset: false,
        }
    }
}

/// Why a load test could not run. Errors of single calls are not failures of the run:
/// they are counted in the [`Report`].
#[derive(Debug, thiserror::Error)]
pub enum LoadTestError {
    /// An option is out of range.
    #[error("invalid {option}: {reason}")]
    InvalidOption {
        /// The option.
        option: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The method is malformed, unknown or streaming.
    #[error(transparent)]
    Method(#[from] MethodError),
    /// The request JSON does not fit the method's input message.
    #[error("invalid request data for {message}: {reason}")]
    Data {
        /// The input message's full name.
        message: String,
        /// The JSON or proto3 JSON mapping problem.
        reason: String,
    },
    /// A header is malformed.
    #[error("invalid header {header:?}: {reason}")]
    Header {
        /// The header as given.
        header: String,
        /// What is wrong.
        reason: String,
    },
    /// The gateway address is not a URI.
    #[error("invalid address {addr:?}: {reason}")]
    Address {
        /// The address as given.
        addr: String,
        /// What is wrong.
        reason: String,
    },
    /// The gateway cannot be reached.
    #[error("cannot connect to {addr}: {reason}")]
    Connect {
        /// The address.
        addr: String,
        /// Why.
        reason: String,
    },
    /// The emulator's admin API failed before the run.
    #[error("emulator at {url}: {reason}")]
    Emulator {
        /// The emulator's base URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The embedded descriptors do not load.
    #[error("catalog: {0}")]
    Catalog(#[from] CatalogError),
}

/// `e` and its sources, `: `-separated, each cause once.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

fn invalid(option: &'static str, reason: impl Into<String>) -> LoadTestError {
    LoadTestError::InvalidOption {
        option,
        reason: reason.into(),
    }
}

impl LoadTestOptions {
    /// Checks every bound; [`run`] calls it first.
    pub fn validate(&self) -> Result<(), LoadTestError> {
        if !(self.rate.is_finite() && (0.0..=MAX_RATE).contains(&self.rate)) {
            return Err(invalid(
                "rate",
                format!(
                    "{} is not between 0 (closed loop) and {MAX_RATE} calls/s",
                    self.rate
                ),
            ));
        }
        if !(1..=MAX_CONCURRENCY).contains(&self.concurrency) {
            return Err(invalid(
                "concurrency",
                format!(
                    "{} is not between 1 and {MAX_CONCURRENCY}",
                    self.concurrency
                ),
            ));
        }
        if self.duration.is_zero() || self.duration > MAX_DURATION {
            return Err(invalid(
                "duration",
                format!("{:?} is not between 1ns and 24h", self.duration),
            ));
        }
        if !(1..=MAX_CALLS_CAP).contains(&self.max_calls) {
            return Err(invalid(
                "max-calls",
                format!("{} is not between 1 and {MAX_CALLS_CAP}", self.max_calls),
            ));
        }
        if self.timeout < Duration::from_millis(1) || self.timeout > MAX_TIMEOUT {
            return Err(invalid(
                "timeout",
                format!("{:?} is not between 1ms and 10m", self.timeout),
            ));
        }
        if self.emulator_reset && self.emulator.is_none() {
            return Err(invalid(
                "emulator-reset",
                "needs the emulator's URL (--emulator)",
            ));
        }
        Ok(())
    }
}

/// Runs a load test: checks the options, the method and the request, connects, resets
/// or snapshots the emulator when asked, drives the calls (calling `progress` once a
/// second), waits for the last one, and returns the summary. Returns an error only
/// when the run could not start.
pub async fn run<P>(opts: LoadTestOptions, mut progress: P) -> Result<Report, LoadTestError>
where
    P: FnMut(&Progress),
{
    opts.validate()?;
    let catalog = Catalog::load()?;
    let name = MethodName::parse(&opts.method)?;
    let target = client::normalize_addr(&opts.addr);
    let channel = client::connect(&target, opts.timeout).await?;
    // The target's own description (reflection) first, so any method it
    // serves can be driven; the embedded catalog when reflection is closed.
    // The catalog's own descriptors of that service (empty when unknown).
    let local = catalog
        .service_pool(&name.service)
        .cloned()
        .unwrap_or_else(DescriptorPool::new);
    let method = match reflect::service_pool(channel.clone(), &name.service).await {
        Ok(pool) => match method::resolve(&pool, &opts.method) {
            Err(MethodError::Unknown { input, known }) => {
                // Name the methods of both descriptions.
                method::resolve(&local, &opts.method).map_err(|e| match e {
                    MethodError::Unknown { known: more, .. } => {
                        let mut all: Vec<String> = known.into_iter().chain(more).collect();
                        all.sort();
                        all.dedup();
                        MethodError::Unknown { input, known: all }
                    }
                    other => other,
                })?
            }
            other => other?,
        },
        Err(why) => {
            tracing::debug!(%why, "no reflection; resolving in the embedded catalog");
            method::resolve(&local, &opts.method)?
        }
    };
    let request = parse_request(&method.input(), &opts.data)?;
    let metadata = build_metadata(&opts.headers)?;
    let emulator = opts
        .emulator
        .as_deref()
        .map(EmulatorClient::new)
        .transpose()?;
    let name = format!("{}/{}", method.parent_service().full_name(), method.name());
    let operation = catalog.operation(&format!("/{name}"));
    let action = operation.map_or_else(|| method.name().to_string(), |op| op.action().to_string());
    let documented_qps = operation
        .map(|op| op.rule.documented_qps)
        .filter(|q| *q > 0.0);

    let baseline = match &emulator {
        Some(e) if opts.emulator_reset => {
            e.reset().await?;
            None
        }
        Some(e) => Some(e.stats().await?),
        None => None,
    };
    let caller = Caller::new(channel, &method, request, metadata, opts.timeout)?;

    let plan = Plan {
        rate: opts.rate,
        concurrency: opts.concurrency,
        duration: opts.duration,
        max_calls: opts.max_calls,
    };
    let finished = runner::drive(plan, || caller.call(), &mut progress).await;
    let info = RunInfo {
        method: name,
        target,
        rate: opts.rate,
        concurrency: opts.concurrency,
    };
    let mut report = Report::new(info, finished);
    if let Some(e) = &emulator {
        match e.stats().await {
            Ok(after) => {
                report.emulator = Some(emulator_stats::action_report(
                    &action,
                    &after,
                    baseline.as_ref(),
                    documented_qps,
                ));
            }
            Err(err) => report.warnings.push(format!("after the run: {err}")),
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bounds_are_checked() {
        let ok = LoadTestOptions::default();
        ok.validate().unwrap();
        let cases: Vec<(&str, LoadTestOptions)> = vec![
            (
                "rate",
                LoadTestOptions {
                    rate: -1.0,
                    ..ok.clone()
                },
            ),
            (
                "rate",
                LoadTestOptions {
                    rate: f64::NAN,
                    ..ok.clone()
                },
            ),
            (
                "concurrency",
                LoadTestOptions {
                    concurrency: 0,
                    ..ok.clone()
                },
            ),
            (
                "duration",
                LoadTestOptions {
                    duration: Duration::ZERO,
                    ..ok.clone()
                },
            ),
            (
                "max-calls",
                LoadTestOptions {
                    max_calls: MAX_CALLS_CAP + 1,
                    ..ok.clone()
                },
            ),
            (
                "max-calls",
                LoadTestOptions {
                    max_calls: 0,
                    ..ok.clone()
                },
            ),
            (
                "timeout",
                LoadTestOptions {
                    timeout: Duration::ZERO,
                    ..ok.clone()
                },
            ),
            (
                "emulator-reset",
                LoadTestOptions {
                    emulator_reset: true,
                    ..ok.clone()
                },
            ),
        ];
        for (option, opts) in cases {
            match opts.validate() {
                Err(LoadTestError::InvalidOption { option: o, .. }) => assert_eq!(o, option),
                other => panic!("{option}: {other:?}"),
            }
        }
    }
}
