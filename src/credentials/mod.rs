//! Cloud credentials: where they come from (config, environment, the vendors'
//! profile files) and how they are held (never printed).

mod alibaba;
mod tencent;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use crate::catalog::Vendor;
use crate::config::{Config, KeySection};
use crate::error::GatewayError;

pub use alibaba::alibaba_default_chain;
pub use tencent::tencent_default_chain;

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

#[derive(Debug)]
struct ProfileCredentials {
    alibaba: Resolved,
    tencent: Resolved,
}

/// Credentials of every profile, resolved at start-up.
#[derive(Debug)]
pub struct CredentialStore {
    profiles: HashMap<String, ProfileCredentials>,
}

impl CredentialStore {
    /// Resolves every profile of the config; the `default` profile (unless
    /// declared) follows each vendor SDK's default chain.
    pub fn from_config(config: &Config, env: EnvLookup, home: Option<&std::path::Path>) -> Self {
        let mut profiles = HashMap::new();
        for (name, section) in &config.profiles {
            let alibaba = match &section.alibaba {
                Some(keys) => from_section(keys, env, |p| alibaba::from_files(env, home, Some(p))),
                None => Err("the profile declares no Alibaba Cloud credentials".to_string()),
            };
            let tencent = match &section.tencent {
                Some(keys) => from_section(keys, env, |p| tencent::from_files(env, home, Some(p))),
                None => Err("the profile declares no Tencent Cloud credentials".to_string()),
            };
            profiles.insert(name.clone(), ProfileCredentials { alibaba, tencent });
        }
        profiles
            .entry(DEFAULT_PROFILE.to_string())
            .or_insert_with(|| ProfileCredentials {
                alibaba: alibaba_default_chain(env, home).map(Arc::new),
                tencent: tencent_default_chain(env, home).map(Arc::new),
            });
        Self { profiles }
    }

    /// A store with fixed credentials for the default profile (emulator mode, tests).
    pub fn fixed(alibaba: Credential, tencent: Credential) -> Self {
        let mut profiles = HashMap::new();
        profiles.insert(
            DEFAULT_PROFILE.to_string(),
            ProfileCredentials {
                alibaba: Ok(Arc::new(alibaba)),
                tencent: Ok(Arc::new(tencent)),
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
        let missing = |v: &str| Err(format!("the profile declares no {v} credentials"));
        self.profiles.insert(
            profile.to_string(),
            ProfileCredentials {
                alibaba: alibaba
                    .map(Arc::new)
                    .map_or_else(|| missing("Alibaba Cloud"), Ok),
                tencent: tencent
                    .map(Arc::new)
                    .map_or_else(|| missing("Tencent Cloud"), Ok),
            },
        );
    }

    /// Whether a profile exists.
    pub fn has_profile(&self, profile: &str) -> bool {
        self.profiles.contains_key(profile)
    }

    /// The credential a call with this profile signs with.
    pub fn get(&self, profile: &str, vendor: Vendor) -> Result<Arc<Credential>, GatewayError> {
        let p = self
            .profiles
            .get(profile)
            .ok_or_else(|| GatewayError::UnknownProfile(profile.to_string()))?;
        let (resolved, vendor_name) = match vendor {
            Vendor::Tencent => (&p.tencent, "tencent"),
            _ => (&p.alibaba, "alibaba"),
        };
        resolved
            .clone()
            .map_err(|cause| GatewayError::CredentialsUnavailable {
                profile: profile.to_string(),
                vendor: vendor_name,
                cause,
            })
    }

    /// Per profile and vendor: the source in use or why none is usable (no secrets).
    pub fn describe(&self) -> Vec<(String, &'static str, String)> {
        let mut out = Vec::new();
        for (name, p) in &self.profiles {
            for (vendor, r) in [("alibaba", &p.alibaba), ("tencent", &p.tencent)] {
                let what = match r {
                    Ok(c) => format!("{} from {}", mask(c.access_key_id.expose()), c.source),
                    Err(e) => format!("unavailable: {e}"),
                };
                out.push((name.clone(), vendor, what));
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

fn from_section(
    keys: &KeySection,
    env: EnvLookup,
    files: impl FnOnce(&str) -> Result<Credential, String>,
) -> Resolved {
    if let Some(profile) = &keys.file_profile {
        return files(profile).map(Arc::new);
    }
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

    #[test]
    fn config_profiles_read_env_indirection_and_report_missing_vendor() {
        let catalog = Catalog::load().unwrap();
        let config = Config::from_toml(
            "[profiles.ops.alibaba]\naccess_key_id = \"LTAIops\"\naccess_key_secret_env = \"OPS_SECRET\"\n",
            "t",
            &catalog,
        )
        .unwrap();
        let env = |k: &str| (k == "OPS_SECRET").then(|| "s3cr3t".to_string());
        let store = CredentialStore::from_config(&config, &env, None);
        let c = store.get("ops", Vendor::Alibaba).unwrap();
        assert_eq!(c.secret.expose(), "s3cr3t");
        let e = store.get("ops", Vendor::Tencent).unwrap_err().to_string();
        assert!(e.contains("ops") && e.contains("tencent"), "{e}");
        assert!(matches!(
            store.get("nope", Vendor::Alibaba),
            Err(GatewayError::UnknownProfile(_))
        ));
        // The default profile exists even when nothing is configured, and says why it is unusable.
        let e = store
            .get("default", Vendor::Alibaba)
            .unwrap_err()
            .to_string();
        assert!(e.contains("ALIBABA_CLOUD_ACCESS_KEY_ID"), "{e}");
    }

    #[test]
    fn env_indirection_to_an_unset_variable_is_reported() {
        let catalog = Catalog::load().unwrap();
        let config = Config::from_toml(
            "[profiles.ops.tencent]\naccess_key_id_env = \"TID\"\naccess_key_secret_env = \"TKEY\"\n",
            "t",
            &catalog,
        )
        .unwrap();
        let store = CredentialStore::from_config(&config, &|_| None, None);
        let e = store.get("ops", Vendor::Tencent).unwrap_err().to_string();
        assert!(e.contains("TID is not set"), "{e}");
    }
}
