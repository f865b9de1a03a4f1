//! Alibaba Cloud RPC style: parameters in the query of a POST to `/`, signed
//! with ACS3-HMAC-SHA256 (headers) or RPC v1 HMAC-SHA1 (query); errors as a
//! JSON body with `Code`, and BSS failures inside HTTP 200 (`Success: false`).

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value as Json;

use super::{excerpt, Freshness, PreparedRequest, Target, VendorReply};
use crate::catalog::{Catalog, Operation};
use crate::config::AlibabaSignature;
use crate::credentials::Credential;
use crate::error::{GatewayError, Outcome, VendorFailure};
use crate::pb::cloudgate::v1::VendorError;
use crate::signing::{acs3, encode, iso8601, rpc_v1};
use crate::translate::QueryParams;

/// Content type of a form body.
const FORM: &str = "application/x-www-form-urlencoded";

/// Signs one attempt. Query parameters travel in the URL; form parameters
/// (the metadata's `formData`) in an `application/x-www-form-urlencoded`
/// body, covered by the signature either way.
pub fn prepare(
    op: &Operation,
    params: &QueryParams,
    credential: &Credential,
    target: &Target,
    scheme: AlibabaSignature,
    fresh: &Freshness,
) -> PreparedRequest {
    let timestamp = iso8601(fresh.now);
    let token = credential.token.as_ref().map(|t| t.expose());
    let body = if params.form.is_empty() {
        Vec::new()
    } else {
        encode::canonical_query(&params.form).into_bytes()
    };
    let content_type = (!body.is_empty()).then_some(FORM);
    match scheme {
        AlibabaSignature::Acs3 => {
            let signed = acs3::sign(&acs3::Acs3Input {
                method: "POST",
                host: &target.host,
                path: "/",
                access_key_id: credential.access_key_id.expose(),
                access_key_secret: credential.secret.expose(),
                security_token: token,
                action: op.action(),
                version: op.version(),
                date: &timestamp,
                nonce: &fresh.nonce,
                query: &params.query,
                body: &body,
                content_type,
                extra_headers: &[],
            });
            let mut headers: Vec<(String, String)> = signed
                .headers
                .into_iter()
                .filter(|(k, _)| k != "host")
                .collect();
            headers.push(("accept".into(), "application/json".into()));
            PreparedRequest {
                url: url_with_query(target, &encode::canonical_query(&params.query)),
                headers,
                body,
            }
        }
        AlibabaSignature::RpcV1 => {
            // v1 signs query and body parameters together.
            let all: Vec<(String, String)> = if params.form.is_empty() {
                params.query.clone()
            } else {
                params.query.iter().chain(&params.form).cloned().collect()
            };
            let signed = rpc_v1::sign(&rpc_v1::RpcV1Input {
                method: "POST",
                access_key_id: credential.access_key_id.expose(),
                access_key_secret: credential.secret.expose(),
                security_token: token,
                action: op.action(),
                version: op.version(),
                format: "json",
                timestamp: &timestamp,
                nonce: &fresh.nonce,
                params: &all,
            });
            let mut headers = vec![("accept".to_string(), "application/json".to_string())];
            let query = if params.form.is_empty() {
                signed.query
            } else {
                headers.push(("content-type".into(), FORM.into()));
                let mut in_url: Vec<(String, String)> = signed
                    .signed_parameters
                    .into_iter()
                    .filter(|(k, _)| !params.form.iter().any(|(f, _)| f == k))
                    .collect();
                in_url.push(("Signature".into(), signed.signature));
                in_url.sort();
                encode::canonical_query(&in_url)
            };
            PreparedRequest {
                url: url_with_query(target, &query),
                headers,
                body,
            }
        }
    }
}

fn url_with_query(target: &Target, query: &str) -> String {
    let base = target.base.as_str().trim_end_matches('/');
    if query.is_empty() {
        format!("{base}/")
    } else {
        format!("{base}/?{query}")
    }
}

