//! The tonic server: every catalog operation (one generic gateway) in gRPC,
//! gRPC-Web and Connect on the same port, HTTP/1.1 and HTTP/2; gRPC health,
//! server reflection (v1 and v1alpha), and graceful shutdown with a bounded
//! grace period.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_stream::StreamExt;
use tonic::service::interceptor::InterceptedService;
use tonic::{Request, Status};

use crate::gateway::Gateway;

mod connect;
mod connect_error;
mod protocols;
mod routes;
mod tls;
mod web;

pub use connect::{Connect, Encoding as ConnectEncoding};
pub use connect_error::{code_name as connect_code_name, http_status as connect_http_status};
pub use protocols::{Protocol, Protocols};
pub use routes::Dispatch;
pub use tls::TlsSetupError;

/// A server problem at start-up.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The reflection service could not be built.
    #[error("reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    /// The TLS settings could not be used.
    #[error("TLS: {0}")]
    Tls(#[from] TlsSetupError),
    /// The transport failed.
    #[error("gRPC server: {0}")]
    Transport(#[from] tonic::transport::Error),
}

/// Binds the listen address.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, ServeError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })
}

/// Serves on `listener` until `shutdown` completes, then stops accepting and
/// waits up to `grace` for in-flight calls.
pub async fn serve(
    listener: TcpListener,
    gateway: Arc<Gateway>,
    grace: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    let names: Vec<String> = gateway
        .catalog()
        .services()
        .iter()
        .map(|s| s.full_name.clone())
        .collect();
    for name in &names {
        health_reporter
            .set_service_status(name, tonic_health::ServingStatus::Serving)
            .await;
    }
    health_reporter
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;

    // Every loaded file (embedded or from --proto-dir), its imports included.
    let pool = gateway.catalog().encoded_pool();
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(&pool)
            .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection_v1 = reflection().build_v1()?;
    let reflection_v1alpha = reflection().build_v1alpha()?;

    // Health and reflection: open unless `[auth] open_health_and_reflection = false`.
    let auth = gateway.authorizer().cloned();
    let guard = move |request: Request<()>| -> Result<Request<()>, Status> {
        if let Some(auth) = &auth {
            let certs = request.peer_certs();
            auth.check_open_service(request.metadata(), certs.as_deref().map(Vec::as_slice))
                .map_err(Status::from)?;
        }
        Ok(request)
    };

    let limits = gateway.server_settings().clone();
    let max_request = limits.max_request_bytes;
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    // TLS is terminated here (not by tonic, whose ALPN offers h2 only), so
    // HTTP/1.1 callers get the same certificate checks as HTTP/2 ones.
    let acceptor = match gateway.authorizer() {
        Some(auth) => match &auth.settings().tls {
            // With tokens configured, a caller may connect without a
            // certificate and present its token instead.
            Some(tls) => Some(tls::acceptor(tls, !auth.settings().tokens.is_empty())?),
            None => None,
        },
        None => None,
    };
    // Health and reflection by name; every other path goes to the catalog's
    // operations in the protocol its content type names (an unknown path is
    // answered UNIMPLEMENTED there), with CORS answers when configured.
    let routes =
        tonic::service::Routes::new(InterceptedService::new(health_service, guard.clone()))
            .add_service(InterceptedService::new(reflection_v1, guard.clone()))
            .add_service(InterceptedService::new(reflection_v1alpha, guard));
    let vendor = tower::Layer::layer(
        &tower::util::option_layer(web::cors_layer(&limits)),
        Protocols::new(gateway.clone(), max_request),
    );
    let vendor = tower::ServiceExt::map_request(vendor, |req: http::Request<axum::body::Body>| {
        req.map(tonic::body::Body::new)
    });
    let routes =
        tonic::service::Routes::from(routes.into_axum_router().fallback_service(vendor)).prepare();
    let router = tonic::transport::Server::builder()
        // Connect and gRPC-Web callers may speak HTTP/1.1, with or without
        // TLS (ALPN offers h2 and http/1.1); h2c works too.
        .accept_http1(true)
        .max_concurrent_streams(limits.max_concurrent_streams)
        .http2_keepalive_interval(Some(limits.keepalive_interval))
        .http2_keepalive_timeout(Some(limits.keepalive_timeout))
        .add_routes(routes);
    let incoming = limited_incoming(listener, limits.max_connections, limits.handshake_timeout);
    let stop_accepting = stop_rx.clone();
    let stopped = async move {
        let _ = stop_rx.wait_for(|stop| *stop).await;
    };
    let mut server: std::pin::Pin<
        Box<dyn Future<Output = Result<(), tonic::transport::Error>> + Send>,
    > = match acceptor {
        // A stalled TLS handshake must not hold a connection slot either.
        Some(acceptor) => Box::pin(router.serve_with_incoming_shutdown(
            tls::incoming(incoming, acceptor, limits.handshake_timeout, stop_accepting),
            stopped,
        )),
        None => Box::pin(router.serve_with_incoming_shutdown(incoming, stopped)),
    };
    tokio::select! {
        result = &mut server => return result.map_err(ServeError::from),
        () = shutdown => {}
    }
    tracing::info!(
        grace_ms = grace.as_millis() as u64,
        "shutting down: no new calls, finishing in-flight ones"
    );
    for name in &names {
        health_reporter
            .set_service_status(name, tonic_health::ServingStatus::NotServing)
            .await;
    }
    let _ = stop_tx.send(true);
    // Idle client connections may stay open after GOAWAY; wait for the calls
    // in progress (not for the connections), at most the grace period.
    let drained = async {
        tokio::select! {
            result = &mut server => result.map_err(ServeError::from),
            () = gateway.in_flight().wait_idle() => {
                // Let the last responses flush before the connections close.
                let _ = tokio::time::timeout(Duration::from_millis(100), &mut server).await;
                Ok(())
            }
        }
    };
    match tokio::time::timeout(grace, drained).await {
        Ok(result) => result,
        Err(_) => {
            tracing::warn!(
                in_flight = gateway.in_flight().count(),
                "grace period over; abandoning the calls still in flight"
            );
            Ok(())
        }
    }
}

