//! Helpers shared by the benches.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use cloudgate::catalog::Catalog;
use cloudgate::config::Config;
use cloudgate::credentials::CredentialStore;
use cloudgate::{app, server};

/// Serves a gateway in this process on a loopback port, every product's
/// endpoint at `base` and `extra` appended to its config; returns its address.
pub async fn start_gateway(
    catalog: Arc<Catalog>,
    base: &str,
    credentials: CredentialStore,
    extra: &str,
) -> SocketAddr {
    let mut toml = String::from("[endpoints]\n");
    for k in catalog.endpoint_keys() {
        toml.push_str(&format!("{k} = \"{base}\"\n"));
    }
    toml.push_str(extra);
    let config = Config::from_toml(&toml, "bench", &catalog).unwrap();
    let gateway = app::build(config, catalog, credentials).unwrap();
    let listener = server::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(server::serve(
        listener,
        gateway,
        Duration::from_secs(1),
        std::future::pending(),
    ));
    addr
}

/// This process's resident set size, KiB (0 where /proc is unavailable).
pub fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}
