//! TLS on the gRPC port, terminated here rather than by tonic: tonic's
//! `ServerTlsConfig` offers ALPN `h2` only, and Connect and gRPC-Web callers
//! may speak HTTP/1.1. The ALPN offer is `h2` then `http/1.1`; the server
//! serves whichever the connection's first bytes show.
//!
//! The streams handed to tonic are `tokio_rustls` server streams, so tonic's
//! own `Connected` impl puts `TlsConnectInfo<TcpConnectInfo>` in each
//! request's extensions: `Request::peer_certs()` and `Request::remote_addr()`
//! keep working.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tokio_stream::{Stream, StreamExt};

use super::LimitedConn;
use crate::config::TlsSettings;

/// ALPN protocols offered, in the server's order of preference.
const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// Connections whose handshake finished, waiting for the server to take them.
const READY_QUEUE: usize = 64;

/// A TLS setting that cannot be used. Key material is never part of a message.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// The server certificate chain could not be read.
    #[error("auth.tls.cert ({path}): no PEM certificate could be read")]
    Certificate {
        /// Where it came from.
        path: String,
    },
    /// The server private key could not be read.
    #[error("auth.tls.key: no PEM private key could be read")]
    Key,
    /// The client CA could not be read.
    #[error("auth.tls.client_ca: no PEM certificate could be read")]
    ClientCa,
    /// The client certificate verifier could not be built.
    #[error("auth.tls.client_ca: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
    /// rustls refused the configuration (e.g. the key does not match).
    #[error("auth.tls: {0}")]
    Rustls(#[from] rustls::Error),
}

fn certificates(pem: &[u8]) -> Option<Vec<CertificateDer<'static>>> {
    CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .ok()
        .filter(|certs| !certs.is_empty())
}

/// The acceptor for `tls`. With a client CA, a client certificate is
/// required, unless `tokens_configured` (then a caller may connect without
/// one and present a bearer token instead).
pub(super) fn acceptor(
    tls: &TlsSettings,
    tokens_configured: bool,
) -> Result<TlsAcceptor, TlsSetupError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(rustls::DEFAULT_VERSIONS)?;
    let builder = match &tls.client_ca_pem {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            let (added, _) =
                roots.add_parsable_certificates(certificates(ca).ok_or(TlsSetupError::ClientCa)?);
            if added == 0 {
                return Err(TlsSetupError::ClientCa);
            }
            let verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone());
            let verifier = if tokens_configured {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            builder.with_client_cert_verifier(verifier.build()?)
        }
    };
    let chain = certificates(&tls.cert_pem).ok_or_else(|| TlsSetupError::Certificate {
        path: tls.cert_path.clone(),
    })?;
    let key = PrivateKeyDer::from_pem_slice(&tls.key_pem).map_err(|_| TlsSetupError::Key)?;
    let mut config = builder.with_single_cert(chain, key)?;
    config.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The TLS connections of `tcp`: each handshake runs in its own task and
/// must finish within `handshake_timeout`, or the connection (and its slot)
/// is dropped. Accept errors pass through as they are. Once `stop` turns
/// true (shutdown) or the server drops the stream, no connection is accepted
/// and the listener closes.
pub(super) fn incoming<S>(
    tcp: S,
    acceptor: TlsAcceptor,
    handshake_timeout: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> impl Stream<Item = io::Result<TlsStream<LimitedConn>>>
where
    S: Stream<Item = io::Result<LimitedConn>> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(READY_QUEUE);
    tokio::spawn(async move {
        let mut tcp = std::pin::pin!(tcp);
        loop {
            // Stop accepting once the server stops taking connections.
            let next = tokio::select! {
                () = tx.closed() => return,
                _ = stop.wait_for(|stop| *stop) => return,
                next = tcp.next() => next,
            };
            let conn = match next {
                None => return,
                Some(Err(e)) => {
                    if tx.send(Err(e)).await.is_err() {
                        return;
                    }
                    continue;
                }
                Some(Ok(conn)) => conn,
            };
            let (tx, acceptor) = (tx.clone(), acceptor.clone());
            tokio::spawn(async move {
                match tokio::time::timeout(handshake_timeout, acceptor.accept(conn)).await {
                    Ok(Ok(stream)) => {
                        let _ = tx.send(Ok(stream)).await;
                    }
                    Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                    Err(_) => {
                        metrics::counter!(crate::metrics::CONNECTIONS_CLOSED, "reason" => "handshake_timeout").increment(1);
                        tracing::debug!(
                            "TLS handshake not finished within server.handshake_timeout_ms"
                        );
                    }
                }
            });
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(rx)
}
