//! The audit log: one JSON line for every call of a mutating operation —
//! who called, what, with which profile and region, the parameters
//! (secrets redacted), what the vendor answered and how the call ended —
//! including calls refused before they reached the vendor.
//!
//! A line is stored (written to the file or stdout by the call itself, or
//! synced by the group-commit thread when `fsync` is set) before the caller
//! gets its reply, so a crash or shutdown
//! never loses a line of a call the caller saw finish. A caller that goes
//! away mid-call still gets its line (written when the call is dropped).
//! While lines cannot be written, mutating calls are refused with
//! UNAVAILABLE before they reach the vendor.

mod params;
mod refusals;
mod writer;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use crate::config::AuditSettings;
use crate::error::{GatewayError, Outcome};

pub use params::{audit_params, is_sensitive, REDACTED};
pub use refusals::{AuditRefusals, Reached};

/// Lines queued for the writer before callers wait for room.
const QUEUE: usize = 8192;

/// An open audit log.
pub struct AuditLog {
    sink: Sink,
    failing: Arc<Mutex<Option<String>>>,
}

/// How lines reach the output.
enum Sink {
    /// Without fsync: each call writes its line itself.
    Inline(Mutex<writer::Output>),
    /// With fsync: the group-commit thread.
    Thread(mpsc::Sender<writer::Pending>),
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("failing", &self.failing())
            .finish()
    }
}

impl AuditLog {
    /// Opens the configured sink (`None` when the audit log is off).
    pub fn open(settings: &AuditSettings) -> std::io::Result<Option<Arc<Self>>> {
        let Some(sink) = &settings.sink else {
            return Ok(None);
        };
        let failing = Arc::new(Mutex::new(None));
        let sink = if settings.fsync {
            Sink::Thread(writer::start(sink, true, QUEUE, failing.clone())?)
        } else {
            Sink::Inline(Mutex::new(writer::Output::open(sink)?))
        };
        Ok(Some(Arc::new(Self { sink, failing })))
    }

    /// The last write error, while writes fail.
    pub fn failing(&self) -> Option<String> {
        self.failing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Stores a line; returns once it is written (or failed to be).
    pub async fn write(&self, record: &AuditRecord) -> Result<(), String> {
        let line = serde_json::to_vec(record).map_err(|e| e.to_string())?;
        let tx = match &self.sink {
            Sink::Inline(output) => return writer::write_inline(output, &line, &self.failing),
            Sink::Thread(tx) => tx,
        };
        let (ack, stored) = oneshot::channel();
        let pending = writer::Pending {
            line,
            ack: Some(ack),
        };
        tx.send(pending)
            .await
            .map_err(|_| "the audit writer stopped".to_string())?;
        stored
            .await
            .map_err(|_| "the audit writer stopped".to_string())?
    }

    /// [`AuditLog::write`]; a line that cannot be stored goes to the error
    /// log instead (its parameters are redacted like in the audit log).
    pub async fn store(&self, record: &AuditRecord) -> Result<(), String> {
        let stored = self.write(record).await;
        if let Err(e) = &stored {
            let line = serde_json::to_string(record).unwrap_or_default();
            tracing::error!(error = %e, audit_line = %line, "audit line not written");
        }
        stored
    }

    /// Queues a line without waiting (from `Drop`, when a call is cancelled).
    fn write_detached(&self, record: &AuditRecord) {
        let Ok(line) = serde_json::to_vec(record) else {
            return;
        };
        let tx = match &self.sink {
            Sink::Inline(output) => {
                let _ = writer::write_inline(output, &line, &self.failing);
                return;
            }
            Sink::Thread(tx) => tx,
        };
        if tx.try_send(writer::Pending { line, ack: None }).is_err() {
            tracing::error!(method = %record.method, "audit line of a cancelled call dropped: the queue is full");
        }
    }
}

/// How a call ended, as the audit log tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditOutcome {
    /// The vendor carried it out.
    Succeeded,
    /// Refused before anything was sent to the vendor (authorization,
    /// validation, rate limit, credentials, deadline).
    Rejected,
    /// Sent, and the vendor did not carry it out.
    Failed,
    /// Sent, and no usable answer came back: it may have taken effect.
    Unknown,
}

/// One audit line.
#[derive(Debug, Clone, Serialize)]
pub struct AuditRecord {
    /// When the call finished, RFC 3339 UTC with milliseconds.
    pub time: String,
    /// The authenticated caller (`null` when callers need not authenticate).
    pub caller: Option<String>,
    /// The caller's address.
    pub peer: Option<String>,
    /// The gRPC method.
    pub method: String,
    /// `alibaba` or `tencent`.
    pub vendor: &'static str,
    /// The vendor action.
    pub action: String,
    /// The credential profile (`null` if the call was refused before it was read).
    pub profile: Option<String>,
    /// The region.
    pub region: Option<String>,
    /// The request parameters the caller set, secrets redacted.
    pub params: Option<serde_json::Value>,
    /// The vendor's request id, when it answered.
    pub vendor_request_id: Option<String>,
    /// HTTP attempts sent to the vendor.
    pub attempts: u32,
    /// How the call ended.
    pub outcome: AuditOutcome,
    /// The gRPC code returned, e.g. `OK`, `PERMISSION_DENIED`.
    pub code: &'static str,
    /// The error message returned (no secrets: gateway errors never carry any).
    pub error: Option<String>,
    /// W3C trace id of the call.
    pub trace_id: String,
    /// Wall time of the call, ms.
    pub elapsed_ms: f64,
}

