//! Audit lines for calls of mutating operations that tonic refuses before
//! the gateway's handler runs (a request over `max_request_bytes`, a body
//! that does not decode): a tower wrapper around each vendor service marks
//! the requests the handler saw and audits the others that failed.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use tonic::body::Body;
use tonic::server::NamedService;
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};

use crate::gateway::Gateway;

/// Put in a request's extensions; the handler sets it when the call reaches it.
#[derive(Clone, Default)]
pub struct Reached(Arc<AtomicBool>);

impl Reached {
    /// The handler has the call (it writes the audit line itself).
    pub fn mark(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    fn reached(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Wraps a generated vendor service (see the module doc).
#[derive(Clone)]
pub struct AuditRefusals<S> {
    inner: S,
    gateway: Arc<Gateway>,
}

impl<S> AuditRefusals<S> {
    /// Wraps `inner`.
    pub fn new(gateway: Arc<Gateway>, inner: S) -> Self {
        Self { inner, gateway }
    }
}

impl<S: NamedService> NamedService for AuditRefusals<S> {
    const NAME: &'static str = S::NAME;
}

/// The error status of a trailers-only reply (what tonic sends when it
/// refuses a request itself).
fn refusal(resp: &http::Response<Body>) -> Option<tonic::Status> {
    tonic::Status::from_header_map(resp.headers()).filter(|s| s.code() != tonic::Code::Ok)
}

impl<S> tower::Service<http::Request<Body>> for AuditRefusals<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<Body>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let op = self
            .gateway
            .catalog()
            .operation(req.uri().path())
            .filter(|op| op.rule.mutating && self.gateway.audits())
            .cloned();
        let Some(op) = op else {
            return Box::pin(inner.call(req));
        };
        let reached = Reached::default();
        req.extensions_mut().insert(reached.clone());
        let ext = req.extensions();
        let peer = ext
            .get::<TcpConnectInfo>()
            .or_else(|| {
                ext.get::<TlsConnectInfo<TcpConnectInfo>>()
                    .map(TlsConnectInfo::get_ref)
            })
            .and_then(TcpConnectInfo::remote_addr);
        let meta = tonic::metadata::MetadataMap::from_headers(req.headers().clone());
        let gateway = self.gateway.clone();
        Box::pin(async move {
            let resp = inner.call(req).await?;
            if !reached.reached() {
                if let Some(status) = refusal(&resp) {
                    let message = status.message().to_string();
                    gateway
                        .audit_refused(&op, &meta, peer, status.code(), message)
                        .await;
                }
            }
            Ok(resp)
        })
    }
}
