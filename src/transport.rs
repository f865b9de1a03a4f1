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
