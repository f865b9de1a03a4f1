//! Alibaba Cloud RPC signature v1 (`SignatureMethod=HMAC-SHA1`, `SignatureVersion=1.0`; "V2" in current Alibaba docs).

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use super::encode::{canonical_query, pe};
use super::hmac_sha1;

/// Value of the `SignatureMethod` common parameter.
pub const SIGNATURE_METHOD: &str = "HMAC-SHA1";
/// Value of the `SignatureVersion` common parameter.
pub const SIGNATURE_VERSION: &str = "1.0";

/// Names of the common parameters that [`sign`] sets itself (plus `Signature`).
///
/// Operation parameters with one of these names are ignored by [`sign`], so a caller-supplied
/// parameter can never override the credentials, action or timestamp.
pub const RESERVED_PARAMETERS: &[&str] = &[
    "AccessKeyId",
    "Action",
    "Format",
    "SecurityToken",
    "Signature",
    "SignatureMethod",
    "SignatureNonce",
    "SignatureVersion",
    "Timestamp",
    "Version",
];

/// Everything needed to sign one RPC v1 request. Holds the secret: no derived `Debug`.
pub struct RpcV1Input<'a> {
    /// HTTP method, `"POST"` or `"GET"`; used verbatim as the string-to-sign prefix.
    pub method: &'a str,
    /// AccessKey ID (`AccessKeyId` parameter).
    pub access_key_id: &'a str,
    /// AccessKey secret; the HMAC key is this plus `&`.
    pub access_key_secret: &'a str,
    /// STS security token, sent and signed as `SecurityToken` when present.
    pub security_token: Option<&'a str>,
    /// Operation name (`Action`).
    pub action: &'a str,
    /// API version (`Version`), e.g. `2017-12-14`.
    pub version: &'a str,
    /// `Format`: `"json"` as the tea SDK sends it; the published doc example uses `"XML"`.
    pub format: &'a str,
    /// `Timestamp`, already formatted `yyyy-MM-ddTHH:mm:ssZ` (see [`super::iso8601`]).
    pub timestamp: &'a str,
    /// `SignatureNonce`, unique per request (see [`super::new_nonce`]).
    pub nonce: &'a str,
    /// Operation parameters: wire names, arrays already flattened to `Name.1..N`, string values.
    pub params: &'a [(String, String)],
}

impl fmt::Debug for RpcV1Input<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RpcV1Input")
            .field("method", &self.method)
            .field("access_key_id", &self.access_key_id)
            .field("access_key_secret", &"<redacted>")
            .field("security_token", &self.security_token.map(|_| "<redacted>"))
            .field("action", &self.action)
            .field("version", &self.version)
            .field("format", &self.format)
            .field("timestamp", &self.timestamp)
            .field("nonce", &self.nonce)
            .field("params", &self.params)
            .finish()
    }
}

/// Result of [`sign`]: every intermediate plus the query string to send.
#[derive(Clone, PartialEq, Eq)]
pub struct RpcV1Signed {
    /// Sorted by name: operation + common parameters, without `Signature`.
    pub signed_parameters: Vec<(String, String)>,
    /// `pe(name)=pe(value)` of `signed_parameters`, joined by `&`.
    pub canonicalized_query_string: String,
    /// `METHOD&%2F&pe(canonicalized_query_string)`.
    pub string_to_sign: String,
    /// Base64(HMAC-SHA1(secret + "&", string_to_sign)).
    pub signature: String,
    /// Full query string to send: all signed params + `Signature`, sorted, RFC 3986 encoded
    /// (the query part of the vectors' `rfc3986_request_url`).
    pub query: String,
}

// Signatures and (for STS) tokens live in these fields: never print them.
impl std::fmt::Debug for RpcV1Signed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RpcV1Signed").finish_non_exhaustive()
    }
}

/// Signs one RPC v1 request.
///
/// Operation parameters named like a common parameter ([`RESERVED_PARAMETERS`]) are dropped.
pub fn sign(input: &RpcV1Input) -> RpcV1Signed {
    let mut params: Vec<(String, String)> = input
        .params
        .iter()
        .filter(|(name, _)| !RESERVED_PARAMETERS.contains(&name.as_str()))
        .cloned()
        .collect();
    let common = [
        ("Action", Some(input.action)),
        ("Format", Some(input.format)),
        ("Version", Some(input.version)),
        ("Timestamp", Some(input.timestamp)),
        ("SignatureNonce", Some(input.nonce)),
        ("SignatureMethod", Some(SIGNATURE_METHOD)),
        ("SignatureVersion", Some(SIGNATURE_VERSION)),
        ("AccessKeyId", Some(input.access_key_id)),
        ("SecurityToken", input.security_token),
    ];
    for (name, value) in common {
        if let Some(value) = value {
            params.push((name.to_string(), value.to_string()));
        }
    }
    params.sort();

    let canonicalized_query_string = canonical_query(&params);
    let string_to_sign = build_string_to_sign(input.method, &canonicalized_query_string);
    let signature = sign_string(input.access_key_secret, &string_to_sign);

    let mut with_signature = params.clone();
    with_signature.push(("Signature".to_string(), signature.clone()));
    let query = canonical_query(&with_signature);

    RpcV1Signed {
        signed_parameters: params,
        canonicalized_query_string,
        string_to_sign,
        signature,
        query,
    }
}

