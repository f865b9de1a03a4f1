//! `[profiles.NAME.VENDOR]`: each credential table parsed once into one typed
//! [`CredentialSource`]. Serde checks the shape (known keys, types); the few
//! cross-field rules live in [`KeySection::parse`], each error naming its key.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use url::Url;

use super::{base_url, invalid, valid_region, ConfigError};
use crate::catalog::Vendor;
use crate::secret::Secret;

/// The profile used when a call names none.
pub const DEFAULT_PROFILE: &str = "default";

/// `[profiles.NAME]`: as written (`KeySection`s), or validated ([`Profile`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileSection<T = KeySection> {
    /// Alibaba Cloud credential.
    pub alibaba: Option<T>,
    /// Tencent Cloud credential.
    pub tencent: Option<T>,
}

/// A validated profile.
pub type Profile = ProfileSection<VendorCredential>;

/// One vendor credential table as written (see README, "Credentials"): static keys
/// (each literal or `*_env`), `file_profile`, `role_arn` (+ STS options),
/// `instance_role` (+ `metadata_endpoint`) or `credentials_file` (+ `poll_interval_ms`).
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct KeySection {
    pub access_key_id: Option<String>,
    pub access_key_id_env: Option<String>,
    pub access_key_secret: Option<String>,
    pub access_key_secret_env: Option<String>,
    pub security_token: Option<String>,
    pub security_token_env: Option<String>,
    pub file_profile: Option<String>,
    pub account_id: Option<String>,
    pub role_arn: Option<String>,
    pub source_profile: Option<String>,
    pub role_session_name: Option<String>,
    pub duration_seconds: Option<u64>,
    pub policy: Option<String>,
    pub external_id: Option<String>,
    pub sts_endpoint: Option<String>,
    pub sts_region: Option<String>,
    pub instance_role: Option<String>,
    pub metadata_endpoint: Option<String>,
    pub credentials_file: Option<String>,
    pub poll_interval_ms: Option<u64>,
    pub refresh_margin_s: Option<u64>,
}

// Literal values may be secrets: the raw table is never printed.
impl std::fmt::Debug for KeySection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeySection { .. }")
    }
}

/// A value given literally or named by an environment variable (`*_env`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyValue {
    /// In the config file.
    Literal(Secret),
    /// Read from this environment variable.
    Env(String),
}

/// Access key id, secret and optional token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticKeys {
    /// Access key id (Alibaba) / SecretId (Tencent).
    pub access_key_id: KeyValue,
    /// Access key secret / SecretKey.
    pub access_key_secret: KeyValue,
    /// STS / session token.
    pub security_token: Option<KeyValue>,
}

/// What signs `AssumeRole`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleBase {
    /// The same vendor's credential of another profile.
    Profile(String),
    /// Keys in this table.
    Keys(StaticKeys),
}

/// Role assumption through the vendor's STS `AssumeRole`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssumeRole {
    /// `acs:ram::UID:role/NAME` / `qcs::cam::uin/UIN:roleName/NAME`.
    pub role_arn: String,
    /// The credential that signs the call.
    pub base: RoleBase,
    /// `RoleSessionName` (default `cloudgate-<profile>`).
    pub session_name: Option<String>,
    /// `DurationSeconds` (default 3600).
    pub duration_seconds: Option<u64>,
    /// Inline policy (JSON).
    pub policy: Option<Secret>,
    /// `ExternalId`.
    pub external_id: Option<Secret>,
    /// STS base URL (default the vendor's public endpoint).
    pub sts_endpoint: Option<Url>,
    /// Tencent `X-TC-Region` (default `ap-guangzhou`).
    pub sts_region: Option<String>,
}

/// Where one profile's credential for one vendor comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialSource {
    /// Keys in the config, or environment variables named there.
    Keys(StaticKeys),
    /// A named profile of the vendor's own credentials files.
    VendorProfile(String),
    /// STS role assumption.
    AssumeRole(Box<AssumeRole>),
    /// The instance's RAM / CAM role from the metadata service.
    InstanceRole {
        /// Role name.
        role: String,
        /// Metadata base URL (default the vendor's).
        metadata_endpoint: Option<Url>,
    },
    /// A credentials file re-read when it changes.
    WatchedFile {
        /// The file.
        path: PathBuf,
        /// Its section (`file_profile`, default `default`).
        section: String,
        /// Poll interval (`poll_interval_ms`).
        poll: Option<Duration>,
    },
}

