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

use crate::catalog::{vendor_name, Vendor};
use crate::config::{Config, CredentialSource, KeyValue, RoleBase, StaticKeys, VendorCredential};
use crate::error::GatewayError;

pub use crate::config::DEFAULT_PROFILE;
pub use crate::secret::Secret;
pub use alibaba::alibaba_default_chain;
pub use metadata::{
    ALIBABA_METADATA_ENDPOINT, ECS_TOKEN_HEADER, ECS_TOKEN_TTL_HEADER, TENCENT_METADATA_ENDPOINT,
};
pub use refresh::RefreshSettings;
pub use sts::{ALIBABA_STS_ENDPOINT, TENCENT_STS_ENDPOINT};
pub use tencent::tencent_default_chain;

use file::WatchedFile;
use refresh::Refresher;

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
            access_key_id: Secret::new(access_key_id),
            secret: Secret::new(secret),
            token: token.map(Secret::new),
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

    /// Drops `used` if it is still the current credential, so the next `get`
    /// fetches a fresh one; false when the source cannot refresh (fixed keys).
    fn renew(&self, used: &Arc<Credential>) -> bool {
        match self {
            Slot::Fixed(_) => return false,
            Slot::Refreshing(r) => r.invalidate(used),
            Slot::File(f) => f.invalidate(),
        }
        true
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

impl ProfileCredentials {
    fn slot(&self, vendor: Vendor) -> &Slot {
        match vendor {
            Vendor::Tencent => &self.tencent,
            _ => &self.alibaba,
        }
    }
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
    /// Built when the first role needs it.
    sts: Option<Result<sts::StsClient, String>>,
    metadata_http: Result<reqwest::Client, String>,
    built: HashMap<(String, &'static str), Arc<Slot>>,
}

fn refreshing<S: refresh::Source + 'static>(s: RefreshSettings, source: Result<S, String>) -> Slot {
    match source {
        Ok(source) => Slot::Refreshing(Arc::new(Refresher::new(Box::new(source), s))),
        Err(e) => Slot::Fixed(Err(e)),
    }
}

fn vendor_title(vendor: Vendor) -> &'static str {
    match vendor {
        Vendor::Tencent => "Tencent Cloud",
        _ => "Alibaba Cloud",
    }
}

impl Builder<'_> {
    /// The slot of a profile; config validation refused `source_profile` loops.
    fn slot(&mut self, profile: &str, vendor: Vendor) -> Arc<Slot> {
        let key = (profile.to_string(), vendor_name(vendor));
        if let Some(s) = self.built.get(&key) {
            return s.clone();
        }
        let config = self.config;
        let slot = match config.profiles.get(profile).map(|p| p.vendor(vendor)) {
            None if profile == DEFAULT_PROFILE => Slot::Fixed(match vendor {
                Vendor::Tencent => tencent_default_chain(self.env, self.home).map(Arc::new),
                _ => alibaba_default_chain(self.env, self.home).map(Arc::new),
            }),
            None => Slot::Fixed(Err(format!("no profile named {profile:?}"))),
            Some(None) => Slot::Fixed(Err(format!(
                "the profile declares no {} credentials",
                vendor_title(vendor)
            ))),
            Some(Some(c)) => self.source_of(profile, vendor, c),
        };
        let slot = Arc::new(slot);
        self.built.insert(key, slot.clone());
        slot
    }

    fn source_of(&mut self, profile: &str, vendor: Vendor, c: &VendorCredential) -> Slot {
        let default = RefreshSettings::default();
        let settings = RefreshSettings {
            margin: c.refresh_margin.unwrap_or(default.margin),
            ..default
        };
        use CredentialSource as S;
        match &c.source {
            S::Keys(keys) => Slot::Fixed(static_keys(keys, self.env)),
            S::VendorProfile(p) => Slot::Fixed(
                match vendor {
                    Vendor::Tencent => tencent::from_files(self.env, self.home, Some(p)),
                    _ => alibaba::from_files(self.env, self.home, Some(p)),
                }
                .map(Arc::new),
            ),
            S::WatchedFile {
                path,
                section,
                poll,
            } => Slot::File(WatchedFile::new(vendor, path, section, *poll)),
            S::InstanceRole {
                role,
                metadata_endpoint: at,
            } => {
                let client = self.metadata_http.clone();
                let source = client.map(|c| metadata::MetadataSource::new(vendor, at, role, c));
                refreshing(settings, source)
            }
            S::AssumeRole(role) => {
                let (base, base_name) = match &role.base {
                    RoleBase::Profile(p) => (self.slot(p, vendor), format!("profile {p}")),
                    RoleBase::Keys(keys) => (
                        Arc::new(Slot::Fixed(static_keys(keys, self.env))),
                        "keys in the config".to_string(),
                    ),
                };
                let config = self.config;
                let sts = self.sts.get_or_insert_with(|| sts::StsClient::new(config));
                let source = sts.clone().and_then(|sts| {
                    sts::StsSource::new(sts, vendor, profile, role, base, base_name)
                });
                refreshing(settings, source)
            }
        }
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
            sts: None,
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
            let alibaba = b.slot(&name, Vendor::Alibaba);
            let tencent = b.slot(&name, Vendor::Tencent);
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
        let mut store = Self {
            profiles: HashMap::new(),
        };
        store.insert(DEFAULT_PROFILE, Some(alibaba), Some(tencent));
        store
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
        p.slot(vendor)
            .get()
            .await
            .map_err(|cause| GatewayError::CredentialsUnavailable {
                profile: profile.to_string(),
                vendor: vendor_name(vendor),
                cause,
            })
    }

    /// After the vendor rejected `used` as expired (or its clock as skewed): drops it
    /// so the next [`Self::get`] fetches a fresh one. False when the profile's source
    /// cannot refresh (fixed keys): a retry would sign with the same credential.
    pub fn renew(&self, profile: &str, vendor: Vendor, used: &Arc<Credential>) -> bool {
        let p = self.profiles.get(profile);
        p.is_some_and(|p| p.slot(vendor).renew(used))
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

fn value(v: &KeyValue, env: EnvLookup) -> Result<String, String> {
    match v {
        KeyValue::Literal(s) => Ok(s.expose().to_string()),
        KeyValue::Env(name) => {
            env(name).ok_or_else(|| format!("environment variable {name} is not set"))
        }
    }
}

fn static_keys(keys: &StaticKeys, env: EnvLookup) -> Resolved {
    let id = value(&keys.access_key_id, env)?;
    let secret = value(&keys.access_key_secret, env)?;
    let token = keys
        .security_token
        .as_ref()
        .map(|t| value(t, env))
        .transpose()?;
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