/// Server side: given every received parameter except `Signature` (any order), the HTTP
/// method and the secret, returns `(string_to_sign, signature)`.
pub fn compute_signature(
    method: &str,
    params: &[(String, String)],
    access_key_secret: &str,
) -> (String, String) {
    let string_to_sign = build_string_to_sign(method, &canonical_query(params));
    let signature = sign_string(access_key_secret, &string_to_sign);
    (string_to_sign, signature)
}

/// `METHOD & pe("/") & pe(canonicalized_query_string)`.
fn build_string_to_sign(method: &str, canonicalized_query_string: &str) -> String {
    format!("{method}&{}&{}", pe("/"), pe(canonicalized_query_string))
}

/// Base64(HMAC-SHA1(key = secret + "&", string_to_sign)).
fn sign_string(access_key_secret: &str, string_to_sign: &str) -> String {
    let mut key = String::with_capacity(access_key_secret.len() + 1);
    key.push_str(access_key_secret);
    key.push('&');
    STANDARD.encode(hmac_sha1(key.as_bytes(), string_to_sign.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    const VECTORS: &str = include_str!("../../tests/vectors/aliyun_rpc_v1.json");

    /// Vector ids covered by one `#[test]` each below.
    const TESTED_IDS: &[&str] = &[
        "aliyun-rpc-v1-published-doc-example",
        "aliyun-rpc-v1-set-reseller-user-status",
        "aliyun-rpc-v1-modify-account-relation-arrays",
        "aliyun-rpc-v1-update-user-status-sts",
        "aliyun-rpc-v1-modify-account-relation-eleven-items",
        "aliyun-rpc-v1-describe-user-status",
        "aliyun-rpc-v1-describe-user-status-get",
    ];

    fn vectors() -> Vec<Value> {
        let file: Value = serde_json::from_str(VECTORS).expect("vector file is JSON");
        file["vectors"].as_array().expect("vectors array").clone()
    }

    fn s<'a>(v: &'a Value, key: &str) -> &'a str {
        v[key]
            .as_str()
            .unwrap_or_else(|| panic!("field {key} is not a string"))
    }

    fn pairs(v: &Value) -> Vec<(String, String)> {
        v.as_object()
            .expect("object")
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().expect("string value").to_string()))
            .collect()
    }

    /// Splits a URL's query into raw (still encoded) `name=value` pieces and decodes them
    /// the way a server does (`+` is a space in form encoding).
    fn decode_query(url: &str) -> Vec<(String, String)> {
        let (_, query) = url.split_once('?').expect("url has a query");
        query
            .split('&')
            .map(|piece| {
                let (name, value) = piece.split_once('=').expect("name=value");
                let decode = |x: &str| {
                    percent_encoding::percent_decode_str(&x.replace('+', " "))
                        .decode_utf8()
                        .expect("utf-8")
                        .into_owned()
                };
                (decode(name), decode(value))
            })
            .collect()
    }

    fn check(id: &str) {
        let all = vectors();
        let v = all
            .iter()
            .find(|v| v["id"] == id)
            .unwrap_or_else(|| panic!("vector {id} not in file"));
        let inputs = &v["inputs"];
        let expected = &v["expected"];
        let signed_params = &expected["signed_parameters"];

        let api = pairs(&inputs["api_parameters"]);
        let secret = s(inputs, "access_key_secret");
        let input = RpcV1Input {
            method: s(inputs, "http_method"),
            access_key_id: s(inputs, "access_key_id"),
            access_key_secret: secret,
            security_token: inputs["security_token"].as_str(),
            // Action, Version and Format are only given among the expected signed parameters.
            action: s(signed_params, "Action"),
            version: s(signed_params, "Version"),
            format: s(signed_params, "Format"),
            timestamp: s(inputs, "timestamp"),
            nonce: s(inputs, "signature_nonce"),
            params: &api,
        };
        let out = sign(&input);

        let mut expected_params = pairs(signed_params);
        expected_params.sort();
        assert_eq!(
            out.signed_parameters, expected_params,
            "{id}: signed parameters"
        );
        assert_eq!(
            out.canonicalized_query_string,
            s(expected, "canonicalized_query_string"),
            "{id}: canonicalized query string"
        );
        assert_eq!(
            out.string_to_sign,
            s(expected, "string_to_sign"),
            "{id}: string to sign"
        );
        assert_eq!(
            s(expected, "hmac_key"),
            format!("{secret}&"),
            "{id}: hmac key"
        );
        assert_eq!(out.signature, s(expected, "signature"), "{id}: signature");
        let host = s(inputs, "host");
        assert_eq!(
            format!("https://{host}/?{}", out.query),
            s(expected, "rfc3986_request_url"),
            "{id}: rfc3986 request url"
        );
        assert_eq!(s(expected, "request_body"), "", "{id}: request body");

        // Server side: every URL the vector shows verifies with compute_signature.
        let mut urls = vec![s(expected, "rfc3986_request_url")];
        if let Some(sdk_url) = expected["sdk_request_url"].as_str() {
            urls.push(sdk_url);
        }
        for url in urls {
            let mut received = decode_query(url);
            let pos = received
                .iter()
                .position(|(name, _)| name == "Signature")
                .expect("Signature parameter");
            let (_, sent_signature) = received.remove(pos);
            assert_eq!(sent_signature, out.signature, "{id}: Signature in {url}");
            let (sts, sig) = compute_signature(input.method, &received, secret);
            assert_eq!(
                sts, out.string_to_sign,
                "{id}: server string to sign ({url})"
            );
            assert_eq!(sig, out.signature, "{id}: server signature ({url})");
            assert!(crate::signing::constant_time_eq(&sig, &sent_signature));
        }

        // A different secret or a tampered parameter must not verify.
        let (_, wrong) = compute_signature(input.method, &out.signed_parameters, "other");
        assert_ne!(wrong, out.signature, "{id}: wrong secret");
        let mut tampered = out.signed_parameters.clone();
        tampered[0].1.push('x');
        let (_, wrong) = compute_signature(input.method, &tampered, secret);
        assert_ne!(wrong, out.signature, "{id}: tampered parameter");
    }

    #[test]
    fn every_vector_has_a_test() {
        let ids: Vec<String> = vectors()
            .iter()
            .map(|v| v["id"].as_str().expect("id").to_string())
            .collect();
        assert_eq!(ids, TESTED_IDS);
    }

    #[test]
    fn vector_published_doc_example() {
        check("aliyun-rpc-v1-published-doc-example");
    }

    #[test]
    fn vector_set_reseller_user_status() {
        check("aliyun-rpc-v1-set-reseller-user-status");
    }

    #[test]
    fn vector_modify_account_relation_arrays() {
        check("aliyun-rpc-v1-modify-account-relation-arrays");
    }

    #[test]
    fn vector_update_user_status_sts() {
        check("aliyun-rpc-v1-update-user-status-sts");
    }

    #[test]
    fn vector_modify_account_relation_eleven_items() {
        check("aliyun-rpc-v1-modify-account-relation-eleven-items");
    }

    #[test]
    fn vector_describe_user_status() {
        check("aliyun-rpc-v1-describe-user-status");
    }

    #[test]
    fn vector_describe_user_status_get() {
        check("aliyun-rpc-v1-describe-user-status-get");
    }

    #[test]
    fn reserved_parameters_cannot_be_overridden() {
        let params = vec![
            ("AccessKeyId".to_string(), "evil".to_string()),
            ("Signature".to_string(), "forged".to_string()),
            ("Lang".to_string(), "en_us".to_string()),
        ];
        let input = RpcV1Input {
            method: "POST",
            access_key_id: "id",
            access_key_secret: "secret",
            security_token: None,
            action: "DescribeUserStatus",
            version: "2019-01-03",
            format: "json",
            timestamp: "2025-01-15T08:30:45Z",
            nonce: "n",
            params: &params,
        };
        let out = sign(&input);
        let names: Vec<&str> = out
            .signed_parameters
            .iter()
            .map(|(n, _)| n.as_str())
            .collect();
        assert_eq!(
            names,
            [
                "AccessKeyId",
                "Action",
                "Format",
                "Lang",
                "SignatureMethod",
                "SignatureNonce",
                "SignatureVersion",
                "Timestamp",
                "Version"
            ]
        );
        assert!(out
            .signed_parameters
            .contains(&("AccessKeyId".into(), "id".into())));
        assert_eq!(out.query.matches("Signature=").count(), 1);
    }

    #[test]
    fn debug_redacts_secrets() {
        let input = RpcV1Input {
            method: "POST",
            access_key_id: "id",
            access_key_secret: "very-secret-value",
            security_token: Some("token-value"),
            action: "A",
            version: "V",
            format: "json",
            timestamp: "T",
            nonce: "N",
            params: &[],
        };
        let dbg = format!("{input:?}");
        assert!(!dbg.contains("very-secret-value"));
        assert!(!dbg.contains("token-value"));
        assert!(dbg.contains("<redacted>"));
    }
}
