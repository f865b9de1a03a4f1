//! Alibaba Cloud signature V3 (`ACS3-HMAC-SHA256`): signing and the pieces a verifier needs.

use std::fmt;

use super::encode::canonical_query;
use super::{hmac_sha256, sha256_hex};

/// Algorithm name, first line of the string to sign and prefix of `Authorization`.
pub const ALGORITHM: &str = "ACS3-HMAC-SHA256";
/// Lowercase hex SHA-256 of the empty body.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Headers [`sign`] always sets itself (with `content-type`, the STS pair and `authorization`);
/// `extra_headers` with these names are ignored.
pub const BASE_HEADERS: &[&str] = &[
    "authorization",
    "content-type",
    "host",
    "x-acs-accesskey-id",
    "x-acs-action",
    "x-acs-content-sha256",
    "x-acs-date",
    "x-acs-security-token",
    "x-acs-signature-nonce",
    "x-acs-version",
];

/// Everything needed to sign one V3 request. Holds the secret: no derived `Debug`.
pub struct Acs3Input<'a> {
    /// HTTP method, e.g. `"POST"`.
    pub method: &'a str,
    /// Endpoint host (`host` header).
    pub host: &'a str,
    /// Canonical URI: `"/"` for RPC-style APIs (an empty path is treated as `/`).
    pub path: &'a str,
    /// AccessKey ID (goes into `Credential=`; also `x-acs-accesskey-id` with STS).
    pub access_key_id: &'a str,
    /// AccessKey secret: the HMAC key as is (no trailing `&`).
    pub access_key_secret: &'a str,
    /// STS token: adds signed `x-acs-security-token` and `x-acs-accesskey-id` headers.
    pub security_token: Option<&'a str>,
    /// Operation name (`x-acs-action`).
    pub action: &'a str,
    /// API version (`x-acs-version`).
    pub version: &'a str,
    /// `x-acs-date`, already formatted `yyyy-MM-ddTHH:mm:ssZ` (see [`super::iso8601`]).
    pub date: &'a str,
    /// `x-acs-signature-nonce`, unique per request (see [`super::new_nonce`]).
    pub nonce: &'a str,
    /// Query parameters: wire names, arrays flattened `Name.1..N`, string values, any order.
    pub query: &'a [(String, String)],
    /// Exact body bytes (empty for the RPC operations cloudgate forwards).
    pub body: &'a [u8],
    /// `content-type` header, signed and sent when `Some` (only when there is a body).
    pub content_type: Option<&'a str>,
    /// Extra headers to sign and send (names lowercased here), e.g. `accept` / `user-agent`
    /// as the Python SDK does. Names in [`BASE_HEADERS`] are ignored.
    pub extra_headers: &'a [(String, String)],
}

impl fmt::Debug for Acs3Input<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Acs3Input")
            .field("method", &self.method)
            .field("host", &self.host)
            .field("path", &self.path)
            .field("access_key_id", &self.access_key_id)
            .field("access_key_secret", &"<redacted>")
            .field("security_token", &self.security_token.map(|_| "<redacted>"))
            .field("action", &self.action)
            .field("version", &self.version)
            .field("date", &self.date)
            .field("nonce", &self.nonce)
            .field("query", &self.query)
            .field("body_len", &self.body.len())
            .field("content_type", &self.content_type)
            .field("extra_headers", &self.extra_headers)
            .finish()
    }
}

/// Result of [`sign`]: every intermediate plus the headers to send.
#[derive(Clone, PartialEq, Eq)]
pub struct Acs3Signed {
    /// Lowercase hex SHA-256 of the body (also the `x-acs-content-sha256` header).
    pub hashed_payload: String,
    /// Sorted, RFC 3986 encoded query string; send it as the URL query.
    pub canonical_query_string: String,
    /// The canonical request that was hashed.
    pub canonical_request: String,
    /// Sorted lowercase signed header names joined by `;`.
    pub signed_headers: String,
    /// `ACS3-HMAC-SHA256\n` + hex SHA-256 of the canonical request.
    pub string_to_sign: String,
    /// Lowercase hex HMAC-SHA256(secret, string_to_sign).
    pub signature: String,
    /// Value of the `Authorization` header.
    pub authorization: String,
    /// Every header to send (lowercase names): the signed ones sorted by name, then `authorization`.
    pub headers: Vec<(String, String)>,
}

