//! `cloudgate check-config FILE`: validates a config and renders the
//! effective settings (endpoints, regions, credentials with key ids masked,
//! rate limits per operation and profile, retries). Secrets never appear.

use std::fmt::Write;

use crate::catalog::Catalog;
use crate::config::{AlibabaSignature, AuditSink, Config, LogFormat};
use crate::credentials::{CredentialStore, DEFAULT_PROFILE};

fn auth_report(w: &mut String, config: &Config) {
    let Some(a) = &config.auth else {
        let _ = writeln!(w, "auth              off: callers are not authenticated");
        return;
    };
    let tls = match &a.tls {
        None => "plaintext",
        Some(t) if t.client_ca_pem.is_some() => "TLS, client certificates (mutual TLS)",
        Some(_) => "TLS",
    };
    let _ = writeln!(
        w,
        "auth              {tls}, {} token hash(es), {} caller(s), health/reflection {}",
        a.tokens.len(),
        a.callers.len(),
        if a.open_health_and_reflection {
            "open"
        } else {
            "authenticated callers only"
        }
    );
    for c in &a.callers {
        let mut proofs: Vec<String> = c.identities.clone();
        if let Some(t) = &c.token {
            proofs.push(format!("token {t}"));
        }
        let methods: Vec<String> = c.methods.iter().map(pattern_text).collect();
        let limits: Vec<String> = c
            .rate_limits
            .iter()
            .map(|l| format!("{} {}/s", pattern_text(&l.pattern), l.qps))
            .collect();
        let _ = writeln!(
            w,
            "  caller {} ({}): {}; profiles {}{}",
            c.name,
            proofs.join(", "),
            methods.join(", "),
            c.profiles.join(", "),
            if limits.is_empty() {
                String::new()
            } else {
                format!("; own rate limits {}", limits.join(", "))
            }
        );
    }
}

fn pattern_text(m: &crate::config::MethodPattern) -> String {
    match m {
        crate::config::MethodPattern::Exact(p) => p.trim_start_matches('/').to_string(),
        crate::config::MethodPattern::Service(s) => format!("{s}/*"),
    }
}