fn text(obj: &Json, key: &str) -> String {
    match obj.get(key) {
        Some(Json::String(s)) => s.clone(),
        Some(Json::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// `x-acs-retry-after` (milliseconds, as the SDK reads it).
fn retry_after(headers: &http::HeaderMap) -> Option<Duration> {
    headers
        .get("x-acs-retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|ms| *ms > 0)
        .map(Duration::from_millis)
}

/// Reads a reply into a payload or a classified error.
pub fn interpret(
    catalog: &Catalog,
    op: &Arc<Operation>,
    target: &Target,
    status: u16,
    headers: &http::HeaderMap,
    body: &[u8],
) -> Result<VendorReply, GatewayError> {
    let outcome = op.rule.mutating.then_some(Outcome::Unknown);
    let json: Json = match serde_json::from_slice(body) {
        Ok(j @ Json::Object(_)) => j,
        _ => {
            return Err(GatewayError::BadVendorResponse {
                host: target.host.clone(),
                http_status: status,
                request_id: String::new(),
                reason: format!("expected a JSON object, got {:?}", excerpt(body)),
                outcome,
            })
        }
    };
    let request_id = text(&json, "RequestId");
    let failed_in_body = json.get("Success") == Some(&Json::Bool(false));
    if (200..300).contains(&status) && !failed_in_body {
        return Ok(VendorReply {
            payload: json,
            request_id,
            http_status: status,
        });
    }
    let code = text(&json, "Code");
    if code.is_empty() {
        return Err(GatewayError::BadVendorResponse {
            host: target.host.clone(),
            http_status: status,
            request_id,
            reason: format!("error reply without a Code: {:?}", excerpt(body)),
            outcome,
        });
    }
    let (grpc, class) = super::classify(catalog, op, &code, status);
    let mut extra = json.as_object().cloned().unwrap_or_default();
    for k in ["Code", "Message", "RequestId", "HostId", "Recommend"] {
        extra.remove(k);
    }
    let host_id = text(&json, "HostId");
    let detail = VendorError {
        vendor: "alibaba".into(),
        code,
        message: text(&json, "Message"),
        request_id,
        http_status: i32::from(status),
        host: if host_id.is_empty() {
            target.host.clone()
        } else {
            host_id
        },
        recommend: text(&json, "Recommend"),
        action: op.action().to_string(),
        extra_json: if extra.is_empty() {
            String::new()
        } else {
            Json::Object(extra).to_string()
        },
    };
    Err(GatewayError::Vendor(Box::new(VendorFailure {
        detail,
        code: grpc,
        class,
        retry_after: retry_after(headers),
        mutating: op.rule.mutating,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{ErrorClass, Vendor};
    use tonic::Code;

    fn setup(action: &str) -> (Catalog, Arc<Operation>, Target) {
        let c = Catalog::load().unwrap();
        let op = c.by_action(Vendor::Alibaba, action).unwrap().clone();
        let t = Target::new(
            "https://business.aliyuncs.com".parse().unwrap(),
            "cn-hangzhou".into(),
            crate::vendors::Signer::Acs3,
        );
        (c, op, t)
    }

    #[test]
    fn success_false_in_http_200_is_an_error() {
        let (c, op, t) = setup("SetResellerUserStatus");
        let body = br#"{"Code":"-116","Message":"Fail to modify Enduser status, Quota is less than 0.","RequestId":"R1","Success":false,"Data":false}"#;
        let err = interpret(&c, &op, &t, 200, &http::HeaderMap::new(), body).unwrap_err();
        let GatewayError::Vendor(f) = err else {
            panic!("vendor error expected")
        };
        assert_eq!(f.detail.code, "-116");
        assert_eq!(f.code, Code::FailedPrecondition);
        assert_eq!(f.detail.request_id, "R1");
        assert!(f.detail.extra_json.contains("\"Data\":false"));
    }

    #[test]
    fn throttling_reads_retry_after() {
        let (c, op, t) = setup("UpdateUserStatus");
        let mut h = http::HeaderMap::new();
        h.insert("x-acs-retry-after", "250".parse().unwrap());
        let body = br#"{"Code":"Throttling.User","Message":"Request was denied due to user flow control.","RequestId":"R2","HostId":"cloudsso.cn-shanghai.aliyuncs.com"}"#;
        let GatewayError::Vendor(f) = interpret(&c, &op, &t, 400, &h, body).unwrap_err() else {
            panic!()
        };
        assert_eq!(f.class, ErrorClass::Throttled);
        assert_eq!(f.retry_after, Some(Duration::from_millis(250)));
        assert_eq!(f.detail.host, "cloudsso.cn-shanghai.aliyuncs.com");
    }

    #[test]
    fn unexpected_bodies_are_clear_errors_not_panics() {
        let (c, op, t) = setup("SetResellerUserStatus");
        for (status, body) in [
            (502u16, &b"<html>Bad Gateway</html>"[..]),
            (200, b"[]"),
            (400, br#"{"Message":"no code"}"#),
            (200, b""),
        ] {
            match interpret(&c, &op, &t, status, &http::HeaderMap::new(), body).unwrap_err() {
                GatewayError::BadVendorResponse { outcome, .. } => {
                    assert_eq!(outcome, Some(Outcome::Unknown))
                }
                other => panic!("{other:?}"),
            }
        }
        let st: tonic::Status = interpret(&c, &op, &t, 502, &http::HeaderMap::new(), b"oops")
            .unwrap_err()
            .into();
        assert_eq!(st.code(), Code::Unavailable);
    }

    #[test]
    fn acs3_and_rpc_v1_requests_carry_what_the_vendor_needs() {
        let (_, op, t) = setup("ModifyAccountRelation");
        let cred = Credential::new("LTAIid".into(), "sec".into(), Some("tok".into()), "t").unwrap();
        let q = QueryParams {
            query: vec![("ChildNick".to_string(), "a b".to_string())],
            form: Vec::new(),
        };
        let fresh = Freshness::new();
        let r = prepare(&op, &q, &cred, &t, AlibabaSignature::Acs3, &fresh);
        assert_eq!(r.url, "https://business.aliyuncs.com/?ChildNick=a%20b");
        let names: Vec<_> = r.headers.iter().map(|(k, _)| k.as_str()).collect();
        for h in [
            "authorization",
            "x-acs-action",
            "x-acs-version",
            "x-acs-date",
            "x-acs-signature-nonce",
            "x-acs-security-token",
        ] {
            assert!(names.contains(&h), "{h} missing from {names:?}");
        }
        assert!(!names.contains(&"host"));
        let r = prepare(&op, &q, &cred, &t, AlibabaSignature::RpcV1, &fresh);
        assert!(
            r.url.contains("Action=ModifyAccountRelation") && r.url.contains("SecurityToken=tok")
        );
        assert!(r.url.contains("&Signature="));
    }
}
