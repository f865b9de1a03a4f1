//! The tower layer and service: take a turn under the call's limits (its
//! caller's own, then the shared one), call the inner service, and feed
//! vendor throttling back into the shared key's back-off.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tower::{Layer, Service, ServiceExt};

use super::RateLimiter;
use crate::catalog::ErrorClass;
use crate::error::GatewayError;
use crate::forward::VendorCall;
use crate::vendors::VendorReply;

/// Adds rate limiting in front of a vendor-call service.
#[derive(Clone)]
pub struct RateLimitLayer {
    limiter: Arc<RateLimiter>,
}

impl RateLimitLayer {
    /// A layer over a shared limiter.
    pub fn new(limiter: Arc<RateLimiter>) -> Self {
        Self { limiter }
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimitService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimitService {
            inner,
            limiter: self.limiter.clone(),
        }
    }
}

/// See [`RateLimitLayer`].
#[derive(Clone)]
pub struct RateLimitService<S> {
    inner: S,
    limiter: Arc<RateLimiter>,
}

impl<S> Service<VendorCall> for RateLimitService<S>
where
    S: Service<VendorCall, Response = VendorReply, Error = GatewayError> + Clone + Send + 'static,
    S::Future: Send,
{
    type Response = VendorReply;
    type Error = GatewayError;
    type Future = Pin<Box<dyn Future<Output = Result<VendorReply, GatewayError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Readiness is decided per call (per key) in `call`.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, call: VendorCall) -> Self::Future {
        let limiter = self.limiter.clone();
        let inner = self.inner.clone();
        Box::pin(async move {
            let key = limiter.admit(&call).await?;
            let result = inner.oneshot(call).await;
            match &result {
                Err(GatewayError::Vendor(f)) if f.class == ErrorClass::Throttled => {
                    let pause = key.on_vendor_throttle(f.retry_after);
                    tracing::warn!(key = %key.id, pause_ms = pause.as_millis() as u64, code = %f.detail.code, "vendor throttled a call; slowing this key down");
                }
                Ok(_) => key.on_vendor_ok(),
                Err(_) => {}
            }
            result
        })
    }
}