/// The effective settings, as text.
pub fn report(config: &Config, catalog: &Catalog, credentials: &CredentialStore) -> String {
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(w, "listen            {}", config.listen);
    let _ = writeln!(
        w,
        "admin             {}",
        config
            .admin_listen
            .map_or("off".to_string(), |a| format!("http://{a}/metrics"))
    );
    let _ = writeln!(
        w,
        "log format        {}",
        match config.log_format {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
    );
    let _ = writeln!(
        w,
        "audit log         {}",
        match &config.audit.sink {
            None => "off".to_string(),
            Some(AuditSink::Stdout) => "stdout (mutating calls, one JSON line each)".to_string(),
            Some(AuditSink::File(p)) => format!(
                "{} (mutating calls, one JSON line each{})",
                p.display(),
                if config.audit.fsync {
                    ", fsync before each reply"
                } else {
                    ""
                }
            ),
        }
    );
    let _ = writeln!(
        w,
        "alibaba signing   {}",
        match config.alibaba_signature {
            AlibabaSignature::Acs3 => "ACS3-HMAC-SHA256",
            AlibabaSignature::RpcV1 => "RPC v1 (HMAC-SHA1)",
        }
    );
    let proxy = config.http.proxy.as_ref().map_or(
        "from environment (HTTPS_PROXY/NO_PROXY)".to_string(),
        |p| {
            let mut shown = p.clone();
            let _ = shown.set_password(p.password().map(|_| "****"));
            shown.to_string()
        },
    );
    let _ = writeln!(w, "proxy             {proxy}");
    let _ = writeln!(
        w,
        "timeouts          connect {:?}, vendor call {:?} (when the caller sets no deadline), shutdown grace {:?}",
        config.http.connect_timeout, config.http.request_timeout, config.shutdown_grace
    );

    let sv = &config.server;
    let _ = writeln!(
        w,
        "server limits     request {} bytes, {} streams/connection, {} connections (handshake within {:?}), keepalive {:?}/{:?}, deadline default {:?} max {:?}",
        sv.max_request_bytes,
        sv.max_concurrent_streams,
        sv.max_connections,
        sv.handshake_timeout,
        sv.keepalive_interval,
        sv.keepalive_timeout,
        sv.default_deadline,
        sv.max_deadline
    );
    let cors = match &sv.cors {
        None => "off (no browser origin may call)".to_string(),
        Some(c) => match c.listed_origins() {
            None => format!("any origin, preflight cached {:?}", c.max_age),
            Some(list) => format!(
                "{}, preflight cached {:?}",
                list.iter()
                    .map(|o| String::from_utf8_lossy(o.as_bytes()).into_owned())
                    .collect::<Vec<_>>()
                    .join(", "),
                c.max_age
            ),
        },
    };
    let _ = writeln!(
        w,
        "protocols         gRPC, gRPC-Web and Connect on the listen port (HTTP/1.1 and HTTP/2); CORS {cors}"
    );
    auth_report(w, config);
    let loaded = catalog.loaded_files().len();
    let _ = writeln!(
        w,
        "catalog           {} operations of {} services ({} files loaded from {})",
        catalog.operations().len(),
        catalog.services().len(),
        loaded,
        if config.proto_dirs.is_empty() {
            "no --proto-dir".to_string()
        } else {
            config
                .proto_dirs
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        }
    );
    let _ = writeln!(w, "\nproducts");
    for s in catalog.services() {
        let region = s
            .configured(&config.regions)
            .cloned()
            .unwrap_or_else(|| s.rule.default_region.clone());
        let endpoint = s
            .configured(&config.endpoints)
            .map(|u| format!("{u} (override)"))
            .unwrap_or_else(|| format!("https://{}/", s.host_for(&region)));
        let _ = writeln!(w, "  {:<22} {endpoint}  region {region}", s.qualified_key());
    }

    let _ = writeln!(w, "\ncredentials");
    for (profile, vendor, what) in credentials.describe() {
        let _ = writeln!(w, "  {profile:<12} {vendor:<8} {what}");
    }

    let r = &config.ratelimit;
    let _ = writeln!(
        w,
        "\nrate limits       max wait {:?}, max waiting {}, safety margin {}%, {}",
        r.max_wait,
        r.max_waiting,
        r.safety_margin * 100.0,
        match &r.redis {
            Some(url) => format!(
                "shared in Redis {} by {} replicas",
                mask_url(url),
                r.replicas
            ),
            None => "local to this replica".to_string(),
        }
    );
    let mut profiles: Vec<&str> = vec![DEFAULT_PROFILE];
    profiles.extend(
        config
            .profiles
            .keys()
            .map(String::as_str)
            .filter(|p| *p != DEFAULT_PROFILE),
    );
    // Every operation while the catalog is small; with thousands loaded,
    // those with a documented or configured figure, and a count of the rest.
    let small = catalog.operations().len() <= 64;
    let mut at_default = 0usize;
    for op in catalog.operations() {
        for profile in &profiles {
            let l = r.limit_for(&op.path, op.rule.documented_qps, profile);
            if !small && l.source == "default" {
                at_default += 1;
                continue;
            }
            let _ = writeln!(
                w,
                "  {:<22} {:<10} {:>7.2}/s  burst {}  ({}{})  key {}",
                op.name,
                profile,
                l.qps,
                l.burst,
                l.source,
                if l.shadow { ", shadow" } else { "" },
                config.account_key(profile, op.vendor()),
            );
        }
    }
    if at_default > 0 {
        let _ = writeln!(
            w,
            "  {at_default} more (operation, profile) pairs at default_qps {}/s",
            r.default_qps
        );
    }
    let t = &config.retry;
    let _ = writeln!(
        w,
        "\nretries           {} attempts, back-off {:?}..{:?} full jitter, budget {}% over {:?} (+{}/s)",
        t.max_attempts,
        t.base_delay,
        t.max_delay,
        t.budget_ratio * 100.0,
        t.budget_window,
        t.budget_min_per_sec
    );
    out
}

fn mask_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("****"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_effective_settings_without_secrets() {
        let catalog = Catalog::load().unwrap();
        let config = Config::from_toml(
            "[endpoints]\nsddp = \"http://127.0.0.1:18080\"\n\
             [http]\nproxy = \"http://user:proxypass@proxy:3128\"\n\
             [ratelimit]\nredis = \"redis://:redispass@10.0.0.5:6379/0\"\nreplicas = 3\n\
             [profiles.ops.alibaba]\naccess_key_id = \"LTAIsecretid\"\naccess_key_secret = \"topsecret\"\naccount_id = \"42\"\n",
            "t",
            &catalog,
        )
        .unwrap();
        let store = CredentialStore::from_config(&config, &|_| None, None);
        let text = report(&config, &catalog, &store);
        for secret in ["topsecret", "LTAIsecretid", "proxypass", "redispass"] {
            assert!(!text.contains(secret), "{secret} leaked:\n{text}");
        }
        assert!(
            text.contains("http://127.0.0.1:18080/ (override)"),
            "{text}"
        );
        assert!(
            text.contains("https://cloudsso.cn-shanghai.aliyuncs.com/"),
            "{text}"
        );
        assert!(text.contains("LTAI****"), "{text}");
        assert!(text.contains("DescribeUserStatus"), "{text}");
        assert!(text.contains("key account:42"), "{text}");
        assert!(text.contains("by 3 replicas"), "{text}");
        assert!(text.contains("request 65536 bytes"), "{text}");
    }
}
