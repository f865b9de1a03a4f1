//! The innermost tower service: signs one attempt afresh and sends it to the
//! vendor. Rate limiting and retries wrap it as layers.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::Instant;

use crate::catalog::{Catalog, Operation};
use crate::credentials::Credential;
use crate::error::{GatewayError, Outcome};
use crate::translate::WireParams;
use crate::transport::describe_error;
use crate::vendors::{self, Freshness, Target, VendorReply};

/// Largest vendor reply body read (bytes).
pub const MAX_REPLY_BYTES: usize = 4 * 1024 * 1024;

/// One validated call on its way to the vendor; cheap to clone for retries.
#[derive(Debug, Clone)]
pub struct VendorCall {
    /// The operation.
    pub op: Arc<Operation>,
    /// Encoded parameters.
    pub params: Arc<WireParams>,
    /// The credential to sign with.
    pub credential: Arc<Credential>,
    /// The profile the credential belongs to.
    pub profile: Arc<str>,
    /// The authenticated caller's name (`None` when callers need not authenticate).
    pub caller: Option<Arc<str>>,
    /// Where to send it.
    pub target: Arc<Target>,
    /// The caller's deadline.
    pub deadline: Option<Instant>,
    /// Attempts made so far (shared by all clones of the call).
    pub attempts: Arc<AtomicU32>,
}

impl VendorCall {
    /// Time left before the deadline (`None`: no deadline).
    pub fn remaining(&self) -> Option<Duration> {
        self.deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
    }
}

/// Sends calls to the vendors.
#[derive(Clone)]
pub struct Forwarder {
    client: reqwest::Client,
    catalog: Arc<Catalog>,
    default_timeout: Duration,
    max_reply_bytes: usize,
}

impl Forwarder {
    /// A forwarder over a shared client.
    pub fn new(client: reqwest::Client, catalog: Arc<Catalog>, default_timeout: Duration) -> Self {
        Self {
            client,
            catalog,
            default_timeout,
            max_reply_bytes: MAX_REPLY_BYTES,
        }
    }

    /// Reads replies up to `max` bytes instead of [`MAX_REPLY_BYTES`] (credential replies).
    pub fn with_reply_limit(mut self, max: usize) -> Self {
        self.max_reply_bytes = max;
        self
    }

    async fn send(self, call: VendorCall) -> Result<VendorReply, GatewayError> {
        let mutating = call.op.rule.mutating;
        let limit = match call.remaining() {
            Some(left) if left.is_zero() => {
                return Err(GatewayError::DeadlineExceeded {
                    stage: "before the vendor call",
                    outcome: None,
                })
            }
            Some(left) => left.min(self.default_timeout),
            None => self.default_timeout,
        };
        call.attempts.fetch_add(1, Ordering::Relaxed);
        let prepared = vendors::prepare(
            &call.op,
            &call.params,
            &call.credential,
            &call.target,
            &Freshness::new(),
        )?;
        let mut request = self
            .client
            .post(&prepared.url)
            .timeout(limit)
            .body(prepared.body);
        for (name, value) in &prepared.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let mut response = request
            .send()
            .await
            .map_err(|e| self.transport_error(&call, e, mutating))?;
        let status = response.status().as_u16();
        let headers = std::mem::take(response.headers_mut());
        let body = crate::transport::read_limited(response, self.max_reply_bytes)
            .await
            .map_err(|e| self.transport_error(&call, e, mutating))?;
        let body = body.ok_or_else(|| GatewayError::BadVendorResponse {
            host: call.target.host.clone(),
            http_status: status,
            request_id: String::new(),
            reason: format!("reply larger than {} bytes", self.max_reply_bytes),
            outcome: mutating.then_some(Outcome::Unknown),
        })?;
        vendors::interpret(
            &self.catalog,
            &call.op,
            &call.target,
            status,
            &headers,
            &body,
        )
    }

    fn transport_error(
        &self,
        call: &VendorCall,
        err: reqwest::Error,
        mutating: bool,
    ) -> GatewayError {
        let deadline_hit = call.remaining().is_some_and(|d| d.is_zero());
        if err.is_timeout() && deadline_hit {
            return GatewayError::DeadlineExceeded {
                stage: "waiting for the vendor",
                outcome: mutating.then_some(Outcome::Unknown),
            };
        }
        // A failed connect means nothing was sent; anything later may have reached the vendor.
        let outcome = if err.is_connect() {
            Outcome::NotExecuted
        } else {
            Outcome::Unknown
        };
        GatewayError::Transport {
            host: call.target.host.clone(),
            cause: describe_error(err),
            outcome,
            mutating,
        }
    }
}

fn record_attempt(operation: &str, took: Duration, result: &Result<VendorReply, GatewayError>) {
    use crate::metrics as m;
    let outcome = match result {
        Ok(_) => "ok".to_string(),
        Err(GatewayError::Vendor(f)) => {
            metrics::counter!(m::VENDOR_ERRORS, "operation" => operation.to_string(), "code" => f.detail.code.clone())
                .increment(1);
            f.detail.code.clone()
        }
        Err(GatewayError::Transport { .. }) => "transport_error".into(),
        Err(GatewayError::BadVendorResponse { .. }) => "bad_response".into(),
        Err(GatewayError::DeadlineExceeded { .. }) => "deadline_exceeded".into(),
        Err(_) => "not_sent".into(),
    };
    metrics::counter!(m::VENDOR_ATTEMPTS, "operation" => operation.to_string(), "result" => outcome)
        .increment(1);
    metrics::histogram!(m::VENDOR_DURATION, "operation" => operation.to_string())
        .record(took.as_secs_f64());
}

impl tower::Service<VendorCall> for Forwarder {
    type Response = VendorReply;
    type Error = GatewayError;
    type Future = Pin<Box<dyn Future<Output = Result<VendorReply, GatewayError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, call: VendorCall) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let op = call.op.clone();
            let started = std::time::Instant::now();
            let result = this.send(call).await;
            record_attempt(&op.name, started.elapsed(), &result);
            result
        })
    }
}
