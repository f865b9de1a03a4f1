//! `[server]`: how the gRPC port protects itself (request size, streams,
//! connections, keepalive, deadlines) and how long shutdown waits.

use std::time::Duration;

use serde::Deserialize;

use super::{invalid, positive_ms as ms, ConfigError};

/// `[server]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    /// How long shutdown waits for in-flight calls, ms (default 10000).
    pub shutdown_grace_ms: Option<u64>,
    /// Largest request message accepted, bytes (default 65536).
    pub max_request_bytes: Option<usize>,
    /// Concurrent calls (HTTP/2 streams) per connection (default 256).
    pub max_concurrent_streams: Option<u32>,
    /// Open client connections (default 1024); more are closed on accept.
    pub max_connections: Option<usize>,
    /// A new connection must send its first bytes (TLS ClientHello or the
    /// HTTP/2 preface), and finish its TLS handshake, within this, ms, or it
    /// is closed (default 10000).
    pub handshake_timeout_ms: Option<u64>,
    /// HTTP/2 keepalive ping interval, ms (default 30000).
    pub keepalive_interval_ms: Option<u64>,
    /// HTTP/2 keepalive ping timeout, ms (default 10000).
    pub keepalive_timeout_ms: Option<u64>,
    /// Deadline of a call whose caller sets none, ms (default 30000).
    pub default_deadline_ms: Option<u64>,
    /// Longest deadline honoured; longer ones are shortened, ms (default 300000).
    pub max_deadline_ms: Option<u64>,
}

/// Validated `[server]` settings.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// Shutdown grace period.
    pub shutdown_grace: Duration,
    /// Largest request message.
    pub max_request_bytes: usize,
    /// Streams per connection.
    pub max_concurrent_streams: u32,
    /// Open connections.
    pub max_connections: usize,
    /// Time a new connection has to send its first bytes.
    pub handshake_timeout: Duration,
    /// Keepalive interval.
    pub keepalive_interval: Duration,
    /// Keepalive timeout.
    pub keepalive_timeout: Duration,
    /// Deadline when the caller sets none.
    pub default_deadline: Duration,
    /// Longest deadline honoured.
    pub max_deadline: Duration,
}

fn count<T: PartialOrd + From<u8> + Copy>(
    key: &str,
    v: Option<T>,
    default: T,
) -> Result<T, ConfigError> {
    match v {
        Some(n) if n < T::from(1) => Err(invalid(key, "must be at least 1")),
        Some(n) => Ok(n),
        None => Ok(default),
    }
}

/// Validates `[server]`.
pub fn server(s: &ServerSection) -> Result<ServerSettings, ConfigError> {
    let settings = ServerSettings {
        shutdown_grace: ms("server.shutdown_grace_ms", s.shutdown_grace_ms, 10_000)?,
        max_request_bytes: count("server.max_request_bytes", s.max_request_bytes, 64 * 1024)?,
        max_concurrent_streams: count(
            "server.max_concurrent_streams",
            s.max_concurrent_streams,
            256,
        )?,
        max_connections: count("server.max_connections", s.max_connections, 1024)?,
        handshake_timeout: ms(
            "server.handshake_timeout_ms",
            s.handshake_timeout_ms,
            10_000,
        )?,
        keepalive_interval: ms(
            "server.keepalive_interval_ms",
            s.keepalive_interval_ms,
            30_000,
        )?,
        keepalive_timeout: ms(
            "server.keepalive_timeout_ms",
            s.keepalive_timeout_ms,
            10_000,
        )?,
        default_deadline: ms("server.default_deadline_ms", s.default_deadline_ms, 30_000)?,
        max_deadline: ms("server.max_deadline_ms", s.max_deadline_ms, 300_000)?,
    };
    if settings.default_deadline > settings.max_deadline {
        return Err(invalid(
            "server.default_deadline_ms",
            "must not exceed server.max_deadline_ms",
        ));
    }
    Ok(settings)
}
