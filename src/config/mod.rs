//! The TOML configuration: parsed strictly (unknown keys are errors) and
//! validated once at start-up into plain settings.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use url::Url;

use crate::catalog::Catalog;

mod audit;
mod auth;
mod credential;
mod limits;
mod server;
pub use audit::{AuditSection, AuditSettings, AuditSink};
pub use auth::{AuthSection, AuthSettings, CallerRule, MethodPattern, TlsSettings};
pub use credential::{
    AssumeRole, CredentialSource, KeySection, KeyValue, Profile, ProfileSection, RoleBase,
    StaticKeys, VendorCredential, DEFAULT_PROFILE,
};
pub use limits::{
    EffectiveLimit, LimitOverride, RateLimitSection, RateLimitSettings, RetrySection,
    RetrySettings, DEFAULT_UNDOCUMENTED_QPS,
};
pub use server::{ServerSection, ServerSettings};

/// Default gRPC listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:50051";

/// A configuration problem, naming the key at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The path.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has unknown keys / wrong types.
    #[error("config file {path}: {message}")]
    Parse {
        /// The path.
        path: String,
        /// The parser's message (names the key and the line).
        message: String,
    },
    /// A value is not acceptable.
    #[error("config key `{key}`: {reason}")]
    Invalid {
        /// Dotted key, e.g. `endpoints.sddp`.
        key: String,
        /// Why.
        reason: String,
    },
}

/// A duration in milliseconds that must be greater than 0 (`default` when unset).
fn positive_ms(key: &str, v: Option<u64>, default: u64) -> Result<Duration, ConfigError> {
    match v {
        Some(0) => Err(invalid(key, "must be greater than 0")),
        Some(ms) => Ok(Duration::from_millis(ms)),
        None => Ok(Duration::from_millis(default)),
    }
}

/// An `http(s)://host[:port]/` base URL, or why not.
fn base_url(value: &str) -> Result<Url, String> {
    let url = Url::parse(value).map_err(|e| format!("{value:?} is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err("must be an http:// or https:// URL with a host".into());
    }
    if url.path() != "/" || url.query().is_some() {
        return Err("must be a base URL without path or query".into());
    }
    Ok(url)
}

fn invalid(key: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        reason: reason.into(),
    }
}

/// The file as written. Every key is optional; unknown keys are rejected.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// gRPC listen address.
    pub listen: Option<String>,
    /// Base URL per product endpoint key.
    #[serde(default)]
    pub endpoints: BTreeMap<String, String>,
    /// Default region per product endpoint key.
    #[serde(default)]
    pub regions: BTreeMap<String, String>,
    /// Signature scheme choices.
    #[serde(default)]
    pub signing: SigningSection,
    /// Outgoing HTTP settings.
    #[serde(default)]
    pub http: HttpSection,
    /// gRPC server settings.
    #[serde(default)]
    pub server: ServerSection,
    /// Named credential profiles.
    #[serde(default)]
    pub profiles: BTreeMap<String, ProfileSection>,
    /// Rate limits.
    #[serde(default)]
    pub ratelimit: RateLimitSection,
    /// Retries.
    #[serde(default)]
    pub retry: RetrySection,
    /// The admin HTTP server (metrics).
    #[serde(default)]
    pub admin: AdminSection,
    /// Log output.
    #[serde(default)]
    pub log: LogSection,
    /// Caller authentication and authorization.
    pub auth: Option<AuthSection>,
    /// The audit log of mutating calls.
    #[serde(default)]
    pub audit: AuditSection,
    /// Proto files loaded at start-up.
    #[serde(default)]
    pub catalog: CatalogSection,
}

/// `[catalog]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogSection {
    /// Directories whose `.proto` files (with `cloudgate.v1` options) are
    /// compiled at start-up and served next to the embedded operations;
    /// relative to the config file.
    #[serde(default)]
    pub proto_dirs: Vec<PathBuf>,
    /// Products whose descriptors are built before listening rather than on
    /// their first call: endpoint keys (`sddp`, `aliyun-vpc`), or `"*"`.
    #[serde(default)]
    pub preload: Vec<String>,
}

