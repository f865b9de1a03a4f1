//! Temporary credentials: STS `AssumeRole` of both vendors (Alibaba RPC 2015-04-01,
//! Tencent API 3.0 2018-08-13, service `sts`), and the registry of every temporary key
//! issued (by STS or the metadata services), which the emulated operations accept with
//! their token until they expire (`InvalidSecurityToken.Expired` /
//! `AuthFailure.TokenFailure` afterwards).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use axum::response::Response;
use chrono::{DateTime, SubsecRound, Utc};
use rand::distr::{Alphanumeric, SampleString};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::catalog::Vendor;

use super::config::EmulatorKey;
use super::rejection::Rejection;
use super::request::{Envelope, Params};
use super::{alibaba, tencent};

/// The STS action name (both vendors).
pub(crate) const ACTION: &str = "AssumeRole";
/// Alibaba STS version.
pub(crate) const ALIBABA_VERSION: &str = "2015-04-01";
/// Tencent STS version.
pub(crate) const TENCENT_VERSION: &str = "2018-08-13";
/// Lifetime of an issued credential when none is configured and none was asked for.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);
/// Expired keys are remembered this long (answered "expired", not "unknown key").
const REMEMBER_EXPIRED: chrono::TimeDelta = chrono::TimeDelta::hours(1);

/// Counters and settings of temporary credentials, `GET /_emulator/credentials`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialStats {
    /// Credentials issued by Alibaba STS `AssumeRole`.
    pub sts_alibaba: u64,
    /// Credentials issued by Tencent STS `AssumeRole`.
    pub sts_tencent: u64,
    /// Credentials served by the ECS RAM-role metadata service.
    pub metadata_alibaba: u64,
    /// Credentials served by the CVM role metadata service.
    pub metadata_tencent: u64,
    /// Calls refused because their temporary credential had expired.
    pub expired_rejections: u64,
    /// Issued credentials not yet expired.
    pub active: usize,
    /// Lifetime forced on every issued credential, ms (`None`: as asked, default 3600 s).
    pub lifetime_ms: Option<u64>,
    /// Whether the metadata services answer (else HTTP 503).
    pub metadata_available: bool,
}

/// `POST /_emulator/credentials` body: settings to change.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialSettings {
    /// Force this lifetime on issued credentials, ms (0: back to "as asked").
    pub lifetime_ms: Option<u64>,
    /// Whether the metadata services answer.
    pub metadata_available: Option<bool>,
}

/// One issued credential.
#[derive(Debug)]
pub(crate) struct IssuedKey {
    pub key: EmulatorKey,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug)]
struct Inner {
    keys: HashMap<(u8, String), IssuedKey>,
    ecs_tokens: HashMap<String, DateTime<Utc>>,
    stats: CredentialStats,
    lifetime: Option<Duration>,
}

impl Default for Inner {
    fn default() -> Self {
        Self {
            keys: HashMap::new(),
            ecs_tokens: HashMap::new(),
            stats: CredentialStats {
                metadata_available: true,
                ..CredentialStats::default()
            },
            lifetime: None,
        }
    }
}

/// A key known to the emulator: configured (never expires) or issued.
#[derive(Debug, Clone)]
pub(crate) struct KnownKey {
    pub key: EmulatorKey,
    pub expires_at: Option<DateTime<Utc>>,
}

/// Every temporary credential issued, with the settings of issuance.
#[derive(Debug, Default)]
pub(crate) struct Issued {
    inner: Mutex<Inner>,
}

fn vendor_index(vendor: Vendor) -> u8 {
    match vendor {
        Vendor::Tencent => 1,
        _ => 0,
    }
}

/// What issued it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Issuer {
    Sts,
    Metadata,
}

impl Issued {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The issued key with this id (expired ones included, for an hour).
    pub(crate) fn find(&self, vendor: Vendor, id: &str) -> Option<KnownKey> {
        self.lock()
            .keys
            .get(&(vendor_index(vendor), id.to_string()))
            .map(|k| KnownKey {
                key: k.key.clone(),
                expires_at: Some(k.expires_at),
            })
    }

    /// Counts a call refused for an expired credential.
    pub(crate) fn note_expired(&self) {
        self.lock().stats.expired_rejections += 1;
    }

