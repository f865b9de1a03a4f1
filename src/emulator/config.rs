//! The credentials the emulator accepts: fixed demo keys or fresh random ones.

use std::fmt;

use rand::distr::{Alphanumeric, SampleString};

use crate::catalog::Vendor;

/// Demo Alibaba AccessKey id of [`EmulatorConfig::demo`].
pub const DEMO_ALIBABA_ID: &str = "LTAI5tEmulatorDemoKey01";
/// Demo Alibaba AccessKey secret of [`EmulatorConfig::demo`].
pub const DEMO_ALIBABA_SECRET: &str = "emulator-demo-alibaba-secret";
/// Demo Tencent SecretId of [`EmulatorConfig::demo`].
pub const DEMO_TENCENT_ID: &str = "AKIDEmulatorDemoKey0000000000000001";
/// Demo Tencent SecretKey of [`EmulatorConfig::demo`].
pub const DEMO_TENCENT_SECRET: &str = "emulator-demo-tencent-secret";

/// One credential the emulator knows. `Debug` redacts the secret and the token.
#[derive(Clone, PartialEq, Eq)]
pub struct EmulatorKey {
    /// The vendor the key belongs to.
    pub vendor: Vendor,
    /// AccessKey id (Alibaba) or SecretId (Tencent).
    pub id: String,
    /// AccessKey secret (Alibaba) or SecretKey (Tencent).
    pub secret: String,
    /// STS / temporary-credential token; when set, every call with this key must carry it.
    pub token: Option<String>,
}

impl fmt::Debug for EmulatorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmulatorKey")
            .field("vendor", &self.vendor)
            .field("id", &self.id)
            .field("secret", &"<redacted>")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl EmulatorKey {
    /// A key without a token.
    pub fn new(vendor: Vendor, id: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            vendor,
            id: id.into(),
            secret: secret.into(),
            token: None,
        }
    }

    /// The same key, requiring `token` (an STS / temporary credential).
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }
}

/// What the emulator accepts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EmulatorConfig {
    /// Every key it knows, for both vendors.
    pub keys: Vec<EmulatorKey>,
}

impl EmulatorConfig {
    /// Fixed, documented demo keys (for `cloudgate emulator` standalone): Alibaba id
    /// `LTAI5tEmulatorDemoKey01` secret `emulator-demo-alibaba-secret`, Tencent id
    /// `AKIDEmulatorDemoKey0000000000000001` secret `emulator-demo-tencent-secret`, no tokens.
    pub fn demo() -> Self {
        Self {
            keys: vec![
                EmulatorKey::new(Vendor::Alibaba, DEMO_ALIBABA_ID, DEMO_ALIBABA_SECRET),
                EmulatorKey::new(Vendor::Tencent, DEMO_TENCENT_ID, DEMO_TENCENT_SECRET),
            ],
        }
    }

    /// Fresh random keys for both vendors (for `serve --emulate`), shaped like real ones:
    /// `LTAI` + 20 characters, `AKID` + 32 characters, 30-character secrets.
    pub fn random() -> Self {
        let mut rng = rand::rng();
        let mut token = |n: usize| Alphanumeric.sample_string(&mut rng, n);
        let alibaba_id = format!("LTAI{}", token(20));
        let alibaba_secret = token(30);
        let tencent_id = format!("AKID{}", token(32));
        let tencent_secret = token(32);
        Self {
            keys: vec![
                EmulatorKey::new(Vendor::Alibaba, alibaba_id, alibaba_secret),
                EmulatorKey::new(Vendor::Tencent, tencent_id, tencent_secret),
            ],
        }
    }

    /// The first key of a vendor.
    pub fn key(&self, vendor: Vendor) -> Option<&EmulatorKey> {
        self.keys.iter().find(|k| k.vendor == vendor)
    }

    /// Adds a key.
    pub fn with_key(mut self, key: EmulatorKey) -> Self {
        self.keys.push(key);
        self
    }

    /// The key of a vendor with this id.
    pub(crate) fn find(&self, vendor: Vendor, id: &str) -> Option<&EmulatorKey> {
        self.keys.iter().find(|k| k.vendor == vendor && k.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_secret_and_token() {
        let key = EmulatorKey::new(Vendor::Alibaba, "id1", "s3cr3t").with_token("tok3n");
        let text = format!("{key:?}");
        assert!(text.contains("id1"));
        assert!(!text.contains("s3cr3t"));
        assert!(!text.contains("tok3n"));
    }

    #[test]
    fn demo_and_random_have_one_key_per_vendor() {
        let demo = EmulatorConfig::demo();
        assert_eq!(demo.key(Vendor::Alibaba).unwrap().id, DEMO_ALIBABA_ID);
        assert_eq!(
            demo.key(Vendor::Tencent).unwrap().secret,
            DEMO_TENCENT_SECRET
        );
        let a = EmulatorConfig::random();
        let b = EmulatorConfig::random();
        assert_ne!(a, b);
        let ali = a.key(Vendor::Alibaba).unwrap();
        assert!(ali.id.starts_with("LTAI") && ali.id.len() == 24);
        assert!(a.key(Vendor::Tencent).unwrap().id.starts_with("AKID"));
        assert!(a.find(Vendor::Tencent, &ali.id).is_none());
    }
}
