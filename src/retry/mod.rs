//! Retries as a tower layer (`tower::retry`): transient failures are retried
//! with exponential back-off and full jitter, within the caller's deadline and
//! a retry budget (`tower::retry::budget::TpsBudget`), so an outage is never
//! amplified. Placed outside the rate limiter and the signer: every retry is
//! re-signed and takes its turn under the limit again.

mod backoff;
mod policy;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio::time::Instant;
use tower::retry::budget::{Budget, TpsBudget};

use crate::config::RetrySettings;
use crate::error::GatewayError;
use crate::forward::VendorCall;
use crate::vendors::VendorReply;

pub use backoff::delay;
pub use policy::{verdict, Verdict};

/// The layer type.
pub type RetryLayer = tower::retry::RetryLayer<RetryPolicy>;

/// The retry policy: one clone per call (it counts that call's attempts).
#[derive(Clone)]
pub struct RetryPolicy {
    settings: Arc<RetrySettings>,
    budget: Arc<TpsBudget>,
    attempts: u32,
}

impl RetryPolicy {
    /// A policy with a fresh budget.
    pub fn new(settings: RetrySettings) -> Self {
        let budget = TpsBudget::new(
            settings.budget_window,
            settings.budget_min_per_sec,
            settings.budget_ratio,
        );
        Self {
            settings: Arc::new(settings),
            budget: Arc::new(budget),
            attempts: 0,
        }
    }

    /// The layer.
    pub fn layer(self) -> RetryLayer {
        tower::retry::RetryLayer::new(self)
    }
}

impl tower::retry::Policy<VendorCall, VendorReply, GatewayError> for RetryPolicy {
    type Future = Pin<Box<dyn Future<Output = ()> + Send>>;

    fn retry(
        &mut self,
        call: &mut VendorCall,
        result: &mut Result<VendorReply, GatewayError>,
    ) -> Option<Self::Future> {
        self.attempts += 1;
        if self.attempts == 1 {
            self.budget.deposit();
        }
        let err = result.as_ref().err()?;
        let Verdict::Retry(hint) = verdict(&call.op, err) else {
            return None;
        };
        if self.attempts >= self.settings.max_attempts {
            tracing::debug!(attempts = self.attempts, "no retry: attempts exhausted");
            return None;
        }
        let wait = delay(
            self.settings.base_delay,
            self.settings.max_delay,
            self.attempts,
            hint,
        );
        if call.deadline.is_some_and(|d| Instant::now() + wait >= d) {
            tracing::debug!("no retry: the back-off would pass the deadline");
            return None;
        }
        if !self.budget.withdraw() {
            metrics::counter!(crate::metrics::RETRY_BUDGET_EXHAUSTED, "operation" => call.op.name.clone())
                .increment(1);
            tracing::warn!(
                action = call.op.action(),
                "no retry: retry budget exhausted"
            );
            return None;
        }
        metrics::counter!(crate::metrics::RETRIES, "operation" => call.op.name.clone())
            .increment(1);
        tracing::info!(
            action = call.op.action(),
            attempt = self.attempts + 1,
            wait_ms = wait.as_millis() as u64,
            error = %err,
            "retrying"
        );
        Some(Box::pin(tokio::time::sleep(wait)))
    }

    fn clone_request(&mut self, call: &VendorCall) -> Option<VendorCall> {
        Some(call.clone())
    }
}