/// `[admin]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminSection {
    /// Address of the admin HTTP server (`/metrics`, `/healthz`); off when unset.
    pub listen: Option<String>,
}

/// `[log]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSection {
    /// `"text"` (default) or `"json"` (one JSON object per line).
    pub format: Option<String>,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, span fields included.
    Json,
}

/// `[signing]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigningSection {
    /// `"acs3"` (ACS3-HMAC-SHA256, default) or `"rpc-v1"` (HMAC-SHA1).
    pub alibaba: Option<String>,
}

/// `[http]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSection {
    /// Proxy URL for every vendor call (overrides HTTPS_PROXY).
    pub proxy: Option<String>,
    /// Comma-separated hosts that bypass the proxy (like NO_PROXY).
    pub no_proxy: Option<String>,
    /// TCP+TLS connect timeout, milliseconds (default 5000).
    pub connect_timeout_ms: Option<u64>,
    /// Upper bound of one vendor call when the caller sets no deadline, ms (default 30000).
    pub request_timeout_ms: Option<u64>,
    /// Idle pooled connections per host (default 32).
    pub pool_max_idle_per_host: Option<usize>,
}

/// Which Alibaba signature scheme to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlibabaSignature {
    /// ACS3-HMAC-SHA256 (the SDKs' default).
    Acs3,
    /// RPC v1, HMAC-SHA1 (`SignatureVersion=1.0`).
    RpcV1,
}

/// Outgoing HTTP settings, validated.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Proxy URL.
    pub proxy: Option<Url>,
    /// NO_PROXY list for the configured proxy.
    pub no_proxy: Option<String>,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Default bound of one vendor call.
    pub request_timeout: Duration,
    /// Idle connections per host.
    pub pool_max_idle_per_host: usize,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// gRPC listen address.
    pub listen: SocketAddr,
    /// Proto directories loaded at start-up (config and command line).
    pub proto_dirs: Vec<PathBuf>,
    /// `[catalog] preload`: endpoint keys (or `*`) built before listening.
    pub preload: Vec<String>,
    /// Endpoint overrides by endpoint key.
    pub endpoints: HashMap<String, Url>,
    /// Default regions by endpoint key.
    pub regions: HashMap<String, String>,
    /// Alibaba signature scheme.
    pub alibaba_signature: AlibabaSignature,
    /// Outgoing HTTP.
    pub http: HttpSettings,
    /// Shutdown grace period.
    pub shutdown_grace: Duration,
    /// gRPC server limits and deadlines.
    pub server: ServerSettings,
    /// Declared profiles, each vendor credential parsed into its source.
    pub profiles: BTreeMap<String, Profile>,
    /// Rate limits.
    pub ratelimit: RateLimitSettings,
    /// Retries.
    pub retry: RetrySettings,
    /// Admin HTTP server address.
    pub admin_listen: Option<SocketAddr>,
    /// Log format.
    pub log_format: LogFormat,
    /// `[auth]`, when configured.
    pub auth: Option<AuthSettings>,
    /// `[audit]`.
    pub audit: AuditSettings,
}

