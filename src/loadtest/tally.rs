//! The live counters of a run: calls sent and finished, outcomes per gRPC code, the
//! latency histogram, and the [`Progress`] snapshot shown once a second.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;
use tonic::Code;

/// Longest error message kept as an example per code.
const SAMPLE_MAX_CHARS: usize = 200;

/// Highest latency the histogram tracks exactly (one hour); longer ones are clamped.
const HISTOGRAM_MAX_US: u64 = 3_600_000_000;

/// How one call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallOutcome {
    /// A response that decoded.
    Ok,
    /// A gRPC error (including local ones: deadline, transport, undecodable response).
    Error {
        /// The code.
        code: Code,
        /// Its message.
        message: String,
    },
}

/// A progress line's worth of numbers, reported once a second during a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Progress {
    /// Time since the run started.
    pub elapsed: Duration,
    /// Calls started so far.
    pub sent: u64,
    /// Calls answered OK so far.
    pub ok: u64,
    /// Calls failed so far.
    pub errors: u64,
    /// Calls started and not finished.
    pub in_flight: u64,
    /// Calls started per second over the last interval.
    pub current_rate: f64,
}

impl std::fmt::Display for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "[{:>6.1}s] sent {} ok {} errors {} in flight {} rate {:.1}/s",
            self.elapsed.as_secs_f64(),
            self.sent,
            self.ok,
            self.errors,
            self.in_flight,
            self.current_rate
        )
    }
}

/// Counters shared by the dispatcher and the call tasks.
#[derive(Debug)]
pub struct Tally {
    /// Calls started.
    pub sent: u64,
    /// Calls answered OK.
    pub ok: u64,
    /// Failed calls per gRPC code name (`InvalidArgument`, ...).
    pub errors_by_code: BTreeMap<String, u64>,
    /// The first message seen per code.
    pub error_samples: BTreeMap<String, String>,
    /// Latency of every finished call, microseconds.
    pub latency_us: Histogram<u64>,
    /// Latency of the calls answered OK, microseconds.
    pub latency_ok_us: Histogram<u64>,
}

impl Default for Tally {
    fn default() -> Self {
        Self::new()
    }
}

impl Tally {
    /// Empty counters.
    pub fn new() -> Self {
        Self {
            sent: 0,
            ok: 0,
            errors_by_code: BTreeMap::new(),
            error_samples: BTreeMap::new(),
            latency_us: histogram(),
            latency_ok_us: histogram(),
        }
    }

    /// Calls failed.
    pub fn errors(&self) -> u64 {
        self.errors_by_code.values().sum()
    }

    /// Calls finished.
    pub fn finished(&self) -> u64 {
        self.ok + self.errors()
    }

    /// Counts a finished call.
    pub fn record(&mut self, outcome: CallOutcome, latency: Duration) {
        let us = u64::try_from(latency.as_micros())
            .unwrap_or(u64::MAX)
            .clamp(1, HISTOGRAM_MAX_US);
        self.latency_us.saturating_record(us);
        match outcome {
            CallOutcome::Ok => {
                self.ok += 1;
                self.latency_ok_us.saturating_record(us);
            }
            CallOutcome::Error { code, message } => {
                let name = code_name(code);
                *self.errors_by_code.entry(name.clone()).or_default() += 1;
                self.error_samples
                    .entry(name)
                    .or_insert_with(|| truncate(&message, SAMPLE_MAX_CHARS));
            }
        }
    }

    /// The progress snapshot at `elapsed`, with `current_rate` computed by the caller.
    pub fn progress(&self, elapsed: Duration, current_rate: f64) -> Progress {
        Progress {
            elapsed,
            sent: self.sent,
            ok: self.ok,
            errors: self.errors(),
            in_flight: self.sent.saturating_sub(self.finished()),
            current_rate,
        }
    }
}

/// 1 µs .. 1 h with 3 significant digits: a fixed size (about 200 KiB).
fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HISTOGRAM_MAX_US, 3).expect("constant histogram bounds are valid")
}

/// The canonical name of a gRPC code as grpcurl prints it (`InvalidArgument`).
pub fn code_name(code: Code) -> String {
    format!("{code:?}")
}

fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_outcomes_per_code_and_keeps_one_sample() {
        let mut t = Tally::new();
        t.sent = 4;
        t.record(CallOutcome::Ok, Duration::from_millis(2));
        for msg in ["first", "second"] {
            t.record(
                CallOutcome::Error {
                    code: Code::InvalidArgument,
                    message: msg.into(),
                },
                Duration::from_micros(300),
            );
        }
        assert_eq!(t.ok, 1);
        assert_eq!(t.errors(), 2);
        assert_eq!(t.errors_by_code["InvalidArgument"], 2);
        assert_eq!(t.error_samples["InvalidArgument"], "first");
        assert_eq!(t.latency_us.len(), 3);
        assert_eq!(t.latency_ok_us.len(), 1);
        let p = t.progress(Duration::from_secs(1), 4.0);
        assert_eq!((p.sent, p.ok, p.errors, p.in_flight), (4, 1, 2, 1));
        assert_eq!(
            p.to_string(),
            "[   1.0s] sent 4 ok 1 errors 2 in flight 1 rate 4.0/s"
        );
    }

    #[test]
    fn extreme_latencies_are_clamped_not_lost() {
        let mut t = Tally::new();
        t.record(CallOutcome::Ok, Duration::ZERO);
        t.record(CallOutcome::Ok, Duration::from_secs(100_000));
        assert_eq!(t.latency_us.len(), 2);
        assert!(t.latency_us.max() >= HISTOGRAM_MAX_US);
    }

    #[test]
    fn long_samples_are_truncated_on_a_char_boundary() {
        let long = "é".repeat(500);
        let cut = truncate(&long, SAMPLE_MAX_CHARS);
        assert_eq!(cut.chars().count(), SAMPLE_MAX_CHARS + 1);
        assert_eq!(truncate("short", 10), "short");
    }
}
