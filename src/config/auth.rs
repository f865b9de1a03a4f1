//! `[auth]`: TLS for the gRPC port (optionally mutual), bearer token hashes and
//! per-caller rules (which methods, which credential profiles).

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use super::limits::check_qps;
use super::{invalid, ConfigError};
use crate::catalog::Catalog;

/// `[auth]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSection {
    /// `[auth.tls]`: serve TLS; with `client_ca`, require client certificates.
    pub tls: Option<TlsSection>,
    /// `[auth.tokens.NAME]`: bearer tokens, by SHA-256 hash.
    #[serde(default)]
    pub tokens: BTreeMap<String, TokenSection>,
    /// `[[auth.callers]]`: who may call what.
    #[serde(default)]
    pub callers: Vec<CallerSection>,
    /// Whether gRPC health and reflection answer unauthenticated callers (default true).
    pub open_health_and_reflection: Option<bool>,
}

/// `[auth.tls]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSection {
    /// PEM certificate chain of the server.
    pub cert: String,
    /// PEM private key of the server.
    pub key: String,
    /// PEM CA certificate(s) that sign client certificates (mutual TLS).
    pub client_ca: Option<String>,
}

/// `[auth.tokens.NAME]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenSection {
    /// Hex SHA-256 of the bearer token.
    pub sha256: String,
}

/// `[[auth.callers]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallerSection {
    /// The caller's name (in logs and errors).
    pub name: String,
    /// Client certificate identities: SAN URI or DNS name, or `CN=<subject CN>`.
    #[serde(default)]
    pub identities: Vec<String>,
    /// Name of an `[auth.tokens]` entry.
    pub token: Option<String>,
    /// `pkg.Service/Method` or `pkg.Service/*`.
    #[serde(default)]
    pub methods: Vec<String>,
    /// Credential profiles the caller may use (default `["default"]`).
    pub profiles: Option<Vec<String>>,
    /// This caller's own rates: method pattern (as in `methods`) to calls/s.
    #[serde(default)]
    pub rate_limits: BTreeMap<String, f64>,
}

/// Server TLS material, read at start-up.
#[derive(Clone)]
pub struct TlsSettings {
    /// PEM certificate chain.
    pub cert_pem: Vec<u8>,
    /// PEM private key (never printed).
    pub key_pem: Vec<u8>,
    /// PEM client CA, when client certificates are required.
    pub client_ca_pem: Option<Vec<u8>>,
    /// Where they came from (for messages).
    pub cert_path: String,
}

impl std::fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsSettings")
            .field("cert", &self.cert_path)
            .field("key", &"<redacted>")
            .field("client_ca", &self.client_ca_pem.is_some())
            .finish()
    }
}

/// A method pattern of a caller rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MethodPattern {
    /// One method, as its gRPC path `/pkg.Service/Method`.
    Exact(String),
    /// Every method of a service, `pkg.Service`.
    Service(String),
}

impl MethodPattern {
    /// Whether the gRPC path `/pkg.Service/Method` matches.
    pub fn matches(&self, path: &str) -> bool {
        match self {
            MethodPattern::Exact(p) => p == path,
            MethodPattern::Service(s) => path
                .strip_prefix('/')
                .and_then(|rest| rest.strip_prefix(s.as_str()))
                .is_some_and(|rest| rest.starts_with('/')),
        }
    }
}

/// One caller, validated.
#[derive(Debug, Clone)]
pub struct CallerRule {
    /// Name.
    pub name: String,
    /// Certificate identities.
    pub identities: Vec<String>,
    /// Token name.
    pub token: Option<String>,
    /// Allowed methods.
    pub methods: Vec<MethodPattern>,
    /// Allowed profiles.
    pub profiles: Vec<String>,
    /// The caller's own rates, below the shared per-account limits.
    pub rate_limits: Vec<CallerLimit>,
}

/// A per-caller rate: this caller's calls of each matching method, per second
/// (each method of a service wildcard has its own budget).
#[derive(Debug, Clone, PartialEq)]
pub struct CallerLimit {
    /// Which methods.
    pub pattern: MethodPattern,
    /// Calls per second.
    pub qps: f64,
}

impl CallerRule {
    /// The caller's own rate for the gRPC path `/pkg.Service/Method`, if it
    /// has one: an exact method beats a service wildcard.
    pub fn rate_limit_for(&self, path: &str) -> Option<f64> {
        let matching = || self.rate_limits.iter().filter(|l| l.pattern.matches(path));
        matching()
            .find(|l| matches!(l.pattern, MethodPattern::Exact(_)))
            .or_else(|| matching().next())
            .map(|l| l.qps)
    }
}