/// Whether a region id looks like one (`cn-hangzhou`, `ap-southeast-1`, `rus-west-1-pop`).
pub fn valid_region(region: &str) -> bool {
    let mut parts = region.split('-');
    let first_ok = parts
        .next()
        .is_some_and(|p| p.len() >= 2 && p.bytes().all(|b| b.is_ascii_lowercase()));
    let rest: Vec<&str> = parts.collect();
    first_ok
        && !rest.is_empty()
        && region.len() <= 64
        && rest.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

/// The catalog (embedded operations plus every proto directory named by the
/// config's `[catalog] proto_dirs` and by `extra_dirs`) and the config
/// validated against it. Without a file: the defaults.
pub fn load_with_catalog(
    path: Option<&Path>,
    extra_dirs: &[PathBuf],
) -> Result<(Catalog, Config), String> {
    let (file, base) = match path {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| {
                ConfigError::Read {
                    path: path.display().to_string(),
                    source,
                }
                .to_string()
            })?;
            let file: FileConfig = toml::from_str(&text).map_err(|e| {
                ConfigError::Parse {
                    path: path.display().to_string(),
                    message: e.to_string().trim_end().to_string(),
                }
                .to_string()
            })?;
            let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
            (file, base)
        }
        None => (FileConfig::default(), PathBuf::new()),
    };
    let mut dirs: Vec<PathBuf> = file
        .catalog
        .proto_dirs
        .iter()
        .map(|d| {
            if d.is_absolute() {
                d.clone()
            } else {
                base.join(d)
            }
        })
        .collect();
    dirs.extend(extra_dirs.iter().cloned());
    let catalog = Catalog::load_with_dirs(&dirs).map_err(|e| format!("catalog: {e}"))?;
    let mut config = Config::validate(file, &catalog).map_err(|e| e.to_string())?;
    config.proto_dirs = dirs;
    Ok((catalog, config))
}

impl Config {
    /// Reads and validates a config file.
    pub fn from_file(path: &Path, catalog: &Catalog) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_toml(&text, &path.display().to_string(), catalog)
    }

    /// Parses and validates TOML text (`origin` names it in errors).
    pub fn from_toml(text: &str, origin: &str, catalog: &Catalog) -> Result<Self, ConfigError> {
        let file: FileConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: origin.to_string(),
            message: e.to_string().trim_end().to_string(),
        })?;
        Self::validate(file, catalog)
    }

    /// The configuration with every default (no file).
    pub fn default_for(catalog: &Catalog) -> Self {
        Self::validate(FileConfig::default(), catalog).expect("the defaults are valid")
    }

    /// Validates a parsed file.
    pub fn validate(file: FileConfig, catalog: &Catalog) -> Result<Self, ConfigError> {
        let listen_text = file.listen.as_deref().unwrap_or(DEFAULT_LISTEN);
        let listen: SocketAddr = listen_text.parse().map_err(|_| {
            invalid(
                "listen",
                format!("{listen_text:?} is not an address like 127.0.0.1:50051"),
            )
        })?;

        let known = catalog.endpoint_keys();
        let known_list = known.join(", ");
        let mut endpoints = HashMap::new();
        for (key, value) in &file.endpoints {
            let k = format!("endpoints.{key}");
            if !known.iter().any(|k| k == key) {
                return Err(invalid(k, format!("unknown product (known: {known_list})")));
            }
            let url = base_url(value).map_err(|reason| invalid(k, reason))?;
            endpoints.insert(key.clone(), url);
        }
        for (i, key) in file.catalog.preload.iter().enumerate() {
            if key != "*" && !known.iter().any(|k| k == key) {
                return Err(invalid(
                    format!("catalog.preload[{i}]"),
                    format!(
                        "{key:?} is not \"*\" or a product's endpoint key (known: {known_list})"
                    ),
                ));
            }
        }
        let mut regions = HashMap::new();
        for (key, value) in &file.regions {
            let k = format!("regions.{key}");
            if !known.iter().any(|k| k == key) {
                return Err(invalid(k, format!("unknown product (known: {known_list})")));
            }
            if !valid_region(value) {
                return Err(invalid(
                    k,
                    format!("{value:?} is not a region id like cn-hangzhou"),
                ));
            }
            regions.insert(key.clone(), value.clone());
        }

        let alibaba_signature = match file.signing.alibaba.as_deref() {
            None | Some("acs3") | Some("ACS3-HMAC-SHA256") => AlibabaSignature::Acs3,
            Some("rpc-v1") | Some("HMAC-SHA1") => AlibabaSignature::RpcV1,
            Some(other) => {
                return Err(invalid(
                    "signing.alibaba",
                    format!("{other:?} is not one of \"acs3\", \"rpc-v1\""),
                ))
            }
        };

        let proxy = match &file.http.proxy {
            None => None,
            Some(p) => Some(Url::parse(p).map_err(|e| invalid("http.proxy", format!("{e}")))?),
        };
        let http = HttpSettings {
            proxy,
            no_proxy: file.http.no_proxy.clone(),
            connect_timeout: positive_ms(
                "http.connect_timeout_ms",
                file.http.connect_timeout_ms,
                5_000,
            )?,
            request_timeout: positive_ms(
                "http.request_timeout_ms",
                file.http.request_timeout_ms,
                30_000,
            )?,
            pool_max_idle_per_host: file.http.pool_max_idle_per_host.unwrap_or(32),
        };
        let server = server::server(&file.server)?;
        let shutdown_grace = server.shutdown_grace;

        let profiles = credential::profiles(file.profiles)?;

        let ratelimit = limits::rate_limits(&file.ratelimit, catalog)?;
        for profile in file.ratelimit.profiles.keys() {
            if profile != DEFAULT_PROFILE && !profiles.contains_key(profile) {
                return Err(invalid(
                    format!("ratelimit.profiles.{profile}"),
                    "no such profile in [profiles]",
                ));
            }
        }
        let retry = limits::retries(&file.retry)?;
        let admin_listen = match &file.admin.listen {
            None => None,
            Some(text) => Some(text.parse().map_err(|_| {
                invalid(
                    "admin.listen",
                    format!("{text:?} is not an address like 127.0.0.1:9090"),
                )
            })?),
        };
        let log_format = match file.log.format.as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(invalid(
                    "log.format",
                    format!("{other:?} is not one of \"text\", \"json\""),
                ))
            }
        };
        let declared = profiles.keys().cloned().collect();
        let auth = match &file.auth {
            Some(a) => Some(auth::auth(a, catalog, &declared)?),
            None => None,
        };
        let audit = audit::audit(&file.audit)?;
        Ok(Self {
            proto_dirs: Vec::new(),
            preload: file.catalog.preload.clone(),
            listen,
            endpoints,
            regions,
            alibaba_signature,
            http,
            shutdown_grace,
            server,
            profiles,
            ratelimit,
            retry,
            admin_listen,
            log_format,
            auth,
            audit,
        })
    }
}

