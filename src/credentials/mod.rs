//! Cloud credentials: where they come from (config, environment, the vendors'
//! profile files, STS role assumption, instance-role metadata, a watched file),
//! how expiring ones are refreshed, and how they are held (never printed).

mod alibaba;
mod file;
mod metadata;
mod refresh;
mod sts;
mod tencent;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;

use crate::catalog::Vendor;
use crate::config::{Config, KeySection};
use crate::error::GatewayError;

pub use alibaba::alibaba_default_chain;
pub use metadata::{
    ALIBABA_METADATA_ENDPOINT, ECS_TOKEN_HEADER, ECS_TOKEN_TTL_HEADER, TENCENT_METADATA_ENDPOINT,
};
pub use refresh::RefreshSettings;
pub use sts::{
    ALIBABA_STS_ENDPOINT, ALIBABA_STS_VERSION, TENCENT_STS_ENDPOINT, TENCENT_STS_VERSION,
};
pub use tencent::tencent_default_chain;

use file::WatchedFile;
use refresh::Refresher;

/// The profile used when a call names none.
pub const DEFAULT_PROFILE: &str = "default";

/// A secret string: `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value, for signing only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// One usable credential.
#[derive(Clone)]
pub struct Credential {
    /// Access key id / SecretId (treated as a secret too: masked in Debug).
    pub access_key_id: Secret,
    /// Access key secret / SecretKey.
    pub secret: Secret,
    /// STS / session token.
    pub token: Option<Secret>,
    /// Where it came from, e.g. "environment", "config", "~/.aliyun/config.json".
    pub source: String,
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("access_key_id", &mask(self.access_key_id.expose()))
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// First 4 characters then `****` (for showing which key is in use).
pub fn mask(id: &str) -> String {
    let head: String = id.chars().take(4).collect();
    format!("{head}****")
}

impl Credential {
    /// Builds a credential, rejecting empty values and surrounding whitespace
    /// (which the vendors reject with confusing errors).
    pub fn new(
        access_key_id: String,
        secret: String,
        token: Option<String>,
        source: impl Into<String>,
    ) -> Result<Self, String> {
        let check = |what: &str, v: &str| -> Result<(), String> {
            if v.is_empty() {
                Err(format!("{what} is empty"))
            } else if v.trim() != v {
                Err(format!("{what} has leading or trailing whitespace"))
            } else {
                Ok(())
            }
        };
        check("access key id", &access_key_id)?;
        check("access key secret", &secret)?;
        let token = token.filter(|t| !t.is_empty());
        if let Some(t) = &token {
            check("security token", t)?;
        }
        Ok(Self {
            access_key_id: Secret(access_key_id),
            secret: Secret(secret),
            token: token.map(Secret),
            source: source.into(),
        })
    }
}

/// Reads environment variables (injectable for tests).
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

type Resolved = Result<Arc<Credential>, String>;

/// Where one profile's credential for one vendor comes from.
pub(crate) enum Slot {
    /// Resolved once at start-up (keys in the config, the environment, profile files).
    Fixed(Resolved),
    /// An expiring credential kept fresh (STS role assumption, instance role).
    Refreshing(Arc<Refresher>),
    /// A file re-read when it changes.
    File(WatchedFile),
}

impl fmt::Debug for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Slot {
    /// A credential usable now, or why there is none.
    pub(crate) fn get(&self) -> BoxFuture<'_, Resolved> {
        Box::pin(async move {
            match self {
                Slot::Fixed(r) => r.clone(),
                Slot::Refreshing(r) => r.get().await,
                Slot::File(f) => f.get(),
            }
        })
    }

    /// The source and its state, without secrets.
    fn describe(&self) -> String {
        match self {
            Slot::Fixed(Ok(c)) => format!("{} from {}", mask(c.access_key_id.expose()), c.source),
            Slot::Fixed(Err(e)) => format!("unavailable: {e}"),
            Slot::Refreshing(r) => r.describe(),
            Slot::File(f) => f.describe(),
        }
    }
}

#[derive(Debug)]
struct ProfileCredentials {
    alibaba: Arc<Slot>,
    tencent: Arc<Slot>,
}

/// Credentials of every profile: fixed ones resolved at start-up, expiring ones
/// refreshed ahead of expiry, watched files re-read when they change.
#[derive(Debug)]
pub struct CredentialStore {
    profiles: HashMap<String, ProfileCredentials>,
}

/// Builds the slots of a config, resolving `source_profile` chains.
struct Builder<'a> {
    config: &'a Config,
    env: EnvLookup<'a>,
    home: Option<&'a std::path::Path>,
    http: Result<reqwest::Client, String>,
    metadata_http: Result<reqwest::Client, String>,
    built: HashMap<(String, &'static str), Arc<Slot>>,
}

