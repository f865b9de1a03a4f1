//! Role assumption: the catalog's STS `AssumeRole` operations (Alibaba Sts
//! 2015-04-01, Tencent sts 2018-08-13) sent like every other call — the same
//! forwarder (signing, bounded reply read, error classification, metrics) under
//! the same retry policy — signed with the base credential (static keys or
//! another profile's), never with the credential it fetches.

use std::sync::atomic::AtomicU32;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::json;
use tower::ServiceExt;
use url::Url;

use super::refresh::{Fetched, Source};
use super::{Credential, Slot};
use crate::catalog::{Catalog, Operation, Vendor};
use crate::config::{AlibabaSignature, AssumeRole, Config};
use crate::error::GatewayError;
use crate::forward::{Forwarder, VendorCall};
use crate::gateway::VendorStack;
use crate::retry::RetryPolicy;
use crate::translate::{self, WireParams};
use crate::vendors::{Signer, Target, VendorReply};

/// Largest STS reply read (bytes): a credential reply is a few hundred bytes.
pub const MAX_REPLY_BYTES: usize = 64 * 1024;
/// Default Alibaba STS endpoint.
pub const ALIBABA_STS_ENDPOINT: &str = "https://sts.aliyuncs.com";
/// Default Tencent STS endpoint.
pub const TENCENT_STS_ENDPOINT: &str = "https://sts.tencentcloudapi.com";
/// Default Tencent STS region (`X-TC-Region`).
const TENCENT_STS_REGION: &str = "ap-guangzhou";
/// Default lifetime asked for, seconds.
const DEFAULT_DURATION_SECONDS: u64 = 3600;
/// Bound of one `AssumeRole` call, retries included.
const STS_DEADLINE: Duration = Duration::from_secs(10);

/// The embedded catalog, which holds both vendors' STS operations.
fn embedded_catalog() -> Result<Arc<Catalog>, String> {
    static CATALOG: OnceLock<Result<Arc<Catalog>, String>> = OnceLock::new();
    CATALOG
        .get_or_init(|| {
            crate::catalog::Catalog::load()
                .map(Arc::new)
                .map_err(|e| format!("catalog: {e}"))
        })
        .clone()
}

/// Sends STS calls: retries around the forwarder, as for every vendor call.
#[derive(Clone)]
pub(crate) struct StsClient {
    catalog: Arc<Catalog>,
    stack: VendorStack,
    alibaba_signature: AlibabaSignature,
}

impl StsClient {
    pub(crate) fn new(config: &Config) -> Result<Self, String> {
        let catalog = embedded_catalog()?;
        let client = crate::transport::build_client(&config.http)
            .map_err(|e| format!("HTTP client: {e}"))?;
        let forwarder = Forwarder::new(client, catalog.clone(), config.http.request_timeout)
            .with_reply_limit(MAX_REPLY_BYTES);
        let stack = crate::app::retrying(forwarder, RetryPolicy::new(config.retry.clone()));
        Ok(Self {
            catalog,
            stack,
            alibaba_signature: config.alibaba_signature,
        })
    }
}

/// One profile's role assumption: the encoded request, its target and its base.
pub(crate) struct StsSource {
    sts: StsClient,
    op: Arc<Operation>,
    params: Arc<WireParams>,
    target: Arc<Target>,
    profile: Arc<str>,
    role_arn: String,
    base: Arc<Slot>,
    base_name: String,
}

impl StsSource {
    pub(crate) fn new(
        sts: StsClient,
        vendor: Vendor,
        profile: &str,
        role: &AssumeRole,
        base: Arc<Slot>,
        base_name: String,
    ) -> Result<Self, String> {
        // Alibaba Sts 2015-04-01 / Tencent sts 2018-08-13: read-only and safe
        // to retry in the catalog (Tencent's by a protogen.toml override).
        let op = sts
            .catalog
            .with_action(vendor, "AssumeRole")
            .find(|op| op.product().eq_ignore_ascii_case("sts"))
            .cloned()
            .ok_or("the catalog has no STS AssumeRole")?;
        let session = role.session_name.clone();
        let mut request = json!({
            "RoleArn": role.role_arn,
            "RoleSessionName": session.unwrap_or_else(|| format!("cloudgate-{profile}")),
            "DurationSeconds": role.duration_seconds.unwrap_or(DEFAULT_DURATION_SECONDS),
        });
        if let Some(p) = &role.policy {
            // Tencent's STS takes the policy URL-encoded.
            request["Policy"] = json!(match vendor {
                Vendor::Tencent => crate::signing::encode::pe(p.expose()),
                _ => p.expose().to_string(),
            });
        }
        if let Some(x) = &role.external_id {
            request["ExternalId"] = json!(x.expose());
        }
        // The message of the operation's input type, read by vendor field names.
        let msg = translate::decode_response(&sts.catalog, &op.input(), &request)
            .map_err(|e| format!("AssumeRole request: {e}"))?;
        let params = translate::encode_request(&sts.catalog, &op, &msg)
            .map_err(|v| format!("AssumeRole request: {}", crate::error::describe(&v)))?;
        let (default, region) = match vendor {
            Vendor::Tencent => (
                TENCENT_STS_ENDPOINT,
                role.sts_region
                    .clone()
                    .unwrap_or_else(|| TENCENT_STS_REGION.into()),
            ),
            _ => (ALIBABA_STS_ENDPOINT, op.service.rule.default_region.clone()),
        };
        let endpoint = match &role.sts_endpoint {
            Some(u) => u.clone(),
            None => Url::parse(default).map_err(|e| format!("sts_endpoint: {e}"))?,
        };
        let signer = Signer::for_vendor(vendor, sts.alibaba_signature);
        Ok(Self {
            sts,
            op,
            params: Arc::new(params),
            target: Arc::new(Target::new(endpoint, region, signer)),
            profile: profile.into(),
            role_arn: role.role_arn.clone(),
            base,
            base_name,
        })
    }
}

