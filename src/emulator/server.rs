//! The accept loop: one hyper HTTP/1 connection task per client, so a fault can close a
//! connection without answering, and a graceful shutdown that drains in-flight calls.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper::Request;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;
use tower::ServiceExt;

/// How long a shutdown waits for in-flight calls (e.g. a long delay fault) before aborting.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// A handle on the connection a request arrived on, put into the request extensions.
#[derive(Clone, Debug)]
pub(crate) struct ConnControl {
    kill: Arc<Notify>,
}

impl ConnControl {
    /// Closes the connection without writing anything more (the pending response included).
    pub(crate) fn drop_connection(&self) {
        self.kill.notify_one();
    }
}

/// Serves `app` on `listener` until `shutdown` turns true (or its sender is dropped), then
/// stops accepting, lets every connection finish its in-flight call and returns.
pub(crate) async fn serve(listener: TcpListener, app: Router, mut shutdown: watch::Receiver<bool>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            biased;
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    break;
                }
            }
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    tracing::trace!(%peer, "emulator connection");
                    connections.spawn(serve_connection(stream, app.clone(), shutdown.clone()));
                }
                Err(e) => {
                    // E.g. too many open files: back off instead of spinning.
                    tracing::warn!(error = %e, "emulator accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    let drain = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(DRAIN_TIMEOUT, drain).await.is_err() {
        tracing::warn!("emulator shutdown: aborting connections still busy");
        connections.abort_all();
        while connections.join_next().await.is_some() {}
    }
}

async fn serve_connection(stream: TcpStream, app: Router, mut shutdown: watch::Receiver<bool>) {
    let kill = Arc::new(Notify::new());
    let control = ConnControl { kill: kill.clone() };
    let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
        req.extensions_mut().insert(control.clone());
        app.clone().oneshot(req)
    });
    // The timer enables hyper's header read timeout (30 s), so a client that never finishes
    // its request headers cannot hold a connection task forever.
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let killed = kill.notified();
    tokio::pin!(killed);
    let mut draining = *shutdown.borrow();
    if draining {
        conn.as_mut().graceful_shutdown();
    }
    loop {
        tokio::select! {
            biased;
            () = &mut killed => {
                // Dropping the connection closes the socket: the client sees no response.
                tracing::debug!("emulator dropped a connection (fault)");
                return;
            }
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "emulator connection ended with an error");
                }
                return;
            }
            changed = shutdown.changed(), if !draining => {
                if changed.is_err() || *shutdown.borrow() {
                    draining = true;
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}
