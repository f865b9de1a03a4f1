//! Role assumption: Alibaba Cloud STS `AssumeRole` (RPC, `sts.aliyuncs.com`, 2015-04-01)
//! and Tencent Cloud STS `AssumeRole` (API 3.0, `sts.tencentcloudapi.com`, 2018-08-13),
//! signed with a base credential (static keys or another profile) by `crate::signing`.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use serde_json::{json, Value};
use url::Url;

use super::refresh::{Fetched, Source};
use super::{Credential, Slot};
use crate::catalog::Vendor;
use crate::config::AlibabaSignature;
use crate::signing::{acs3, encode, iso8601, new_nonce, rpc_v1, tc3};

/// Largest STS or instance-metadata reply read (bytes): a credential reply
/// is a few hundred bytes.
pub const MAX_CREDENTIAL_REPLY_BYTES: usize = 64 * 1024;

/// Alibaba STS API version.
pub const ALIBABA_STS_VERSION: &str = "2015-04-01";
/// Tencent STS API version.
pub const TENCENT_STS_VERSION: &str = "2018-08-13";
/// Default Alibaba STS endpoint.
pub const ALIBABA_STS_ENDPOINT: &str = "https://sts.aliyuncs.com";
/// Default Tencent STS endpoint.
pub const TENCENT_STS_ENDPOINT: &str = "https://sts.tencentcloudapi.com";
/// Default Tencent STS region (`X-TC-Region`).
pub const TENCENT_STS_REGION: &str = "ap-guangzhou";
/// Default lifetime asked for, seconds.
pub const DEFAULT_DURATION_SECONDS: u64 = 3600;

/// What to ask STS for.
#[derive(Debug, Clone)]
pub(crate) struct AssumeRole {
    pub vendor: Vendor,
    pub endpoint: Url,
    pub region: String,
    pub role_arn: String,
    pub session_name: String,
    pub duration_seconds: u64,
    pub policy: Option<String>,
    pub external_id: Option<String>,
    pub alibaba_signature: AlibabaSignature,
}

/// An STS source over a base credential.
pub(crate) struct StsSource {
    pub request: AssumeRole,
    pub base: Arc<Slot>,
    pub base_name: String,
    pub client: reqwest::Client,
}

impl Source for StsSource {
    fn describe(&self) -> String {
        format!(
            "assume role {} at {} (base: {})",
            self.request.role_arn,
            self.request.endpoint.host_str().unwrap_or_default(),
            self.base_name
        )
    }

    fn fetch(&self) -> BoxFuture<'_, Result<Fetched, String>> {
        Box::pin(async move {
            let base = self
                .base
                .get()
                .await
                .map_err(|e| format!("base credential ({}): {e}", self.base_name))?;
            let r = &self.request;
            let (url, headers, body) = match r.vendor {
                Vendor::Tencent => tencent_request(r, &base),
                _ => alibaba_request(r, &base),
            };
            let mut req = self.client.post(url).body(body);
            for (k, v) in &headers {
                req = req.header(k.as_str(), v.as_str());
            }
            let resp = req
                .send()
                .await
                .map_err(|e| format!("STS: {}", crate::transport::describe_error(e)))?;
            let status = resp.status().as_u16();
            let text = crate::transport::read_limited(resp, MAX_CREDENTIAL_REPLY_BYTES)
                .await
                .map_err(|e| format!("STS: {}", crate::transport::describe_error(e)))?
                .ok_or_else(|| {
                    format!("STS: reply larger than {MAX_CREDENTIAL_REPLY_BYTES} bytes")
                })?;
            match r.vendor {
                Vendor::Tencent => parse_tencent(status, &text),
                _ => parse_alibaba(status, &text),
            }
        })
    }
}

fn host_of(url: &Url) -> String {
    let mut host = url.host_str().unwrap_or_default().to_string();
    if let Some(port) = url.port() {
        host = format!("{host}:{port}");
    }
    host
}