fn vendor_name(vendor: Vendor) -> &'static str {
    match vendor {
        Vendor::Tencent => "tencent",
        _ => "alibaba",
    }
}

fn vendor_title(vendor: Vendor) -> &'static str {
    match vendor {
        Vendor::Tencent => "Tencent Cloud",
        _ => "Alibaba Cloud",
    }
}

impl Builder<'_> {
    fn slot(&mut self, profile: &str, vendor: Vendor, depth: usize) -> Arc<Slot> {
        let key = (profile.to_string(), vendor_name(vendor));
        if let Some(s) = self.built.get(&key) {
            return s.clone();
        }
        let section = self.config.profiles.get(profile);
        let keys = section.and_then(|p| match vendor {
            Vendor::Tencent => p.tencent.as_ref(),
            _ => p.alibaba.as_ref(),
        });
        let slot = match (section, keys) {
            (None, _) if profile == DEFAULT_PROFILE => Slot::Fixed(match vendor {
                Vendor::Tencent => tencent_default_chain(self.env, self.home).map(Arc::new),
                _ => alibaba_default_chain(self.env, self.home).map(Arc::new),
            }),
            (None, _) => Slot::Fixed(Err(format!("no profile named {profile:?}"))),
            (Some(_), None) => Slot::Fixed(Err(format!(
                "the profile declares no {} credentials",
                vendor_title(vendor)
            ))),
            // Config validation refuses cycles; this only guards against a stack overflow.
            (Some(_), Some(_)) if depth > 16 => {
                Slot::Fixed(Err("source_profile chain is too long".into()))
            }
            (Some(_), Some(keys)) => self.source_of(profile, vendor, keys, depth),
        };
        let slot = Arc::new(slot);
        self.built.insert(key, slot.clone());
        slot
    }

    fn source_of(
        &mut self,
        profile: &str,
        vendor: Vendor,
        keys: &KeySection,
        depth: usize,
    ) -> Slot {
        let settings = RefreshSettings {
            margin: keys
                .refresh_margin_s
                .map(Duration::from_secs)
                .unwrap_or(RefreshSettings::default().margin),
            ..RefreshSettings::default()
        };
        if let Some(role) = &keys.instance_role {
            let client = match &self.metadata_http {
                Ok(c) => c.clone(),
                Err(e) => return Slot::Fixed(Err(e.clone())),
            };
            let default = match vendor {
                Vendor::Tencent => metadata::TENCENT_METADATA_ENDPOINT,
                _ => metadata::ALIBABA_METADATA_ENDPOINT,
            };
            let endpoint =
                match url::Url::parse(keys.metadata_endpoint.as_deref().unwrap_or(default)) {
                    Ok(u) => u,
                    Err(e) => return Slot::Fixed(Err(format!("metadata_endpoint: {e}"))),
                };
            let source = metadata::MetadataSource {
                vendor,
                endpoint,
                role: role.clone(),
                client,
            };
            return Slot::Refreshing(Arc::new(Refresher::new(Box::new(source), settings)));
        }
        if let Some(path) = &keys.credentials_file {
            let poll = keys
                .poll_interval_ms
                .map(Duration::from_millis)
                .unwrap_or(file::DEFAULT_POLL);
            let section = keys
                .file_profile
                .clone()
                .unwrap_or_else(|| "default".into());
            return Slot::File(WatchedFile::new(vendor, path.into(), section, poll));
        }
        if let Some(role_arn) = &keys.role_arn {
            let client = match &self.http {
                Ok(c) => c.clone(),
                Err(e) => return Slot::Fixed(Err(e.clone())),
            };
            let (base, base_name) = match &keys.source_profile {
                Some(p) => (self.slot(p, vendor, depth + 1), format!("profile {p}")),
                None => (
                    Arc::new(Slot::Fixed(static_keys(keys, self.env))),
                    "keys in the config".to_string(),
                ),
            };
            let default = match vendor {
                Vendor::Tencent => sts::TENCENT_STS_ENDPOINT,
                _ => sts::ALIBABA_STS_ENDPOINT,
            };
            let endpoint = match url::Url::parse(keys.sts_endpoint.as_deref().unwrap_or(default)) {
                Ok(u) => u,
                Err(e) => return Slot::Fixed(Err(format!("sts_endpoint: {e}"))),
            };
            let request = sts::AssumeRole {
                vendor,
                endpoint,
                region: keys
                    .sts_region
                    .clone()
                    .unwrap_or_else(|| sts::TENCENT_STS_REGION.into()),
                role_arn: role_arn.clone(),
                session_name: keys
                    .role_session_name
                    .clone()
                    .unwrap_or_else(|| format!("cloudgate-{profile}")),
                duration_seconds: keys
                    .duration_seconds
                    .unwrap_or(sts::DEFAULT_DURATION_SECONDS),
                policy: keys.policy.clone(),
                external_id: keys.external_id.clone(),
                alibaba_signature: self.config.alibaba_signature,
            };
            let source = sts::StsSource {
                request,
                base,
                base_name,
                client,
            };
            return Slot::Refreshing(Arc::new(Refresher::new(Box::new(source), settings)));
        }
        if let Some(p) = &keys.file_profile {
            return Slot::Fixed(
                match vendor {
                    Vendor::Tencent => tencent::from_files(self.env, self.home, Some(p)),
                    _ => alibaba::from_files(self.env, self.home, Some(p)),
                }
                .map(Arc::new),
            );
        }
        Slot::Fixed(static_keys(keys, self.env))
    }
}

