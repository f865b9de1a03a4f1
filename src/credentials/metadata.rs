//! Instance roles: the Alibaba Cloud ECS RAM-role metadata service (with the IMDSv2
//! token handshake) and the Tencent Cloud CVM role metadata service.

use futures::future::BoxFuture;
use serde_json::Value;
use url::Url;

use super::refresh::{Fetched, Source};
use super::sts::MAX_REPLY_BYTES;
use crate::catalog::Vendor;

/// Default Alibaba ECS metadata endpoint.
pub const ALIBABA_METADATA_ENDPOINT: &str = "http://100.100.100.200";
/// Default Tencent CVM metadata endpoint.
pub const TENCENT_METADATA_ENDPOINT: &str = "http://metadata.tencentyun.com";
/// Header asking for an ECS metadata token with this lifetime (seconds).
pub const ECS_TOKEN_TTL_HEADER: &str = "X-aliyun-ecs-metadata-token-ttl-seconds";
/// Header carrying the ECS metadata token.
pub const ECS_TOKEN_HEADER: &str = "X-aliyun-ecs-metadata-token";
/// Lifetime asked for the ECS metadata token (seconds; the service allows 1 to 21600).
const ECS_TOKEN_TTL_SECONDS: u32 = 300;

/// An instance-role source.
pub(crate) struct MetadataSource {
    vendor: Vendor,
    endpoint: Url,
    role: String,
    /// A client without proxies (the metadata service is link-local).
    client: reqwest::Client,
}

impl MetadataSource {
    /// A source for `role` at `endpoint` (default: the vendor's metadata service).
    pub(crate) fn new(
        vendor: Vendor,
        endpoint: &Option<Url>,
        role: &str,
        client: reqwest::Client,
    ) -> Self {
        let default = match vendor {
            Vendor::Tencent => TENCENT_METADATA_ENDPOINT,
            _ => ALIBABA_METADATA_ENDPOINT,
        };
        let endpoint = endpoint
            .clone()
            .unwrap_or_else(|| Url::parse(default).expect("a valid default URL"));
        Self {
            vendor,
            endpoint,
            role: role.to_string(),
            client,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.endpoint.as_str().trim_end_matches('/'))
    }

    async fn ecs_token(&self) -> Result<String, String> {
        let resp = self
            .client
            .put(self.url("/latest/api/token"))
            .header(ECS_TOKEN_TTL_HEADER, ECS_TOKEN_TTL_SECONDS.to_string())
            .send()
            .await
            .map_err(|e| format!("metadata token: {}", crate::transport::describe_error(e)))?;
        let status = resp.status().as_u16();
        let body = crate::transport::read_limited(resp, MAX_REPLY_BYTES)
            .await
            .ok()
            .flatten()
            .unwrap_or_default();
        let text = String::from_utf8_lossy(&body);
        if status != 200 || text.trim().is_empty() {
            return Err(format!("metadata token: HTTP {status}"));
        }
        Ok(text.trim().to_string())
    }
}

impl Source for MetadataSource {
    fn describe(&self) -> String {
        let what = match self.vendor {
            Vendor::Tencent => "CVM role",
            _ => "ECS RAM role",
        };
        format!(
            "{what} {} at {}",
            self.role,
            self.endpoint.host_str().unwrap_or_default()
        )
    }

    fn fetch(&self) -> BoxFuture<'_, Result<Fetched, String>> {
        Box::pin(async move {
            let (path, token) = match self.vendor {
                Vendor::Tencent => (
                    format!("/latest/meta-data/cam/security-credentials/{}", self.role),
                    None,
                ),
                _ => (
                    format!("/latest/meta-data/ram/security-credentials/{}", self.role),
                    Some(self.ecs_token().await?),
                ),
            };
            let mut req = self.client.get(self.url(&path));
            if let Some(t) = &token {
                req = req.header(ECS_TOKEN_HEADER, t.as_str());
            }
            let resp = req
                .send()
                .await
                .map_err(|e| format!("metadata: {}", crate::transport::describe_error(e)))?;
            let status = resp.status().as_u16();
            let body = crate::transport::read_limited(resp, MAX_REPLY_BYTES)
                .await
                .map_err(|e| format!("metadata {path}: {}", crate::transport::describe_error(e)))?
                .ok_or_else(|| {
                    format!("metadata {path}: reply larger than {MAX_REPLY_BYTES} bytes")
                })?;
            if status != 200 {
                return Err(format!("metadata {path}: HTTP {status}"));
            }
            parse(self.vendor, &body)
        })
    }
}

fn parse(vendor: Vendor, body: &[u8]) -> Result<Fetched, String> {
    let v: Value =
        serde_json::from_slice(body).map_err(|_| "metadata reply is not JSON".to_string())?;
    match v.get("Code").and_then(Value::as_str) {
        Some("Success") => {
            Fetched::temporary(vendor, &v, &v, "instance metadata", "metadata reply")
        }
        code => Err(format!(
            "metadata reply Code is {:?}",
            code.unwrap_or_default()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_of_both_vendors() {
        let ecs = br#"{"AccessKeyId":"STS.a","AccessKeySecret":"s","Expiration":"2099-01-01T00:00:00Z","SecurityToken":"t","LastUpdated":"2098-12-31T18:00:00Z","Code":"Success"}"#;
        let f = parse(Vendor::Alibaba, ecs).unwrap();
        assert_eq!(f.credential.access_key_id.expose(), "STS.a");
        let cvm = br#"{"TmpSecretId":"AKIDx","TmpSecretKey":"k","ExpiredTime":4070908800,"Expiration":"2099-01-01T00:00:00Z","Token":"t","Code":"Success"}"#;
        let f = parse(Vendor::Tencent, cvm).unwrap();
        assert_eq!(f.expires_at.unwrap().timestamp(), 4_070_908_800);
        let failed = br#"{"Code":"Failed"}"#;
        assert!(parse(Vendor::Alibaba, failed).is_err());
        let no_token = br#"{"AccessKeyId":"STS.a","AccessKeySecret":"s","Expiration":"2099-01-01T00:00:00Z","Code":"Success"}"#;
        assert!(parse(Vendor::Alibaba, no_token).is_err());
    }
}