fn alibaba_request(r: &AssumeRole, base: &Credential) -> (String, Vec<(String, String)>, Vec<u8>) {
    let mut params = vec![
        ("RoleArn".to_string(), r.role_arn.clone()),
        ("RoleSessionName".to_string(), r.session_name.clone()),
        (
            "DurationSeconds".to_string(),
            r.duration_seconds.to_string(),
        ),
    ];
    if let Some(p) = &r.policy {
        params.push(("Policy".into(), p.clone()));
    }
    if let Some(x) = &r.external_id {
        params.push(("ExternalId".into(), x.clone()));
    }
    let now = iso8601(Utc::now());
    let nonce = new_nonce();
    let token = base.token.as_ref().map(|t| t.expose());
    let root = r.endpoint.as_str().trim_end_matches('/');
    match r.alibaba_signature {
        AlibabaSignature::Acs3 => {
            let host = host_of(&r.endpoint);
            let signed = acs3::sign(&acs3::Acs3Input {
                method: "POST",
                host: &host,
                path: "/",
                access_key_id: base.access_key_id.expose(),
                access_key_secret: base.secret.expose(),
                security_token: token,
                action: "AssumeRole",
                version: ALIBABA_STS_VERSION,
                date: &now,
                nonce: &nonce,
                query: &params,
                body: b"",
                content_type: None,
                extra_headers: &[],
            });
            let headers = signed
                .headers
                .into_iter()
                .filter(|(k, _)| k != "host")
                .chain([("accept".to_string(), "application/json".to_string())])
                .collect();
            let url = format!("{root}/?{}", encode::canonical_query(&params));
            (url, headers, Vec::new())
        }
        AlibabaSignature::RpcV1 => {
            let signed = rpc_v1::sign(&rpc_v1::RpcV1Input {
                method: "POST",
                access_key_id: base.access_key_id.expose(),
                access_key_secret: base.secret.expose(),
                security_token: token,
                action: "AssumeRole",
                version: ALIBABA_STS_VERSION,
                format: "json",
                timestamp: &now,
                nonce: &nonce,
                params: &params,
            });
            let url = format!("{root}/?{}", signed.query);
            let headers = vec![("accept".to_string(), "application/json".to_string())];
            (url, headers, Vec::new())
        }
    }
}

fn tencent_request(r: &AssumeRole, base: &Credential) -> (String, Vec<(String, String)>, Vec<u8>) {
    let mut body = json!({
        "RoleArn": r.role_arn,
        "RoleSessionName": r.session_name,
        "DurationSeconds": r.duration_seconds,
    });
    if let Some(p) = &r.policy {
        // The STS API takes the policy URL-encoded.
        body["Policy"] = json!(encode::pe(p));
    }
    if let Some(x) = &r.external_id {
        body["ExternalId"] = json!(x);
    }
    let body = serde_json::to_vec(&body).unwrap_or_default();
    let timestamp = Utc::now().timestamp();
    let host = host_of(&r.endpoint);
    let content_type = "application/json";
    let signed = tc3::sign(&tc3::Tc3Input {
        host: &host,
        service: "sts",
        secret_id: base.access_key_id.expose(),
        secret_key: base.secret.expose(),
        timestamp,
        content_type,
        body: &body,
    });
    let mut headers = vec![
        ("authorization".to_string(), signed.authorization),
        ("content-type".to_string(), content_type.to_string()),
        ("x-tc-action".to_string(), "AssumeRole".to_string()),
        ("x-tc-version".to_string(), TENCENT_STS_VERSION.to_string()),
        ("x-tc-timestamp".to_string(), timestamp.to_string()),
        ("x-tc-region".to_string(), r.region.clone()),
    ];
    if let Some(t) = &base.token {
        headers.push(("x-tc-token".to_string(), t.expose().to_string()));
    }
    let url = format!("{}/", r.endpoint.as_str().trim_end_matches('/'));
    (url, headers, body)
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// A Tencent expiry: `ExpiredTime` (Unix seconds), else `Expiration` (RFC 3339).
pub(crate) fn tencent_expiration(v: &Value) -> Option<DateTime<Utc>> {
    v.get("ExpiredTime")
        .and_then(Value::as_i64)
        .and_then(|t| DateTime::from_timestamp(t, 0))
        .or_else(|| parse_expiration(str_of(v, "Expiration")))
}

/// Parses an Alibaba expiration (`2015-04-09T11:52:19Z`, or any RFC 3339).
pub(crate) fn parse_expiration(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%SZ") {
        return Some(t.and_utc());
    }
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn parse_alibaba(status: u16, body: &[u8]) -> Result<Fetched, String> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|_| format!("STS answered HTTP {status} with a body that is not JSON"))?;
    if status != 200 || v.get("Code").is_some() && v.get("Credentials").is_none() {
        return Err(format!(
            "STS AssumeRole failed: HTTP {status} {} {} (RequestId {})",
            str_of(&v, "Code"),
            str_of(&v, "Message"),
            str_of(&v, "RequestId")
        ));
    }
    let c = v.get("Credentials").ok_or("STS reply has no Credentials")?;
    let expires_at = parse_expiration(str_of(c, "Expiration"))
        .ok_or("STS reply has no valid Credentials.Expiration")?;
    let keys = (
        str_of(c, "AccessKeyId").to_string(),
        str_of(c, "AccessKeySecret").to_string(),
        str_of(c, "SecurityToken").to_string(),
    );
    Fetched::temporary(
        keys,
        "STS AssumeRole",
        expires_at,
        "STS reply",
        "SecurityToken",
    )
}