impl CredentialStore {
    /// Resolves every profile of the config; the `default` profile (unless
    /// declared) follows each vendor SDK's default chain. Inside a tokio runtime,
    /// expiring credentials start being fetched at once (in the background).
    pub fn from_config(config: &Config, env: EnvLookup, home: Option<&std::path::Path>) -> Self {
        let metadata_http = reqwest::Client::builder()
            .no_proxy()
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| format!("HTTP client: {e}"));
        let mut b = Builder {
            config,
            env,
            home,
            http: crate::transport::build_client(&config.http)
                .map_err(|e| format!("HTTP client: {e}")),
            metadata_http,
            built: HashMap::new(),
        };
        let mut profiles = HashMap::new();
        let names = config
            .profiles
            .keys()
            .cloned()
            .chain(std::iter::once(DEFAULT_PROFILE.to_string()));
        for name in names {
            let alibaba = b.slot(&name, Vendor::Alibaba, 0);
            let tencent = b.slot(&name, Vendor::Tencent, 0);
            profiles.insert(name, ProfileCredentials { alibaba, tencent });
        }
        let store = Self { profiles };
        if tokio::runtime::Handle::try_current().is_ok() {
            store.prefetch_in_background();
        }
        store
    }

    /// Starts fetching every expiring credential not fetched yet (needs a tokio runtime).
    pub fn prefetch_in_background(&self) {
        for p in self.profiles.values() {
            for slot in [&p.alibaba, &p.tencent] {
                if let Slot::Refreshing(r) = slot.as_ref() {
                    r.refresh_in_background();
                }
            }
        }
    }

    /// Fetches every credential once (waiting for expiring ones), e.g. before
    /// logging [`Self::describe`] at start-up; failures are kept for `describe`.
    pub async fn prefetch(&self) {
        let all = self
            .profiles
            .values()
            .flat_map(|p| [p.alibaba.clone(), p.tencent.clone()]);
        futures::future::join_all(all.map(|s| async move {
            let _ = s.get().await;
        }))
        .await;
    }

    /// A store with fixed credentials for the default profile (emulator mode, tests).
    pub fn fixed(alibaba: Credential, tencent: Credential) -> Self {
        let mut profiles = HashMap::new();
        profiles.insert(
            DEFAULT_PROFILE.to_string(),
            ProfileCredentials {
                alibaba: Arc::new(Slot::Fixed(Ok(Arc::new(alibaba)))),
                tencent: Arc::new(Slot::Fixed(Ok(Arc::new(tencent)))),
            },
        );
        Self { profiles }
    }

    /// Adds or replaces a profile with fixed credentials.
    pub fn insert(
        &mut self,
        profile: &str,
        alibaba: Option<Credential>,
        tencent: Option<Credential>,
    ) {
        let slot = |c: Option<Credential>, v: Vendor| {
            Arc::new(Slot::Fixed(c.map(Arc::new).ok_or_else(|| {
                format!("the profile declares no {} credentials", vendor_title(v))
            })))
        };
        self.profiles.insert(
            profile.to_string(),
            ProfileCredentials {
                alibaba: slot(alibaba, Vendor::Alibaba),
                tencent: slot(tencent, Vendor::Tencent),
            },
        );
    }

    /// Whether a profile exists.
    pub fn has_profile(&self, profile: &str) -> bool {
        self.profiles.contains_key(profile)
    }

    /// The credential a call with this profile signs with: valid now (an expiring one
    /// is refreshed first when needed, one refresh per profile at a time), or
    /// `CredentialsUnavailable` with the cause.
    pub async fn get(
        &self,
        profile: &str,
        vendor: Vendor,
    ) -> Result<Arc<Credential>, GatewayError> {
        let p = self
            .profiles
            .get(profile)
            .ok_or_else(|| GatewayError::UnknownProfile(profile.to_string()))?;
        let slot = match vendor {
            Vendor::Tencent => &p.tencent,
            _ => &p.alibaba,
        };
        slot.get()
            .await
            .map_err(|cause| GatewayError::CredentialsUnavailable {
                profile: profile.to_string(),
                vendor: vendor_name(vendor),
                cause,
            })
    }

    /// Per profile and vendor: the source in use, the key (masked) and when it
    /// expires, or why none is usable (no secrets).
    pub fn describe(&self) -> Vec<(String, &'static str, String)> {
        let mut out = Vec::new();
        for (name, p) in &self.profiles {
            for (vendor, slot) in [("alibaba", &p.alibaba), ("tencent", &p.tencent)] {
                out.push((name.clone(), vendor, slot.describe()));
            }
        }
        out.sort();
        out
    }
}