    /// Issues a fresh credential; `asked` is the requested lifetime.
    pub(crate) fn issue(
        &self,
        vendor: Vendor,
        issuer: Issuer,
        asked: Option<Duration>,
    ) -> IssuedKey {
        let mut rng = rand::rng();
        let id = match vendor {
            Vendor::Tencent => format!("AKID{}", Alphanumeric.sample_string(&mut rng, 32)),
            _ => format!("STS.{}", Alphanumeric.sample_string(&mut rng, 24)),
        };
        let secret = Alphanumeric.sample_string(&mut rng, 32);
        let token = Alphanumeric.sample_string(&mut rng, 96);
        let mut inner = self.lock();
        let lifetime = inner.lifetime.or(asked).unwrap_or(DEFAULT_LIFETIME);
        // Expirations travel in whole seconds: round up so the printed instant is exact
        // and never earlier than the lifetime promised.
        let exact = Utc::now() + chrono::Duration::from_std(lifetime).unwrap_or_default();
        let expires_at = if exact.trunc_subsecs(0) == exact {
            exact
        } else {
            exact.trunc_subsecs(0) + chrono::TimeDelta::seconds(1)
        };
        let now = Utc::now();
        inner
            .keys
            .retain(|_, k| k.expires_at + REMEMBER_EXPIRED > now);
        let key = EmulatorKey::new(vendor, id.clone(), secret).with_token(token);
        inner.keys.insert(
            (vendor_index(vendor), id),
            IssuedKey {
                key: key.clone(),
                expires_at,
            },
        );
        let counter = match (vendor, issuer) {
            (Vendor::Tencent, Issuer::Sts) => &mut inner.stats.sts_tencent,
            (Vendor::Tencent, Issuer::Metadata) => &mut inner.stats.metadata_tencent,
            (_, Issuer::Sts) => &mut inner.stats.sts_alibaba,
            (_, Issuer::Metadata) => &mut inner.stats.metadata_alibaba,
        };
        *counter += 1;
        IssuedKey { key, expires_at }
    }

    /// An ECS metadata session token valid for `ttl`.
    pub(crate) fn ecs_token(&self, ttl: Duration) -> String {
        let token = Alphanumeric.sample_string(&mut rand::rng(), 48);
        let mut inner = self.lock();
        let now = Utc::now();
        inner.ecs_tokens.retain(|_, exp| *exp > now);
        inner.ecs_tokens.insert(
            token.clone(),
            now + chrono::Duration::from_std(ttl).unwrap_or_default(),
        );
        token
    }

    /// Whether an ECS metadata session token is known and unexpired.
    pub(crate) fn ecs_token_valid(&self, token: &str) -> bool {
        self.lock()
            .ecs_tokens
            .get(token)
            .is_some_and(|exp| *exp > Utc::now())
    }

    /// Counters and settings.
    pub(crate) fn stats(&self) -> CredentialStats {
        let inner = self.lock();
        let now = Utc::now();
        let mut stats = inner.stats.clone();
        stats.active = inner.keys.values().filter(|k| k.expires_at > now).count();
        stats.lifetime_ms = inner.lifetime.map(|d| d.as_millis() as u64);
        stats
    }

    /// Changes the settings.
    pub(crate) fn configure(&self, settings: &CredentialSettings) {
        let mut inner = self.lock();
        if let Some(ms) = settings.lifetime_ms {
            inner.lifetime = (ms > 0).then(|| Duration::from_millis(ms));
        }
        if let Some(up) = settings.metadata_available {
            inner.stats.metadata_available = up;
        }
    }

    /// Whether the metadata services answer.
    pub(crate) fn metadata_available(&self) -> bool {
        self.lock().stats.metadata_available
    }

    /// Zeroes the counters (issued keys stay valid, settings stay).
    pub(crate) fn reset_counts(&self) {
        let mut inner = self.lock();
        let available = inner.stats.metadata_available;
        inner.stats = CredentialStats {
            metadata_available: available,
            ..CredentialStats::default()
        };
    }
}

/// Whether a verified call is STS `AssumeRole` (answered with an issued credential).
pub(crate) fn is_sts(action: &str) -> bool {
    action == ACTION
}