impl Config {
    /// The rate-limit account key of a profile for a vendor: its declared
    /// `account_id` (shared by every profile of that account), else the profile.
    pub fn account_key(&self, profile: &str, vendor: crate::catalog::Vendor) -> String {
        let declared = self.profiles.get(profile).and_then(|p| p.vendor(vendor));
        match declared.and_then(|c| c.account_id.as_deref()) {
            Some(id) => format!("account:{id}"),
            None => format!("profile:{profile}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::from_toml(text, "test.toml", &Catalog::load().unwrap())
    }

    #[test]
    fn empty_file_gives_defaults() {
        let c = parse("").unwrap();
        assert_eq!(c.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(c.alibaba_signature, AlibabaSignature::Acs3);
        assert_eq!(c.http.request_timeout, Duration::from_secs(30));
    }

    #[test]
    fn preload_names_products_by_endpoint_key() {
        let c = parse("[catalog]\npreload = [\"sddp\", \"tencentcloud-vpc\"]\n").unwrap();
        assert_eq!(c.preload, ["sddp", "tencentcloud-vpc"]);
        parse("[catalog]\npreload = [\"*\"]\n").unwrap();
        let e = parse("[catalog]\npreload = [\"sddp\", \"nope\"]\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("catalog.preload[1]") && e.contains("\"nope\""),
            "{e}"
        );
    }

    #[test]
    fn full_file_is_accepted() {
        let c = parse(
            r#"
            listen = "127.0.0.1:6000"
            [endpoints]
            sddp = "http://127.0.0.1:18080"
            dlc = "https://dlc.internal.example:8443"
            [regions]
            sddp = "cn-hongkong"
            [signing]
            alibaba = "rpc-v1"
            [http]
            proxy = "http://proxy.internal:3128"
            no_proxy = "localhost"
            [profiles.ops.alibaba]
            access_key_id = "LTAIexample"
            access_key_secret_env = "OPS_SECRET"
            [profiles.ops.tencent]
            file_profile = "default"
            "#,
        )
        .unwrap();
        assert_eq!(c.endpoints["sddp"].as_str(), "http://127.0.0.1:18080/");
        assert_eq!(c.regions["sddp"], "cn-hongkong");
        assert_eq!(c.alibaba_signature, AlibabaSignature::RpcV1);
        assert!(c.profiles.contains_key("ops"));
        let debug = format!("{c:?}");
        assert!(!debug.contains("LTAIexample"), "{debug}");
    }

    #[test]
    fn unknown_keys_are_named() {
        let e = parse("listn = \"x\"").unwrap_err().to_string();
        assert!(e.contains("listn"), "{e}");
        let e = parse("[http]\nproxi = \"x\"").unwrap_err().to_string();
        assert!(e.contains("proxi"), "{e}");
        let e = parse("[endpoints]\nnosuchproduct = \"http://x\"")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("endpoints.nosuchproduct") && e.contains("bssopenapi"),
            "{e}"
        );
        let e = parse("[profiles.p.alibaba]\naccess_key = \"x\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("access_key"), "{e}");
    }

    #[test]
    fn bad_values_are_named() {
        for (text, key) in [
            ("listen = \"nowhere\"", "listen"),
            ("[endpoints]\nsddp = \"not a url\"", "endpoints.sddp"),
            ("[endpoints]\nsddp = \"ftp://x\"", "endpoints.sddp"),
            ("[endpoints]\nsddp = \"http://x/path\"", "endpoints.sddp"),
            ("[regions]\ncloudsso = \"Shanghai\"", "regions.cloudsso"),
            ("[signing]\nalibaba = \"v4\"", "signing.alibaba"),
            ("[http]\nconnect_timeout_ms = 0", "http.connect_timeout_ms"),
            ("[profiles.p.alibaba]\naccess_key_id = \"x\"", "profiles.p.alibaba.access_key_secret"),
            (
                "[profiles.p.tencent]\naccess_key_id = \"x\"\naccess_key_id_env = \"Y\"\naccess_key_secret = \"z\"",
                "profiles.p.tencent.access_key_id",
            ),
            ("[profiles.empty]", "profiles.empty"),
            ("[admin]\nlisten = \"nope\"", "admin.listen"),
            ("[server]\nmax_request_bytes = 0", "server.max_request_bytes"),
            ("[server]\ndefault_deadline_ms = 600000", "server.default_deadline_ms"),
            ("[server]\nkeepalive_interval_ms = 0", "server.keepalive_interval_ms"),
            ("[log]\nformat = \"xml\"", "log.format"),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(&format!("`{key}`")), "{text}: {e}");
        }
        let e = parse("listen = 5").unwrap_err().to_string();
        assert!(e.contains("listen"), "{e}");
    }

    #[test]
    fn credential_sources_are_accepted_and_checked() {
        let c = parse(
            r#"
            [profiles.base.alibaba]
            access_key_id = "LTAIbase"
            access_key_secret_env = "BASE_SECRET"
            [profiles.ops.alibaba]
            role_arn = "acs:ram::1234567890123456:role/ops"
            source_profile = "base"
            role_session_name = "cloudgate-ops"
            duration_seconds = 900
            policy = '{"Version":"1","Statement":[]}'
            sts_endpoint = "http://127.0.0.1:18080"
            refresh_margin_s = 60
            [profiles.ops.tencent]
            role_arn = "qcs::cam::uin/100000000001:roleName/ops"
            access_key_id = "AKIDbase"
            access_key_secret_env = "TC_SECRET"
            sts_region = "ap-singapore"
            [profiles.ecs.alibaba]
            instance_role = "gateway-role"
            metadata_endpoint = "http://100.100.100.200"
            [profiles.cvm.tencent]
            instance_role = "gateway-role"
            [profiles.rotated.tencent]
            credentials_file = "/run/secrets/tencent"
            poll_interval_ms = 500
            "#,
        )
        .unwrap();
        assert!(matches!(
            c.profiles["ops"].alibaba.as_ref().unwrap().source,
            CredentialSource::AssumeRole(_)
        ));
        let debug = format!("{c:?}");
        assert!(!debug.contains("Statement"), "{debug}");
        for (text, key) in [
            (
                "[profiles.p.alibaba]\nrole_arn = \"acs:ram::1:role/x\"\ninstance_role = \"r\"",
                "profiles.p.alibaba.instance_role",
            ),
            (
                "[profiles.p.alibaba]\nrole_arn = \"arn:aws:iam::1:role/x\"\naccess_key_id = \"a\"\naccess_key_secret = \"b\"",
                "profiles.p.alibaba.role_arn",
            ),
            (
                "[profiles.p.alibaba]\nrole_arn = \"acs:ram::1:role/x\"\nsource_profile = \"q\"\nduration_seconds = 60",
                "profiles.p.alibaba.duration_seconds",
            ),
            (
                "[profiles.p.alibaba]\nrole_arn = \"acs:ram::1:role/x\"\nsource_profile = \"q\"\npolicy = \"nope\"",
                "profiles.p.alibaba.policy",
            ),
            (
                "[profiles.p.alibaba]\nrole_arn = \"acs:ram::1:role/x\"\nsource_profile = \"nobody\"",
                "profiles.p.alibaba.source_profile",
            ),
            (
                "[profiles.p.alibaba]\nrole_arn = \"acs:ram::1:role/x\"\nsource_profile = \"q\"\n[profiles.q.alibaba]\nrole_arn = \"acs:ram::1:role/y\"\nsource_profile = \"p\"",
                "profiles.p.alibaba.source_profile",
            ),
            (
                "[profiles.p.alibaba]\nrole_arn = \"acs:ram::1:role/x\"",
                "profiles.p.alibaba.access_key_id",
            ),
            (
                "[profiles.p.alibaba]\naccess_key_id = \"a\"\naccess_key_secret = \"b\"\nsts_endpoint = \"http://x\"",
                "profiles.p.alibaba.sts_endpoint",
            ),
            (
                "[profiles.p.tencent]\ninstance_role = \"r\"\naccess_key_id = \"a\"",
                "profiles.p.tencent.instance_role",
            ),
            (
                "[profiles.p.tencent]\ninstance_role = \"r\"\nmetadata_endpoint = \"http://x/latest\"",
                "profiles.p.tencent.metadata_endpoint",
            ),
            (
                "[profiles.p.tencent]\ncredentials_file = \"/f\"\npoll_interval_ms = 0",
                "profiles.p.tencent.poll_interval_ms",
            ),
            (
                "[profiles.p.tencent]\naccess_key_id = \"a\"\naccess_key_secret = \"b\"\npoll_interval_ms = 5",
                "profiles.p.tencent.poll_interval_ms",
            ),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(&format!("`{key}`")), "{text}: {e}");
        }
        // The implicit default profile may be the base of a role.
        parse(
            "[profiles.p.alibaba]\nrole_arn = \"acs:ram::1:role/x\"\nsource_profile = \"default\"",
        )
        .unwrap();
    }

    #[test]
    fn region_ids() {
        for ok in [
            "cn-hangzhou",
            "ap-southeast-1",
            "rus-west-1-pop",
            "ap-guangzhou",
        ] {
            assert!(valid_region(ok), "{ok}");
        }
        for bad in [
            "",
            "cn",
            "CN-hangzhou",
            "cn_hangzhou",
            "cn-",
            "x-1",
            "cn-hangzhou/../",
        ] {
            assert!(!valid_region(bad), "{bad}");
        }
    }
}
