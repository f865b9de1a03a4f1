//! `[server]`: how the gRPC port protects itself (request size, streams,
//! connections, keepalive, deadlines), how long shutdown waits, and which
//! browser origins may call it (`[server.cors]`, for Connect and gRPC-Web).

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
    /// `[server.cors]`: browser origins allowed to call (off when absent).
    pub cors: Option<CorsSection>,
}

/// `[server.cors]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorsSection {
    /// Origins allowed, e.g. `["https://tools.example.org"]`; `["*"]` for any.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// How long a browser may cache a preflight answer, seconds (default 600).
    pub max_age_secs: Option<u64>,
}

/// Which browser origins may call the gateway (Connect and gRPC-Web).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsOrigins {
    /// Any origin (`["*"]`).
    Any,
    /// These origins, exactly as browsers send them (`scheme://host[:port]`).
    List(Vec<http::HeaderValue>),
}

/// Validated `[server.cors]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorsSettings {
    /// The origins allowed.
    pub origins: CorsOrigins,
    /// Preflight cache lifetime.
    pub max_age: Duration,
}

impl CorsSettings {
    /// The origins listed; `None`: any origin.
    pub fn listed_origins(&self) -> Option<&[http::HeaderValue]> {
        match &self.origins {
            CorsOrigins::Any => None,
            CorsOrigins::List(l) => Some(l),
        }
    }
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
    /// Browser origins allowed to call; `None`: no CORS headers (the default).
    pub cors: Option<CorsSettings>,
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
        cors: s.cors.as_ref().map(cors).transpose()?,
    };
    if settings.default_deadline > settings.max_deadline {
        return Err(invalid(
            "server.default_deadline_ms",
            "must not exceed server.max_deadline_ms",
        ));
    }
    Ok(settings)
}

/// Validates `[server.cors]`.
fn cors(c: &CorsSection) -> Result<CorsSettings, ConfigError> {
    const KEY: &str = "server.cors.allowed_origins";
    if c.allowed_origins.is_empty() {
        return Err(invalid(
            KEY,
            "must list at least one origin (or remove [server.cors])",
        ));
    }
    let origins = if c.allowed_origins.iter().any(|o| o == "*") {
        if c.allowed_origins.len() > 1 {
            return Err(invalid(KEY, "\"*\" allows every origin; list nothing else"));
        }
        CorsOrigins::Any
    } else {
        let mut list = Vec::new();
        for o in &c.allowed_origins {
            let parsed = url::Url::parse(o).ok().filter(|u| {
                matches!(u.scheme(), "http" | "https")
                    && u.host_str().is_some()
                    && u.path() == "/"
                    && !o.ends_with('/')
                    && u.query().is_none()
            });
            let value = parsed.and_then(|_| http::HeaderValue::from_str(o).ok());
            match value {
                Some(v) => list.push(v),
                None => {
                    return Err(invalid(
                        KEY,
                        format!("{o:?} is not an origin like https://tools.example.org"),
                    ))
                }
            }
        }
        CorsOrigins::List(list)
    };
    let max_age = Duration::from_secs(c.max_age_secs.unwrap_or(600));
    Ok(CorsSettings { origins, max_age })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml_text: &str) -> Result<ServerSettings, ConfigError> {
        #[derive(Deserialize)]
        struct F {
            server: ServerSection,
        }
        let f: F = toml::from_str(toml_text).unwrap();
        server(&f.server)
    }

    #[test]
    fn cors_is_off_by_default_and_checks_origins() {
        assert_eq!(parse("[server]\n").unwrap().cors, None);
        let s = parse("[server.cors]\nallowed_origins = [\"https://tools.example.org\", \"http://localhost:5173\"]\n")
            .unwrap()
            .cors
            .unwrap();
        assert!(matches!(&s.origins, CorsOrigins::List(l) if l.len() == 2));
        assert_eq!(s.max_age, Duration::from_secs(600));
        let any = parse("[server.cors]\nallowed_origins = [\"*\"]\nmax_age_secs = 5\n").unwrap();
        assert_eq!(any.cors.unwrap().origins, CorsOrigins::Any);
        for bad in [
            "allowed_origins = []",
            "allowed_origins = [\"*\", \"https://a.example\"]",
            "allowed_origins = [\"tools.example.org\"]",
            "allowed_origins = [\"https://a.example/path\"]",
            "allowed_origins = [\"https://a.example/\"]",
        ] {
            let e = parse(&format!("[server.cors]\n{bad}\n")).unwrap_err();
            assert!(
                e.to_string().contains("server.cors.allowed_origins"),
                "{bad}: {e}"
            );
        }
    }
}