fn param(params: &Params, name: &str) -> Option<String> {
    match params {
        Params::Query(pairs) => pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone()),
        Params::Json(map) => map.get(name).map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }),
    }
    .filter(|v| !v.is_empty())
}

/// Answers a verified `AssumeRole` call: checks the version and parameters, issues a
/// credential and answers in the vendor's shape.
pub(crate) fn assume_role(
    issued: &Issued,
    vendor: Vendor,
    env: &Envelope,
) -> Result<Response, Rejection> {
    let expected = match vendor {
        Vendor::Tencent => TENCENT_VERSION,
        _ => ALIBABA_VERSION,
    };
    match env.version.as_deref().filter(|v| !v.is_empty()) {
        None if vendor == Vendor::Tencent => return Err(Rejection::MissingHeader("X-TC-Version")),
        None => return Err(Rejection::MissingCommon("Version")),
        Some(v) if v != expected => {
            return Err(Rejection::WrongVersion {
                action: ACTION.into(),
                version: v.into(),
            })
        }
        Some(_) => {}
    }
    let role_arn =
        param(&env.params, "RoleArn").ok_or(Rejection::MissingParameter("RoleArn".into()))?;
    let session = param(&env.params, "RoleSessionName")
        .ok_or(Rejection::MissingParameter("RoleSessionName".into()))?;
    let asked = match param(&env.params, "DurationSeconds") {
        None => None,
        Some(d) => {
            let secs: u64 = d.parse().map_err(|_| Rejection::InvalidParameter {
                name: "DurationSeconds".into(),
                field: "DurationSeconds".into(),
                value: d.clone(),
                reason: "it is not an integer".into(),
            })?;
            Some(Duration::from_secs(secs))
        }
    };
    let issued = issued.issue(vendor, Issuer::Sts, asked);
    let expiration = crate::signing::iso8601(issued.expires_at);
    let key = &issued.key;
    let token = key.token.clone().unwrap_or_default();
    Ok(match vendor {
        Vendor::Tencent => tencent::json_response(
            200,
            &json!({"Response": {
                "Credentials": {"Token": token, "TmpSecretId": key.id, "TmpSecretKey": key.secret},
                "ExpiredTime": issued.expires_at.timestamp(),
                "Expiration": expiration,
                "RequestId": tencent::request_id(),
            }}),
        ),
        _ => {
            let role_name = role_arn.rsplit('/').next().unwrap_or_default();
            alibaba::json_response(
                200,
                &json!({
                    "RequestId": alibaba::request_id(),
                    "AssumedRoleUser": {
                        "Arn": format!("{role_arn}/{session}"),
                        "AssumedRoleId": format!("3{:017}:{session}", rand::random::<u64>() % 100_000_000_000_000_000),
                        "RoleName": role_name,
                    },
                    "Credentials": {
                        "AccessKeyId": key.id,
                        "AccessKeySecret": key.secret,
                        "SecurityToken": token,
                        "Expiration": expiration,
                    },
                }),
            )
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_keys_expire_and_are_counted() {
        let issued = Issued::default();
        issued.configure(&CredentialSettings {
            lifetime_ms: Some(1500),
            metadata_available: None,
        });
        let k = issued.issue(Vendor::Tencent, Issuer::Sts, Some(Duration::from_secs(900)));
        let life = k.expires_at - Utc::now();
        assert!(
            life <= chrono::TimeDelta::milliseconds(2600)
                && life >= chrono::TimeDelta::milliseconds(1400),
            "{life:?}"
        );
        assert_eq!(k.expires_at.timestamp_subsec_nanos(), 0);
        let found = issued.find(Vendor::Tencent, &k.key.id).unwrap();
        assert_eq!(found.key.token, k.key.token);
        assert!(issued.find(Vendor::Alibaba, &k.key.id).is_none());
        let s = issued.stats();
        assert_eq!((s.sts_tencent, s.active, s.lifetime_ms), (1, 1, Some(1500)));
        issued.reset_counts();
        assert_eq!(issued.stats().sts_tencent, 0);
        let t = issued.ecs_token(Duration::from_secs(60));
        assert!(issued.ecs_token_valid(&t) && !issued.ecs_token_valid("nope"));
    }
}