/// One vendor credential of a profile, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendorCredential {
    /// The source.
    pub source: CredentialSource,
    /// The vendor account the keys belong to (shared rate limit).
    pub account_id: Option<String>,
    /// Expiring credentials are refreshed this long before expiry.
    pub refresh_margin: Option<Duration>,
}

impl<T> ProfileSection<T> {
    /// The credential declared for `vendor`.
    pub fn vendor(&self, vendor: Vendor) -> Option<&T> {
        match vendor {
            Vendor::Tencent => self.tencent.as_ref(),
            _ => self.alibaba.as_ref(),
        }
    }
}

fn fail<T>(prefix: &str, key: &str, reason: impl std::fmt::Display) -> Result<T, ConfigError> {
    Err(invalid(format!("{prefix}.{key}"), reason.to_string()))
}

/// Whether an option is set.
fn set<T>(v: &Option<T>) -> bool {
    v.is_some()
}

impl KeySection {
    /// The typed source; `prefix` (`profiles.NAME.VENDOR`) names keys in errors.
    pub fn parse(self, prefix: &str) -> Result<VendorCredential, ConfigError> {
        let k = self;
        let role = set(&k.role_arn);
        let instance = set(&k.instance_role);
        let file = set(&k.credentials_file);
        let chosen = [
            ("role_arn", role),
            ("instance_role", instance),
            ("credentials_file", file),
        ];
        let chosen: Vec<&str> = chosen.iter().filter(|c| c.1).map(|c| c.0).collect();
        if chosen.len() > 1 {
            let both = chosen.join(" and ");
            let reason = format!("choose one credential source, not {both}");
            return fail(prefix, chosen[1], reason);
        }
        // Options of one source, in the order they are reported.
        let refreshing = role || instance;
        let options = [
            ("source_profile", set(&k.source_profile), role),
            ("role_session_name", set(&k.role_session_name), role),
            ("duration_seconds", set(&k.duration_seconds), role),
            ("policy", set(&k.policy), role),
            ("external_id", set(&k.external_id), role),
            ("sts_endpoint", set(&k.sts_endpoint), role),
            ("sts_region", set(&k.sts_region), role),
            ("metadata_endpoint", set(&k.metadata_endpoint), instance),
            ("poll_interval_ms", set(&k.poll_interval_ms), file),
            ("refresh_margin_s", set(&k.refresh_margin_s), refreshing),
        ];
        if let Some((key, ..)) = options.iter().find(|(_, on, owned)| *on && !owned) {
            let owner = match *key {
                "metadata_endpoint" => "instance_role",
                "poll_interval_ms" => "credentials_file",
                "refresh_margin_s" => "role_arn or instance_role",
                _ => "role_arn",
            };
            return fail(prefix, key, format!("only applies with {owner}"));
        }
        for (key, v) in [
            ("role_arn", &k.role_arn),
            ("instance_role", &k.instance_role),
            ("credentials_file", &k.credentials_file),
            ("source_profile", &k.source_profile),
        ] {
            if v.as_ref()
                .is_some_and(|v| v.trim().is_empty() || v.trim() != v)
            {
                let reason = "must not be empty or have surrounding whitespace";
                return fail(prefix, key, reason);
            }
        }
        for (key, v) in [
            ("poll_interval_ms", k.poll_interval_ms),
            ("refresh_margin_s", k.refresh_margin_s),
        ] {
            if v == Some(0) {
                return fail(prefix, key, "must be greater than 0");
            }
        }
        let value = |name: &str, literal: Option<String>, env: Option<String>| match (literal, env)
        {
            (Some(_), Some(_)) => fail(
                prefix,
                name,
                format!("give either {name} or {name}_env, not both"),
            ),
            (Some(v), None) => Ok(Some(KeyValue::Literal(Secret::new(v)))),
            (None, env) => Ok(env.map(KeyValue::Env)),
        };
        let id = value("access_key_id", k.access_key_id, k.access_key_id_env)?;
        let secret = value(
            "access_key_secret",
            k.access_key_secret,
            k.access_key_secret_env,
        )?;
        let token = value("security_token", k.security_token, k.security_token_env)?;
        let any_key = id.is_some() || secret.is_some() || token.is_some();
        let keys = match (id, secret) {
            (Some(access_key_id), Some(access_key_secret)) => Ok(StaticKeys {
                access_key_id,
                access_key_secret,
                security_token: token,
            }),
            (None, _) => fail(prefix, "access_key_id", "missing (or give file_profile)"),
            (Some(_), None) => fail(
                prefix,
                "access_key_secret",
                "missing: set access_key_secret_env (or access_key_secret)",
            ),
        };
        let url = |key: &str, v: Option<String>| match v.map(|v| base_url(&v)) {
            Some(Err(reason)) => fail(prefix, key, reason),
            other => Ok(other.and_then(Result::ok)),
        };
        let source = if let Some(role_arn) = k.role_arn {
            if !(role_arn.starts_with("acs:ram::") || role_arn.starts_with("qcs::cam::")) {
                let like = "acs:ram::UID:role/NAME or qcs::cam::uin/UIN:roleName/NAME";
                return fail(
                    prefix,
                    "role_arn",
                    format!("{role_arn:?} is not a role ARN like {like}"),
                );
            }
            let base = match (k.source_profile, k.file_profile) {
                (Some(_), file) if any_key || file.is_some() => {
                    let reason = "give either source_profile or base keys, not both";
                    return fail(prefix, "source_profile", reason);
                }
                (Some(p), _) => RoleBase::Profile(p),
                (None, Some(_)) => {
                    let reason = "role_arn takes its base credential from source_profile or access_key_id / access_key_secret";
                    return fail(prefix, "file_profile", reason);
                }
                (None, None) => RoleBase::Keys(keys?),
            };
            if k.duration_seconds
                .is_some_and(|d| !(900..=43_200).contains(&d))
            {
                return fail(prefix, "duration_seconds", "must be between 900 and 43200");
            }
            let session_ok = |n: &String| {
                (2..=64).contains(&n.len())
                    && n.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_.@=,+".contains(&b))
            };
            if k.role_session_name.as_ref().is_some_and(|n| !session_ok(n)) {
                return fail(
                    prefix,
                    "role_session_name",
                    "2 to 64 letters, digits and - _ . @ = , +",
                );
            }
            let json = |p: &String| {
                serde_json::from_str::<serde_json::Value>(p).is_ok_and(|v| v.is_object())
            };
            if k.policy.as_ref().is_some_and(|p| !json(p)) {
                return fail(prefix, "policy", "must be a JSON policy document");
            }
            if let Some(r) = k.sts_region.as_ref().filter(|r| !valid_region(r)) {
                return fail(
                    prefix,
                    "sts_region",
                    format!("{r:?} is not a region id like ap-guangzhou"),
                );
            }
            CredentialSource::AssumeRole(Box::new(AssumeRole {
                role_arn,
                base,
                session_name: k.role_session_name,
                duration_seconds: k.duration_seconds,
                policy: k.policy.map(Secret::new),
                external_id: k.external_id.map(Secret::new),
                sts_endpoint: url("sts_endpoint", k.sts_endpoint)?,
                sts_region: k.sts_region,
            }))
        } else if any_key && (instance || file) {
            let key = if instance {
                "instance_role"
            } else {
                "credentials_file"
            };
            return fail(prefix, key, "cannot be combined with keys");
        } else if let Some(role) = k.instance_role {
            if set(&k.file_profile) {
                return fail(
                    prefix,
                    "file_profile",
                    "cannot be combined with instance_role",
                );
            }
            let metadata_endpoint = url("metadata_endpoint", k.metadata_endpoint)?;
            CredentialSource::InstanceRole {
                role,
                metadata_endpoint,
            }
        } else if let Some(path) = k.credentials_file {
            let section = k.file_profile.unwrap_or_else(|| "default".into());
            let poll = k.poll_interval_ms.map(Duration::from_millis);
            CredentialSource::WatchedFile {
                path: path.into(),
                section,
                poll,
            }
        } else if let Some(p) = k.file_profile {
            if any_key {
                return fail(
                    prefix,
                    "file_profile",
                    "file_profile cannot be combined with keys",
                );
            }
            CredentialSource::VendorProfile(p)
        } else {
            CredentialSource::Keys(keys?)
        };
        Ok(VendorCredential {
            source,
            account_id: k.account_id,
            refresh_margin: k.refresh_margin_s.map(Duration::from_secs),
        })
    }
}

