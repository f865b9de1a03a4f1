//! The request as received, the signature scheme it uses, and what a front end extracts
//! from it (the envelope that gets recorded).

use std::collections::BTreeMap;

use axum::http::{header, HeaderMap, Method};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use tokio::time::Instant;

use crate::catalog::Vendor;

/// Longest string kept per recorded field, so a hostile request cannot bloat the log.
const MAX_RECORDED_CHARS: usize = 4096;
/// Most parameters kept per recorded call.
const MAX_RECORDED_PARAMS: usize = 256;

/// An HTTP request to the vendor endpoint, fully read.
#[derive(Debug)]
pub(crate) struct RawRequest {
    pub method: Method,
    pub path: String,
    /// The raw query string (without `?`).
    pub query: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// True when the body exceeded the limit (then `body` is empty).
    pub body_too_large: bool,
    /// The `Host` header value as received (what the client signed).
    pub host: String,
}

impl RawRequest {
    /// The first value of a header, when it is visible ASCII.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Whether the body is `application/x-www-form-urlencoded`.
    pub(crate) fn is_form(&self) -> bool {
        self.header(header::CONTENT_TYPE.as_str())
            .is_some_and(|ct| {
                ct.trim_start()
                    .to_ascii_lowercase()
                    .starts_with("application/x-www-form-urlencoded")
            })
    }
}

/// The signature scheme of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scheme {
    /// Alibaba RPC v1 (`SignatureMethod=HMAC-SHA1`).
    RpcV1,
    /// Alibaba V3 (`ACS3-HMAC-SHA256`).
    Acs3,
    /// Tencent `TC3-HMAC-SHA256`.
    Tc3,
}

impl Scheme {
    /// `X-TC-Action` header: TC3; an `ACS3-` `Authorization`: ACS3; an `Action` query (or
    /// form) parameter: RPC v1; otherwise an `x-acs-action` header: ACS3. The ACS3 check
    /// comes first but needs the `Authorization` header because the official SDKs' RPC v1
    /// path also sends `x-acs-action` / `x-acs-version` headers.
    pub(crate) fn detect(req: &RawRequest) -> Option<Self> {
        let acs3_authorization = req
            .header("authorization")
            .is_some_and(|a| a.trim_start().starts_with("ACS3-"));
        if req.headers.contains_key("x-tc-action") {
            Some(Self::Tc3)
        } else if acs3_authorization {
            Some(Self::Acs3)
        } else if has_action(&req.query)
            || (req.is_form() && std::str::from_utf8(&req.body).is_ok_and(has_action))
        {
            Some(Self::RpcV1)
        } else if req.headers.contains_key("x-acs-action") {
            Some(Self::Acs3)
        } else {
            None
        }
    }

    /// `"RPC-V1"`, `"ACS3"` or `"TC3"`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::RpcV1 => "RPC-V1",
            Self::Acs3 => "ACS3",
            Self::Tc3 => "TC3",
        }
    }

    /// The vendor of the scheme.
    pub(crate) fn vendor(self) -> Vendor {
        match self {
            Self::RpcV1 | Self::Acs3 => Vendor::Alibaba,
            Self::Tc3 => Vendor::Tencent,
        }
    }
}

fn has_action(raw: &str) -> bool {
    raw.split('&')
        .any(|item| item == "Action" || item.starts_with("Action="))
}

pub(crate) use crate::catalog::vendor_name;

/// The server clock of one request: wall time for timestamps, monotonic for windows.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Clock {
    pub wall: DateTime<Utc>,
    pub mono: Instant,
}

impl Clock {
    pub(crate) fn now() -> Self {
        Self {
            wall: Utc::now(),
            mono: Instant::now(),
        }
    }
}

/// Operation parameters as they arrived.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Params {
    /// Alibaba: query (and form) parameters without the common ones, in order.
    Query(Vec<(String, String)>),
    /// Tencent: the JSON body object.
    Json(Map<String, Value>),
}

impl Params {
    /// Wire name to string value; JSON non-strings as JSON text; the first of repeated names.
    pub(crate) fn to_record(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        match self {
            Params::Query(pairs) => {
                for (name, value) in pairs.iter().take(MAX_RECORDED_PARAMS) {
                    out.entry(clip(name)).or_insert_with(|| clip(value));
                }
            }
            Params::Json(map) => {
                for (name, value) in map.iter().take(MAX_RECORDED_PARAMS) {
                    let text = match value {
                        Value::String(s) => clip(s),
                        other => clip(&other.to_string()),
                    };
                    out.insert(clip(name), text);
                }
            }
        }
        out
    }
}