// Signatures and (for STS) tokens live in these fields: never print them.
impl std::fmt::Debug for Acs3Signed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Acs3Signed").finish_non_exhaustive()
    }
}

/// Signs one V3 request.
///
/// Headers signed: `host`, `content-type` (when `Some`), `x-acs-action`, `x-acs-version`,
/// `x-acs-date`, `x-acs-signature-nonce`, `x-acs-content-sha256`, with STS also
/// `x-acs-security-token` and `x-acs-accesskey-id`, plus `extra_headers`.
pub fn sign(input: &Acs3Input) -> Acs3Signed {
    let hashed_payload = sha256_hex(input.body);
    let mut headers: Vec<(String, String)> = vec![
        ("host".into(), input.host.into()),
        ("x-acs-action".into(), input.action.into()),
        ("x-acs-version".into(), input.version.into()),
        ("x-acs-date".into(), input.date.into()),
        ("x-acs-signature-nonce".into(), input.nonce.into()),
        ("x-acs-content-sha256".into(), hashed_payload.clone()),
    ];
    if let Some(content_type) = input.content_type {
        headers.push(("content-type".into(), content_type.into()));
    }
    if let Some(token) = input.security_token {
        headers.push(("x-acs-security-token".into(), token.into()));
        headers.push(("x-acs-accesskey-id".into(), input.access_key_id.into()));
    }
    for (name, value) in input.extra_headers {
        let name = name.trim().to_ascii_lowercase();
        if !name.is_empty() && !BASE_HEADERS.contains(&name.as_str()) {
            headers.push((name, value.trim().to_string()));
        }
    }
    headers.sort();

    let (canonical_request, signed_headers) = canonical_request(
        input.method,
        input.path,
        input.query,
        &headers,
        &hashed_payload,
    );
    let string_to_sign = string_to_sign(&canonical_request);
    let signature = signature(input.access_key_secret, &string_to_sign);
    let authorization = format!(
        "{ALGORITHM} Credential={},SignedHeaders={signed_headers},Signature={signature}",
        input.access_key_id
    );
    headers.push(("authorization".into(), authorization.clone()));

    Acs3Signed {
        hashed_payload,
        canonical_query_string: canonical_query(input.query),
        canonical_request,
        signed_headers,
        string_to_sign,
        signature,
        authorization,
        headers,
    }
}

/// Canonical request from its pieces; also used server side with the received values.
///
/// `headers` = (name, value) for each header to sign; names are lowercased and values
/// trimmed; a name given more than once yields its values sorted and joined by `,`.
/// Returns `(canonical request, signed headers)`.
pub fn canonical_request(
    method: &str,
    path: &str,
    query: &[(String, String)],
    headers: &[(String, String)],
    hashed_payload: &str,
) -> (String, String) {
    let mut normalized: Vec<(String, &str)> = headers
        .iter()
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim()))
        .collect();
    normalized.sort();

    let mut canonical_headers = String::new();
    let mut names: Vec<&str> = Vec::new();
    let mut i = 0;
    while i < normalized.len() {
        let name = normalized[i].0.as_str();
        let mut values: Vec<&str> = Vec::new();
        while i < normalized.len() && normalized[i].0 == name {
            values.push(normalized[i].1);
            i += 1;
        }
        canonical_headers.push_str(name);
        canonical_headers.push(':');
        canonical_headers.push_str(&values.join(","));
        canonical_headers.push('\n');
        names.push(name);
    }
    let signed_headers = names.join(";");

    let path = if path.is_empty() { "/" } else { path };
    let canonical_request = format!(
        "{method}\n{path}\n{}\n{canonical_headers}\n{signed_headers}\n{hashed_payload}",
        canonical_query(query)
    );
    (canonical_request, signed_headers)
}

/// `ACS3-HMAC-SHA256\n` + lowercase hex SHA-256 of the canonical request.
pub fn string_to_sign(canonical_request: &str) -> String {
    format!("{ALGORITHM}\n{}", sha256_hex(canonical_request.as_bytes()))
}