impl StsSource {
    /// Sends `AssumeRole` signed with the base credential.
    async fn send(&self, credential: Arc<Credential>) -> Result<VendorReply, GatewayError> {
        let call = VendorCall {
            op: self.op.clone(),
            params: self.params.clone(),
            credential,
            profile: self.profile.clone(),
            caller: None,
            target: self.target.clone(),
            deadline: Some(tokio::time::Instant::now() + STS_DEADLINE),
            attempts: Arc::new(AtomicU32::new(0)),
        };
        self.sts.stack.clone().oneshot(call).await
    }
}

impl Source for StsSource {
    fn describe(&self) -> String {
        format!(
            "assume role {} at {} (base: {})",
            self.role_arn,
            self.target.base.host_str().unwrap_or_default(),
            self.base_name
        )
    }

    fn fetch(&self) -> BoxFuture<'_, Result<Fetched, String>> {
        Box::pin(async move {
            let credential = self
                .base
                .get()
                .await
                .map_err(|e| format!("base credential ({}): {e}", self.base_name))?;
            let reply = self
                .send(credential)
                .await
                .map_err(|e| format!("STS: {e}"))?;
            let r = &reply.payload;
            let keys = r.get("Credentials").ok_or("STS reply has no Credentials")?;
            // Tencent: the expiry next to `Credentials`; Alibaba: inside.
            let expiry = if self.op.vendor() == Vendor::Tencent {
                r
            } else {
                keys
            };
            Fetched::temporary(
                self.op.vendor(),
                keys,
                expiry,
                "STS AssumeRole",
                "STS reply",
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::Resolved;

    fn source(vendor: Vendor, sts_endpoint: Option<Url>, base: Resolved) -> StsSource {
        let role = AssumeRole {
            role_arn: "acs:ram::123:role/ops".into(),
            base: crate::config::RoleBase::Profile("default".into()),
            session_name: None,
            duration_seconds: Some(900),
            policy: Some(crate::secret::Secret::new("{\"Version\":\"1\"}")),
            external_id: None,
            sts_endpoint,
            sts_region: None,
        };
        let sts = StsClient::new(&Config::default_for(&Catalog::load().unwrap())).unwrap();
        let base = Arc::new(Slot::Fixed(base));
        StsSource::new(sts, vendor, "ops", &role, base, "b".into()).unwrap()
    }

    #[test]
    fn requests_are_the_catalog_operations_with_the_parameters() {
        let s = source(Vendor::Alibaba, None, Err("unused".into()));
        let op = (s.op.name.as_str(), s.op.version(), s.op.rule.safe_to_retry);
        assert_eq!(op, ("Sts.AssumeRole", "2015-04-01", true));
        let WireParams::Query(q) = s.params.as_ref() else {
            panic!("not a query")
        };
        let q = &q.query;
        for (k, v) in [
            ("RoleArn", "acs:ram::123:role/ops"),
            ("RoleSessionName", "cloudgate-ops"),
            ("DurationSeconds", "900"),
            ("Policy", "{\"Version\":\"1\"}"),
        ] {
            assert!(q.iter().any(|(n, x)| n == k && x == v), "{k}: {q:?}");
        }
        assert_eq!(s.target.host, "sts.aliyuncs.com");
        let s = source(Vendor::Tencent, None, Err("unused".into()));
        assert_eq!(s.op.version(), "2018-08-13");
        assert!(s.op.rule.safe_to_retry && !s.op.rule.mutating);
        let WireParams::Json(body) = s.params.as_ref() else {
            panic!("not JSON")
        };
        assert_eq!(body["DurationSeconds"], 900);
        assert_eq!(body["Policy"], "%7B%22Version%22%3A%221%22%7D");
        let target = (s.target.host.as_str(), s.target.region.as_str());
        assert_eq!(target, ("sts.tencentcloudapi.com", "ap-guangzhou"));
    }

    #[tokio::test]
    async fn an_oversized_sts_reply_is_a_bad_vendor_response() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let big = "x".repeat(MAX_REPLY_BYTES + 1);
        let app = axum::Router::new().fallback(move || std::future::ready(big.clone()));
        tokio::spawn(async move { axum::serve(listener, app).await });
        let base = Arc::new(Credential::new("LTAIb".into(), "s".into(), None, "t").unwrap());
        let endpoint = Url::parse(&format!("http://{addr}")).ok();
        let s = source(Vendor::Alibaba, endpoint, Ok(base.clone()));
        let e = s.send(base).await.unwrap_err();
        assert!(matches!(e, GatewayError::BadVendorResponse { .. }), "{e:?}");
        let status = tonic::Status::from(e);
        assert!(String::from_utf8_lossy(status.details()).contains("BAD_VENDOR_RESPONSE"));
        let e = s.fetch().await.unwrap_err();
        let ok = e.starts_with("STS: unexpected reply") && e.contains("larger than 65536 bytes");
        assert!(ok, "{e}");
    }
}
