//! Assembles a gateway from its parts: HTTP client, forwarder, the tower
//! stack of vendor-call layers, credentials and config.

use std::sync::Arc;

use tower::util::BoxCloneSyncService;
use tower::ServiceBuilder;

use crate::audit::AuditLog;
use crate::catalog::Catalog;
use crate::config::Config;
use crate::credentials::CredentialStore;
use crate::forward::Forwarder;
use crate::gateway::{Gateway, VendorStack};
use crate::ratelimit::{RateLimitLayer, RateLimiter};
use crate::retry::RetryPolicy;
use crate::transport::build_client;

/// A gateway could not be assembled.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The HTTP client.
    #[error("HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    /// The Redis URL.
    #[error("rate limiter: {0}")]
    Redis(#[from] crate::ratelimit::RedisDown),
    /// The audit log file.
    #[error("audit.path: cannot open the audit log: {0}")]
    Audit(std::io::Error),
}

/// Builds the vendor-call stack: retries outside the rate limiter outside the
/// forwarder, so every attempt is limited and signed afresh.
pub fn vendor_stack(
    forwarder: Forwarder,
    limiter: Arc<RateLimiter>,
    retry: RetryPolicy,
) -> VendorStack {
    BoxCloneSyncService::new(
        ServiceBuilder::new()
            .layer(retry.layer())
            .layer(RateLimitLayer::new(limiter))
            .service(forwarder),
    )
}

/// The stack of calls the gateway makes for itself (STS): retries around the
/// forwarder, outside callers' rate limits.
pub fn retrying(forwarder: Forwarder, retry: RetryPolicy) -> VendorStack {
    BoxCloneSyncService::new(
        ServiceBuilder::new()
            .layer(retry.layer())
            .service(forwarder),
    )
}

/// Builds a gateway.
pub fn build(
    config: Config,
    catalog: Arc<Catalog>,
    credentials: CredentialStore,
) -> Result<Arc<Gateway>, BuildError> {
    let client = build_client(&config.http)?;
    let audit = AuditLog::open(&config.audit).map_err(BuildError::Audit)?;
    let config = Arc::new(config);
    let limiter = Arc::new(RateLimiter::new(config.clone())?);
    let retry = RetryPolicy::new(config.retry.clone());
    let forwarder = Forwarder::new(client, catalog.clone(), config.http.request_timeout);
    Ok(Arc::new(
        Gateway::new(
            catalog,
            config,
            Arc::new(credentials),
            vendor_stack(forwarder, limiter.clone(), retry),
            limiter,
        )
        .with_audit(audit),
    ))
}