/// The canonical name of a gRPC code.
pub fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "CANCELLED",
        Unknown => "UNKNOWN",
        InvalidArgument => "INVALID_ARGUMENT",
        DeadlineExceeded => "DEADLINE_EXCEEDED",
        NotFound => "NOT_FOUND",
        AlreadyExists => "ALREADY_EXISTS",
        PermissionDenied => "PERMISSION_DENIED",
        ResourceExhausted => "RESOURCE_EXHAUSTED",
        FailedPrecondition => "FAILED_PRECONDITION",
        Aborted => "ABORTED",
        OutOfRange => "OUT_OF_RANGE",
        Unimplemented => "UNIMPLEMENTED",
        Internal => "INTERNAL",
        Unavailable => "UNAVAILABLE",
        DataLoss => "DATA_LOSS",
        Unauthenticated => "UNAUTHENTICATED",
    }
}

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The audit line of one call, filled in as the call proceeds. If the call
/// is dropped before [`AuditGuard::finish`] (the caller went away), the
/// line is still written, with code CANCELLED.
pub struct AuditGuard {
    log: Arc<AuditLog>,
    record: Option<AuditRecord>,
    attempts: Arc<AtomicU32>,
    started: std::time::Instant,
}

impl AuditGuard {
    /// Starts the line of a call.
    pub fn new(log: Arc<AuditLog>, record: AuditRecord, attempts: Arc<AtomicU32>) -> Self {
        Self {
            log,
            record: Some(record),
            attempts,
            started: std::time::Instant::now(),
        }
    }

    /// The line being filled in.
    pub fn record(&mut self) -> &mut AuditRecord {
        self.record
            .as_mut()
            .expect("an audit line is finished once")
    }

    fn close(&mut self, code: tonic::Code, outcome: AuditOutcome) -> AuditRecord {
        let mut r = self.record.take().expect("an audit line is finished once");
        r.time = now_rfc3339();
        r.attempts = self.attempts.load(Ordering::Relaxed);
        r.elapsed_ms = self.started.elapsed().as_secs_f64() * 1000.0;
        r.code = code_name(code);
        r.outcome = outcome;
        r
    }

    /// Writes the line of a finished call and waits until it is stored (see
    /// [`AuditLog::store`]).
    pub async fn finish<T>(mut self, result: &Result<T, GatewayError>) -> Result<(), String> {
        let attempts = self.attempts.load(Ordering::Relaxed);
        let (code, outcome) = match result {
            Ok(_) => (tonic::Code::Ok, AuditOutcome::Succeeded),
            Err(e) => (e.code(), failed_outcome(e, attempts)),
        };
        let mut record = self.close(code, outcome);
        if let Err(e) = result {
            record.error = Some(e.to_string());
            if let Some(id) = e.vendor_request_id() {
                record.vendor_request_id = Some(id.to_string());
            }
        }
        self.log.store(&record).await
    }
}

fn failed_outcome(e: &GatewayError, attempts: u32) -> AuditOutcome {
    if attempts == 0 {
        return AuditOutcome::Rejected;
    }
    match e.outcome() {
        Some(Outcome::Unknown) => AuditOutcome::Unknown,
        _ => AuditOutcome::Failed,
    }
}

impl Drop for AuditGuard {
    fn drop(&mut self) {
        if self.record.is_none() {
            return;
        }
        let sent = self.attempts.load(Ordering::Relaxed) > 0;
        let outcome = if sent {
            AuditOutcome::Unknown
        } else {
            AuditOutcome::Rejected
        };
        let mut record = self.close(tonic::Code::Cancelled, outcome);
        record.error = Some("the caller cancelled the call or went away".into());
        self.log.write_detached(&record);
    }
}

impl AuditRecord {
    /// The finished line of a call refused before the gateway's handler saw
    /// it (tonic refused it: too large, undecodable).
    pub fn refused(
        op: &crate::catalog::Operation,
        trace_id: &str,
        peer: Option<String>,
        profile: Option<String>,
        code: tonic::Code,
        error: String,
    ) -> Self {
        Self {
            time: now_rfc3339(),
            profile,
            code: code_name(code),
            outcome: AuditOutcome::Rejected,
            error: Some(error),
            ..Self::start(op, trace_id, peer)
        }
    }

    /// A new line for a call of `op` (the rest is filled in as the call proceeds).
    pub fn start(op: &crate::catalog::Operation, trace_id: &str, peer: Option<String>) -> Self {
        Self {
            time: String::new(),
            caller: None,
            peer,
            method: op.path.clone(),
            vendor: crate::catalog::vendor_name(op.vendor()),
            action: op.action().to_string(),
            profile: None,
            region: None,
            params: None,
            vendor_request_id: None,
            attempts: 0,
            outcome: AuditOutcome::Rejected,
            code: "UNKNOWN",
            error: None,
            trace_id: trace_id.to_string(),
            elapsed_ms: 0.0,
        }
    }
}