/// Parses every profile; `source_profile` names a declared profile with the same
/// vendor (or the implicit `default`), and chains never loop.
pub(super) fn profiles(
    sections: BTreeMap<String, ProfileSection>,
) -> Result<BTreeMap<String, Profile>, ConfigError> {
    let mut out = BTreeMap::new();
    for (name, section) in sections {
        let prefix = format!("profiles.{name}");
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(invalid(
                prefix,
                "profile names use letters, digits, '-' and '_'",
            ));
        }
        if section.alibaba.is_none() && section.tencent.is_none() {
            return Err(invalid(
                prefix,
                "declares no credentials: add an [alibaba] or [tencent] table",
            ));
        }
        let parse = |k: Option<KeySection>, v: &str| {
            k.map(|k| k.parse(&format!("{prefix}.{v}"))).transpose()
        };
        let profile = Profile {
            alibaba: parse(section.alibaba, "alibaba")?,
            tencent: parse(section.tencent, "tencent")?,
        };
        out.insert(name, profile);
    }
    for (name, profile) in &out {
        for vendor in [Vendor::Alibaba, Vendor::Tencent] {
            let v = crate::catalog::vendor_name(vendor);
            let key = format!("profiles.{name}.{v}.source_profile");
            let mut seen = vec![name.as_str()];
            let mut at = profile.vendor(vendor);
            while let Some(next) = at.and_then(source_profile) {
                if seen.contains(&next) {
                    let chain = seen.join(" -> ");
                    return Err(invalid(
                        key,
                        format!("source_profile chain loops: {chain} -> {next}"),
                    ));
                }
                seen.push(next);
                at = out.get(next).and_then(|p| p.vendor(vendor));
                if at.is_none() && (next != DEFAULT_PROFILE || out.contains_key(next)) {
                    return Err(invalid(
                        key,
                        format!("profile {next:?} declares no [profiles.{next}.{v}]"),
                    ));
                }
            }
        }
    }
    Ok(out)
}

