//! Which protocol a request on a vendor path speaks, by its content type:
//! `application/grpc-web*` gRPC-Web, `application/grpc*` gRPC, anything
//! else Connect (which refuses content types it does not know). All three
//! end in the same [`Gateway::handle`](crate::gateway::Gateway::handle).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tonic::body::Body;
use tower::ServiceExt;

use super::connect::Connect;
use super::routes::Dispatch;
use crate::audit::AuditRefusals;
use crate::gateway::Gateway;

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// The protocol of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// gRPC over HTTP/2.
    Grpc,
    /// gRPC-Web, HTTP/1.1 or HTTP/2.
    GrpcWeb,
    /// Connect unary, HTTP/1.1 or HTTP/2.
    Connect,
}

impl Protocol {
    /// The protocol a request's headers say it speaks.
    pub fn of(headers: &http::HeaderMap) -> Self {
        let content_type = headers
            .get(http::header::CONTENT_TYPE)
            .map(|v| v.as_bytes())
            .unwrap_or_default();
        let starts = |prefix: &[u8]| {
            content_type.len() >= prefix.len()
                && content_type[..prefix.len()].eq_ignore_ascii_case(prefix)
        };
        if starts(b"application/grpc-web") {
            Protocol::GrpcWeb
        } else if starts(b"application/grpc") {
            Protocol::Grpc
        } else {
            Protocol::Connect
        }
    }
}

/// Serves every vendor path in all three protocols (see the module doc).
#[derive(Clone)]
pub struct Protocols {
    grpc: AuditRefusals<Dispatch>,
    web: tonic_web::GrpcWebService<AuditRefusals<Dispatch>>,
    connect: AuditRefusals<Connect>,
}

impl Protocols {
    /// The three protocols over `gateway`, requests at most `max_request_bytes`.
    pub fn new(gateway: Arc<Gateway>, max_request_bytes: usize) -> Self {
        let grpc = audited(&gateway, Dispatch::new(gateway.clone(), max_request_bytes));
        let connect = audited(&gateway, Connect::new(gateway.clone(), max_request_bytes));
        Self {
            web: super::web::grpc_web(grpc.clone()),
            grpc,
            connect,
        }
    }
}

/// `inner` with the audit of mutating calls refused before the handler.
fn audited<S>(gateway: &Gateway, inner: S) -> AuditRefusals<S> {
    AuditRefusals::new(
        gateway.catalog().clone(),
        gateway.audit_log().cloned(),
        inner,
    )
}

impl tower::Service<http::Request<Body>> for Protocols {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // Each protocol's service is always ready; `oneshot` checks anyway.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut req: http::Request<Body>) -> Self::Future {
        req.extensions_mut()
            .insert(crate::gateway::Arrival(std::time::Instant::now()));
        match Protocol::of(req.headers()) {
            Protocol::Grpc => Box::pin(self.grpc.clone().oneshot(req)),
            Protocol::GrpcWeb => Box::pin(self.web.clone().oneshot(req)),
            Protocol::Connect => Box::pin(self.connect.clone().oneshot(req)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_type_picks_the_protocol() {
        let of = |ct: Option<&'static str>| {
            let mut h = http::HeaderMap::new();
            if let Some(ct) = ct {
                h.insert(http::header::CONTENT_TYPE, ct.parse().unwrap());
            }
            Protocol::of(&h)
        };
        assert_eq!(of(Some("application/grpc")), Protocol::Grpc);
        assert_eq!(of(Some("application/grpc+proto")), Protocol::Grpc);
        assert_eq!(of(Some("application/grpc-web")), Protocol::GrpcWeb);
        assert_eq!(
            of(Some("application/grpc-web-text+proto")),
            Protocol::GrpcWeb
        );
        assert_eq!(of(Some("application/json")), Protocol::Connect);
        assert_eq!(of(Some("text/plain")), Protocol::Connect);
        assert_eq!(of(None), Protocol::Connect);
    }
}