/// Validated `[auth]`.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// TLS of the gRPC port.
    pub tls: Option<TlsSettings>,
    /// Token hashes by name (hashes only; the tokens are never known).
    pub tokens: BTreeMap<String, [u8; 32]>,
    /// Caller rules.
    pub callers: Vec<CallerRule>,
    /// Whether health and reflection stay open.
    pub open_health_and_reflection: bool,
}

impl AuthSettings {
    /// Whether callers must authenticate (client certificates or tokens).
    pub fn authenticates_callers(&self) -> bool {
        !self.callers.is_empty()
    }
}

fn read_pem(key: &str, path: &str, want: &str) -> Result<Vec<u8>, ConfigError> {
    let bytes =
        std::fs::read(path).map_err(|e| invalid(key, format!("cannot read {path}: {e}")))?;
    let text = String::from_utf8_lossy(&bytes);
    if !text.contains("-----BEGIN ") || !text.contains(want) {
        return Err(invalid(key, format!("{path} holds no PEM {want}")));
    }
    Ok(bytes)
}

fn read_cert(key: &str, path: &str) -> Result<Vec<u8>, ConfigError> {
    let bytes = read_pem(key, path, "CERTIFICATE")?;
    let mut rest: &[u8] = &bytes;
    let mut n = 0;
    while let Ok((remaining, pem)) = x509_parser::pem::parse_x509_pem(rest) {
        if pem.label == "CERTIFICATE" {
            pem.parse_x509()
                .map_err(|e| invalid(key, format!("{path}: bad certificate: {e}")))?;
            n += 1;
        }
        rest = remaining;
    }
    if n == 0 {
        return Err(invalid(key, format!("{path} holds no PEM CERTIFICATE")));
    }
    Ok(bytes)
}

fn pattern(text: &str, catalog: &Catalog) -> Result<MethodPattern, String> {
    let (service, method) = text
        .trim_start_matches('/')
        .split_once('/')
        .ok_or_else(|| format!("{text:?} is not pkg.Service/Method or pkg.Service/*"))?;
    let known = catalog.services().iter().any(|s| s.full_name == service);
    if !known {
        return Err(format!("{text:?}: no service {service:?} in the catalog"));
    }
    if method == "*" {
        return Ok(MethodPattern::Service(service.to_string()));
    }
    let path = format!("/{service}/{method}");
    if catalog.operation(&path).is_none() {
        return Err(format!("{text:?}: no method {method:?} in {service}"));
    }
    Ok(MethodPattern::Exact(path))
}

/// Whether some operation matched by `p` is one the caller may call.
fn overlaps(p: &MethodPattern, allowed: &[MethodPattern], catalog: &Catalog) -> bool {
    catalog
        .operations()
        .iter()
        .map(|op| op.path.as_str())
        .filter(|path| p.matches(path))
        .any(|path| allowed.iter().any(|a| a.matches(path)))
}

/// Validates a caller's `rate_limits` (`at`: `auth.callers[N]`) against the
/// catalog and the methods it may call.
fn caller_limits(
    at: &str,
    limits: &BTreeMap<String, f64>,
    allowed: &[MethodPattern],
    catalog: &Catalog,
) -> Result<Vec<CallerLimit>, ConfigError> {
    let mut out: Vec<CallerLimit> = Vec::new();
    for (text, &qps) in limits {
        let key = format!("{at}.rate_limits.{text:?}");
        let pattern = pattern(text, catalog).map_err(|e| invalid(&key, e))?;
        check_qps(&key, qps)?;
        if !overlaps(&pattern, allowed, catalog) {
            return Err(invalid(
                &key,
                "the caller may not call these methods (not in its `methods`)",
            ));
        }
        if out.iter().any(|l| l.pattern == pattern) {
            return Err(invalid(&key, "repeats another entry's methods"));
        }
        out.push(CallerLimit { pattern, qps });
    }
    Ok(out)
}

