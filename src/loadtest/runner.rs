//! The dispatcher: starts calls on the [`Schedule`], at most `concurrency` in flight,
//! until the duration is over or `max_calls` were started, then waits for the calls in
//! flight (each bounded by its timeout), reporting [`Progress`] once a second.

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::{sleep_until, Instant};
use tonic::Code;

use super::schedule::Schedule;
use super::tally::{CallOutcome, Progress, Tally};

/// How often progress is reported.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// What to drive (already validated).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan {
    /// Calls per second; 0 is the closed loop.
    pub rate: f64,
    /// Most calls in flight (≥ 1).
    pub concurrency: usize,
    /// No call starts after this long.
    pub duration: Duration,
    /// No more calls than this start.
    pub max_calls: u64,
}

/// Why no more calls were started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The duration was over.
    Duration,
    /// `max_calls` calls were started.
    MaxCalls,
}

/// The counters of a finished run.
#[derive(Debug)]
pub(crate) struct Finished {
    pub tally: Tally,
    /// Open loop: calls that found every slot busy when due and waited for one.
    pub late_starts: u64,
    /// Open loop: the longest delay between a call's due time and its start.
    pub max_start_delay: Duration,
    /// From the start until no more calls were started: the duration when it stopped the
    /// run, else the later of the last start and when the next call would have been due
    /// (so that a punctual open loop achieves exactly its rate).
    pub sending: Duration,
    /// From the start until the last call finished (at least `sending`).
    pub elapsed: Duration,
    pub stopped_by: StopReason,
}

fn lock(tally: &Mutex<Tally>) -> MutexGuard<'_, Tally> {
    // A panic while holding the lock cannot leave the counters inconsistent
    // (each update is a few additions), so a poisoned lock is still usable.
    tally
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Emits progress once per [`PROGRESS_EVERY`].
struct Ticker {
    start: Instant,
    next: Instant,
    last_at: Instant,
    last_sent: u64,
}

impl Ticker {
    fn new(start: Instant) -> Self {
        Self {
            start,
            next: start + PROGRESS_EVERY,
            last_at: start,
            last_sent: 0,
        }
    }

    fn emit_if_due<P: FnMut(&Progress)>(&mut self, tally: &Mutex<Tally>, progress: &mut P) {
        let now = Instant::now();
        if now < self.next {
            return;
        }
        let snapshot = {
            let t = lock(tally);
            let secs = now.duration_since(self.last_at).as_secs_f64();
            let rate = if secs > 0.0 {
                t.sent.saturating_sub(self.last_sent) as f64 / secs
            } else {
                0.0
            };
            self.last_sent = t.sent;
            t.progress(now.duration_since(self.start), rate)
        };
        self.last_at = now;
        while self.next <= now {
            self.next += PROGRESS_EVERY;
        }
        progress(&snapshot);
    }
}

fn reap(result: Result<(), tokio::task::JoinError>, tally: &Mutex<Tally>) {
    if let Err(e) = result {
        lock(tally).record(
            CallOutcome::Error {
                code: Code::Internal,
                message: format!("load-test call task failed: {e}"),
            },
            Duration::ZERO,
        );
    }
}

