//! Audit lines for calls of mutating operations that tonic refuses before
//! the gateway's handler runs (a request over `max_request_bytes`, a body
//! that does not decode): a tower wrapper around the vendor routes marks the
//! requests the handler saw and audits the others that failed. It needs the
//! catalog and the audit log, nothing else of the gateway.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use tonic::body::Body;
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};

use crate::catalog::Catalog;
use crate::trace_context::TraceContext;

use super::{AuditLog, AuditRecord};

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

/// Wraps the vendor routes (see the module doc).
#[derive(Clone)]
pub struct AuditRefusals<S> {
    inner: S,
    catalog: Arc<Catalog>,
    log: Option<Arc<AuditLog>>,
}

impl<S> AuditRefusals<S> {
    /// Wraps `inner`; without an audit log it only passes calls through.
    pub fn new(catalog: Arc<Catalog>, log: Option<Arc<AuditLog>>, inner: S) -> Self {
        Self {
            inner,
            catalog,
            log,
        }
    }
}

/// Writes the line of a mutating call refused before the handler saw it.
async fn audit_refused(
    log: &AuditLog,
    op: &crate::catalog::Operation,
    meta: &tonic::metadata::MetadataMap,
    peer: Option<std::net::SocketAddr>,
    code: tonic::Code,
    message: String,
) {
    let trace = TraceContext::from_metadata(meta);
    let profile = crate::gateway::audited_profile(meta);
    let record = AuditRecord::refused(
        op,
        &trace.trace_id,
        peer.map(|p| p.to_string()),
        profile,
        code,
        message,
    );
    let _ = log.store(&record).await;
}

/// The error status of a trailers-only reply (what tonic sends when it
/// refuses a request itself), or of a Connect error reply (which carries
/// its status in the reply's extensions).
fn refusal(resp: &http::Response<Body>) -> Option<tonic::Status> {
    resp.extensions()
        .get::<tonic::Status>()
        .cloned()
        .or_else(|| tonic::Status::from_header_map(resp.headers()))
        .filter(|s| s.code() != tonic::Code::Ok)
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
        let Some(log) = self.log.clone() else {
            return Box::pin(inner.call(req));
        };
        let op = self
            .catalog
            .operation(req.uri().path())
            .filter(|op| op.rule.mutating)
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
        Box::pin(async move {
            let resp = inner.call(req).await?;
            if !reached.reached() {
                if let Some(status) = refusal(&resp) {
                    let message = status.message().to_string();
                    audit_refused(&log, &op, &meta, peer, status.code(), message).await;
                }
            }
            Ok(resp)
        })
    }
}