/// What a front end read from the request, filled in as far as it got.
#[derive(Debug)]
pub(crate) struct Envelope {
    pub scheme: Scheme,
    pub action: String,
    pub version: Option<String>,
    pub key_id: Option<String>,
    pub region: Option<String>,
    pub nonce: Option<String>,
    pub timestamp: Option<String>,
    pub security_token: bool,
    pub params: Params,
    /// Names of the parameters that came in a form body.
    pub form_params: Vec<String>,
    /// Tencent: the signing service of the credential scope (picks the
    /// product when several have the action).
    pub service: Option<String>,
    /// The operation the request resolved to.
    pub op: Option<std::sync::Arc<crate::catalog::Operation>>,
}

impl Envelope {
    pub(crate) fn new(scheme: Scheme) -> Self {
        Self {
            scheme,
            action: String::new(),
            version: None,
            key_id: None,
            region: None,
            nonce: None,
            timestamp: None,
            security_token: false,
            params: match scheme {
                Scheme::Tc3 => Params::Json(Map::new()),
                _ => Params::Query(Vec::new()),
            },
            form_params: Vec::new(),
            service: None,
            op: None,
        }
    }
}

/// At most [`MAX_RECORDED_CHARS`] characters of `s`.
pub(crate) fn clip(s: &str) -> String {
    match s.char_indices().nth(MAX_RECORDED_CHARS) {
        Some((i, _)) => s[..i].to_string(),
        None => s.to_string(),
    }
}

/// Owned copy of an optional string, clipped.
pub(crate) fn clip_opt(s: Option<&str>) -> Option<String> {
    s.map(clip)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(query: &str, headers: &[(&'static str, &str)], body: &str) -> RawRequest {
        let mut map = HeaderMap::new();
        for (n, v) in headers {
            map.insert(*n, v.parse().unwrap());
        }
        RawRequest {
            method: Method::POST,
            path: "/".into(),
            query: query.into(),
            headers: map,
            body: Bytes::from(body.to_string()),
            body_too_large: false,
            host: "h".into(),
        }
    }

    #[test]
    fn scheme_detection() {
        assert_eq!(
            Scheme::detect(&req("", &[("x-tc-action", "A")], "")),
            Some(Scheme::Tc3)
        );
        assert_eq!(
            Scheme::detect(&req("", &[("X-Acs-Action", "A")], "")),
            Some(Scheme::Acs3)
        );
        assert_eq!(
            Scheme::detect(&req("X=1&Action=A", &[], "")),
            Some(Scheme::RpcV1)
        );
        assert_eq!(
            Scheme::detect(&req(
                "",
                &[("content-type", "application/x-www-form-urlencoded")],
                "Action=A"
            )),
            Some(Scheme::RpcV1)
        );
        assert_eq!(Scheme::detect(&req("", &[], "Action=A")), None);
        // The SDKs' RPC v1 path sends x-acs-action too; an ACS3 Authorization decides.
        assert_eq!(
            Scheme::detect(&req("Action=A", &[("x-acs-action", "A")], "")),
            Some(Scheme::RpcV1)
        );
        assert_eq!(
            Scheme::detect(&req(
                "Action=A",
                &[("authorization", "ACS3-HMAC-SHA256 x")],
                ""
            )),
            Some(Scheme::Acs3)
        );
        assert_eq!(Scheme::detect(&req("NoAction=1", &[], "")), None);
    }

    #[test]
    fn records_clip_and_render_json() {
        let mut map = Map::new();
        map.insert("S".into(), Value::String("x".into()));
        map.insert("N".into(), Value::from(5));
        map.insert("L".into(), serde_json::json!(["a", "b"]));
        let rec = Params::Json(map).to_record();
        assert_eq!(rec["S"], "x");
        assert_eq!(rec["N"], "5");
        assert_eq!(rec["L"], r#"["a","b"]"#);
        let long = "é".repeat(MAX_RECORDED_CHARS + 10);
        assert_eq!(clip(&long).chars().count(), MAX_RECORDED_CHARS);
        let q = Params::Query(vec![("A".into(), "1".into()), ("A".into(), "2".into())]);
        assert_eq!(q.to_record()["A"], "1");
    }
}