fn value(
    literal: &Option<String>,
    env_name: &Option<String>,
    env: EnvLookup,
) -> Result<Option<String>, String> {
    match (literal, env_name) {
        (Some(v), _) => Ok(Some(v.clone())),
        (None, Some(name)) => env(name)
            .map(Some)
            .ok_or_else(|| format!("environment variable {name} is not set")),
        (None, None) => Ok(None),
    }
}

fn static_keys(keys: &KeySection, env: EnvLookup) -> Resolved {
    let id = value(&keys.access_key_id, &keys.access_key_id_env, env)?
        .ok_or("access_key_id is missing")?;
    let secret = value(&keys.access_key_secret, &keys.access_key_secret_env, env)?
        .ok_or("access_key_secret is missing")?;
    let token = value(&keys.security_token, &keys.security_token_env, env)?;
    Credential::new(id, secret, token, "config").map(Arc::new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;

    #[test]
    fn debug_never_shows_secrets() {
        let c = Credential::new(
            "LTAI5tSecretKeyId".into(),
            "verysecretvalue".into(),
            Some("tokenvalue".into()),
            "test",
        )
        .unwrap();
        let d = format!("{c:?}");
        assert!(!d.contains("verysecretvalue") && !d.contains("tokenvalue"));
        assert!(!d.contains("LTAI5tSecretKeyId"));
        assert!(d.contains("LTAI****"));
    }

    #[test]
    fn whitespace_and_empty_values_are_rejected() {
        assert!(Credential::new(" id".into(), "s".into(), None, "t").is_err());
        assert!(Credential::new("id".into(), "".into(), None, "t").is_err());
        assert!(
            Credential::new("id".into(), "s".into(), Some("".into()), "t")
                .unwrap()
                .token
                .is_none()
        );
    }

    #[tokio::test]
    async fn config_profiles_read_env_indirection_and_report_missing_vendor() {
        let catalog = Catalog::load().unwrap();
        let config = Config::from_toml(
            "[profiles.ops.alibaba]\naccess_key_id = \"LTAIops\"\naccess_key_secret_env = \"OPS_SECRET\"\n",
            "t",
            &catalog,
        )
        .unwrap();
        let env = |k: &str| (k == "OPS_SECRET").then(|| "s3cr3t".to_string());
        let store = CredentialStore::from_config(&config, &env, None);
        let c = store.get("ops", Vendor::Alibaba).await.unwrap();
        assert_eq!(c.secret.expose(), "s3cr3t");
        let e = store
            .get("ops", Vendor::Tencent)
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("ops") && e.contains("tencent"), "{e}");
        assert!(matches!(
            store.get("nope", Vendor::Alibaba).await,
            Err(GatewayError::UnknownProfile(_))
        ));
        // The default profile exists even when nothing is configured, and says why it is unusable.
        let e = store
            .get("default", Vendor::Alibaba)
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("ALIBABA_CLOUD_ACCESS_KEY_ID"), "{e}");
    }

    #[tokio::test]
    async fn env_indirection_to_an_unset_variable_is_reported() {
        let catalog = Catalog::load().unwrap();
        let config = Config::from_toml(
            "[profiles.ops.tencent]\naccess_key_id_env = \"TID\"\naccess_key_secret_env = \"TKEY\"\n",
            "t",
            &catalog,
        )
        .unwrap();
        let store = CredentialStore::from_config(&config, &|_| None, None);
        let e = store
            .get("ops", Vendor::Tencent)
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("TID is not set"), "{e}");
    }
}
