//! Who is calling, and may they: the caller's identity from its client
//! certificate (SAN URIs and DNS names, subject CN) or its bearer token
//! (SHA-256, compared in constant time with the configured hashes), then the
//! caller's method and profile rules. One check, before anything else a call does.

use std::sync::Arc;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tonic::metadata::MetadataMap;
use tonic::transport::CertificateDer;

use crate::config::{AuthSettings, CallerRule};
use crate::error::GatewayError;

/// Checks callers against `[auth]`.
#[derive(Debug)]
pub struct Authorizer {
    settings: AuthSettings,
}

/// How a caller proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proof {
    /// A client certificate.
    Certificate,
    /// A bearer token.
    Token,
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller<'a> {
    /// Its rule.
    pub rule: &'a CallerRule,
    /// How it authenticated.
    pub proof: Proof,
}

/// The identities a certificate presents: SAN URIs and DNS names, and `CN=<cn>`.
pub fn certificate_identities(der: &[u8]) -> Vec<String> {
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else {
        return Vec::new();
    };
    let mut ids = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                x509_parser::extensions::GeneralName::URI(u) => ids.push(u.to_string()),
                x509_parser::extensions::GeneralName::DNSName(d) => ids.push(d.to_string()),
                _ => {}
            }
        }
    }
    for cn in cert.subject().iter_common_name() {
        if let Ok(cn) = cn.as_str() {
            ids.push(format!("CN={cn}"));
        }
    }
    ids
}

fn bearer(meta: &MetadataMap) -> Result<Option<&[u8]>, GatewayError> {
    let Some(value) = meta.get("authorization") else {
        return Ok(None);
    };
    let bytes = value.as_bytes();
    let prefix = b"bearer ";
    if bytes.len() <= prefix.len() || !bytes[..prefix.len()].eq_ignore_ascii_case(prefix) {
        return Err(GatewayError::Unauthenticated(
            "the authorization metadata is not `Bearer <token>`".into(),
        ));
    }
    Ok(Some(bytes[prefix.len()..].trim_ascii()))
}

impl Authorizer {
    /// An authorizer over validated settings.
    pub fn new(settings: AuthSettings) -> Arc<Self> {
        Arc::new(Self { settings })
    }

    /// The settings.
    pub fn settings(&self) -> &AuthSettings {
        &self.settings
    }

    /// Whether calls must come from a configured caller.
    pub fn enforced(&self) -> bool {
        self.settings.authenticates_callers()
    }

    /// The token name whose hash matches `token` (every hash is compared, in constant time).
    fn token_name(&self, token: &[u8]) -> Option<&str> {
        let hash: [u8; 32] = Sha256::digest(token).into();
        let mut found = None;
        for (name, expected) in &self.settings.tokens {
            if bool::from(hash.ct_eq(expected)) {
                found = Some(name.as_str());
            }
        }
        found
    }

    /// Who is calling: the client certificate's identity, else the bearer token.
    pub fn authenticate(
        &self,
        meta: &MetadataMap,
        peer_certs: Option<&[CertificateDer<'static>]>,
    ) -> Result<Caller<'_>, GatewayError> {
        let mut unknown_identity = None;
        if let Some(leaf) = peer_certs.and_then(|c| c.first()) {
            let ids = certificate_identities(leaf);
            let found = self
                .settings
                .callers
                .iter()
                .find(|c| c.identities.iter().any(|want| ids.contains(want)));
            if let Some(rule) = found {
                return Ok(Caller {
                    rule,
                    proof: Proof::Certificate,
                });
            }
            unknown_identity = Some(ids.join(", "));
        }
        if let Some(token) = bearer(meta)? {
            let name = self.token_name(token).ok_or_else(|| {
                GatewayError::Unauthenticated("the bearer token is not a configured one".into())
            })?;
            let rule = self
                .settings
                .callers
                .iter()
                .find(|c| c.token.as_deref() == Some(name))
                .ok_or_else(|| {
                    GatewayError::Unauthenticated(format!("token {name:?} belongs to no caller"))
                })?;
            return Ok(Caller {
                rule,
                proof: Proof::Token,
            });
        }
        Err(GatewayError::Unauthenticated(match unknown_identity {
            Some(ids) => format!("the client certificate ({ids}) is no configured caller's"),
            None => "present a client certificate or an `authorization: Bearer <token>`".into(),
        }))
    }

