//! Tencent Cloud API 3.0: a JSON body POSTed to `/`, signed with
//! TC3-HMAC-SHA256; every business error comes back in an HTTP 200 body
//! under `Response.Error`.

use std::sync::Arc;

use serde_json::{Map, Value as Json};

use super::{excerpt, Freshness, PreparedRequest, Target, VendorReply};
use crate::catalog::{Catalog, Operation};
use crate::credentials::Credential;
use crate::error::{GatewayError, Outcome, VendorFailure};
use crate::pb::cloudgate::v1::VendorError;
use crate::signing::tc3;

/// Content type sent (and signed), as the official Python SDK sends it.
pub const CONTENT_TYPE: &str = "application/json";

/// Signs one attempt.
pub fn prepare(
    op: &Operation,
    body: &Map<String, Json>,
    credential: &Credential,
    target: &Target,
    fresh: &Freshness,
) -> PreparedRequest {
    let body = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    let timestamp = fresh.now.timestamp();
    let signed = tc3::sign(&tc3::Tc3Input {
        host: &target.host,
        service: &op.service.rule.signing_service,
        secret_id: credential.access_key_id.expose(),
        secret_key: credential.secret.expose(),
        timestamp,
        content_type: CONTENT_TYPE,
        body: &body,
    });
    let mut headers = vec![
        ("authorization".to_string(), signed.authorization),
        ("content-type".to_string(), CONTENT_TYPE.to_string()),
        ("x-tc-action".to_string(), op.action().to_string()),
        ("x-tc-version".to_string(), op.version().to_string()),
        ("x-tc-timestamp".to_string(), timestamp.to_string()),
        ("x-tc-region".to_string(), target.region.clone()),
    ];
    if let Some(token) = &credential.token {
        headers.push(("x-tc-token".to_string(), token.expose().to_string()));
    }
    PreparedRequest {
        url: format!("{}/", target.base.as_str().trim_end_matches('/')),
        headers,
        body,
    }
}

/// Reads a reply into the `Response` payload or a classified error.
pub fn interpret(
    catalog: &Catalog,
    op: &Arc<Operation>,
    target: &Target,
    status: u16,
    body: &[u8],
) -> Result<VendorReply, GatewayError> {
    let outcome = op.rule.mutating.then_some(Outcome::Unknown);
    let bad = |reason: String, request_id: String| GatewayError::BadVendorResponse {
        host: target.host.clone(),
        http_status: status,
        request_id,
        reason,
        outcome,
    };
    // Any non-200 is a transport-level failure for the Tencent SDKs.
    let parsed: Option<Json> = serde_json::from_slice(body).ok();
    let response = parsed
        .as_ref()
        .and_then(|j| j.get("Response"))
        .filter(|r| r.is_object());
    let Some(response) = response.filter(|_| status == 200) else {
        return Err(bad(
            format!(
                "expected HTTP 200 with a JSON Response object, got {:?}",
                excerpt(body)
            ),
            String::new(),
        ));
    };
    let request_id = response
        .get("RequestId")
        .and_then(Json::as_str)
        .unwrap_or_default()
        .to_string();
    let Some(error) = response.get("Error") else {
        return Ok(VendorReply {
            payload: response.clone(),
            request_id,
            http_status: status,
        });
    };
    let code = error
        .get("Code")
        .and_then(Json::as_str)
        .unwrap_or_default()
        .to_string();
    if code.is_empty() {
        return Err(bad(
            format!("error without a Code: {:?}", excerpt(body)),
            request_id,
        ));
    }
    let (grpc, class) = super::classify(catalog, op, &code, status);
    let detail = VendorError {
        vendor: "tencent".into(),
        message: error
            .get("Message")
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_string(),
        code,
        request_id,
        http_status: i32::from(status),
        host: target.host.clone(),
        recommend: String::new(),
        action: op.action().to_string(),
        extra_json: String::new(),
    };
    Err(GatewayError::Vendor(Box::new(VendorFailure {
        detail,
        code: grpc,
        class,
        retry_after: None,
        mutating: op.rule.mutating,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{ErrorClass, Vendor};
    use tonic::Code;

    fn setup() -> (Catalog, Arc<Operation>, Target) {
        let c = Catalog::load().unwrap();
        let op = c
            .by_action(Vendor::Tencent, "ModifyUserType")
            .unwrap()
            .clone();
        let t = Target::new(
            "https://dlc.tencentcloudapi.com".parse().unwrap(),
            "ap-guangzhou".into(),
            crate::vendors::Signer::Tc3,
        );
        (c, op, t)
    }

    #[test]
    fn errors_in_http_200_are_classified() {
        let (c, op, t) = setup();
        let body = br#"{"Response":{"Error":{"Code":"RequestLimitExceeded.UinLimitExceeded","Message":"slow down"},"RequestId":"r-1"}}"#;
        let GatewayError::Vendor(f) = interpret(&c, &op, &t, 200, body).unwrap_err() else {
            panic!()
        };
        assert_eq!(f.class, ErrorClass::Throttled);
        assert_eq!(f.code, Code::ResourceExhausted);
        assert_eq!(f.detail.request_id, "r-1");
        let body = br#"{"Response":{"Error":{"Code":"UnauthorizedOperation.UserNotExist","Message":"no"},"RequestId":"r-2"}}"#;
        let GatewayError::Vendor(f) = interpret(&c, &op, &t, 200, body).unwrap_err() else {
            panic!()
        };
        assert_eq!(f.code, Code::NotFound);
    }

    #[test]
    fn success_and_malformed_replies() {
        let (c, op, t) = setup();
        let ok = interpret(&c, &op, &t, 200, br#"{"Response":{"RequestId":"abc"}}"#).unwrap();
        assert_eq!(ok.request_id, "abc");
        for (status, body) in [
            (200u16, &b"{}"[..]),
            (502, b"bad gateway"),
            (200, br#"{"Response":[]}"#),
        ] {
            assert!(matches!(
                interpret(&c, &op, &t, status, body),
                Err(GatewayError::BadVendorResponse { .. })
            ));
        }
    }

    #[test]
    fn request_headers_and_token() {
        let (_, op, t) = setup();
        let cred = Credential::new("AKIDx".into(), "key".into(), Some("tok".into()), "t").unwrap();
        let mut body = Map::new();
        body.insert("UserId".into(), Json::String("1".into()));
        let r = prepare(&op, &body, &cred, &t, &Freshness::new());
        let get = |k: &str| {
            r.headers
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(get("x-tc-region").as_deref(), Some("ap-guangzhou"));
        assert_eq!(get("x-tc-token").as_deref(), Some("tok"));
        assert!(get("authorization")
            .unwrap()
            .starts_with("TC3-HMAC-SHA256 Credential=AKIDx/"));
        assert_eq!(r.body, br#"{"UserId":"1"}"#);
    }
}