/// Validates `[auth]` (`profiles` are the declared credential profiles).
pub fn auth(
    a: &AuthSection,
    catalog: &Catalog,
    profiles: &BTreeSet<String>,
) -> Result<AuthSettings, ConfigError> {
    let tls = match &a.tls {
        None => None,
        Some(t) => Some(TlsSettings {
            cert_pem: read_cert("auth.tls.cert", &t.cert)?,
            key_pem: read_pem("auth.tls.key", &t.key, "PRIVATE KEY")?,
            client_ca_pem: match &t.client_ca {
                None => None,
                Some(p) => Some(read_cert("auth.tls.client_ca", p)?),
            },
            cert_path: t.cert.clone(),
        }),
    };
    let mut tokens = BTreeMap::new();
    for (name, t) in &a.tokens {
        let key = format!("auth.tokens.{name}.sha256");
        let bytes = hex::decode(t.sha256.trim()).map_err(|_| {
            invalid(
                &key,
                "is not hex (make it with: printf %s \"$TOKEN\" | sha256sum)",
            )
        })?;
        let hash: [u8; 32] = bytes
            .try_into()
            .map_err(|_| invalid(&key, "must be 64 hex digits (a SHA-256)"))?;
        tokens.insert(name.clone(), hash);
    }
    let mtls = tls.as_ref().is_some_and(|t| t.client_ca_pem.is_some());
    let mut names = BTreeSet::new();
    let mut callers = Vec::new();
    for (i, c) in a.callers.iter().enumerate() {
        let at = format!("auth.callers[{i}]");
        if c.name.trim().is_empty() {
            return Err(invalid(format!("{at}.name"), "must not be empty"));
        }
        if !names.insert(c.name.clone()) {
            return Err(invalid(
                format!("{at}.name"),
                format!("{:?} is declared twice", c.name),
            ));
        }
        if c.identities.is_empty() && c.token.is_none() {
            return Err(invalid(
                &at,
                format!("caller {:?} has neither identities nor a token", c.name),
            ));
        }
        if !c.identities.is_empty() && !mtls {
            return Err(invalid(
                format!("{at}.identities"),
                "certificate identities need [auth.tls] with client_ca",
            ));
        }
        if c.identities.iter().any(|id| id.trim().is_empty()) {
            return Err(invalid(format!("{at}.identities"), "has an empty identity"));
        }
        if let Some(token) = &c.token {
            if !tokens.contains_key(token) {
                return Err(invalid(
                    format!("{at}.token"),
                    format!("no [auth.tokens.{token}]"),
                ));
            }
        }
        if c.methods.is_empty() {
            return Err(invalid(
                format!("{at}.methods"),
                "must list at least one method",
            ));
        }
        let methods = c
            .methods
            .iter()
            .map(|m| pattern(m, catalog))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| invalid(format!("{at}.methods"), e))?;
        let allowed = c
            .profiles
            .clone()
            .unwrap_or_else(|| vec![super::DEFAULT_PROFILE.to_string()]);
        for p in &allowed {
            if p != super::DEFAULT_PROFILE && !profiles.contains(p) {
                return Err(invalid(
                    format!("{at}.profiles"),
                    format!("no profile {p:?} in [profiles]"),
                ));
            }
        }
        let rate_limits = caller_limits(&at, &c.rate_limits, &methods, catalog)?;
        callers.push(CallerRule {
            name: c.name.clone(),
            identities: c.identities.clone(),
            token: c.token.clone(),
            methods,
            profiles: allowed,
            rate_limits,
        });
    }
    if !a.tokens.is_empty() && callers.is_empty() {
        return Err(invalid(
            "auth.callers",
            "tokens are declared but no caller uses them",
        ));
    }
    Ok(AuthSettings {
        tls,
        tokens,
        callers,
        open_health_and_reflection: a.open_health_and_reflection.unwrap_or(true),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_patterns() {
        let s = MethodPattern::Service("aliyun.sddp.v20190103.Sddp".into());
        assert!(s.matches("/aliyun.sddp.v20190103.Sddp/DescribeUserStatus"));
        assert!(!s.matches("/aliyun.sddp.v20190103.SddpX/DescribeUserStatus"));
        let catalog = Catalog::load().unwrap();
        assert!(pattern("aliyun.sddp.v20190103.Sddp/*", &catalog).is_ok());
        assert!(pattern("tencentcloud.dlc.v20210125.Dlc/ModifyUserType", &catalog).is_ok());
        for bad in ["Sddp", "nope.Svc/*", "aliyun.sddp.v20190103.Sddp/Nope"] {
            assert!(pattern(bad, &catalog).is_err(), "{bad}");
        }
    }

    const BSS: &str = "aliyun.bssopenapi.v20171214.BssOpenApi";
    const SDDP: &str = "aliyun.sddp.v20190103.Sddp";

    /// A token caller allowed Bss and Sddp, with `limits` as its `rate_limits`.
    fn with_limits(limits: &str) -> Result<crate::config::Config, ConfigError> {
        let toml = format!(
            "[auth.tokens.noisy]\nsha256 = \"{}\"\n\
             [[auth.callers]]\nname = \"noisy\"\ntoken = \"noisy\"\n\
             methods = [\"{BSS}/*\", \"{SDDP}/DescribeUserStatus\"]\n\
             rate_limits = {{ {limits} }}\n",
            "ab".repeat(32)
        );
        crate::config::Config::from_toml(&toml, "t.toml", &Catalog::load().unwrap())
    }

    fn rule(config: &crate::config::Config) -> &CallerRule {
        &config.auth.as_ref().unwrap().callers[0]
    }

    #[test]
    fn caller_rate_limits_exact_method_beats_service_wildcard() {
        let c = with_limits(&format!(
            "\"{BSS}/*\" = 2, \"{BSS}/SetResellerUserStatus\" = 0.5"
        ))
        .unwrap();
        let r = rule(&c);
        assert_eq!(
            r.rate_limit_for(&format!("/{BSS}/SetResellerUserStatus")),
            Some(0.5)
        );
        assert_eq!(
            r.rate_limit_for(&format!("/{BSS}/ModifyAccountRelation")),
            Some(2.0)
        );
        assert_eq!(
            r.rate_limit_for(&format!("/{SDDP}/DescribeUserStatus")),
            None
        );
        // Without rate_limits the caller has none.
        let c = with_limits("").unwrap();
        assert!(rule(&c).rate_limits.is_empty());
        assert_eq!(
            rule(&c).rate_limit_for(&format!("/{BSS}/ModifyAccountRelation")),
            None
        );
    }

    #[test]
    fn caller_rate_limits_are_validated_naming_key_and_reason() {
        for (limits, pattern, reason) in [
            (
                format!("\"{SDDP}/Nope\" = 1"),
                format!("{SDDP}/Nope"),
                "no method \"Nope\"",
            ),
            (
                "\"nope.Svc/*\" = 1".to_string(),
                "nope.Svc/*".into(),
                "no service",
            ),
            (
                format!("\"{SDDP}\" = 1"),
                SDDP.into(),
                "is not pkg.Service/Method",
            ),
            (
                format!("\"{BSS}/*\" = 0"),
                format!("{BSS}/*"),
                "is not a rate",
            ),
            (
                format!("\"{BSS}/*\" = -2"),
                format!("{BSS}/*"),
                "is not a rate",
            ),
            (
                format!("\"{BSS}/*\" = inf"),
                format!("{BSS}/*"),
                "is not a rate",
            ),
            (
                format!("\"{BSS}/*\" = nan"),
                format!("{BSS}/*"),
                "is not a rate",
            ),
            (
                "\"tencentcloud.dlc.v20210125.Dlc/ModifyUserType\" = 1".to_string(),
                "tencentcloud.dlc.v20210125.Dlc/ModifyUserType".into(),
                "may not call",
            ),
            (
                "\"tencentcloud.dlc.v20210125.Dlc/*\" = 1".to_string(),
                "tencentcloud.dlc.v20210125.Dlc/*".into(),
                "may not call",
            ),
            (
                format!("\"/{SDDP}/DescribeUserStatus\" = 1, \"{SDDP}/DescribeUserStatus\" = 2"),
                format!("{SDDP}/DescribeUserStatus"),
                "repeats",
            ),
        ] {
            let e = with_limits(&limits).unwrap_err().to_string();
            let key = format!("`auth.callers[0].rate_limits.{pattern:?}`");
            assert!(e.contains(&key) && e.contains(reason), "{limits}: {e}");
        }
        let e = with_limits(&format!("\"{BSS}/*\" = \"fast\""))
            .unwrap_err()
            .to_string();
        assert!(e.contains("rate_limits"), "{e}");
    }

    #[test]
    fn the_readme_example_of_per_caller_limits_is_valid() {
        let readme = include_str!("../../README.md");
        let block = readme
            .split("```toml")
            .skip(1)
            .filter_map(|b| b.split("```").next())
            .find(|b| b.contains("rate_limits ="))
            .expect("README.md has a toml block with rate_limits");
        let c = crate::config::Config::from_toml(block, "README.md", &Catalog::load().unwrap())
            .unwrap();
        let limited = c.auth.as_ref().unwrap().callers.iter();
        assert!(limited.filter(|r| !r.rate_limits.is_empty()).count() >= 2);
    }
}
