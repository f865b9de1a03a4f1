//! The summary of a run: [`Report`], rendered as a table for people
//! ([`std::fmt::Display`]) or as one JSON object ([`Report::to_json`]).

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::duration::format_duration;
use super::emulator_stats::EmulatorReport;
use super::runner::{Finished, StopReason};

/// Latency percentiles over every finished call, microseconds (0 when none finished).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LatencyUs {
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// Slowest call.
    pub max: u64,
}

/// The summary of one load test.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The method driven, `pkg.Service/Method`.
    pub method: String,
    /// The gateway address.
    pub target: String,
    /// The target rate, calls per second (0: closed loop).
    pub rate: f64,
    /// Most calls in flight.
    pub concurrency: usize,
    /// Calls started.
    pub sent: u64,
    /// Calls answered OK (a response that decoded).
    pub ok: u64,
    /// Calls failed.
    pub errors: u64,
    /// Failed calls per gRPC code name (`InvalidArgument`, `ResourceExhausted`, ...).
    pub errors_by_code: BTreeMap<String, u64>,
    /// The first error message seen per code.
    pub error_samples: BTreeMap<String, String>,
    /// Calls that were due while every slot was busy and started late.
    pub late_starts: u64,
    /// The longest delay between a call's due time and its start, microseconds.
    pub max_start_delay_us: u64,
    /// Why no more calls were started.
    pub stopped_by: StopReason,
    /// Length of the run until the last call finished, seconds.
    pub elapsed_s: f64,
    /// How long calls were started, seconds (the duration, or until `max_calls`).
    pub sending_s: f64,
    /// OK calls per second over `elapsed_s`.
    pub ok_rate: f64,
    /// Calls started per second over `sending_s` (the target rate when punctual).
    pub achieved_rate: f64,
    /// Latency of every finished call (errors included).
    pub latency_us: LatencyUs,
    /// Latency of the calls answered OK.
    pub latency_ok_us: LatencyUs,
    /// The emulator's view of the action, when `--emulator` was given and its
    /// statistics could be read.
    pub emulator: Option<EmulatorReport>,
    /// Problems that did not stop the run (e.g. the emulator's statistics unreadable).
    pub warnings: Vec<String>,
}

/// What the report says about the run besides the counters.
pub(crate) struct RunInfo {
    pub method: String,
    pub target: String,
    pub rate: f64,
    pub concurrency: usize,
}

impl Report {
    /// Builds the summary of a finished run.
    pub(crate) fn new(info: RunInfo, run: Finished) -> Self {
        let t = &run.tally;
        let secs = run.elapsed.as_secs_f64();
        let sending = run.sending.as_secs_f64();
        let per_sec = |n: u64, secs: f64| if secs > 0.0 { n as f64 / secs } else { 0.0 };
        Self {
            method: info.method,
            target: info.target,
            rate: info.rate,
            concurrency: info.concurrency,
            sent: t.sent,
            ok: t.ok,
            errors: t.errors(),
            errors_by_code: t.errors_by_code.clone(),
            error_samples: t.error_samples.clone(),
            late_starts: run.late_starts,
            max_start_delay_us: u64::try_from(run.max_start_delay.as_micros()).unwrap_or(u64::MAX),
            stopped_by: run.stopped_by,
            elapsed_s: round3(secs),
            sending_s: round3(sending),
            ok_rate: round3(per_sec(t.ok, secs)),
            achieved_rate: round3(per_sec(t.sent, sending)),
            latency_us: percentiles(&t.latency_us),
            latency_ok_us: percentiles(&t.latency_ok_us),
            emulator: None,
            warnings: Vec::new(),
        }
    }

    /// The report as one JSON object (one line).
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }
}