/// Bytes a new connection must send within the handshake timeout: the
/// HTTP/2 client preface is 24 bytes, a TLS ClientHello more (an HTTP/1.1
/// request shorter than this is served; its connection is closed once idle
/// past the timeout).
const SETUP_BYTES: usize = 24;

/// A connection counted against `[server] max_connections` until it closes,
/// closed if its first bytes do not arrive within the handshake timeout (so
/// idle sockets cannot hold every slot).
pub struct LimitedConn {
    stream: tokio::net::TcpStream,
    _permit: tokio::sync::OwnedSemaphorePermit,
    _open: OpenConnection,
    /// Until the peer has sent [`SETUP_BYTES`]: the deadline and bytes so far.
    setup: Option<(std::pin::Pin<Box<tokio::time::Sleep>>, usize)>,
}

/// Counts a connection in `cloudgate_connections_open` while it lives.
struct OpenConnection(metrics::Gauge);

impl OpenConnection {
    fn new() -> Self {
        let g = metrics::gauge!(crate::metrics::CONNECTIONS_OPEN);
        g.increment(1.0);
        Self(g)
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

impl tokio::io::AsyncRead for LimitedConn {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        use std::future::Future;
        use std::task::Poll;
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = std::pin::Pin::new(&mut this.stream).poll_read(cx, buf);
        let Some((deadline, got)) = this.setup.as_mut() else {
            return result;
        };
        match &result {
            Poll::Ready(Ok(())) => {
                let n = buf.filled().len() - before;
                *got += n;
                if *got >= SETUP_BYTES || n == 0 {
                    this.setup = None;
                }
            }
            Poll::Ready(Err(_)) => this.setup = None,
            Poll::Pending => {
                if deadline.as_mut().poll(cx).is_ready() {
                    metrics::counter!(crate::metrics::CONNECTIONS_CLOSED, "reason" => "handshake_timeout").increment(1);
                    return Poll::Ready(Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "the client sent no handshake within server.handshake_timeout_ms",
                    )));
                }
            }
        }
        result
    }
}

impl tokio::io::AsyncWrite for LimitedConn {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

impl tonic::transport::server::Connected for LimitedConn {
    type ConnectInfo = tonic::transport::server::TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.stream.connect_info()
    }
}

/// Accepted connections with TCP_NODELAY, at most `max` open at once: a
/// connection beyond that is closed at once (bounded memory under a flood),
/// and each must start its handshake within `handshake_timeout`.
fn limited_incoming(
    listener: TcpListener,
    max: usize,
    handshake_timeout: Duration,
) -> impl tokio_stream::Stream<Item = std::io::Result<LimitedConn>> {
    let permits = Arc::new(tokio::sync::Semaphore::new(max));
    let last_warning = Arc::new(std::sync::Mutex::new(None::<std::time::Instant>));
    TcpListenerStream::new(listener).filter_map(move |accepted| match accepted {
        Err(e) => Some(Err(e)),
        Ok(stream) => match permits.clone().try_acquire_owned() {
            Ok(permit) => {
                // Small gRPC frames must not wait for Nagle's algorithm.
                let _ = stream.set_nodelay(true);
                Some(Ok(LimitedConn {
                    stream,
                    _permit: permit,
                    _open: OpenConnection::new(),
                    setup: Some((Box::pin(tokio::time::sleep(handshake_timeout)), 0)),
                }))
            }
            Err(_) => {
                metrics::counter!(crate::metrics::CONNECTIONS_CLOSED, "reason" => "max_connections").increment(1);
                // A flood must not become a flood of log lines: one a second.
                let mut last = last_warning.lock().unwrap_or_else(|e| e.into_inner());
                if last.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
                    *last = Some(std::time::Instant::now());
                    tracing::warn!(max, "connection limit reached: closing new connections (see cloudgate_connections_closed_total)");
                }
                None
            }
        },
    })
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