/// Lowercase hex HMAC-SHA256 with the plain AccessKey secret as key (no trailing `&`).
pub fn signature(access_key_secret: &str, string_to_sign: &str) -> String {
    hex::encode(hmac_sha256(
        access_key_secret.as_bytes(),
        string_to_sign.as_bytes(),
    ))
}

/// A parsed V3 `Authorization` header.
#[derive(Clone, PartialEq, Eq)]
pub struct Acs3Authorization {
    /// The `Credential=` value (the AccessKey ID).
    pub access_key_id: String,
    /// The `SignedHeaders=` names, lowercased, in the order given.
    pub signed_headers: Vec<String>,
    /// The `Signature=` value.
    pub signature: String,
}

impl std::fmt::Debug for Acs3Authorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Acs3Authorization")
            .field("signed_headers", &self.signed_headers)
            .field("signature", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// Parses `ACS3-HMAC-SHA256 Credential=..,SignedHeaders=a;b,Signature=..`; `None` when malformed.
///
/// Spaces after the commas are tolerated; each of the three fields must appear exactly once,
/// be non-empty and contain no whitespace; unknown fields are rejected.
pub fn parse_authorization(value: &str) -> Option<Acs3Authorization> {
    let (credential, signed_headers, signature) = super::split_authorization(value, ALGORITHM)?;
    Some(Acs3Authorization {
        access_key_id: credential.to_string(),
        signed_headers,
        signature: signature.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    const VECTORS: &str = include_str!("../../tests/vectors/aliyun_acs3.json");

    /// Vector ids covered by one `#[test]` each below.
    const TESTED_IDS: &[&str] = &[
        "aliyun-acs3-published-doc-example",
        "aliyun-acs3-modify-account-relation-arrays",
        "aliyun-acs3-describe-user-status-sts",
        "aliyun-acs3-update-user-status",
        "aliyun-acs3-set-reseller-user-status",
        "aliyun-acs3-modify-account-relation-form-body",
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
        let mut out: Vec<(String, String)> = v
            .as_object()
            .expect("object")
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().expect("string value").to_string()))
            .collect();
        out.sort();
        out
    }

    /// Checks every variant of one vector; returns the number of variants checked.
    fn check(id: &str) -> usize {
        let all = vectors();
        let v = all
            .iter()
            .find(|v| v["id"] == id)
            .unwrap_or_else(|| panic!("vector {id} not in file"));
        let inputs = &v["inputs"];
        let expected = &v["expected"];
        let query = pairs(&inputs["query_parameters"]);
        let body = s(inputs, "body").as_bytes();
        let host = s(inputs, "host");
        let secret = s(inputs, "access_key_secret");

        let variants = expected["variants"].as_array().expect("variants");
        assert!(!variants.is_empty(), "{id}: no variants");
        for variant in variants {
            let name = format!("{id}/{}", s(variant, "name"));
            let to_sign = pairs(&variant["headers_to_sign"]);
            let content_type = variant["headers_to_sign"]["content-type"].as_str();
            let extra: Vec<(String, String)> = to_sign
                .iter()
                .filter(|(n, _)| !BASE_HEADERS.contains(&n.as_str()))
                .cloned()
                .collect();
            if s(variant, "name") == "documented-header-set" {
                assert!(extra.is_empty(), "{name}: documented set needs no extras");
            }
            let input = Acs3Input {
                method: s(inputs, "http_method"),
                host,
                path: s(inputs, "path"),
                access_key_id: s(inputs, "access_key_id"),
                access_key_secret: secret,
                security_token: inputs["security_token"].as_str(),
                action: s(inputs, "x_acs_action"),
                version: s(inputs, "x_acs_version"),
                date: s(inputs, "x_acs_date"),
                nonce: s(inputs, "x_acs_signature_nonce"),
                query: &query,
                body,
                content_type,
                extra_headers: &extra,
            };
            let out = sign(&input);

            assert_eq!(
                out.hashed_payload,
                s(expected, "hashed_payload"),
                "{name}: payload hash"
            );
            assert_eq!(
                out.canonical_query_string,
                s(expected, "canonical_query_string"),
                "{name}: canonical query string"
            );
            assert_eq!(
                out.canonical_request,
                s(variant, "canonical_request"),
                "{name}: canonical request"
            );
            assert_eq!(
                out.signed_headers,
                s(variant, "signed_headers"),
                "{name}: signed headers"
            );
            assert_eq!(
                out.string_to_sign,
                s(variant, "string_to_sign"),
                "{name}: string to sign"
            );
            assert_eq!(out.signature, s(variant, "signature"), "{name}: signature");
            assert_eq!(
                out.authorization,
                s(variant, "authorization"),
                "{name}: authorization"
            );

            // The headers sent are exactly the signed set plus authorization.
            let (last, signed) = out.headers.split_last().expect("headers");
            assert_eq!(signed, to_sign.as_slice(), "{name}: headers sent");
            assert_eq!(
                last,
                &(
                    "authorization".to_string(),
                    s(variant, "authorization").to_string()
                ),
                "{name}: authorization header"
            );

            // The URL to send carries the canonical query string.
            let url = if out.canonical_query_string.is_empty() {
                format!("https://{host}/")
            } else {
                format!("https://{host}/?{}", out.canonical_query_string)
            };
            assert_eq!(
                url,
                s(expected, "rfc3986_request_url"),
                "{name}: rfc3986 url"
            );

            // Server side: parse the header, rebuild from the received pieces, verify.
            let auth = parse_authorization(&out.authorization).expect("parsable");
            assert_eq!(auth.access_key_id, s(inputs, "access_key_id"), "{name}");
            assert_eq!(auth.signed_headers.join(";"), out.signed_headers, "{name}");
            assert_eq!(auth.signature, out.signature, "{name}");
            let received: Vec<(String, String)> = auth
                .signed_headers
                .iter()
                .map(|h| {
                    let value = out
                        .headers
                        .iter()
                        .find(|(n, _)| n == h)
                        .map(|(_, v)| v.clone())
                        .expect("signed header was sent");
                    (h.clone(), value)
                })
                .collect();
            let mut shuffled_query = query.clone();
            shuffled_query.reverse();
            let (cr, sh) = canonical_request(
                input.method,
                input.path,
                &shuffled_query,
                &received,
                &crate::signing::sha256_hex(body),
            );
            assert_eq!(
                cr,
                s(variant, "canonical_request"),
                "{name}: server canonical request"
            );
            assert_eq!(
                sh,
                s(variant, "signed_headers"),
                "{name}: server signed headers"
            );
            let sts = string_to_sign(&cr);
            assert_eq!(
                sts,
                s(variant, "string_to_sign"),
                "{name}: server string to sign"
            );
            assert_eq!(
                signature(secret, &sts),
                s(variant, "signature"),
                "{name}: server signature"
            );
            assert_ne!(
                signature("other", &sts),
                out.signature,
                "{name}: wrong secret"
            );
        }
        variants.len()
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
        assert_eq!(check("aliyun-acs3-published-doc-example"), 1);
    }

    #[test]
    fn vector_modify_account_relation_arrays() {
        assert_eq!(check("aliyun-acs3-modify-account-relation-arrays"), 2);
    }

    #[test]
    fn vector_describe_user_status_sts() {
        assert_eq!(check("aliyun-acs3-describe-user-status-sts"), 2);
    }

    #[test]
    fn vector_update_user_status() {
        assert_eq!(check("aliyun-acs3-update-user-status"), 2);
    }

    #[test]
    fn vector_set_reseller_user_status() {
        assert_eq!(check("aliyun-acs3-set-reseller-user-status"), 2);
    }

    #[test]
    fn vector_modify_account_relation_form_body() {
        assert_eq!(check("aliyun-acs3-modify-account-relation-form-body"), 1);
    }

    #[test]
    fn empty_sha256_constant() {
        assert_eq!(EMPTY_SHA256, crate::signing::sha256_hex(b""));
    }

    #[test]
    fn canonical_request_normalizes_headers() {
        let headers = vec![
            ("X-Acs-B".to_string(), " 2 ".to_string()),
            ("host".to_string(), "h".to_string()),
            ("x-acs-b".to_string(), "1".to_string()),
        ];
        let (cr, sh) = canonical_request("GET", "", &[], &headers, EMPTY_SHA256);
        assert_eq!(sh, "host;x-acs-b");
        assert_eq!(
            cr,
            format!("GET\n/\n\nhost:h\nx-acs-b:1,2\n\nhost;x-acs-b\n{EMPTY_SHA256}")
        );
    }

    #[test]
    fn extra_headers_cannot_replace_base_headers() {
        let extra = vec![
            ("Host".to_string(), "evil.example".to_string()),
            ("Authorization".to_string(), "x".to_string()),
            ("Accept".to_string(), " application/json ".to_string()),
        ];
        let input = Acs3Input {
            method: "POST",
            host: "business.aliyuncs.com",
            path: "/",
            access_key_id: "id",
            access_key_secret: "secret",
            security_token: None,
            action: "A",
            version: "V",
            date: "2025-01-15T08:30:45Z",
            nonce: "n",
            query: &[],
            body: b"",
            content_type: None,
            extra_headers: &extra,
        };
        let out = sign(&input);
        let names: Vec<&str> = out.headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "accept",
                "host",
                "x-acs-action",
                "x-acs-content-sha256",
                "x-acs-date",
                "x-acs-signature-nonce",
                "x-acs-version",
                "authorization"
            ]
        );
        assert_eq!(out.headers[0].1, "application/json");
        assert_eq!(out.headers[1].1, "business.aliyuncs.com");
    }

    #[test]
    fn parse_authorization_accepts_and_rejects() {
        let ok = parse_authorization(
            "ACS3-HMAC-SHA256 Credential=AK,SignedHeaders=host;X-Acs-Date, Signature=abc",
        )
        .expect("valid");
        assert_eq!(
            ok,
            Acs3Authorization {
                access_key_id: "AK".into(),
                signed_headers: vec!["host".into(), "x-acs-date".into()],
                signature: "abc".into(),
            }
        );
        for bad in [
            "",
            "ACS3-HMAC-SHA256",
            "ACS3-HMAC-SHA256 ",
            "ACS3-HMAC-SHA256Credential=AK,SignedHeaders=host,Signature=abc",
            "ACS3-HMAC-SM3 Credential=AK,SignedHeaders=host,Signature=abc",
            "TC3-HMAC-SHA256 Credential=AK,SignedHeaders=host,Signature=abc",
            "ACS3-HMAC-SHA256 Credential=AK,SignedHeaders=host",
            "ACS3-HMAC-SHA256 Credential=AK,Signature=abc",
            "ACS3-HMAC-SHA256 SignedHeaders=host,Signature=abc",
            "ACS3-HMAC-SHA256 Credential=,SignedHeaders=host,Signature=abc",
            "ACS3-HMAC-SHA256 Credential=AK,SignedHeaders=host,Signature=",
            "ACS3-HMAC-SHA256 Credential=AK,SignedHeaders=host;;date,Signature=abc",
            "ACS3-HMAC-SHA256 Credential=AK,SignedHeaders=host,Signature=abc,Signature=abd",
            "ACS3-HMAC-SHA256 Credential=AK,SignedHeaders=host,Signature=abc,Extra=1",
            "ACS3-HMAC-SHA256 Credential=AK,SignedHeaders=host,Signature=abc,",
            "ACS3-HMAC-SHA256 Credential=A K,SignedHeaders=host,Signature=abc",
            "ACS3-HMAC-SHA256 Credential AK,SignedHeaders=host,Signature=abc",
            "ACS3-HMAC-SHA256 Credential=AK;SignedHeaders=host;Signature=abc",
        ] {
            assert_eq!(parse_authorization(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn debug_redacts_secrets() {
        let input = Acs3Input {
            method: "POST",
            host: "h",
            path: "/",
            access_key_id: "id",
            access_key_secret: "very-secret-value",
            security_token: Some("token-value"),
            action: "A",
            version: "V",
            date: "D",
            nonce: "N",
            query: &[],
            body: b"",
            content_type: None,
            extra_headers: &[],
        };
        let dbg = format!("{input:?}");
        assert!(!dbg.contains("very-secret-value"));
        assert!(!dbg.contains("token-value"));
        assert!(dbg.contains("<redacted>"));
    }
}