fn parse_tencent(status: u16, body: &[u8]) -> Result<Fetched, String> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|_| format!("STS answered HTTP {status} with a body that is not JSON"))?;
    let r = v
        .get("Response")
        .filter(|r| r.is_object() && status == 200)
        .ok_or_else(|| format!("STS answered HTTP {status} without a Response object"))?;
    if let Some(e) = r.get("Error") {
        return Err(format!(
            "STS AssumeRole failed: {} {} (RequestId {})",
            str_of(e, "Code"),
            str_of(e, "Message"),
            str_of(r, "RequestId")
        ));
    }
    let c = r.get("Credentials").ok_or("STS reply has no Credentials")?;
    let expires_at = tencent_expiration(r).ok_or("STS reply has no ExpiredTime")?;
    let keys = (
        str_of(c, "TmpSecretId").to_string(),
        str_of(c, "TmpSecretKey").to_string(),
        str_of(c, "Token").to_string(),
    );
    Fetched::temporary(keys, "STS AssumeRole", expires_at, "STS reply", "Token")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alibaba_replies() {
        let ok = br#"{"RequestId":"r","AssumedRoleUser":{},"Credentials":{"AccessKeyId":"STS.abc","AccessKeySecret":"s","SecurityToken":"t","Expiration":"2099-04-09T11:52:19Z"}}"#;
        let f = parse_alibaba(200, ok).unwrap();
        assert_eq!(f.credential.access_key_id.expose(), "STS.abc");
        assert_eq!(f.expires_at, parse_expiration("2099-04-09T11:52:19+00:00"));
        let err = br#"{"RequestId":"r","Code":"NoPermission","Message":"You are not authorized"}"#;
        let e = parse_alibaba(403, err).unwrap_err();
        assert!(e.contains("NoPermission") && e.contains("403"), "{e}");
        assert!(parse_alibaba(200, b"<xml/>").is_err());
    }

    #[test]
    fn tencent_replies() {
        let ok = br#"{"Response":{"Credentials":{"Token":"t","TmpSecretId":"AKIDtmp","TmpSecretKey":"k"},"ExpiredTime":4079339539,"Expiration":"2099-04-09T11:52:19Z","RequestId":"r"}}"#;
        let f = parse_tencent(200, ok).unwrap();
        assert_eq!(f.credential.token.unwrap().expose(), "t");
        let err =
            br#"{"Response":{"Error":{"Code":"InternalError","Message":"boom"},"RequestId":"r"}}"#;
        assert!(parse_tencent(200, err)
            .unwrap_err()
            .contains("InternalError"));
    }

    #[test]
    fn requests_carry_the_parameters_and_the_base_token() {
        let base = Credential::new("LTAIbase".into(), "s".into(), Some("tok".into()), "t").unwrap();
        let mut r = AssumeRole {
            vendor: Vendor::Alibaba,
            endpoint: Url::parse("http://127.0.0.1:9/").unwrap(),
            region: "cn-hangzhou".into(),
            role_arn: "acs:ram::123:role/ops".into(),
            session_name: "cloudgate".into(),
            duration_seconds: 900,
            policy: Some("{\"Version\":\"1\"}".into()),
            external_id: None,
            alibaba_signature: AlibabaSignature::Acs3,
        };
        let (url, headers, _) = alibaba_request(&r, &base);
        assert!(
            url.contains("RoleArn=acs%3Aram%3A%3A123%3Arole%2Fops"),
            "{url}"
        );
        assert!(headers
            .iter()
            .any(|(k, v)| k == "x-acs-security-token" && v == "tok"));
        r.alibaba_signature = AlibabaSignature::RpcV1;
        let (url, _, _) = alibaba_request(&r, &base);
        assert!(
            url.contains("SecurityToken=tok") && url.contains("Signature="),
            "{url}"
        );
        r.vendor = Vendor::Tencent;
        let (_, headers, body) = tencent_request(&r, &base);
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["DurationSeconds"], 900);
        assert!(headers
            .iter()
            .any(|(k, v)| k == "x-tc-action" && v == "AssumeRole"));
    }
}