fn source_profile(c: &VendorCredential) -> Option<&str> {
    match &c.source {
        CredentialSource::AssumeRole(a) => match &a.base {
            RoleBase::Profile(p) => Some(p),
            RoleBase::Keys(_) => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CredentialSource as S;

    fn parse(toml: &str) -> VendorCredential {
        toml::from_str::<KeySection>(toml)
            .unwrap()
            .parse("p")
            .unwrap()
    }

    #[test]
    fn each_table_becomes_one_source_and_debug_shows_no_secret() {
        let keys = "access_key_id = \"LTAIx\"\naccess_key_secret_env = \"S\"\n";
        let c = parse(&format!("{keys}account_id = \"1\""));
        let S::Keys(k) = &c.source else { panic!() };
        assert_eq!(k.access_key_secret, KeyValue::Env("S".into()));
        let c = parse(&format!(
            "{keys}role_arn = \"acs:ram::1:role/r\"\nrefresh_margin_s = 9"
        ));
        assert!(matches!(&c.source, S::AssumeRole(r) if r.base == RoleBase::Keys(k.clone())));
        let c = parse("credentials_file = \"/f\"").source;
        assert!(matches!(c, S::WatchedFile { section, poll: None, .. } if section == "default"));
        let c = parse("instance_role = \"r\"").source;
        assert!(matches!(c, S::InstanceRole { role, metadata_endpoint: None } if role == "r"));
        assert_eq!(
            parse("file_profile = \"dev\"").source,
            S::VendorProfile("dev".into())
        );
        let c = parse(&format!("{keys}role_arn = \"acs:ram::1:role/r\"\nexternal_id = \"xid\"\npolicy = '{{\"Statement\":[]}}'"));
        let debug = format!("{c:?}");
        assert!(
            !["LTAIx", "xid", "Statement"]
                .iter()
                .any(|s| debug.contains(s)),
            "{debug}"
        );
    }
}