    /// Authenticates the caller and checks that it may call `path` with `profile`.
    /// Returns the caller's name.
    pub fn authorize(
        &self,
        path: &str,
        profile: &str,
        meta: &MetadataMap,
        peer_certs: Option<&[CertificateDer<'static>]>,
    ) -> Result<String, GatewayError> {
        let caller = self.authenticate(meta, peer_certs)?;
        let rule = caller.rule;
        if !rule.methods.iter().any(|m| m.matches(path)) {
            return Err(GatewayError::PermissionDenied {
                caller: rule.name.clone(),
                method: path.to_string(),
                profile: None,
                what: format!("call {path}"),
            });
        }
        if !rule.profiles.iter().any(|p| p == profile) {
            return Err(GatewayError::PermissionDenied {
                caller: rule.name.clone(),
                method: path.to_string(),
                profile: Some(profile.to_string()),
                what: format!("use profile {profile:?} (x-cloud-profile) for {path}"),
            });
        }
        Ok(rule.name.clone())
    }

    /// The check of the health and reflection services: open unless configured
    /// otherwise, then any authenticated caller.
    pub fn check_open_service(
        &self,
        meta: &MetadataMap,
        peer_certs: Option<&[CertificateDer<'static>]>,
    ) -> Result<(), GatewayError> {
        if !self.enforced() || self.settings.open_health_and_reflection {
            return Ok(());
        }
        self.authenticate(meta, peer_certs).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    use crate::config::MethodPattern;

    fn authorizer() -> Arc<Authorizer> {
        let mut tokens = BTreeMap::new();
        tokens.insert("ci".to_string(), Sha256::digest(b"s3cret").into());
        Authorizer::new(AuthSettings {
            tls: None,
            tokens,
            callers: vec![CallerRule {
                name: "ci".into(),
                identities: vec![],
                token: Some("ci".into()),
                methods: vec![MethodPattern::Service("pkg.Svc".into())],
                profiles: vec!["default".into()],
                rate_limits: vec![],
            }],
            open_health_and_reflection: true,
        })
    }

    fn meta(auth: &str) -> MetadataMap {
        let mut m = MetadataMap::new();
        m.insert("authorization", auth.parse().unwrap());
        m
    }

    #[test]
    fn bearer_tokens() {
        let a = authorizer();
        assert_eq!(
            a.authorize("/pkg.Svc/M", "default", &meta("Bearer s3cret"), None)
                .unwrap(),
            "ci"
        );
        assert!(a
            .authorize("/pkg.Svc/M", "default", &meta("bearer  s3cret "), None)
            .is_ok());
        for bad in ["Bearer nope", "Basic s3cret", "s3cret", "Bearer "] {
            let e = a
                .authorize("/pkg.Svc/M", "default", &meta(bad), None)
                .unwrap_err();
            assert_eq!(e.code(), tonic::Code::Unauthenticated, "{bad}");
            assert!(!e.to_string().contains("s3cret"), "{e}");
        }
        let e = a
            .authorize("/pkg.Other/M", "default", &meta("Bearer s3cret"), None)
            .unwrap_err();
        assert_eq!(e.code(), tonic::Code::PermissionDenied);
        let e = a
            .authorize("/pkg.Svc/M", "ops", &meta("Bearer s3cret"), None)
            .unwrap_err();
        assert!(e.to_string().contains("\"ops\""), "{e}");
    }
}