fn percentiles(h: &Histogram<u64>) -> LatencyUs {
    if h.is_empty() {
        return LatencyUs::default();
    }
    LatencyUs {
        p50: h.value_at_quantile(0.50),
        p90: h.value_at_quantile(0.90),
        p99: h.value_at_quantile(0.99),
        max: h.max(),
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn rate(r: f64) -> String {
    if r.fract() == 0.0 {
        format!("{r:.0}/s")
    } else {
        format!("{r:.1}/s")
    }
}

fn us(v: u64) -> String {
    format_duration(Duration::from_micros(v))
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let stopped = match self.stopped_by {
            StopReason::Duration => "duration over",
            StopReason::MaxCalls => "max calls reached",
        };
        let target_rate = if self.rate > 0.0 {
            rate(self.rate)
        } else {
            "closed loop".to_string()
        };
        writeln!(f, "loadtest {} -> {}", self.method, self.target)?;
        writeln!(
            f,
            "  run          {target_rate}, concurrency {}, {:.2}s of calls ({stopped}), {:.2}s in all",
            self.concurrency, self.sending_s, self.elapsed_s
        )?;
        writeln!(
            f,
            "  sent         {:<8} ({:.1}/s achieved)",
            self.sent, self.achieved_rate
        )?;
        writeln!(f, "  ok           {:<8} ({:.1}/s)", self.ok, self.ok_rate)?;
        writeln!(f, "  errors       {}", self.errors)?;
        let width = self
            .errors_by_code
            .keys()
            .map(String::len)
            .max()
            .unwrap_or(0);
        for (code, n) in &self.errors_by_code {
            write!(f, "    {code:<width$}  {n:<8}")?;
            match self.error_samples.get(code) {
                Some(sample) => writeln!(f, " e.g. {sample:?}")?,
                None => writeln!(f)?,
            }
        }
        write!(f, "  late starts  {}", self.late_starts)?;
        if self.late_starts > 0 {
            write!(
                f,
                " (up to {} behind schedule)",
                us(self.max_start_delay_us)
            )?;
        }
        writeln!(f)?;
        let line = |l: &LatencyUs| {
            format!(
                "p50 {}  p90 {}  p99 {}  max {}",
                us(l.p50),
                us(l.p90),
                us(l.p99),
                us(l.max)
            )
        };
        writeln!(f, "  latency      {}", line(&self.latency_us))?;
        if self.ok > 0 && self.errors > 0 {
            writeln!(f, "    ok only    {}", line(&self.latency_ok_us))?;
        }
        if let Some(e) = &self.emulator {
            if !e.present {
                writeln!(
                    f,
                    "  emulator     {}: no calls received (the action is absent from the emulator's stats)",
                    e.action
                )?;
            } else {
                writeln!(
                    f,
                    "  emulator     {}: received {}, ok {}, errors {}, throttled {}",
                    e.action, e.received, e.ok, e.errors, e.throttled
                )?;
                write!(
                    f,
                    "               max in any 1s window {}",
                    e.max_in_any_1s_window
                )?;
                if let Some(q) = e.documented_qps {
                    write!(f, " (documented limit {})", rate(q))?;
                }
                if !e.reset {
                    write!(f, " [since the emulator's last reset]")?;
                }
                writeln!(f)?;
            }
        }
        for w in &self.warnings {
            writeln!(f, "  warning: {w}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loadtest::tally::{CallOutcome, Tally};
    use tonic::Code;

    fn finished() -> Finished {
        let mut tally = Tally::new();
        tally.sent = 20;
        for i in 1..=16u64 {
            tally.record(CallOutcome::Ok, Duration::from_millis(i));
        }
        for _ in 0..4 {
            tally.record(
                CallOutcome::Error {
                    code: Code::ResourceExhausted,
                    message: "rate limited".into(),
                },
                Duration::from_micros(400),
            );
        }
        Finished {
            tally,
            late_starts: 2,
            max_start_delay: Duration::from_millis(30),
            sending: Duration::from_secs(2),
            elapsed: Duration::from_secs(2),
            stopped_by: StopReason::Duration,
        }
    }

    fn info() -> RunInfo {
        RunInfo {
            method: "aliyun.sddp.v20190103.Sddp/DescribeUserStatus".into(),
            target: "http://127.0.0.1:50051".into(),
            rate: 10.0,
            concurrency: 4,
        }
    }

    #[test]
    fn summarises_counters_rates_and_ordered_percentiles() {
        let r = Report::new(info(), finished());
        assert_eq!((r.sent, r.ok, r.errors), (20, 16, 4));
        assert_eq!(r.errors_by_code["ResourceExhausted"], 4);
        assert_eq!((r.ok_rate, r.achieved_rate, r.elapsed_s), (8.0, 10.0, 2.0));
        let l = r.latency_us;
        assert!(l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l.max, "{l:?}");
        assert!(l.max >= 16_000 && l.max < 16_100, "{l:?}");
        let ok = r.latency_ok_us;
        assert!(ok.p50 >= 8_000 && ok.p50 < 8_100, "{ok:?}");
    }

    #[test]
    fn renders_json_with_the_documented_fields() {
        let mut r = Report::new(info(), finished());
        r.emulator = Some(EmulatorReport {
            action: "DescribeUserStatus".into(),
            present: true,
            received: 20,
            ok: 16,
            errors: 0,
            throttled: 4,
            max_in_any_1s_window: 10,
            reset: true,
            documented_qps: Some(10.0),
        });
        let v: serde_json::Value = serde_json::from_str(&r.to_json().unwrap()).unwrap();
        for key in [
            "sent",
            "ok",
            "errors_by_code",
            "late_starts",
            "elapsed_s",
            "ok_rate",
            "achieved_rate",
            "latency_us",
            "emulator",
        ] {
            assert!(v.get(key).is_some(), "{key} missing: {v}");
        }
        assert_eq!(v["errors_by_code"]["ResourceExhausted"], 4);
        assert!(v["latency_us"]["p99"].is_u64());
        assert_eq!(v["emulator"]["max_in_any_1s_window"], 10);
        assert_eq!(v["emulator"]["throttled"], 4);
        assert_eq!(v["stopped_by"], "duration");

        r.emulator = None;
        let v: serde_json::Value = serde_json::from_str(&r.to_json().unwrap()).unwrap();
        assert!(v["emulator"].is_null());
    }

    #[test]
    fn renders_a_table_for_people() {
        let mut r = Report::new(info(), finished());
        r.emulator = Some(EmulatorReport {
            action: "DescribeUserStatus".into(),
            present: false,
            received: 0,
            ok: 0,
            errors: 0,
            throttled: 0,
            max_in_any_1s_window: 0,
            reset: true,
            documented_qps: Some(10.0),
        });
        let text = r.to_string();
        assert!(text.contains("sent         20"), "{text}");
        assert!(text.contains("ResourceExhausted  4"), "{text}");
        assert!(text.contains("e.g. \"rate limited\""), "{text}");
        assert!(
            text.contains("late starts  2 (up to 30.0ms behind schedule)"),
            "{text}"
        );
        assert!(text.contains("latency      p50 "), "{text}");
        assert!(text.contains("    ok only    p50 "), "{text}");
        assert!(text.contains("absent from the emulator's stats"), "{text}");
    }
}