/// Runs `plan`, starting each call with `call()`; returns when every call finished.
pub(crate) async fn drive<F, Fut, P>(plan: Plan, mut call: F, progress: &mut P) -> Finished
where
    F: FnMut() -> Fut,
    Fut: Future<Output = CallOutcome> + Send + 'static,
    P: FnMut(&Progress),
{
    let start = Instant::now();
    let schedule = Schedule::new(start, plan.rate);
    let deadline = start + plan.duration;
    let slots = Arc::new(Semaphore::new(plan.concurrency.max(1)));
    let tally = Arc::new(Mutex::new(Tally::new()));
    let mut tasks = JoinSet::new();
    let mut ticker = Ticker::new(start);
    let mut late_starts = 0u64;
    let mut max_start_delay = Duration::ZERO;
    let mut sent = 0u64;
    let mut last_start = start;

    let stopped_by = 'dispatch: loop {
        while let Some(done) = tasks.try_join_next() {
            reap(done, &tally);
        }
        ticker.emit_if_due(&tally, progress);
        if sent >= plan.max_calls {
            break StopReason::MaxCalls;
        }
        let due = schedule.due(sent);
        if due.unwrap_or_else(Instant::now) >= deadline {
            break StopReason::Duration;
        }
        if let Some(due) = due {
            loop {
                ticker.emit_if_due(&tally, progress);
                if Instant::now() >= due {
                    break;
                }
                sleep_until(due.min(ticker.next)).await;
            }
        }
        let (permit, waited) = match slots.clone().try_acquire_owned() {
            Ok(permit) => (permit, false),
            Err(_) => {
                let acquire = slots.clone().acquire_owned();
                tokio::pin!(acquire);
                loop {
                    ticker.emit_if_due(&tally, progress);
                    if Instant::now() >= deadline {
                        break 'dispatch StopReason::Duration;
                    }
                    tokio::select! {
                        permit = &mut acquire => match permit {
                            Ok(permit) => break (permit, true),
                            // The semaphore is never closed; stop rather than spin.
                            Err(_) => break 'dispatch StopReason::Duration,
                        },
                        _ = sleep_until(deadline.min(ticker.next)) => {}
                    }
                }
            }
        };
        let now = Instant::now();
        if now >= deadline {
            break StopReason::Duration;
        }
        if let Some(due) = due {
            max_start_delay = max_start_delay.max(now.duration_since(due));
            if waited {
                late_starts += 1;
            }
        }
        last_start = now;
        let fut = call();
        let task_tally = tally.clone();
        lock(&tally).sent += 1;
        sent += 1;
        tasks.spawn(async move {
            let _slot = permit;
            let began = Instant::now();
            let outcome = fut.await;
            lock(&task_tally).record(outcome, began.elapsed());
        });
    };

    loop {
        ticker.emit_if_due(&tally, progress);
        tokio::select! {
            done = tasks.join_next() => match done {
                Some(done) => reap(done, &tally),
                None => break,
            },
            _ = sleep_until(ticker.next) => {}
        }
    }

    let sending_end = match stopped_by {
        StopReason::Duration => deadline,
        StopReason::MaxCalls => schedule
            .due(sent)
            .map_or(last_start, |next| last_start.max(next)),
    };
    let end = Instant::now().max(sending_end);
    let tally = std::mem::take(&mut *lock(&tally));
    Finished {
        tally,
        late_starts,
        max_start_delay,
        sending: sending_end.duration_since(start),
        elapsed: end.duration_since(start),
        stopped_by,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn plan(rate: f64, concurrency: usize, duration_ms: u64, max_calls: u64) -> Plan {
        Plan {
            rate,
            concurrency,
            duration: Duration::from_millis(duration_ms),
            max_calls,
        }
    }

    fn sleeper(
        ms: u64,
    ) -> impl FnMut() -> std::pin::Pin<Box<dyn Future<Output = CallOutcome> + Send>> {
        move || {
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                CallOutcome::Ok
            })
        }
    }

    #[tokio::test]
    async fn open_loop_starts_calls_on_schedule() {
        let done = drive(
            plan(20.0, 4, 500, 1_000),
            sleeper(5),
            &mut |_: &Progress| {},
        )
        .await;
        assert_eq!(done.tally.sent, 10);
        assert_eq!(done.tally.ok, 10);
        assert_eq!(done.late_starts, 0);
        assert_eq!(done.stopped_by, StopReason::Duration);
        assert_eq!(done.sending, Duration::from_millis(500));
        assert!(done.elapsed >= Duration::from_millis(500));
        assert!(done.elapsed < Duration::from_secs(2), "{:?}", done.elapsed);
    }

    #[tokio::test]
    async fn a_full_concurrency_makes_late_starts_visible() {
        // One slot, calls of 120 ms, one due every 50 ms: most calls wait for the slot.
        let done = drive(
            plan(20.0, 1, 600, 1_000),
            sleeper(120),
            &mut |_: &Progress| {},
        )
        .await;
        assert!((4..=6).contains(&done.tally.sent), "{}", done.tally.sent);
        assert!(done.late_starts >= 3, "{}", done.late_starts);
        assert!(done.max_start_delay >= Duration::from_millis(100));
    }

    #[tokio::test]
    async fn max_calls_bounds_the_closed_loop_and_concurrency_is_respected() {
        let in_flight = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let (f, p) = (in_flight.clone(), peak.clone());
        let call = move || {
            let (f, p) = (f.clone(), p.clone());
            async move {
                let now = f.fetch_add(1, Ordering::SeqCst) + 1;
                p.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
                f.fetch_sub(1, Ordering::SeqCst);
                CallOutcome::Error {
                    code: Code::Unavailable,
                    message: "down".into(),
                }
            }
        };
        let done = drive(plan(0.0, 3, 10_000, 12), call, &mut |_: &Progress| {}).await;
        assert_eq!(done.stopped_by, StopReason::MaxCalls);
        assert_eq!(done.tally.sent, 12);
        assert_eq!(done.tally.errors_by_code["Unavailable"], 12);
        assert_eq!(peak.load(Ordering::SeqCst), 3);
        assert!(done.elapsed < Duration::from_secs(2));
        assert_eq!(done.late_starts, 0);
    }

    #[tokio::test]
    async fn progress_is_reported_once_a_second() {
        let mut lines = Vec::new();
        let done = drive(
            plan(10.0, 2, 2_100, 1_000),
            sleeper(1),
            &mut |p: &Progress| lines.push(p.clone()),
        )
        .await;
        assert_eq!(done.tally.sent, 21);
        assert!((2..=3).contains(&lines.len()), "{lines:?}");
        assert!(lines[0].elapsed >= Duration::from_secs(1));
        assert!((9..=11).contains(&lines[0].sent), "{lines:?}");
        assert!(lines[0].current_rate > 5.0 && lines[0].current_rate < 15.0);
        assert!(lines[1].sent >= 19);
    }
}
