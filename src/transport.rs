//! The one pooled HTTPS client (reqwest + rustls) used for every vendor call.
//!
//! Without a proxy in the config, reqwest honours `HTTPS_PROXY`, `HTTP_PROXY`,
//! `ALL_PROXY` and `NO_PROXY` from the environment.

use crate::config::HttpSettings;

/// Builds the shared client.
pub fn build_client(http: &HttpSettings) -> Result<reqwest::Client, reqwest::Error> {
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .https_only(false)
        .connect_timeout(http.connect_timeout)
        .pool_max_idle_per_host(http.pool_max_idle_per_host)
        .tcp_nodelay(true)
        .user_agent(concat!("cloudgate/", env!("CARGO_PKG_VERSION")));
    if let Some(url) = &http.proxy {
        let mut proxy = reqwest::Proxy::all(url.as_str())?;
        if let Some(list) = &http.no_proxy {
            proxy = proxy.no_proxy(reqwest::NoProxy::from_string(list));
        }
        builder = builder.proxy(proxy);
    }
    builder.build()
}

/// Describes a reqwest error with its causes but without the URL (which can
/// carry a signature and an STS token in its query).
pub fn describe_error(err: reqwest::Error) -> String {
    let err = err.without_url();
    let mut text = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// A reply body read up to `max` bytes (`None`: it is longer, and reading
/// stopped there): no reply from a vendor, STS or a metadata service can make
/// the gateway buffer without bound.
pub async fn read_limited(
    mut response: reqwest::Response,
    max: usize,
) -> Result<Option<Vec<u8>>, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > max {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reply_bodies_are_read_up_to_a_bound() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app =
            axum::Router::new().route("/big", axum::routing::get(|| async { "x".repeat(200_000) }));
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        let client = reqwest::Client::new();
        let get = || client.get(format!("http://{addr}/big")).send();
        let small = read_limited(get().await.unwrap(), 64 * 1024).await.unwrap();
        assert!(small.is_none(), "over the bound: not read whole");
        let whole = read_limited(get().await.unwrap(), 256 * 1024)
            .await
            .unwrap();
        assert_eq!(whole.map(|b| b.len()), Some(200_000));
        server.abort();
    }
}
