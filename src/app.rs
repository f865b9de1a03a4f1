//! Assembles a gateway from its parts: HTTP client, forwarder, the tower
//! stack of vendor-call layers, credentials and config.

use std::sync::Arc;

use tower::util::BoxCloneSyncService;
use tower::ServiceBuilder;

use crate::catalog::Catalog;
use crate::config::Config;
use crate::credentials::CredentialStore;
use crate::forward::Forwarder;
use crate::gateway::{Gateway, VendorStack};
use crate::transport::build_client;

/// Builds the vendor-call stack over a forwarder.
pub fn vendor_stack(forwarder: Forwarder) -> VendorStack {
    BoxCloneSyncService::new(ServiceBuilder::new().service(forwarder))
}

/// Builds a gateway.
pub fn build(
    config: Config,
    catalog: Arc<Catalog>,
    credentials: CredentialStore,
) -> Result<Arc<Gateway>, reqwest::Error> {
    let client = build_client(&config.http)?;
    let forwarder = Forwarder::new(
        client,
        catalog.clone(),
        config.alibaba_signature,
        config.http.request_timeout,
    );
    Ok(Arc::new(Gateway::new(
        catalog,
        Arc::new(config),
        Arc::new(credentials),
        vendor_stack(forwarder),
    )))
}
