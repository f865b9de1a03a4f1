//! The vendor routes: one service for every operation in the catalog. It
//! looks the gRPC path up, decodes the request with the operation's input
//! type ([`DynamicCodec`]) and hands it to the gateway; tonic's
//! [`Grpc`](tonic::server::Grpc) does the framing, compression and trailers.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use prost_reflect::DynamicMessage;
use tonic::body::Body;
use tonic::{Request, Response, Status};

use crate::catalog::Operation;
use crate::codec::DynamicCodec;
use crate::gateway::Gateway;

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Serves every catalog operation (see the module doc).
#[derive(Clone)]
pub struct Dispatch {
    gateway: Arc<Gateway>,
    max_request_bytes: usize,
}

impl Dispatch {
    /// Routes to `gateway`, refusing requests over `max_request_bytes`.
    pub fn new(gateway: Arc<Gateway>, max_request_bytes: usize) -> Self {
        Self {
            gateway,
            max_request_bytes,
        }
    }
}

impl tower::Service<http::Request<Body>> for Dispatch {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        let Some(op) = self.gateway.catalog().operation(req.uri().path()).cloned() else {
            let path = req.uri().path().to_string();
            return Box::pin(async move {
                Ok(Status::unimplemented(format!(
                    "{} is not a method of this gateway (see `cloudgate catalog`)",
                    crate::error::quote(&path)
                ))
                .into_http())
            });
        };
        let gateway = self.gateway.clone();
        let max = self.max_request_bytes;
        Box::pin(async move {
            let codec = DynamicCodec::new(op.input());
            let mut grpc = tonic::server::Grpc::new(codec)
                .max_decoding_message_size(max)
                .max_encoding_message_size(usize::MAX);
            Ok(grpc.unary(Unary { gateway, op }, req).await)
        })
    }
}

/// One call of one operation.
struct Unary {
    gateway: Arc<Gateway>,
    op: Arc<Operation>,
}

impl tonic::server::UnaryService<DynamicMessage> for Unary {
    type Response = DynamicMessage;
    type Future = BoxFuture<Result<Response<DynamicMessage>, Status>>;

    fn call(&mut self, request: Request<DynamicMessage>) -> Self::Future {
        let gateway = self.gateway.clone();
        let op = self.op.clone();
        Box::pin(async move { gateway.handle(op, request).await })
    }
}
