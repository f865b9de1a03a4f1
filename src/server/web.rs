//! Browser callers: gRPC-Web (`application/grpc-web`, `-text`) translated to
//! gRPC by `tonic-web` around the same vendor routes, and the CORS answers
//! `[server.cors]` allows (none unless configured).

use http::{HeaderName, Method};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::config::ServerSettings;

/// Request headers a browser may send: the content type, Connect's and
/// gRPC-Web's own, and the metadata cloudgate reads.
const ALLOWED_HEADERS: &[&str] = &[
    "content-type",
    "connect-protocol-version",
    "connect-timeout-ms",
    "grpc-timeout",
    "x-grpc-web",
    "x-user-agent",
    "authorization",
    "traceparent",
    crate::gateway::PROFILE_HEADER,
    crate::gateway::REGION_HEADER,
];

/// Reply headers a browser script may read (the gRPC-Web status when it
/// comes in headers, a trailers-only reply).
const EXPOSED_HEADERS: &[&str] = &["grpc-status", "grpc-message", "grpc-status-details-bin"];

/// The CORS layer of `[server.cors]`; `None` when it is not configured.
pub fn cors_layer(settings: &ServerSettings) -> Option<CorsLayer> {
    let cors = settings.cors.as_ref()?;
    let origins = match cors.listed_origins() {
        None => AllowOrigin::any(),
        Some(list) => AllowOrigin::list(list.iter().cloned()),
    };
    let names = |list: &[&'static str]| {
        list.iter()
            .map(|h| HeaderName::from_static(h))
            .collect::<Vec<_>>()
    };
    Some(
        CorsLayer::new()
            .allow_origin(origins)
            .allow_methods([Method::GET, Method::POST])
            .allow_headers(names(ALLOWED_HEADERS))
            .expose_headers(names(EXPOSED_HEADERS))
            .max_age(cors.max_age),
    )
}

/// Wraps the gRPC routes so gRPC-Web requests reach them as gRPC.
pub fn grpc_web<S>(inner: S) -> tonic_web::GrpcWebService<S> {
    tower::Layer::layer(&tonic_web::GrpcWebLayer::new(), inner)
}
